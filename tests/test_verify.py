"""The verifier refuses sentences that sound like the minutes but say something else: each case
here was passed by the earlier verifier (issue 13) and must now be dropped, while honest
paraphrases still stand."""

from __future__ import annotations

import pytest

from rag.claims import figures, opposite_polarity
from rag.retrieve import HybridRetriever
from rag.verify import Verifier
from tests.conftest import NPG_QUESTION


@pytest.fixture(scope="module")
def npg(sample_index, embedder):
    retriever = HybridRetriever(sample_index, embedder=embedder)
    passages = retriever.retrieve(NPG_QUESTION).passages
    meetings = {m.id: m for m in retriever.meetings()}
    return Verifier(embedder), passages, meetings


def supported(npg, sentence: str) -> bool:
    verifier, passages, meetings = npg
    [checked] = verifier.check(sentence, passages, meetings)
    return checked.evidence is not None


@pytest.mark.parametrize(
    "sentence",
    [
        "The PCC and CC agreed that local policing is important [1].",
        "The PCC and the CC agreed that it would not be prudent to increase officer numbers at "
        "the expense of other critical areas of policing [1].",
        "It was agreed that communications would be reviewed [1].",
    ],
)
def test_honest_paraphrases_stand(npg, sentence):
    assert supported(npg, sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "The PCC and CC did not agree that local policing is important [1].",
        "The PCC and CC agreed that it would be prudent to increase officer numbers at the "
        "expense of other critical areas of policing [1].",
        "It was not agreed to review communications [1].",
    ],
)
def test_a_sentence_of_opposite_polarity_is_dropped(npg, sentence):
    assert not supported(npg, sentence)


def test_a_name_not_at_the_meeting_is_dropped_even_as_the_first_word(npg):
    assert not supported(npg, "Humberstone and the CC agreed that local policing is important [1].")


@pytest.mark.parametrize(
    "sentence",
    [
        "The PCC and CC agreed that local policing is important, with £1m set aside [1].",
        "Ten officers will be added, as the PCC and CC agreed local policing is important [1].",
        "The PCC and CC agreed that local policing is important in all 2 areas [1].",
    ],
)
def test_a_figure_the_quote_does_not_hold_is_dropped(npg, sentence):
    assert not supported(npg, sentence)


@pytest.mark.parametrize(
    "written, value",
    [
        ("£1m", 1e6),
        ("£1 million", 1e6),
        ("£1,000,000", 1e6),
        ("£4.5m", 4.5e6),
        ("ten", 10.0),
        ("20 per cent", 20.0),
        ("20%", 20.0),
        ("the 3rd", 3.0),
        ("third", 3.0),
    ],
)
def test_figures_are_compared_as_numbers(written, value):
    assert figures(written) == {value}


def test_four_and_a_half_million_is_not_four_million():
    assert figures("£4.5m") != figures("£4m")


@pytest.mark.parametrize(
    "sentence, expected",
    [
        ("The CC did not agree to the plan.", True),
        ("The CC didn't agree to the plan.", True),
        ("The CC agreed to the plan, which was not costed.", False),
    ],
)
def test_polarity_is_read_per_word(sentence, expected):
    assert opposite_polarity(sentence, "The CC agreed to the plan.") is expected


def test_a_quote_never_spans_a_protective_marking_line(npg):
    verifier, passages, meetings = npg
    broken = (
        "For example, the rural community benefit from a team who responds to emergencies, a "
        "dedicated community policing team, a dedicated Rural Crime Action Team to tackle "
        "specific rural crimes, as well as the range of investigative and proactive teams that "
        "work across the county tackling serious crime [1]."
    )
    for checked in verifier.check(broken, passages, meetings):
        assert checked.evidence is None or "Official Sensitive" not in checked.evidence.quote.text
