"""A Chroma server for the benchmarks and the tests: `chroma run` (the command chromadb
installs beside this interpreter) persisting under a directory, on a loopback port."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bench.load import free_port

START_SECONDS = 120


def chroma_command(path: Path, port: int) -> list[str]:
    """The command line of a Chroma server keeping its data in ``path``, on 127.0.0.1:``port``."""
    chroma = Path(sys.executable).parent / "chroma"
    return [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]


def heartbeat_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/api/v2/heartbeat"


@contextlib.contextmanager
def chroma_server(path: Path) -> Iterator[subprocess.Popen]:
    """Start `chroma run` on a free port and wait for its heartbeat; yields the process (its
    port is ``process.port``). Raises SystemExit with the log if it never answers."""
    path.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = path.parent / f"{path.name}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(chroma_command(path, port), stdout=log, stderr=log)
    process.port = port  # type: ignore[attr-defined]
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                with urllib.request.urlopen(heartbeat_url(port), timeout=5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"chroma run did not start:\n{log_path.read_text()}") from None
                time.sleep(0.3)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)
