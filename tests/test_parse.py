"""The minutes parser on the three sample meetings and on real minutes of other police bodies.

Every expectation was read off the source files by hand; nothing here is produced by the parser.
"""

from __future__ import annotations

import hashlib
import re
from difflib import SequenceMatcher
from pathlib import Path

import pytest

from core.errors import ParseError
from index.models import Meeting
from index.parse import meeting_id, parse_file, parse_text

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT / "data" / "sample_minutes"
FIXTURES = ROOT / "data" / "corpus" / "minutes"

PGB = "000_9a374a5a77b903e1.txt"
ONE_TO_ONE_JAN = "002_38b18e688a9d200f.txt"
ONE_TO_ONE_SEP = "004_4f5460b6f408a5cd.txt"
ONE_TO_ONE_TITLE = "1:1 PCC John Tizard & CC Trevor Rodenhurst"

SAMPLES = {
    PGB: {
        "date": "2024-09-20",
        "kind": "Performance and Governance Board",
        "title": "Police and Crime Commissioner's Office Performance and Governance Board",
        "time": None,
        "venue": None,
        "marking": None,
        "first_item": "Item 1:",
        "attendees": [
            ("John Tizard", "JT", "Police and Crime Commissioner", "present"),
            ("Trevor Rodenhurst", "TR", "Chief Constable – Police Service", "present"),
            ("Dan Vajzovic", "DV", "Deputy Chief Constable – Police Service", "in attendance"),
            ("Phil Wells", "PW", "Chief Finance Officer – Police Service/PCCO", "in attendance"),
            (
                "Alex House",
                "AH",
                "Temporary Superintendent Local Policing – Police Service",
                "in attendance",
            ),
            ("Lara Lewis", "LL", "Acting Staff Officer – OPCC", "in attendance"),
            ("Katie Beaumont", "KB", "Head of Governance and Transparency - PCCO", "in attendance"),
            (
                "Samantha Denness",
                "SD",
                "Performance and Accountability Manager – PCCO",
                "in attendance",
            ),
            ("Wayne Humberstone", "WH", "Acting PCCO CEO", "apologies"),
            ("John Murphy", "JM", "Assistant Chief Constable", "apologies"),
        ],
        "items": [
            ("1", "Welcome & PCC Remarks"),
            ("2", "Actions"),
            ("3", "Prevention Spotlight: Performance"),
            ("4", ""),
        ],
    },
    ONE_TO_ONE_JAN: {
        "date": "2025-01-28",
        "kind": "1:1",
        "title": ONE_TO_ONE_TITLE,
        "time": "1100 - 1200",
        "venue": "PCC Office, HQ",
        "marking": "Official Sensitive - Operational",
        "first_item": "1. Welcome",
        "attendees": [
            ("Trevor Rodenhurst", "TR", "Chief Constable", "present"),
            ("John Tizard", "JT", "Police and Crime Commissioner", "present"),
            ("Lara Lewis", "LL", "Staff Officer (PCC)", "present"),
        ],
        "items": [
            ("1", "Welcome"),
            (
                "2",
                "His Majesty's Inspectorate of Constabularies and Fire and Rescue Services Report",
            ),
            ("3", "Child Sexual Exploitation - Review of Cases"),
            ("4", "Prevent - Counter terrorism programme"),
            ("5", "Artificial Intelligence at Bedfordshire Police and ERSOU"),
            ("6", "Operational Update"),
            ("7", "Neighbourhood Policing Guarantee"),
            ("8", "Responding to the Public - Patrol Function"),
            ("9", "AOB"),
        ],
    },
    ONE_TO_ONE_SEP: {
        "date": "2024-09-02",
        "kind": "1:1",
        "title": ONE_TO_ONE_TITLE,
        "time": "1100-1200",
        "venue": "CC Rodenhursts Office, HQ",
        "marking": None,
        "first_item": "1. Welcome",
        "attendees": [
            ("Trevor Rodenhurst", "TR", "Chief Constable", "present"),
            ("John Tizard", "JT", "Police and Crime Commissioner", "present"),
            ("Suzy Collings", "SC", "PA Support (Minutes)", "present"),
        ],
        "items": [
            ("1", "Welcome"),
            ("2", "CC Update"),
            ("3", "Social Cohesion and Far Right Disorder/Riots"),
            ("4", "Update on Summer Pressures"),
            ("5", "Governance Review and Changes"),
            ("6", "HMICFRS - Inspection"),
            ("7", "Conduct Matters Update"),
            ("8", "Police & Crime Plan"),
            ("9", "PCC's Office – CEO Recruitment and Office Restructuring"),
        ],
    },
}

