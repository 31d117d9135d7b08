"""Briefing evaluation: how many hand-labelled key points a meeting briefing carries, in how
many words, with how many uncited bullets, in how many seconds.

Each labelled meeting (``eval/keypoints.jsonl``: its file name, its split and 4–8 key points a
staff officer would insist on) is briefed through :class:`rag.briefing.engine.BriefingEngine`
exactly as ``quorum brief meeting`` does. The matching rule is the answer scorer's
(:func:`eval.harness.says`), applied to what a reader reads and nothing else:

* the text is the briefing's title, overview, section headings and bullets with their leads
  and notes (:func:`rag.briefing.render.reading_text`), with ``[n]`` markers taken out; the
  references (which quote whole sentences) and footnotes are not searched;
* a key point is present when every one of its ``all_of`` groups has an alternative said in
  that text: words at word boundaries ("AH" is not in "ahead"), case and runs of spaces
  ignored, figures as figures ("£1m" is "£1,000,000"; "20" is not in "2025").

Words are counted on the same text (tokens holding a letter or digit). A bullet (or overview
sentence) is uncited when it carries no ``[n]`` marker.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import BaseModel, ValidationError

from core.errors import ConfigError, NotFoundError
from eval.harness import EVAL_DIR, ratio, says, split_table
from index.models import Meeting
from rag.briefing.engine import BriefingEngine
from rag.briefing.models import Briefing
from rag.briefing.render import reading_text, uncited_bullets, word_count

KEYPOINTS = EVAL_DIR / "keypoints.jsonl"


class KeyPoint(BaseModel):
    point: str
    all_of: list[list[str]]


class LabelledMeeting(BaseModel):
    source: str
    split: Literal["dev", "test"]
    points: list[KeyPoint]


@dataclass
class MeetingResult:
    labelled: LabelledMeeting
    briefing: Briefing
    covered: list[bool]
    words: int
    uncited: int
    seconds: float

    def missing(self) -> list[str]:
        return [
            p.point for p, hit in zip(self.labelled.points, self.covered, strict=True) if not hit
        ]


@dataclass
class BriefingReport:
    backend: str
    budget: int
    results: list[MeetingResult] = field(default_factory=list)

    def splits(self) -> list[str]:
        return sorted({r.labelled.split for r in self.results})

    def metrics(self, split: str | None = None) -> dict[str, float]:
        results = [r for r in self.results if split is None or r.labelled.split == split]
        points = [hit for r in results for hit in r.covered]
        words = [r.words for r in results] or [0]
        seconds = [r.seconds for r in results] or [0.0]
        return {
            "meetings": len(results),
            "key_points": len(points),
            "coverage": ratio(sum(points), len(points)),
            "words_mean": round(statistics.mean(words), 1),
            "words_max": max(words),
            "over_budget": sum(r.words > self.budget for r in results),
            "uncited": sum(r.uncited for r in results),
            "seconds_p50": round(statistics.median(seconds), 2),
            "seconds_max": round(max(seconds), 2),
        }


def load_keypoints(path: Path = KEYPOINTS) -> list[LabelledMeeting]:
    """Labelled meetings from JSONL; a bad line is an error naming the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read key points ({exc.strerror})") from None
    found = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                found.append(LabelledMeeting.model_validate_json(line))
            except ValidationError as exc:
                problem = exc.errors()[0]
                raise ConfigError(f"{path}:{number}: {problem['loc']}: {problem['msg']}") from None
    return found


def covers(point: KeyPoint, text: str) -> bool:
    return all(any(says(alternative, text) for alternative in group) for group in point.all_of)


def meeting_named(meetings: list[Meeting], source: str) -> Meeting:
    """The indexed meeting read from the file called ``source``."""
    for meeting in meetings:
        if PurePosixPath(meeting.source).name == source:
            return meeting
    raise NotFoundError(f"{source}: labelled in key points but not in the index")


def score_meeting(labelled: LabelledMeeting, briefing: Briefing) -> MeetingResult:
    text = reading_text(briefing)
    return MeetingResult(
        labelled,
        briefing,
        [covers(point, text) for point in labelled.points],
        word_count(briefing),
        len(uncited_bullets(briefing)),
        round(briefing.timings.get("total", 0.0), 3),
    )


def run_briefing_eval(
    engine: BriefingEngine, labelled: list[LabelledMeeting], progress=None
) -> BriefingReport:
    """Brief every labelled meeting as ``quorum brief meeting`` does, and score it; the
    models load first, so seconds are those of a warm engine."""
    engine.answers.warm_up()
    meetings = engine.retriever.meetings()
    report = BriefingReport(engine.answers.backend.name, engine.settings.brief_words)
    for done, one in enumerate(labelled, start=1):
        briefing = engine.meeting_briefing(meeting_named(meetings, one.source))
        report.results.append(score_meeting(one, briefing))
        if progress:
            progress(done, len(labelled))
    return report


def briefing_table(report: BriefingReport) -> str:
    """One column per split and one for every meeting, a row per metric."""
    return split_table(report.metrics, report.splits())


def gate_misses(report: BriefingReport, gate: dict) -> list[str]:
    """Each metric of the gate's split below its floor or above its ceiling."""
    metrics = report.metrics(gate.get("split"))
    misses = [
        f"{name} {metrics[name]} < {floor}"
        for name, floor in gate.get("floors", {}).items()
        if metrics[name] < floor
    ]
    misses += [
        f"{name} {metrics[name]} > {ceiling}"
        for name, ceiling in gate.get("ceilings", {}).items()
        if metrics[name] > ceiling
    ]
    return misses


def write_briefing_report(report: BriefingReport, directory: Path) -> Path:
    """A JSON report: the metrics per split and, per meeting, the missing key points."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"briefings-{report.backend.replace(':', '-')}.json"
    rows = [
        {
            "source": r.labelled.source,
            "split": r.labelled.split,
            "covered": f"{sum(r.covered)}/{len(r.covered)}",
            "missing": r.missing(),
            "words": r.words,
            "uncited": r.uncited,
            "seconds": r.seconds,
            "text": reading_text(r.briefing),
        }
        for r in report.results
    ]
    body = {
        "backend": report.backend,
        "budget": report.budget,
        "metrics_by_split": {split: report.metrics(split) for split in report.splits()},
        "meetings": rows,
    }
    path.write_text(json.dumps(body, indent=2, ensure_ascii=False), encoding="utf-8")
    return path
