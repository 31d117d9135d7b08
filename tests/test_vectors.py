"""The default ingest path: static vectors at ingest, MiniLM's in a second pass. A meeting is
searchable when the ingest returns and after the pass; the pass loses nothing when it fails;
the static table is distilled from the bundled model, cached and checked by its digest."""

from __future__ import annotations

import json
import math
import shutil
import threading

import numpy as np
import pytest

import index.embed
from core.settings import SAMPLE_ARCHIVE
from index.embed import StaticEmbedder, load_verified_table
from index.ingest import Ingestor
from index.store import IndexStore
from index.vectors import fill_vectors
from rag.retrieve import HybridRetriever
from tests.conftest import NPG_QUESTION, make_settings, session_static_table
from tests.test_briefing import run_quorum


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


def top_item(settings, embedder) -> tuple[str, str]:
    top = HybridRetriever(settings, embedder=embedder).retrieve(NPG_QUESTION).passages[0]
    return top.date, top.item_number


@pytest.fixture
def fresh_tables(monkeypatch):
    """No table in this process's memory: each StaticEmbedder goes to its cache on disk."""
    monkeypatch.setattr(index.embed, "_TABLES", {})


def test_static_vectors_keep_meaning_apart(embedder):
    session_static_table()
    static = StaticEmbedder(embedder, session_static_table().parent)
    police, officers, budget = static.embed(
        [
            "officers dismissed for gross misconduct",
            "misconduct dismissals of officers",
            "the council tax precept",
        ]
    )
    assert cosine(police, officers) > cosine(police, budget)
    assert len(police) == embedder.dimension