PANEL = "Police and Crime Panel"
FIXTURE_MEETINGS = {
    "cheshire_pcp_2024-07-19.txt": {
        "date": "2024-07-19",
        "kind": PANEL,
        "title": "Cheshire Police and Crime Panel",
        "first_item": "1.\n\nApologies",
        "items": [
            ("1", "Apologies"),
            ("2", "Appointment of Chair for the 2024/25 Municipal Year"),
            ("3", "Appointment of Deputy Chair for the 2024/25 Municipal Year"),
            (
                "4",
                "Code of Conduct - Declaration of Interests. Relevant Authorities "
                "(Disclosable Pecuniary Interests) Regulations 2012",
            ),
            ("5", "Public Participation"),
        ],
    },
    "surrey_pcp_2020-09-15.txt": {
        "date": "2020-09-15",
        "kind": PANEL,
        "title": "Surrey Police and Crime Panel",
        "first_item": "39/20",
        "items": [
            ("39/20", "APOLOGIES FOR ABSENCE"),
            ("40/20", "MINUTES OF THE PREVIOUS MEETING"),
            ("41/20", "DECLARATIONS OF INTEREST"),
            ("42/20", "PUBLIC QUESTIONS"),
        ],
    },
    "dyfed_powys_pcp_2017-11-16.txt": {
        "date": "2017-11-16",
        "kind": PANEL,
        "title": "Dyfed Powys Police and Crime Panel",
        "first_item": "1.\n\nAPOLOGIES",
        "items": [
            ("1", "APOLOGIES FOR ABSENCE AND PERSONAL MATTERS"),
            ("2", "DECLARATIONS OF INTEREST"),
            (
                "3",
                "TO SIGN AS A CORRECT RECORD THE MINUTES OF THE MEETING HELD ON THE "
                "28TH JULY, 2017",
            ),
            ("4", "MATTERS ARISING FROM THE MINUTES (IF ANY)"),
            ("4.1", "Minute 6 - Annual Report of the Police and Crime Commissioner"),
        ],
    },
    "warwickshire_pcp_2023-06-22.txt": {
        "date": "2023-06-22",
        "kind": PANEL,
        "title": "Warwickshire Police and Crime Panel",
        "first_item": "1.\n\nAppointment",
        "items": [
            ("1", "Appointment of Chair to the Warwickshire Police and Crime Panel"),
            ("2", "Appointment of Vice Chair to the Warwickshire Police and Crime Panel"),
            ("3", "General"),
            ("3(1)", "Apologies"),
            ("3(2)", "Disclosures of Pecuniary and Non-Pecuniary Interests"),
        ],
    },
    "herts_pcp_2012-10-25.txt": {
        "date": "2012-10-25",
        "kind": PANEL,
        "title": "Meeting of Police and Crime Panel",
        "first_item": "1 INTRODUCTION",
        "items": [
            ("1", "INTRODUCTION AND WELCOME"),
            ("2", "MINUTES OF THE PREVIOUS MEETING OF 19 JULY 2012"),
            ("3", "MATTERS ARISING"),
            ("4", "TRAINING EVENT - 28 SEPTEMBER 2012"),
        ],
    },
    "northants_accountability_board_2022-04-12.txt": {
        "date": "2022-04-12",
        "kind": "Accountability Board",
        "title": "Accountability Board",
        "first_item": "1. Welcome",
        "items": [
            ("1", "Welcome and introductions"),
            ("2", "Previous minutes and action log"),
            ("3", "Budget Conditions Letter Update"),
            ("4", "Complaints update"),
        ],
    },
    "northants_accountability_board_2021-08-10.txt": {
        "date": "2021-08-10",
        "kind": "Accountability Board",
        "title": "Accountability Board",
        "first_item": "1. Welcome",
        "items": [
            ("1", "Welcome and introductions"),
            ("2", "Previous minutes and action log"),
            ("3", "Budget outturn 2020/21"),
        ],
    },
}

ALL_FILES = [ARCHIVE / name for name in SAMPLES] + [FIXTURES / name for name in FIXTURE_MEETINGS]


def expected_for(name: str) -> dict:
    return SAMPLES.get(name) or FIXTURE_MEETINGS[name]


@pytest.fixture(scope="module")
def meetings() -> dict[str, Meeting]:
    return {path.name: parse_file(path, archive_root=path.parent) for path in ALL_FILES}


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_meeting_fields(name, meetings):
    meeting, expected = meetings[name], SAMPLES[name]
    got = {key: getattr(meeting, key) for key in ("date", "kind", "title", "time", "venue")}
    assert got == {key: expected[key] for key in got}
    assert meeting.marking == expected["marking"]
    assert meeting.source == name
    assert meeting.warnings == []
    assert meeting.outcomes == []


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_attendees(name, meetings):
    got = [(a.name, a.initials, a.role, a.status) for a in meetings[name].attendees]
    assert got == SAMPLES[name]["attendees"]


