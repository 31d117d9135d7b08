"""Hybrid retrieval: dense (Chroma) and BM25 fused by weighted reciprocal rank, small-to-big.

Built from llama-index parts: a VectorStoreIndex over the ChromaVectorStore, a BM25 retriever
over the catalogue's terms (index/bm25.py), and QueryFusionRetriever — extended because its
reciprocal-rank mode ignores retriever weights and keys nodes by content hash. Here ranks fuse
by node id with weights that favour the lexical side (questions name bodies, people and dates;
BM25 ranked the right meeting first far more often than MiniLM alone on these minutes).

Clearance: a retriever serves one clearance (``settings.clearance``). Items marked above it
are filtered out inside the Chroma query and the BM25 weight mask alike, and the meetings it
hands out (to answers, briefings, the register, the meetings view) have those items withheld
(:func:`index.markings.visible_part`). :meth:`HybridRetriever.cleared` gives the same index
at another clearance (one per signed-in user's level in the web app).

Never blocked: reading the catalogue never waits on an ingest (SQLite WAL), and BM25's terms
commit with their meeting, so each read sees the last commit whole. Chunks still waiting for
the second vector pass (:mod:`index.vectors`) are found by BM25 and by their static vectors (a
third, dense retriever with the dense weight, in the static embedder's own space) until
MiniLM's land.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from core.errors import NotFoundError
from core.markings import HIGHEST, clearance_level
from core.settings import Settings
from index.bm25 import LexicalIndex, lexical_retriever
from index.chunk import HEADER_ITEM_HEADING, HEADER_ITEM_NUMBER, item_label
from index.embed import Embedder, StaticEmbedder
from index.markings import item_marking, visible_meetings, visible_part
from index.models import Meeting
from index.store import IndexStore
from rag.filters import ArchiveTerms, in_scope, understand
from rag.models import Filters, Passage

RRF_K = 60.0
DENSE_WEIGHT, LEXICAL_WEIGHT = 0.4, 0.6


@dataclass
class Retrieval:
    """What a search looked at and what it found, best passage first."""

    question: str
    filters: Filters
    scope: list[Meeting]
    passages: list[Passage] = field(default_factory=list)


def make_fusion_retriever(retrievers: list[Any], weights: list[float], top_k: int) -> Any:
    """A QueryFusionRetriever whose reciprocal-rank fusion honours weights and node ids."""
    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import QueryFusionRetriever

    class WeightedRankFusion(QueryFusionRetriever):
        def _reciprocal_rerank_fusion(self, results: dict) -> list:
            fused: dict[str, float] = {}
            nodes: dict[str, Any] = {}
            for (_, index), hits in results.items():
                weight = self._retriever_weights[index]
                ranked = sorted(hits, key=lambda hit: hit.score or 0.0, reverse=True)
                for rank, hit in enumerate(ranked):
                    fused[hit.node.node_id] = fused.get(hit.node.node_id, 0.0) + weight / (
                        rank + RRF_K
                    )
                    nodes.setdefault(hit.node.node_id, hit)
            order = sorted(fused, key=fused.__getitem__, reverse=True)
            for node_id in order:
                nodes[node_id].score = fused[node_id]
            return [nodes[node_id] for node_id in order]

    return WeightedRankFusion(
        retrievers,
        llm=MockLLM(),
        mode="reciprocal_rerank",
        similarity_top_k=top_k,
        num_queries=1,
        use_async=False,
        retriever_weights=weights,
    )


class HybridRetriever:
    """Turns a question (plus optional explicit filters) into scored agenda-item passages."""

    def __init__(
        self,
        settings: Settings,
        store: IndexStore | None = None,
        embedder: Embedder | None = None,
        lexical: LexicalIndex | None = None,
    ) -> None:
        self.settings = settings
        self.store = store or IndexStore(settings)
        self.embedder = embedder or Embedder(settings.embed_model, settings.embed_batch_size)
        self.level = clearance_level(settings.clearance)
        self._lock = threading.Lock()
        self._generation = -1
        self._vector_generation = -1
        self._pending = False
        self._meetings: dict[str, Meeting] = {}
        self._terms = ArchiveTerms.of([])
        self._chunk_ids: set[str] = set()
        self._bm25 = lexical or LexicalIndex()

    def cleared(self, clearance: str) -> HybridRetriever:
        """This index seen at another clearance (sharing the store, the loaded embedder and
        the BM25 postings in memory)."""
        if clearance == self.settings.clearance:
            return self
        return HybridRetriever(
            self.settings.with_overrides(clearance=clearance), self.store, self.embedder, self._bm25
        )

    def warm_up(self) -> None:
        """Load the embedder, the catalogue and BM25 now instead of on the first question."""
        self.embedder.warm_up()
        self._refresh()

    @cached_property
    def _vector_index(self) -> Any:
        return vector_index(self.store.vector_store, self.embedder)

    @cached_property
    def _static_index(self) -> Any:
        """Static vectors of chunks the second pass has not reached, queried in their space."""
        static = StaticEmbedder(self.embedder, self.settings.model_dir)
        return vector_index(self.store.static_vector_store, static)

    def meetings(self) -> list[Meeting]:
        """Every meeting this clearance may see, oldest first, with items above it withheld
        (cached until the index changes)."""
        self._refresh()
        return list(self._meetings.values())

    def meeting(self, meeting_id: str) -> Meeting:
        self._refresh()
        if meeting_id in self._meetings:
            return self._meetings[meeting_id]
        visible = visible_part(self.store.catalog.meeting(meeting_id), self.level)
        if visible is None:
            raise NotFoundError(f"no meeting with id {meeting_id!r} in the index")
        return visible

    def _refresh(self) -> None:
        """Reload catalogue-derived state when another process or an upload changed the index."""
        with self._lock:
            generation = self.store.catalog.generation
            vectors = self.store.catalog.vector_generation
            if self._generation >= 0 and (generation, vectors) != (
                self._generation,
                self._vector_generation,
            ):  # changed since loaded, perhaps by another process or the second vector pass
                self.store.reopen_vectors()
                self.__dict__.pop("_vector_index", None)
                self.__dict__.pop("_static_index", None)
            if (generation, vectors) != (self._generation, self._vector_generation):
                self._pending = self.store.catalog.pending_count() > 0
            self._vector_generation = vectors
            if generation != self._generation:
                everything = self.store.catalog.meetings()
                visible = visible_meetings(everything, self.settings.clearance)
                self._meetings = {m.id: m for m in visible}
                self._terms = ArchiveTerms.of(visible)
                self._chunk_ids = self.store.catalog.chunk_ids()
                self.store.ensure_bm25()
                self._bm25.sync(self.store.catalog.db)
                self._generation = generation

    def retrieve(
        self, question: str, filters: Filters | None = None, top_k: int | None = None
    ) -> Retrieval:
        """Passages for ``question``: the question's own filters, narrowed by explicit ones."""
        meetings = self.meetings()
        understood = understand(question, meetings, self._terms)
        merged = merge_filters(understood, filters)
        scope = [m for m in meetings if in_scope(m, merged)]
        if not scope and merged.kinds and not (filters and filters.kinds):
            merged = relax_kinds(merged)
            scope = [m for m in meetings if in_scope(m, merged)]
        retrieval = Retrieval(question, merged, scope)
        if not scope or not self._bm25.size:
            return retrieval
        hits = self._fused_hits(question, merged, {m.id for m in scope})
        retrieval.passages = self._to_passages(hits, merged)[: top_k or self.settings.top_k]
        return retrieval

    def _fused_hits(self, question: str, filters: Filters, scope_ids: set[str]) -> list[Any]:
        every_meeting = filters.is_empty
        every_marking = self.level >= HIGHEST
        where = vector_filter(None if every_meeting else scope_ids, self.level)
        retrievers = [
            self._vector_index.as_retriever(
                similarity_top_k=self.settings.candidates, filters=where
            )
        ]
        weights = [DENSE_WEIGHT, LEXICAL_WEIGHT]
        if self._pending:
            static = self._static_index.as_retriever(
                similarity_top_k=self.settings.candidates, filters=where
            )
            retrievers.append(own_query_embedding(static))
            weights.append(DENSE_WEIGHT)
        with self._lock:
            lexical = lexical_retriever(
                self._bm25,
                self.settings.candidates,
                None if every_meeting and every_marking else self._bm25_mask(scope_ids),
            )
            retrievers.insert(1, lexical)
            fusion = make_fusion_retriever(retrievers, weights, self.settings.candidates * 2)
            hits = fusion.retrieve(question)
        return [h for h in hits if h.node.node_id in self._chunk_ids and self._visible(h)]

    def _bm25_mask(self, scope_ids: set[str]) -> Any:
        """True for the chunks in scope at or below this clearance."""
        return self._bm25.allowed(scope_ids, self.level)

    def _visible(self, hit: Any) -> bool:
        """Whether a hit's item is one this clearance may see (a second check behind the
        filters, against the catalogue's own markings)."""
        meeting = self._meetings.get(hit.node.metadata["meeting_id"])
        number = hit.node.metadata["item_number"]
        return meeting is not None and (number == HEADER_ITEM_NUMBER or bool(meeting.item(number)))

    def _to_passages(self, hits: list[Any], filters: Filters) -> list[Passage]:
        """Small-to-big: a hit on part of an item hands back the whole item.

        An item scores as its best chunk: summing chunk scores let long items outrank the
        item a question names (hit@1 on the labelled facts: 0.46 summed, 0.94 best-chunk).
        """
        grouped: dict[tuple[str, str], Passage] = {}
        for hit in hits:
            meta = hit.node.metadata
            key = (meta["meeting_id"], meta["item_number"])
            if key not in grouped:
                meeting = self._meetings[meta["meeting_id"]]
                grouped[key] = whole_item(meeting, meta["item_number"])
                grouped[key].score = 0.0
            passage = grouped[key]
            passage.score = max(passage.score, hit.score)
            passage.spans.append((int(meta["start"]), int(meta["end"])))
        passages = list(grouped.values())
        for passage in passages:
            passage.score *= people_boost(passage, self._meetings[passage.meeting_id], filters)
        return sorted(passages, key=lambda p: p.score, reverse=True)


