"""Load: simulated users on the served app, over plain HTTP on loopback.

    .venv/bin/python -m bench.load [--users 20] [--seconds 120] [--keep DIR]

Starts ``app.py`` (extractive backend) over an index of the sample archive, then runs
``--users`` threads for ``--seconds``. Each user speaks the protocol the page itself speaks:
it loads the page, then in a loop joins the queue (``/gradio_api/queue/join``) with one of
the page's own events — an answer, the meetings list, the register, a meeting opened — and
reads the event stream (``/gradio_api/queue/data``) until that event completes, pausing
0.5-2 s between requests. Prints requests, errors, throughput and p50/p95 latency per kind.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

from core.settings import PROJECT_ROOT, SAMPLE_ARCHIVE
from rag.backends.extractive import ExtractiveBackend

QUESTIONS = [
    "What did we agree on the Neighbourhood Policing Guarantee?",
    "How many officers were dismissed for gross misconduct in 2024?",
    "What did the PCC ask for on prevention at the September 2024 board?",
    "What actions came out of the HMICFRS PEEL report?",
    "How much did the force spend on police helicopters?",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(workdir: Path) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUORUM_")}
    env.update(
        QUORUM_DATA_DIR=str(workdir / "data"),
        QUORUM_INDEX=str(workdir / "index"),
        QUORUM_LLM=ExtractiveBackend.name,
        HF_HUB_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
    )
    quorum = [sys.executable, "-m", "quorum"]
    subprocess.run([*quorum, "ingest", str(SAMPLE_ARCHIVE), "--quiet"], env=env, check=True)
    port = free_port()
    log = (workdir / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "app.py"), "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return server, url
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"the app exited: see {workdir / 'server.log'}") from None
            time.sleep(0.5)
    raise SystemExit("the app did not start in 300 s")


def endpoints(url: str) -> dict[str, int]:
    """fn_index of the page's events, found by the element that triggers them."""
    with urllib.request.urlopen(f"{url}/config", timeout=30) as response:
        config = json.load(response)
    by_id = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    found = {}
    for index, dep in enumerate(config["dependencies"]):
        for target, event in dep.get("targets", []):
            name = by_id.get(target) or "page"
            found.setdefault(f"{name}:{event}", dep.get("id", index))
    return found


def call(url: str, fn_index: int, data: list, session: str) -> None:
    """Join the queue with one event and read its stream until it completes; raise on error."""
    body = json.dumps(
        {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None}
    ).encode()
    request = urllib.request.Request(
        f"{url}/gradio_api/queue/join", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        json.load(response)
    stream = f"{url}/gradio_api/queue/data?session_hash={session}"
    with urllib.request.urlopen(stream, timeout=600) as response:
        for raw in response:
            line = raw.decode().strip()
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("msg") == "process_completed":
                if not message.get("success"):
                    raise RuntimeError(str(message.get("output"))[:200])
                return
    raise RuntimeError("stream ended before the event completed")


def user(url: str, fns: dict[str, int], meeting_ids: list[str], until: float, record) -> None:
    rng = random.Random()
    session = secrets.token_hex(8)

    def page() -> None:
        """The page and its load event, which fills this session's lists of meetings."""
        urllib.request.urlopen(url, timeout=60).read()
        call(url, fns["page:load"], [], session)

    actions = {
        "page": page,
        "ask": lambda: call(
            url,
            fns["ask-button:click"],
            [rng.choice(QUESTIONS), ExtractiveBackend.name, None, None, []],
            session,
        ),
        "meeting": lambda: call(
            url, fns["meeting-pick:change"], [rng.choice(meeting_ids)], session
        ),
    }
    page()
    weights = {"page": 1, "ask": 3, "meeting": 2}
    while time.monotonic() < until:
        kind = rng.choices(list(weights), list(weights.values()))[0]
        started = time.perf_counter()
        try:
            actions[kind]()
            record(kind, time.perf_counter() - started, None)
        except Exception as exc:  # a load test counts failures; it does not stop on them
            record(kind, time.perf_counter() - started, exc)
        time.sleep(rng.uniform(0.5, 2.0))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="quorum-load-"))
    server, url = start_server(workdir)
    try:
        fns = endpoints(url)
        meeting_ids = meeting_ids_of(workdir)
        latencies: dict[str, list[float]] = defaultdict(list)
        errors: dict[str, list[str]] = defaultdict(list)
        lock = threading.Lock()

        def record(kind: str, seconds: float, error: Exception | None) -> None:
            with lock:
                latencies[kind].append(seconds)
                if error is not None:
                    errors[kind].append(f"{type(error).__name__}: {error}")

        until = time.monotonic() + args.seconds
        threads = [
            threading.Thread(target=user, args=(url, fns, meeting_ids, until, record))
            for _ in range(args.users)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        report(latencies, errors, args)
    finally:
        server.terminate()
        server.wait(timeout=60)
    return 1 if any(errors.values()) else 0


def meeting_ids_of(workdir: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(workdir / "index" / "catalog.sqlite") as db:
        return [row[0] for row in db.execute("SELECT id FROM meetings")]


def report(latencies: dict[str, list[float]], errors: dict[str, list[str]], args) -> None:
    total = sum(len(v) for v in latencies.values())
    failed = sum(len(v) for v in errors.values())
    print(f"{args.users} users, {args.seconds:.0f} s, loopback, extractive backend")
    print(f"requests: {total}  errors: {failed}  throughput: {total / args.seconds:.2f}/s")
    everything = [s for v in latencies.values() for s in v]
    rows = [*sorted(latencies.items()), ("all", everything)]
    for kind, values in rows:
        print(
            f"  {kind:8} n={len(values):4}  p50={statistics.median(values):6.2f} s  "
            f"p95={percentile(values, 0.95):6.2f} s"
        )
    for kind, messages in errors.items():
        for message in sorted(set(messages))[:5]:
            print(f"  error ({kind}): {message}")


if __name__ == "__main__":
    sys.exit(main())
