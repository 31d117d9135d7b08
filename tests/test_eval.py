"""The scorer credits only what an answer really says, cited to the item it comes from."""

from __future__ import annotations

import pytest

from eval.harness import (
    DEFAULT_FACTS,
    Fact,
    citation_is_good,
    is_accurate,
    is_gold,
    load_facts,
    sample_facts,
    says,
)
from rag.models import Answer, Citation


def fact(**fields) -> Fact:
    values = {
        "id": "t1",
        "question": "q",
        "all_of": [["agreed"]],
        "gold_source": "minutes.txt",
        "gold_date": "2025-01-28",
        "gold_item_kw": "Neighbourhood Policing",
        "answerable": True,
    }
    return Fact(**(values | fields))


def answer(text: str) -> Answer:
    return Answer(question="q", answer=text, abstained=False, backend="extractive")


def citation(item: str, source: str = "archive/minutes.txt", date: str = "2025-01-28"):
    return Citation(
        n=1, meeting="m", date=date, item=item, source=source, quote="agreed", start=0, end=6
    )


@pytest.mark.parametrize(
    "alternative, text, expected",
    [
        ("3", "It was agreed [3].", False),
        ("AH", "We look ahead.", False),
        ("AH", "AH agreed.", True),
        ("20", "The meeting in 2025.", False),
        ("£1.2m", "A budget of £1,200,000 was set.", True),
        ("£1.2m", "A budget of £1.25m was set.", False),
        ("Police and Crime Panel", "the police  and crime panel met", True),
        ("4 year term", "appointed for a four year term", True),
        ("two new officers", "2 new officers joined", True),
        ("4 year term", "appointed for a fourteen year term", False),
        ("seven", "rated adequate in seven areas", True),
    ],
)
def test_expected_strings_are_matched_as_words_and_figures(alternative, text, expected):
    plain = text.replace("[3]", "")
    assert says(alternative, plain) is expected


def test_citation_markers_are_not_part_of_the_answer():
    assert not is_accurate(fact(all_of=[["3"]]), answer("It was agreed to review it [3]."))
    assert is_accurate(fact(all_of=[["review"]]), answer("It was agreed to review it [3]."))


def test_a_citation_is_good_only_when_it_points_at_the_gold_item():
    assert citation_is_good(fact(), citation("7. Neighbourhood Policing Guarantee"))
    assert not citation_is_good(fact(), citation("8. Responding to the Public"))
    assert not citation_is_good(
        fact(), citation("7. Neighbourhood Policing Guarantee", source="other.txt")
    )


def test_header_and_whole_meeting_gold_items():
    assert is_gold(fact(gold_item_kw="Meeting details"), "2025-01-28", "Meeting details")
    whole = fact(gold_item_kw="*")
    assert is_gold(whole, "2025-01-28", "3. Anything", "x/minutes.txt")
    assert not is_gold(whole, "2025-01-28", "3. Anything", "x/other.txt")


def test_the_gold_file_decides_the_meeting_even_when_its_date_is_unknown():
    undated = fact(gold_item_kw="Apologies")
    assert is_gold(undated, "", "1. Apologies", "corpus/minutes.txt")
    no_file = fact(gold_source=None, gold_item_kw="Apologies")
    assert not is_gold(no_file, "2024-09-20", "1. Apologies", "corpus/minutes.txt")


def test_an_unanswerable_fact_may_have_no_gold_meeting():
    unanswerable = Fact(
        id="u1",
        question="Who is the Mayor of Luton?",
        gold_date=None,
        gold_item_kw=None,
        answerable=False,
        split="test",
    )
    assert unanswerable.split == "test" and not is_gold(unanswerable, "", "Meeting details")


def test_a_sampled_subset_is_fixed_by_its_seed_and_keeps_unanswerable_questions():
    test = [f for f in load_facts(list(DEFAULT_FACTS)) if f.split == "test"]
    first, again = sample_facts(test, 16, 2026), sample_facts(test, 16, 2026)
    assert [f.id for f in first] == [f.id for f in again]
    assert [f.id for f in sample_facts(test, 16, 7)] != [f.id for f in first]
    share = sum(not f.answerable for f in test) / len(test)
    assert sum(not f.answerable for f in first) == round(16 * share)
    assert len(first) == 16 and all(f.split == "test" for f in first)
