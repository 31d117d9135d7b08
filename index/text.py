"""Sentences and list entries of minutes text, with offsets.

The one sentence splitter of the project: chunking breaks an over-long paragraph on it,
outcome extraction reads an item sentence by sentence with it, and answering quotes and checks
the sentences it finds. Every span's ``text`` is the source text between its offsets.

Minutes are not prose: lines wrap mid-sentence, list entries carry no full stop, table rows
start with label cells and page furniture ("Official Sensitive - Operational") interrupts a
sentence. :func:`split_sentences` reads lines into blocks (paragraph runs, bullets, bare list
entries) and splits each block at sentence ends; :func:`split_lines` treats every line as a
block of its own, for text where each line is a fact (a meeting's header block).
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from index.lines import MARKING

ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "st", "no", "e.g", "i.e", "etc", "cllr"})

_LINE = re.compile(r"^[ \t]*(\S.*?)[ \t]*$", re.MULTILINE)
_BULLET = re.compile(r"[-•*–·▪◦]\s+")
_TERMINAL = ".!?:;"
_LEFT_CELLS = re.compile(r"(?:[^\t\n]*\t)+[ \t]*")
_FURNITURE_WORDS = 6
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]*\s+(?=[\"'“‘(]?[A-Z0-9])")


class Span(BaseModel):
    """A sentence or list entry: ``text`` is the source text between ``start`` and ``end``."""

    start: int
    end: int
    text: str
    listed: bool = False


def split_sentences(text: str, offset: int = 0) -> list[Span]:
    """Sentences and list entries of ``text``; offsets are shifted by ``offset``.

    A line that does not end a sentence runs on into a following line that starts in lower
    case (minutes wrap mid-sentence), past one short unfinished line between them (a page
    header). A protective marking line ("Official Sensitive - Operational") is never part of
    a sentence: it is skipped, and the sentence it interrupts is quoted as its two halves, so
    no quote carries the marking. A bulleted line is an entry of its own, as is every
    lower-case line after a line ending with ":" ("will require the CC to:" + bare lines).
    Left-hand table cells ("Item 1:<tab>", "Remarks<tab>") hold labels, so a line's text starts
    after its last tab; "#" headings are skipped.
    """
    spans: list[Span] = []
    for start, end, listed in _blocks(text):
        if listed:
            spans.append(_span(text, start, end, offset, listed=True))
        else:
            spans.extend(_split_block(text, start, end, offset))
    return spans


def _blocks(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, listed) runs of lines: paragraphs, bullets and bare list entries."""
    blocks: list[tuple[int, int, bool]] = []
    in_bare_list = False
    after_marking = False
    for line in _LINE.finditer(text):
        cells = _LEFT_CELLS.match(text, line.start(1), line.end(1))
        start, end = cells.end() if cells else line.start(1), line.end(1)
        body = text[start:end]
        if not body or body.startswith("#"):
            continue
        if MARKING.match(body):
            after_marking = True
            continue
        bullet = _BULLET.match(body)
        lower = body[0].islower()
        if bullet:
            blocks.append((start + bullet.end(), end, True))
        elif lower and in_bare_list:
            blocks.append((start, end, True))
            continue
        elif lower and blocks and _unfinished(text, blocks[-1]) and not after_marking:
            _run_on(text, blocks, end)
        else:
            blocks.append((start, end, False))
        in_bare_list = not bullet and text[blocks[-1][1] - 1] == ":"
        after_marking = False
    return blocks


def _unfinished(text: str, block: tuple[int, int, bool]) -> bool:
    return text[block[1] - 1] not in _TERMINAL


def _run_on(text: str, blocks: list[tuple[int, int, bool]], end: int) -> None:
    """Extend the last block to ``end``; a short unfinished line between two halves of a
    sentence ("Official Sensitive - Operational") is absorbed rather than kept as a sentence."""
    last_start, last_end, listed = blocks[-1]
    short = len(text[last_start:last_end].split()) <= _FURNITURE_WORDS and not listed
    if short and len(blocks) > 1 and _unfinished(text, blocks[-2]) and not blocks[-2][2]:
        blocks.pop()
    blocks[-1] = (blocks[-1][0], end, blocks[-1][2])


def _split_block(text: str, start: int, end: int, offset: int) -> list[Span]:
    """The sentences of one block: split at sentence ends, but not after an abbreviation."""
    spans: list[Span] = []
    block = text[start:end]
    cut = 0
    for boundary in _SENTENCE_END.finditer(block):
        last_word = block[cut : boundary.start()].rsplit(maxsplit=1)[-1].lower().rstrip(".")
        if last_word in ABBREVIATIONS:
            continue
        spans.append(_span(text, start + cut, start + boundary.start(), offset))
        cut = boundary.end()
    spans.append(_span(text, start + cut, end, offset))
    return spans


def _span(text: str, start: int, end: int, offset: int, *, listed: bool = False) -> Span:
    return Span(start=start + offset, end=end + offset, text=text[start:end], listed=listed)


def split_lines(text: str, offset: int = 0) -> list[Span]:
    """Sentences of ``text`` with every line a block of its own (no wrapped lines joined, no
    list entries): for a header block, where each line is a fact ("Venue<tab>PCC Office")."""
    spans: list[Span] = []
    for line in _LINE.finditer(text):
        spans.extend(_split_block(text, line.start(1), line.end(1), offset))
    return spans
