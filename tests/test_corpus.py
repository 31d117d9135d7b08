"""The parser on every file of data/corpus/minutes: real minutes of UK police bodies in the shapes
real archives have. Expectations come from the hand labels in data/corpus/expected.jsonl."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from index.models import Meeting
from index.parse import parse_file

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
MINUTES = CORPUS / "minutes"
LABELS = {
    label["file"]: label
    for label in map(json.loads, (CORPUS / "expected.jsonl").read_text("utf-8").splitlines())
}
SUB_ITEM = re.compile(r"^\d+(?:\.\d+|\(\d+\))$")

# Files whose labelled items the parser does not find yet, and why. Each is a strict xfail:
# the day the parser reads one, the test says so and the entry must go.
ITEMS_NOT_YET = {
    "city-of-london_pab_2023-02-15.txt": "items 1-2 have no heading; only trailers number them",
    "essex_pfcp_2016-12-01.txt": "CMIS: agenda number on the heading line, minute number alone",
    "essex_pfcp_2017-06-01.txt": "CMIS: agenda number on the heading line, minute number alone",
    "gwent_pcp_2013-02-15.txt": "one item heading is missed",
    "hampshire_jac_2022-02-10.txt": "bulleted headings with an '(ITEM n)' suffix",
    "hampshire_jac_2022-05-12.txt": "unnumbered '(Item n)' headings before numbered minutes",
    "hampshire_pcp_2023-05-12.txt": "a document link after the third heading is read into it",
    "kent_pcp_2012-11-29.txt": "PDF text flattened to one paragraph, mixed-case headings",
    "lancashire_jaec_2016-06-13.txt": "capitals headings interleaved with a numbered list",
    "norfolk_pcp_2019-02-05.txt": "PDF text flattened to one paragraph, mixed-case headings",
    "thames-valley_pcp_2022-04-08.txt": "a short prose line taken for a heading",
    "west-mercia_governance-board_2023-10-18.txt": "a reference line with no heading line",
    "west-mercia_governance-board_2024-01-25.txt": "headings that are sentences ending in '.'",
    "west-midlands_spcb_2017-12-05.txt": "PDF text flattened, 'Item 1 –' labels mid-line",
    "west-yorkshire_pcp_2013-11-08.txt": "item headings that are 20-word sentences are skipped",
    "wiltshire_pcp_2018-09-27.txt": "a heading after an unfinished line is missed",
    "essex_jac_2017-09-22.txt": "item 1 heading carries its content inline",
}
DATE_NOT_YET = {
    "kent_pcp_2012-11-29.txt": "date is inside a flattened paragraph read as items",
    "norfolk_pcp_2019-02-05.txt": "date is inside a flattened paragraph read as items",
    "west-midlands_spcb_2017-12-05.txt": "date is inside a flattened paragraph read as items",
}

BODY_NOT_YET = {
    "kent_pcp_2012-11-29.txt": "flattened paragraph: a role is read into the name",
}


def expect(condition: dict[str, str], name: str):
    if name in condition:
        return pytest.param(name, marks=pytest.mark.xfail(reason=condition[name], strict=True))
    return name


@pytest.fixture(scope="module")
def meetings() -> dict[str, Meeting]:
    return {name: parse_file(MINUTES / name, archive_root=MINUTES) for name in LABELS}


def test_every_corpus_file_is_labelled_and_sourced():
    files = {path.name for path in MINUTES.iterdir()}
    sources = (CORPUS / "SOURCES.md").read_text("utf-8")
    assert files == set(LABELS)
    assert all(f"| {name} |" in sources for name in files)


@pytest.mark.parametrize("name", [expect(DATE_NOT_YET, n) for n in LABELS])
def test_date(name, meetings):
    assert meetings[name].date == LABELS[name]["date"]


@pytest.mark.parametrize("name", LABELS)
def test_kind(name, meetings):
    assert meetings[name].kind == LABELS[name]["kind"]


def written_in(name: str, words: str) -> bool:
    text = re.sub(r"\s+", " ", (MINUTES / name).read_text("utf-8")).lower()
    return words.lower() in text


@pytest.mark.parametrize("name", [expect(BODY_NOT_YET, n) for n in LABELS])
def test_body_where_the_text_names_it(name, meetings):
    """The labelled body when the excerpt spells it out; else the parser names a body or none,
    never a place or a sentence."""
    body = meetings[name].body
    if written_in(name, LABELS[name]["body"]):
        assert body == LABELS[name]["body"]
    else:
        assert body is None or re.search(r"(?:Panel|Board|Committee)$", body)


@pytest.mark.parametrize("name", [expect(ITEMS_NOT_YET, n) for n in LABELS])
def test_number_of_items_and_first_headings(name, meetings):
    meeting, label = meetings[name], LABELS[name]
    if label["items"] == 0:
        assert meeting.shape == "fallback: parts"
        return
    top_level = [item for item in meeting.items if not SUB_ITEM.match(item.number)]
    headings = [item.heading for item in top_level if item.heading]
    assert len(top_level) == label["items"]
    assert headings[: len(label["first_headings"])] == label["first_headings"]


@pytest.mark.parametrize("name", LABELS)
def test_never_refused_and_the_shape_is_named(name, meetings):
    meeting = meetings[name]
    assert meeting.items
    assert meeting.shape in ("numbered", "references", "headings", "table") or (
        meeting.shape.startswith("fallback: ")
        and any(meeting.shape in warning for warning in meeting.warnings)
    )


@pytest.mark.parametrize("name", LABELS)
def test_items_cover_at_least_99_percent_of_the_text_after_the_header(name, meetings):
    """Every word from the first item on is inside an item (marking lines aside)."""
    meeting = meetings[name]
    rest = meeting.text[meeting.items[0].start :]
    words = [
        w for line in rest.splitlines() if line.strip() != meeting.marking for w in line.split()
    ]
    covered = " ".join(item.text for item in meeting.items).split()
    assert len(covered) >= 0.99 * len(words)
    assert all(item.text == meeting.text[item.start : item.end] for item in meeting.items)
    assert all(a.end <= b.start for a, b in zip(meeting.items, meeting.items[1:], strict=False))


def test_attendees_written_name_initials_role(meetings):
    """ "John Campion (JC) Chair – Police & Crime Commissioner" lines under "Attendance" and
    "Apologies" (read off the West Mercia notes by hand)."""
    people = {
        (a.name, a.initials, a.role, a.status)
        for a in meetings["west-mercia_governance-board_2023-06-21.txt"].attendees
    }
    assert ("John Campion", "JC", "Chair – Police & Crime Commissioner", "present") in people
    assert ("Alex Murray", "AM", "Deputy Chief Constable", "present") in people
    assert ("Pippa Mills", "PM", "Chief Constable", "apologies") in people
    assert ("Paul Benfield", "PB", "Treasurer", "apologies") in people
