"""The benchmark's synthetic minutes parse as what they were generated to be."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.synth import BOARD, MARKER, ONE_TO_ONE, PANEL, generate, write_archive
from index.parse import parse_file

COUNT = 30


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_archive(tmp_path_factory.mktemp("synthetic"), n=COUNT, seed=7)


def test_every_file_parses_with_its_date_kind_and_items(archive: list[Path]) -> None:
    for expected, path in zip(generate(COUNT, seed=7), archive, strict=True):
        meeting = parse_file(path)
        assert meeting.date == expected.date.isoformat(), path.name
        assert meeting.kind == expected.kind, path.name
        assert [item.heading for item in meeting.items] == list(expected.headings), path.name
        assert 5 <= len(meeting.items) <= 12


def test_files_say_they_are_synthetic_but_titles_stay_realistic(archive: list[Path]) -> None:
    for path in archive:
        assert path.read_text(encoding="utf-8").startswith(MARKER)
        meeting = parse_file(path)
        assert "SYNTHETIC" not in meeting.title.upper(), meeting.title
        assert len(meeting.attendees) >= 3, path.name


def test_archive_is_deterministic_and_varied() -> None:
    first, again = generate(COUNT, seed=7), generate(COUNT, seed=7)
    assert [m.text for m in first] == [m.text for m in again]
    assert generate(COUNT, seed=8)[0].text != first[0].text
    assert {m.kind for m in first} == {ONE_TO_ONE, BOARD, PANEL}
    dates = [m.date for m in first]
    assert dates == sorted(dates) and len(set(dates)) == COUNT
