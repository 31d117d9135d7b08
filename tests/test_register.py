"""The cross-meeting register over the real samples and a later board written as a fixture."""

from __future__ import annotations

import csv
import io
from hashlib import sha256
from pathlib import Path

import pytest

from core.errors import QuorumError
from core.settings import SAMPLE_ARCHIVE
from index.models import Meeting
from index.parse import parse_file, parse_text
from rag.register import RegisterEntry, build_register, filter_register, render_register

FOLLOWUP = Path(__file__).parent / "fixtures" / "followup"


@pytest.fixture(scope="module")
def samples() -> list[Meeting]:
    meetings = [parse_file(path, SAMPLE_ARCHIVE) for path in sorted(SAMPLE_ARCHIVE.glob("*.txt"))]
    assert len(meetings) == 3
    return meetings


@pytest.fixture(scope="module")
def register(samples) -> list[RegisterEntry]:
    return build_register(samples)


@pytest.fixture(scope="module")
def followup_board() -> Meeting:
    return parse_file(FOLLOWUP / "pgb_2024-10-29_test_fixture.txt", FOLLOWUP)


def entry(entries: list[RegisterEntry], words: str) -> RegisterEntry:
    found = [e for e in entries if words in e.text]
    assert len(found) == 1, [e.text for e in entries]
    return found[0]


def test_entries_in_date_order_with_per_meeting_counts(register):
    dates = [e.meeting_date for e in register]
    assert dates == sorted(dates)
    assert [dates.count(d) for d in ("2024-09-02", "2024-09-20", "2025-01-28")] == [3, 6, 8]
    assert len({e.id for e in register}) == len(register)


def test_owners_resolve_through_each_meetings_attendees(register):
    with_ah = entry(register, "a meeting with AH")
    assert (with_ah.owner, with_ah.owner_name) == ("AH", "Alex House")
    assert with_ah.owner_role == "Temporary Superintendent Local Policing – Police Service"
    assert with_ah.item == "3. Prevention Spotlight: Performance"
    assert with_ah.requested_by == "JT"
    plan = entry(register, "develop an action plan")
    assert (plan.owner, plan.owner_name, plan.owner_role) == (
        "CC",
        "Trevor Rodenhurst",
        "Chief Constable",
    )
    assert plan.meeting_title == "1:1 PCC John Tizard & CC Trevor Rodenhurst"
    assert plan.item.startswith("2. His Majesty's Inspectorate")


def test_samples_alone_leave_actions_open_and_decisions_done(register):
    assert {e.status for e in register if e.kind == "action"} == {"open"}
    assert {e.status for e in register if e.kind == "decision"} == {"done"}
    assert all(e.closed_by is None for e in register)


def test_filters(register):
    since = filter_register(register, since="2025-01-01")
    assert since and {e.meeting_date for e in since} == {"2025-01-28"}
    assert [e.text for e in filter_register(register, owner="AH")] == [
        entry(register, "a meeting with AH").text
    ]
    by_name = filter_register(register, owner="trevor")
    assert by_name == filter_register(register, owner="CC")
    assert len(by_name) == 4
    done = filter_register(register, status="done")
    assert done and {e.kind for e in done} == {"decision"}
    assert filter_register(register, since="2024-09-03", owner="JT", status="open") == [
        e for e in register if e.meeting_date == "2024-09-20" and e.owner == "JT and PW"
    ]


def test_filters_reject_unknown_status_and_bad_dates(register):
    with pytest.raises(QuorumError, match="unknown status"):
        filter_register(register, status="closed")
    with pytest.raises(QuorumError, match="ISO date"):
        filter_register(register, since="20 Sept")


def test_csv_round_trips_every_field(register):
    rows = list(csv.DictReader(io.StringIO(render_register(register, "csv"))))
    assert len(rows) == len(register)
    assert list(rows[0]) == list(RegisterEntry.model_fields)
    first = register[0]
    assert rows[0]["text"] == first.text and rows[0]["status"] == first.status
    multiline = entry(register, "were discussed and agreed")
    assert "\n" in multiline.text
    assert any(row["text"] == multiline.text for row in rows)


