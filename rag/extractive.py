"""The extractive backend: answers with verbatim sentences of the retrieved items, no model.

Each candidate sentence is scored by meaning (MiniLM cosine to the question), by the share of
the question's key terms it contains (weighted by rarity among the candidates), by whether it
has what the question type asks for (a number for "how many", a date for "when", a person for
"who", an agreement for "what did we agree"), and by its item's retrieval rank. Below a floor,
or when the question's distinctive terms are absent from every candidate, it abstains.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from index.embed import Embedder
from rag.models import Passage
from rag.text import NUMBER, Sentence, key_terms
from rag.verify import usable_sentences

ANSWER_FLOOR = 0.42
MIN_KEY_COVERAGE = 0.34
SECOND_SENTENCE_RATIO = 0.9
MAX_SENTENCES = 2

QUESTION_TYPES: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "how many": (
        re.compile(r"\bhow (many|much)\b|\bwhat (number|percentage|proportion)\b", re.I),
        re.compile(
            r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty)\b", re.I
        ),
    ),
    "when": (
        re.compile(r"\bwhen\b|\bwhat (date|day|time)\b", re.I),
        re.compile(
            r"\d{1,2}(st|nd|rd|th)?\s+\w+\s+\d{4}|\b(january|february|march|april|may|june|july"
            r"|august|september|october|november|december|monday|tuesday|wednesday|thursday"
            r"|friday|week|month|year|quarter)\b|\d{4}",
            re.I,
        ),
    ),
    "who": (
        re.compile(r"^\s*who\b|\bwhich (officer|person|member)\b", re.I),
        re.compile(r"\b[A-Z]{2,4}\b|\b[A-Z][a-z]+ [A-Z][a-z]+\b|\b(Chief|Officer|Commissioner)\b"),
    ),
    "where": (
        re.compile(r"\bwhere\b|\bvenue\b", re.I),
        re.compile(r"\b(office|HQ|room|hall|venue|centre|station|council)\b", re.I),
    ),
    "agreed": (
        re.compile(r"\b(agree|agreed|decide|decided|decision|resolve|resolved)\b", re.I),
        re.compile(r"\bagree|\bdecid|\bresolv|\bwill require\b|\breaffirm", re.I),
    ),
    "asked": (
        re.compile(r"\b(ask|asked|request|requested|require|action|actions)\b", re.I),
        re.compile(r"\bask|\brequest|\brequire|\bwould wish|\bwill\b", re.I),
    ),
}


@dataclass(frozen=True)
class Candidate:
    passage: int
    sentence: Sentence
    score: float


def question_types(question: str) -> list[str]:
    return [name for name, (asks, _) in QUESTION_TYPES.items() if asks.search(question)]


class ExtractiveBackend:
    """Picks and cites the sentences that answer; fast, deterministic and always grounded."""

    name = "extractive"

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def warm_up(self) -> None:
        self.embedder.warm_up()

    def choose(self, question: str, passages: list[Passage]) -> list[Candidate]:
        """The answering sentences, best first; empty when nothing answers."""
        groups = [(i, s) for i, p in enumerate(passages) for s in usable_sentences(p)]
        if not groups:
            return []
        wanted = key_terms(question)
        if not covered_enough(wanted, [p.text for p in passages]):
            return []
        vectors = np.array(self.embedder.embed([question] + [s.text for _, s in groups]))
        sims = vectors[1:] @ vectors[0]
        weights = term_weights(wanted, [s.text for _, s in groups])
        types = question_types(question)
        scored = [
            Candidate(i, s, self._score(s, float(sim), wanted, weights, types, i))
            for (i, s), sim in zip(groups, sims, strict=True)
        ]
        scored.sort(key=lambda c: c.score, reverse=True)
        best = scored[0]
        if best.score < ANSWER_FLOOR or not has_required(types, best.sentence.text):
            return []
        picked = [best]
        for other in scored[1:]:
            if len(picked) == MAX_SENTENCES or other.score < best.score * SECOND_SENTENCE_RATIO:
                break
            if other.passage == best.passage:
                picked.append(other)
        return sorted(picked, key=lambda c: (c.passage, c.sentence.start))

    def _score(
        self,
        sentence: Sentence,
        sim: float,
        wanted: set[str],
        weights: dict[str, float],
        types: list[str],
        rank: int,
    ) -> float:
        found = key_terms(sentence.text)
        total = sum(weights.values()) or 1.0
        overlap = sum(w for t, w in weights.items() if t in found) / total
        type_fit = sum(1 for t in types if QUESTION_TYPES[t][1].search(sentence.text))
        type_score = type_fit / len(types) if types else 0.5
        return 0.45 * sim + 0.35 * overlap + 0.12 * type_score + 0.08 / (1 + rank)

    def answer(self, question: str, passages: list[Passage]) -> str:
        """The chosen sentences, each followed by its passage number, or '' to abstain."""
        return " ".join(
            f"{c.sentence.text} [{c.passage + 1}]" for c in self.choose(question, passages)
        )


def term_weights(wanted: set[str], texts: list[str]) -> dict[str, float]:
    """Rarer question terms weigh more (inverse frequency among the candidate sentences)."""
    bags = [key_terms(t) for t in texts]
    return {t: math.log(1 + len(bags) / (1 + sum(t in b for b in bags))) for t in wanted}


def covered_enough(wanted: set[str], texts: list[str]) -> bool:
    """Whether enough of the question's key terms occur anywhere in what was retrieved."""
    if not wanted:
        return True
    present = set().union(*(key_terms(t) for t in texts))
    return len(wanted & present) / len(wanted) >= MIN_KEY_COVERAGE


def has_required(types: list[str], text: str) -> bool:
    """A "how many" answer must hold a number, a "when" answer a date or period."""
    if (
        "how many" in types
        and not NUMBER.search(text)
        and not QUESTION_TYPES["how many"][1].search(text)
    ):
        return False
    return not ("when" in types and not QUESTION_TYPES["when"][1].search(text))
