"""Sentences with offsets, content terms and checkable facts: shared by answering and checking."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from index.chunk import HEADER_ITEM_NUMBER
from index.lines import MARKING
from index.text import Span
from index.text import split_lines as split_text_lines
from index.text import split_sentences as split_item_text
from rag.models import Passage

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself just
    me more most my no nor not now of off on once only or other our out over own same she should
    so some such than that the their them then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you your
    yours ours us s t done get got many much tell said say says""".split()
)
GENERIC = frozenset(
    """meeting meetings minutes minute item items agenda police pcc cc commissioner chief
    constable board 1 record recorded discussed discuss""".split()
)
_TERM = re.compile(r"[A-Za-z][A-Za-z'&-]*[A-Za-z]|[A-Za-z]|\d+(?:[.,:]\d+)*%?")
NUMBER = re.compile(r"(?<![\w£])£?\d[\d,]*(?:\.\d+)?%?(?![\w])")
MONTH_WORDS = frozenset(
    """january february march april may june july august september october november
    december""".split()
)


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int


def split_lines(text: str, offset: int = 0) -> list[Sentence]:
    """Lines and sentences of ``text`` (for the header block, where every line is a fact:
    "Venue<tab>PCC Office, HQ", "Phil Wells, Chief Finance Officer ... (PW)")."""
    return _worded(split_text_lines(text, offset))


def split_sentences(text: str, offset: int = 0) -> list[Sentence]:
    """Sentences and list entries of item text, wrapped lines joined (see
    :func:`index.text.split_sentences`), with offsets shifted by ``offset``."""
    return _worded(split_item_text(text, offset))


def _worded(spans: list[Span]) -> list[Sentence]:
    """Spans of three words or more: shorter ones (a label, "Noted.") state no fact."""
    return [
        Sentence(span.text, span.start, span.end)
        for span in spans
        if len(re.findall(r"\w+", span.text)) >= 3
    ]


def passage_sentences(passage: Passage) -> list[Sentence]:
    """The passage's sentences with offsets into the meeting text, without the item heading.
    Every sentence is kept: minutes are data by construction (fenced in the prompt, verified
    against the source), so none is dropped for how it reads."""
    heading = heading_pattern(passage).match(passage.text)
    body_start = passage.start + (heading.end() if heading else 0)
    found = []
    for sentence in _split(passage):
        if sentence.start < body_start:
            sentence = trimmed(sentence, body_start)
        if sentence:
            found.append(sentence)
    return found


def _split(passage: Passage) -> list[Sentence]:
    if passage.item_number == HEADER_ITEM_NUMBER:
        return split_lines(passage.text, passage.start)
    return split_sentences(passage.text, passage.start)


def broken_by_marking(passage: Passage, first: Sentence, second: Sentence) -> bool:
    """Whether two sentences are the halves of one that a protective marking line interrupts
    ("... Rural Crime Action Team to" / marking / "tackle specific rural crimes ...")."""
    between = passage.text[first.end - passage.start : second.start - passage.start]
    return (
        not first.text.rstrip().endswith((".", "!", "?", ":"))
        and second.text[:1].islower()
        and bool(MARKING.fullmatch(between.strip()))
    )


def heading_pattern(passage: Passage) -> re.Pattern[str]:
    """Matches the item's own heading ("7. Neighbourhood ...", "Item 3: Prevention ...")."""
    number, _, heading = passage.item_label.partition(". ")
    words = r"[\W_]*".join(re.escape(w) for w in heading.split())
    return re.compile(rf"\s*(?:item\s*)?{re.escape(number)}\s*[.:)]?[\W_]*{words}[\W_]*", re.I)


def trimmed(sentence: Sentence, start: int) -> Sentence | None:
    """The part of ``sentence`` from offset ``start`` on; None if too little is left."""
    rest = sentence.text[max(start - sentence.start, 0) :]
    lead = len(rest) - len(rest.lstrip())
    rest = rest.strip()
    if len(re.findall(r"\w+", rest)) < 3:
        return None
    begin = max(start, sentence.start) + lead
    return Sentence(rest, begin, begin + len(rest))


@cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def stem(word: str) -> str:
    """Snowball (Porter 2) stem, as BM25 uses: agreed/agree, officers/officer, policing/police."""
    return _stemmer().stemWord(word.lower().removesuffix("'s").strip("'"))


def terms(text: str) -> set[str]:
    """Stemmed content words, without stopwords."""
    return {stem(w) for w in _TERM.findall(text) if w.lower() not in STOPWORDS}


@cache
def _generic_stems() -> frozenset[str]:
    return frozenset(stem(word) for word in GENERIC)


def key_terms(text: str) -> set[str]:
    """Content words that say what a question is about (generic meeting words left out)."""
    generic = _generic_stems()
    return {t for t in terms(text) if t not in generic and len(t) > 1}


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#!|~])")
_ESCAPED_MARKER = re.compile(r"\\\[(\d+)\\\]")


def inert_markdown(text: str) -> str:
    """Minutes text for a Markdown document: every character Markdown would act on escaped,
    so a link, image or HTML tag in the minutes shows as the text it is; citation markers
    "[n]" stay readable."""
    return _ESCAPED_MARKER.sub(r"[\1]", _MARKDOWN_SPECIAL.sub(r"\\\1", text))
