"""Ingest throughput: today's path (MiniLM inline) beside the default (static vectors at
ingest, MiniLM in a second pass), each a cold ingest of the labelled archives, with retrieval
quality on the test split of the labelled facts as the index stands when the ingest returns.

    .venv/bin/python -m bench.ingest [--n 0] [--seed 0] [--keep DIR] [--profile]

First prints parse throughput (files/s, read and parse only) over the real minutes in
data/corpus. Then, for each path, a cold ingest of data/sample_minutes and data/corpus/minutes
(the archives the facts are labelled on): chunks/s, and that rate over plain MiniLM encoding
measured in the same run (texts/s of ``Embedder.embed`` on the same chunks); hit@5 and MRR of
the hybrid retriever on the test split, and for the second pass its time and the scores once
it is done; the no-op re-ingest; the load average before and after. Target: the default path
at least 4x today's ratio with hit@5 and MRR within 0.01 of today's. ``--n N`` adds a
synthetic archive of N meetings (speed only: it has no labels). The embedder and the static
table load before the clock starts. ``--keep DIR`` leaves the archives and indexes in DIR
(``bench.answer --keep DIR`` reuses them); ``--profile`` prints where the ingests spend time.
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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from bench.synth import write_archive
from core.settings import SAMPLE_ARCHIVE, Settings, load_settings
from eval.harness import (
    DEFAULT_FACTS,
    EVAL_ARCHIVES,
    RETRIEVAL_DEPTH,
    Fact,
    gold_rank,
    load_facts,
    retrieval_scores,
)
from index.embed import Embedder, StaticEmbedder
from index.ingest import Ingestor, IngestReport
from index.parse import parse_file
from index.store import IndexStore
from index.vectors import fill_vectors
from rag.backends.extractive import ExtractiveBackend
from rag.retrieve import HybridRetriever

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus" / "minutes"
PATHS = ("inline", "background")
PATH_NAMES = {"inline": "today (MiniLM inline)", "background": "static + 2nd pass"}
TARGET_RATIO = 4.0
TARGET_QUALITY_DROP = 0.01
RATE_TEXTS = 128


@dataclass(frozen=True)
class IngestFigures:
    label: str
    path: str
    meetings: int
    chunks: int
    seconds: float
    cpu_seconds: float
    noop_seconds: float
    peak_rss_mb: float
    failed: list[str]
    minilm_rate: float = 0.0  # plain MiniLM texts/s measured right after this ingest
    scores: dict[str, float] | None = None  # when the ingest returned
    pass_seconds: float = 0.0  # the second pass, if any
    scores_after: dict[str, float] | None = None  # once the second pass is done

    @property
    def rate(self) -> float:
        return self.chunks / self.seconds

    @property
    def ratio(self) -> float:
        return self.rate / self.minilm_rate if self.minilm_rate else 0.0


def bench_settings(
    archive: Path, index_dir: Path, llm: str = ExtractiveBackend.name, vector_pass: str = "inline"
) -> Settings:
    """Settings for one benchmark index; the developer's QUORUM_* variables are ignored but
    for ``QUORUM_DATA_DIR``, where an assembled local model and the static table are cached
    and reused."""
    return Settings.isolated(
        data_dir=load_settings().data_dir,
        index_dir=index_dir,
        archive_dir=archive,
        llm=llm,
        vector_pass=vector_pass,
    )


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
    """Bring ``index_dir`` in line with ``archive`` (a no-op when it already is), MiniLM
    vectors and all."""
    return Ingestor(bench_settings(archive, index_dir), embedder).ingest([archive])


def cpu_seconds() -> float:
    """User plus system CPU time of this process: a figure the machine's other load barely moves."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_average() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def timed(action: Callable[[], Any], profile: bool) -> tuple[Any, float]:
    """Run ``action``; with ``profile``, print its top functions by cumulative and own time."""
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    result = action()
    seconds = time.perf_counter() - started
    if profiler:
        profiler.disable()
        print_profile(profiler)
    return result, seconds


