"""The labelled facts over the corpus are well formed, split by document as eval/splits.json
says, and grounded in the minutes they name: every expected string occurs in the gold file
after the gold item's heading, so labels cannot drift from the documents (checked against the
text itself, not the parser, whose reading is what the eval measures)."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from core.settings import SAMPLE_ARCHIVE
from eval.harness import DEFAULT_FACTS, EVAL_ARCHIVES, WHOLE_MEETING, load_facts

FACTS = load_facts(DEFAULT_FACTS)
SPLITS = json.loads((DEFAULT_FACTS[0].parent / "splits.json").read_text(encoding="utf-8"))
CORPUS = [f for f in FACTS if f.gold_source]
HEADER = "Meeting details"


def source_text(name: str) -> str:
    path = next(root / name for root in EVAL_ARCHIVES if (root / name).is_file())
    return re.sub(r"\s+", " ", path.read_text(encoding="utf-8")).casefold()


def test_enough_facts_of_each_kind():
    answerable = [f for f in FACTS if f.answerable]
    assert len(FACTS) >= 200 and len(answerable) >= 150
    assert len(FACTS) - len(answerable) >= 40
    assert len({f.id for f in FACTS}) == len(FACTS), "fact ids are unique"
    assert Counter(f.split for f in FACTS)["test"] >= 100


def test_every_document_is_in_one_split_and_every_fact_in_its_document_s():
    dev, test = set(SPLITS["dev"]), set(SPLITS["test"])
    assert not dev & test
    files = {path.name for root in EVAL_ARCHIVES for path in root.iterdir()}
    assert dev | test == files
    for fact in CORPUS:
        assert fact.split == ("dev" if fact.gold_source in dev else "test"), fact.id


def test_sample_facts_are_dev():
    samples = {path.name for path in SAMPLE_ARCHIVE.iterdir()}
    assert samples <= set(SPLITS["dev"])
    assert all(f.split == "dev" for f in FACTS if not f.gold_source and f.gold_date)


@pytest.mark.parametrize("fact", [f for f in CORPUS if f.answerable], ids=lambda f: f.id)
def test_expected_strings_occur_in_the_gold_file_after_the_gold_heading(fact):
    text = source_text(fact.gold_source)
    assert fact.gold_item_kw is not None, "an answerable fact names its gold item"
    start = 0
    if fact.gold_item_kw not in ("", HEADER, WHOLE_MEETING):
        start = text.find(re.sub(r"\s+", " ", fact.gold_item_kw).casefold())
        assert start >= 0, f"heading {fact.gold_item_kw!r} not in {fact.gold_source}"
    after = text[start:]
    for group in fact.all_of:
        found = [alt for alt in group if re.sub(r"\s+", " ", alt).casefold() in after]
        assert found, f"none of {group} in {fact.gold_source} after {fact.gold_item_kw!r}"
