"""Decisions and actions recorded in a meeting's minutes, found by fixed rules (no model).

Every outcome's ``text`` is the verbatim span ``meeting.text[start:end]`` of one sentence or one
list entry, so a reader can always find it in the minutes.

Rules, applied sentence by sentence within each agenda item:

* **Decision** — an agreement of the meeting rather than one person's assent: "It was agreed
  to ...", a passive "were discussed and agreed", "the position agreed at ...", two parties
  agreeing ("The PCC and CC agreed that ..."), "the Board decided/approved ...", or a
  "Decision:"/"Resolved:" label. "JT agreed that ..." alone is a person concurring, not a
  decision. A decision's owner is the attendee(s) who are its grammatical subject, if any.
* **Request** — someone asks for, requests or requires something ("JT asked for", "PCC
  requested", "asked to be kept informed", "would wish to be involved", "will require the CC
  to", "... and asked for"). The requester goes in ``requested_by``. The owner is whoever must
  deliver: the person addressed ("require the CC to", "asked AH to"), else an attendee named
  in a list entry ("a meeting with AH"), else ``None`` — the minutes do not say who, and we do
  not guess. A request for "an update" that another attendee answers later in the same item
  was met in the meeting and is not an action. Questions ("asked whether ...", "...?") are not
  requests.
* **Lead-in lists** — a request that ends without an object ("JT asked for", "... to:") is
  followed by a list; each entry becomes its own action with the lead-in's requester and owner.
* **Commitment** — an attendee says they will deliver something ("He will ensure ...", "they
  will be presenting ...", "He intends to address ...", "TR to provide ..."); the attendee is
  the owner.

"He"/"She"/"They" stand for the most recent attendee who was the subject of a sentence in the
same item. Owners resolve through the meeting's attendee list: initials to the person listed
with them at that meeting; "PCC", "CC" and the like by role. ``due`` is a frequency
("quarterly"), a deadline date (ISO), "by the end of ..." or the next meeting named, when the
action's own sentence states one.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from index.dates import find_date
from index.models import AgendaItem, Attendee, Meeting, Outcome
from index.text import Span, split_sentences

ROLE_TITLES = {
    "PCC": "Police and Crime Commissioner",
    "DPCC": "Deputy Police and Crime Commissioner",
    "CC": "Chief Constable",
    "DCC": "Deputy Chief Constable",
    "ACC": "Assistant Chief Constable",
    "CFO": "Chief Finance Officer",
}
PRONOUNS = frozenset({"He", "She", "They", "he", "she", "they"})

_TITLE_WORDS = "|".join(sorted({*ROLE_TITLES, *ROLE_TITLES.values()}, key=len, reverse=True))
_ONE_ACTOR = rf"(?:[Tt]he\s+)?(?:{_TITLE_WORDS}|[A-Z]{{2,4}}|He|She|They|he|she|they)"
_ACTORS = rf"{_ONE_ACTOR}(?:\s+and\s+{_ONE_ACTOR})?"
_ONE_ACTOR_RE = re.compile(rf"\b{_ONE_ACTOR}\b")
_SUBJECT = re.compile(rf"^(?P<subject>{_ACTORS})\b")
_ITEM_MARKER = re.compile(r"\s*(?:Item\s+)?\d{1,2}[a-z]?(?:\s*[:.)]|(?=\s))[ \t]*", re.I)

_REQUEST = re.compile(
    rf"(?:(?P<subject>{_ACTORS})|\band)\s+(?:also\s+|then\s+)?(?:"
    rf"(?:will|would|is\s+to)\s+require\s+(?P<addr1>{_ONE_ACTOR})\s+to\b"
    rf"|(?:asked|tasked|invited|commissioned)\s+(?P<addr2>{_ONE_ACTOR})\s+(?:to|for)\b"
    r"|asked\s+for\b|asked\s+to\s+be\b|asked\s+that\b|requested\b"
    r"|(?:would\s+)?wish(?:es|ed)?\s+to\s+be\s+(?:involved|kept\s+informed|consulted|updated)"
    r")"
)
_QUESTION = re.compile(r"\?\s*$|\bwhether\b")
_UPDATE_SOUGHT = re.compile(r"^\s*(?:an|for\s+an)\s+update\b")
_REPLY = re.compile(
    rf"^(?P<subject>{_ACTORS})\s+(?:also\s+)?"
    r"(?:reported|noted|updated|responded|replied|advised|said|explained|confirmed)\b"
)
_DECISION = re.compile(
    r"^(?:decisions?|resolved|agreed)\s*[:–-]"
    r"|\bit\s+was\s+(?:also\s+)?(?:agreed|decided|resolved)\b"
    r"|\b(?:was|were|has\s+been|have\s+been)\s+(?:\w+\s+and\s+)?"
    r"(?:agreed|approved|endorsed|decided|ratified)\b"
    r"|\b(?:position|decision|approach|proposal|recommendation)s?\s+agreed\b"
    r"|\b(?:Board|meeting|Panel|Committee|members)\s+(?:agreed|decided|resolved|approved|endorsed)\b",
    re.IGNORECASE,
)
_JOINT_DECISION = re.compile(rf"(?P<pair>{_ONE_ACTOR}\s+and\s+{_ONE_ACTOR})\s+(?:agreed|decided)\b")
_DELIVERABLE = (
    r"(?:ensur|provid|present|circulat|shar|arrang|develop|produc|submit|bring|send|prepar"
    r"|writ|review|updat|report|address)\w*"
)
_COMMITMENT = re.compile(
    rf"(?P<subject>{_ACTORS})\s+(?:(?:reported|said|confirmed)\s+that\s+(?:they|he|she)\s+)?"
    rf"(?:will|shall|intends?\s+to|undertook\s+to)\s+(?:be\s+)?{_DELIVERABLE}\b"
    rf"|^(?:[Aa]ctions?\s*[:–-]\s*)?(?P<assigned>{_ACTORS})\s+to\s+(?!be\b)[a-z]"
)
_FREQUENCY = re.compile(
    r"\b(quarterly|monthly|annually|annual|weekly|six-monthly|bi-monthly)\b", re.IGNORECASE
)
_DEADLINE = re.compile(r"\b(?:by|before|no\s+later\s+than)\s+(?:the\s+)?", re.IGNORECASE)
_END_OF = re.compile(r"\bby\s+(?:the\s+)?end\s+of\s+(?:the\s+)?\w+(?:\s+\d{4})?", re.IGNORECASE)
_NEXT_MEETING = re.compile(
    r"\b(?:at|to|for|by|before)\s+the\s+next\s+(?:(?:[A-Z][\w&]*|and|of)\s+){0,6}"
    r"(?:meeting|Board|Panel)\b"
)


class _Request(BaseModel):
    """Who asked, who (if named) must deliver, and the words after the request verb."""

    requester: str | None
    owner: str | None
    sought: str


def extract_outcomes(meeting: Meeting) -> list[Outcome]:
    """Every decision and action in the meeting, in the order the minutes record them."""
    outcomes: list[Outcome] = []
    for item in meeting.items:
        outcomes.extend(_item_outcomes(meeting, item))
    return outcomes


def item_sentences(item: AgendaItem) -> list[Span]:
    """The sentences and list entries of an item after its number and heading."""
    marker = _ITEM_MARKER.match(item.text)
    skip = marker.end() if marker else 0
    if item.heading and item.text.startswith(item.heading, skip):
        skip += len(item.heading)
    return split_sentences(item.text[skip:], item.start + skip)


def _item_outcomes(meeting: Meeting, item: AgendaItem) -> list[Outcome]:
    spans = item_sentences(item)
    outcomes: list[Outcome] = []
    speaker: str | None = None
    lead: _Request | None = None
    for index, span in enumerate(spans):
        if span.listed:
            if lead:
                outcomes.append(_list_entry_action(meeting, item, span, lead))
            continue
        subject = _subject(span.text, meeting)
        if subject and not _is_pronoun(subject):
            speaker = subject
        request = _request(span.text, meeting, speaker)
        later = spans[index + 1 :]
        lead = request if request and _opens_list(request, later) else None
        if request and not lead:
            if _still_wanted(request, span.text, later, meeting):
                outcomes.append(_outcome(meeting, item, span, "action", request.owner, request))
        elif not request and (outcome := _decision_or_commitment(meeting, item, span, speaker)):
            outcomes.append(outcome)
    return outcomes


def _request(sentence: str, meeting: Meeting, speaker: str | None) -> _Request | None:
    """The request a sentence makes, if its requester is an attendee ("... and asked for" counts
    the sentence's subject as the requester)."""
    match = _REQUEST.search(sentence)
    if not match:
        return None
    words = match["subject"] or _subject(sentence, meeting)
    if not words or not _is_actor(words, meeting):
        return None
    return _Request(
        requester=_resolve_pronoun(words, speaker),
        owner=_addressee(match["addr1"] or match["addr2"], meeting),
        sought=sentence[match.end() :],
    )


def _opens_list(request: _Request, following: list[Span]) -> bool:
    """A request with nothing after its verb (or only ":") introduces the list that follows."""
    return not request.sought.strip(" :-–") and bool(following) and following[0].listed


def _still_wanted(request: _Request, sentence: str, later: list[Span], meeting: Meeting) -> bool:
    """Not a question, and not a request for "an update" that another attendee answers later
    in the same item (that update was given in the meeting)."""
    if _QUESTION.search(sentence):
        return False
    if not _UPDATE_SOUGHT.match(request.sought):
        return True
    replies = (_REPLY.match(span.text) for span in later)
    return not any(
        reply
        and _is_actor(reply["subject"], meeting)
        and _strip_article(reply["subject"]) != request.requester
        for reply in replies
    )


def _list_entry_action(meeting: Meeting, item: AgendaItem, span: Span, lead: _Request) -> Outcome:
    owner = lead.owner or _named_attendee(span.text, meeting, exclude=lead.requester)
    return _outcome(meeting, item, span, "action", owner, lead)


def _decision_or_commitment(
    meeting: Meeting, item: AgendaItem, span: Span, speaker: str | None
) -> Outcome | None:
    return _decision(meeting, item, span, speaker) or _commitment(meeting, item, span, speaker)


def _decision(
    meeting: Meeting, item: AgendaItem, span: Span, speaker: str | None
) -> Outcome | None:
    joint = _JOINT_DECISION.search(span.text)
    if not _DECISION.search(span.text) and not (joint and _is_actor(joint["pair"], meeting)):
        return None
    subject = _subject(span.text, meeting)
    owner = _resolve_pronoun(subject, speaker) if subject else None
    return _outcome(meeting, item, span, "decision", owner)


def _commitment(
    meeting: Meeting, item: AgendaItem, span: Span, speaker: str | None
) -> Outcome | None:
    match = _COMMITMENT.search(span.text)
    if not match:
        return None
    words = match["subject"] or match["assigned"]
    if not _is_actor(words, meeting):
        return None
    return _outcome(meeting, item, span, "action", _resolve_pronoun(words, speaker))


def _outcome(
    meeting: Meeting,
    item: AgendaItem,
    span: Span,
    kind: str,
    owner: str | None,
    request: _Request | None = None,
) -> Outcome:
    people = [_attendee(part, meeting) for part in _parts(owner)] if owner else []
    return Outcome(
        kind=kind,
        text=span.text,
        item_number=item.number,
        owner=owner,
        owner_name=_joined([p.name for p in people if p]),
        owner_role=_joined([p.role for p in people if p and p.role]),
        requested_by=request.requester if request else None,
        due=_due(span.text) if kind == "action" else None,
        start=span.start,
        end=span.end,
    )


def _subject(sentence: str, meeting: Meeting) -> str | None:
    match = _SUBJECT.match(sentence)
    if match and _is_actor(match["subject"], meeting):
        return _strip_article(match["subject"])
    return None


def _is_actor(words: str, meeting: Meeting) -> bool:
    """Every part names an attendee, a role title or is a pronoun ("HQ", "AI" are not)."""
    parts = _parts(words)
    return bool(parts) and all(
        _is_pronoun(part) or part in ROLE_TITLES.values() or _attendee(part, meeting)
        for part in parts
    )


def _addressee(words: str | None, meeting: Meeting) -> str | None:
    if words and _is_actor(words, meeting) and not _is_pronoun(words):
        return _strip_article(words)
    return None


def _named_attendee(text: str, meeting: Meeting, *, exclude: str | None) -> str | None:
    """Initials of the one attendee other than the requester that a list entry names."""
    named = {
        person.initials
        for person in meeting.attendees
        if person.initials
        and person.initials != exclude
        and re.search(rf"\b{re.escape(person.initials)}\b", text)
    }
    return named.pop() if len(named) == 1 else None


def _attendee(words: str, meeting: Meeting) -> Attendee | None:
    """The attendee that initials, a name or a role title ("CC", "Chief Constable") stand for."""
    title = ROLE_TITLES.get(words, words)
    if title not in ROLE_TITLES.values():
        return meeting.person(words)
    by_role = [
        person
        for person in meeting.attendees
        if person.role and person.role.lower().startswith(title.lower())
    ]
    return by_role[0] if len(by_role) == 1 else None


def _due(text: str) -> str | None:
    """A frequency ("quarterly"), a deadline's ISO date, "by the end of ..." or the next
    meeting named, in that order."""
    if frequency := _FREQUENCY.search(text):
        return frequency.group(0).lower()
    for deadline in _DEADLINE.finditer(text):
        dated = find_date(text[deadline.end() :])
        if dated and dated.start == 0:
            return dated.iso
    words = _END_OF.search(text) or _NEXT_MEETING.search(text)
    return words.group(0) if words else None


def _parts(words: str) -> list[str]:
    """Actors in ``words``: "JT and PW" gives both; "the Police and Crime Commissioner" one."""
    return [_strip_article(part) for part in _ONE_ACTOR_RE.findall(words)]


def _strip_article(words: str) -> str:
    return re.sub(r"^[Tt]he\s+", "", words.strip())


def _is_pronoun(words: str) -> bool:
    return words in PRONOUNS


def _resolve_pronoun(words: str, speaker: str | None) -> str | None:
    words = _strip_article(words)
    return speaker if _is_pronoun(words) else words


def _joined(values: list[str]) -> str | None:
    return " and ".join(values) if values else None
