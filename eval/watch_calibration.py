"""Calibrate the topic watch's threshold (:data:`rag.watch.MATCH_THRESHOLD`) on labelled facts.

A watched topic is a short phrase ("knife crime"), so each labelled gold item's heading words
(a fact's ``gold_item_kw``, e.g. "Neighbourhood Policing Guarantee") stand in for a topic: the
gold item raises it and the other agenda items of the same meeting do not. An item's score is
what the watch uses: the best cosine between the topic and one of the item's sentences (the
heading is not one of the item's sentences, so the words are not simply found again). Each
(meeting, heading words) pair counts once. The split is the facts' own ``split`` field when
they have one, else odd-numbered facts are dev and even-numbered ones held out. The threshold
with the best F1 on dev is printed with precision and recall on both splits.

    python -m eval.watch_calibration [--facts FILE ...] [--archive DIR ...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings
from eval.harness import DEFAULT_FACTS, EVAL_ARCHIVES
from index.chunk import HEADER_ITEM_NUMBER
from index.ingest import Ingestor
from rag.retrieve import HybridRetriever, whole_item
from rag.watch import sentence_scores

Scored = list[tuple[float, bool]]
NOT_TOPICS = {"", "*", "meeting details"}  # the header block, or any item: no heading words


@dataclass(frozen=True)
class Topic:
    """A labelled gold item standing in for a watched topic."""

    words: str
    date: str
    source: str
    dev: bool


def labelled_topics(path: Path) -> list[Topic]:
    """One topic per labelled (meeting, heading words) pair of an answerable fact."""
    topics: dict[tuple[str, str, str], Topic] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        fact = json.loads(line)
        words = (fact.get("gold_item_kw") or "").strip()
        if not fact["answerable"] or not fact.get("gold_date") or words.casefold() in NOT_TOPICS:
            continue
        dev = fact["split"] == "dev" if "split" in fact else int(fact["id"][1:]) % 2 == 1
        key = (fact["gold_date"], fact.get("gold_source") or "", words.casefold())
        topics.setdefault(key, Topic(words, fact["gold_date"], key[1], dev))
    return list(topics.values())


def scored_items(retriever: HybridRetriever, topics: list[Topic]) -> Scored:
    """(best sentence cosine, is the gold item) for every topic and item of its meeting."""
    pairs = []
    for topic in topics:
        for meeting in retriever.meetings():
            if meeting.date != topic.date or topic.source not in ("", Path(meeting.source).name):
                continue
            for item in meeting.items:
                if item.number == HEADER_ITEM_NUMBER:
                    continue
                passage = whole_item(meeting, item.number)
                scores = sentence_scores(retriever, topic.words, passage)
                best = scores[0][1] if scores else 0.0
                pairs.append((best, topic.words.casefold() in passage.item_label.casefold()))
    return pairs


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
    parser.add_argument("--facts", type=Path, action="append", help="facts JSONL (repeatable)")
    parser.add_argument("--archive", type=Path, action="append", help="minutes to index")
    args = parser.parse_args(argv)
    topics = [t for path in args.facts or DEFAULT_FACTS for t in labelled_topics(path)]
    archives = args.archive or list(EVAL_ARCHIVES)
    with tempfile.TemporaryDirectory(prefix="quorum-calibrate-") as root:
        settings = Settings.isolated(
            data_dir=Path(root), index_dir=Path(root) / "index", archive_dir=archives[0]
        )
        retriever = HybridRetriever(settings)
        Ingestor(settings, retriever.embedder).ingest(archives)
        dev = scored_items(retriever, [t for t in topics if t.dev])
        held = scored_items(retriever, [t for t in topics if not t.dev])
    chosen = best_threshold(dev)
    print(
        f"topics: {sum(t.dev for t in topics)} dev, {sum(not t.dev for t in topics)} held out; "
        f"items scored: {len(dev)} dev, {len(held)} held out"
    )
    print("threshold  dev P / R / F1        held-out P / R / F1")
    for threshold in sorted({0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, chosen}):
        dev_prf, held_prf = precision_recall(dev, threshold), precision_recall(held, threshold)
        mark = "  <- best F1 on dev" if threshold == chosen else ""
        print(
            f"{threshold:9.2f}  {' / '.join(f'{v:.2f}' for v in dev_prf):20}  "
            f"{' / '.join(f'{v:.2f}' for v in held_prf)}{mark}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
