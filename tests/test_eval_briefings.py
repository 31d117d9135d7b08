"""The briefing eval: key points credited only for what a briefing's reader reads, the
labelled key points well formed, and the eval run as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.briefings import (
    KEYPOINTS,
    BriefingReport,
    KeyPoint,
    covers,
    gate_misses,
    load_keypoints,
    run_briefing_eval,
    score_meeting,
)
from eval.harness import EVAL_DIR
from rag.briefing.engine import BriefingEngine
from rag.briefing.models import Briefing, Bullet, Section
from rag.models import Citation
from tests.test_briefing import run_quorum

SAMPLES = {"000_9a374a5a77b903e1.txt", "002_38b18e688a9d200f.txt", "004_4f5460b6f408a5cd.txt"}


def briefing_with(bullet: str, quote: str = "unrelated words") -> Briefing:
    citation = Citation(
        n=1, meeting="m", date="2025-01-28", item="1. Item", source="s", quote=quote, start=0, end=1
    )
    return Briefing(
        title="Briefing: m — 2025-01-28",
        kind="meeting",
        sections=[Section(heading="Items", bullets=[Bullet(text=bullet)])],
        citations=[citation],
        backend="extractive",
    )


@pytest.mark.parametrize(
    "all_of, bullet, expected",
    [
        ([["3"]], "It was agreed [3].", False),  # a citation marker says nothing
        ([["AH"]], "We look ahead [1].", False),  # word boundaries
        ([["20"]], "The budget for 2025 [1].", False),  # figures as figures
        ([["£1m"]], "An extra £1,000,000 was set aside [1].", True),
        ([["business case"], ["prevention"]], "A business case was asked for [1].", False),
        ([["business case"], ["prevention"]], "A business case for prevention [1].", True),
        ([["Chair", "Chairman"]], "Mr Bailey was elected Chairman [1].", True),
    ],
)
def test_a_key_point_needs_every_group_said_in_the_briefing_text(all_of, bullet, expected):
    result = score_meeting(
        load_keypoints()[0].model_copy(update={"points": [KeyPoint(point="p", all_of=all_of)]}),
        briefing_with(bullet),
    )
    assert result.covered == [expected]


def test_the_references_quoted_words_are_not_searched():
    briefing = briefing_with("Something else was noted [1].", quote="the Drug Market Report")
    assert not covers(KeyPoint(point="p", all_of=[["Drug Market Report"]]), "x")
    result = score_meeting(
        load_keypoints()[0].model_copy(
            update={"points": [KeyPoint(point="p", all_of=[["Drug Market Report"]])]}
        ),
        briefing,
    )
    assert result.covered == [False] and result.uncited == 0


def test_an_uncited_bullet_is_counted():
    result = score_meeting(load_keypoints()[0], briefing_with("A claim with no marker."))
    assert result.uncited == 1


def test_key_points_cover_twenty_meetings_of_both_splits_as_splits_json_says():
    labelled = load_keypoints(KEYPOINTS)
    splits = json.loads((EVAL_DIR / "splits.json").read_text(encoding="utf-8"))
    assert len(labelled) >= 20 and len({m.source for m in labelled}) == len(labelled)
    for meeting in labelled:
        assert meeting.source in splits[meeting.split], meeting.source
        assert 4 <= len(meeting.points) <= 8, meeting.source
    assert {m.split for m in labelled} == {"dev", "test"}


def test_gates_have_floors_and_ceilings():
    report = BriefingReport("extractive", 350)
    gate = {"split": None, "floors": {"coverage": 0.5}, "ceilings": {"uncited": 0}}
    assert gate_misses(report, gate) == []  # nothing scored: coverage 1.0, 0 uncited
    assert gate_misses(report, {"floors": {"coverage": 1.5}}) == ["coverage 1.0 < 1.5"]


def test_briefing_eval_scores_the_sample_meetings(sample_index, embedder):
    from rag.retrieve import HybridRetriever

    engine = BriefingEngine(sample_index, HybridRetriever(sample_index, embedder=embedder))
    labelled = [m for m in load_keypoints() if m.source in SAMPLES]
    report = run_briefing_eval(engine, labelled)
    metrics = report.metrics("dev")
    assert metrics["meetings"] == 3 and metrics["key_points"] == 24
    assert metrics["uncited"] == 0 and metrics["words_max"] <= 350
    assert 0.5 <= metrics["coverage"] <= 1.0
    assert all(r.seconds > 0 for r in report.results)


def test_cli_eval_briefings_prints_the_table_and_gates(sample_index, tmp_path: Path):
    keypoints = tmp_path / "keypoints.jsonl"
    keypoints.write_text(
        "\n".join(m.model_dump_json() for m in load_keypoints() if m.source in SAMPLES),
        encoding="utf-8",
    )
    done = run_quorum(
        "eval", "--briefings", "--keypoints", str(keypoints), "--no-ingest", "--llm",
        "extractive", "--index", str(sample_index.index_path), "--report", str(tmp_path),
        data_dir=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "backend: extractive (budget 350 words)" in done.stdout
    assert "coverage" in done.stdout and "uncited" in done.stdout
    report = json.loads((tmp_path / "briefings-extractive.json").read_text(encoding="utf-8"))
    assert report["metrics_by_split"]["dev"]["meetings"] == 3
