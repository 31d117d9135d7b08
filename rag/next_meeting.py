""" "When is the next meeting?": answered from the newest minutes that state one.

Minutes close with the date of the next meeting ("The next meeting will be held on 12 March
2025 at 10am"). No passage search answers the question well: every set of minutes says it,
and only the newest one that does is the answer. So the meetings in scope are read newest
first, and the first sentence that speaks of the next meeting and names a date after the
meeting's own is quoted, cited to its item, with the date of the minutes it comes from. When
that date has passed, the answer says so: the archive may simply lack the later minutes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from index.chunk import HEADER_ITEM_NUMBER
from index.dates import find_date
from index.models import Meeting
from index.store import human_date
from rag.models import Passage
from rag.retrieve import whole_item
from rag.text import Sentence, split_sentences
from rag.verify import Checked, Evidence

ASKS_NEXT_MEETING = re.compile(
    r"\b(?:when|what date|which date|date of)\b.*\bnext\b(?:\s+\w+){0,3}?\s+(?:meeting|board|panel)"
    r"|\bnext\b(?:\s+\w+){0,3}?\s+(?:meeting|board|panel)\b.*\b(?:when|held|date)\b",
    re.IGNORECASE,
)
STATES_NEXT_MEETING = re.compile(r"\bnext\b(?:\s+\w+){0,4}?\s+(?:meeting|board|panel)", re.I)


@dataclass(frozen=True)
class NextMeeting:
    """The minutes that state the next meeting, the sentence that does, and its date."""

    meeting: Meeting
    passage: Passage
    quote: Sentence
    on: date


def asks_next_meeting(question: str) -> bool:
    return ASKS_NEXT_MEETING.search(question) is not None


def stated_next_meeting(scope: list[Meeting]) -> NextMeeting | None:
    """The newest meeting in ``scope`` whose minutes state a later meeting's date."""
    dated = sorted((m for m in scope if m.date), key=lambda m: m.date or "", reverse=True)
    for meeting in dated:
        if found := next_meeting_in(meeting):
            return found
    return None


def next_meeting_in(meeting: Meeting) -> NextMeeting | None:
    held = date.fromisoformat(meeting.date or "")
    for sentence in split_sentences(meeting.text):
        mention = STATES_NEXT_MEETING.search(sentence.text)
        if mention is None:
            continue
        found = find_date(sentence.text[mention.start() :])  # not the last meeting's date
        if found and date.fromisoformat(found.iso) > held:
            passage = whole_item(meeting, item_number_at(meeting, sentence.start))
            return NextMeeting(meeting, passage, sentence, date.fromisoformat(found.iso))
    return None


def item_number_at(meeting: Meeting, offset: int) -> str:
    """The agenda item whose text holds ``offset`` (the header block before the first)."""
    return next(
        (item.number for item in meeting.items if item.start <= offset < item.end),
        HEADER_ITEM_NUMBER,
    )


def next_meeting_checks(found: NextMeeting) -> tuple[list[Passage], list[Checked]]:
    """The one verified sentence, quoted verbatim and cited to its item."""
    evidence = Evidence(0, found.quote, 1.0)
    text = " ".join(found.quote.text.split())
    return [found.passage], [Checked(text, (), evidence, "states the next meeting")]


def framing(found: NextMeeting, today: date) -> tuple[str, str]:
    """The uncited words around the quote: whose minutes say it, and whether it has passed."""
    before = f"According to the minutes of {human_date(found.meeting.date)}:"
    after = ""
    if found.on < today:
        after = (
            f"That date ({human_date(found.on.isoformat())}) has passed; no later minutes in "
            "the archive state the next meeting."
        )
    return before, after
