"""Agenda items found by layout when the minutes number none of them.

Real archives often head their items with unnumbered lines: council "Agenda and minutes"
pages (a heading line, then "pdf icon PDF 212 KB" or "Additional documents:", then the
minute), markdown tables whose rows begin with the heading ("| No. | Item |"), notes whose
headings are short lines between paragraphs. :func:`heading_items` finds those headings;
:func:`part_items` is the last resort, sections of consecutive paragraphs labelled
"Part 1", "Part 2", ... so that a file with readable text is never refused for its shape.

A heading line is recognised by what surrounds it, never by its words:

* **strong** signs: a document link trailer ("pdf icon PDF 212 KB"), a document label on the
  next line ("Additional documents:", "Supporting documents:"), an inline "Minutes:" label
  after the heading in a flattened table row, or a line in capitals;
* **layout**: a short line without a closing full stop (or a Title Case one with it), after a
  finished sentence, and followed by text.

A line straight after a heading is that heading's description, never a heading itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.lines import (
    FIELD_ROW,
    GENERIC_LINE,
    MARKING,
    Line,
    heading_like,
    is_furniture,
    text_lines,
)

DOCUMENT_LINK = re.compile(
    r"\s*(?:pdf icon PDF [\d.]+ ?[KM]B|Pdf\b.*?\(\d+\s*Kb\)|pdf\s*)\s*$", re.IGNORECASE
)
DOCUMENT_LABEL = re.compile(r"^(?:additional|supporting)\s+documents\s*:?\s*$", re.IGNORECASE)
INLINE_LABEL = re.compile(r"\s+(?:Additional documents:|Minutes:)\s")
ITEM_TABLE_HEADER = re.compile(
    r"^\s*\|?\s*(?:No\.?|Item)\s*\|?\s*(?:Item|Title|Description)\b.*$", re.IGNORECASE
)
_BULLET = re.compile(r"^[-•·*▪◦–]\s+")
_PIPES = re.compile(r"^\s*\|\s*|\s*\|\s*$")
_PERSON = re.compile(r"\([A-Z][A-Za-z]{1,4}\)|^(?:Cllr|Councillor|Mr|Mrs|Ms|Miss|Dr)\.?\s")
_SMALL = frozenset("a an and as at by for from in of on or the to with".split())
_SENTENCE_DONE = ".!?"
_MAX_WORDS = 14
_PART_CHARS = 1500


@dataclass(frozen=True)
class Heading:
    """An item found by layout: it begins at ``start``; its heading line ends at ``after``."""

    start: int
    heading: str
    after: int
    strong: bool


def _content(line: Line) -> str:
    """A line's text without table pipes, a bullet or a trailing document link."""
    text = _PIPES.sub("", line.text).strip()
    text = _BULLET.sub("", text)
    return DOCUMENT_LINK.sub("", text).strip()


def _title_case(text: str) -> bool:
    words = [w for w in re.findall(r"[^\W\d_][\w'’-]*", text) if w.lower() not in _SMALL]
    return bool(words) and all(w[0].isupper() for w in words)


def _capitals(text: str) -> bool:
    letters = re.sub(r"[^A-Za-z]", "", text)
    return len(letters) >= 4 and letters.isupper()


def _heading_shaped(text: str, linked: bool) -> bool:
    """Short, starts with a capital, no list punctuation, not a label, a person or a field.
    A generic word ("Minutes") is a heading only with a document link or label."""
    if not text or not text[0].isupper() or len(text.split()) > _MAX_WORDS:
        return False
    if text[-1] in ",;:" or _PERSON.search(text) or MARKING.match(text):
        return False
    if is_furniture(text) and not (linked and GENERIC_LINE.match(text)):
        return False
    if FIELD_ROW.match(text) or DOCUMENT_LABEL.match(text):
        return False
    return heading_like(text) or _capitals(text)


def _next_content(lines: list[Line], i: int) -> tuple[int, str] | None:
    for j in range(i + 1, min(len(lines), i + 4)):
        if text := _content(lines[j]):
            return j, text
    return None


def _inline_heading(line: Line) -> Heading | None:
    """A flattened table row: "Apologies and Substitutes Additional documents: Minutes: ..."."""
    text = _PIPES.sub("", line.text)
    match = INLINE_LABEL.search(text)
    if not match:
        return None
    heading = DOCUMENT_LINK.sub("", text[: match.start()]).strip()
    if not heading or not heading[0].isupper() or len(heading.split()) > 25:
        return None
    lead = len(line.text) - len(line.text.lstrip(" |"))
    return Heading(line.start + lead, heading, line.start + lead + match.start(), True)


def heading_items(text: str, start: int = 0) -> list[Heading]:
    """Unnumbered item headings in ``text`` from ``start`` on (see the module docstring)."""
    lines = [ln for ln in text_lines(text, start) if ln.text.strip()]
    found: list[Heading] = []
    previous_done = True  # the header counts as finished text
    previous_heading = False
    for i, line in enumerate(lines):
        content = _content(line)
        if inline := _inline_heading(line):
            found.append(inline)
            previous_heading, previous_done = False, True
            continue
        strong_sign = bool(DOCUMENT_LINK.search(_PIPES.sub("", line.text).strip()))
        following = _next_content(lines, i)
        if following and DOCUMENT_LABEL.match(following[1]):
            strong_sign = True
        is_heading = (
            not previous_heading
            and following is not None
            and not FIELD_ROW.match(following[1])
            and _heading_shaped(content, strong_sign)
            and (content[-1] not in _SENTENCE_DONE or _title_case(content) or strong_sign)
            and (strong_sign or _capitals(content) or previous_done)
        )
        if is_heading:
            lead = len(line.text) - len(line.text.lstrip())
            strong = strong_sign or _capitals(content)
            found.append(Heading(line.start + lead, content.rstrip(" –-"), line.end, strong))
        if not DOCUMENT_LABEL.match(content):
            previous_heading = is_heading
            previous_done = bool(FIELD_ROW.match(content)) or content[-1:] in tuple(_SENTENCE_DONE)
    return _from_first_with_prose(text, found)


def _from_first_with_prose(text: str, found: list[Heading]) -> list[Heading]:
    """Without the leading headings that head no sentence: header lines (a title, a venue
    in capitals) look like headings, but an item has something to say."""
    for k, heading in enumerate(found):
        end = found[k + 1].start if k + 1 < len(found) else len(text)
        if any(_prose(_content(ln)) for ln in text_lines(text, heading.after, end)):
            return found[k:]
    return []


def _prose(text: str) -> bool:
    """A sentence: five words or more ending a sentence, not a labelled header row."""
    return len(text.split()) >= 5 and text[-1] in _SENTENCE_DONE and not FIELD_ROW.match(text)


def first_prose(text: str) -> int | None:
    """Where the first sentence of prose begins: a line of eight words or more that ends a
    sentence. What comes before it is the header."""
    for line in text_lines(text):
        words = line.text.split()
        if len(words) >= 8 and line.text.rstrip()[-1] in _SENTENCE_DONE:
            return line.start + len(line.text) - len(line.text.lstrip())
    return None


def part_items(text: str, start: int) -> list[Heading]:
    """Sections of consecutive paragraphs from ``start``, each about ``_PART_CHARS`` long,
    broken only between lines."""
    parts: list[Heading] = []
    section_start: int | None = None
    for line in text_lines(text, start):
        if not line.text.strip():
            continue
        if section_start is None or line.start - section_start >= _PART_CHARS:
            section_start = line.start
            parts.append(Heading(line.start, f"Part {len(parts) + 1}", line.start, False))
    return parts
