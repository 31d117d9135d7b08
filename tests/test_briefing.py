"""Briefings on the real sample index: both backends, every bullet traced to its source."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import NotFoundError
from core.settings import Settings
from index.models import Meeting
from index.store import IndexStore
from rag.backends.base import bullet_lines, one_line
from rag.backends.chat import ChatBackend
from rag.briefing.engine import BriefingEngine, resolve_kind
from rag.briefing.models import Briefing
from rag.briefing.render import (
    quoted_reference,
    render_markdown,
    uncited_bullets,
    word_count,
)
from rag.claims import figures, names
from rag.docx_export import write_docx
from rag.register import build_register
from rag.retrieve import HybridRetriever
from rag.text import inert_markdown, normalise
from tests.conftest import link_static_table, make_settings
from tests.fakes import FakeLLM

QUORUM = Path(sys.executable).parent / "quorum"
BOARD = "Performance and Governance Board"
PCC_REQUESTS = (
    "A business case to be developed",
    "outcomes and impact of the programme will be in 3 and 5 years",
    "A meeting with AH to ensure",
    "His involvement in conversations with partners",
)
MARKER = re.compile(r"\s*\[(\d+)\]")
INVENTED = "The PCC agreed to fund 999 extra officers for Dunstable by March 2026 [1]."
# TR spoke under item 3, but the sentence this paraphrases says JT thanked AH.
MISATTRIBUTED = "TR thanked AH for the comprehensive report [1]."


@pytest.fixture(scope="module")
def retriever(sample_index: Settings, embedder) -> HybridRetriever:
    return HybridRetriever(sample_index, embedder=embedder)


@pytest.fixture(scope="module")
def meetings(sample_index: Settings) -> dict[str, Meeting]:
    return {m.date: m for m in IndexStore(sample_index).catalog.meetings()}


def engine_for(settings: Settings, retriever: HybridRetriever, backend: str) -> BriefingEngine:
    if backend == "extractive":
        return BriefingEngine(settings, retriever)
    return BriefingEngine(settings.with_overrides(llm="fake"), retriever)


def brief(engine: BriefingEngine, kind: str, meetings: dict[str, Meeting]) -> Briefing:
    if kind == "meeting":
        return engine.meeting_briefing(meetings["2024-09-20"])
    if kind == "topic":
        return engine.topic_briefing("prevention")
    return engine.since_briefing(BOARD)


@pytest.fixture(scope="module")
def briefings(sample_index, retriever, meetings):
    """Each (backend, kind) briefing of the sample index, built once for the module."""
    built: dict[tuple[str, str], Briefing] = {}

    def get(backend: str, kind: str) -> Briefing:
        if (backend, kind) not in built:
            built[backend, kind] = brief(
                engine_for(sample_index, retriever, backend), kind, meetings
            )
        return built[backend, kind]

    return get


@pytest.fixture(
    params=[(b, k) for b in ("extractive", "fake") for k in ("meeting", "topic", "since")],
    ids=lambda p: "-".join(p),
)
def briefing(request, briefings) -> Briefing:
    return briefings(*request.param)


def support(meeting: Meeting, item_label: str) -> str:
    """What may vouch for a bullet's facts: its item, the meeting's title, kind and people."""
    item = next(it for it in meeting.items if it.label == item_label)
    people = " ".join(f"{p.name} {p.initials or ''} {p.role or ''}" for p in meeting.attendees)
    return normalise(f"{meeting.title} {meeting.kind} {meeting.date} {people} {item.text}")


def assert_traced(briefing: Briefing, meetings: dict[str, Meeting]) -> None:
    """Every bullet cites a reference whose quote is verbatim in its meeting, and every number
    and name in the bullet occurs in the cited item (or its meeting's title and people)."""
    cited = {c.n: c for c in briefing.citations}
    bullets = [*briefing.overview, *(b for s in briefing.sections for b in s.bullets)]
    assert bullets
    for bullet in bullets:
        numbers = [int(n) for n in MARKER.findall(bullet.text)]
        assert numbers and all(n in cited for n in numbers), bullet.text
        text = MARKER.sub("", bullet.text)
        for n in numbers:
            citation = cited[n]
            meeting = meetings[citation.date]
            assert meeting.text[citation.start : citation.end] == citation.quote
            source = support(meeting, citation.item)
            missing = [n for n in names(text) if normalise(n) not in source]
            missing += [f"{v:g}" for v in figures(text) - figures(source)]
            assert not missing, (bullet.text, missing)
    used = {int(n) for b in bullets for n in MARKER.findall(b.text)}
    assert used == set(cited), "every reference is used by some bullet"


def test_every_bullet_is_cited_and_its_facts_occur_in_the_source(briefing, meetings):
    assert_traced(briefing, meetings)
    assert {"load", "draft", "verify", "register", "total"} <= set(briefing.timings)
    assert briefing.backend in ("extractive", "fake")


@pytest.mark.parametrize("backend", ["extractive", "fake"])
def test_meeting_briefing_is_overview_decisions_actions_then_one_line_per_item(
    backend, briefings, meetings
):
    meeting = meetings["2024-09-20"]
    briefing = briefings(backend, "meeting")
    assert briefing.record == "4 items, 1 decision and 5 actions (5 open)."
    assert len(briefing.overview) == 2
    headings = [s.heading for s in briefing.sections]
    assert headings == ["Decisions", "Actions", "Items"]
    actions = [b.text for b in briefing.sections[1].bullets]
    for request in PCC_REQUESTS:
        assert sum(request in text for text in actions) == 1, request
    open_texts = [e.text for e in briefing.open_actions]
    assert all(any(r.lower() in t.lower() for t in open_texts) for r in PCC_REQUESTS)
    assert {e.status for e in briefing.open_actions} == {"open"}
    with_ah = next(b for b in briefing.sections[1].bullets if "meeting with AH" in b.text)
    assert with_ah.note == "owner AH · open"
    labels = [item.label for item in meeting.items]
    leads = [b.lead for b in briefing.sections[2].bullets]
    assert leads == [label for label in labels if label in leads]
    assert len(leads) == len(set(leads)), "one line per item"
    assert word_count(briefing) <= 350


@pytest.mark.parametrize("date", ["2024-09-02", "2024-09-20", "2025-01-28"])
def test_sample_meeting_briefings_fit_a_page_and_name_every_decision_and_action(
    date, sample_index, retriever, meetings
):
    meeting = meetings[date]
    briefing = BriefingEngine(sample_index, retriever).meeting_briefing(meeting)
    assert word_count(briefing) <= 350
    assert not uncited_bullets(briefing)
    register = [e for e in build_register(list(meetings.values())) if e.meeting_id == meeting.id]
    assert register
    sections = {s.heading: " ".join(b.text for b in s.bullets) for s in briefing.sections}
    for entry in register:
        heading = "Decisions" if entry.kind == "decision" else "Actions"
        assert one_line(entry.text)[1:].rstrip(".") in sections[heading], entry.text
    assert_traced(briefing, meetings)


def test_a_smaller_word_budget_gives_a_shorter_briefing(sample_index, retriever, meetings):
    settings = sample_index.with_overrides(brief_words=200)
    briefing = BriefingEngine(settings, retriever).meeting_briefing(meetings["2025-01-28"])
    full = BriefingEngine(sample_index, retriever).meeting_briefing(meetings["2025-01-28"])
    assert word_count(briefing) <= 200 < word_count(full)
    assert [s.heading for s in briefing.sections][:2] == ["Decisions", "Actions"]


@pytest.mark.parametrize("backend", ["extractive", "fake"])
def test_topic_briefing_goes_meeting_by_meeting_in_date_order(backend, briefings):
    briefing = briefings(backend, "topic")
    assert briefing.title == "Topic briefing: prevention"
    meeting_sections = briefing.sections[:-1]
    dates = [re.search(r"\d{4}-\d{2}-\d{2}$", s.heading).group(0) for s in meeting_sections]
    assert dates == sorted(dates) and len(dates) == len(set(dates))
    assert "2024-09-20" in dates
    cited = {c.n: c for c in briefing.citations}
    for bullet in (b for s in meeting_sections for b in s.bullets):
        source = cited[int(MARKER.search(bullet.text).group(1))]
        assert "prevent" in f"{bullet.text} {source.quote} {source.item}".lower(), bullet.text
    assert briefing.sections[-1].heading == "Open actions"
    assert {e.item for e in briefing.open_actions} == {"3. Prevention Spotlight: Performance"}


def test_topic_briefing_on_neighbourhood_policing_finds_the_guarantee(
    sample_index, retriever, meetings
):
    briefing = BriefingEngine(sample_index, retriever).topic_briefing("Neighbourhood Policing")
    assert_traced(briefing, meetings)
    items = {c.item for c in briefing.citations}
    assert "7. Neighbourhood Policing Guarantee" in items


@pytest.mark.parametrize("backend", ["extractive", "fake"])
def test_since_briefing_covers_the_last_board_what_followed_and_open_actions(backend, briefings):
    briefing = briefings(backend, "since")
    headings = [s.heading for s in briefing.sections]
    assert briefing.title == f"Since the last {BOARD} (2024-09-20)"
    assert headings[0].endswith(f"2024-09-20 (last {BOARD})")
    assert headings[1].endswith("2025-01-28")
    assert headings[-1] == "Actions still open"
    assert not any("2024-09-02" in h for h in headings)
    assert briefing.open_actions
    assert all(e.kind == "action" and e.status != "done" for e in briefing.open_actions)
    assert {e.meeting_date for e in briefing.open_actions} == {"2024-09-20", "2025-01-28"}


def test_since_briefing_for_a_kind_with_a_previous_meeting_starts_after_it(
    sample_index, retriever, meetings
):
    briefing = BriefingEngine(sample_index, retriever).since_briefing("1:1")
    assert briefing.title == "Since the previous 1:1 (2024-09-02)"
    headings = [s.heading for s in briefing.sections]
    assert headings[0].endswith(f"{BOARD} — 2024-09-20")
    assert headings[1].endswith("2025-01-28 (last 1:1)")
    dates = {e.meeting_date for e in briefing.open_actions}
    assert dates == {"2024-09-02", "2024-09-20", "2025-01-28"}


def test_invented_and_misattributed_bullets_are_removed_and_the_chosen_sentences_stand(
    sample_index, retriever, meetings
):
    """The model's one call rewrites the chosen sentences; bullets that fail verification
    are listed as removed and the chosen sentence itself stands in their place."""
    reply = f"- {INVENTED}\n- {MISATTRIBUTED}"
    settings = sample_index.with_overrides(llm="fake")
    engine = BriefingEngine(settings, retriever, ChatBackend(FakeLLM(reply), settings))
    briefing = engine.meeting_briefing(meetings["2024-09-20"])
    everything = " ".join(b.text for s in briefing.sections for b in s.bullets)
    assert "999" not in everything and "Dunstable" not in everything
    assert "TR thanked" not in everything
    assert MARKER.sub("", INVENTED) in briefing.removed
    assert MARKER.sub("", MISATTRIBUTED) in briefing.removed
    extractive = BriefingEngine(sample_index, retriever).meeting_briefing(meetings["2024-09-20"])
    assert [b.text for b in briefing.sections[-1].bullets] == [
        b.text for b in extractive.sections[-1].bullets
    ]
    assert_traced(briefing, meetings)


@pytest.mark.parametrize("marked", [True, False], ids=["cited", "uncited-lines-in-order"])
def test_a_verified_shorter_rewrite_replaces_the_chosen_sentence(
    marked, sample_index, retriever, meetings
):
    meeting = meetings["2025-01-28"]
    plain = BriefingEngine(sample_index, retriever).meeting_briefing(meeting)
    first = next(c for c in plain.citations if "fifteen minutes" in c.quote)
    shorter = "Patrol must attend emergencies within fifteen minutes everywhere in the county"
    settings = sample_index.with_overrides(llm="fake")
    reply = "\n".join(f"- {shorter}{f' [{n}]' if marked else ''}." for n in range(1, 20))
    engine = BriefingEngine(settings, retriever, ChatBackend(FakeLLM(reply), settings))
    briefing = engine.meeting_briefing(meeting)
    lines = [b.text for b in [*briefing.overview, *briefing.sections[-1].bullets]]
    assert sum(shorter in line for line in lines) == 1, lines
    assert any(first.quote in c.quote for c in briefing.citations)
    assert_traced(briefing, meetings)


def test_markdown_lists_sections_bullets_and_references(sample_index, retriever, meetings):
    briefing = BriefingEngine(sample_index, retriever).meeting_briefing(meetings["2025-01-28"])
    text = render_markdown(briefing)
    marking = "**OFFICIAL SENSITIVE - OPERATIONAL**"  # item 7 is quoted
    assert text.startswith(f"{marking}\n\n# {briefing.title}\n")
    assert text.endswith(f"\n{marking}\n")
    for section in briefing.sections:
        assert f"\n## {inert_markdown(section.heading)}\n" in text
        assert all(f"{inert_markdown(b.text)}" in text for b in section.bullets)
        for bullet in section.bullets:
            lead = f"**{inert_markdown(bullet.lead)}** — " if bullet.lead else ""
            assert f"\n- {lead}{inert_markdown(bullet.text)}" in text
    assert f"\n## Overview\n\n{inert_markdown(briefing.record)} " in text
    references = re.findall(r"^- (\[\d+\] .*)$", text.split("## References")[1], re.M)
    assert references == [inert_markdown(quoted_reference(c)) for c in briefing.citations]
    assert all(f"“{one_line(c.quote)}”" in quoted_reference(c) for c in briefing.citations)
    assert references[0].startswith(
        "[1] 1:1 PCC John Tizard & CC Trevor Rodenhurst — 2025-01-28 — "
    )


def test_docx_is_a_briefing_note_with_marking_headings_bullets_and_quoted_references(
    tmp_path, sample_index, retriever, meetings
):
    import docx

    briefing = BriefingEngine(sample_index, retriever).meeting_briefing(meetings["2025-01-28"])
    path = write_docx(briefing, tmp_path / "briefing.docx")
    document = docx.Document(str(path))
    paragraphs = document.paragraphs
    by_style: dict[str, list[str]] = {}
    for paragraph in paragraphs:
        by_style.setdefault(paragraph.style.name, []).append(paragraph.text)
    assert by_style["Title"] == ["Briefing"]
    assert by_style["Subtitle"] == ["1:1 PCC John Tizard & CC Trevor Rodenhurst — 2025-01-28"]
    assert by_style["Heading 1"] == ["Overview", "Decisions", "Actions", "Items", "References"]
    marking = "OFFICIAL SENSITIVE - OPERATIONAL"
    section = document.sections[0]
    assert section.header.paragraphs[0].text == marking
    assert section.footer.paragraphs[0].text == marking
    texts = [p.text for p in paragraphs]
    overview = texts[texts.index("Overview") + 1]
    assert overview.startswith(briefing.record)
    bullets = [b for s in briefing.sections for b in s.bullets]
    assert len(by_style["List Bullet"]) == len(bullets)
    for written, bullet in zip(by_style["List Bullet"], bullets, strict=True):
        lead = f"{bullet.lead} — " if bullet.lead else ""
        assert written == lead + bullet.text + (f" ({bullet.note})" if bullet.note else "")
    start = texts.index("References") + 1
    assert texts[start : start + len(briefing.citations)] == [
        quoted_reference(c) for c in briefing.citations
    ]
    assert all("“" in texts[start + i] for i in range(len(briefing.citations)))


def test_bullet_lines_strips_list_marks_and_the_nothing_reply():
    reply = "- First point [1].\n* Second point [1]\n2. Third point [1].\nNONE\n\n"
    assert bullet_lines(reply) == "First point [1].\nSecond point [1]\nThird point [1]."
    assert bullet_lines("NONE.") == ""


def test_kinds_resolve_exactly_or_by_a_unique_part(meetings):
    dated = list(meetings.values())
    assert resolve_kind("board", dated) == BOARD
    assert resolve_kind("1:1", dated) == "1:1"
    with pytest.raises(NotFoundError, match="kinds: 1:1, Performance"):
        resolve_kind("panel", dated)


def run_quorum(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    link_static_table(data_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUORUM_")}
    env.update(HF_HUB_OFFLINE="1", QUORUM_DATA_DIR=str(data_dir))
    return subprocess.run(
        [str(QUORUM), *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_cli_register_prints_csv_of_every_entry(sample_index, tmp_path):
    done = run_quorum(
        "register", "--index", str(sample_index.index_path), "--format", "csv", data_dir=tmp_path
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(rows) == 17
    with_ah = next(r for r in rows if r["text"].startswith("a meeting with AH"))
    assert (with_ah["owner"], with_ah["status"], with_ah["meeting_date"]) == (
        "AH",
        "open",
        "2024-09-20",
    )


def test_cli_brief_meeting_prints_markdown_and_refuses_docx_without_a_file(sample_index, tmp_path):
    index = str(sample_index.index_path)
    done = run_quorum(
        "brief", "meeting", "2025-01-28", "--llm", "extractive", "--index", index, data_dir=tmp_path
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith(
        "**OFFICIAL SENSITIVE - OPERATIONAL**\n\n"
        "# Briefing: 1:1 PCC John Tizard & CC Trevor Rodenhurst — 2025-01-28\n"
    )
    assert "\n## Overview\n" in out and "\n## Decisions\n" in out and "\n## Items\n" in out
    assert "— Develop an action plan for addressing the findings in the PEEL report [" in out
    short = run_quorum(
        "brief", "meeting", "2025-01-28", "--llm", "extractive", "--words", "150",
        "--index", index, data_dir=tmp_path,
    )  # fmt: skip
    assert short.returncode == 0, short.stderr
    body = MARKER.sub("", short.stdout.split("## References")[0])
    assert len([w for w in body.split() if re.search(r"\w", w)]) < len(out.split())
    assert "\n## References\n" in out
    refused = run_quorum(
        "brief", "meeting", "2025-01-28", "--format", "docx", "--index", index, data_dir=tmp_path
    )
    assert refused.returncode == 2
    assert "--format docx needs -o FILE" in refused.stderr


@pytest.mark.slow
def test_local_model_meeting_briefing_is_cited_and_verified(
    tmp_path, sample_index, retriever, meetings
):
    settings = make_settings(
        tmp_path,
        index_dir=sample_index.index_path,
        llm="local",
        local_model="qwen2.5-coder-0.5b",
        n_ctx=2048,
    )
    briefing = BriefingEngine(settings, retriever).meeting_briefing(meetings["2024-09-20"])
    assert briefing.backend == "local:qwen2.5-coder-0.5b"
    assert_traced(briefing, meetings)
    assert word_count(briefing) <= 350
    actions = next(s for s in briefing.sections if s.heading == "Actions")
    assert all(any(r in b.text for b in actions.bullets) for r in PCC_REQUESTS)
