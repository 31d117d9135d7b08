"""The evaluation harness: hand-labelled facts in, deterministic ID-based scores out.

Every fact goes through :class:`rag.answer.AnswerEngine` exactly as a user's question does.
Retrieval is scored against the gold agenda item (meeting date and item heading words), the
answer against the fact's expected strings, citations against the gold item, abstentions
against the unanswerable questions. No model judges anything.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ValidationError

from core.errors import ConfigError
from rag.answer import AnswerEngine
from rag.models import Answer, Citation, Passage

RETRIEVAL_DEPTH = 5
EVAL_DIR = Path(__file__).resolve().parent
DEFAULT_FACTS = EVAL_DIR / "facts.jsonl"
THRESHOLDS = EVAL_DIR / "thresholds.json"


class Fact(BaseModel):
    id: str
    question: str
    all_of: list[list[str]]
    gold_date: str
    gold_item_kw: str
    answerable: bool


def load_facts(path: Path, only: set[str] | None = None) -> list[Fact]:
    """Facts from a JSONL file; a bad line is an error naming the file and line."""
    facts = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read facts ({exc.strerror})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            facts.append(Fact.model_validate_json(line))
        except ValidationError as exc:
            problem = exc.errors()[0]
            raise ConfigError(f"{path}:{number}: {problem['loc']}: {problem['msg']}") from None
    if only:
        missing = only - {f.id for f in facts}
        if missing:
            raise ConfigError(f"{path}: no facts with ids {', '.join(sorted(missing))}")
        facts = [f for f in facts if f.id in only]
    if not facts:
        raise ConfigError(f"{path}: no facts")
    return facts


def is_gold(fact: Fact, date: str, item_label: str) -> bool:
    """Whether a passage or citation is the fact's gold item (by date and heading words)."""
    if date != fact.gold_date:
        return False
    return not fact.gold_item_kw or fact.gold_item_kw.lower() in item_label.lower()


def contains_expected(fact: Fact, text: str) -> bool:
    lowered = text.lower()
    return any(alt.lower() in lowered for group in fact.all_of for alt in group)


def is_accurate(fact: Fact, answer: Answer) -> bool:
    if not fact.answerable or answer.abstained:
        return False
    lowered = answer.answer.lower()
    return all(any(alt.lower() in lowered for alt in group) for group in fact.all_of)


@dataclass
class FactResult:
    fact: Fact
    answer: Answer
    gold_rank: int | None
    accurate: bool
    cited_gold: bool
    good_citations: int
    why: str

    @property
    def passed(self) -> bool:
        if not self.fact.answerable:
            return self.answer.abstained
        return self.accurate and self.cited_gold


def score_fact(fact: Fact, answer: Answer, passages: list[Passage]) -> FactResult:
    gold_rank = next(
        (i for i, p in enumerate(passages, start=1) if is_gold(fact, p.date, p.item_label)), None
    )
    accurate = is_accurate(fact, answer)
    cited_gold = any(is_gold(fact, c.date, c.item) for c in answer.citations)
    good = sum(citation_is_good(fact, c) for c in answer.citations)
    return FactResult(
        fact,
        answer,
        gold_rank,
        accurate,
        cited_gold,
        good,
        explain(fact, answer, accurate, cited_gold, gold_rank),
    )


def citation_is_good(fact: Fact, citation: Citation) -> bool:
    return is_gold(fact, citation.date, citation.item) or (
        fact.answerable and contains_expected(fact, citation.quote)
    )


def explain(fact: Fact, answer: Answer, accurate: bool, cited_gold: bool, rank: int | None) -> str:
    if not fact.answerable:
        return "abstained as it should" if answer.abstained else "answered an unanswerable question"
    if answer.abstained:
        return (
            f"abstained (gold item at rank {rank})"
            if rank
            else "abstained; gold item not retrieved"
        )
    if not accurate:
        missing = [g for g in fact.all_of if not any(a.lower() in answer.answer.lower() for a in g)]
        return f"answer lacks {missing}; gold item rank {rank}"
    return "correct and cites the gold item" if cited_gold else "correct but cites another item"


