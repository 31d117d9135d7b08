"""Starting a real server process in a test: a free loopback port, and waiting until it
answers (failing with its log if it dies or never does)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.chroma import chroma_command, heartbeat_url

WAIT = 180  # seconds a server may take to load its models and start answering


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(url: str, process: subprocess.Popen, log: Path, *ready: int) -> None:
    """Poll ``url`` until it answers with one of the ``ready`` statuses (200 by default: a
    login-protected API answers 401 once it is up); fail with the log if the process dies."""
    wanted = ready or (200,)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status in wanted:
                    return
        except urllib.error.HTTPError as error:
            if error.code in wanted:
                return
            time.sleep(0.5)
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    pytest.fail(f"the server did not start serving in {WAIT} s:\n{log.read_text()}")


@contextlib.contextmanager
def chroma_server(path: Path) -> Iterator[int]:
    """A real `chroma run` persisting under ``path`` on a free loopback port; yields the port."""
    path.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = path / "chroma.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            chroma_command(path / "data", port), stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_until_serving(heartbeat_url(port), process, log_path)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
