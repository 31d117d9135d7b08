"""Dates as the sample minutes write them, read by index.dates."""

from __future__ import annotations

import pytest

from index.dates import find_date, find_meeting_date


@pytest.mark.parametrize(
    ("written", "iso"),
    [
        ("Date\tTuesday 28 January 2025", "2025-01-28"),
        ("Date\tMonday 2 nd September 2024", "2024-09-02"),
        ("GOVERNANCE BOARD FRIDAY 20TH SEPTEMBER 2024", "2024-09-20"),
        ("meeting is on the 29th October 2024.", "2024-10-29"),
        ("Cheshire Police and Crime Panel - Friday, 19th July, 2024 10.00 am", "2024-07-19"),
        ("held on the 28th of Sept. 2017", "2017-09-28"),
        ("signed on 02/09/2024", "2024-09-02"),
    ],
)
def test_written_dates_become_iso(written, iso):
    found = find_date(written)
    assert found is not None and found.iso == iso


def test_span_covers_weekday_and_ordinal_so_callers_can_cut_it_out():
    line = "GOVERNANCE BOARD FRIDAY 20TH SEPTEMBER 2024"
    found = find_date(line)
    assert line[found.start : found.end] == "FRIDAY 20TH SEPTEMBER 2024"
    assert found.weekday_agrees


def test_a_weekday_that_does_not_fit_the_date_is_reported():
    found = find_date("Wednesday 28 January 2025")
    assert found.iso == "2025-01-28" and not found.weekday_agrees


def test_first_date_in_text_order_wins_across_formats():
    found = find_date("agreed on 01/08/2024, confirmed on 3 September 2024")
    assert (found.iso, found.start) == ("2024-08-01", 10)


@pytest.mark.parametrize(
    "text",
    ["by 17th September", "31 February 2024", "on 45/13/2024", "at 1100 - 1200", "no date at all"],
)
def test_no_complete_calendar_date_gives_none(text):
    assert find_date(text) is None


def test_an_impossible_date_is_skipped_for_the_next_real_one():
    assert find_date("31 February 2024, then 1 March 2024").iso == "2024-03-01"


@pytest.mark.parametrize(
    ("header", "text", "iso"),
    [
        ("May 12, 2023, 10 a.m.", "", "2023-05-12"),
        ("8thNovember 2013, Elizabethan Gallery", "", "2013-11-08"),
        (
            "Panel (administered by X Council from 1 June 2012)\nTuesday 4 March 2025",
            "",
            "2025-03-04",
        ),
        ("To approve the minutes of the meeting held on 3 May 2024", "", None),
        ("Wednesday 21st June, 14:30-17:00", "Ref 01/21/06/2023 ... 24th May 2023", "2023-06-21"),
        ("Wednesday 21st June, 14:30-17:00", "nothing dated", None),
    ],
)
def test_the_meeting_date_skips_other_meetings_and_completes_a_year_by_weekday(header, text, iso):
    found = find_meeting_date(header, header + "\n" + text)
    assert (found.iso if found else None) == iso
