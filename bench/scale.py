"""Scale: the embedded store and a Chroma server, at 1,000 and 10,000 synthetic meetings.

    .venv/bin/python -m bench.scale [--sizes 1000 10000] [--stores embedded server]
        [--vectors stand-in|static|minilm] [--questions 20] [--seed 0] [--keep DIR]
    .venv/bin/python -m bench.scale --keep DIR --serve-only [--sizes ...] [--stores ...]

For each archive size and store it prints: cold ingest (s, chunks/s), peak RSS of the ingest
and of the serving process (and of the Chroma server), the index's size on disk, a no-op
re-ingest, retrieval and extractive-answer p50/p95 (warm), and how each grows from the
smallest size to the largest. Every phase runs in its own process, so each peak RSS is that
phase's own. The load average is printed beside each phase: the cores may be shared.

``--vectors stand-in`` (the default) stores hashed bag-of-words vectors of MiniLM's size
(384) instead of MiniLM's: everything else of an ingest runs as it does for a user (reading,
parsing, chunking with MiniLM's tokenizer, catalogue, BM25, Chroma's HNSW inserts), but
MiniLM's encoding, which on two shared cores is ~10-20 texts/s and so hours for 100,000
chunks, does not. Questions and answers are always embedded by the real MiniLM, so serving
latencies are real; dense relevance over stand-in vectors is not, so no retrieval quality is
measured here. The MiniLM rate is measured in the same run and a full-MiniLM cold ingest is
printed beside it as an extrapolation, labelled so. ``--vectors static`` is a user's default
path: each meeting commits with the static vectors and its MiniLM vectors are left to the
second pass (not run here; its time is extrapolated the same way), so the ingest and serving
figures are those of an archive as it is when ``quorum ingest`` returns. ``--vectors minilm``
encodes every chunk with MiniLM inside the ingest instead.

``--serve-only`` measures serving again on the indexes an earlier ``--keep DIR`` run left
there (after a change to answering, or on quieter cores), without ingesting anything.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.answer import load_questions, percentile
from bench.chroma import chroma_server
from bench.ingest import bench_settings, verdict, workspace
from bench.synth import write_archive
from core.settings import Settings
from index.embed import Embedder

TARGET_RSS_MB = 2048
TARGET_RETRIEVAL_P95 = 0.150
TARGET_ANSWER_P95 = 0.5
TARGET_NOOP_SECONDS = 10.0
WARM_UP_QUESTION = "What was agreed about the budget?"  # reaches both retrievers at any size
MINILM_SAMPLE = 128  # chunk texts MiniLM encodes to measure its rate in this run


class StandInVectors:
    """MiniLM's tokenizer and window for chunking, but hashed bag-of-words vectors of MiniLM's
    dimension instead of MiniLM's encoding (see the module docstring: what this measures)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors = np.zeros((len(texts), self.inner.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                code = zlib.crc32(word.encode())
                vectors[row, code % vectors.shape[1]] += 1.0 if code & 1 << 20 else -1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-9)).tolist()


# --------------------------------------------------------------------------- child phases


def child_settings(args: argparse.Namespace) -> Settings:
    second_pass = "background" if args.vectors == "static" else "inline"
    settings = bench_settings(Path(args.archive), Path(args.index), vector_pass=second_pass)
    if args.store == "server":
        settings = settings.with_overrides(store="server", chroma_port=args.port)
    return settings


class BudgetSpent(Exception):
    """The ingest ran out of --ingest-budget seconds (the meetings committed so far stay)."""


def ingest_phase(args: argparse.Namespace) -> dict[str, Any]:
    from index.ingest import Ingestor

    embedder = Embedder()
    embedder.warm_up()
    vectors = StandInVectors(embedder) if args.vectors == "stand-in" else embedder
    ingestor = Ingestor(child_settings(args), vectors)
    started = time.perf_counter()

    def stop_when_spent(done: int, total: int, path: str) -> None:
        if args.ingest_budget and time.perf_counter() - started > args.ingest_budget:
            raise BudgetSpent

    try:
        summary = ingestor.ingest([Path(args.archive)], progress=stop_when_spent).summary()
    except BudgetSpent:
        summary = f"stopped after the {args.ingest_budget:.0f} s budget"
    seconds = time.perf_counter() - started
    meetings, chunks = ingestor.store.catalog.counts()
    return {
        "seconds": seconds,
        "summary": summary,
        "meetings": meetings,
        "chunks": chunks,
        "indexed": sorted(ingestor.store.catalog.manifest()),
    }


