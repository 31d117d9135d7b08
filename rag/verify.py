"""Check every answer sentence against the passages it cites; re-cite or drop what fails.

A sentence stands only if (1) each number, month and proper name in it occurs in the cited
passage (or that meeting's title and attendee list), and (2) it is close in meaning to some
sentence of that passage — cosine similarity of MiniLM vectors, or most of its content words
found there. A sentence no cited passage supports is re-cited to a retrieved passage that
does, or dropped. Citations can only point at retrieved passages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from index.embed import Embedder
from index.models import Meeting
from rag.models import Passage
from rag.text import Sentence, facts, key_terms, normalise, passage_sentences

MARKER = re.compile(r"\s*\[(\d+)\]")
MIN_SIMILARITY = 0.62
MIN_OVERLAP = 0.7


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


def support_text(passage: Passage, meeting: Meeting) -> str:
    """What may vouch for a sentence's facts: the passage, its header and who attended."""
    people = " ".join(f"{p.name} {p.initials or ''} {p.role or ''}" for p in meeting.attendees)
    return normalise(
        f"{passage.header} {meeting.kind} {meeting.venue or ''} {people} {passage.text}"
    )


class Verifier:
    """Checks answers against passages with the same embedder the index uses."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def check(
        self, answer: str, passages: list[Passage], meetings: dict[str, Meeting]
    ) -> list[Checked]:
        sentences = answer_sentences(answer)
        if not sentences or not passages:
            return [Checked(s, c, None, "no passages to support it") for s, c in sentences]
        evidence = [passage_sentences(p) for p in passages]
        orders = [citation_order(cited, len(passages)) for _, cited in sentences]
        found = [
            verbatim(text, evidence, order)
            for (text, _), order in zip(sentences, orders, strict=True)
        ]
        unsure = [i for i, hit in enumerate(found) if hit is None]
        if unsure:
            supports = [support_text(p, meetings[p.meeting_id]) for p in passages]
            texts = [sentences[i][0] for i in unsure]
            matched = self._by_meaning(texts, [orders[i] for i in unsure], evidence, supports)
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
        supports: list[str],
    ) -> list[Evidence | None]:
        """For sentences not copied verbatim: facts present and meaning close, per passage."""
        flat = [s.text for group in evidence for s in group]
        vectors = np.array(self.embedder.embed_cached(texts + flat))
        answers, pool = vectors[: len(texts)], vectors[len(texts) :]
        bounds = np.cumsum([0] + [len(group) for group in evidence])
        found: list[Evidence | None] = []
        for text, order, vec in zip(texts, orders, answers, strict=True):
            hit = None
            for index in order:
                sims = pool[bounds[index] : bounds[index + 1]] @ vec
                hit = best_support(text, evidence[index], sims, supports[index], index)
                if hit:
                    break
            found.append(hit)
        return found


def citation_order(cited: tuple[int, ...], count: int) -> list[int]:
    """Passages to try for a sentence: the ones it cites first, then the rest in rank order."""
    order = [n - 1 for n in cited if 1 <= n <= count]
    return order + [i for i in range(count) if i not in order]


def verbatim(text: str, evidence: list[list[Sentence]], order: list[int]) -> Evidence | None:
    """A sentence copied word for word from a passage is supported by it: no model needed."""
    wanted = normalise(text).rstrip(".")
    for index in order:
        for sentence in evidence[index]:
            if normalise(sentence.text).rstrip(".") == wanted:
                return Evidence(index, sentence, 1.0)
    return None


def checked(text: str, cited: tuple[int, ...], found: Evidence | None) -> Checked:
    reason = "supported" if found else "no retrieved passage supports it"
    if found and found.passage + 1 not in cited:
        reason = "re-cited" if cited else "cited"
    return Checked(text, cited, found, reason)


def best_support(
    text: str, group: list[Sentence], sims: np.ndarray, support: str, index: int
) -> Evidence | None:
    """The passage sentence that supports ``text``, if its facts and meaning both check out."""
    if not group or not all(normalise(f) in support for f in facts(text)):
        return None
    wanted = key_terms(text)
    best, best_score = None, -1.0
    for sentence, sim in zip(group, sims, strict=True):
        overlap = len(wanted & key_terms(sentence.text)) / len(wanted) if wanted else 0.0
        score = max(float(sim), overlap * 0.9)
        if (sim >= MIN_SIMILARITY or overlap >= MIN_OVERLAP) and score > best_score:
            best, best_score = sentence, score
    return Evidence(index, best, best_score) if best else None
