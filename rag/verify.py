"""Check every answer sentence against the passages it cites; re-cite or drop what fails.

A sentence copied word for word from a passage stands on it. Any other sentence stands only on
a sentence of the passage that is (1) close in meaning — cosine similarity of MiniLM vectors,
or most of its content words found there — and (2) says the same figures, names and polarity
(:mod:`rag.claims`: "did not agree" is not "agreed", £4.5m is not £4m). A sentence no cited
passage supports is re-cited to a retrieved passage that does, or dropped. Citations can only
point at retrieved passages.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np

from index.embed import Embedder
from index.models import Meeting
from rag.claims import Context, mismatch, opposite_polarity
from rag.models import Passage
from rag.text import Sentence, key_terms, normalise, passage_sentences

MARKER = re.compile(r"\s*\[(\d+)\]")
MIN_SIMILARITY = 0.62
MIN_OVERLAP = 0.7
MIN_SHARED_TERMS = 2  # overlap alone vouches only for a sentence that says something


@dataclass(frozen=True)
class Evidence:
    passage: int
    quote: Sentence
    similarity: float


@dataclass(frozen=True)
class Checked:
    """One answer sentence after checking: its evidence, or why it was dropped."""

    text: str
    cited: tuple[int, ...]
    evidence: Evidence | None
    reason: str


_BOUNDARY = re.compile(r"[.!?](?:\s*\[\d+\])*(?=\s|$)|(?:\s*\[\d+\])+(?=\s+[A-Z]|\s*$)|\n")


def answer_sentences(answer: str) -> list[tuple[str, tuple[int, ...]]]:
    """(sentence without markers, the passage numbers it cites); markers written just after
    a sentence's full stop belong to that sentence."""
    pieces, cursor = [], 0
    for match in _BOUNDARY.finditer(answer):
        pieces.append(answer[cursor : match.end()])
        cursor = match.end()
    pieces.append(answer[cursor:])
    found = []
    for piece in pieces:
        clean = MARKER.sub("", piece).strip()
        if len(re.findall(r"\w+", clean)) >= 2:
            numbers = tuple(dict.fromkeys(int(n) for n in re.findall(r"\[(\d+)\]", piece)))
            found.append((clean, numbers))
    return found


