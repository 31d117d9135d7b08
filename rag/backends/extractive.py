"""The extractive backend: answers with verbatim sentences of the retrieved items, no model.

Candidates are the sentences (and header lines) of the best retrieved items. Each is scored
by meaning (MiniLM cosine to the question), by how much of the question's *focus* it holds
— the question's key terms, weighted by rarity, less the words that only pick out the
meeting (its title, kind and date did their work in retrieval) — by whether it holds what
the question type asks for, and by its item's retrieval score. It abstains when the best
candidate covers too little of the focus, or lacks what the question type needs (a number
for "how many" that is not just repeated from the question, a date for "when").

Briefing bullets are an item's key sentences, verbatim: agreements and requests first, then
the sentences most central to the item.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from core.settings import Settings
from index.chunk import HEADER_ITEM_NUMBER
from index.store import human_date
from rag.backends.base import TokenSink, bullet_lines, one_line
from rag.models import Passage
from rag.text import NUMBER, Sentence, broken_by_marking, key_terms, passage_sentences

if TYPE_CHECKING:
    from index.embed import Embedder

MAX_PASSAGES = 3
GATE_SIMILARITY_WEIGHT = 0.5
GATE_FLOOR = 0.62
SECOND_SENTENCE_RATIO = 0.92
MAX_FOLLOWING_LINES = 4
PAIR_PENALTY = 0.98
NEAR_WORDS = 6
MAX_AGREEMENTS = 3
MIN_BULLET_WORDS = 6
SENTENCES_PER_BULLET = 4  # one more bullet for every this many sentences in an item
AGREEMENT_WEIGHT, REQUEST_WEIGHT = 0.3, 0.2

_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|fifty|hundred"
)
QUESTION_TYPES: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "how many": (
        re.compile(
            r"\bhow (many|much)\b|\bwhat (number|percentage|proportion|amount)\b",
            re.I,
        ),
        re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.I),
    ),
    "when": (
        re.compile(r"\bwhen\b|\bwhat (date|day|time)\b|\bwhich (date|day)\b", re.I),
        re.compile(
            r"\d{1,2}(st|nd|rd|th)?\s+\w+\s+\d{4}|\b(january|february|march|april|may|june|july"
            r"|august|september|october|november|december|monday|tuesday|wednesday|thursday"
            r"|friday|saturday|sunday|today|yesterday|tomorrow|quarterly|(minute|hour|day|week"
            r"|month|quarter|year)s?)\b|\d{4}",
            re.I,
        ),
    ),
    "who": (
        re.compile(r"^\s*who\b|\bwhom\b|\bwhose\b", re.I),
        re.compile(r"\b[A-Z]{2,4}\b|\b[A-Z][a-z]+ [A-Z][a-z]+\b"),
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
        re.compile(r"\b(ask|asked|request|requested|require|action|actions|want)\b", re.I),
        re.compile(r"\bask|\brequest|\brequire|\bwould wish|\bwish|\bwants?\b|\bwill\b", re.I),
    ),
}


ANSWER_FORMS = ("who", "where", "when", "how many")
AGREEMENT, REQUEST = QUESTION_TYPES["agreed"][1], QUESTION_TYPES["asked"][1]


@dataclass(frozen=True)
class Candidate:
    """One or more consecutive sentences of a passage that may answer together: a sentence,
    or a lead-in ("The PCC will require the CC to:") with the list lines that follow it."""

    passage: int
    sentences: tuple[Sentence, ...]
    similarity: float
    coverage: float
    score: float

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)


Quoted = tuple[int, Sentence]
"""A quote an answer rests on: the index of its passage and the sentence quoted."""


@dataclass(frozen=True)
class Proposal:
    """What the backend would answer with: its best candidate and every candidate quoted."""

    best: Candidate
    picked: list[Candidate]


def question_types(question: str) -> list[str]:
    return [name for name, (asks, _) in QUESTION_TYPES.items() if asks.search(question)]


def meeting_terms(passage: Passage) -> set[str]:
    """Words that only identify the meeting: its body, title, kind and date (as minutes write
    it: "Friday 20th September 2024")."""
    words = f"{passage.body} {passage.title} {passage.kind} {human_date(passage.date)}"
    words += f" {passage.date}"
    if passage.date:
        day = date.fromisoformat(passage.date)
        words += f" {day:%A} {day.day}{ordinal_suffix(day.day)}"
    return key_terms(words)


def ordinal_suffix(day: int) -> str:
    if day in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def term_weights(terms: set[str], texts: list[str]) -> dict[str, float]:
    """Rarer terms weigh more (inverse frequency among the candidate sentences)."""
    bags = [key_terms(t) for t in texts]
    return {t: math.log(1 + len(bags) / (1 + sum(t in b for b in bags))) for t in terms}


def coverage(weights: dict[str, float], found: set[str], nearby: set[str]) -> float:
    """Weighted share of the focus present: fully in the candidate or its item heading,
    half in the sentences either side of it."""
    total = sum(weights.values())
    if not total:
        return 0.0
    held = sum(w if t in found else w / 2 if t in nearby else 0.0 for t, w in weights.items())
    return held / total


class ExtractiveBackend:
    """Picks and cites the sentences that answer; fast, deterministic and always grounded.
    It writes no draft token by token: its answer is ready at once."""

    name = "extractive"
    streams_draft = False

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def warm_up(self) -> None:
        self.embedder.warm_up()

    def draft_answer(
        self, question: str, passages: list[Passage], on_token: TokenSink | None = None
    ) -> str:
        return self.answer(question, passages)

    def draft_bullets(self, passage: Passage, topic: str | None, limit: int) -> str:
        """The answer on the topic, or else the item's key sentences."""
        if topic is not None:
            return bullet_lines(one_line(self.answer(topic, [passage])))
        chosen = key_sentences(passage, self.embedder, limit)
        return bullet_lines("\n".join(f"{one_line(sentence.text)} [1]" for sentence in chosen))

    def draft_condensed(self, passages: list[Passage]) -> str:
        """Nothing: the extractive backend keeps the minutes' own sentences."""
        return ""

    def choose(self, question: str, passages: list[Passage]) -> list[Candidate]:
        """The answering candidates in reading order; empty when nothing answers."""
        proposal = self.propose(question, passages)
        if proposal is None or not answers(question, proposal.best):
            return []
        return proposal.picked

    def propose(self, question: str, passages: list[Passage]) -> Proposal | None:
        """The best candidate and what would be quoted with it, before the abstention gate
        (:func:`answers`); None when no candidate can answer at all."""
        pool = passages[:MAX_PASSAGES]
        ranked = self.rank(question, pool)
        if not ranked or missing_figures(question, pool[ranked[0].passage]):
            return None
        best = ranked[0]
        seconds = [
            c
            for c in ranked[1:4]
            if c.passage == best.passage
            and c.score >= best.score * SECOND_SENTENCE_RATIO
            and not set(c.sentences) & set(best.sentences)
        ]
        picked = [best, *seconds[:1], *other_agreements(question, best, ranked)]
        return Proposal(best, sorted(picked, key=lambda c: (c.passage, c.sentences[0].start)))

    def answer(self, question: str, passages: list[Passage]) -> str:
        """The chosen sentences, each followed by its passage number, or '' to abstain."""
        return " ".join(
            f"{s.text} [{c.passage + 1}]"
            for c in self.choose(question, passages)
            for s in c.sentences
        )

    def grounds(self, question: str, passages: list[Passage], quotes: list[Quoted]) -> bool:
        """Whether quotes another backend's answer rests on pass the same abstention gate as
        this backend's own candidates: the question's focus held by what is quoted (and its
        item's heading), its meaning close, and what the question type needs present."""
        if not quotes:
            return False
        texts = [s.text for p in passages for s in passage_sentences(p)]
        weights = term_weights(key_terms(question), texts)
        types = question_types(question)
        quoted = [q.text for _, q in quotes]
        vectors = np.array(self.embedder.embed_cached([question, *quoted]))
        sims = vectors[1:] @ vectors[0]
        for index in sorted({i for i, _ in quotes}):
            own = [(q, float(sim)) for (i, q), sim in zip(quotes, sims, strict=True) if i == index]
            text = " ".join(q.text for q, _ in own)
            found = (
                key_terms(text)
                | key_terms(passages[index].item_label)
                | {f"<{t}>" for t in types if satisfies(t, text, question)}
            )
            focus = focus_weights(weights, types, passages[index])
            cover = coverage(focus, found, set())
            unit = tuple(q for q, _ in own)
            similarity = max(sim for _, sim in own)
            candidate = Candidate(index, unit, similarity, cover, 0.0)
            if answers(question, candidate):
                return True
        return False

    def rank(self, question: str, pool: list[Passage]) -> list[Candidate]:
        """Every candidate scored, best first."""
        units = [(i, unit, group) for i, p in enumerate(pool) for unit, group in passage_units(p)]
        if not units:
            return []
        texts = [" ".join(s.text for s in unit) for _, unit, _ in units]
        asked, vectors = unit_vectors(self.embedder, question, [unit for _, unit, _ in units])
        sims = vectors @ asked
        weights = term_weights(key_terms(question), texts)
        types = question_types(question)
        focus = [focus_weights(weights, types, p) for p in pool]
        headings = [key_terms(p.item_label) for p in pool]
        top_score = max(p.score for p in pool) or 1.0
        candidates = []
        for (i, unit, context), text, sim in zip(units, texts, sims, strict=True):
            found = (
                key_terms(text)
                | headings[i]
                | {f"<{t}>" for t in types if satisfies(t, text, question)}
            )
            cover = coverage(focus[i], found, key_terms(context))
            fit = type_fit(types, text, question)
            relevance = pool[i].score / top_score
            score = 0.4 * float(sim) + 0.3 * cover + 0.15 * fit + 0.15 * relevance
            score *= PAIR_PENALTY ** (len(unit) - 1)
            candidates.append(Candidate(i, unit, float(sim), cover, score))
        return sorted(candidates, key=lambda c: c.score, reverse=True)


