"""The index on disk: a SQLite catalogue of meetings and chunks, vectors in Chroma, BM25 beside.

A meeting becomes visible only when its catalogue rows commit (one SQLite transaction).
Vectors are written before that commit under ids that are new for every version of a
meeting, so a failure in between leaves at most orphan vectors, which are deleted on the
spot or at the next open, and which retrieval ignores because the catalogue does not list them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from datetime import date as Date
from functools import cached_property
from pathlib import Path
from typing import Any

from core.errors import ConfigError, IndexStoreError, MissingDependencyError, NotFoundError
from core.markings import marking_level
from core.settings import Settings
from index import bm25
from index.chunk import item_label
from index.markings import item_marking, item_session
from index.models import Chunk, Meeting

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meetings (
    id TEXT PRIMARY KEY, source TEXT NOT NULL, sha256 TEXT NOT NULL, date TEXT,
    kind TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY, meeting_id TEXT NOT NULL, ord INTEGER NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_meeting ON chunks(meeting_id);
CREATE TABLE IF NOT EXISTS manifest (
    path TEXT PRIMARY KEY, sha256 TEXT NOT NULL, meeting_id TEXT NOT NULL,
    chunk_ids TEXT NOT NULL, ingested_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS manifest_sha ON manifest(sha256);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending_vectors (
    chunk_id TEXT PRIMARY KEY, meeting_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_meeting ON pending_vectors(meeting_id);
"""
    + bm25.SCHEMA
)


@contextlib.contextmanager
def file_lock(path: Path, wait: bool = True) -> Iterator[bool]:
    """An exclusive lock between processes on the file ``path`` in an index directory, held
    while the block runs; yields whether it is held (False at once with ``wait=False`` when
    another process holds it)."""
    try:
        handle = open(path, "a")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise IndexStoreError(f"{path.parent}: cannot lock the index ({exc.strerror})") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by this user only (0700): minutes may be marked."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