def test_the_static_table_is_cached_and_trusted_only_while_its_digest_matches(
    tmp_path, embedder, fresh_tables, monkeypatch
):
    built = session_static_table()
    static = StaticEmbedder(embedder, tmp_path)
    shutil.copy(built, static.table_path)
    shutil.copy(built.with_suffix(".json"), static.table_path.with_suffix(".json"))
    distilled = []
    monkeypatch.setattr(
        StaticEmbedder, "distil", lambda self: distilled.append(1) or np.load(built)
    )

    assert np.array_equal(static.table, np.load(built))  # from the cache: nothing distilled
    assert distilled == []

    data = bytearray(static.table_path.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit in the last vector
    static.table_path.write_bytes(bytes(data))
    assert load_verified_table(static.table_path) is None
    monkeypatch.setattr(index.embed, "_TABLES", {})
    rebuilt = StaticEmbedder(embedder, tmp_path).table
    assert distilled == [1] and np.array_equal(rebuilt, np.load(built))
    stamp = json.loads(static.table_path.with_suffix(".json").read_text())
    assert load_verified_table(static.table_path) is not None
    assert stamp["shape"] == list(rebuilt.shape)


def test_a_meeting_is_searchable_before_and_after_the_second_pass(tmp_path, embedder):
    settings = make_settings(tmp_path)
    assert settings.vector_pass == "background"
    report = Ingestor(settings, embedder).ingest([SAMPLE_ARCHIVE])
    store = IndexStore(settings)
    chunks = report.chunks_added
    assert store.catalog.pending_count() == chunks
    assert (store.collection.count(), store.static_collection.count()) == (0, chunks)
    assert top_item(settings, embedder) == ("2025-01-28", "7")

    assert fill_vectors(store, embedder, batch=8) == chunks
    assert store.catalog.pending_count() == 0
    assert (store.collection.count(), store.static_collection.count()) == (chunks, 0)
    assert top_item(settings, embedder) == ("2025-01-28", "7")
    chunk = store.catalog.chunks()[0]
    stored = store.collection.get(ids=[chunk.id], include=["embeddings"])["embeddings"][0]
    assert cosine(list(stored), embedder.embed([chunk.embed_text])[0]) > 0.9999


class FailingAfter:
    """The real embedder, until its ``calls``-th call, which raises (a killed second pass)."""

    def __init__(self, inner, calls: int) -> None:
        self.inner, self.calls = inner, calls

    def embed(self, texts):
        self.calls -= 1
        if self.calls == 0:
            raise RuntimeError("second pass killed")
        return self.inner.embed(texts)


def test_a_failed_second_pass_loses_nothing(tmp_path, embedder):
    settings = make_settings(tmp_path)
    report = Ingestor(settings, embedder).ingest([SAMPLE_ARCHIVE])
    store = IndexStore(settings)
    chunks = report.chunks_added

    with pytest.raises(RuntimeError):
        fill_vectors(store, FailingAfter(embedder, calls=3), batch=4)
    assert store.catalog.pending_count() == chunks - 8
    assert store.catalog.counts() == (3, chunks)
    assert store.collection.count() + store.static_collection.count() == chunks
    assert top_item(settings, embedder) == ("2025-01-28", "7")

    assert fill_vectors(store, embedder) == chunks - 8  # the next pass takes the rest
    assert (store.catalog.pending_count(), store.collection.count()) == (0, chunks)


def test_a_second_pass_running_elsewhere_is_left_to_finish(tmp_path, embedder):
    settings = make_settings(tmp_path)
    Ingestor(settings, embedder).ingest([SAMPLE_ARCHIVE])
    store = IndexStore(settings)
    from index.vectors import filler_lock

    with filler_lock(store.path) as held:
        assert held
        assert fill_vectors(store, embedder) is None
    assert store.catalog.pending_count() > 0


def test_a_meeting_replaced_before_its_vectors_land_gets_none(tmp_path, embedder, archive_copy):
    settings = make_settings(tmp_path)
    Ingestor(settings, embedder).ingest([archive_copy])
    store = IndexStore(settings)
    waiting = store.catalog.pending_vectors(1000)
    edited = archive_copy / "002_38b18e688a9d200f.txt"
    edited.write_text(edited.read_text(encoding="utf-8") + "\nAny other business: none.\n")
    Ingestor(settings, embedder).ingest([archive_copy])  # the new version is pending too

    added = store.add_vectors(waiting, embedder.embed([c.embed_text for c in waiting]))
    current = store.catalog.chunk_ids()
    assert added == sum(c.id in current for c in waiting) < len(waiting)
    assert set(store.collection.get(include=[])["ids"]) <= current


def test_inline_ingest_embeds_before_it_commits(tmp_path, embedder):
    settings = make_settings(tmp_path, vector_pass="inline")
    report = Ingestor(settings, embedder).ingest([SAMPLE_ARCHIVE])
    store = IndexStore(settings)
    assert store.catalog.pending_count() == 0
    assert (store.collection.count(), store.static_collection.count()) == (report.chunks_added, 0)


def test_quorum_vectors_runs_the_second_pass_and_status_shows_what_waits(tmp_path, embedder):
    settings = make_settings(tmp_path)
    report = Ingestor(settings, embedder).ingest([SAMPLE_ARCHIVE])
    index = ["--index", str(settings.index_path)]
    before = run_quorum("status", *index, data_dir=tmp_path)
    assert f"vectors:  {report.chunks_added} chunks pending" in before.stdout
    filled = run_quorum("vectors", *index, data_dir=tmp_path)
    assert filled.returncode == 0, filled.stderr
    assert f"{report.chunks_added} vectors added; 0 pending" in filled.stdout
    assert "vectors:  complete" in run_quorum("status", *index, data_dir=tmp_path).stdout


def test_an_upload_is_searchable_at_once_and_the_app_fills_its_vectors(tmp_path):
    from web.services import Services

    settings = make_settings(tmp_path)
    services = Services(settings)
    report, _ = services.ingest([SAMPLE_ARCHIVE / "002_38b18e688a9d200f.txt"])
    assert report.chunks_added and not report.failed
    assert services.retriever.retrieve(NPG_QUESTION).passages[0].date == "2025-01-28"
    store = IndexStore(settings)
    for thread in [t for t in threading.enumerate() if t.name == "quorum-vectors"]:
        thread.join(timeout=600)
    assert store.catalog.pending_count() == 0
    assert store.collection.count() == report.chunks_added
    assert services.retriever.retrieve(NPG_QUESTION).passages[0].date == "2025-01-28"
