"""Answering: retrieve, let a backend draft, verify every sentence, cite or abstain.

The backend only drafts. What reaches the user is what :mod:`rag.verify` could tie to a
retrieved passage, quoted verbatim with offsets; when nothing survives, the answer abstains
in one plain sentence and lists the meetings searched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from functools import cached_property

from core.settings import Settings
from index.embed import Embedder
from index.models import Meeting
from rag.backends import get_backend
from rag.backends.base import Backend, TokenSink
from rag.backends.extractive import ExtractiveBackend
from rag.meeting_answer import MEETING_RECORD, Intent, lead_in, meeting_checks, whole_meeting
from rag.models import Answer, Citation, Filters, Passage, SearchedMeeting
from rag.next_meeting import (
    asks_next_meeting,
    framing,
    next_meeting_checks,
    stated_next_meeting,
)
from rag.prompts import ABSTAIN
from rag.retrieve import HybridRetriever, Retrieval
from rag.text import Sentence
from rag.verify import Checked, Verifier

MAX_SEARCHED_LISTED = 25
QuotedSink = Callable[[Answer], None]
"""Receives the provisional answer quoted from the minutes while a model drafts."""


class AnswerEngine:
    """One engine per index and backend; models load lazily and once.

    ``backend`` defaults to the one ``settings.llm`` names, built on first use.
    """

    def __init__(
        self,
        settings: Settings,
        retriever: HybridRetriever | None = None,
        backend: Backend | None = None,
    ) -> None:
        self.settings = settings
        self.retriever = retriever or HybridRetriever(settings)
        self._backend = backend

    @property
    def embedder(self) -> Embedder:
        return self.retriever.embedder

    @cached_property
    def backend(self) -> Backend:
        return self._backend or get_backend(self.settings.llm, self.settings, self.embedder)

    @cached_property
    def grounding(self) -> ExtractiveBackend:
        """The minutes' own sentences: what stands when a model's draft cannot be verified, so
        a model never makes an answer worse than having no model."""
        return ExtractiveBackend(self.embedder)

    def _can_ground(self, passages: list[Passage]) -> bool:
        return bool(passages) and not isinstance(self.backend, ExtractiveBackend)

    def _grounded(self, question: str, passages: list[Passage], checked: list[Checked]) -> bool:
        """Whether a model's verified sentences answer the question as well as stand on the
        minutes: what they quote must pass the extractive abstention gate, so a model cannot
        answer an off-topic question with true but unrelated sentences."""
        quotes = [(c.evidence.passage, c.evidence.quote) for c in checked if c.evidence]
        return self.grounding.grounds(question, passages, quotes)

    @cached_property
    def verifier(self) -> Verifier:
        return Verifier(self.embedder)

    def warm_up(self) -> None:
        self.retriever.warm_up()
        self.backend.warm_up()

    def ask(
        self,
        question: str,
        filters: Filters | None = None,
        on_token: TokenSink | None = None,
        on_quoted: QuotedSink | None = None,
    ) -> Answer:
        """A verified, cited answer to ``question`` (or a plain abstention).

        With a model backend, the minutes' own verified sentences are ready long before the
        model's draft: ``on_quoted`` receives them at once as a provisional answer (the time
        is kept as "first_cited"); they are also what stands if the model's draft fails."""
        question = question.strip()
        timings: dict[str, float] = {}
        started = time.perf_counter()
        retrieval = self.retriever.retrieve(question, filters)
        timings["retrieve"] = time.perf_counter() - started
        if answer := self._from_record(question, retrieval):
            timings["total"] = time.perf_counter() - started
            return answer.model_copy(update={"timings": timings})
        quoted = self._quoted(question, retrieval, on_quoted, timings, started)
        draft = self._draft(question, retrieval.passages, on_token, timings)
        mark = time.perf_counter()
        checked = self._verify(draft, retrieval.passages, question)
        drafted_by: Backend = self.backend
        if quoted is not None and not self._grounded(question, retrieval.passages, checked):
            drafted_by, checked = self.grounding, quoted
        timings["verify"] = time.perf_counter() - mark
        timings["total"] = time.perf_counter() - started
        answer = build_answer(question, retrieval, checked, self.backend.name, timings)
        return answer.model_copy(update={"drafted_by": drafted_by.name})

    def _from_record(self, question: str, retrieval: Retrieval) -> Answer | None:
        """The next meeting, or a whole-meeting question, answered from the typed meetings."""
        if asks_next_meeting(question) and (answer := self._next_meeting(question, retrieval)):
            return answer
        found = whole_meeting(question, retrieval)
        return self._meeting_answer(question, retrieval, *found) if found else None

    def _quoted(
        self,
        question: str,
        retrieval: Retrieval,
        on_quoted: QuotedSink | None,
        timings: dict[str, float],
        started: float,
    ) -> list[Checked] | None:
        """The extractive answer, verified, for a model backend (None for the extractive one);
        handed to ``on_quoted`` as a provisional answer when it answers."""
        if not self._can_ground(retrieval.passages):
            return None
        draft = self.grounding.draft_answer(question, retrieval.passages)
        checked = self._verify(draft, retrieval.passages, question)
        if on_quoted and any(c.evidence for c in checked):
            timings["first_cited"] = time.perf_counter() - started
            answer = build_answer(question, retrieval, checked, self.backend.name, {})
            update = {"drafted_by": self.grounding.name, "provisional": True}
            on_quoted(answer.model_copy(update=update))
        return checked

    def _meeting_answer(
        self, question: str, retrieval: Retrieval, meeting: Meeting, asked: Intent
    ) -> Answer | None:
        """A whole-meeting question answered from the typed meeting; None when the meeting
        records nothing of what was asked (the question then goes the usual way)."""
        passages, checks = meeting_checks(meeting, asked)
        if not checks:
            return None
        record = Retrieval(question, retrieval.filters, retrieval.scope, passages)
        answer = build_answer(question, record, checks, self.backend.name, {})
        text = f"{lead_in(meeting, asked)} {answer.answer}"
        return answer.model_copy(update={"answer": text, "drafted_by": MEETING_RECORD})

    def _next_meeting(self, question: str, retrieval: Retrieval) -> Answer | None:
        """The next meeting as the newest minutes in scope state it; None when none does."""
        found = stated_next_meeting(retrieval.scope)
        if found is None:
            return None
        passages, checks = next_meeting_checks(found)
        record = Retrieval(question, retrieval.filters, retrieval.scope, passages)
        answer = build_answer(question, record, checks, self.backend.name, {})
        before, after = framing(found, date.today())
        text = " ".join(part for part in (before, answer.answer, after) if part)
        return answer.model_copy(update={"answer": text, "drafted_by": MEETING_RECORD})

    @property
    def meetings(self) -> dict[str, Meeting]:
        return {m.id: m for m in self.retriever.meetings()}

    def _draft(
        self,
        question: str,
        passages: list[Passage],
        on_token: TokenSink | None,
        timings: dict[str, float],
    ) -> str:
        """The backend's draft; the time to its first streamed token is kept as "first_token"."""
        mark = time.perf_counter()

        def sink(delta: str) -> None:
            timings.setdefault("first_token", time.perf_counter() - mark)
            if on_token:
                on_token(delta)

        draft = self.backend.draft_answer(question, passages, sink) if passages else ""
        timings["draft"] = time.perf_counter() - mark
        return draft

    def _verify(self, draft: str, passages: list[Passage], question: str) -> list[Checked]:
        if not draft.strip():
            return []
        return self.verifier.check(draft, passages, self.meetings, question)


