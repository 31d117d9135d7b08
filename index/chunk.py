"""Chunking: one chunk per agenda item, long items split inside the embedder's window.

Every chunk's ``text`` is a verbatim span of ``meeting.text`` so a citation can quote it and
give offsets. The embedded text is prefixed with the meeting title, date and item heading,
so a part of a long item still says where it comes from.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

from index.models import Chunk, Meeting
from index.text import split_sentences

HEADER_ITEM_NUMBER = "0"
HEADER_ITEM_HEADING = "Meeting details"
_SPECIAL_TOKENS = 2  # [CLS] and [SEP] count against the model's window
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def chunk_header(meeting: Meeting, item_label: str) -> str:
    """The line that heads every embedded chunk: title, date and item."""
    return f"{meeting.title} — {meeting.date or 'date unknown'} — {item_label}\n"


def item_spans(meeting: Meeting) -> list[tuple[str, str, Span]]:
    """(number, heading, span) for the header block and every agenda item."""
    spans = []
    first_start = meeting.items[0].start if meeting.items else len(meeting.text)
    if meeting.text[:first_start].strip():
        spans.append((HEADER_ITEM_NUMBER, HEADER_ITEM_HEADING, Span(0, first_start)))
    spans.extend((it.number, it.heading, Span(it.start, it.end)) for it in meeting.items)
    return spans


def item_label(number: str, heading: str) -> str:
    """ "7. Neighbourhood Policing Guarantee"; the header block is just "Meeting details"."""
    if number == HEADER_ITEM_NUMBER:
        return heading
    return f"{number}. {heading}" if heading else f"Item {number}"


def chunk_meeting(meeting: Meeting, count_tokens: Callable[[str], int], window: int) -> list[Chunk]:
    """All chunks of a meeting, in document order."""
    chunks: list[Chunk] = []
    for number, heading, span in item_spans(meeting):
        label = item_label(number, heading)
        header = chunk_header(meeting, label)
        budget = window - _SPECIAL_TOKENS - count_tokens(header)
        parts = split_span(meeting.text, span, count_tokens, max(budget, 32))
        for index, part in enumerate(parts):
            text = meeting.text[part.start : part.end]
            chunks.append(
                Chunk(
                    id=chunk_id(meeting, number, index, text),
                    meeting_id=meeting.id,
                    item_number=number,
                    item_heading=heading,
                    part=index,
                    parts=len(parts),
                    text=text,
                    embed_text=header + text,
                    start=part.start,
                    end=part.end,
                )
            )
    return chunks


def chunk_id(meeting: Meeting, number: str, part: int, text: str) -> str:
    """Unique per content, so a new version of a meeting never overwrites the old one's ids."""
    digest = hashlib.sha1(f"{meeting.sha256}\0{text}".encode()).hexdigest()[:10]
    return f"{meeting.id}:{number}:{part}:{digest}"


def split_span(
    text: str, span: Span, count_tokens: Callable[[str], int], budget: int
) -> list[Span]:
    """Split ``span`` into spans of at most ``budget`` tokens, on paragraphs, then sentences."""
    span = _strip(text, span)
    if span.end <= span.start:
        return [span]
    if count_tokens(text[span.start : span.end]) <= budget:
        return [span]
    units: list[tuple[Span, int]] = []
    for paragraph in _pieces(text, span, _PARAGRAPH_BREAK):
        units.extend(_fit(text, paragraph, count_tokens, budget))
    return _pack(units, budget)


def _fit(
    text: str, span: Span, count_tokens: Callable[[str], int], budget: int
) -> list[tuple[Span, int]]:
    """Break a paragraph into sentences, and a sentence into word runs, until each fits."""
    tokens = count_tokens(text[span.start : span.end])
    if tokens <= budget:
        return [(span, tokens)]
    sentences = _sentences(text, span)
    if len(sentences) > 1:
        return [unit for s in sentences for unit in _fit(text, s, count_tokens, budget)]
    return _split_words(text, span, count_tokens, budget)


def _split_words(
    text: str, span: Span, count_tokens: Callable[[str], int], budget: int
) -> list[tuple[Span, int]]:
    """Last resort for a sentence longer than the window: runs of whole words."""
    words = [
        (Span(m.start(), m.end()), count_tokens(m.group()))
        for m in _WORD.finditer(text, span.start, span.end)
    ]
    return _group(words, budget)


def _pack(units: list[tuple[Span, int]], budget: int) -> list[Span]:
    return [span for span, _ in _group(units, budget)]


def _group(units: list[tuple[Span, int]], budget: int) -> list[tuple[Span, int]]:
    """Greedily join neighbouring units while their token sum stays within the budget."""
    groups: list[tuple[Span, int]] = []
    for span, tokens in units:
        if groups and groups[-1][1] + tokens + 1 <= budget:
            last, used = groups[-1]
            groups[-1] = (Span(last.start, span.end), used + tokens + 1)
        else:
            groups.append((span, tokens))
    return groups


def _pieces(text: str, span: Span, separator: re.Pattern[str]) -> list[Span]:
    """Non-empty sub-spans of ``span`` between matches of ``separator``, whitespace trimmed."""
    pieces, cursor = [], span.start
    for match in separator.finditer(text, span.start, span.end):
        pieces.append(Span(cursor, match.start()))
        cursor = match.end()
    pieces.append(Span(cursor, span.end))
    return [s for s in (_strip(text, p) for p in pieces) if s.end > s.start]


def _sentences(text: str, span: Span) -> list[Span]:
    """The sentences of ``span``, cut where each sentence after the first begins, so text the
    splitter passes over (a "#" line, a table's label cell) stays with the sentence before it."""
    found = split_sentences(text[span.start : span.end], span.start)
    cuts = [span.start, *(s.start for s in found[1:]), span.end]
    pieces = (_strip(text, Span(a, b)) for a, b in pairwise(cuts))
    return [s for s in pieces if s.end > s.start]


def _strip(text: str, span: Span) -> Span:
    start, end = span.start, span.end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end)
