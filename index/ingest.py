"""Incremental ingest: files in, meetings and chunks committed one meeting at a time.

With ``vector_pass="background"`` (the default) a meeting commits with cheap static vectors
(:class:`index.embed.StaticEmbedder`) and :mod:`index.vectors` adds MiniLM's in a second
pass; ``"inline"`` embeds with MiniLM before each commit.

Unchanged files (same sha256 at the same path) cost a hash and nothing more; a changed file
replaces exactly its own meeting; the same bytes under a second name are reported as a
duplicate and not indexed twice; ``prune`` drops meetings whose file is gone. A file that
fails is reported with its path and reason and the rest of the batch goes on.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from core.errors import ParseError, QuorumError
from core.settings import Settings
from index.chunk import chunk_meeting
from index.embed import Embedder, StaticEmbedder
from index.models import Meeting
from index.outcomes import extract_outcomes
from index.parse import parse_text
from index.readers import SUPPORTED_SUFFIXES, ReadLimits, read_source, source_name
from index.store import IndexStore

Status = Literal["added", "updated", "unchanged", "duplicate", "failed", "removed", "skipped"]
Progress = Callable[[int, int, str], None]


@dataclass
class FileResult:
    path: str
    status: Status
    detail: str = ""
    meeting_id: str | None = None
    chunks: int = 0
    warnings: list[str] = field(default_factory=list)
    read_as: str = ""  # what the parser found: "12 items, numbered", "fallback: 4 parts"


@dataclass
class IngestReport:
    results: list[FileResult] = field(default_factory=list)

    def of(self, status: Status) -> list[FileResult]:
        return [r for r in self.results if r.status == status]

    @property
    def failed(self) -> list[FileResult]:
        return self.of("failed")

    @property
    def changed(self) -> bool:
        return any(r.status in ("added", "updated", "removed") for r in self.results)

    @property
    def chunks_added(self) -> int:
        return sum(r.chunks for r in self.results if r.status in ("added", "updated"))

    def summary(self) -> str:
        counts = {s: len(self.of(s)) for s in Status.__args__}
        return ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "nothing to do"


@dataclass(frozen=True)
class SourceFile:
    path: Path
    source: str


def collect_sources(
    paths: Iterable[Path], archive_root: Path
) -> tuple[list[SourceFile], list[FileResult]]:
    """Expand directories (recursively) into minutes files; report what cannot be taken."""
    found: list[SourceFile] = []
    problems: list[FileResult] = []
    for given in paths:
        given = Path(given)
        if given.is_dir():
            for path in sorted(p for p in given.rglob("*") if p.is_file()):
                if any(part.startswith(".") for part in path.relative_to(given).parts):
                    continue
                if path.suffix.lower() in SUPPORTED_SUFFIXES:
                    found.append(SourceFile(path, _cited_name(path, archive_root, given)))
                else:
                    problems.append(FileResult(str(path), "skipped", "unsupported file type"))
        elif given.is_file():
            found.append(SourceFile(given, _cited_name(given, archive_root, given.parent)))
        else:
            problems.append(FileResult(str(given), "failed", "no such file or directory"))
    return found, problems


def _cited_name(path: Path, archive_root: Path, given_root: Path) -> str:
    """The path citations show: relative to the archive root, else to the directory ingested."""
    return source_name(path, archive_root, given_root) or path.name


SAME_TEXT = 0.9


def shared_words(first: str, second: str) -> float:
    """The share of words two texts have in common, counted with repeats, over the longer
    text: 1.0 for the same words in any layout (a PDF reflows lines, a DOCX drops tabs)."""
    a, b = Counter(first.split()), Counter(second.split())
    common = sum((a & b).values())
    return common / max(sum(a.values()), sum(b.values()), 1)


def read_as(meeting: Meeting) -> str:
    """What was read, for the user: "12 items, numbered", "fallback: 4 parts"."""
    count = len(meeting.items)
    if meeting.shape == "fallback: parts":
        return f"fallback: {count} part{'s' * (count != 1)}"
    return f"{count} item{'s' * (count != 1)}, {meeting.shape}"


class Ingestor:
    """Parses, chunks, embeds and commits minutes into one index directory."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.store = IndexStore(settings)
        self._embedder = embedder
        self._static: StaticEmbedder | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder(self.settings.embed_model, self.settings.embed_batch_size)
        return self._embedder

    @property
    def static_embedder(self) -> StaticEmbedder:
        if self._static is None:
            self._static = StaticEmbedder(self.embedder, self.settings.model_dir)
        return self._static

    def ingest(
        self, paths: Iterable[Path], *, prune: bool = False, progress: Progress | None = None
    ) -> IngestReport:
        """Bring the index in line with ``paths``; see the module docstring for the rules."""
        files, problems = collect_sources(paths, self.settings.archive_dir)
        report = IngestReport(problems)
        self.store.check_writable()
        with self.store.write_lock():
            self.store.reconcile()
            manifest = self.store.catalog.manifest()
            for done, source in enumerate(files, start=1):
                report.results.append(self._ingest_one(source, manifest))
                if progress:
                    progress(done, len(files), str(source.path))
            if prune:
                report.results.extend(self._prune(manifest))
            if self.store.bm25_missing():
                self.store.fill_bm25()
        return report

    def _ingest_one(self, source: SourceFile, manifest: dict[str, dict]) -> FileResult:
        key = str(source.path.resolve())
        try:
            data = source.path.read_bytes()
        except OSError as exc:
            return FileResult(str(source.path), "failed", f"cannot read: {exc.strerror}")
        sha = hashlib.sha256(data).hexdigest()
        previous = manifest.get(key)
        if previous and previous["sha256"] == sha:
            return FileResult(str(source.path), "unchanged", meeting_id=previous["meeting_id"])
        twin = self.store.catalog.path_for_sha(sha)
        if twin and twin != key and Path(twin).exists():
            return FileResult(str(source.path), "duplicate", f"same content as {twin}")
        try:
            meeting = self._parse(source, sha)
            if twin := self._same_minutes(meeting, key):
                return FileResult(
                    str(source.path), "duplicate", f"the same minutes as {twin} (another format)"
                )
            chunks = chunk_meeting(meeting, self.embedder.count_tokens, self.embedder.window)
            texts = [c.embed_text for c in chunks]
            replaces = previous["meeting_id"] if previous else None
            if self.settings.vector_pass == "inline":
                vectors = self.embedder.embed(texts)
                self.store.commit_meeting(key, meeting, chunks, vectors, replaces=replaces)
            else:
                static = self.static_embedder.embed(texts)
                self.store.commit_meeting(
                    key, meeting, chunks, None, replaces=replaces, static_vectors=static
                )
        except QuorumError as exc:
            return FileResult(str(source.path), "failed", str(exc))
        manifest[key] = {"sha256": sha, "meeting_id": meeting.id}
        return FileResult(
            str(source.path),
            "updated" if previous else "added",
            meeting_id=meeting.id,
            chunks=len(chunks),
            warnings=meeting.warnings,
            read_as=read_as(meeting),
        )

    def _parse(self, source: SourceFile, sha: str) -> Meeting:
        text, warnings = read_source(source.path, ReadLimits.of(self.settings))
        try:
            meeting = parse_text(text, source=source.source, sha256=sha, warnings=warnings)
            outcomes = extract_outcomes(meeting)
        except Exception as exc:  # one odd file must not stop the batch
            detail = " ".join(str(exc).split())[:200]
            raise ParseError(
                source.path, f"cannot be parsed as minutes ({type(exc).__name__}: {detail})"
            ) from None
        meeting = self._with_unique_id(meeting, str(source.path.resolve()))
        return meeting.model_copy(update={"outcomes": outcomes})

    def _same_minutes(self, meeting: Meeting, key: str) -> str | None:
        """The path of an indexed file holding these minutes in another format: same date,
        same body (or kind), at least SAME_TEXT of the same words, and still on disk."""
        if meeting.date is None:
            return None
        for other in self.store.catalog.meetings_on(meeting.date):
            path = self.store.catalog.manifest_path_of(other.id)
            if path is None or path == key or not Path(path).exists():
                continue
            same_body = (other.body, other.kind) == (meeting.body, meeting.kind)
            if same_body and shared_words(other.text, meeting.text) >= SAME_TEXT:
                return path
        return None

    def _with_unique_id(self, meeting: Meeting, key: str) -> Meeting:
        """Two files can share a relative name from different roots; keep their ids apart."""
        owner = self.store.catalog.manifest_path_of(meeting.id)
        if owner is None or owner == key:
            return meeting
        suffix = hashlib.sha1(key.encode()).hexdigest()[:6]
        return meeting.model_copy(update={"id": f"{meeting.id}-{suffix}"})

    def _prune(self, manifest: dict[str, dict]) -> list[FileResult]:
        removed = []
        for path, entry in sorted(manifest.items()):
            if not Path(path).exists():
                self.store.remove_meeting(entry["meeting_id"])
                removed.append(FileResult(path, "removed", "file is gone", entry["meeting_id"]))
        return removed
