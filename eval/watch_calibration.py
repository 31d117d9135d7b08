"""Calibrate the topic watch's threshold (:data:`rag.watch.MATCH_THRESHOLD`) on the labelled facts.

A watched topic is a short phrase ("knife crime"), so each labelled gold item's heading words
(a fact's ``gold_item_kw``, e.g. "Neighbourhood Policing Guarantee") stand in for a topic: the
gold item raises it and the other agenda items of the same meeting do not. An item's score is
what the watch uses: the best cosine between the topic and one of the item's sentences (the
heading itself is not a sentence of the item, so the words are not simply found again). Each
(meeting, heading words) pair counts once; the split follows the first fact that names it (odd
number: dev, even: held out). The threshold that maximises F1 on dev is printed with precision
and recall on both splits. The same table for the facts' full questions as topics is printed
too, for comparison: questions share more words with the minutes and score higher.

    python -m eval.watch_calibration [--archive DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from core.settings import SAMPLE_ARCHIVE, Settings
from eval.harness import DEFAULT_FACTS, Fact, is_gold, load_facts
from index.chunk import HEADER_ITEM_NUMBER
from index.ingest import Ingestor
from rag.retrieve import HybridRetriever, whole_item
from rag.watch import sentence_scores

Scored = list[tuple[float, bool]]


def scored_items(retriever: HybridRetriever, facts: list[Fact], as_topic) -> Scored:
    """(best sentence cosine, is the gold item) for every fact and item of its meeting."""
    meetings = retriever.meetings()
    pairs = []
    for fact in facts:
        for meeting in (m for m in meetings if m.date == fact.gold_date):
            for item in meeting.items:
                if item.number == HEADER_ITEM_NUMBER:
                    continue
                passage = whole_item(meeting, item.number)
                scores = sentence_scores(retriever, as_topic(fact), passage)
                best = scores[0][1] if scores else 0.0
                pairs.append((best, is_gold(fact, meeting.date or "", passage.item_label)))
    return pairs


def one_per_heading(facts: list[Fact]) -> list[Fact]:
    """The first fact naming each (meeting date, heading words) pair."""
    seen: dict[tuple[str, str], Fact] = {}
    for fact in facts:
        seen.setdefault((fact.gold_date, fact.gold_item_kw.lower()), fact)
    return list(seen.values())


def is_dev(fact: Fact) -> bool:
    return int(fact.id.lstrip("f")) % 2 == 1


def precision_recall(pairs: Scored, threshold: float) -> tuple[float, float, float]:
    found = [gold for score, gold in pairs if score >= threshold]
    hits = sum(found)
    golds = sum(gold for _, gold in pairs)
    precision = hits / len(found) if found else 1.0
    recall = hits / golds if golds else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def best_threshold(pairs: Scored) -> float:
    candidates = [round(0.20 + 0.01 * i, 2) for i in range(61)]
    return max(candidates, key=lambda t: (precision_recall(pairs, t)[2], t))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=SAMPLE_ARCHIVE)
    args = parser.parse_args(argv)
    facts = [f for f in load_facts(DEFAULT_FACTS) if f.answerable and f.gold_item_kw]
    with tempfile.TemporaryDirectory(prefix="quorum-calibrate-") as root:
        settings = Settings.isolated(
            data_dir=Path(root), index_dir=Path(root) / "index", archive_dir=args.archive
        )
        retriever = HybridRetriever(settings)
        Ingestor(settings, retriever.embedder).ingest([args.archive])
        headings = one_per_heading(facts)
        print("topics: gold items' heading words (what the threshold is chosen on)")
        report(retriever, headings, lambda fact: fact.gold_item_kw, choose=True)
        print("\ntopics: the facts' full questions (for comparison)")
        report(retriever, facts, lambda fact: fact.question, choose=False)
    return 0


def report(retriever: HybridRetriever, facts: list[Fact], as_topic, choose: bool) -> None:
    dev = scored_items(retriever, [f for f in facts if is_dev(f)], as_topic)
    held = scored_items(retriever, [f for f in facts if not is_dev(f)], as_topic)
    chosen = best_threshold(dev)
    print(
        f"topics: {sum(map(is_dev, facts))} dev, {sum(not is_dev(f) for f in facts)} held out;"
        f" items scored: {len(dev)} dev, {len(held)} held out"
    )
    print("threshold  dev P / R / F1        held-out P / R / F1")
    for threshold in sorted({0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, chosen}):
        dev_prf, held_prf = precision_recall(dev, threshold), precision_recall(held, threshold)
        mark = "  <- best F1 on dev" if threshold == chosen else ""
        print(
            f"{threshold:9.2f}  {' / '.join(f'{v:.2f}' for v in dev_prf):20}  "
            f"{' / '.join(f'{v:.2f}' for v in held_prf)}{mark}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
