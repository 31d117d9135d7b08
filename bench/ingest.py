"""Ingest throughput: the sample archive and a synthetic archive of N meetings, each into a fresh
index, then a no-op re-ingest of the same archive.

    .venv/bin/python -m bench.ingest [--n 1000] [--seed 0] [--keep DIR] [--profile]

First prints parse throughput (files/s, read and parse only) over the real minutes in
data/corpus, with the shapes they were read in. Then prints meetings/s, chunks/s,
wall time, peak RSS and the no-op re-ingest time, with the targets
(1,000 meetings in under 2 minutes; a no-op re-ingest under 5 s) marked PASS or MISS. The
embedder is loaded once before the clock starts; its load time is printed on its own line.
``--keep DIR`` leaves the archives and indexes in DIR (``bench.answer --keep DIR`` reuses them);
``--profile`` prints where the synthetic ingest and its no-op re-ingest spend their time.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch

from bench.synth import write_archive
from core.settings import SAMPLE_ARCHIVE, Settings
from index.embed import Embedder
from index.ingest import Ingestor, IngestReport
from index.parse import parse_file
from rag.backends.extractive import ExtractiveBackend

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus" / "minutes"
TARGET_SECONDS_PER_1000 = 120.0
TARGET_NOOP_SECONDS = 5.0


@dataclass(frozen=True)
class IngestFigures:
    label: str
    meetings: int
    chunks: int
    megabytes: float
    seconds: float
    cpu_seconds: float
    embed_seconds: float
    noop_seconds: float
    peak_rss_mb: float
    failed: list[str]


def bench_settings(archive: Path, index_dir: Path, llm: str = ExtractiveBackend.name) -> Settings:
    """Settings for one benchmark index; the developer's QUORUM_* variables are ignored.

    ``data_dir`` stays the default so an assembled local model is found and reused.
    """
    return Settings.isolated(index_dir=index_dir, archive_dir=archive, llm=llm)


@contextlib.contextmanager
def workspace(keep: Path | None) -> Iterator[Path]:
    """``keep`` (created if needed and left behind), else a temporary directory."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="quorum-bench-") as tmp:
        yield Path(tmp)


def synthetic_archive(root: Path, n: int, seed: int) -> tuple[Path, Path]:
    """(archive, index dir) for ``n`` synthetic meetings under ``root``.

    The archive is (re)written every time: generation is deterministic, so unchanged files keep
    their sha256 and a kept index still sees them as unchanged.
    """
    base = root / f"synthetic-{n}-seed{seed}"
    archive = base / "archive"
    write_archive(archive, n, seed)
    return archive, base / "index"


def sample_archive(root: Path) -> tuple[Path, Path]:
    return SAMPLE_ARCHIVE, root / "sample" / "index"


def load_embedder() -> tuple[Embedder, float]:
    started = time.perf_counter()
    embedder = Embedder()
    embedder.warm_up()
    return embedder, time.perf_counter() - started


def ensure_index(archive: Path, index_dir: Path, embedder: Embedder) -> IngestReport:
    """Bring ``index_dir`` in line with ``archive`` (a no-op when it already is)."""
    return Ingestor(bench_settings(archive, index_dir), embedder).ingest([archive])


class StopwatchEmbedder:
    """An embedder that adds up the wall time spent in ``embed`` (the model shared, not copied)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed(self, texts: list[str]) -> list[list[float]]:
        started = time.perf_counter()
        try:
            return self.inner.embed(texts)
        finally:
            self.seconds += time.perf_counter() - started


def cpu_seconds() -> float:
    """User plus system CPU time of this process: a figure the machine's other load barely moves."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def archive_megabytes(archive: Path) -> float:
    return sum(p.stat().st_size for p in archive.rglob("*") if p.is_file()) / 1e6


def timed(action: Callable[[], IngestReport], profile: bool) -> tuple[IngestReport, float]:
    """Run ``action``; with ``profile``, print its top functions by cumulative and own time."""
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    report = action()
    seconds = time.perf_counter() - started
    if profiler:
        profiler.disable()
        print_profile(profiler)
    return report, seconds


def print_profile(profiler: cProfile.Profile, top: int = 25) -> None:
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        print(f"\n--- profile, top {top} by {order} ---")
        print(out.getvalue().split("\n", 4)[-1].rstrip())


def measure(
    label: str, archive: Path, index_dir: Path, embedder: Embedder, profile: bool = False
) -> IngestFigures:
    """A fresh ingest of ``archive`` into an emptied ``index_dir``, then a no-op re-ingest."""
    shutil.rmtree(index_dir, ignore_errors=True)
    settings = bench_settings(archive, index_dir)
    stopwatch, progress = StopwatchEmbedder(embedder), ProgressLine(label)
    ingestor = Ingestor(settings, cast(Embedder, stopwatch))
    cpu_before = cpu_seconds()
    first, seconds = timed(lambda: ingestor.ingest([archive], progress=progress), profile)
    cpu_used = cpu_seconds() - cpu_before
    progress.done()
    again, noop_seconds = timed(lambda: Ingestor(settings, embedder).ingest([archive]), profile)
    if again.changed:
        print(f"warning: the re-ingest of {label} changed the index: {again.summary()}")
    return IngestFigures(
        label=label,
        meetings=len(first.of("added")),
        chunks=first.chunks_added,
        megabytes=archive_megabytes(archive),
        seconds=seconds,
        cpu_seconds=cpu_used,
        embed_seconds=stopwatch.seconds,
        noop_seconds=noop_seconds,
        peak_rss_mb=peak_rss_mb(),
        failed=[f"{r.path}: {r.detail}" for r in first.failed],
    )


