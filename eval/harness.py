"""The evaluation harness: hand-labelled facts in, deterministic ID-based scores out.

Every fact goes through :class:`rag.answer.AnswerEngine` exactly as a user's question does.
Retrieval is scored against the gold agenda item, the answer against the fact's expected
strings, citations against the gold item, abstentions against the unanswerable questions. No
model judges anything, and nothing is credited by accident:

* expected strings are matched in the answer with its ``[n]`` markers taken out, at word
  boundaries ("AH" is not in "ahead"), and figures as figures ("£1.2m" is "£1,200,000";
  "20" is not in "2025");
* the gold item is named by the fact: the meeting (``gold_source`` file name and/or
  ``gold_date``) and a distinctive part of the item's label (``gold_item_kw``); "Meeting
  details" is the block before the first item, "*" any item of the meeting (whole-meeting
  questions only);
* a citation is good only when it points at the gold item.
"""

from __future__ import annotations

import json
import random
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from core.errors import ConfigError
from core.settings import PROJECT_ROOT, SAMPLE_ARCHIVE
from rag.answer import AnswerEngine
from rag.claims import NUMBER_WORDS, figures
from rag.models import Answer, Citation, Passage

RETRIEVAL_DEPTH = 5
EVAL_DIR = Path(__file__).resolve().parent
DEFAULT_FACTS = (EVAL_DIR / "facts.jsonl", EVAL_DIR / "facts_corpus.jsonl")
EVAL_ARCHIVES = (SAMPLE_ARCHIVE, PROJECT_ROOT / "data" / "corpus" / "minutes")
"""What the default facts are about: the sample minutes and the corpus of other bodies."""
THRESHOLDS = EVAL_DIR / "thresholds.json"


WHOLE_MEETING = "*"
_MARKERS = re.compile(r"\s*\[\d+\]")
_FIGURE_ONLY = re.compile(
    r"[£$€]?\s?\d[\d,.]*\s?(?:k|m|bn|thousand|million|billion|%|per\s?cent)?", re.IGNORECASE
)

_CARDINAL_WORD = re.compile(
    r"\b(" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")\b", re.IGNORECASE
)


class Fact(BaseModel):
    """One labelled question: what a correct answer must contain, and where it comes from."""

    id: str
    question: str
    all_of: list[list[str]] = Field(
        default_factory=list, description="Groups of alternatives; one of each must be said."
    )
    gold_source: str | None = Field(None, description="File name of the gold meeting.")
    gold_date: str | None = None
    gold_item_kw: str | None = Field(
        "", description="Part of the gold item's label; 'Meeting details' or '*' (any item)."
    )
    answerable: bool
    category: str = ""
    split: Literal["dev", "test"] = "dev"


def load_facts(paths: Sequence[Path], only: set[str] | None = None) -> list[Fact]:
    """Facts from JSONL files; a bad line is an error naming the file and line."""
    facts = [fact for path in paths for fact in read_facts(path)]
    named = ", ".join(str(path) for path in paths)
    if only:
        missing = only - {f.id for f in facts}
        if missing:
            raise ConfigError(f"{named}: no facts with ids {', '.join(sorted(missing))}")
        facts = [f for f in facts if f.id in only]
    if not facts:
        raise ConfigError(f"{named}: no facts")
    return facts


def sample_facts(facts: list[Fact], size: int, seed: int) -> list[Fact]:
    """``size`` facts drawn with a fixed seed, answerable and unanswerable in proportion, so a
    slow backend can be gated on a subset nobody picked by hand."""
    pools = [
        sorted((f for f in facts if f.answerable is answerable), key=lambda f: f.id)
        for answerable in (True, False)
    ]
    rng = random.Random(seed)
    drawn = []
    for pool in pools:
        share = round(size * len(pool) / len(facts)) if facts else 0
        drawn += rng.sample(pool, min(share, len(pool)))
    return sorted(drawn, key=lambda f: f.id)


def read_facts(path: Path) -> list[Fact]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read facts ({exc.strerror})") from None
    facts = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            facts.append(Fact.model_validate_json(line))
        except ValidationError as exc:
            problem = exc.errors()[0]
            raise ConfigError(f"{path}:{number}: {problem['loc']}: {problem['msg']}") from None
    return facts


def is_gold(fact: Fact, date: str, item_label: str, source: str = "") -> bool:
    """Whether a passage or citation is the fact's gold item: the gold meeting (by file name
    when the fact names one, else by date) and an item whose label holds ``gold_item_kw``."""
    if not fact.answerable:
        return False
    if fact.gold_source and source:
        if PurePosixPath(source).name != fact.gold_source:
            return False
    elif fact.gold_date and date != fact.gold_date:
        return False
    wanted = (fact.gold_item_kw or "").casefold()
    return wanted == WHOLE_MEETING or (bool(wanted) and wanted in item_label.casefold())


def says(alternative: str, text: str) -> bool:
    """Whether ``text`` says ``alternative``: figures compared as figures (inside a phrase
    too: "four year term" says "4 year term"), words at word boundaries, case and runs of
    spaces ignored."""
    if _FIGURE_ONLY.fullmatch(alternative.strip()):
        wanted = figures(alternative)
        return bool(wanted) and wanted <= figures(text)
    words = r"\s+".join(re.escape(w) for w in with_digits(alternative).split())
    return re.search(rf"(?<!\w){words}(?!\w)", with_digits(text), re.IGNORECASE) is not None


