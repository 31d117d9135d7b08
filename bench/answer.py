"""Answer latency: p50/p95 over questions from eval/facts.jsonl, on the sample archive and on a
synthetic archive of N meetings.

    .venv/bin/python -m bench.answer [--n 1000] [--seed 0] [--questions 20] [--local] [--keep DIR]
        [--profile]

Measures retrieval (the ``retrieve`` stage of each answer), extractive answers (total) and, with
``--local``, answers from the embedded local model (time to first token and total). Models load
and one untimed question runs before the clock starts; load times print on their own lines.
``--keep DIR`` reuses the archives and indexes an earlier ``bench.answer --keep DIR`` built
(the ingest then is a no-op), or builds them there for the next run. Targets are on p95,
marked PASS or MISS.
``--profile`` prints where the timed extractive answers spend their time.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.ingest import (
    bench_settings,
    ensure_index,
    load_embedder,
    print_profile,
    sample_archive,
    synthetic_archive,
    verdict,
    workspace,
)
from core.settings import PROJECT_ROOT
from index.embed import Embedder
from rag.answer import AnswerEngine
from rag.backends import get_backend
from rag.backends.base import Backend
from rag.backends.extractive import ExtractiveBackend
from rag.models import Answer
from rag.retrieve import HybridRetriever

FACTS = PROJECT_ROOT / "eval" / "facts.jsonl"
SAMPLE_RETRIEVAL_TARGET = 0.100
SYNTHETIC_RETRIEVAL_TARGET = 0.300
EXTRACTIVE_TARGET = 0.5
FIRST_TOKEN_TARGET = 3.0
LOCAL_TOTAL_TARGET = 20.0


@dataclass(frozen=True)
class Series:
    """One measure on one archive: a latency per question, and its p95 target if it has one."""

    archive: str
    measure: str
    seconds: list[float]
    target: float | None = None


def load_questions(count: int) -> list[str]:
    """``count`` questions spread evenly over the labelled set (all of it if it is smaller)."""
    rows = [json.loads(line)["question"] for line in FACTS.read_text().splitlines() if line]
    count = min(count, len(rows))
    return [rows[i * len(rows) // count] for i in range(count)]


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``pct``% of values at or below."""
    ordered = sorted(values)
    return ordered[max(math.ceil(pct / 100 * len(ordered)) - 1, 0)]


def timed_answers(
    engine: AnswerEngine, questions: list[str], profile: bool = False
) -> list[Answer]:
    """Answers to ``questions`` after one untimed warm-up question, optionally profiled."""
    engine.ask(questions[0])
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    answers = [engine.ask(question) for question in questions]
    if profiler:
        profiler.disable()
        print_profile(profiler)
    return answers


def extractive_series(
    label: str,
    retriever: HybridRetriever,
    questions: list[str],
    retrieval_target: float,
    profile: bool = False,
) -> list[Series]:
    """Retrieval and extractive-answer latencies (retrieval is the answers' own first stage)."""
    engine = AnswerEngine(
        retriever.settings, retriever=retriever, backend=ExtractiveBackend(retriever.embedder)
    )
    answers = timed_answers(engine, questions, profile)
    return [
        Series(label, "retrieval", [a.timings["retrieve"] for a in answers], retrieval_target),
        Series(label, "  extractive draft", [a.timings["draft"] for a in answers]),
        Series(label, "  verification", [a.timings["verify"] for a in answers]),
        Series(label, "extractive total", [a.timings["total"] for a in answers], EXTRACTIVE_TARGET),
    ]


def local_series(
    label: str, retriever: HybridRetriever, questions: list[str], backend: Backend
) -> list[Series]:
    """Time to first token and total for answers drafted by the already loaded local model."""
    settings = retriever.settings.with_overrides(llm="local")
    engine = AnswerEngine(settings, retriever=retriever, backend=backend)
    answers = timed_answers(engine, questions)
    first = [a.timings["first_token"] for a in answers if "first_token" in a.timings]
    return [
        Series(label, "local first token", first, FIRST_TOKEN_TARGET),
        Series(label, "local total", [a.timings["total"] for a in answers], LOCAL_TOTAL_TARGET),
    ]


def load_local_llm(paths: tuple[Path, Path], embedder: Embedder) -> Backend:
    """The default local model, assembled if needed and loaded; prints how long that took.
    ``embedder`` is the loaded one, which the model's prompt ranking shares."""
    settings = bench_settings(*paths, llm="local")
    started = time.perf_counter()
    llm = get_backend(settings.llm, settings, embedder)
    llm.warm_up()
    print(f"local model {settings.local_model} loaded in {time.perf_counter() - started:.1f} s")
    return llm


def prepare(label: str, paths: tuple[Path, Path], embedder: Embedder) -> HybridRetriever:
    """Index ``paths`` (a no-op when kept from an earlier run) and warm a retriever over it."""
    archive, index_dir = paths
    started = time.perf_counter()
    report = ensure_index(archive, index_dir, embedder)
    print(f"{label}: index ready in {time.perf_counter() - started:.1f} s ({report.summary()})")
    retriever = HybridRetriever(bench_settings(archive, index_dir), embedder=embedder)
    retriever.warm_up()
    return retriever


def print_series(rows: list[Series]) -> None:
    print(f"\n{'archive':<18}{'measure':<20}{'n':>4}{'p50':>10}{'p95':>10}{'target p95':>13}")
    for row in rows:
        if not row.seconds:
            print(f"{row.archive:<18}{row.measure:<20}{0:>4}  (no measurements)")
            continue
        p50, p95 = statistics.median(row.seconds), percentile(row.seconds, 95)
        target = "" if row.target is None else f"{'< ' + _fmt(row.target):>13}  "
        judged = "" if row.target is None else verdict(p95 < row.target)
        print(
            f"{row.archive:<18}{row.measure:<20}{len(row.seconds):>4}{_fmt(p50):>10}"
            f"{_fmt(p95):>10}{target}{judged}"
        )


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.answer", description=__doc__)
    parser.add_argument("--n", type=int, default=1000, help="synthetic meetings (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic archive seed")
    parser.add_argument("--questions", type=int, default=20, help="questions per archive")
    parser.add_argument("--local", action="store_true", help="also time the local LLM backend")
    parser.add_argument("--keep", type=Path, help="reuse or keep archives and indexes here")
    parser.add_argument("--profile", action="store_true", help="cProfile the extractive answers")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    questions = load_questions(args.questions)
    embedder, load_seconds = load_embedder()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"Quorum answer benchmark: {len(questions)} questions from {FACTS.name}, "
        f"{os.cpu_count()} CPU cores, load average {load}; embedder load {load_seconds:.1f} s"
    )
    rows: list[Series] = []
    with workspace(args.keep) as root:
        archives = [
            ("sample", sample_archive(root), SAMPLE_RETRIEVAL_TARGET),
            (
                f"synthetic ({args.n})",
                synthetic_archive(root, args.n, args.seed),
                SYNTHETIC_RETRIEVAL_TARGET,
            ),
        ]
        retrievers = {}
        for label, paths, retrieval_target in archives:
            retrievers[label] = prepare(label, paths, embedder)
            if args.profile:
                print(f"\n=== profile of the extractive answers on {label}")
            rows += extractive_series(
                label, retrievers[label], questions, retrieval_target, args.profile
            )
        if args.local:
            llm = load_local_llm(archives[0][1], embedder)
            for label, retriever in retrievers.items():
                rows += local_series(label, retriever, questions, llm)
    print_series(rows)
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
