"""Two real processes on one index: a reader never waits on a writer, and a long-running
reader (``quorum serve``'s retriever) sees meetings another process commits."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time

from core.settings import PROJECT_ROOT, SAMPLE_ARCHIVE
from index.ingest import Ingestor
from index.store import IndexStore
from rag.retrieve import HybridRetriever
from tests.conftest import NPG_QUESTION, make_settings
from tests.test_briefing import run_quorum

LATER = "002_38b18e688a9d200f.txt"  # the 28 January 2025 meeting, holding the NPG item


def test_a_running_reader_sees_a_meeting_another_process_commits(tmp_path, embedder):
    first, later = tmp_path / "first", tmp_path / "later"
    first.mkdir()
    later.mkdir()
    for source in SAMPLE_ARCHIVE.iterdir():
        shutil.copy(source, (later if source.name == LATER else first) / source.name)
    settings = make_settings(tmp_path)
    Ingestor(settings, embedder).ingest([first])
    retriever = HybridRetriever(settings, embedder=embedder)
    before = retriever.retrieve(NPG_QUESTION).passages
    assert all(p.date != "2025-01-28" for p in before)

    done = run_quorum(
        "ingest", str(later), "--quiet", "--index", str(settings.index_path), data_dir=tmp_path
    )
    assert done.returncode == 0, done.stderr

    top = retriever.retrieve(NPG_QUESTION).passages[0]
    assert (top.date, top.item_number) == ("2025-01-28", "7")
    assert "second pass started" in done.stdout  # MiniLM's vectors come from its own process
    wait_for(lambda: IndexStore(settings).catalog.pending_count() == 0)
    retriever.meetings()  # what every read does first: it notices the new vectors, reopens Chroma
    dense = retriever._vector_index.as_retriever(similarity_top_k=3).retrieve(NPG_QUESTION)
    assert any(hit.node.metadata["date"] == "2025-01-28" for hit in dense)


def wait_for(condition, seconds: float = 600.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.5)


def test_reads_answer_from_the_last_commit_while_a_writer_holds_the_index(tmp_path, embedder):
    settings = make_settings(tmp_path)
    Ingestor(settings, embedder).ingest([SAMPLE_ARCHIVE])
    retriever = HybridRetriever(settings, embedder=embedder)
    retriever.warm_up()
    gone = next(m for m in retriever.meetings() if m.date == "2025-01-28")
    writer = textwrap.dedent(
        f"""
        import sys, time
        from core.settings import Settings
        from index.store import IndexStore
        store = IndexStore(Settings.isolated(data_dir={str(settings.data_dir)!r},
                                             index_dir={str(settings.index_path)!r}))
        with store.write_lock():
            store.remove_meeting({gone.id!r})  # commits, BM25's terms with it
            print("holding", flush=True)
            time.sleep(300)
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        passages = retriever.retrieve(NPG_QUESTION).passages
        assert holder.poll() is None, "the read waited for the writer to let go"
        assert passages and all(p.meeting_id != gone.id for p in passages)
        assert not retriever._bm25.holds_meeting(gone.id)
    finally:
        holder.kill()
        holder.wait()