def test_markdown_has_one_row_per_entry_and_escapes_pipes_and_links(register):
    piped = register[0].model_copy(update={"text": "a | b\nc [x](http://e.example) <i>"})
    lines = render_register([piped, *register[1:]], "md").splitlines()
    assert lines[0].startswith("| Date | Item | Marking | Kind | Owner |")
    assert len(lines) == 2 + len(register)
    assert "a \\| b c \\[x\\]\\(http://e.example\\) \\<i\\>" in lines[2]
    assert "Alex House \\(AH\\)" in next(line for line in lines if "a meeting with AH" in line)


def test_table_wraps_text_and_rejects_unknown_formats(register):
    table = render_register(register, "table")
    assert table.splitlines()[0].split()[:4] == ["Date", "Item", "Marking", "Kind"]
    assert "Trevor Rodenhurst (CC)" in table
    assert "2024-09-02" in table and "2025-01-28" in table
    with pytest.raises(QuorumError, match="unknown register format"):
        render_register(register, "pdf")


def test_later_board_reporting_the_business_case_received_closes_that_action(
    samples, followup_board
):
    assert followup_board.date == "2024-10-29"
    assert "TEST FIXTURE" in followup_board.text
    register = build_register([*samples, followup_board])
    prevention = [e for e in register if e.item == "3. Prevention Spotlight: Performance"]
    business_case = entry(prevention, "business case")
    assert business_case.status == "done"
    assert followup_board.kind == "Performance and Governance Board"
    assert business_case.closed_by.startswith(f"{followup_board.kind} 2024-10-29, item 2: ")
    assert business_case.closed_on == "2024-10-29"
    evidence = business_case.closed_by.split(", item 2: ", 1)[1]
    assert evidence.endswith("has now been received.") and evidence in followup_board.text
    others = [e for e in prevention if e is not business_case]
    assert len(others) == 3
    assert [(e.status, e.closed_by, e.closed_on) for e in others] == [("open", None, None)] * 3


def test_fixture_board_records_its_own_entries_in_date_order(samples, followup_board):
    register = build_register([*samples, followup_board])
    fixture_entries = [e for e in register if e.meeting_id == followup_board.id]
    breakdown = entry(fixture_entries, "breakdown of response times")
    assert (breakdown.status, breakdown.owner, breakdown.requested_by) == ("open", None, "JT")
    assert breakdown.due == "before the next Performance and Governance Board"
    dates = [e.meeting_date for e in register]
    assert dates == sorted(dates) and "2024-10-29" in dates


def later_one_to_one(body: str, held: str = "Tuesday 25 February 2025") -> Meeting:
    """A 1:1 whose only item says ``body``."""
    text = (
        "Minutes: 1:1 PCC John Tizard & CC Trevor Rodenhurst\n"
        f"Date\t{held}\n"
        "Name\tPosition\n"
        "Trevor Rodenhurst (TR)\tChief Constable\n"
        "John Tizard (JT)\tPolice and Crime Commissioner\n\n"
        f"1. Actions\n\n{body}\n"
    )
    return parse_text(text, source="inline.txt", sha256=sha256(text.encode()).hexdigest())


def test_carried_forward_when_a_later_meeting_says_so(samples):
    later = later_one_to_one(
        "The further update on the review of historic cases and contemporary performance "
        "was carried forward to the next meeting."
    )
    register = build_register([*samples, later])
    update = entry(register, "PCC requested a further update")
    assert update.status == "carried forward"
    assert update.closed_by.startswith(f"{later.kind} 2025-02-25, item 1: The further update")
    assert entry(register, "He asked for this to be included").status == "open"


def test_a_later_request_that_repeats_an_action_does_not_close_it(samples):
    later = later_one_to_one(
        "JT asked for the business case for investment in prevention across the wider system "
        "to be presented to him."
    )
    register = build_register([*samples, later])
    assert entry(register, "a business case to be developed").status == "open"
    assert entry(register, "the business case for investment").kind == "action"


def test_a_later_meeting_of_the_same_kind_is_preferred(samples, followup_board):
    earlier_one_to_one = later_one_to_one(
        "The business case for investment in prevention across the wider system is in progress.",
        held="Tuesday 1 October 2024",
    )
    register = build_register([*samples, earlier_one_to_one, followup_board])
    business_case = entry(register, "a business case to be developed")
    assert business_case.status == "done"
    assert business_case.closed_by.startswith("Performance and Governance Board 2024-10-29")
    without_board = build_register([*samples, earlier_one_to_one])
    assert entry(without_board, "a business case to be developed").status == "carried forward"
