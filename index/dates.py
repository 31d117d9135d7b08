"""Calendar dates as minutes write them: "Friday 20th September 2024", "02/09/2024"."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

_MONTH_NAMES = (
    "january february march april may june july august september october november december"
).split()
_MONTHS = {name: i for i, name in enumerate(_MONTH_NAMES, 1)} | {
    name[:3]: i for i, name in enumerate(_MONTH_NAMES, 1)
}
_MONTHS["sept"] = 9
_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()

_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:\s*(?:st|nd|rd|th)(?=\s|[A-Z])|(?=\s))"
_WEEKDAY = r"(?:(?P<weekday>" + "|".join(_WEEKDAYS) + r"),?\s+)?"
_WRITTEN_DATE = re.compile(
    rf"\b{_WEEKDAY}(?:the\s+)?{_DAY}\s*(?:of\s+)?{_MONTH}(?:,?\s+(?P<year>\d{{4}}))?\b",
    re.IGNORECASE,
)
_MONTH_FIRST_DATE = re.compile(
    rf"\b{_WEEKDAY}{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>\d{{4}})\b",
    re.IGNORECASE,
)
_NUMERIC_DATE = re.compile(r"\b(?P<day>\d{1,2})[/.](?P<month>\d{1,2})[/.](?P<year>\d{4})\b")


@dataclass(frozen=True)
class FoundDate:
    """A calendar date found in text, with where it was and whether its weekday agreed."""

    iso: str
    start: int
    end: int
    weekday_agrees: bool


_PATTERNS = (_WRITTEN_DATE, _MONTH_FIRST_DATE, _NUMERIC_DATE)
_OTHER_MEETING = re.compile(
    r"(?:\b(?:previous|last|next|earlier)\s+meeting|\bfrom|\bsince|\buntil|\bapprove|\bconfirm)"
    r"\b[^\n.;]{0,60}\Z",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")


def find_date(text: str) -> FoundDate | None:
    """The first complete date (day, month and year) written in ``text``."""
    return next(_complete_dates(text), None)


def _complete_dates(text: str) -> Iterator[FoundDate]:
    matches = [m for pattern in _PATTERNS for m in pattern.finditer(text)]
    for match in sorted(matches, key=lambda m: m.start()):
        if found := _found_date(match):
            yield found


def find_meeting_date(header: str, text: str) -> FoundDate | None:
    """The date of the meeting itself: the first complete date in ``header`` that is not
    written as another meeting's ("the minutes of the previous meeting held on ...",
    "administered by X Council from ..."). A weekday, day and month without a year
    ("Wednesday 21st June") takes the first year written in ``text`` on which that day
    falls on that weekday."""
    for found in _complete_dates(header):
        if not _OTHER_MEETING.search(header[: found.start]):
            return found
    return _date_completed_by_weekday(header, text)


def _date_completed_by_weekday(header: str, text: str) -> FoundDate | None:
    years = dict.fromkeys(int(y) for y in _YEAR.findall(text))
    for match in _WRITTEN_DATE.finditer(header):
        if match.group("year") or not match.group("weekday"):
            continue
        for year in years:
            day = _calendar_date(match.group("day"), match.group("month"), str(year))
            if day and _WEEKDAYS[day.weekday()] == match.group("weekday").lower():
                return FoundDate(day.isoformat(), match.start(), match.end(), True)
    return None


def _found_date(match: re.Match[str]) -> FoundDate | None:
    if not match.group("year"):
        return None
    day = _calendar_date(match.group("day"), match.group("month"), match.group("year"))
    if day is None:
        return None
    weekday = match.groupdict().get("weekday")
    agrees = weekday is None or _WEEKDAYS[day.weekday()] == weekday.lower()
    return FoundDate(day.isoformat(), match.start(), match.end(), agrees)


def _calendar_date(day: str, month: str, year: str) -> date | None:
    number = int(month) if month.isdigit() else _MONTHS.get(month.lower().rstrip("."))
    try:
        return date(int(year), number or 0, int(day))
    except ValueError:
        return None
