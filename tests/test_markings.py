"""Protective markings end to end, on item 7 of the 28 January 2025 sample (marked "Official
Sensitive - Operational"): carried into Chroma and BM25, filtered inside both queries, and
never shown to a clearance below it — answers, citations, briefings, register, meetings."""

from __future__ import annotations

import json

import pytest

from core.markings import marking_level
from index.store import IndexStore
from rag.answer import AnswerEngine
from rag.briefing.engine import BriefingEngine
from rag.briefing.render import render_markdown
from rag.docx_export import write_docx
from rag.register import build_register, render_register
from rag.retrieve import HybridRetriever, vector_filter
from tests.conftest import NPG_QUESTION
from tests.test_briefing import run_quorum

MARKED_DATE = "2025-01-28"
MARKED_ITEM = "7"


@pytest.fixture(scope="module")
def owner(sample_index, embedder):
    """The local owner's view: everything (the default clearance)."""
    found = HybridRetriever(sample_index, embedder=embedder)
    found.warm_up()
    return found


@pytest.fixture(scope="module")
def official(owner):
    return owner.cleared("OFFICIAL")


@pytest.fixture(scope="module")
def item7(owner):
    meeting = next(m for m in owner.meetings() if m.date == MARKED_DATE)
    return meeting.item(MARKED_ITEM)


def fragments(item) -> list[str]:
    """Pieces of item 7's own text (not its heading): none may reach an uncleared reader."""
    paragraphs = [p.strip() for p in item.text.split("\n\n")[1:] if len(p.strip()) > 30]
    return [p[:40] for p in paragraphs] + ["Official Sensitive"]


def assert_nothing_of(item, text: str) -> None:
    leaked = [f for f in fragments(item) if f.lower() in text.lower()]
    assert not leaked, leaked


@pytest.mark.parametrize(
    "marking, level",
    [
        (None, 0),
        ("NOT PROTECTIVELY MARKED", 0),
        ("OFFICIAL", 0),
        ("Official Sensitive - Operational", 1),
        ("OFFICIAL-SENSITIVE", 1),
        ("RESTRICTED", 1),
        ("CONFIDENTIAL", 2),
        ("SECRET", 2),
        ("Top Secret", 3),
    ],
)
def test_markings_rank_on_one_scale(marking, level):
    assert marking_level(marking) == level


def test_every_chunk_carries_its_items_marking_and_session_in_chroma_and_bm25(sample_index, owner):
    stored = IndexStore(sample_index).collection.get(include=["metadatas"])["metadatas"]
    marked = [m for m in stored if m["date"] == MARKED_DATE and m["item_number"] == MARKED_ITEM]
    assert marked and all(m["marking_level"] == 1 for m in marked)
    assert all(m["marking"] == "Official Sensitive - Operational" for m in marked)
    assert {m["session"] for m in stored} == {"open"}
    assert sum(m["marking_level"] > 0 for m in stored) == len(marked)
    owner.meetings()
    bm25 = [json.loads(m) for m in owner._bm25.metadata]
    marked_bm25 = [d for d in bm25 if d["item_number"] == MARKED_ITEM and d["date"] == MARKED_DATE]
    assert marked_bm25 and all(d["marking_level"] == 1 for d in marked_bm25)
    assert owner._bm25.levels.tolist() == [d["marking_level"] for d in bm25]


def test_the_chroma_query_itself_excludes_marked_chunks(owner):
    dense = owner._vector_index.as_retriever(similarity_top_k=50, filters=vector_filter(None, 0))
    hits = dense.retrieve(NPG_QUESTION)
    assert hits
    assert all(h.node.metadata["marking_level"] == 0 for h in hits)
    unfiltered = owner._vector_index.as_retriever(similarity_top_k=50).retrieve(NPG_QUESTION)
    assert any(h.node.metadata["marking_level"] == 1 for h in unfiltered)


