"""The scale benchmark runs end to end on a tiny synthetic archive, and re-measures serving on
the indexes it kept (real ingest, real MiniLM for questions, real Chroma)."""

from __future__ import annotations

import re

import pytest

from bench.scale import main


def test_scale_bench_prints_its_table_then_serves_again_from_the_kept_index(tmp_path, capsys):
    sizes = ["--sizes", "6", "--stores", "embedded", "--questions", "2", "--keep", str(tmp_path)]
    assert main(sizes) == 0
    printed = capsys.readouterr().out
    row = re.search(r"^embedded\s+6\s+(\d+)\s", printed, re.M)
    assert row and int(row.group(1)) > 6  # every meeting gave at least one chunk
    assert "no-op re-ingest < 10 s" in printed and "EXTRAPOLATED" in printed

    assert main([*sizes, "--serve-only"]) == 0
    again = capsys.readouterr().out
    assert re.search(r"^embedded\s+6\s+\d+ / \d+\s+[\d.]+ / [\d.]+", again, re.M), again
    assert "cold ingest" not in again  # nothing was ingested again


def test_serve_only_without_a_kept_index_names_what_is_missing(tmp_path, capsys):

    with pytest.raises(SystemExit, match="no index kept there"):
        main(["--sizes", "6", "--stores", "embedded", "--keep", str(tmp_path), "--serve-only"])
