"""Questions about a whole meeting, answered from the typed meeting rather than by search.

"What was discussed at the September 2024 board?", "What did we agree at the latest
meeting?", "What actions came out of the last 1:1?" name one meeting and no topic, so no
single passage answers them: retrieval finds a few items and the extractive gate, rightly,
finds no sentence that answers "what was discussed". The parsed meeting does hold the answer:
its agenda items, and the decisions and actions recorded under them. Each is quoted verbatim
from its item and cited to it, so the answer is verifiable like any other.

A question is about a whole meeting when (1) it asks what was discussed, agreed or actioned,
(2) its filters leave exactly one meeting in scope, and (3) once the words that pick out that
meeting (title, kind, date) and the asking words are set aside, no topic word is left.
"""

from __future__ import annotations

import re
from typing import Literal

from index.chunk import HEADER_ITEM_NUMBER, item_label
from index.models import Meeting, Outcome
from index.store import human_date
from rag.backends.extractive import meeting_terms
from rag.models import Passage
from rag.retrieve import Retrieval, whole_item
from rag.text import Sentence, key_terms
from rag.verify import Checked, Evidence

Intent = Literal[
    "venue", "time", "chair", "apologies", "attendance", "discussed", "agreed", "actions"
]
MEETING_RECORD = "meeting record"  # what drafted an answer built from the typed meeting

INTENTS: list[tuple[Intent, re.Pattern[str]]] = [
    ("venue", re.compile(r"\bwhere\b|\bvenue\b|\blocation\b", re.IGNORECASE)),
    ("time", re.compile(r"\bwhat time\b|\bwhen did\b.*\b(?:start|begin|run)\b", re.I)),
    ("chair", re.compile(r"\bchair(?:ed|man|woman|person)?\b", re.IGNORECASE)),
    ("apologies", re.compile(r"\bapolog|\babsent\b", re.IGNORECASE)),
    ("attendance", re.compile(r"\bwho\b.*\b(?:attend\w*|present)\b", re.IGNORECASE)),
    ("actions", re.compile(r"\bactions?\b", re.IGNORECASE)),
    ("agreed", re.compile(r"\b(?:agree|agreed|decide|decided|decisions?|resolved?)\b", re.I)),
    ("discussed", re.compile(r"\b(?:discuss(?:ed)?|covered|considered|happened)\b", re.I)),
]
HEADER_FACTS = ("venue", "time", "chair", "apologies", "attendance")
ASKING_WORDS = key_terms(
    "where venue location held take took place meet met time start started begin run ran "
    "chair chaired chairman chairwoman chairperson apologies apology sent send absent who "
    "attend attended attendance attending present "
    "what which discussed discuss covered considered happened agree agreed decide decided "
    "decision decisions resolve resolved action actions came come arose out latest last most "
    "recent previous we us our"
)


def intent(question: str) -> Intent | None:
    """What a question asks of a meeting, if it asks one of the whole-meeting questions."""
    return next((name for name, pattern in INTENTS if pattern.search(question)), None)


def whole_meeting(question: str, retrieval: Retrieval) -> tuple[Meeting, Intent] | None:
    """The one meeting a whole-meeting question is about, and what it asks; None otherwise."""
    asked = intent(question)
    if asked is None or len(retrieval.scope) != 1:
        return None
    meeting = retrieval.scope[0]
    identifying = meeting_terms(whole_item(meeting, HEADER_ITEM_NUMBER))
    topic = key_terms(question) - identifying - ASKING_WORDS - recorded_terms(meeting, asked)
    return (meeting, asked) if not topic else None


def recorded_terms(meeting: Meeting, asked: Intent) -> set[str]:
    """Words of the lines that record a header fact: "which councillors sent apologies" asks
    about the line "Apologies: Councillors ...", not about a topic of the meeting."""
    if asked not in HEADER_FACTS:
        return set()
    _, checks = header_checks(meeting, asked)
    return key_terms(" ".join(c.evidence.quote.text for c in checks if c.evidence))


