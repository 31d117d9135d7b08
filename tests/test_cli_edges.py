"""The CLI at its edges: each mistake is a named error with exit 2 (or a clean exit), never a
traceback and never a silently created index; control characters never reach a terminal or
an export."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from core.settings import SAMPLE_ARCHIVE
from tests.conftest import NPG_QUESTION
from tests.test_briefing import QUORUM, run_quorum
from web.render import file_outcome

ESCAPES = "\x1b[2J\x1b[31mRED\x1b[0m\x07\x1b]0;owned\x07"


def assert_named_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    assert "quorum: error:" in done.stderr
    assert all(word in done.stderr for word in words), done.stderr


def test_ask_since_a_word_is_a_named_error(sample_index, tmp_path):
    done = run_quorum(
        "ask", NPG_QUESTION, "--llm", "extractive", "--since", "yesterday",
        "--index", str(sample_index.index_path), data_dir=tmp_path,
    )  # fmt: skip
    assert_named_error(done, "--since", "'yesterday'", "YYYY-MM-DD")


@pytest.mark.parametrize("command", [["status"], ["meetings"], ["ask", NPG_QUESTION]])
def test_a_missing_index_is_never_created_by_a_read(tmp_path, command):
    missing = tmp_path / "no-such-index"
    done = (
        run_quorum(*command, "--llm", "extractive", "--index", str(missing), data_dir=tmp_path)
        if command[0] == "ask"
        else run_quorum(*command, "--index", str(missing), data_dir=tmp_path)
    )
    assert_named_error(done, "no index at", "quorum ingest")
    assert not missing.exists()


def test_an_index_that_is_a_file_is_a_named_error(tmp_path):
    a_file = tmp_path / "index"
    a_file.write_text("not an index")
    done = run_quorum("ingest", str(SAMPLE_ARCHIVE), "--index", str(a_file), data_dir=tmp_path)
    assert_named_error(done, "is a file, not an index directory")


def test_a_closed_pipe_ends_quietly(sample_index, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUORUM_")}
    env.update(HF_HUB_OFFLINE="1", QUORUM_DATA_DIR=str(tmp_path))
    ask = subprocess.Popen(
        [str(QUORUM), "ask", NPG_QUESTION, "--llm", "extractive",
         "--index", str(sample_index.index_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    ask.stdout.close()  # the reader goes away before anything is printed
    stderr = ask.stderr.read().decode()
    assert ask.wait(timeout=600) == 0
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_escape_sequences_in_minutes_reach_no_terminal_or_export(tmp_path, embedder):
    archive = tmp_path / "archive"
    archive.mkdir()
    text = (SAMPLE_ARCHIVE / "002_38b18e688a9d200f.txt").read_text(encoding="utf-8")
    (archive / "m.txt").write_text(
        text.replace("It was agreed to review communications.",
                     f"It was agreed to review {ESCAPES}communications."),
        encoding="utf-8",
    )  # fmt: skip
    index = ["--index", str(tmp_path / "index")]
    ingested = run_quorum("ingest", str(archive), "--quiet", *index, data_dir=tmp_path)
    assert ingested.returncode == 0, ingested.stderr
    shown = run_quorum("show", "2025-01-28", "--json", *index, data_dir=tmp_path)
    asked = run_quorum("ask", "review communications", "--llm", "extractive", *index,
                       data_dir=tmp_path)  # fmt: skip
    word = tmp_path / "brief.docx"
    briefed = run_quorum(
        "brief", "meeting", "2025-01-28", "--llm", "extractive",
        "--format", "docx", "-o", str(word), *index, data_dir=tmp_path,
    )  # fmt: skip
    assert briefed.returncode == 0, briefed.stderr
    for done in (shown, asked):
        assert done.returncode == 0, done.stderr
        assert "\x1b" not in done.stdout and "\x07" not in done.stdout
        assert "\\u001b" not in done.stdout
    assert "review RED" in asked.stdout or "review RED" in shown.stdout


def test_a_duplicate_uploads_message_shows_no_server_path():
    from index.ingest import FileResult

    result = FileResult(
        "/srv/quorum/uploads/b.txt", "duplicate", "same content as /srv/quorum/uploads/a.txt"
    )
    assert file_outcome(result) == "b.txt: same content as a.txt"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files anyway")
def test_a_read_only_index_refuses_ingest_by_name(sample_index, tmp_path):
    index = tmp_path / "ro-index"
    run_quorum("ingest", str(SAMPLE_ARCHIVE), "--index", str(index), data_dir=tmp_path)
    for path in [index, *index.rglob("*")]:
        path.chmod(0o500 if path.is_dir() else 0o400)
    done = run_quorum("ingest", str(SAMPLE_ARCHIVE), "--index", str(index), data_dir=tmp_path)
    assert_named_error(done, "read-only")
    Path(index).chmod(0o700)