def test_the_bm25_mask_excludes_marked_chunks(official):
    official.meetings()
    mask = official._bm25_mask({m.id for m in official.meetings()})
    marked = [json.loads(m)["marking_level"] > 0 for m in official._bm25.metadata]
    assert any(marked) and not all(marked)
    assert all(not keep for keep, m in zip(mask, marked, strict=True) if m)
    assert all(keep for keep, m in zip(mask, marked, strict=True) if not m)


def test_an_uncleared_answer_neither_retrieves_nor_quotes_the_marked_item(
    sample_index, owner, official, item7
):
    passages = official.retrieve(NPG_QUESTION).passages
    assert all(p.item_label != item7.label or p.date != MARKED_DATE for p in passages)
    answer = AnswerEngine(sample_index.with_overrides(clearance="OFFICIAL"), official).ask(
        NPG_QUESTION
    )
    assert_nothing_of(item7, answer.model_dump_json())
    cleared = AnswerEngine(sample_index, owner).ask(NPG_QUESTION)
    assert cleared.citations[0].marking == "Official Sensitive - Operational"


def test_meetings_and_register_withhold_the_item_and_keep_offsets(owner, official, item7):
    full = next(m for m in owner.meetings() if m.date == MARKED_DATE)
    seen = next(m for m in official.meetings() if m.date == MARKED_DATE)
    assert MARKED_ITEM not in [i.number for i in seen.items]
    assert len(seen.text) == len(full.text)
    assert all(seen.text[i.start : i.end] == i.text for i in seen.items)
    assert_nothing_of(item7, seen.model_dump_json())
    register = render_register(build_register(official.meetings()), "csv")
    assert_nothing_of(item7, register)
    full_register = build_register(owner.meetings())
    marked = [e for e in full_register if e.item.startswith("7.") and e.meeting_date == MARKED_DATE]
    assert marked and all(e.marking == "Official Sensitive - Operational" for e in marked)


def test_briefings_carry_their_highest_marking_in_header_and_footer(
    sample_index, owner, official, item7, tmp_path
):
    import docx

    meeting = next(m for m in owner.meetings() if m.date == MARKED_DATE)
    briefing = BriefingEngine(sample_index, owner).meeting_briefing(meeting)
    document = docx.Document(str(write_docx(briefing, tmp_path / "b.docx")))
    section = document.sections[0]
    heading = "OFFICIAL SENSITIVE - OPERATIONAL"
    assert section.header.paragraphs[0].text == heading
    assert section.footer.paragraphs[0].text == heading
    uncleared = BriefingEngine(sample_index.with_overrides(clearance="OFFICIAL"), official)
    seen = next(m for m in official.meetings() if m.date == MARKED_DATE)
    for brief in (uncleared.meeting_briefing(seen), uncleared.brief("topic", "neighbourhood")):
        text = render_markdown(brief)
        assert_nothing_of(item7, text)
        assert not text.startswith("**")


def test_cli_clearance_flag_filters_ask_show_and_register(sample_index, tmp_path, item7):
    index = ["--index", str(sample_index.index_path)]
    low = ["--clearance", "OFFICIAL"]
    asked = run_quorum(
        "ask", NPG_QUESTION, "--llm", "extractive", "--json", *index, *low, data_dir=tmp_path
    )
    assert asked.returncode == 0, asked.stderr
    assert_nothing_of(item7, json.loads(asked.stdout)["answer"] + asked.stdout)
    shown = run_quorum("show", MARKED_DATE, *index, *low, data_dir=tmp_path)
    assert shown.returncode == 0 and "Neighbourhood" not in shown.stdout
    listed = run_quorum("register", "--format", "csv", *index, *low, data_dir=tmp_path)
    assert_nothing_of(item7, listed.stdout)
    owner = run_quorum("ask", NPG_QUESTION, "--llm", "extractive", *index, data_dir=tmp_path)
    assert "7. Neighbourhood Policing Guarantee [OFFICIAL SENSITIVE - OPERATIONAL]" in owner.stdout
