"""Which sentences of a meeting a briefing keeps: salience from what a sentence *says*, not
where it sits.

A staff officer's briefing wants what changed and who owes what: decisions, requests and
actions, figures, dates, named people and changes of status (elected, appointed, approved,
resigned ...). Each sentence of every agenda item is scored on those features of its own
text; nothing here knows any particular minutes. A sentence that the register records as a
decision or action is already in the briefing's Decisions or Actions section and is not
offered again. Near-duplicates (most of one sentence's content words in another) are merged
into the higher-scoring one.

The score is per word as well as per sentence: a briefing has a word budget, so a short
sentence carrying a figure and a name beats a long one carrying the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.dates import find_date
from index.models import Meeting
from rag.briefing.attribution import attendee_names
from rag.claims import figures, names
from rag.models import Passage
from rag.retrieve import whole_item
from rag.text import Sentence, key_terms, passage_sentences

# Verbs that record a change of state in a governance meeting: a person taking or leaving a
# role, a paper or a motion passing or failing, an interest declared. A feature of sentences
# in any minutes, not of one file.
STATUS_CHANGE = re.compile(
    r"\b(?:elect|appoint|approv|agree|resolv|confirm|adopt|endors|support|reject|declin|declar"
    r"|resign|substitut|ratif|accept|defer|withdr|launch|complet|receiv|amend)\w*",
    re.IGNORECASE,
)
REQUEST = re.compile(r"\b(?:ask|request|requir|sought|seek|invit|task)\w*", re.IGNORECASE)
# A person named by title ("Cllr Stuart Bailey", "Mr McEwan", "Dr Handsley").
TITLED_NAME = re.compile(
    r"\b(?:Mr|Mrs|Ms|Miss|Dr|Cllr|Councillor|Sir|Dame|Lord|Lady|Professor|Prof)\.?\s+[A-Z]"
)
# What the agenda says an item is for ("To elect a Chair", "To receive any apologies"), and a
# sentence wholly in brackets (a note on procedure): neither records what happened.
NOT_A_RECORD = re.compile(r"^\s*(?:To\s+[a-z]+\b|\()")

WEIGHTS = {"status": 1.0, "request": 0.8, "figure": 0.8, "date": 0.6, "names": 0.6}
RECORD_WEIGHT = 0.3  # any sentence of the record: fills what budget the salient ones leave
MAX_WORDS = 60  # longer ones are paragraphs the splitter could not break: too dear
WORD_COST = 25  # a sentence of this many words costs twice a sentence of none
DUPLICATE_OVERLAP = 0.8  # share of a sentence's content words already in one kept sentence


@dataclass(frozen=True)
class Candidate:
    """One sentence of an agenda item, how salient it is and what it costs in words."""

    passage: Passage
    sentence: Sentence
    salience: float

    @property
    def words(self) -> int:
        return len(self.sentence.text.split())

    @property
    def value(self) -> float:
        """Salience per word, softened: short sentences win ties, long ones still count."""
        return self.salience / (1 + self.words / WORD_COST)


def salience(text: str, people: set[str]) -> float:
    """How much a sentence carries that a briefing needs, from features of its own words;
    ``people`` are the attendees' surnames and initials."""
    if NOT_A_RECORD.match(text):
        return 0.0
    found = {
        "status": bool(STATUS_CHANGE.search(text)),
        "request": bool(REQUEST.search(text)),
        "figure": bool(figures(text)),
        "date": find_date(text) is not None,
        "names": bool(TITLED_NAME.search(text)) or bool(people & set(names(text))),
    }
    return RECORD_WEIGHT + sum(WEIGHTS[name] for name, present in found.items() if present)


def attendee_words(meeting: Meeting) -> set[str]:
    """The words that name an attendee: surname, initials, role acronym ("PCC")."""
    return set().union(*attendee_names(meeting))


def meeting_candidates(meeting: Meeting, taken: list[tuple[int, int]]) -> list[Candidate]:
    """Every sentence of the meeting's items (three words or more, :mod:`rag.text`), best
    value first, with sentences that overlap a ``taken`` span (the register's decisions and
    actions) left out."""
    found = []
    people = attendee_words(meeting)
    for item in meeting.items:
        passage = whole_item(meeting, item.number)
        for sentence in passage_sentences(passage):
            words = len(sentence.text.split())
            if words > MAX_WORDS or overlaps(sentence, taken):
                continue
            score = salience(sentence.text, people)
            if score > 0:
                found.append(Candidate(passage, sentence, score))
    return sorted(found, key=lambda c: (-c.value, c.sentence.start))


def overlaps(sentence: Sentence, spans: list[tuple[int, int]]) -> bool:
    return any(sentence.start < end and start < sentence.end for start, end in spans)


def is_near_duplicate(text: str, kept: list[str]) -> bool:
    """Whether one kept sentence already holds nearly all of ``text``'s content words (a
    formula repeated with another name, "... Mr A be appointed Chair" then "... Ms B be
    appointed Vice-Chair", is not a repeat: the names differ)."""
    wanted = key_terms(text)
    return bool(wanted) and any(
        len(wanted & key_terms(other)) / len(wanted) >= DUPLICATE_OVERLAP for other in kept
    )