class ProgressLine:
    """Files done, on stderr, every tenth of the way (a 1,000-meeting ingest takes minutes)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.shown = -1

    def __call__(self, done: int, total: int, path: str) -> None:
        tenth = done * 10 // max(total, 1)
        if tenth != self.shown:
            self.shown = tenth
            print(f"\r{self.label}: {done}/{total} files", end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        print(file=sys.stderr)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_table(rows: list[IngestFigures]) -> None:
    print(
        f"{'archive':<18}{'meetings':>9}{'chunks':>8}{'MB':>6}{'wall s':>8}{'cpu s':>8}"
        f"{'embed s':>9}{'meetings/s':>11}{'chunks/s':>9}{'peak RSS MB':>12}{'no-op s':>8}"
    )
    for r in rows:
        print(
            f"{r.label:<18}{r.meetings:>9}{r.chunks:>8}{r.megabytes:>6.2f}{r.seconds:>8.1f}"
            f"{r.cpu_seconds:>8.1f}{r.embed_seconds:>9.1f}{r.meetings / r.seconds:>11.2f}"
            f"{r.chunks / r.seconds:>9.1f}{r.peak_rss_mb:>12.0f}{r.noop_seconds:>8.2f}"
        )
        for failure in r.failed:
            print(f"  failed: {failure}")
    print(
        "(wall s: the ingest call; cpu s: user+system CPU of this process meanwhile; embed s: "
        "wall time inside Embedder.embed; peak RSS: this process so far)"
    )


def print_targets(synthetic: IngestFigures, sample: IngestFigures) -> None:
    per_1000 = synthetic.seconds * 1000 / max(synthetic.meetings, 1)
    scaled = "" if synthetic.meetings == 1000 else f" (scaled from {synthetic.meetings})"
    print("\ntargets (2 CPU cores)")
    print(
        f"  1,000 meetings in under {TARGET_SECONDS_PER_1000:.0f} s: "
        f"{per_1000:.1f} s{scaled}  {verdict(per_1000 < TARGET_SECONDS_PER_1000)}"
    )
    for figures in (sample, synthetic):
        print(
            f"  no-op re-ingest under {TARGET_NOOP_SECONDS:.0f} s ({figures.label}): "
            f"{figures.noop_seconds:.2f} s  {verdict(figures.noop_seconds < TARGET_NOOP_SECONDS)}"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    parser.add_argument("--n", type=int, default=1000, help="synthetic meetings (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic archive seed")
    parser.add_argument("--keep", type=Path, help="keep archives and indexes in this directory")
    parser.add_argument("--profile", action="store_true", help="cProfile the synthetic runs")
    return parser.parse_args(argv)


def parse_throughput(corpus: Path = CORPUS, rounds: int = 5) -> tuple[int, float, Counter]:
    """Files parsed per second over the real-minutes corpus (read and parse, no embedding),
    best of ``rounds``, and the shapes the files were read in."""
    files = sorted(corpus.glob("*.txt"))
    best = float("inf")
    shapes: Counter = Counter()
    for _ in range(rounds):
        start = time.perf_counter()
        shapes = Counter(parse_file(path).shape for path in files)
        best = min(best, time.perf_counter() - start)
    return len(files), len(files) / best, shapes


def print_parse_throughput() -> None:
    count, rate, shapes = parse_throughput()
    read = ", ".join(f"{shape} {n}" for shape, n in sorted(shapes.items()))
    print(
        f"parse throughput over data/corpus/minutes: {count} files, {rate:,.0f} files/s ({read})\n"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print_parse_throughput()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    embedder, load_seconds = load_embedder()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"Quorum ingest benchmark: {os.cpu_count()} CPU cores, torch threads "
        f"{torch.get_num_threads()}, load average {load}; embedder load {load_seconds:.1f} s "
        "(not counted below)\n"
    )
    with workspace(args.keep) as root:
        sample = measure("sample", *sample_archive(root), embedder)
        archive, index_dir = synthetic_archive(root, args.n, args.seed)
        synthetic = measure(f"synthetic ({args.n})", archive, index_dir, embedder, args.profile)
        print_table([sample, synthetic])
        print_targets(synthetic, sample)
        print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        if args.keep:
            print(f"\narchives and indexes kept in {root}")
    return 1 if sample.failed or synthetic.failed else 0


if __name__ == "__main__":
    sys.exit(main())
