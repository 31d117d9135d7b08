"""Topic watch: the topics an office follows, and a digest of the agenda items that raise them.

After each ingest the shells (CLI, app, API) call :func:`record_new_meetings` with the meetings
the ingest added or changed. For every watched topic, hybrid retrieval runs over those meetings
only (and the topic's kind, if it has one); a retrieved item matches when one of its sentences
is at least ``MATCH_THRESHOLD`` close in meaning to the topic (cosine of the bundled MiniLM
embeddings). The sentences at or above the threshold are quoted, with citations, in the digest
entry. An entry is keyed by topic, meeting and item and is written once: re-ingesting a file,
or a later change to it, never reports the same item on the same topic again.

The threshold was calibrated with ``python -m eval.watch_calibration`` on the labelled facts'
dev split: each labelled gold item's heading words stand in for a topic, the gold item is a
match and the other items of its meeting are not; 0.45 had the best F1 on dev (see the
README's "Topic watch" for the figures).

State lives in ``watch.json`` in the index directory, replaced atomically (written to a
temporary file, then renamed) under a file lock, so concurrent writers never lose an update.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from core.errors import IndexStoreError, NotFoundError, UsageError
from index.chunk import HEADER_ITEM_NUMBER
from index.models import Meeting
from rag.answer import quote_citation
from rag.briefing.models import Briefing, Bullet, Section
from rag.models import Citation, Filters, Passage
from rag.retrieve import HybridRetriever
from rag.text import Sentence, passage_sentences

MATCH_THRESHOLD = 0.45  # calibrated: see the module docstring and eval/watch_calibration.py
WATCH_TOP_K = 10  # items retrieved per topic from the new meetings
MAX_QUOTES = 3  # sentences quoted per digest entry
WATCH_FILE = "watch.json"


class WatchTopic(BaseModel):
    id: str = Field(description="Short stable id, used to remove the topic.")
    topic: str = Field(description="The words watched for, e.g. 'knife crime'.")
    kind: str | None = Field(None, description="Only meetings of this kind, or any kind.")
    added: str = Field(description="When the topic was added (ISO date and time, UTC).")


class DigestEntry(BaseModel):
    """One agenda item of a newly ingested meeting that raised a watched topic."""

    topic_id: str
    topic: str
    meeting_id: str
    meeting: str = Field(description="Meeting title.")
    date: str = Field(description="Meeting date, ISO YYYY-MM-DD, or '' when unknown.")
    item: str = Field(description="Item number and heading.")
    score: float = Field(description="Closeness in meaning of the best sentence to the topic.")
    found: str = Field(description="When the ingest found it (ISO date and time, UTC).")
    quotes: list[Citation] = Field(description="The matching sentences, verbatim and cited.")

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.topic_id, self.meeting_id, self.item)


class WatchState(BaseModel):
    topics: list[WatchTopic] = Field(default_factory=list)
    entries: list[DigestEntry] = Field(default_factory=list)


class Watchlist:
    """The watch state of one index directory."""

    def __init__(self, index_path: Path) -> None:
        self.path = Path(index_path) / WATCH_FILE

    def state(self) -> WatchState:
        if not self.path.exists():
            return WatchState()
        try:
            return WatchState.model_validate_json(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexStoreError(f"{self.path}: cannot read the watch list ({exc})") from None

    def topics(self) -> list[WatchTopic]:
        return self.state().topics

    def entries(self, since: str | None = None) -> list[DigestEntry]:
        """Digest entries found on or after ``since`` (ISO date), oldest first."""
        return [e for e in self.state().entries if not since or e.found[:10] >= since]

    def add(self, topic: str, kind: str | None = None) -> WatchTopic:
        words = " ".join(topic.split())
        if not words:
            raise UsageError("a watched topic needs some words")
        kind = " ".join(kind.split()) if kind else None
        added = WatchTopic(id=topic_id(words, kind), topic=words, kind=kind, added=now())
        with self.updating() as state:
            if any(t.id == added.id for t in state.topics):
                raise UsageError(f"already watching {words!r} (id {added.id})")
            state.topics.append(added)
        return added

    def remove(self, key: str) -> WatchTopic:
        """Stop watching a topic, named by id or by its exact words; its entries stay."""
        with self.updating() as state:
            found = [t for t in state.topics if key in (t.id, t.topic)]
            if len(found) != 1:
                raise NotFoundError(f"no single watched topic is {key!r}; `quorum watch list`")
            state.topics.remove(found[0])
        return found[0]

    def record(self, entries: list[DigestEntry]) -> list[DigestEntry]:
        """Keep the entries not reported before; return them."""
        with self.updating() as state:
            seen = {e.key for e in state.entries}
            fresh = []
            for entry in entries:
                if entry.key not in seen:
                    seen.add(entry.key)
                    fresh.append(entry)
            state.entries.extend(fresh)
        return fresh

    @contextmanager
    def updating(self) -> Iterator[WatchState]:
        """The state to change in place, written back atomically under an exclusive lock."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self.state()
            yield state
            write_atomically(self.path, state.model_dump_json(indent=1))