def print_profile(profiler: cProfile.Profile, top: int = 25) -> None:
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        print(f"\n--- profile, top {top} by {order} ---")
        print(out.getvalue().split("\n", 4)[-1].rstrip())


def measure(
    label: str,
    archives: list[Path],
    index_dir: Path,
    embedder: Embedder,
    vector_pass: str,
    profile: bool = False,
) -> IngestFigures:
    """A cold ingest of ``archives`` into an emptied ``index_dir``, then a no-op re-ingest."""
    shutil.rmtree(index_dir, ignore_errors=True)
    settings = bench_settings(archives[0], index_dir, vector_pass=vector_pass)
    progress = ProgressLine(f"{label}, {vector_pass}")
    ingestor = Ingestor(settings, embedder)
    cpu_before = cpu_seconds()
    first, seconds = timed(lambda: ingestor.ingest(archives, progress=progress), profile)
    cpu_used = cpu_seconds() - cpu_before
    progress.done()
    again, noop_seconds = timed(lambda: Ingestor(settings, embedder).ingest(archives), False)
    if again.changed:
        print(f"warning: the re-ingest of {label} changed the index: {again.summary()}")
    return IngestFigures(
        label=label,
        path=vector_pass,
        meetings=len(first.of("added")),
        chunks=first.chunks_added,
        seconds=seconds,
        cpu_seconds=cpu_used,
        noop_seconds=noop_seconds,
        peak_rss_mb=peak_rss_mb(),
        failed=[f"{r.path}: {r.detail}" for r in first.failed],
    )