class Verifier:
    """Checks answers against passages with the same embedder the index uses."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def check(
        self,
        answer: str,
        passages: list[Passage],
        meetings: dict[str, Meeting],
        question: str = "",
    ) -> list[Checked]:
        """Each sentence of ``answer`` with the quote it stands on, or why it stands on none.
        A sentence that is not a verbatim quote must also say something of the minutes that
        ``question`` did not: "This can be found in the minutes." points, it does not answer."""
        sentences = answer_sentences(answer)
        if not sentences or not passages:
            return [Checked(s, c, None, "no passages to support it") for s, c in sentences]
        evidence = [passage_sentences(p) for p in passages]
        orders = [citation_order(cited, len(passages)) for _, cited in sentences]
        found = [
            verbatim(text, passages, evidence, order)
            for (text, _), order in zip(sentences, orders, strict=True)
        ]
        unsure = [i for i, hit in enumerate(found) if hit is None]
        if unsure:
            contexts = [Context(meetings[p.meeting_id], p.header) for p in passages]
            texts = [sentences[i][0] for i in unsure]
            orders_unsure = [orders[i] for i in unsure]
            asked = key_terms(question)
            matched = self._by_meaning(texts, orders_unsure, evidence, contexts, asked)
            for i, hit in zip(unsure, matched, strict=True):
                found[i] = hit
        return [
            checked(text, cited, hit) for (text, cited), hit in zip(sentences, found, strict=True)
        ]

    def _by_meaning(
        self,
        texts: list[str],
        orders: list[list[int]],
        evidence: list[list[Sentence]],
        contexts: list[Context],
        asked: set[str],
    ) -> list[Evidence | None]:
        """For sentences not copied verbatim: meaning close and claims alike, per passage."""
        flat = [s.text for group in evidence for s in group]
        vectors = np.array(self.embedder.embed_cached(texts + flat))
        answers, pool = vectors[: len(texts)], vectors[len(texts) :]
        bounds = np.cumsum([0] + [len(group) for group in evidence])
        found: list[Evidence | None] = []
        for text, order, vec in zip(texts, orders, answers, strict=True):
            hit = None
            for index in order:
                sims = pool[bounds[index] : bounds[index + 1]] @ vec
                hit = best_support(text, evidence[index], sims, contexts[index], index, asked)
                if hit:
                    break
            found.append(hit)
        return found


def citation_order(cited: tuple[int, ...], count: int) -> list[int]:
    """Passages to try for a sentence: the ones it cites first, then the rest in rank order."""
    order = [n - 1 for n in cited if 1 <= n <= count]
    return order + [i for i in range(count) if i not in order]


def verbatim(
    text: str, passages: list[Passage], evidence: list[list[Sentence]], order: list[int]
) -> Evidence | None:
    """A sentence copied word for word from a passage is supported by it: no model needed.
    So is a run of consecutive sentences copied together (a lead-in and the list it opens)
    when nothing stands between them; the quote then spans the run. A protective marking
    line between two halves of a sentence is never quoted, so such a run is not joined."""
    wanted = normalise(text).rstrip(".")
    for index in order:
        group, passage = evidence[index], passages[index]
        for first, sentence in enumerate(group):
            joined = ""
            for last in range(first, len(group)):
                if last > first and not adjacent(passage, group[last - 1], group[last]):
                    break
                joined = f"{joined} {normalise(group[last].text)}".strip()
                if joined.rstrip(".") == wanted:
                    return Evidence(index, span(passage, sentence, group[last]), 1.0)
                if not wanted.startswith(joined):
                    break
    return None


def adjacent(passage: Passage, before: Sentence, after: Sentence) -> bool:
    """Whether only whitespace (or a list bullet) separates two sentences of a passage."""
    gap = passage.text[before.end - passage.start : after.start - passage.start]
    return not gap.strip(" \t\n-•*·–")


def span(passage: Passage, first: Sentence, last: Sentence) -> Sentence:
    """The passage text from the start of ``first`` to the end of ``last``, as one quote."""
    if first is last:
        return first
    text = passage.text[first.start - passage.start : last.end - passage.start]
    return Sentence(text, first.start, last.end)


def checked(text: str, cited: tuple[int, ...], found: Evidence | None) -> Checked:
    reason = "supported" if found else "no retrieved passage supports it"
    if found and found.passage + 1 not in cited:
        reason = "re-cited" if cited else "cited"
    return Checked(text, cited, found, reason)


def best_support(
    text: str,
    group: list[Sentence],
    sims: np.ndarray,
    context: Context,
    index: int,
    asked: AbstractSet[str] = frozenset(),
) -> Evidence | None:
    """The passage sentence that supports ``text``: close in meaning (cosine, or most of its
    content words) and saying the same figures and names (:mod:`rag.claims`); the closest such
    sentence wins. None when any close sentence says the opposite: a sentence near "would not
    be prudent" that says "would be prudent" is not rescued by a vaguer neighbour."""
    wanted = key_terms(text)
    close = []
    for sentence, sim in zip(group, sims, strict=True):
        shared = len(wanted & key_terms(sentence.text))
        overlap = shared / len(wanted) if wanted else 0.0
        if sim >= MIN_SIMILARITY or (overlap >= MIN_OVERLAP and shared >= MIN_SHARED_TERMS):
            close.append((max(float(sim), overlap * 0.9), sentence))
    if any(opposite_polarity(text, sentence.text) for _, sentence in close):
        return None
    for score, sentence in sorted(close, key=lambda pair: pair[0], reverse=True):
        if mismatch(text, sentence.text, context) is None:
            return Evidence(index, sentence, score)
    return None