def build_answer(
    question: str,
    retrieval: Retrieval,
    checked: list[Checked],
    backend: str,
    timings: dict[str, float],
) -> Answer:
    """Number the surviving sentences' quotes as citations, or abstain."""
    citations: dict[tuple[str, int], Citation] = {}
    sentences = []
    for item in checked:
        if item.evidence is None:
            continue
        passage = retrieval.passages[item.evidence.passage]
        key = (passage.meeting_id, item.evidence.quote.start)
        if key not in citations:
            citations[key] = citation_for(len(citations) + 1, passage, item)
        sentence = item.text if item.text.endswith((".", "!", "?")) else item.text + "."
        sentences.append(f"{sentence[:-1]} [{citations[key].n}]{sentence[-1]}")
    searched = searched_meetings(retrieval)
    if not sentences:
        return Answer(
            question=question,
            answer=abstention(retrieval),
            abstained=True,
            searched=searched,
            backend=backend,
            timings=timings,
        )
    return Answer(
        question=question,
        answer=" ".join(dict.fromkeys(sentences)),
        abstained=False,
        citations=list(citations.values()),
        searched=searched,
        backend=backend,
        timings=timings,
    )


def abstention(retrieval: Retrieval) -> str:
    """The plain sentence for "not in the minutes", saying so when no meeting was in scope."""
    if retrieval.scope:
        return ABSTAIN
    how = "; ".join(retrieval.filters.notes) or "the archive is empty"
    return f"No meeting in the archive matches this question ({how})."


def citation_for(n: int, passage: Passage, item: Checked) -> Citation:
    return quote_citation(n, passage, item.evidence.quote)


def quote_citation(n: int, passage: Passage, quote: Sentence) -> Citation:
    """Citation ``n``: a verbatim quote of ``passage``, named by meeting, date and item, with
    the item's protective marking (what clearance filters read)."""
    return Citation(
        n=n,
        meeting=passage.title,
        date=passage.date,
        item=passage.item_label,
        source=passage.source,
        quote=quote.text,
        start=quote.start,
        end=quote.end,
        marking=passage.marking,
    )


def searched_meetings(retrieval: Retrieval) -> list[SearchedMeeting]:
    """The meetings in scope, or — for a large archive — those whose items were examined."""
    if len(retrieval.scope) <= MAX_SEARCHED_LISTED:
        pool = retrieval.scope
    else:
        wanted = {p.meeting_id for p in retrieval.passages}
        pool = [m for m in retrieval.scope if m.id in wanted]
    return [SearchedMeeting(meeting=m.title, date=m.date or "") for m in pool]