class Catalog:
    """Meetings, chunks and the source manifest in one SQLite file."""

    def __init__(self, path: Path) -> None:
        private_dir(path.parent)
        if not path.exists():
            path.touch(mode=0o600)
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            if os.access(path, os.W_OK):
                # Readers see the last commit while a writer works, instead of waiting on it.
                self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise IndexStoreError(f"{path}: not a Quorum index catalogue ({exc})") from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit: everything inside commits together or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def put_meeting(
        self,
        db: sqlite3.Connection,
        path: str,
        meeting: Meeting,
        chunks: list[Chunk],
        vectors_pending: bool = False,
    ) -> None:
        """Write a meeting, its chunks, their BM25 terms and its manifest entry (call inside
        a transaction); ``vectors_pending`` records that its chunks still wait for their dense
        vectors."""
        db.execute(
            "INSERT OR REPLACE INTO meetings VALUES (?,?,?,?,?,?,?)",
            (
                meeting.id,
                meeting.source,
                meeting.sha256,
                meeting.date,
                meeting.kind,
                meeting.title,
                meeting.model_dump_json(),
            ),
        )
        db.executemany(
            "INSERT INTO chunks VALUES (?,?,?,?)",
            [(c.id, meeting.id, i, c.model_dump_json()) for i, c in enumerate(chunks)],
        )
        bm25.add_docs(db, [lexical_doc(c, meeting) for c in chunks])
        db.execute(
            "INSERT OR REPLACE INTO manifest VALUES (?,?,?,?,?)",
            (path, meeting.sha256, meeting.id, json.dumps([c.id for c in chunks]), time.time()),
        )
        if vectors_pending:
            db.executemany(
                "INSERT OR REPLACE INTO pending_vectors VALUES (?,?)",
                [(c.id, meeting.id) for c in chunks],
            )
        self._bump_generation(db)

    def drop_meeting(self, db: sqlite3.Connection, meeting_id: str) -> list[str]:
        """Remove a meeting's rows (inside a transaction); returns its chunk ids."""
        ids = [
            row[0] for row in db.execute("SELECT id FROM chunks WHERE meeting_id=?", (meeting_id,))
        ]
        db.execute("DELETE FROM chunks WHERE meeting_id=?", (meeting_id,))
        db.execute("DELETE FROM meetings WHERE id=?", (meeting_id,))
        db.execute("DELETE FROM manifest WHERE meeting_id=?", (meeting_id,))
        bm25.drop_docs(db, meeting_id)
        db.execute("DELETE FROM pending_vectors WHERE meeting_id=?", (meeting_id,))
        self._bump_generation(db)
        return ids

    def _bump_generation(self, db: sqlite3.Connection) -> None:
        db.execute(
            "INSERT INTO meta VALUES ('generation', '1') ON CONFLICT(key) "
            "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    @property
    def generation(self) -> int:
        """Goes up with every change; readers compare it to know their caches are stale."""
        row = self.db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def pending_vectors(self, limit: int) -> list[Chunk]:
        """Up to ``limit`` committed chunks whose dense vectors the second pass has not added."""
        rows = self.db.execute(
            "SELECT c.body FROM pending_vectors p JOIN chunks c ON c.id = p.chunk_id "
            "ORDER BY p.rowid LIMIT ?",
            (limit,),
        )
        return [Chunk.model_validate_json(r[0]) for r in rows]

    def pending_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT chunk_id FROM pending_vectors")}

    def pending_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM pending_vectors").fetchone()[0]

    def vectors_added(self, chunk_ids: list[str]) -> None:
        """Mark chunks as holding their dense vectors and bump the vector generation (which
        tells readers in other processes to reopen Chroma); BM25 is left alone."""
        with self.transaction() as db:
            db.executemany(
                "DELETE FROM pending_vectors WHERE chunk_id=?", [(i,) for i in chunk_ids]
            )
            db.execute(
                "INSERT INTO meta VALUES ('vector_generation', '1') ON CONFLICT(key) "
                "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )

    @property
    def vector_generation(self) -> int:
        """Goes up each time the second pass adds vectors to committed chunks."""
        row = self.db.execute("SELECT value FROM meta WHERE key='vector_generation'").fetchone()
        return int(row[0]) if row else 0

    def manifest(self) -> dict[str, dict[str, Any]]:
        rows = self.db.execute(
            "SELECT path, sha256, meeting_id, chunk_ids, ingested_at FROM manifest"
        )
        return {
            r[0]: {
                "sha256": r[1],
                "meeting_id": r[2],
                "chunk_ids": json.loads(r[3]),
                "ingested_at": r[4],
            }
            for r in rows
        }

    def manifest_path_of(self, meeting_id: str) -> str | None:
        row = self.db.execute("SELECT path FROM manifest WHERE meeting_id=?", (meeting_id,))
        found = row.fetchone()
        return found[0] if found else None

    def path_for_sha(self, sha256: str) -> str | None:
        row = self.db.execute("SELECT path FROM manifest WHERE sha256=?", (sha256,)).fetchone()
        return row[0] if row else None

    def meetings(self) -> list[Meeting]:
        """Every meeting, oldest first (undated last)."""
        rows = self.db.execute("SELECT body FROM meetings ORDER BY date IS NULL, date, title")
        return [Meeting.model_validate_json(r[0]) for r in rows]

    def meetings_on(self, date: str) -> list[Meeting]:
        """The meetings held on an ISO date."""
        rows = self.db.execute("SELECT body FROM meetings WHERE date=? ORDER BY id", (date,))
        return [Meeting.model_validate_json(r[0]) for r in rows]

    def meeting(self, meeting_id: str) -> Meeting:
        row = self.db.execute("SELECT body FROM meetings WHERE id=?", (meeting_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no meeting with id {meeting_id!r} in the index")
        return Meeting.model_validate_json(row[0])

    def chunks(self, meeting_id: str | None = None) -> list[Chunk]:
        if meeting_id is None:
            rows = self.db.execute("SELECT body FROM chunks ORDER BY meeting_id, ord")
        else:
            rows = self.db.execute(
                "SELECT body FROM chunks WHERE meeting_id=? ORDER BY ord", (meeting_id,)
            )
        return [Chunk.model_validate_json(r[0]) for r in rows]

    def chunk_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT id FROM chunks")}

    def counts(self) -> tuple[int, int]:
        meetings = self.db.execute("SELECT COUNT(*) FROM meetings").fetchone()[0]
        chunks = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return meetings, chunks


def human_date(iso: str | None) -> str:
    """ "28 January 2025", so lexical search matches dates as people write them."""
    if not iso:
        return ""
    day = Date.fromisoformat(iso)
    return f"{day.day} {day:%B %Y}"


def chunk_metadata(chunk: Chunk, meeting: Meeting) -> dict[str, Any]:
    """Flat metadata stored with each vector and used for filters and citations; the item's
    marking and its rank (``marking_level``) let retrieval filter by clearance."""
    marking = item_marking(meeting, chunk.item_number)
    return {
        "meeting_id": meeting.id,
        "title": meeting.title,
        "kind": meeting.kind,
        "date": meeting.date or "",
        "date_text": human_date(meeting.date),
        "date_int": meeting.date_int,
        "item_number": chunk.item_number,
        "item_heading": chunk.item_heading,
        "item_label": item_label(chunk.item_number, chunk.item_heading),
        "part": chunk.part,
        "parts": chunk.parts,
        "marking": marking or "",
        "marking_level": marking_level(marking),
        "session": item_session(meeting, chunk.item_number),
        "source": meeting.source,
        "start": chunk.start,
        "end": chunk.end,
    }


EMBED_METADATA_KEYS = ("title", "kind", "date_text", "item_label")


def chunk_to_node(chunk: Chunk, meeting: Meeting, vector: list[float] | None = None) -> Any:
    """A llama-index TextNode for a chunk; only title, kind, date and item reach the embed text."""
    from llama_index.core.schema import TextNode

    metadata = chunk_metadata(chunk, meeting)
    return TextNode(
        id_=chunk.id,
        text=chunk.text,
        metadata=metadata,
        embedding=vector,
        excluded_embed_metadata_keys=[k for k in metadata if k not in EMBED_METADATA_KEYS],
        excluded_llm_metadata_keys=list(metadata),
    )


def lexical_doc(chunk: Chunk, meeting: Meeting) -> bm25.LexicalDoc:
    """What BM25 indexes of a chunk: the text the embedder reads (title, kind, date and item
    heading included), and the metadata its hits carry."""
    from llama_index.core.schema import MetadataMode

    node = chunk_to_node(chunk, meeting)
    return bm25.LexicalDoc(
        chunk_id=chunk.id,
        meeting_id=meeting.id,
        marking_level=node.metadata["marking_level"],
        text=node.get_content(metadata_mode=MetadataMode.EMBED),
        metadata=node.metadata,
    )


def open_chroma_collection(settings: Settings, name: str | None = None) -> Any:
    """A Chroma collection of this index (default: ``settings.collection``), embedded on
    disk or on a Chroma server."""
    try:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
    except ImportError:
        raise MissingDependencyError("chromadb", "The vector store") from None
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if settings.store == "server":
            client = chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
        else:
            client = chromadb.PersistentClient(
                path=str(settings.index_path / "chroma"), settings=chroma_settings
            )
        return client.get_or_create_collection(
            name or settings.collection, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
    except ValueError as exc:
        raise ConfigError(f"Chroma collection {settings.collection!r}: {exc}") from None
    except Exception as exc:
        where = (
            f"Chroma server at {settings.chroma_host}:{settings.chroma_port}"
            if settings.store == "server"
            else f"{settings.index_path / 'chroma'}"
        )
        raise IndexStoreError(f"{where}: cannot open the vector store ({exc})") from None


class IndexStore:
    """The catalogue, the Chroma collection and the BM25 files of one index directory."""

    def __init__(self, settings: Settings, create: bool = True) -> None:
        """Open the index; ``create=False`` (read commands) refuses a missing one instead of
        silently creating an empty index where a mistyped path points."""
        self.settings = settings
        self.path = settings.index_path
        if self.path.exists() and not self.path.is_dir():
            raise IndexStoreError(f"{self.path}: is a file, not an index directory")
        if not create and not (self.path / "catalog.sqlite").is_file():
            raise NotFoundError(
                f"no index at {self.path}: run `quorum ingest PATH` first, or give its --index"
            )
        try:
            private_dir(self.path)
        except OSError as exc:
            problem = f"cannot create the index ({exc.strerror})"
            raise IndexStoreError(f"{self.path}: {problem}") from None
        self.catalog = Catalog(self.path / "catalog.sqlite")

    def check_writable(self) -> None:
        """Refuse, before any work, an index this process may not write (read-only files)."""
        catalog = self.path / "catalog.sqlite"
        if not os.access(self.path, os.W_OK) or (
            catalog.exists() and not os.access(catalog, os.W_OK)
        ):
            raise IndexStoreError(f"{self.path}: the index is read-only; ingest needs to write it")

    @cached_property
    def collection(self) -> Any:
        return open_chroma_collection(self.settings)

    @cached_property
    def vector_store(self) -> Any:
        """llama-index's ChromaVectorStore over the collection."""
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=self.collection)

    @cached_property
    def static_collection(self) -> Any:
        """Static vectors of chunks still waiting for the second pass (:mod:`index.vectors`)."""
        return open_chroma_collection(self.settings, f"{self.settings.collection}_static")

    @cached_property
    def static_vector_store(self) -> Any:
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=self.static_collection)

    def reopen_vectors(self) -> None:
        """See vectors another process committed: embedded Chroma keeps its vector segments
        in memory per process, so drop this process's cached client and open it afresh."""
        if self.settings.store == "embedded":
            from chromadb.api.client import SharedSystemClient

            SharedSystemClient.clear_system_cache()
        for name in ("collection", "vector_store", "static_collection", "static_vector_store"):
            self.__dict__.pop(name, None)

    @contextlib.contextmanager
    def write_lock(self, wait: bool = True) -> Iterator[bool]:
        """One writer at a time per index directory (CLI, app upload, tests). With
        ``wait=False`` it yields False at once, instead of waiting, when another holds it."""
        with file_lock(self.path / ".lock", wait) as held:
            yield held

    def commit_meeting(
        self,
        path: str,
        meeting: Meeting,
        chunks: list[Chunk],
        vectors: list[list[float]] | None,
        replaces: str | None = None,
        static_vectors: list[list[float]] | None = None,
    ) -> None:
        """Make a meeting visible as one unit, replacing the meeting ``replaces`` if given.
        ``vectors=None`` commits it with its ``static_vectors`` instead, its chunks recorded
        as pending for the second pass (:mod:`index.vectors`) that adds MiniLM's."""
        pending = vectors is None
        nodes = [
            chunk_to_node(c, meeting, v)
            for c, v in zip(chunks, static_vectors if pending else vectors, strict=True)
        ]
        new_ids = [c.id for c in chunks]
        old_ids: list[str] = []
        try:
            if nodes:
                (self.static_vector_store if pending else self.vector_store).add(nodes)
            with self.catalog.transaction() as db:
                for stale in {replaces, meeting.id} - {None}:
                    old_ids += self.catalog.drop_meeting(db, stale)
                self.catalog.put_meeting(db, path, meeting, chunks, vectors_pending=pending)
        except BaseException:
            self._delete_vectors(new_ids)
            raise
        self._delete_vectors([i for i in old_ids if i not in set(new_ids)])

    def add_vectors(self, chunks: list[Chunk], vectors: list[list[float]]) -> int:
        """Second pass: add dense vectors for committed chunks, then mark them done. A chunk
        whose meeting was replaced or removed meanwhile gets no vector (or loses the one just
        added); returns how many were added."""
        current = self.catalog.chunk_ids()
        kept = [(c, v) for c, v in zip(chunks, vectors, strict=True) if c.id in current]
        meetings = self._meetings_still_indexed({c.meeting_id for c, _ in kept})
        kept = [(c, v) for c, v in kept if c.meeting_id in meetings]
        nodes = [chunk_to_node(c, meetings[c.meeting_id], v) for c, v in kept]
        if nodes:
            self.vector_store.add(nodes)
        self.catalog.vectors_added([c.id for c in chunks])
        self.static_collection.delete(ids=[c.id for c in chunks])
        gone = [c.id for c, _ in kept if c.id not in self.catalog.chunk_ids()]
        self._delete_vectors(gone)
        return len(kept) - len(gone)

    def _meetings_still_indexed(self, meeting_ids: set[str]) -> dict[str, Meeting]:
        found = {}
        for meeting_id in meeting_ids:
            with contextlib.suppress(NotFoundError):
                found[meeting_id] = self.catalog.meeting(meeting_id)
        return found

    def remove_meeting(self, meeting_id: str) -> None:
        with self.catalog.transaction() as db:
            ids = self.catalog.drop_meeting(db, meeting_id)
        self._delete_vectors(ids)

    def _delete_vectors(self, ids: list[str]) -> None:
        if ids:
            self.collection.delete(ids=ids)
            self.static_collection.delete(ids=ids)

    def reconcile(self) -> int:
        """Delete vectors the catalogue does not list (left by a crash), and static vectors of
        chunks no longer pending; returns how many."""
        stored = set(self.collection.get(include=[])["ids"])
        orphans = sorted(stored - self.catalog.chunk_ids())
        self._delete_vectors(orphans)
        static = set(self.static_collection.get(include=[])["ids"])
        stale = sorted(static - self.catalog.pending_ids())
        if stale:
            self.static_collection.delete(ids=stale)
        return len(orphans) + len(stale)

    def bm25_missing(self) -> int:
        """Catalogued chunks BM25 does not hold yet (only in an index from before BM25 lived
        in the catalogue); :meth:`ensure_bm25` fills them in."""
        row = self.catalog.db.execute(
            "SELECT (SELECT COUNT(*) FROM chunks) - (SELECT COUNT(*) FROM bm25_docs)"
        ).fetchone()
        return row[0]

    def ensure_bm25(self) -> bool:
        """Give BM25 the terms of chunks catalogued without them, one meeting per commit,
        unless a writer holds the index (a reader never waits on one; the ingest does it).
        Returns whether BM25 now holds every chunk."""
        if not self.bm25_missing():
            return True
        with self.write_lock(wait=False) as held:
            if held:
                self.fill_bm25()
        return not self.bm25_missing()

    def fill_bm25(self) -> None:
        """Add the terms of every chunk BM25 lacks (the caller holds the write lock)."""
        missing = set(bm25.missing_chunk_ids(self.catalog.db))
        meeting_ids = {
            row[0] for row in self.catalog.db.execute("SELECT DISTINCT meeting_id FROM chunks")
        }
        for meeting_id in sorted(meeting_ids):
            chunks = [c for c in self.catalog.chunks(meeting_id) if c.id in missing]
            if chunks:
                meeting = self.catalog.meeting(meeting_id)
                with self.catalog.transaction() as db:
                    bm25.add_docs(db, [lexical_doc(c, meeting) for c in chunks])
        shutil.rmtree(self.path / "bm25", ignore_errors=True)  # the old whole-index files
