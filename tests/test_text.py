"""The one sentence splitter: offsets, wrapped lines, list entries and header lines."""

from __future__ import annotations

from index.text import split_lines, split_sentences

ITEM = (
    "JT asked Mr. Smith for a report. He will circulate it\n"
    "to members by June.\n"
    "The PCC asked for:\n"
    "an update on recruitment\n"
    "- a review of 999 calls\n"
)


def test_every_span_is_the_text_between_its_offsets() -> None:
    spans = split_sentences(ITEM, offset=100)
    assert all(ITEM[s.start - 100 : s.end - 100] == s.text for s in spans)


def test_sentences_join_wrapped_lines_and_list_entries_stand_alone() -> None:
    assert [(s.text, s.listed) for s in split_sentences(ITEM)] == [
        ("JT asked Mr. Smith for a report.", False),
        ("He will circulate it\nto members by June.", False),
        ("The PCC asked for:", False),
        ("an update on recruitment", True),
        ("a review of 999 calls", True),
    ]


def test_header_lines_keep_their_figures() -> None:
    header = "Version 1.0 – draft\nTime\t14.00 – 15.30\nVenue: HQ. Room 2"
    assert [s.text for s in split_lines(header)] == [
        "Version 1.0 – draft",
        "Time\t14.00 – 15.30",
        "Venue: HQ.",
        "Room 2",
    ]