def minilm_rate(embedder: Embedder, settings: Settings, count: int = RATE_TEXTS) -> float:
    """Plain MiniLM encoding, texts/s, over ``count`` of the index's own chunk texts (evenly
    spaced), in batches of the configured size: the yardstick of the ingest rates."""
    chunks = IndexStore(settings).catalog.chunks()
    texts = [c.embed_text for c in chunks[:: max(len(chunks) // count, 1)][:count]]
    started = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - started)


def test_facts() -> list[Fact]:
    """The answerable facts of the held-out test split (the ones retrieval is scored on)."""
    return [f for f in load_facts(list(DEFAULT_FACTS)) if f.split == "test" and f.answerable]


def retrieval_quality(settings: Settings, embedder: Embedder, facts: list[Fact]) -> dict:
    """hit@5 and MRR of the hybrid retriever over what the index holds now, as the harness
    scores them (the gold item's rank among the top RETRIEVAL_DEPTH passages)."""
    retriever = HybridRetriever(settings, embedder=embedder)
    ranks = [
        gold_rank(f, retriever.retrieve(f.question, top_k=RETRIEVAL_DEPTH).passages) for f in facts
    ]
    return retrieval_scores(ranks)


def second_pass(settings: Settings, embedder: Embedder) -> float:
    """Seconds to fill every pending MiniLM vector (run here, in the foreground)."""
    started = time.perf_counter()
    fill_vectors(IndexStore(settings), embedder)
    return time.perf_counter() - started


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


def scored(scores: dict[str, float] | None) -> str:
    return f"{scores['hit@5']:.4f} / {scores['mrr']:.4f}" if scores else "-"


def print_table(rows: list[IngestFigures]) -> None:
    print(
        f"{'archive':<16}{'path':<23}{'chunks':>7}{'ingest s':>9}{'cpu s':>7}{'chunks/s':>9}"
        f"{'MiniLM/s':>9}{'ratio':>7}  {'hit@5 / MRR at return':<23}{'2nd pass s':>11}"
        f"  {'hit@5 / MRR after':<18}{'no-op s':>8}{'RSS MB':>7}"
    )
    for r in rows:
        pass_s = f"{r.pass_seconds:.1f}" if r.path == "background" and r.scores_after else "-"
        print(
            f"{r.label:<16}{PATH_NAMES[r.path]:<23}{r.chunks:>7}{r.seconds:>9.1f}"
            f"{r.cpu_seconds:>7.1f}{r.rate:>9.1f}{r.minilm_rate:>9.1f}{r.ratio:>7.2f}  "
            f"{scored(r.scores):<23}{pass_s:>11}  {scored(r.scores_after):<18}"
            f"{r.noop_seconds:>8.2f}{r.peak_rss_mb:>7.0f}"
        )
        for failure in r.failed:
            print(f"  failed: {failure}")
    print(
        "(ratio: ingest chunks/s over plain MiniLM texts/s on the same chunks, measured right "
        "after that ingest; hit@5 / MRR: hybrid retrieval, test split of the labelled facts; "
        "RSS: this process's peak so far)"
    )


def print_targets(today: IngestFigures, new: IngestFigures) -> None:
    gain = new.ratio / today.ratio if today.ratio else 0.0
    print("\ntargets")
    print(
        f"  ingest rate ratio at least {TARGET_RATIO:.0f}x today's: {new.ratio:.2f} / "
        f"{today.ratio:.2f} = {gain:.1f}x  {verdict(gain >= TARGET_RATIO)}"
    )
    assert today.scores and new.scores
    for metric in ("hit@5", "mrr"):
        drop = today.scores[metric] - new.scores[metric]
        print(
            f"  {metric} at return within {TARGET_QUALITY_DROP} of today's: "
            f"{new.scores[metric]:.4f} vs {today.scores[metric]:.4f}  "
            f"{verdict(drop <= TARGET_QUALITY_DROP + 1e-9)}"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    parser.add_argument("--n", type=int, default=0, help="synthetic meetings too (speed only)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic archive seed")
    parser.add_argument("--keep", type=Path, help="keep archives and indexes in this directory")
    parser.add_argument("--profile", action="store_true", help="cProfile each cold ingest")
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


def labelled_rows(root: Path, embedder: Embedder, profile: bool) -> list[IngestFigures]:
    """Both paths over the labelled archives, each with its rate yardstick and its scores."""
    facts = test_facts()
    rows = []
    for vector_pass in PATHS:
        index_dir = root / f"labelled-{vector_pass}" / "index"
        figures = measure(
            "labelled", list(EVAL_ARCHIVES), index_dir, embedder, vector_pass, profile
        )
        settings = bench_settings(EVAL_ARCHIVES[0], index_dir, vector_pass=vector_pass)
        figures = replace(
            figures,
            minilm_rate=minilm_rate(embedder, settings),
            scores=retrieval_quality(settings, embedder, facts),
        )
        if vector_pass == "background":
            seconds = second_pass(settings, embedder)
            after = retrieval_quality(settings, embedder, facts)
            figures = replace(figures, pass_seconds=seconds, scores_after=after)
        rows.append(figures)
    return rows


def synthetic_rows(
    root: Path, n: int, seed: int, embedder: Embedder, profile: bool
) -> list[IngestFigures]:
    archive, index_dir = synthetic_archive(root, n, seed)
    rows = []
    for vector_pass in PATHS:
        figures = measure(
            f"synthetic {n}",
            [archive],
            index_dir.with_name(f"index-{vector_pass}"),
            embedder,
            vector_pass,
            profile,
        )
        settings = bench_settings(archive, index_dir.with_name(f"index-{vector_pass}"))
        rows.append(replace(figures, minilm_rate=minilm_rate(embedder, settings)))
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print_parse_throughput()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    embedder, load_seconds = load_embedder()
    static = StaticEmbedder(embedder, load_settings().model_dir)
    started = time.perf_counter()
    static.warm_up()
    print(
        f"Quorum ingest benchmark: {os.cpu_count()} CPU cores, torch threads "
        f"{torch.get_num_threads()}, load average {load_average()}; embedder load "
        f"{load_seconds:.1f} s, static table ready in {time.perf_counter() - started:.1f} s "
        f"({static.table_path}) (neither counted below)\n"
    )
    with workspace(args.keep) as root:
        rows = labelled_rows(root, embedder, args.profile)
        if args.n:
            rows += synthetic_rows(root, args.n, args.seed, embedder, args.profile)
        print_table(rows)
        print_targets(rows[0], rows[1])
        print(f"load average at the end: {load_average()}")
        if args.keep:
            print(f"\narchives and indexes kept in {root}")
    return 1 if any(r.failed for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