@pytest.mark.parametrize("name", [*SAMPLES, *FIXTURE_MEETINGS])
def test_item_numbers_and_headings(name, meetings):
    got = [(it.number, it.heading) for it in meetings[name].items]
    assert got == expected_for(name)["items"]


@pytest.mark.parametrize("name", FIXTURE_MEETINGS)
def test_fixture_meeting_fields(name, meetings):
    meeting, expected = meetings[name], FIXTURE_MEETINGS[name]
    assert (meeting.date, meeting.kind, meeting.title) == (
        expected["date"],
        expected["kind"],
        expected["title"],
    )


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_item_text_is_the_verbatim_span_and_items_do_not_overlap(path, meetings):
    meeting = meetings[path.name]
    previous_end = 0
    for item in meeting.items:
        assert item.text == meeting.text[item.start : item.end]
        starts_with_number = rf"(?:Item\s+)?{re.escape(item.number)}(?!\d)"
        assert re.match(starts_with_number, item.text), "a span begins at the item's number"
        assert previous_end <= item.start < item.end
        previous_end = item.end


def non_boilerplate_words(raw: str, first_item: str, marking: str | None) -> list[str]:
    """The source's words from the first item on, without markup (tags, '#' heading markers,
    '**'), marking lines and 'END': what the items must cover. Worked out here, not by the
    parser."""
    text = re.sub(r"<[^>]+>", "", raw).replace("**", "")
    text = re.sub(r"^[ \t]*#+[ \t]*", "", text, flags=re.MULTILINE)
    body = text[text.index(first_item) :]
    return " ".join(ln for ln in body.splitlines() if ln.strip() not in {marking, "END"}).split()


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_items_cover_at_least_99_percent_of_the_non_boilerplate_source(path, meetings):
    expected = expected_for(path.name)
    source = non_boilerplate_words(
        path.read_text(encoding="utf-8"), expected["first_item"], expected.get("marking")
    )
    covered = " ".join(item.text for item in meetings[path.name].items).split()
    matcher = SequenceMatcher(None, source, covered, autojunk=False)
    matched = sum(len("".join(source[b.a : b.a + b.size])) for b in matcher.get_matching_blocks())
    total = len("".join(source))
    assert total > 0
    assert matched / total >= 0.99, f"{path.name}: items cover {matched / total:.2%}"


def test_marking_line_inside_item_7_belongs_to_item_7(meetings):
    meeting = meetings[ONE_TO_ONE_JAN]
    item7, item8 = meeting.item("7"), meeting.item("8")
    assert item7.marking == "Official Sensitive - Operational"
    assert "Official Sensitive - Operational\n\ntackle specific rural crimes" in item7.text
    assert item7.text.endswith("It was agreed to review communications.")
    assert item8.text.startswith("8. Responding to the Public")
    assert [it.number for it in meeting.items if it.marking] == ["7"]


def test_markup_is_removed_from_the_text(meetings):
    for name in SAMPLES:
        text = meetings[name].text
        assert not re.search(r"</?(?:sup|b|ul|li|u|h2)>|\*\*|^#", text, re.MULTILINE), name
    assert "FRIDAY 20TH SEPTEMBER 2024" in meetings[PGB].text
    assert "- Bedfordshire Police have been rated" in meetings[PGB].text
    assert meetings[ONE_TO_ONE_JAN].item("9").text.startswith("9. AOB\n")


def test_flattened_table_items_start_inside_the_line(meetings):
    meeting = meetings[PGB]
    item1, item2, item3 = meeting.items[:3]
    assert item1.text.endswith("at the next Panel meeting.")
    assert item2.text.startswith("Item 2: JT advised")
    assert item3.text.startswith("Item 3: Prevention Spotlight: Performance TR emphasised")
    assert "Lara Lewis" in [a.name for a in meeting.attendees]
    assert sum(a.name == "Lara Lewis" for a in meeting.attendees) == 1
    assert not any("100011" in a.name for a in meeting.attendees)


def test_a_heading_in_the_label_cell_of_a_table_row():
    raw = (ARCHIVE / PGB).read_text(encoding="utf-8")
    text = raw.replace("Item 1:\tJT noted", "Item 1: Welcome & PCC Remarks\tJT noted")
    for left_cell in ("Welcome &\t", "PCC\tThe minutes", "Remarks\trecord"):
        text = text.replace(left_cell, "\t" + left_cell.split("\t")[1])
    meeting = parse_text(text, source="table.txt", sha256="0" * 64)
    assert meeting.items[0].heading == "Welcome & PCC Remarks"
    assert "\nPCC\t" not in meeting.text


