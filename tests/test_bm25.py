"""BM25 in the catalogue: each commit adds or drops its own chunks' terms, a reader follows
row by row, and the scores equal those of an index read whole from the same catalogue."""

from __future__ import annotations

import shutil

from core.settings import SAMPLE_ARCHIVE
from index.bm25 import LexicalIndex
from index.ingest import Ingestor
from index.store import IndexStore
from rag.retrieve import HybridRetriever
from tests.conftest import NPG_QUESTION, make_settings

NPG_MINUTES = "002_38b18e688a9d200f.txt"


def read_whole(store: IndexStore) -> LexicalIndex:
    index = LexicalIndex()
    index.sync(store.catalog.db)
    return index


def ranking(index: LexicalIndex, question: str) -> list[tuple[str, float]]:
    return [(index.chunk_ids[slot], round(score, 9)) for slot, score in index.top(question, 20)]


def test_a_reader_follows_each_commit_and_scores_as_if_read_whole(tmp_path, sample_dir, embedder):
    archive = tmp_path / "archive"
    archive.mkdir()
    for path in sorted(sample_dir.iterdir()):
        if path.name != NPG_MINUTES:
            shutil.copy(path, archive / path.name)
    settings = make_settings(tmp_path, archive_dir=archive)
    Ingestor(settings, embedder).ingest([archive])
    retriever = HybridRetriever(settings, embedder=embedder)
    retriever.retrieve(NPG_QUESTION)
    lexical = retriever._bm25
    before, last_seq = lexical.size, lexical.last_seq

    shutil.copy(sample_dir / NPG_MINUTES, archive / NPG_MINUTES)
    added = Ingestor(settings, embedder).ingest([archive]).chunks_added
    passages = retriever.retrieve(NPG_QUESTION).passages
    assert retriever._bm25 is lexical, "the reader reloaded BM25 instead of following it"
    assert lexical.size == before + added and lexical.last_seq == last_seq + added
    assert passages[0].date == "2025-01-28"
    store = IndexStore(settings)
    assert ranking(lexical, NPG_QUESTION) == ranking(read_whole(store), NPG_QUESTION)

    (archive / NPG_MINUTES).unlink()
    Ingestor(settings, embedder).ingest([archive], prune=True)
    retriever.retrieve(NPG_QUESTION)
    assert lexical.size == before
    assert ranking(lexical, NPG_QUESTION) == ranking(read_whole(store), NPG_QUESTION)
    assert all(not chunk.startswith("2025-01-28") for chunk, _ in ranking(lexical, NPG_QUESTION))


def test_an_index_without_terms_in_its_catalogue_gets_them_at_first_read(tmp_path, embedder):
    settings = make_settings(tmp_path)
    Ingestor(settings, embedder).ingest([SAMPLE_ARCHIVE])
    store = IndexStore(settings)
    _, chunks = store.catalog.counts()
    store.catalog.db.execute("DELETE FROM bm25_docs")  # as an index from before this layout
    assert store.bm25_missing() == chunks

    passages = HybridRetriever(settings, embedder=embedder).retrieve(NPG_QUESTION).passages
    assert passages and passages[0].date == "2025-01-28"
    assert store.bm25_missing() == 0
