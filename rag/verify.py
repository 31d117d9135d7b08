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
        supports = [support_text(p, meetings[p.meeting_id]) for p in passages]
        flat = [s for group in evidence for s in group]
        vectors = np.array(self.embedder.embed([s for s, _ in sentences] + [s.text for s in flat]))
        answer_vecs, evidence_vecs = vectors[: len(sentences)], vectors[len(sentences) :]
        bounds = np.cumsum([0] + [len(group) for group in evidence])
        checked = []
        for (text, cited), vec in zip(sentences, answer_vecs, strict=True):
            order = [n - 1 for n in cited if 1 <= n <= len(passages)]
            order += [i for i in range(len(passages)) if i not in order]
            found = None
            for index in order:
                group = evidence[index]
                sims = evidence_vecs[bounds[index] : bounds[index + 1]] @ vec
                found = best_support(text, group, sims, supports[index], index)
                if found:
                    break
            reason = "supported" if found else "no retrieved passage supports it"
            if found and found.passage + 1 not in cited:
                reason = "re-cited" if cited else "cited"
            checked.append(Checked(text, cited, found, reason))
        return checked


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
