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
from rag.backends.base import bullet_lines
from rag.backends.chat import ChatBackend
from rag.briefing.engine import BriefingEngine, resolve_kind
from rag.briefing.models import Briefing
from rag.briefing.render import reference, render_markdown
from rag.claims import figures, names
from rag.docx_export import write_docx
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
    bullets = [b for s in briefing.sections for b in s.bullets]
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
def test_meeting_briefing_has_item_sections_then_the_four_pcc_requests(
    backend, briefings, meetings
):
    meeting = meetings["2024-09-20"]
    briefing = briefings(backend, "meeting")
    labels = [item.label for item in meeting.items]
    headings = [s.heading for s in briefing.sections]
    assert headings[-1] == "Decisions and actions"
    assert headings[:-1] == [label for label in labels if label in headings]
    assert "3. Prevention Spotlight: Performance" in headings
    assert all(1 <= len(s.bullets) <= 3 for s in briefing.sections[:-1])
    decisions = [b.text for b in briefing.sections[-1].bullets]
    for request in PCC_REQUESTS:
        assert sum(request in text for text in decisions) == 1, request
    open_texts = [e.text for e in briefing.open_actions]
    assert all(any(r.lower() in t.lower() for t in open_texts) for r in PCC_REQUESTS)
    assert {e.status for e in briefing.open_actions} == {"open"}
    with_ah = next(b for b in briefing.sections[-1].bullets if "meeting with AH" in b.text)
    assert with_ah.note == "action · owner: Alex House (AH) · asked by JT · open"


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


def test_invented_and_misattributed_bullets_are_removed_and_a_supported_one_kept(
    sample_index, retriever, meetings
):
    reply = f"- {INVENTED}\n- {MISATTRIBUTED}\n- JT thanked AH for the comprehensive report [1]."
    settings = sample_index.with_overrides(llm="fake")
    engine = BriefingEngine(settings, retriever, ChatBackend(FakeLLM(reply), settings))
    briefing = engine.meeting_briefing(meetings["2024-09-20"])
    everything = " ".join(b.text for s in briefing.sections for b in s.bullets)
    assert "999" not in everything and "Dunstable" not in everything
    assert MARKER.sub("", INVENTED) in briefing.removed
    assert MARKER.sub("", MISATTRIBUTED) in briefing.removed
    assert "TR thanked" not in everything
    prevention = next(s for s in briefing.sections if s.heading.startswith("3. Prevention"))
    assert [b.text for b in prevention.bullets] == [
        f"JT thanked AH for the comprehensive report [{prevention_citation(briefing)}]."
    ]
    assert_traced(briefing, meetings)


def prevention_citation(briefing: Briefing) -> int:
    return next(c.n for c in briefing.citations if "comprehensive report" in c.quote)


def test_markdown_lists_sections_bullets_and_references(sample_index, retriever, meetings):
    briefing = BriefingEngine(sample_index, retriever).meeting_briefing(meetings["2025-01-28"])
    text = render_markdown(briefing)
    marking = "**OFFICIAL SENSITIVE - OPERATIONAL**"  # item 7 is quoted
    assert text.startswith(f"{marking}\n\n# {briefing.title}\n")
    assert text.endswith(f"\n{marking}\n")
    for section in briefing.sections:
        assert f"\n## {inert_markdown(section.heading)}\n" in text
        assert all(f"- {inert_markdown(b.text)}" in text for b in section.bullets)
    references = re.findall(r"^- (\[\d+\] .*)$", text.split("## References")[1], re.M)
    assert references == [inert_markdown(reference(c)) for c in briefing.citations]
    assert references[0].startswith(
        "[1] 1:1 PCC John Tizard & CC Trevor Rodenhurst — 2025-01-28 — "
    )


def test_docx_reads_back_with_title_headings_bullets_and_references(tmp_path, briefings):
    import docx

    briefing = briefings("extractive", "meeting")
    path = write_docx(briefing, tmp_path / "briefing.docx")
    paragraphs = docx.Document(str(path)).paragraphs
    by_style: dict[str, list[str]] = {}
    for paragraph in paragraphs:
        by_style.setdefault(paragraph.style.name, []).append(paragraph.text)
    assert by_style["Title"] == [briefing.title]
    assert by_style["Heading 1"] == [s.heading for s in briefing.sections] + ["References"]
    bullets = [b for s in briefing.sections for b in s.bullets]
    assert len(by_style["List Bullet"]) == len(bullets)
    for written, bullet in zip(by_style["List Bullet"], bullets, strict=True):
        assert written == bullet.text + (f" ({bullet.note})" if bullet.note else "")
    texts = [p.text for p in paragraphs]
    start = texts.index("References") + 1
    assert texts[start : start + len(briefing.citations)] == [
        reference(c) for c in briefing.citations
    ]
    assert re.fullmatch(r"\[1\] .+ — 2024-09-20 — .+", texts[start])


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
    assert "\n## 7. Neighbourhood Policing Guarantee\n" in out
    assert "- Develop an action plan for addressing the findings in the PEEL report [" in out
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
    item_sections = [s for s in briefing.sections if s.heading != "Decisions and actions"]
    assert item_sections, "the model's bullets for at least one item survive verification"
    decisions = [b.text for b in briefing.sections[-1].bullets]
    assert all(any(r in text for text in decisions) for r in PCC_REQUESTS)
