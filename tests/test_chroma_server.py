"""The index on a real Chroma server (`chroma run` on a free loopback port): ingest, ask,
re-ingest and prune against it, and `quorum serve` and the CLI sharing one server-backed index
while both run. This is the deployment docs/scaling.md describes for vectors off the machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.settings import PROJECT_ROOT, SAMPLE_ARCHIVE, Settings
from index.ingest import Ingestor
from index.store import IndexStore
from rag.answer import AnswerEngine
from tests.conftest import NPG_QUESTION, make_settings
from tests.servers import chroma_server, free_port, wait_until_serving

NPG_MINUTES = "002_38b18e688a9d200f.txt"  # the 1:1 of 28 January 2025


@pytest.fixture(scope="module")
def chroma_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with chroma_server(tmp_path_factory.mktemp("chroma")) as port:
        yield port


def server_settings(root: Path, port: int, collection: str) -> Settings:
    """An index whose catalogue is under ``root`` and whose vectors are on the Chroma server."""
    return make_settings(
        root, store="server", chroma_host="127.0.0.1", chroma_port=port, collection=collection
    )


def vector_ids(settings: Settings) -> set[str]:
    """What the server's collection holds, asked through a fresh client."""
    return set(IndexStore(settings).collection.get(include=[])["ids"])


def test_ingest_ask_reingest_and_prune_against_a_chroma_server(tmp_path, chroma_port, embedder):
    archive = tmp_path / "archive"
    shutil.copytree(SAMPLE_ARCHIVE, archive)
    settings = server_settings(tmp_path, chroma_port, "ingest_cycle")

    first = Ingestor(settings, embedder).ingest([archive])
    assert [r.status for r in first.results] == ["added"] * 3
    catalogued = IndexStore(settings).catalog.chunk_ids()
    assert vector_ids(settings) == catalogued
    assert not (tmp_path / "index" / "chroma").exists(), "vectors went to an embedded store"

    answer = AnswerEngine(settings).ask(NPG_QUESTION)
    assert not answer.abstained
    assert {c.date for c in answer.citations} == {"2025-01-28"}

    again = Ingestor(settings, embedder).ingest([archive])
    assert [r.status for r in again.results] == ["unchanged"] * 3
    assert vector_ids(settings) == catalogued

    (archive / NPG_MINUTES).unlink()
    pruned = Ingestor(settings, embedder).ingest([archive], prune=True)
    assert [r.status for r in pruned.of("removed")] == ["removed"]
    remaining = IndexStore(settings).catalog.chunk_ids()
    assert remaining < catalogued
    assert vector_ids(settings) == remaining
    after = AnswerEngine(settings).ask(NPG_QUESTION)
    assert "2025-01-28" not in {c.date for c in after.citations}


def quorum_env(settings: Settings) -> dict[str, str]:
    """The environment a user would set for a server-backed index, and nothing of ours."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("QUORUM_")}
    env.update(
        HF_HUB_OFFLINE="1",
        QUORUM_DATA_DIR=str(settings.data_dir),
        QUORUM_INDEX=str(settings.index_path),
        QUORUM_STORE="server",
        QUORUM_CHROMA_HOST=settings.chroma_host,
        QUORUM_CHROMA_PORT=str(settings.chroma_port),
        QUORUM_COLLECTION=settings.collection,
        QUORUM_LLM="extractive",
    )
    return env


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quorum", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def served(
    tmp_path: Path, chroma_port: int, embedder
) -> Iterator[tuple[str, dict[str, str], Path]]:
    """`quorum serve` over a server-backed index holding two of the three sample meetings;
    yields its address, the environment it runs with and the archive."""
    archive = tmp_path / "archive"
    archive.mkdir()
    for name in sorted(p.name for p in SAMPLE_ARCHIVE.iterdir()):
        if name != NPG_MINUTES:
            shutil.copy(SAMPLE_ARCHIVE / name, archive / name)
    settings = server_settings(tmp_path, chroma_port, "shared_index")
    settings = settings.with_overrides(archive_dir=archive)
    assert not Ingestor(settings, embedder).ingest([archive]).failed
    env = quorum_env(settings)
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "quorum", "serve", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{base}/api/v1/health", process, log_path)
        yield base, env, archive
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_serve_and_the_cli_share_one_server_backed_index(served):
    base, env, archive = served
    with httpx.Client(base_url=base, timeout=120) as http:
        before = http.post("/api/v1/ask", json={"question": NPG_QUESTION}).json()
        assert "2025-01-28" not in {c["date"] for c in before["citations"]}

        shutil.copy(SAMPLE_ARCHIVE / NPG_MINUTES, archive / NPG_MINUTES)
        done = run_cli(env, "ingest", str(archive), "--archive", str(archive))
        assert done.returncode == 0, done.stderr
        assert "added" in done.stdout and NPG_MINUTES in done.stdout

        after = http.post("/api/v1/ask", json={"question": NPG_QUESTION}).json()
        assert not after["abstained"]
        assert {c["date"] for c in after["citations"]} == {"2025-01-28"}
        listed = http.get("/api/v1/meetings").json()
        assert len(listed) == 3

    asked = run_cli(env, "ask", NPG_QUESTION, "--json")
    assert asked.returncode == 0, asked.stderr
    assert '"2025-01-28"' in asked.stdout
