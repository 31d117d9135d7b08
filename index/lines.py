"""Lines of minutes text with their offsets, and the lines that are furniture, not content.

Furniture is what both the title and the attendee list must pass over: protective markings,
"Open Session"/"Part 2" lines, labelled header rows ("Date: ...") and generic words such as
"Agenda and minutes".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.models import Session


@dataclass(frozen=True)
class Line:
    """One line of text without its newline; ``start`` and ``end`` are offsets in the text."""

    start: int
    end: int
    text: str


def text_lines(text: str, start: int = 0, end: int | None = None) -> list[Line]:
    """The lines of ``text[start:end]`` with their offsets in ``text``."""
    lines = []
    pos = start
    for raw in text[start:end].split("\n"):
        lines.append(Line(pos, pos + len(raw), raw))
        pos += len(raw) + 1
    return lines


def squash(text: str) -> str:
    """``text`` on one line: runs of whitespace become one space."""
    return re.sub(r"\s+", " ", text).strip()


def heading_like(text: str) -> bool:
    """Short, one phrase, not a sentence of prose: what a heading on a numbered line looks like."""
    words = text.split()
    if not words or len(text) > 150 or len(words) > 20 or text[-1] in ",;":
        return False
    if text[-1] in ".:" and len(words) > 6:
        return False
    return ". " not in text


OPEN_SESSION = re.compile(
    r"^\W*(?:open|public)\s+(?:session|business|part)\b|^\W*part\s+(?:1|one|i|a)\b", re.I
)
CLOSED_SESSION = re.compile(
    r"\b(?:closed|private|confidential)\s+(?:session|business|part)\b"
    r"|^\W*part\s+(?:2|two|ii|b)\b|\bexempt\b",
    re.I,
)
MARKING = re.compile(
    r"^[ \t]*(?:(?:security|protective)\s+(?:classification|marking)\s*:\s*)?"
    r"(?P<marking>not\s+protectively\s+marked"
    r"|(?:official|secret|top\s+secret|restricted|confidential)(?:[ \t-]+sensitive)?"
    r"(?:[ \t]*[-–:][ \t]*[a-z][a-z ]{0,30})?)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)


def session_line(text: str) -> Session | None:
    """ "Open Session", "PART 2 - EXEMPT ITEMS"... as a short line of its own."""
    stripped = text.strip()
    if not heading_like(stripped) or len(stripped.split()) > 6:
        return None
    if CLOSED_SESSION.search(stripped):
        return "closed"
    return "open" if OPEN_SESSION.search(stripped) else None


FIELD_ROW = re.compile(
    r"^[ \t]*(?P<label>date|time|venue|location|place|contact|title|meeting|chair|clerk)"
    r"[ \t]*(?:[:|\t]|[ \t]{2,})[ \t]*(?P<value>.*)$",
    re.IGNORECASE,
)
GENERIC_LINE = re.compile(
    r"^(?:agenda(?:\s+and\s+minutes)?|minutes|notes|items|no\.?\s+item|media|draft|final"
    r"|agenda\s+item|version\s+[\d.]+\b.*)$",
    re.IGNORECASE,
)


def is_furniture(text: str) -> bool:
    """Lines that are neither title nor person: markings, session lines, labelled rows,
    generic words such as "Agenda and minutes"."""
    return bool(
        MARKING.match(text)
        or session_line(text)
        or FIELD_ROW.match(text)
        or GENERIC_LINE.match(text)
    )