@dataclass
class EvalReport:
    backend: str
    results: list[FactResult] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        answerable = [r for r in self.results if r.fact.answerable]
        unanswerable = [r for r in self.results if not r.fact.answerable]
        abstained = [r for r in self.results if r.answer.abstained]
        ranks = [r.gold_rank for r in answerable]
        citations = sum(len(r.answer.citations) for r in answerable)
        accurate = [r for r in answerable if r.accurate]
        latencies = sorted(r.answer.timings.get("total", 0.0) for r in self.results)
        return {
            "facts": len(self.results),
            "hit@1": ratio(sum(r == 1 for r in ranks), len(ranks)),
            "hit@5": ratio(sum(r is not None for r in ranks), len(ranks)),
            "mrr": ratio(sum(1 / r for r in ranks if r), len(ranks)),
            "accuracy": ratio(len(accurate), len(answerable)),
            "cited_accuracy": ratio(
                sum(r.accurate and r.cited_gold for r in answerable), len(answerable)
            ),
            "citation_precision": ratio(sum(r.good_citations for r in answerable), citations),
            "citation_recall": ratio(sum(r.cited_gold for r in accurate), len(accurate)),
            "abstention_precision": ratio(
                sum(not r.fact.answerable for r in abstained), len(abstained)
            ),
            "abstention_recall": ratio(
                sum(r.answer.abstained for r in unanswerable), len(unanswerable)
            ),
            "latency_p50": percentile(latencies, 50),
            "latency_p95": percentile(latencies, 95),
        }


def ratio(part: float, whole: int) -> float:
    """part/whole, and 1.0 for an empty whole (nothing to get wrong)."""
    return round(part / whole, 4) if whole else 1.0


def percentile(values: list[float], pct: int) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=100, method="inclusive")[pct - 1], 3)


def run_eval(
    engine: AnswerEngine, facts: list[Fact], progress: Callable[[int, int], None] | None = None
) -> EvalReport:
    """Ask every fact's question as a user would, and score it."""
    engine.warm_up()
    report = EvalReport(engine.backend.name)
    for done, fact in enumerate(facts, start=1):
        answer = engine.ask(fact.question)
        passages = engine.retriever.retrieve(fact.question, top_k=RETRIEVAL_DEPTH).passages
        report.results.append(score_fact(fact, answer, passages))
        if progress:
            progress(done, len(facts))
    return report


def load_thresholds(path: Path = THRESHOLDS) -> dict[str, dict]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read thresholds ({exc})") from None


def below_thresholds(metrics: dict[str, float], floors: dict[str, float]) -> list[str]:
    """Each metric under its floor, as 'name 0.81 < 0.85'; latencies are ceilings."""
    failures = []
    for name, limit in floors.items():
        value = metrics[name]
        if name.startswith("latency") and value > limit:
            failures.append(f"{name} {value} > {limit}")
        elif not name.startswith("latency") and value < limit:
            failures.append(f"{name} {value} < {limit}")
    return failures


def metrics_table(metrics: dict[str, float]) -> str:
    width = max(len(k) for k in metrics)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in metrics.items())


def write_reports(report: EvalReport, directory: Path) -> tuple[Path, Path]:
    """A Markdown and a JSON report, one row per fact, so a failure can be read."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"eval-{report.backend.replace(':', '-')}"
    rows = [fact_row(r) for r in report.results]
    json_path = directory / f"{stem}.json"
    json_path.write_text(
        json.dumps(
            {"backend": report.backend, "metrics": report.metrics(), "facts": rows},
            indent=2,
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    md_path = directory / f"{stem}.md"
    md_path.write_text(markdown_report(report, rows), encoding="utf-8")
    return md_path, json_path


def fact_row(result: FactResult) -> dict:
    return {
        "id": result.fact.id,
        "question": result.fact.question,
        "answer": result.answer.answer,
        "abstained": result.answer.abstained,
        "citations": [c.model_dump() for c in result.answer.citations],
        "gold": f"{result.fact.gold_date} {result.fact.gold_item_kw}".strip(),
        "gold_rank": result.gold_rank,
        "passed": result.passed,
        "why": result.why,
    }


def markdown_report(report: EvalReport, rows: list[dict]) -> str:
    lines = [f"# Quorum evaluation — {report.backend}", "", "| metric | value |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in report.metrics().items()]
    lines += [
        "",
        "| id | pass | why | question | answer | citations |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        cites = "; ".join(f"[{c['n']}] {c['date']} {c['item']}" for c in row["citations"])
        cells = [
            row["id"],
            "✅" if row["passed"] else "❌",
            row["why"],
            row["question"],
            row["answer"],
            cites,
        ]
        lines.append(
            "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
        )
    return "\n".join(lines) + "\n"