def serve_phase(args: argparse.Namespace) -> dict[str, Any]:
    """Warm retrieval and extractive answers, as `quorum serve` gives them."""
    from rag.answer import AnswerEngine
    from rag.backends.extractive import ExtractiveBackend
    from rag.retrieve import HybridRetriever

    settings = child_settings(args)
    started = time.perf_counter()
    retriever = HybridRetriever(settings)
    retriever.warm_up()
    engine = AnswerEngine(
        settings, retriever=retriever, backend=ExtractiveBackend(retriever.embedder)
    )
    questions = load_questions(args.questions)
    engine.ask(WARM_UP_QUESTION)
    warm = time.perf_counter() - started
    answers = [engine.ask(question) for question in questions]
    return {
        "warm_seconds": warm,
        "retrieval": [a.timings["retrieve"] for a in answers],
        "total": [a.timings["total"] for a in answers],
    }


def minilm_rate_phase(args: argparse.Namespace) -> dict[str, Any]:
    """MiniLM's own encoding rate on this archive's chunk texts, in this run."""
    from index.chunk import chunk_meeting
    from index.parse import parse_file

    embedder = Embedder()
    embedder.warm_up()
    texts: list[str] = []
    for path in sorted(Path(args.archive).iterdir()):
        meeting = parse_file(path)
        texts += [c.embed_text for c in chunk_meeting(meeting, embedder.count_tokens, 256)]
        if len(texts) >= MINILM_SAMPLE:
            break
    texts = texts[:MINILM_SAMPLE]
    started = time.perf_counter()
    embedder.embed(texts)
    return {"texts_per_second": len(texts) / (time.perf_counter() - started)}


PHASES = {"ingest": ingest_phase, "serve": serve_phase, "minilm-rate": minilm_rate_phase}


# --------------------------------------------------------------------------- the parent


@dataclass
class Run:
    """What one phase printed, its peak RSS and the load average around it."""

    result: dict[str, Any]
    peak_rss_mb: float
    load: tuple[float, float]


def run_phase(phase: str, **options: Any) -> Run:
    """``phase`` in a fresh process (so its peak RSS is its own)."""
    command = [sys.executable, "-m", "bench.scale", "--child", phase]
    for name, value in options.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    before = os.getloadavg()[0]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"bench.scale {phase} failed ({process.returncode}): {output[-2000:]}")
    result = json.loads(output.strip().splitlines()[-1])
    return Run(result, usage.ru_maxrss / 1024, (before, os.getloadavg()[0]))


