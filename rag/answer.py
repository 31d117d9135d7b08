"""Answering: retrieve, let a backend draft, verify every sentence, cite or abstain.

The backend only drafts. What reaches the user is what :mod:`rag.verify` could tie to a
retrieved passage, quoted verbatim with offsets; when nothing survives, the answer abstains
in one plain sentence and lists the meetings searched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property

from core.settings import Settings
from index.embed import Embedder
from index.models import Meeting
from rag.extractive import ExtractiveBackend
from rag.models import Answer, Citation, Filters, Passage, SearchedMeeting
from rag.prompts import load_prompt, render_prompt
from rag.retrieve import HybridRetriever, Retrieval
from rag.text import normalise, passage_sentences
from rag.tokens import count_tokens
from rag.verify import Checked, Verifier

ABSTAIN = "The minutes searched do not record an answer to this question."
MAX_SEARCHED_LISTED = 25
MAX_LLM_PASSAGES = 3
TokenSink = Callable[[str], None]


class AnswerEngine:
    """One engine per index and backend; models load lazily and once."""

    def __init__(
        self,
        settings: Settings,
        retriever: HybridRetriever | None = None,
        llm: object | None = None,
    ) -> None:
        self.settings = settings
        self.retriever = retriever or HybridRetriever(settings)
        self._llm = llm

    @property
    def embedder(self) -> Embedder:
        return self.retriever.embedder

    @cached_property
    def llm(self):
        """The generation backend for every setting but ``extractive`` (which has none)."""
        if self._llm is None:
            from rag.llm import make_llm

            self._llm = make_llm(self.settings, abstain=ABSTAIN)
        return self._llm

    @cached_property
    def extractive(self) -> ExtractiveBackend:
        return ExtractiveBackend(self.embedder)

    @cached_property
    def verifier(self) -> Verifier:
        return Verifier(self.embedder)

    @property
    def backend_name(self) -> str:
        return "extractive" if self.settings.llm == "extractive" else self.llm.name

    def warm_up(self) -> None:
        self.retriever.warm_up()
        if self.settings.llm != "extractive":
            self.llm.warm_up()

    def ask(
        self, question: str, filters: Filters | None = None, on_token: TokenSink | None = None
    ) -> Answer:
        """A verified, cited answer to ``question`` (or a plain abstention)."""
        question = question.strip()
        timings: dict[str, float] = {}
        started = time.perf_counter()
        retrieval = self.retriever.retrieve(question, filters)
        timings["retrieve"] = time.perf_counter() - started
        draft = self._draft(question, retrieval.passages, on_token, timings)
        mark = time.perf_counter()
        checked = self._verify(draft, retrieval.passages)
        timings["verify"] = time.perf_counter() - mark
        timings["total"] = time.perf_counter() - started
        return build_answer(question, retrieval, checked, self.backend_name, timings, self.meetings)

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
        mark = time.perf_counter()
        if not passages:
            draft = ""
        elif self.settings.llm == "extractive":
            draft = self.extractive.answer(question, passages)
        else:
            draft = self._generate(question, passages, on_token, timings)
        timings["draft"] = time.perf_counter() - mark
        return draft

    def _generate(
        self,
        question: str,
        passages: list[Passage],
        on_token: TokenSink | None,
        timings: dict[str, float],
    ) -> str:
        messages = [
            {"role": "system", "content": load_prompt("answer_system")},
            {"role": "user", "content": self.user_prompt(question, passages)},
        ]
        start, parts = time.perf_counter(), []
        for delta in self.llm.stream(messages, max_tokens=self.settings.max_tokens):
            if not parts:
                timings["first_token"] = time.perf_counter() - start
            parts.append(delta)
            if on_token:
                on_token(delta)
        draft = "".join(parts).strip()
        return "" if normalise(ABSTAIN) in normalise(draft) else draft

    def user_prompt(self, question: str, passages: list[Passage]) -> str:
        blocks = passage_blocks(passages, self.settings.context_tokens)
        return render_prompt(
            "answer_user", passages="\n\n".join(blocks), question=question, abstain=ABSTAIN
        )

    def _verify(self, draft: str, passages: list[Passage]) -> list[Checked]:
        if not draft.strip():
            return []
        return self.verifier.check(draft, passages, self.meetings)


def passage_blocks(passages: list[Passage], budget: int) -> list[str]:
    """Numbered passages for the model, whole items while they fit, else their matched parts.

    Small local models lose the thread in long prompts (and prompt processing dominates
    latency on a CPU), so the model sees the best few items, none taking over half the budget.

    Sentences that read like instructions to a model are left out: minutes are data.
    """
    blocks, used = [], count_tokens(load_prompt("answer_user"))
    share = budget // 2
    for number, passage in enumerate(passages[:MAX_LLM_PASSAGES], start=1):
        body = model_view(passage, min(share, max(budget - used, 0)))
        if not body:
            break
        block = f"[{number}] {passage.header}\n{body}"
        used += count_tokens(block)
        blocks.append(block)
    return blocks


def model_view(passage: Passage, budget: int) -> str:
    """The passage text the model reads: the item, or its best-matching parts, within budget."""
    sentences = passage_sentences(passage)
    matched = [s for s in sentences if any(a <= s.start < b for a, b in passage.spans[:1])]
    chosen, used = [], 0
    for sentence in matched + [s for s in sentences if s not in matched]:
        cost = count_tokens(sentence.text) + 1
        if used + cost > budget:
            continue
        chosen.append(sentence)
        used += cost
    return " ".join(s.text for s in sorted(chosen, key=lambda s: s.start))


def build_answer(
    question: str,
    retrieval: Retrieval,
    checked: list[Checked],
    backend: str,
    timings: dict[str, float],
    meetings: dict[str, Meeting],
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
    quote = item.evidence.quote
    return Citation(
        n=n,
        meeting=passage.title,
        date=passage.date,
        item=passage.item_label,
        source=passage.source,
        quote=quote.text,
        start=quote.start,
        end=quote.end,
    )


def searched_meetings(retrieval: Retrieval) -> list[SearchedMeeting]:
    """The meetings in scope, or — for a large archive — those whose items were examined."""
    if len(retrieval.scope) <= MAX_SEARCHED_LISTED:
        pool = retrieval.scope
    else:
        wanted = {p.meeting_id for p in retrieval.passages}
        pool = [m for m in retrieval.scope if m.id in wanted]
    return [SearchedMeeting(meeting=m.title, date=m.date or "") for m in pool]