def own_query_embedding(retriever: Any) -> Any:
    """``retriever`` embedding the query itself: the fusion hands every retriever one
    QueryBundle, and the first vector retriever leaves its (MiniLM) query vector in it."""
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import QueryBundle

    class OwnQueryEmbedding(BaseRetriever):
        def _retrieve(self, query_bundle: QueryBundle) -> list:
            return retriever.retrieve(QueryBundle(query_bundle.query_str))

    return OwnQueryEmbedding()


def vector_index(vector_store: Any, embedder: Any) -> Any:
    """A llama-index VectorStoreIndex over a Chroma store, its queries embedded by ``embedder``."""
    from llama_index.core import VectorStoreIndex

    from rag.tokens import use_offline_tokenizer_in_llama_index

    use_offline_tokenizer_in_llama_index()
    return VectorStoreIndex.from_vector_store(
        vector_store, embed_model=embedder.as_llama_embedding()
    )


def whole_item(meeting: Meeting, number: str) -> Passage:
    """The passage for a whole agenda item (or the header block for item "0")."""
    if number == HEADER_ITEM_NUMBER:
        start, end, heading = (
            0,
            meeting.items[0].start if meeting.items else len(meeting.text),
            (HEADER_ITEM_HEADING),
        )
    else:
        item = meeting.item(number)
        start, end, heading = item.start, item.end, item.heading
    return Passage(
        meeting_id=meeting.id,
        title=meeting.title,
        kind=meeting.kind,
        date=meeting.date or "",
        body=meeting.body or "",
        source=meeting.source,
        item_number=number,
        item_label=item_label(number, heading),
        score=0.0,
        start=start,
        end=end,
        text=meeting.text[start:end],
        marking=item_marking(meeting, number),
    )