def write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def topic_id(topic: str, kind: str | None) -> str:
    return hashlib.sha1(f"{topic.lower()}\0{(kind or '').lower()}".encode()).hexdigest()[:8]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def record_new_meetings(
    watchlist: Watchlist, retriever: HybridRetriever, meeting_ids: list[str]
) -> list[DigestEntry]:
    """Match every watched topic against the given (newly ingested) meetings and record the
    items not reported before; returns those new digest entries."""
    topics = watchlist.topics()
    if not topics or not meeting_ids:
        return []
    found = []
    for topic in topics:
        found += topic_matches(retriever, topic, meeting_ids)
    return watchlist.record(found)


def topic_matches(
    retriever: HybridRetriever, topic: WatchTopic, meeting_ids: list[str]
) -> list[DigestEntry]:
    """Digest entries for the items of these meetings that raise ``topic``."""
    filters = Filters(meeting_ids=meeting_ids, kinds=[topic.kind] if topic.kind else [])
    passages = retriever.retrieve(topic.topic, filters, top_k=WATCH_TOP_K).passages
    found = now()
    entries = []
    for passage in passages:
        if passage.item_number == HEADER_ITEM_NUMBER:
            continue  # the header block lists who attended, not what was discussed
        quotes = matching_sentences(retriever, topic.topic, passage)
        if quotes:
            entries.append(digest_entry(topic, passage, quotes, found))
    return sorted(entries, key=lambda e: (e.date, e.meeting_id, e.quotes[0].start))


def matching_sentences(
    retriever: HybridRetriever, topic: str, passage: Passage
) -> list[tuple[Sentence, float]]:
    """The item's sentences at least ``MATCH_THRESHOLD`` close to the topic, best first."""
    return [
        pair for pair in sentence_scores(retriever, topic, passage) if pair[1] >= MATCH_THRESHOLD
    ][:MAX_QUOTES]


def sentence_scores(
    retriever: HybridRetriever, topic: str, passage: Passage
) -> list[tuple[Sentence, float]]:
    """Each sentence of the item with its cosine to the topic, best first."""
    sentences = passage_sentences(passage)
    if not sentences:
        return []
    embedder = retriever.embedder
    wanted = embedder.embed_cached([topic])[0]
    vectors = embedder.embed_cached([s.text for s in sentences])
    scored = [
        (s, sum(a * b for a, b in zip(wanted, v, strict=True)))
        for s, v in zip(sentences, vectors, strict=True)
    ]
    return sorted(scored, key=lambda pair: pair[1], reverse=True)


def digest_entry(
    topic: WatchTopic, passage: Passage, quotes: list[tuple[Sentence, float]], found: str
) -> DigestEntry:
    in_order = sorted(quotes, key=lambda pair: pair[0].start)
    return DigestEntry(
        topic_id=topic.id,
        topic=topic.topic,
        meeting_id=passage.meeting_id,
        meeting=passage.title,
        date=passage.date,
        item=passage.item_label,
        score=round(quotes[0][1], 3),
        found=found,
        quotes=[quote_citation(n, passage, s) for n, (s, _) in enumerate(in_order, start=1)],
    )


def new_meeting_ids(results: list) -> list[str]:
    """The meetings an ingest report's results added or changed."""
    return [r.meeting_id for r in results if r.status in ("added", "updated") and r.meeting_id]


def digest_briefing(entries: list[DigestEntry], title: str = "Watch digest") -> Briefing:
    """The digest as a briefing, so it renders like every briefing (Markdown, Word): one
    section per topic and item, each matching sentence quoted and numbered."""
    citations: list[Citation] = []
    sections = []
    for entry in entries:
        bullets = []
        for quote in entry.quotes:
            cited = quote.model_copy(update={"n": len(citations) + 1})
            citations.append(cited)
            bullets.append(Bullet(text=f"“{quote.quote}” [{cited.n}]"))
        heading = f"{entry.topic}: {entry.meeting} — {entry.date or 'date unknown'} — {entry.item}"
        sections.append(Section(heading=heading, bullets=bullets))
    return Briefing(
        title=title,
        kind="digest",
        sections=sections,
        citations=citations,
        backend="none (verbatim quotes)",
    )


def meetings_matching(meetings: list[Meeting], since: str) -> list[str]:
    """Ids of the dated meetings held on or after ``since``."""
    return [m.id for m in meetings if m.date and m.date >= since]