def with_digits(text: str) -> str:
    """Cardinal number words written as digits, so a phrase's figures compare as figures."""
    return _CARDINAL_WORD.sub(lambda word: str(NUMBER_WORDS[word.group(1).lower()]), text)


def answer_text(answer: Answer) -> str:
    """The answer's words without its citation markers ("3" is not said by "[3]")."""
    return _MARKERS.sub("", answer.answer)


def is_accurate(fact: Fact, answer: Answer) -> bool:
    if not fact.answerable or answer.abstained:
        return False
    text = answer_text(answer)
    return all(any(says(alt, text) for alt in group) for group in fact.all_of)


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


def gold_rank(fact: Fact, passages: list[Passage]) -> int | None:
    """The 1-based rank of the fact's gold item among ``passages``, None if absent."""
    return next(
        (
            i
            for i, p in enumerate(passages, start=1)
            if is_gold(fact, p.date, p.item_label, p.source)
        ),
        None,
    )


def retrieval_scores(ranks: list[int | None]) -> dict[str, float]:
    """hit@1, hit@5 and MRR of answerable facts' gold ranks (retrieved to RETRIEVAL_DEPTH)."""
    return {
        "hit@1": ratio(sum(r == 1 for r in ranks), len(ranks)),
        "hit@5": ratio(sum(r is not None for r in ranks), len(ranks)),
        "mrr": ratio(sum(1 / r for r in ranks if r), len(ranks)),
    }


def score_fact(fact: Fact, answer: Answer, passages: list[Passage]) -> FactResult:
    rank = gold_rank(fact, passages)
    accurate = is_accurate(fact, answer)
    good = sum(citation_is_good(fact, c) for c in answer.citations)
    cited_gold = good > 0
    return FactResult(
        fact,
        answer,
        rank,
        accurate,
        cited_gold,
        good,
        explain(fact, answer, accurate, cited_gold, rank),
    )


def citation_is_good(fact: Fact, citation: Citation) -> bool:
    return is_gold(fact, citation.date, citation.item, citation.source)


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
        text = answer_text(answer)
        missing = [g for g in fact.all_of if not any(says(a, text) for a in g)]
        return f"answer lacks {missing}; gold item rank {rank}"
    return "correct and cites the gold item" if cited_gold else "correct but cites another item"


@dataclass
class EvalReport:
    backend: str
    results: list[FactResult] = field(default_factory=list)

    def splits(self) -> list[str]:
        """The splits present, dev before test."""
        return sorted({r.fact.split for r in self.results})

    def metrics(self, split: str | None = None) -> dict[str, float]:
        """Scores over every fact, or over one split's ("dev": tuned on; "test": held out)."""
        results = [r for r in self.results if split is None or r.fact.split == split]
        answerable = [r for r in results if r.fact.answerable]
        unanswerable = [r for r in results if not r.fact.answerable]
        abstained = [r for r in results if r.answer.abstained]
        ranks = [r.gold_rank for r in answerable]
        citations = sum(len(r.answer.citations) for r in answerable)
        accurate = [r for r in answerable if r.accurate]
        latencies = sorted(r.answer.timings.get("total", 0.0) for r in results)
        return {
            "facts": len(results),
            **retrieval_scores(ranks),
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
    """Named gates: each the split it scores ("test", "dev", or none for every fact) and the
    floors its metrics must reach (latencies are ceilings)."""
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


def metrics_table(report: EvalReport) -> str:
    """One column per split and one for all facts, a row per metric."""
    return split_table(report.metrics, report.splits())


def split_table(metrics: Callable[[str | None], dict[str, float]], splits: list[str]) -> str:
    """A column of ``metrics`` per split and one for everything, a row per metric."""
    columns = {split: metrics(split) for split in splits}
    columns["all"] = metrics(None)
    width = max(len(k) for k in columns["all"])
    lines = [f"{'metric':<{width}}  " + "  ".join(f"{name:>8}" for name in columns)]
    for metric in columns["all"]:
        cells = "  ".join(f"{values[metric]:>8}" for values in columns.values())
        lines.append(f"{metric:<{width}}  {cells}")
    return "\n".join(lines)


def write_reports(report: EvalReport, directory: Path) -> tuple[Path, Path]:
    """A Markdown and a JSON report, one row per fact, so a failure can be read."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"eval-{report.backend.replace(':', '-')}"
    rows = [fact_row(r) for r in report.results]
    json_path = directory / f"{stem}.json"
    json_path.write_text(
        json.dumps(
            {
                "backend": report.backend,
                "metrics": report.metrics(),
                "metrics_by_split": {split: report.metrics(split) for split in report.splits()},
                "facts": rows,
            },
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
        "split": result.fact.split,
        "question": result.fact.question,
        "answer": result.answer.answer,
        "abstained": result.answer.abstained,
        "citations": [c.model_dump() for c in result.answer.citations],
        "gold": f"{result.fact.gold_date} {result.fact.gold_item_kw}".strip(),
        "gold_rank": result.gold_rank,
        "passed": result.passed,
        "why": result.why,
        "timings": result.answer.timings,
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
