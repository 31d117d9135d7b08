"""The hand-labelled evaluation facts are well formed and grounded in the sample minutes.

Every expected string must occur in the one gold agenda item (or, for "Meeting details", the
block before the first item) as the real parser reads it, so labels cannot drift from the
source.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FACTS_PATH = ROOT / "eval" / "facts.jsonl"
ARCHIVE = ROOT / "data" / "sample_minutes"

KEYS = ["id", "question", "all_of", "gold_date", "gold_item_kw", "answerable"]
MEETING_DATES = {"2024-09-20", "2025-01-28", "2024-09-02"}
MIN_ANSWERABLE = 60
MIN_UNANSWERABLE = 10
MIN_PER_MEETING = 15


def load_facts(path: Path = FACTS_PATH) -> list[dict]:
    """One JSON object per non-blank line; a bad line fails with its line number."""
    facts = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:  # pragma: no cover - only on a broken file
            raise AssertionError(f"{path.name}:{lineno}: not JSON: {exc}") from exc
        assert isinstance(obj, dict), f"{path.name}:{lineno}: not a JSON object"
        facts.append(obj)
    return facts


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


FACTS = load_facts()
ANSWERABLE = [f for f in FACTS if f.get("answerable") is True]


def test_every_line_has_exactly_the_keys_in_order_and_types():
    for f in FACTS:
        assert list(f) == KEYS, f"{f.get('id')}: keys {list(f)}"
        assert isinstance(f["id"], str)
        assert isinstance(f["question"], str) and f["question"].strip(), f["id"]
        assert isinstance(f["all_of"], list), f["id"]
        for group in f["all_of"]:
            assert isinstance(group, list) and group, f"{f['id']}: empty or non-list group"
            assert all(isinstance(s, str) and s.strip() for s in group), f["id"]
        assert isinstance(f["gold_date"], str), f["id"]
        assert isinstance(f["gold_item_kw"], str), f["id"]
        assert isinstance(f["answerable"], bool), f["id"]


def test_answerable_and_unanswerable_shapes():
    for f in FACTS:
        if f["answerable"]:
            assert re.fullmatch(r"f\d{2,}", f["id"]), f["id"]
            assert 1 <= len(f["all_of"]) <= 2, f"{f['id']}: use 1-2 groups"
            assert f["gold_date"] in MEETING_DATES, f"{f['id']}: {f['gold_date']}"
        else:
            assert re.fullmatch(r"u\d{2,}", f["id"]), f["id"]
            assert f["all_of"] == [], f["id"]
            assert f["gold_date"] == "" and f["gold_item_kw"] == "", f["id"]


def test_ids_unique_and_counts():
    ids = [f["id"] for f in FACTS]
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert not dupes, f"duplicate ids: {dupes}"
    assert len(ANSWERABLE) >= MIN_ANSWERABLE
    assert len(FACTS) - len(ANSWERABLE) >= MIN_UNANSWERABLE
    per_meeting = Counter(f["gold_date"] for f in ANSWERABLE)
    for date in MEETING_DATES:
        assert per_meeting[date] >= MIN_PER_MEETING, f"{date}: only {per_meeting[date]} facts"


def test_required_questions_present():
    by_q = {f["question"]: f for f in FACTS}
    npg = by_q["What did we agree on the Neighbourhood Policing Guarantee?"]
    assert npg["answerable"] and npg["gold_date"] == "2025-01-28"
    assert npg["gold_item_kw"] == "Neighbourhood Policing Guarantee"
    gross = by_q["How many officers were dismissed for gross misconduct in 2024?"]
    assert gross["answerable"] is False


@pytest.fixture(scope="module")
def meetings_by_date():
    from index.parse import parse_file

    meetings = [parse_file(p, archive_root=ARCHIVE) for p in sorted(ARCHIVE.glob("*.txt"))]
    dates = Counter(m.date for m in meetings)
    assert set(dates) == MEETING_DATES, f"parser dates: {dict(dates)}"
    assert all(n == 1 for n in dates.values()), f"two meetings share a date: {dict(dates)}"
    return {m.date: m for m in meetings}


@pytest.mark.parametrize("fact", ANSWERABLE, ids=[f["id"] for f in ANSWERABLE])
def test_expected_strings_occur_in_gold_source(fact, meetings_by_date):
    meeting = meetings_by_date[fact["gold_date"]]
    where = f"meeting {meeting.date}"
    haystack = meeting.text
    kw = fact["gold_item_kw"]
    if kw == "Meeting details":
        haystack = meeting.text[: meeting.items[0].start]
        where += ", the block before the first item"
    else:
        matches = [it for it in meeting.items if kw.casefold() in it.label.casefold()]
        labels = [it.label for it in meeting.items]
        assert len(matches) == 1, f"{fact['id']}: {kw!r} matches {len(matches)} of {labels}"
        haystack = matches[0].text
        where += f", item {matches[0].label!r}"
    hay = norm(haystack)
    missing = [alt for group in fact["all_of"] for alt in group if norm(alt) not in hay]
    assert not missing, f"{fact['id']}: not in {where}: {missing}"
