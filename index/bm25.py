"""BM25 kept in the catalogue and updated by each meeting's own commit, never rebuilt whole.

Each chunk's terms (bm25s' tokenizer, as llama-index's BM25Retriever uses it: lower case,
English stopwords out, Snowball stems) are stored as term ids and counts in the SQLite
transaction that commits its meeting, so lexical search is current the moment a meeting is
visible and an ingest costs the new meeting's chunks only. Scores are Lucene's BM25 (bm25s'
default: k1 1.5, b 0.75) computed at query time from the live documents' statistics, so they
equal what a rebuild over the whole catalogue would give.

A reader (:class:`LexicalIndex`) holds the postings in flat numpy arrays and, when the
catalogue changes, reads only the rows added since it last looked and forgets removed ones:
a process serving 10,000 meetings does not reload them for each upload.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

K1, B = 1.5, 0.75
TOKEN_PATTERN = r"(?u)\b\w\w+\b"
MERGE_SHARE = 0.25  # fold unsorted new postings into the sorted ones past this share

SCHEMA = """
CREATE TABLE IF NOT EXISTS bm25_terms (id INTEGER PRIMARY KEY, term TEXT UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS bm25_docs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT UNIQUE NOT NULL,
    meeting_id TEXT NOT NULL, marking_level INTEGER NOT NULL, length INTEGER NOT NULL,
    terms BLOB NOT NULL, counts BLOB NOT NULL, metadata TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bm25_docs_meeting ON bm25_docs(meeting_id);
"""


@dataclass(frozen=True)
class LexicalDoc:
    """What BM25 needs of one chunk: the text it matches on and the metadata hits carry."""

    chunk_id: str
    meeting_id: str
    marking_level: int
    text: str
    metadata: dict[str, Any]


@cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: list[str]) -> list[list[str]]:
    """Terms per text as bm25s makes them: stopwords go before stemming, so "being" is kept
    as "be"; a query drops "be" as a stopword, as bm25s does."""
    import bm25s

    if not texts:
        return []
    return bm25s.tokenize(
        texts,
        stopwords="en",
        stemmer=_stemmer(),
        token_pattern=TOKEN_PATTERN,
        return_ids=False,
        show_progress=False,
    )


def add_docs(db: sqlite3.Connection, docs: list[LexicalDoc]) -> None:
    """Store the terms of ``docs`` (call inside the transaction that commits their meeting)."""
    tokens = tokenize([d.text for d in docs])
    ids = _term_ids(db, {t for terms in tokens for t in terms})
    rows = []
    for doc, terms in zip(docs, tokens, strict=True):
        counts = Counter(terms)
        rows.append(
            (
                doc.chunk_id,
                doc.meeting_id,
                doc.marking_level,
                len(terms),
                np.array([ids[t] for t in counts], dtype=np.int32).tobytes(),
                np.array(list(counts.values()), dtype=np.int32).tobytes(),
                json.dumps(doc.metadata),
            )
        )
    db.executemany(
        "INSERT INTO bm25_docs (chunk_id, meeting_id, marking_level, length, terms, counts, "
        "metadata) VALUES (?,?,?,?,?,?,?)",
        rows,
    )


def drop_docs(db: sqlite3.Connection, meeting_id: str) -> None:
    db.execute("DELETE FROM bm25_docs WHERE meeting_id=?", (meeting_id,))


def _term_ids(db: sqlite3.Connection, terms: set[str]) -> dict[str, int]:
    """Ids for ``terms``, adding the ones the vocabulary has not seen (ids are never reused)."""
    db.executemany("INSERT OR IGNORE INTO bm25_terms (term) VALUES (?)", [(t,) for t in terms])
    ids: dict[str, int] = {}
    ordered = sorted(terms)
    for start in range(0, len(ordered), 500):
        batch = ordered[start : start + 500]
        marks = ",".join("?" * len(batch))
        query = f"SELECT term, id FROM bm25_terms WHERE term IN ({marks})"
        ids.update(db.execute(query, batch))
    return ids


def missing_chunk_ids(db: sqlite3.Connection) -> list[str]:
    """Catalogued chunks without terms (an index written before BM25 lived in the catalogue)."""
    rows = db.execute(
        "SELECT id FROM chunks WHERE id NOT IN (SELECT chunk_id FROM bm25_docs) ORDER BY id"
    )
    return [r[0] for r in rows]


class LexicalIndex:
    """The catalogue's BM25 postings in memory, kept in step with it row by row (one per
    process, shared by threads and clearances: a lock keeps a search off a half-done sync)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.vocab: dict[str, int] = {}
        self.last_seq = 0
        self.slot_of: dict[int, int] = {}  # seq -> slot
        self.chunk_ids: list[str] = []
        self.meeting_number: dict[str, int] = {}
        self.meetings = np.zeros(0, dtype=np.int32)  # slot -> meeting number
        self.metadata: list[str] = []
        self.lengths = np.zeros(0, dtype=np.int64)
        self.levels = np.zeros(0, dtype=np.int64)
        self.alive = np.zeros(0, dtype=bool)
        # postings: sorted by term (fast ranges) plus an unsorted tail of recent additions
        self.terms = np.zeros(0, dtype=np.int32)
        self.slots = np.zeros(0, dtype=np.int32)
        self.tfs = np.zeros(0, dtype=np.int32)
        self.tail: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.tail_size = 0

    @property
    def size(self) -> int:
        """Live documents."""
        return int(self.alive.sum())

    def sync(self, db: sqlite3.Connection) -> None:
        """Read what was committed since the last sync: new documents, then removed ones.
        Each read sees the last commit (WAL), so a writer is never waited on."""
        with self.lock:
            self._sync(db)

    def _sync(self, db: sqlite3.Connection) -> None:
        rows = db.execute(
            "SELECT seq, chunk_id, meeting_id, marking_level, length, terms, counts, metadata"
            " FROM bm25_docs WHERE seq > ? ORDER BY seq",
            (self.last_seq,),
        ).fetchall()
        self._add_rows(rows)
        live = db.execute("SELECT COUNT(*) FROM bm25_docs").fetchone()[0]
        if live != self.size:
            self._forget_all_but({r[0] for r in db.execute("SELECT seq FROM bm25_docs")})
        # last, so every term id the rows above use is known (a term commits with its rows)
        self.vocab.update(
            db.execute("SELECT term, id FROM bm25_terms WHERE id > ?", (self._max_term(),))
        )

    def _max_term(self) -> int:
        return max(self.vocab.values(), default=0)

    def _add_rows(self, rows: list[tuple]) -> None:
        if not rows:
            return
        first = len(self.chunk_ids)
        terms, slots, tfs = [], [], []
        for offset, (seq, chunk_id, meeting_id, _, _, blob_terms, blob_counts, meta) in enumerate(
            rows
        ):
            slot = first + offset
            self.slot_of[seq] = slot
            self.chunk_ids.append(chunk_id)
            self.meeting_number.setdefault(meeting_id, len(self.meeting_number))
            self.metadata.append(meta)
            ids = np.frombuffer(blob_terms, dtype=np.int32)
            terms.append(ids)
            slots.append(np.full(len(ids), slot, dtype=np.int32))
            tfs.append(np.frombuffer(blob_counts, dtype=np.int32))
        self.lengths = np.concatenate([self.lengths, [r[4] for r in rows]])
        self.levels = np.concatenate([self.levels, [r[3] for r in rows]])
        numbers = [self.meeting_number[r[2]] for r in rows]
        self.meetings = np.concatenate([self.meetings, np.array(numbers, dtype=np.int32)])
        self.alive = np.concatenate([self.alive, np.ones(len(rows), dtype=bool)])
        self.last_seq = rows[-1][0]
        added = (np.concatenate(terms), np.concatenate(slots), np.concatenate(tfs))
        self.tail.append(added)
        self.tail_size += len(added[0])
        if self.tail_size > MERGE_SHARE * len(self.terms):
            self._merge_tail()

    def _merge_tail(self) -> None:
        terms = np.concatenate([self.terms, *(t[0] for t in self.tail)])
        slots = np.concatenate([self.slots, *(t[1] for t in self.tail)])
        tfs = np.concatenate([self.tfs, *(t[2] for t in self.tail)])
        order = np.argsort(terms, kind="stable")
        self.terms, self.slots, self.tfs = terms[order], slots[order], tfs[order]
        self.tail, self.tail_size = [], 0

    def _forget_all_but(self, live: set[int]) -> None:
        for seq, slot in self.slot_of.items():
            if seq not in live:
                self.alive[slot] = False
        self.slot_of = {seq: slot for seq, slot in self.slot_of.items() if seq in live}

    def postings(self, term_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Slots and term frequencies of the live documents holding ``term_id``."""
        # keys of the array's own dtype: mixed dtypes make numpy copy the whole array per call
        bounds = np.array([term_id, term_id + 1], dtype=self.terms.dtype)
        lo, hi = np.searchsorted(self.terms, bounds)
        slots, tfs = [self.slots[lo:hi]], [self.tfs[lo:hi]]
        for terms, tail_slots, tail_tfs in self.tail:
            hit = terms == term_id
            slots.append(tail_slots[hit])
            tfs.append(tail_tfs[hit])
        found, counts = np.concatenate(slots), np.concatenate(tfs)
        live = self.alive[found]
        return found[live], counts[live]

    def scores(self, query: str) -> np.ndarray:
        """Lucene BM25 of every slot (0 for removed ones) against ``query``."""
        scores = np.zeros(len(self.chunk_ids), dtype=np.float64)
        total = self.size
        if not total:
            return scores
        average = float(self.lengths[self.alive].sum()) / total
        for term, repeats in Counter(tokenize([query])[0]).items():
            if term not in self.vocab:
                continue
            slots, tfs = self.postings(self.vocab[term])
            if not len(slots):
                continue
            idf = math.log(1 + (total - len(slots) + 0.5) / (len(slots) + 0.5))
            norm = K1 * (1 - B + B * self.lengths[slots] / average)
            scores[slots] += repeats * idf * tfs / (norm + tfs)
        return scores

    def top(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``k`` best slots with a positive score, among ``allowed`` ones if given."""
        with self.lock:
            return self._top(query, k, allowed)

    def _top(self, query: str, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        scores = self.scores(query)
        if allowed is not None:
            scores = scores * allowed
        positive = np.flatnonzero(scores > 0)
        if len(positive) > k:
            positive = positive[np.argpartition(-scores[positive], k - 1)[:k]]
        ranked = sorted(positive.tolist(), key=lambda slot: (-scores[slot], slot))
        return [(slot, float(scores[slot])) for slot in ranked]

    def holds_meeting(self, meeting_id: str) -> bool:
        number = self.meeting_number.get(meeting_id)
        return number is not None and bool((self.alive & (self.meetings == number)).any())

    def allowed(self, meeting_ids: Iterable[str] | None, level: int) -> np.ndarray:
        """1 for slots of ``meeting_ids`` (every meeting when None) at or below ``level``."""
        keep = self.alive & (self.levels <= level)
        if meeting_ids is not None:
            wanted = [self.meeting_number[m] for m in meeting_ids if m in self.meeting_number]
            keep &= np.isin(self.meetings, np.array(wanted, dtype=np.int32))
        return keep


def lexical_retriever(index: LexicalIndex, top_k: int, allowed: np.ndarray | None) -> Any:
    """A llama-index retriever over ``index`` (its hits carry the chunk's metadata)."""
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, TextNode

    class Bm25Retriever(BaseRetriever):
        def _retrieve(self, query_bundle: Any) -> list[Any]:
            with index.lock:
                return [
                    NodeWithScore(
                        node=TextNode(
                            id_=index.chunk_ids[slot], metadata=json.loads(index.metadata[slot])
                        ),
                        score=score,
                    )
                    for slot, score in index.top(query_bundle.query_str, top_k, allowed)
                ]

    return Bm25Retriever()