def extractive_backend(settings: Settings, embedder: Embedder | None = None) -> ExtractiveBackend:
    """The extractive backend on ``embedder`` (the retriever's, so the model loads once), or on
    the embedder ``settings`` name."""
    if embedder is None:
        from index.embed import Embedder

        embedder = Embedder(settings.embed_model, settings.embed_batch_size)
    return ExtractiveBackend(embedder)


def unit_vectors(
    embedder: Embedder, question: str, units: list[tuple[Sentence, ...]]
) -> tuple[np.ndarray, np.ndarray]:
    """The question's vector and one per unit. Only single sentences are encoded: a unit of
    several is the normalised mean of its sentences' vectors (MiniLM pools by mean, so this is
    close to encoding the joined text, and halves the encoding an answer waits for)."""
    sentences = list(dict.fromkeys(s.text for unit in units for s in unit))
    vectors = np.array(embedder.embed_cached([question, *sentences]))
    row = {text: i for i, text in enumerate(sentences, start=1)}
    pooled = np.array([vectors[[row[s.text] for s in unit]].mean(axis=0) for unit in units])
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return vectors[0], pooled / np.maximum(norms, 1e-9)


def key_sentences(passage: Passage, embedder: Embedder, limit: int) -> list[Sentence]:
    """An item's key sentences in text order: agreements and requests first, then those
    closest in meaning to the item as a whole; one more for every few sentences it has.
    Whole sentences are preferred to fragments of lines; lead-ins ("... to:") are left out."""
    usable = [
        s
        for s in passage_sentences(passage)
        if len(s.text.split()) >= MIN_BULLET_WORDS and not s.text.endswith(":")
    ]
    sentences = [s for s in usable if s.text.endswith((".", "!", "?"))] or usable
    if not sentences:
        return []
    vectors = np.array(embedder.embed([s.text for s in sentences]))
    centrality = vectors @ vectors.mean(axis=0)
    scores = [
        float(c)
        + AGREEMENT_WEIGHT * bool(AGREEMENT.search(s.text))
        + REQUEST_WEIGHT * bool(REQUEST.search(s.text))
        for s, c in zip(sentences, centrality, strict=True)
    ]
    count = min(limit, 1 + (len(sentences) - 1) // SENTENCES_PER_BULLET)
    best = sorted(range(len(sentences)), key=scores.__getitem__, reverse=True)[:count]
    return [sentences[i] for i in sorted(best)]


def other_agreements(question: str, best: Candidate, ranked: list[Candidate]) -> list[Candidate]:
    """For "what did we agree", every other agreement recorded under the same item: an
    item often records more than one ("agreed that ..."; "It was agreed to review ...")."""
    if "agreed" not in question_types(question):
        return []
    agreement = QUESTION_TYPES["agreed"][1]
    taken = set(best.sentences)
    found = []
    for candidate in ranked:
        sentence = candidate.sentences[0]
        if (
            candidate.passage == best.passage
            and len(candidate.sentences) == 1
            and sentence not in taken
            and agreement.search(sentence.text)
        ):
            found.append(candidate)
            taken.add(sentence)
    return found[: MAX_AGREEMENTS - 1]


def passage_units(passage: Passage) -> list[tuple[tuple[Sentence, ...], str]]:
    """(sentences, neighbouring text) for every candidate of a passage: each sentence, and
    each lead-in together with the list lines after it. A sentence a protective marking line
    breaks in two is one candidate of its two halves, never either half alone."""
    own_words = meeting_terms(passage)
    sentences = [s for s in passage_sentences(passage) if not key_terms(s.text) <= own_words]
    units = []
    halves = set()
    for index, sentence in enumerate(sentences):
        if index in halves:
            continue
        neighbours = sentences[max(index - 1, 0) : index] + sentences[index + 1 : index + 2]
        context = " ".join(s.text for s in neighbours)
        if index + 1 < len(sentences) and broken_by_marking(passage, *sentences[index : index + 2]):
            units.append(((sentence, sentences[index + 1]), context))
            halves.add(index + 1)
            continue
        units.append(((sentence,), context))
        listed = list_after(sentences, index)
        if listed:
            units.append(((sentence, *listed), context))
        elif index + 1 < len(sentences) and passage.item_number != HEADER_ITEM_NUMBER:
            units.append(((sentence, sentences[index + 1]), context))
    return units


def list_after(sentences: list[Sentence], index: int) -> list[Sentence]:
    """The list lines a lead-in introduces: it ends without a full stop (or with a colon) and
    the lines after it start in lower case or with a bullet."""
    if sentences[index].text.rstrip().endswith((".", "!", "?")):
        return []
    listed = []
    for line in sentences[index + 1 : index + 1 + MAX_FOLLOWING_LINES]:
        if not re.match(r"^(?:[-•*]\s*)?[a-z]", line.text):
            break
        listed.append(line)
    return listed


def focus_weights(
    weights: dict[str, float], types: list[str], passage: Passage
) -> dict[str, float]:
    """The question's term weights less the meeting's own words, plus one pseudo-term per
    answer form the question asks for ("<where>" is present in a sentence naming a place)."""
    focus = {t: w for t, w in weights.items() if t not in meeting_terms(passage)}
    top = max(focus.values(), default=1.0)
    focus.update({f"<{t}>": top for t in types if t in ANSWER_FORMS})
    return focus


def missing_figures(question: str, passage: Passage) -> set[str]:
    """Numbers and years the question names that the answering item (and its meeting's date)
    does not hold: "how many ... in 2024" is not answered by an item that never says 2024."""
    asked = {t for t in key_terms(question) if t[0].isdigit()}
    return asked - key_terms(passage.text) - meeting_terms(passage)


def type_fit(types: list[str], text: str, question: str) -> float:
    """Share of the question's types this sentence satisfies (0.5 when the type is open)."""
    if not types:
        return 0.5
    return sum(satisfies(t, text, question) for t in types) / len(types)


def satisfies(kind: str, text: str, question: str) -> bool:
    """Whether ``text`` holds what a question of this kind asks for. A number repeated from
    the question ("how many 999 calls") does not answer "how many"."""
    if kind == "how many":
        return counts_something_asked(text, question)
    return bool(QUESTION_TYPES[kind][1].search(text))


def counts_something_asked(text: str, question: str) -> bool:
    """A number (or number word) within a few words of something the question asks about,
    and not merely repeated from the question ("how many 999 calls" is not answered by
    "answering 999 calls")."""
    asked_numbers = set(NUMBER.findall(question))
    wanted = {t for t in key_terms(question) if not t[0].isdigit()}
    words = re.findall(r"£?\d[\d,]*(?:\.\d+)?%?|[A-Za-z][\w'-]*", text)
    for index, word in enumerate(words):
        is_number = word[0].isdigit() or word[0] == "£"
        if is_number and word in asked_numbers:
            continue
        if is_number or re.fullmatch(_NUMBER_WORDS, word, re.I):
            nearby = words[max(index - NEAR_WORDS, 0) : index + NEAR_WORDS + 1]
            if wanted & key_terms(" ".join(nearby)):
                return True
    return False


def answers(question: str, best: Candidate) -> bool:
    """The abstention gate: what the type demands, and enough closeness in meaning and
    focus. The weight and floor are calibrated on the dev split of the labelled facts by
    ``python -m eval.abstention_calibration``, counting a wrong answer twice as costly as an
    abstention: an invented answer is worse than none."""
    types = question_types(question)
    needed = [t for t in ("how many", "when") if t in types]
    if any(not satisfies(t, best.text, question) for t in needed):
        return False
    support = (
        GATE_SIMILARITY_WEIGHT * best.similarity + (1 - GATE_SIMILARITY_WEIGHT) * best.coverage
    )
    return support >= GATE_FLOOR
