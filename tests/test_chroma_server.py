"""The index on a real Chroma server (`chroma run` on a free loopback port): ingest, ask,
re-ingest and prune against it, and two `quorum serve` replicas and the CLI sharing one
server-backed index while they all run. These are the deployments docs/scaling.md describes."""

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
from index.vectors import fill_vectors
from rag.answer import AnswerEngine
from tests.conftest import NPG_QUESTION, make_settings
from tests.servers import chroma_server, free_port, wait_until_serving

NPG_MINUTES = "002_38b18e688a9d200f.txt"  # the 1:1 of 28 January 2025
KNIFE_MINUTES = PROJECT_ROOT / "data" / "corpus" / "minutes" / "essex_pfcp_2017-06-01.txt"


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
    fill_vectors(IndexStore(settings), embedder)  # the second pass, against the server too
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


def start_serve(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "quorum", "serve", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture
def replicas(
    tmp_path: Path, chroma_port: int, embedder
) -> Iterator[tuple[list[str], dict[str, str], Path]]:
    """Two `quorum serve` replicas over one server-backed index holding two of the three
    sample meetings; yields their addresses, the environment they run with and the archive."""
    archive = tmp_path / "archive"
    archive.mkdir()
    for name in sorted(p.name for p in SAMPLE_ARCHIVE.iterdir()):
        if name != NPG_MINUTES:
            shutil.copy(SAMPLE_ARCHIVE / name, archive / name)
    settings = server_settings(tmp_path, chroma_port, "shared_index")
    settings = settings.with_overrides(archive_dir=archive)
    assert not Ingestor(settings, embedder).ingest([archive]).failed
    env = quorum_env(settings)
    started = [start_serve(env, tmp_path / f"serve-{n}.log") for n in (1, 2)]
    try:
        for n, (process, base) in enumerate(started, start=1):
            wait_until_serving(f"{base}/api/v1/health", process, tmp_path / f"serve-{n}.log")
        yield [base for _, base in started], env, archive
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            process.wait(timeout=60)


def ask(base: str, question: str) -> dict:
    return httpx.post(f"{base}/api/v1/ask", json={"question": question}, timeout=120).json()


def test_replicas_of_serve_and_the_cli_share_one_server_backed_index(replicas):
    (first, second), env, archive = replicas
    assert "2025-01-28" not in {c["date"] for c in ask(first, NPG_QUESTION)["citations"]}

    shutil.copy(SAMPLE_ARCHIVE / NPG_MINUTES, archive / NPG_MINUTES)
    done = run_cli(env, "ingest", str(archive), "--archive", str(archive))
    assert done.returncode == 0, done.stderr
    assert "added" in done.stdout and NPG_MINUTES in done.stdout
    for base in (first, second):
        answer = ask(base, NPG_QUESTION)
        assert not answer["abstained"]
        assert {c["date"] for c in answer["citations"]} == {"2025-01-28"}

    upload = {"files": (KNIFE_MINUTES.name, KNIFE_MINUTES.read_bytes(), "text/plain")}
    added = httpx.post(f"{first}/api/v1/ingest", files=upload, timeout=300).json()
    assert added["summary"] == "1 added"
    dates = {m["date"] for m in httpx.get(f"{second}/api/v1/meetings", timeout=60).json()}
    assert "2017-06-01" in dates and len(dates) == 4

    asked = run_cli(env, "ask", NPG_QUESTION, "--json")
    assert asked.returncode == 0, asked.stderr
    assert '"2025-01-28"' in asked.stdout