def people_boost(passage: Passage, meeting: Meeting, filters: Filters) -> float:
    """Favour items that mention the people asked about, resolved at that meeting."""
    if not filters.people:
        return 1.0
    boost = 1.0
    for token in filters.people:
        person = meeting.person(token) or next(
            (p for p in meeting.attendees if token.lower() in p.name.lower()), None
        )
        names = {token} | ({person.name, person.initials or ""} - {""} if person else set())
        if any(re.search(rf"\b{re.escape(n)}\b", passage.text) for n in names):
            boost += 0.25
    return boost


def vector_filter(meeting_ids: set[str] | None, level: int) -> Any:
    """The Chroma ``where`` for these meetings (None: all) at or below a clearance level."""
    from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters

    conditions = []
    if meeting_ids is not None:
        conditions.append(
            MetadataFilter(key="meeting_id", value=sorted(meeting_ids), operator=FilterOperator.IN)
        )
    if level < HIGHEST:
        conditions.append(
            MetadataFilter(key="marking_level", value=level, operator=FilterOperator.LTE)
        )
    return MetadataFilters(filters=conditions) if conditions else None


def relax_kinds(filters: Filters) -> Filters:
    """A question can name two meetings ("at the Board, relative to the 28 January 2025
    1:1"): when kind and date read from it exclude each other, the date wins."""
    relaxed = filters.model_copy(deep=True)
    relaxed.notes.append(f"kind {', '.join(relaxed.kinds)} dropped: no such meeting on those dates")
    relaxed.kinds = []
    return relaxed


def merge_filters(understood: Filters, explicit: Filters | None) -> Filters:
    """Explicit filters (UI, CLI flags) win over what was read from the question."""
    if explicit is None:
        return understood
    merged = understood.model_copy(deep=True)
    for name in ("date_from", "date_to"):
        if getattr(explicit, name):
            setattr(merged, name, getattr(explicit, name))
    for name in ("kinds", "meeting_ids", "people"):
        if getattr(explicit, name):
            setattr(merged, name, list(getattr(explicit, name)))
    merged.notes += explicit.notes
    return merged