def test_attendees_of_the_opening_item_and_apologies_in_other_minutes(meetings):
    board = meetings["northants_accountability_board_2021-08-10.txt"]
    present = {a.initials: (a.name, a.role) for a in board.attendees if a.status == "present"}
    assert present["SM"] == ("Stephen Mold", "PFCC")
    assert present["NA"] == ("Nick Adderley", "CC")
    assert len(present) == 10
    apologies = [(a.name, a.role) for a in board.attendees if a.status == "apologies"]
    assert apologies == [
        ("Blatchly", "ACC"),
        ("Pauline Sturman", "ACC"),
        ("Stuart McCartney", None),
    ]
    panel = meetings["dyfed_powys_pcp_2017-11-16.txt"]
    assert [(a.name, a.role, a.status) for a in panel.attendees] == [
        ("K. Evans", "Ceredigion County Council", "apologies"),
        ("L. George", "Powys County Council", "apologies"),
        ("W. Powell", "Powys County Council", "apologies"),
    ]


def closed_variant(marker_line: str) -> Meeting:
    """Sample 004 with a session line put before item 8."""
    raw = (ARCHIVE / ONE_TO_ONE_SEP).read_text(encoding="utf-8")
    text = raw.replace("8. Police & Crime Plan", f"{marker_line}\n\n8. Police & Crime Plan")
    return parse_text(text, source="closed.txt", sha256="0" * 64)


@pytest.mark.parametrize("marker_line", ["Closed Session", "PART 2", "Exempt items"])
def test_a_closed_session_line_closes_the_items_after_it(marker_line):
    meeting = closed_variant(marker_line)
    assert [(it.number, it.session) for it in meeting.items] == [
        *((str(n), "open") for n in range(1, 8)),
        ("8", "closed"),
        ("9", "closed"),
    ]


def test_open_session_reopens_and_an_exclusion_heading_closes_what_follows():
    raw = (ARCHIVE / ONE_TO_ONE_SEP).read_text(encoding="utf-8")
    text = raw.replace("5. Governance Review", "Closed Session\n\n5. Governance Review")
    text = text.replace("7. Conduct Matters", "Open Session\n\n7. Conduct Matters")
    text = text.replace("8. Police & Crime Plan", "8. Exclusion of the Press and Public")
    meeting = parse_text(text, source="sessions.txt", sha256="0" * 64)
    expected = ["open"] * 4 + ["closed"] * 2 + ["open"] * 2 + ["closed"]
    assert [it.session for it in meeting.items] == expected


def test_minutes_without_numbered_items_are_read_by_layout_and_say_so():
    raw = (ARCHIVE / ONE_TO_ONE_SEP).read_text(encoding="utf-8")
    text = re.sub(r"^\d\. ", "", raw, flags=re.MULTILINE)
    meeting = parse_text(text, source="unnumbered.txt", sha256="0" * 64)
    assert meeting.shape == "fallback: layout"
    headings = [item.heading for item in meeting.items]
    assert headings[-7:] == [heading for _, heading in SAMPLES[ONE_TO_ONE_SEP]["items"][2:]]
    assert any("read as fallback: layout" in warning for warning in meeting.warnings)
    assert meeting.date == "2024-09-02"


def test_meeting_id_is_stable_and_follows_the_documented_shape(meetings):
    meeting = meetings[ONE_TO_ONE_JAN]
    again = parse_file(ARCHIVE / ONE_TO_ONE_JAN, archive_root=ARCHIVE)
    assert meeting.id == again.id == meeting_id("2025-01-28", "1:1", ONE_TO_ONE_JAN)
    assert re.fullmatch(r"2025-01-28-1-1-[0-9a-f]{6}", meeting.id)
    assert meeting_id(None, "Police and Crime Panel", "a/b.txt").startswith(
        "undated-police-and-crime-panel-"
    )
    assert meeting_id("2025-01-28", "1:1", "other.txt") != meeting.id


def test_source_is_relative_to_the_archive_root(tmp_path):
    nested = tmp_path / "2024" / "board.txt"
    nested.parent.mkdir()
    nested.write_bytes((ARCHIVE / PGB).read_bytes())
    assert parse_file(nested, archive_root=tmp_path).source == "2024/board.txt"
    assert parse_file(nested).source == "board.txt"
    with pytest.raises(ParseError, match="not inside the archive root"):
        parse_file(nested, archive_root=ARCHIVE)


def test_sha256_is_of_the_file_bytes(meetings):
    data = (ARCHIVE / PGB).read_bytes()
    assert meetings[PGB].sha256 == hashlib.sha256(data).hexdigest()
