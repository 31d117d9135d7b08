"""What a model's answer must do besides standing on the minutes: answer the question asked.

Real parser, real embedder, real Chroma over the sample archive (or one corpus file); the
model is the test double, told exactly what to draft.
"""

from __future__ import annotations

from datetime import date

import pytest

from core.settings import PROJECT_ROOT
from index.ingest import Ingestor
from rag.answer import AnswerEngine
from rag.backends.chat import ChatBackend
from rag.meeting_answer import MEETING_RECORD
from rag.models import Filters
from rag.next_meeting import asks_next_meeting, framing, stated_next_meeting
from rag.retrieve import HybridRetriever
from rag.verify import Verifier
from tests.conftest import NPG_QUESTION, make_settings
from tests.fakes import FakeLLM

CORPUS = PROJECT_ROOT / "data" / "corpus" / "minutes"


def engine_drafting(sample_index, embedder, reply: str | None) -> AnswerEngine:
    retriever = HybridRetriever(sample_index, embedder=embedder)
    return AnswerEngine(
        sample_index, retriever, ChatBackend(FakeLLM(reply), sample_index, embedder)
    )


def test_a_sentence_that_only_points_at_the_minutes_is_not_an_answer(sample_index, embedder):
    retriever = HybridRetriever(sample_index, embedder=embedder)
    passages = retriever.retrieve(NPG_QUESTION).passages
    meetings = {m.id: m for m in retriever.meetings()}
    checked = Verifier(embedder).check(
        "This can be found in the minutes of the meeting [1].", passages, meetings, NPG_QUESTION
    )
    assert [c.evidence for c in checked] == [None]


def test_a_pointer_draft_gives_way_to_the_minutes_own_words(sample_index, embedder):
    engine = engine_drafting(sample_index, embedder, "This can be found in the minutes [1].")
    answer = engine.ask(NPG_QUESTION)
    assert not answer.abstained
    assert answer.drafted_by == "extractive"
    assert "found in the minutes" not in answer.answer
    assert "Neighbourhood Policing Guarantee" in " ".join(c.item for c in answer.citations)


def test_true_but_unrelated_sentences_do_not_answer_an_off_topic_question(sample_index, embedder):
    """The double copies the minutes' sentence sharing most words with the question — true,
    verbatim, and nothing to do with the Mayor of Luton."""
    engine = engine_drafting(sample_index, embedder, None)
    answer = engine.ask("Who is the Mayor of Luton?")
    assert answer.abstained, answer.answer


def test_the_extractive_backend_abstains_on_an_off_topic_question(sample_index):
    answer = AnswerEngine(sample_index).ask("Who is the Mayor of Luton?")
    assert answer.abstained, answer.answer


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("When is the next meeting?", True),
        ("What is the date of the next meeting of the panel?", True),
        ("When will the next Police and Crime Panel meeting be held?", True),
        ("What was agreed about reporting back at the next meeting?", False),
        ("When did the panel last meet?", False),
    ],
)
def test_which_questions_ask_for_the_next_meeting(question, asks):
    assert asks_next_meeting(question) is asks


@pytest.fixture(scope="module")
def hampshire(tmp_path_factory, embedder):
    """One real corpus file whose minutes state the next meeting's date."""
    root = tmp_path_factory.mktemp("next-meeting")
    settings = make_settings(root)
    archive = root / "archive"
    archive.mkdir()
    source = CORPUS / "hampshire_pcp_2023-05-12.txt"
    (archive / source.name).write_bytes(source.read_bytes())
    assert not Ingestor(settings, embedder).ingest([archive]).failed
    return settings


def test_the_next_meeting_is_answered_from_the_minutes_that_state_it(hampshire, embedder):
    retriever = HybridRetriever(hampshire, embedder=embedder)
    answer = AnswerEngine(hampshire, retriever).ask("When is the next meeting?")
    assert answer.drafted_by == MEETING_RECORD
    assert answer.answer.startswith("According to the minutes of")
    assert "26th Jul 2024" in answer.citations[0].quote
    assert "has passed" in answer.answer  # 26 July 2024 is before any date these tests run


def test_a_next_meeting_still_ahead_is_not_said_to_have_passed(hampshire, embedder):
    retriever = HybridRetriever(hampshire, embedder=embedder)
    found = stated_next_meeting(retriever.meetings())
    assert found is not None and found.on == date(2024, 7, 26)
    before, after = framing(found, today=date(2024, 7, 1))
    assert "2023" in before and after == ""
    assert "has passed" in framing(found, today=date(2024, 8, 1))[1]


def test_the_newest_sample_minutes_that_state_a_next_meeting_answer(sample_index):
    answer = AnswerEngine(sample_index).ask("When is the next meeting?")
    assert answer.drafted_by == MEETING_RECORD
    assert answer.answer.startswith("According to the minutes of 20 September 2024:")
    assert "29th October 2024" in answer.citations[0].quote
    assert answer.answer.endswith("no later minutes in the archive state the next meeting.")


def test_the_minutes_answer_comes_first_while_a_model_drafts(sample_index, embedder):
    quoted = []
    answer = engine_drafting(sample_index, embedder, None).ask(
        NPG_QUESTION, on_quoted=quoted.append
    )
    assert len(quoted) == 1 and quoted[0].provisional and quoted[0].citations
    assert quoted[0].drafted_by == "extractive"
    assert not answer.provisional
    assert answer.timings["first_cited"] < answer.timings["total"]


def test_the_extractive_backend_sends_no_provisional_answer(sample_index):
    quoted = []
    answer = AnswerEngine(sample_index).ask(NPG_QUESTION, on_quoted=quoted.append)
    assert quoted == [] and not answer.abstained


def test_the_page_stream_shows_the_quoted_answer_before_the_draft(sample_index, embedder):
    from web.services import stream_answer

    engine = engine_drafting(sample_index, embedder, None)
    updates = list(stream_answer(engine, NPG_QUESTION, Filters()))
    kinds = [
        "draft" if isinstance(u, str) else "quoted" if u.provisional else "final" for u in updates
    ]
    assert kinds[0] == "quoted" and kinds[-1] == "final" and "draft" in kinds
