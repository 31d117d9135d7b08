"""Calibrate the extractive abstention gate (:func:`rag.backends.extractive.answers`) on dev.

For every labelled fact the extractive backend proposes its best candidate without the gate
(:meth:`ExtractiveBackend.propose`); the proposal is *right* when its quoted sentences say every
expected string and come from the gold item. The gate answers when

    weight * similarity + (1 - weight) * coverage >= floor

(MiniLM cosine of question and candidate; weighted share of the question's focus terms the
candidate holds). Every (weight, floor) on a grid is scored on the ``dev`` facts alone by

    right answers - WRONG_COST * wrong answers

where a wrong answer is a proposal that is not right (including any answer to an unanswerable
question): an invented answer costs more than an abstention. The best pair is printed with its
figures on dev and, for the record only, on test. Whole-meeting questions are left out: they
are answered from the typed meeting, not through the gate.

    python -m eval.abstention_calibration [--facts FILE ...] [--archive DIR ...] [--index DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings
from eval.harness import DEFAULT_FACTS, EVAL_ARCHIVES, Fact, is_gold, load_facts, says
from index.ingest import Ingestor
from rag.backends.extractive import (
    GATE_FLOOR,
    GATE_SIMILARITY_WEIGHT,
    ExtractiveBackend,
    Proposal,
)
from rag.meeting_answer import whole_meeting
from rag.retrieve import HybridRetriever

WRONG_COST = 2.0
WEIGHTS = [round(0.1 * i, 1) for i in range(11)]
FLOORS = [round(0.20 + 0.02 * i, 2) for i in range(36)]


@dataclass(frozen=True)
class Case:
    """One fact's proposal, reduced to what the gate reads and whether it is right."""

    split: str
    answerable: bool
    proposed: bool
    similarity: float
    coverage: float
    right: bool


def case_for(fact: Fact, backend: ExtractiveBackend, retriever: HybridRetriever) -> Case | None:
    retrieval = retriever.retrieve(fact.question)
    if whole_meeting(fact.question, retrieval):
        return None
    proposal = backend.propose(fact.question, retrieval.passages)
    if proposal is None:
        return Case(fact.split, fact.answerable, False, 0.0, 0.0, False)
    return Case(
        fact.split,
        fact.answerable,
        True,
        proposal.best.similarity,
        proposal.best.coverage,
        is_right(fact, proposal, retrieval.passages),
    )


def is_right(fact: Fact, proposal: Proposal, passages: list) -> bool:
    if not fact.answerable:
        return False
    text = " ".join(s.text for c in proposal.picked for s in c.sentences)
    cited = [passages[c.passage] for c in proposal.picked]
    said = all(any(says(alt, text) for alt in group) for group in fact.all_of)
    return said and any(is_gold(fact, p.date, p.item_label, p.source) for p in cited)


def outcome(cases: list[Case], weight: float, floor: float) -> dict[str, float]:
    """Right and wrong answers, abstention precision and recall under one gate."""
    answered = [
        c
        for c in cases
        if c.proposed and weight * c.similarity + (1 - weight) * c.coverage >= floor
    ]
    abstained = [c for c in cases if c not in answered]
    right = sum(c.right for c in answered)
    wrong = len(answered) - right
    unanswerable = [c for c in cases if not c.answerable]
    return {
        "right": right,
        "wrong": wrong,
        "value": right - WRONG_COST * wrong,
        "abst_p": sum(not c.answerable for c in abstained) / len(abstained) if abstained else 1,
        "abst_r": (
            sum(c in abstained for c in unanswerable) / len(unanswerable) if unanswerable else 1
        ),
        "answerable": sum(c.answerable for c in cases),
    }


def best_gate(cases: list[Case]) -> tuple[float, float]:
    gates = [(w, f) for w in WEIGHTS for f in FLOORS]
    return max(gates, key=lambda gate: (outcome(cases, *gate)["value"], gate[1]))


def describe(name: str, result: dict[str, float]) -> str:
    return (
        f"{name:5} right {result['right']:3} of {result['answerable']:3} answerable, "
        f"wrong {result['wrong']:3}, abstention P {result['abst_p']:.2f} R {result['abst_r']:.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=Path, action="append", help="facts JSONL (repeatable)")
    parser.add_argument("--archive", type=Path, action="append", help="minutes to index")
    parser.add_argument("--index", type=Path, help="an index already holding the archives")
    args = parser.parse_args(argv)
    facts = load_facts(args.facts or list(DEFAULT_FACTS))
    archives = args.archive or list(EVAL_ARCHIVES)
    with tempfile.TemporaryDirectory(prefix="quorum-calibrate-") as root:
        index = args.index or Path(root) / "index"
        settings = Settings.isolated(data_dir=Path(root), index_dir=index, archive_dir=archives[0])
        retriever = HybridRetriever(settings)
        if args.index is None:
            Ingestor(settings, retriever.embedder).ingest(archives)
        backend = ExtractiveBackend(retriever.embedder)
        cases = [c for f in facts if (c := case_for(f, backend, retriever)) is not None]
    dev = [c for c in cases if c.split == "dev"]
    test = [c for c in cases if c.split == "test"]
    weight, floor = best_gate(dev)
    print(f"cases: {len(dev)} dev, {len(test)} test (whole-meeting questions left out)")
    print(f"best on dev: weight {weight}, floor {floor} (wrong answers cost {WRONG_COST})")
    print(describe("dev", outcome(dev, weight, floor)))
    print(describe("test", outcome(test, weight, floor)))
    right = {name: sum(c.right for c in group) for name, group in (("dev", dev), ("test", test))}
    print(f"proposals right before any gate: dev {right['dev']}, test {right['test']}")
    in_use = (GATE_SIMILARITY_WEIGHT, GATE_FLOOR)
    print("the gate in use: weight {}, floor {}".format(*in_use))
    print(describe("dev", outcome(dev, *in_use)))
    print(describe("test", outcome(test, *in_use)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
