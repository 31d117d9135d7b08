"""Which parts of a meeting a clearance may see.

An agenda item's marking is the higher of the document's (a marking line before the first
item) and the first one inside the item. A meeting whose document marking is above a
clearance is withheld whole; otherwise only its items above the clearance are, with their
decisions and actions. Withheld text is blanked in place, so the offsets of everything left
(citations, outcomes) stay valid.
"""

from __future__ import annotations

import re

from core.markings import LEVELS, clearance_level, marking_level
from index.lines import MARKING, squash
from index.models import AgendaItem, Meeting


def document_marking(meeting: Meeting) -> str | None:
    """The marking written above the first agenda item, if any."""
    end = meeting.items[0].start if meeting.items else len(meeting.text)
    match = MARKING.search(meeting.text, 0, end)
    return squash(match["marking"]) if match else None


def item_marking(meeting: Meeting, number: str) -> str | None:
    """The marking that governs an item (item "0" is the header block before the first)."""
    document = document_marking(meeting)
    item = meeting.item(number)
    own = item.marking if item is not None else None
    return max((document, own), key=marking_level) if own else document


def item_level(meeting: Meeting, number: str) -> int:
    return marking_level(item_marking(meeting, number))


def item_session(meeting: Meeting, number: str) -> str:
    item = meeting.item(number)
    return item.session if item is not None else "open"


def highest_marking(markings: list[str | None]) -> str | None:
    """The highest of some markings (as written), or None when none is set."""
    present = [m for m in markings if m]
    return max(present, key=marking_level) if present else None


def marking_name(marking: str | None) -> str:
    """The scale's name for a marking: "OFFICIAL-SENSITIVE" for "Official Sensitive - Ops"."""
    return LEVELS[marking_level(marking)]


def visible_part(meeting: Meeting, level: int) -> Meeting | None:
    """The meeting as a reader cleared to ``level`` may see it; None when none of it."""
    if marking_level(document_marking(meeting)) > level:
        return None
    withheld = [item for item in meeting.items if item_level(meeting, item.number) > level]
    if not withheld:
        return meeting
    numbers = {item.number for item in withheld}
    kept = [item for item in meeting.items if item.number not in numbers]
    return meeting.model_copy(
        update={
            "text": _blanked(meeting.text, withheld),
            "items": kept,
            "outcomes": [o for o in meeting.outcomes if o.item_number not in numbers],
            "marking": highest_marking([document_marking(meeting)] + [i.marking for i in kept]),
            "warnings": [
                *meeting.warnings,
                f"{len(withheld)} agenda item(s) withheld: marked above your clearance",
            ],
        }
    )


def _blanked(text: str, items: list[AgendaItem]) -> str:
    """``text`` with each item's span replaced by spaces (line breaks kept): same length."""
    for item in items:
        blank = re.sub(r"[^\n]", " ", text[item.start : item.end])
        text = text[: item.start] + blank + text[item.end :]
    return text


def visible_meetings(meetings: list[Meeting], clearance: str) -> list[Meeting]:
    """Each meeting as a reader with ``clearance`` may see it; wholly withheld ones left out."""
    level = clearance_level(clearance)
    return [part for m in meetings if (part := visible_part(m, level)) is not None]