def megabytes_under(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def vm_peak_mb(pid: int) -> float:
    """Peak resident memory of another process so far (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Figures:
    store: str
    meetings: int
    chunks: int
    ingest: Run
    noop: Run
    serve: Run
    index_mb: float
    server_rss_mb: float | None
    archive_meetings: int = 0  # the archive's size, when the ingest stopped short of it

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.ingest.result["seconds"]

    @property
    def peak_rss_mb(self) -> float:
        return max(self.ingest.peak_rss_mb, self.noop.peak_rss_mb, self.serve.peak_rss_mb)

    def p(self, measure: str, pct: float) -> float:
        return percentile(self.serve.result[measure], pct)


def phase_options(
    store: str, archive: Path, base: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """What every phase of one store's run is told: its archive, index, store and options."""
    return {
        "archive": archive,
        "index": base / f"index-{store}",
        "store": store,
        "vectors": args.vectors,
        "questions": args.questions,
        "ingest_budget": args.ingest_budget,
    }


def measure_store(store: str, archive: Path, base: Path, args: argparse.Namespace) -> Figures:
    options = phase_options(store, archive, base, args)
    index = options["index"]
    if store == "server":
        with chroma_server(base / "chroma-data") as server:
            options["port"] = server.port  # type: ignore[attr-defined]
            figures = measure_phases(store, options)
            figures.server_rss_mb = vm_peak_mb(server.pid)
        figures.index_mb = megabytes_under(index) + megabytes_under(base / "chroma-data")
    else:
        figures = measure_phases(store, options)
        figures.index_mb = megabytes_under(index)
    return figures


def measure_phases(store: str, options: dict[str, Any]) -> Figures:
    """Cold ingest, no-op re-ingest and serving. When the ingest stops on its budget, the
    later phases use a folder of links to the files it committed: figures at that size."""
    label = f"{store}, {Path(options['archive']).parent.name}"
    ingest = run_phase("ingest", **options)
    print(f"  {label}: cold ingest {ingest.result['seconds']:.0f} s ({ingest.result['summary']})")
    archive_meetings = len(list(Path(options["archive"]).iterdir()))
    if ingest.result["meetings"] < archive_meetings:
        options = {**options, "archive": linked_archive(options, ingest.result["indexed"])}
    noop = run_phase("ingest", **options)
    print(f"  {label}: no-op re-ingest {noop.result['seconds']:.2f} s ({noop.result['summary']})")
    serve = run_phase("serve", **options)
    print(f"  {label}: serving warm in {serve.result['warm_seconds']:.1f} s")
    meetings, chunks = ingest.result["meetings"], ingest.result["chunks"]
    stopped = archive_meetings if meetings < archive_meetings else 0
    return Figures(store, meetings, chunks, ingest, noop, serve, 0.0, None, stopped)


def serve_again(store: str, base: Path, args: argparse.Namespace) -> Run:
    """Serving on the index an earlier run kept under ``base`` (a Chroma server restarted on
    its data for the server store)."""
    committed = base / f"committed-{store}"
    archive = committed if committed.exists() else base / "archive"
    options = phase_options(store, archive, base, args)
    if not (options["index"] / "catalog.sqlite").exists():
        raise SystemExit(f"{options['index']}: no index kept there; run bench.scale --keep first")
    if store != "server":
        return run_phase("serve", **options)
    with chroma_server(base / "chroma-data") as server:
        return run_phase("serve", **options, port=server.port)  # type: ignore[attr-defined]


def print_serving(root: Path, args: argparse.Namespace) -> None:
    print(
        f"\n{'store':<9}{'meetings':>9}{'retrieval ms p50/p95':>22}{'answer s p50/p95':>18}"
        f"{'RSS MB':>8}  load"
    )
    for size in sorted(args.sizes):
        for store in args.stores:
            run = serve_again(store, root / f"scale-{size}-seed{args.seed}", args)
            ms = [1000 * percentile(run.result["retrieval"], p) for p in (50, 95)]
            seconds = [percentile(run.result["total"], p) for p in (50, 95)]
            print(
                f"{store:<9}{size:>9,}{f'{ms[0]:.0f} / {ms[1]:.0f}':>22}"
                f"{f'{seconds[0]:.2f} / {seconds[1]:.2f}':>18}{run.peak_rss_mb:>8.0f}"
                f"  {load_text(run)}",
                flush=True,
            )


def linked_archive(options: dict[str, Any], indexed: list[str]) -> Path:
    """A folder of links to the files an ingest committed (the index's own manifest)."""
    folder = Path(options["index"]).parent / f"committed-{options['store']}"
    folder.mkdir(exist_ok=True)
    for path in map(Path, indexed):
        link = folder / path.name
        if not link.exists():
            link.symlink_to(path)
    return folder


def load_text(run: Run) -> str:
    return f"{run.load[0]:.1f}-{run.load[1]:.1f}"


TABLE_HEAD = (
    f"{'store':<9}{'meetings':>16}{'chunks':>8}{'ingest s':>10}{'chunks/s':>9}"
    f"{'RSS MB ingest/serve':>21}{'chroma RSS':>11}{'index MB':>10}{'no-op s':>9}"
    f"{'retrieval ms p50/p95':>22}{'answer s p50/p95':>18}  load (ingest; serve)"
)


def table_row(r: Figures) -> str:
    server = f"{r.server_rss_mb:.0f}" if r.server_rss_mb is not None else "-"
    rss = f"{r.ingest.peak_rss_mb:.0f} / {r.serve.peak_rss_mb:.0f}"
    retrieval = f"{1000 * r.p('retrieval', 50):.0f} / {1000 * r.p('retrieval', 95):.0f}"
    answer = f"{r.p('total', 50):.2f} / {r.p('total', 95):.2f}"
    meetings = f"{r.meetings:,}" + (f" of {r.archive_meetings:,}" if r.archive_meetings else "")
    return (
        f"{r.store:<9}{meetings:>16}{r.chunks:>8,}{r.ingest.result['seconds']:>10.0f}"
        f"{r.chunks_per_second:>9.1f}{rss:>21}{server:>11}{r.index_mb:>10.0f}"
        f"{r.noop.result['seconds']:>9.2f}{retrieval:>22}{answer:>18}"
        f"  {load_text(r.ingest)}; {load_text(r.serve)}"
    )


def print_table(rows: list[Figures]) -> None:
    print("\n" + TABLE_HEAD)
    for row in rows:
        print(table_row(row))


def print_growth(rows: list[Figures]) -> None:
    """Each figure at the largest size over the same at the smallest, per store."""
    print("\ngrowth, largest archive over smallest (x):")
    for store in sorted({r.store for r in rows}):
        mine = sorted((r for r in rows if r.store == store), key=lambda r: r.meetings)
        if len(mine) < 2:
            continue
        small, large = mine[0], mine[-1]
        ratios = {
            "meetings": large.meetings / small.meetings,
            "ingest s": large.ingest.result["seconds"] / small.ingest.result["seconds"],
            "peak RSS": large.peak_rss_mb / small.peak_rss_mb,
            "index MB": large.index_mb / small.index_mb,
            "no-op s": large.noop.result["seconds"] / small.noop.result["seconds"],
            "retrieval p95": large.p("retrieval", 95) / small.p("retrieval", 95),
            "answer p95": large.p("total", 95) / small.p("total", 95),
        }
        print(f"  {store:<9}" + "  ".join(f"{k} {v:.2f}" for k, v in ratios.items()))


def print_targets(rows: list[Figures]) -> None:
    print("\ntargets (2 cores):")
    for r in rows:
        checks = [
            ("peak RSS < 2 GB", f"{r.peak_rss_mb:.0f} MB", r.peak_rss_mb < TARGET_RSS_MB),
            ("retrieval p95 < 150 ms", f"{1000 * r.p('retrieval', 95):.0f} ms",
             r.p("retrieval", 95) < TARGET_RETRIEVAL_P95),
            ("extractive p95 < 0.5 s", f"{r.p('total', 95):.2f} s",
             r.p("total", 95) < TARGET_ANSWER_P95),
            ("no-op re-ingest < 10 s", f"{r.noop.result['seconds']:.2f} s",
             r.noop.result["seconds"] < TARGET_NOOP_SECONDS),
        ]  # fmt: skip
        listed = "; ".join(f"{name}: {figure} {verdict(ok)}" for name, figure, ok in checks)
        print(f"  {r.store}, {r.meetings:,}: {listed}")


def print_extrapolation(rows: list[Figures], minilm_rate: float, vectors: str) -> None:
    if vectors == "minilm":
        return
    what = "the second pass would take" if vectors == "static" else "an ingest would add"
    print(
        f"\nEXTRAPOLATED, not measured: MiniLM encoded {minilm_rate:.1f} chunk texts/s in this "
        f"run; with MiniLM vectors {what} chunks / that rate:"
    )
    for r in rows:
        minilm = r.chunks / minilm_rate
        total = minilm if vectors == "static" else r.ingest.result["seconds"] + minilm
        print(
            f"  {r.store}, {r.meetings:,} meetings: ~{total / 60:.0f} min "
            f"({r.chunks / total:.1f} chunks/s)"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--stores", nargs="+", choices=["embedded", "server"],
                        default=["embedded", "server"])  # fmt: skip
    parser.add_argument("--vectors", choices=["stand-in", "static", "minilm"], default="stand-in")
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument(
        "--ingest-budget",
        type=float,
        default=0.0,
        help="stop each cold ingest after this many seconds and measure the rest at the size "
        "it reached (default: no limit)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="keep archives and indexes in this directory")
    parser.add_argument(
        "--serve-only",
        action="store_true",
        help="only measure serving again, on the indexes a --keep run left in --keep DIR",
    )
    parser.add_argument("--child", choices=sorted(PHASES), help=argparse.SUPPRESS)
    for name in ("archive", "index", "store"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(PHASES[args.child](args)))
        return 0
    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}")
    if args.serve_only:
        if args.keep is None:
            raise SystemExit(
                "--serve-only needs --keep DIR (where an earlier run kept its indexes)"
            )
        print_serving(args.keep, args)
        return 0
    print(f"vectors stored: {args.vectors}" + (" (see --help)" if args.vectors != "minilm" else ""))
    rows: list[Figures] = []
    minilm_rate = 0.0
    with workspace(args.keep) as root:
        for size in sorted(args.sizes):
            base = root / f"scale-{size}-seed{args.seed}"
            archive = base / "archive"
            write_archive(archive, size, args.seed)
            if not minilm_rate:
                minilm_rate = run_phase("minilm-rate", archive=archive).result["texts_per_second"]
            for store in args.stores:
                rows.append(measure_store(store, archive, base, args))
                print(f"  {TABLE_HEAD}\n  {table_row(rows[-1])}", flush=True)
    print_table(rows)
    print_growth(rows)
    print_targets(rows)
    print_extrapolation(rows, minilm_rate, args.vectors)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}; peak RSS of this parent "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
