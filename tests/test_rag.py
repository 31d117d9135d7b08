"""Retrieval, filters, verification, abstention and the answer contract on the real index."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from core.settings import SAMPLE_ARCHIVE
from index.ingest import Ingestor
from index.parse import parse_file
from rag.answer import AnswerEngine
from rag.backends.chat import ChatBackend
from rag.backends.extractive import passage_units
from rag.filters import understand
from rag.models import Answer, Filters, Passage
from rag.prompts import ABSTAIN
from rag.retrieve import HybridRetriever
from rag.text import passage_sentences
from tests.conftest import DISMISSAL_QUESTION, NPG_QUESTION, make_settings
from tests.fakes import FakeLLM

ANSWER_FIELDS = {
    "question",
    "answer",
    "abstained",
    "citations",
    "searched",
    "backend",
    "drafted_by",
    "timings",
    "provisional",
}
CITATION_FIELDS = {"n", "meeting", "date", "item", "source", "quote", "start", "end", "marking"}


@pytest.fixture(scope="module")
def retriever(sample_index, embedder):
    found = HybridRetriever(sample_index, embedder=embedder)
    found.warm_up()
    return found


@pytest.fixture(scope="module")
def extractive(sample_index, retriever):
    return AnswerEngine(sample_index, retriever=retriever)


def engine_with(settings, retriever, llm):
    settings = settings.with_overrides(llm="fake")
    return AnswerEngine(
        settings, retriever=retriever, backend=ChatBackend(llm, settings, retriever.embedder)
    )


def assert_quotes_are_verbatim(answer: Answer, retriever: HybridRetriever) -> None:
    meetings = {m.source: m for m in retriever.meetings()}
    for citation in answer.citations:
        meeting = meetings[citation.source]
        assert meeting.text[citation.start : citation.end] == citation.quote
        assert citation.date == meeting.date


def test_retrieval_puts_the_named_item_first(retriever):
    top = retriever.retrieve(NPG_QUESTION).passages[0]
    assert (top.date, top.item_label) == ("2025-01-28", "7. Neighbourhood Policing Guarantee")
    assert top.text.startswith("7. Neighbourhood Policing Guarantee")


def test_small_to_big_returns_the_whole_item(retriever):
    passage = retriever.retrieve("PEEL report action plan quarterly progress").passages[0]
    meeting = retriever.meeting(passage.meeting_id)
    item = meeting.item(passage.item_number)
    assert passage.text == item.text
    assert len(passage.text) > 2000


def test_month_and_kind_filters_come_from_the_question(retriever):
    meetings = retriever.meetings()
    month = understand("What was said in September 2024 about riots?", meetings)
    assert (month.date_from, month.date_to) == ("2024-09-01", "2024-09-30")
    board = understand("What did the PCC ask for at the last board?", meetings)
    assert board.kinds == ["Performance and Governance Board"]
    assert len(board.meeting_ids) == 1
    latest = understand("What was discussed at the latest 1:1?", meetings)
    assert [retriever.meeting(i).date for i in latest.meeting_ids] == ["2025-01-28"]
    since = understand("What has happened since October 2024?", meetings)
    assert since.date_from == "2024-10-01"


def test_a_bare_year_is_not_a_meeting_filter(retriever):
    assert understand(DISMISSAL_QUESTION, retriever.meetings()).is_empty


def test_filters_restrict_what_is_searched(retriever):
    retrieval = retriever.retrieve("prevention", Filters(date_from="2025-01-01"))
    assert {p.date for p in retrieval.passages} == {"2025-01-28"}
    assert [m.date for m in retrieval.scope] == ["2025-01-28"]
    boards = retriever.retrieve("What did the board discuss?", Filters(kinds=["1:1"]))
    assert {p.kind for p in boards.passages} == {"1:1"}


def test_initials_resolve_to_the_person_at_that_meeting(retriever):
    board = next(m for m in retriever.meetings() if m.date == "2024-09-20")
    assert board.person("AH").name == "Alex House"
    filters = understand("What did AH present on prevention?", retriever.meetings())
    assert filters.people == ["AH"]
    top = retriever.retrieve("What did AH present on prevention?").passages[0]
    assert top.date == "2024-09-20" and "Prevention" in top.item_label


def test_extractive_answers_what_was_agreed_with_a_verbatim_citation(extractive, retriever):
    answer = extractive.ask(NPG_QUESTION)
    assert not answer.abstained
    assert "prudent" in answer.answer and "review communications" in answer.answer
    assert {(c.date, c.item) for c in answer.citations} == {
        ("2025-01-28", "7. Neighbourhood Policing Guarantee")
    }
    assert all(c.source == "002_38b18e688a9d200f.txt" for c in answer.citations)
    assert_quotes_are_verbatim(answer, retriever)


def test_unanswerable_question_abstains_and_lists_meetings_searched(extractive):
    answer = extractive.ask(DISMISSAL_QUESTION)
    assert answer.abstained and answer.answer == ABSTAIN and not answer.citations
    assert sorted(s.date for s in answer.searched) == ["2024-09-02", "2024-09-20", "2025-01-28"]


def test_a_meeting_that_was_not_held_is_said_plainly(extractive):
    answer = extractive.ask("What was discussed at the board on 29 October 2024?")
    assert answer.abstained and "No meeting in the archive matches" in answer.answer
    assert answer.searched == []


def test_fake_llm_answer_is_verified_and_cited(sample_index, retriever):
    answer = engine_with(sample_index, retriever, FakeLLM(abstain=ABSTAIN)).ask(NPG_QUESTION)
    assert not answer.abstained and answer.backend == "fake"
    assert answer.citations[0].date == "2025-01-28"
    assert_quotes_are_verbatim(answer, retriever)


def test_unsupported_sentence_is_removed(sample_index, retriever):
    reply = (
        "The PCC and CC agreed that it would not be prudent to increase officer numbers at "
        "the expense of other critical areas of policing [1]. The Home Office allocated "
        "£4.5 million to 120 new PCSOs in Luton [1]."
    )
    answer = engine_with(sample_index, retriever, FakeLLM(reply=reply)).ask(NPG_QUESTION)
    assert "prudent" in answer.answer
    assert "4.5" not in answer.answer and "120" not in answer.answer
    assert len(answer.citations) == 1


def test_a_wrong_citation_number_is_recited_to_the_supporting_passage(sample_index, retriever):
    reply = "It was agreed to review communications [3]."
    answer = engine_with(sample_index, retriever, FakeLLM(reply=reply)).ask(NPG_QUESTION)
    assert answer.citations[0].item == "7. Neighbourhood Policing Guarantee"
    assert answer.citations[0].quote == "It was agreed to review communications."


def test_a_draft_that_only_points_at_the_minutes_gives_way_to_the_minutes_own_words(
    sample_index, retriever
):
    reply = "This can be found in the minutes [1]."
    answer = engine_with(sample_index, retriever, FakeLLM(reply=reply)).ask(NPG_QUESTION)
    assert "found in the minutes" not in answer.answer
    assert not answer.abstained and "prudent" in answer.answer
    assert (answer.backend, answer.drafted_by) == ("fake", "extractive")


def test_a_verified_model_draft_is_the_model_s_own(sample_index, retriever):
    reply = "It was agreed to review communications [1]."
    answer = engine_with(sample_index, retriever, FakeLLM(reply=reply)).ask(NPG_QUESTION)
    assert answer.drafted_by == "fake"


def test_invented_answer_abstains(sample_index, retriever):
    reply = "Twelve officers were dismissed for gross misconduct in 2024 [1]."
    answer = engine_with(sample_index, retriever, FakeLLM(reply=reply)).ask(DISMISSAL_QUESTION)
    assert answer.abstained and not answer.citations


def test_streamed_tokens_reach_the_caller(sample_index, retriever):
    tokens: list[str] = []
    engine = engine_with(sample_index, retriever, FakeLLM(abstain=ABSTAIN))
    answer = engine.ask(NPG_QUESTION, on_token=tokens.append)
    assert tokens and "first_token" in answer.timings
    assert "".join(tokens).strip().endswith("]")


def test_json_contract_from_the_cli(sample_index, tmp_path):
    questions = tmp_path / "questions.txt"
    questions.write_text(f"{NPG_QUESTION}\n\n{DISMISSAL_QUESTION}\n", encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "quorum",
            "ask",
            "--batch",
            str(questions),
            "--json",
            "--llm",
            "extractive",
            "--index",
            str(sample_index.index_path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["question"] for line in lines] == [NPG_QUESTION, DISMISSAL_QUESTION]
    for line in lines:
        assert set(line) == ANSWER_FIELDS
        for citation in line["citations"]:
            assert set(citation) == CITATION_FIELDS
    assert lines[0]["citations"][0]["date"] == "2025-01-28"
    assert lines[1]["abstained"] is True and len(lines[1]["searched"]) == 3


def test_cli_human_output_and_errors(sample_index, tmp_path):
    base = [sys.executable, "-m", "quorum"]
    index = ["--index", str(sample_index.index_path)]
    shown = subprocess.run(
        [*base, "ask", NPG_QUESTION, "--llm", "extractive", *index],
        capture_output=True,
        text=True,
        check=True,
    )
    assert (
        "[1] 1:1 PCC John Tizard & CC Trevor Rodenhurst — 2025-01-28 — 7. Neighbourhood"
        in shown.stdout
    )
    missing = subprocess.run(
        [*base, "ingest", str(tmp_path / "nope.txt"), *index], capture_output=True, text=True
    )
    assert missing.returncode == 1
    assert "nope.txt: no such file or directory" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = subprocess.run(
        [*base, "ask", "--llm", "extractive", *index], capture_output=True, text=True
    )
    assert bad.returncode == 2 and bad.stderr.startswith("quorum: error:")


def test_unreachable_openai_server_is_an_error_not_a_fallback(sample_index, retriever):
    settings = sample_index.with_overrides(
        llm="openai", openai_base_url="http://127.0.0.1:9/v1", openai_model="x"
    )
    from core.errors import BackendError

    with pytest.raises(BackendError, match=r"127\.0\.0\.1:9"):
        AnswerEngine(settings, retriever=retriever).ask(NPG_QUESTION)


def test_index_survives_a_deleted_archive(tmp_path, archive_copy, embedder):
    settings = make_settings(tmp_path, archive_dir=archive_copy)
    Ingestor(settings, embedder).ingest([archive_copy])
    shutil.rmtree(archive_copy)
    answer = AnswerEngine(settings, HybridRetriever(settings, embedder=embedder)).ask(NPG_QUESTION)
    assert not answer.abstained


@pytest.mark.parametrize(
    "question, date, wanted",
    [
        ("What was discussed at the September 2024 board?", "2024-09-20", "Prevention Spotlight"),
        ("What did we agree at the latest meeting?", "2025-01-28", "not be prudent"),
        ("What actions came out of the last 1:1?", "2025-01-28", "develop an action plan"),
    ],
)
def test_whole_meeting_questions_are_answered_from_the_meeting_record(
    extractive, question, date, wanted
):
    answer = extractive.ask(question)
    assert not answer.abstained and answer.drafted_by == "meeting record"
    assert wanted in answer.answer
    assert {c.date for c in answer.citations} == {date}


def test_a_topic_question_about_one_meeting_is_not_a_whole_meeting_question(extractive):
    answer = extractive.ask("What did we agree on the Neighbourhood Policing Guarantee?")
    assert answer.drafted_by == "extractive"


def test_a_protective_marking_is_never_inside_a_quoted_sentence():
    """Item 7 of the 28 January 2025 1:1 carries "Official Sensitive - Operational" mid-sentence:
    it stays the item's marking, no sentence holds it, and the broken sentence's two halves
    answer as one candidate."""
    meeting = parse_file(SAMPLE_ARCHIVE / "002_38b18e688a9d200f.txt")
    for item in meeting.items:
        passage = Passage(
            meeting_id=meeting.id,
            title=meeting.title,
            kind=meeting.kind,
            date=meeting.date,
            source=meeting.source,
            item_number=item.number,
            item_label=item.label,
            score=1.0,
            start=item.start,
            end=item.end,
            text=item.text,
        )
        sentences = passage_sentences(passage)
        assert not any("Official Sensitive" in s.text for s in sentences)
        if item.number == "7":
            assert item.marking == "Official Sensitive - Operational"
            units = [unit for unit, _ in passage_units(passage)]
            broken = [u for u in units if u[0].text.endswith("Rural Crime Action Team to")]
            assert len(broken) == 1 and broken[0][1].text.startswith("tackle specific")
            alone = [u for u in units if len(u) == 1 and u[0].text.startswith("tackle")]
            assert alone == []


@pytest.mark.parametrize(
    "question, wanted, item",
    [
        ("Where was the 28 January 2025 1:1 held?", "PCC Office, HQ", "Meeting details"),
        ("What time did the 28 January 2025 1:1 run?", "1100 - 1200", "Meeting details"),
        (
            "Who sent apologies to the Performance and Governance Board on 20 September 2024?",
            "John Murphy",
            "1. Welcome & PCC Remarks",
        ),
    ],
)
def test_header_facts_come_from_the_parsed_meeting_cited_to_their_lines(
    extractive, question, wanted, item
):
    answer = extractive.ask(question)
    assert answer.drafted_by == "meeting record" and wanted in answer.answer
    assert [c.item for c in answer.citations] == [item]
    assert wanted.split()[-1] in answer.citations[0].quote


def test_the_model_reads_the_matched_sentences_and_their_neighbours_not_whole_items(
    sample_index, retriever
):
    from rag.tokens import count_tokens

    question = "How much did Clare's Law 'right to know' referrals increase, per HMICFRS?"
    passages = retriever.retrieve(question).passages
    backend = ChatBackend(FakeLLM(), sample_index, retriever.embedder)
    best = backend.ranker.rank(question, passages[:3])[0]
    user = backend.answer_prompt(question, passages)[1]["content"]
    n = best.passage + 1
    shown = user.split(f"<minutes n={n}>")[1].split(f"</minutes n={n}>")[0]
    sentences = passage_sentences(passages[best.passage])
    at = sentences.index(best.sentences[0])
    assert "251" in best.text and best.sentences[0].text in shown
    assert all(s.text in shown for s in sentences[max(at - 1, 0) : at + 2])  # its neighbours
    whole = " ".join(s.text for s in sentences)
    assert count_tokens(shown) < count_tokens(whole) / 2  # the 780-token item is cut ...
    assert "…" in shown  # ... and the cut is marked
    blocks = re.findall(r"<minutes n=\d+>.*?</minutes n=\d+>", user, re.S)
    assert count_tokens("".join(blocks)) <= sample_index.answer_tokens


def test_a_passage_nothing_was_chosen_from_keeps_the_numbers_of_the_others(sample_index, retriever):
    passages = retriever.retrieve(NPG_QUESTION).passages
    narrow = sample_index.with_overrides(answer_tokens=120)
    backend = ChatBackend(FakeLLM(), narrow, retriever.embedder)
    user = backend.answer_prompt(NPG_QUESTION, passages)[1]["content"]
    numbers = [int(n) for n in re.findall(r"<minutes n=(\d+)>", user)]
    assert numbers and numbers == sorted(set(numbers)) and max(numbers) <= 3
    ranked = backend.ranker.rank(NPG_QUESTION, passages[:3])
    assert numbers[0] == ranked[0].passage + 1  # the best sentence's passage keeps its number