def meeting_checks(meeting: Meeting, asked: Intent) -> tuple[list[Passage], list[Checked]]:
    """Passages (one per item quoted) and verified sentences for what was asked: headings and
    decisions for "discussed", decisions and actions for "agreed", actions for "actions", and
    the header line that states a venue, time, chair, attendee or apology."""
    if asked in HEADER_FACTS:
        return header_checks(meeting, asked)
    passages = {item.number: whole_item(meeting, item.number) for item in meeting.items}
    order = list(passages)
    checks: list[Checked] = []
    if asked == "discussed":
        checks += [heading_check(meeting, number, order) for number in order]
    kinds = {"discussed": ("decision",), "agreed": ("decision", "action"), "actions": ("action",)}
    for outcome in meeting.outcomes:
        if outcome.kind in kinds[asked] and outcome.item_number in passages:
            checks.append(outcome_check(outcome, order))
    return list(passages.values()), checks


def heading_check(meeting: Meeting, number: str, order: list[str]) -> Checked:
    """An item's heading line, quoted from the minutes and cited to the item."""
    item = meeting.item(number)
    line = item.text.split("\n", 1)[0].rstrip()
    quote = Sentence(line, item.start, item.start + len(line))
    label = item_label(item.number, item.heading)
    return Checked(label, (), Evidence(order.index(number), quote, 1.0), "from the agenda")


def outcome_check(outcome: Outcome, order: list[str]) -> Checked:
    """A recorded decision or action, quoted verbatim and cited to its item."""
    quote = Sentence(outcome.text, outcome.start, outcome.end)
    evidence = Evidence(order.index(outcome.item_number), quote, 1.0)
    return Checked(" ".join(outcome.text.split()), (), evidence, f"recorded {outcome.kind}")


def lead_in(meeting: Meeting, asked: Intent) -> str:
    """The uncited sentence that names the meeting the cited sentences come from."""
    when = human_date(meeting.date) or "an undated meeting"
    what = {
        "discussed": "discussed",
        "agreed": "recorded",
        "actions": "recorded these actions",
        "venue": "was held at",
        "time": "met at",
        "chair": "was chaired by",
        "apologies": "recorded apologies from",
        "attendance": "was attended by",
    }
    return f"The {meeting.title} of {when} {what[asked]}:"


def header_checks(meeting: Meeting, asked: Intent) -> tuple[list[Passage], list[Checked]]:
    """The lines that state the parsed venue, time, chair, attendees or apologies, each cited
    to the block it sits in (the header before the first item, or the item); lines that
    overlap are quoted once, as their widest span."""
    numbers = [HEADER_ITEM_NUMBER, *(item.number for item in meeting.items)]
    passages = [whole_item(meeting, number) for number in numbers]
    quotes: list[Sentence] = []
    for needle in stated(meeting, asked):
        if quote := line_of(meeting.text, needle):
            kept = [q for q in quotes if q.end <= quote.start or q.start >= quote.end]
            wider = [
                q for q in quotes if q not in kept and q.end - q.start > quote.end - quote.start
            ]
            quotes = [*kept, *(wider or [quote])]
    checks = []
    for quote in sorted(quotes, key=lambda q: q.start):
        index = next(i for i, p in enumerate(passages) if p.start <= quote.start < p.end)
        text = " ".join(quote.text.split())
        checks.append(Checked(text, (), Evidence(index, quote, 1.0), f"the {asked}"))
    return passages, checks


def stated(meeting: Meeting, asked: Intent) -> list[str]:
    """What the parsed meeting records for a header fact, as written in the minutes."""
    people = meeting.attendees
    if asked == "venue":
        return [meeting.venue] if meeting.venue else []
    if asked == "time":
        return [meeting.time] if meeting.time else []
    if asked == "chair":
        return [p.name for p in people if re.search(r"\bchair", p.role or "", re.IGNORECASE)]
    if asked == "apologies":
        return [p.name for p in people if p.status == "apologies"]
    return [p.name for p in people if p.status != "apologies"]


def line_of(text: str, needle: str) -> Sentence | None:
    """The lines of ``text`` where ``needle`` first occurs after the title line (which names
    the meeting, not who attended), however the minutes wrap it, as one quote."""
    words = r"\s+".join(re.escape(word) for word in needle.split())
    title_end = text.find("\n") + 1
    found = re.compile(words).search(text, title_end) or re.compile(words).search(text)
    if found is None:
        return None
    start = text.rfind("\n", 0, found.start()) + 1
    end = text.find("\n", found.end())
    end = len(text) if end < 0 else end
    line = text[start:end].rstrip()
    return Sentence(line, start, start + len(line))
