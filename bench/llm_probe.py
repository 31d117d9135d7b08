"""Measure the local models on this machine: load time, prompt and generation speed, and time to
first token for a ~1,000-token RAG prompt built from the sample minutes.

    .venv/bin/python bench/llm_probe.py [--models qwen2.5-coder-0.5b ...] [--threads 2]

Rates come from llama.cpp's own timings (final stream chunk); the prompt cache is off so every
run processes its whole prompt. Time to first token is measured through ``LocalLLM.stream``,
the path the app uses.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import xllamacpp

from core.settings import SAMPLE_ARCHIVE, load_settings
from rag.backends.local import LocalLLM, build_engine_params
from rag.backends.wire import Message
from rag.gguf import MODELS, ensure_model

PROMPT_CHARS = 3600  # ~1,000 Qwen tokens of minutes text
QUESTIONS = (
    "What did the board note about arrests during the national civil unrest?",
    "Which apologies were recorded at the meeting?",
    "What was agreed about the minutes of the previous meeting?",
)


def passages_prompt(question: str, offset: int) -> list[Message]:
    """Numbered passages from the sample archive (shifted by ``offset``) and one question."""
    text = " ".join(p.read_text(encoding="utf-8") for p in sorted(SAMPLE_ARCHIVE.glob("*.txt")))
    words = " ".join(text.split())[offset : offset + PROMPT_CHARS]
    blocks = [words[i : i + 900] for i in range(0, len(words), 900)]
    body = "\n\n".join(
        f"[{n}] Performance and Governance Board — 2024-09-20 — {n}. Item\n{block}"
        for n, block in enumerate(blocks, 1)
    )
    return [
        {"role": "system", "content": "Answer only from the numbered passages and cite them."},
        {"role": "user", "content": f"{body}\n\nQuestion: {question}"},
    ]


def engine_run(server: Any, messages: list[Message], max_tokens: int) -> dict[str, float]:
    """One streamed generation straight on the engine; returns llama.cpp's timings."""
    timings: dict[str, float] = {}

    def on_chunk(chunk: dict[str, Any]) -> bool:
        timings.update(chunk.get("timings") or {})
        return False

    request = {
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "cache_prompt": False,
    }
    server.handle_chat_completions(request, on_chunk)
    return timings


def time_to_first_token(llm: LocalLLM, messages: list[Message], max_tokens: int) -> float:
    start = time.perf_counter()
    stream = llm.stream(messages, max_tokens=max_tokens)
    next(stream)
    elapsed = time.perf_counter() - start
    stream.close()
    return elapsed


def probe(name: str, model_dir: Path, threads: int, max_tokens: int) -> None:
    start = time.perf_counter()
    path = ensure_model(name, model_dir)
    ready = time.perf_counter() - start
    with tempfile.TemporaryDirectory(prefix="quorum-probe-") as sock_dir:
        params = build_engine_params(
            path,
            n_ctx=4096,
            n_threads=threads,
            listen=f"{sock_dir}/engine.sock",
            api_key="probe",
        )
        start = time.perf_counter()
        server = xllamacpp.Server(params)
        load = time.perf_counter() - start
        runs = [
            engine_run(server, passages_prompt(q, i * 4000), max_tokens)
            for i, q in enumerate(QUESTIONS)
        ]
        del server
    llm = LocalLLM(name, model_dir, n_ctx=4096, n_threads=threads)
    llm.warm_up()
    ttfts = [
        time_to_first_token(llm, passages_prompt(q, 1000 + i * 4000), 8)
        for i, q in enumerate(QUESTIONS)
    ]
    med = statistics.median
    print(
        f"{name}: assemble/verify {ready:.2f}s, load {load:.2f}s, "
        f"prompt {med(r['prompt_n'] for r in runs):.0f} tok at "
        f"{med(r['prompt_per_second'] for r in runs):.0f} tok/s, "
        f"generation {med(r['predicted_n'] for r in runs):.0f} tok at "
        f"{med(r['predicted_per_second'] for r in runs):.1f} tok/s, "
        f"TTFT via LocalLLM.stream {med(ttfts):.1f}s (median of {len(ttfts)}; "
        f"runs {', '.join(f'{t:.1f}' for t in ttfts)}); "
        f"1-min load average {os.getloadavg()[0]:.2f} (other work on the machine skews all this)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=sorted(MODELS), choices=sorted(MODELS))
    parser.add_argument("--model-dir", type=Path, default=load_settings().model_dir)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    for name in args.models:
        probe(name, args.model_dir, args.threads, args.max_tokens)


if __name__ == "__main__":
    main()
