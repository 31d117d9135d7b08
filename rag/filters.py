"""Filters understood from a question: meeting dates, meeting kind and people.

A date becomes a filter only when it plainly names meetings ("at the 28 January 2025 1:1",
"in September 2024", "since October 2024", "the last board"); a bare year ("dismissed in
2024") may describe events reported later, so it filters nothing. Each filter records in
``notes`` how it was read, so a user can see why a meeting was or was not searched.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from core.errors import UsageError
from index.models import Meeting
from rag.models import Filters


def iso_day(value: str | None, field: str) -> str | None:
    """A date given by a user (form field, flag) as YYYY-MM-DD, None when empty; anything
    else ("yesterday") is a UsageError naming the field."""
    if not value or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise UsageError(f"{field}: {value.strip()!r} is not a date (YYYY-MM-DD)") from None


MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DAY_OR_MONTH = rf"((?:\d{{1,2}}(?:st|nd|rd|th)?\s+)?{_MONTH}\s+\d{{4}})"
DAY_DATE = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH}\s+(\d{{4}})\b", re.I)
ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
MONTH_DATE = re.compile(rf"\b{_MONTH}\s+(\d{{4}})\b", re.I)
_NOT_AFTER_A_SPAN = r"(?<!week )(?<!day )(?<!month )(?<!year )(?<!days )(?<!weeks )"
SINCE = re.compile(rf"{_NOT_AFTER_A_SPAN}\b(since|after|from)\s+(?:the\s+)?{_DAY_OR_MONTH}", re.I)
BEFORE = re.compile(
    rf"{_NOT_AFTER_A_SPAN}\b(before|until|prior to)\s+(?:the\s+)?{_DAY_OR_MONTH}", re.I
)
LATEST = re.compile(
    r"\b(?:the\s+)?(last|latest|most recent|previous)\s+([\w:&' -]{1,40}?)"
    r"(?=[?.,]|\s+(?:meeting|minutes)|$)",
    re.I,
)
KIND_WORDS = {
    "board": ("board",),
    "1:1": ("1:1", "one-to-one", "one to one", "1-2-1"),
    "panel": ("panel",),
}


@dataclass(frozen=True)
class ArchiveTerms:
    """What a question's filters are checked against, read from the meetings once per index
    change (by the retriever) rather than on every question: at 10,000 meetings collecting
    the attendees alone took ~16 ms a question."""

    kinds: tuple[str, ...]
    held: frozenset[str]
    people: tuple[tuple[str, str | None], ...]  # (name, initials), each person once

    @classmethod
    def of(cls, meetings: list[Meeting]) -> ArchiveTerms:
        people = {(p.name, p.initials) for m in meetings for p in m.attendees}
        return cls(
            kinds=tuple(sorted({m.kind for m in meetings})),
            held=frozenset(m.date for m in meetings if m.date),
            people=tuple(sorted(people, key=lambda person: person[0])),
        )


def understand(
    question: str, meetings: list[Meeting], terms: ArchiveTerms | None = None
) -> Filters:
    """Read the filters a question implies, checked against the meetings the index holds
    (``terms``: those meetings' :class:`ArchiveTerms`, when the caller keeps them)."""
    terms = terms or ArchiveTerms.of(meetings)
    filters = Filters()
    _read_kind(question, terms, filters)
    _read_range(question, filters)
    if not (filters.date_from or filters.date_to):
        _read_exact_dates(question, terms, filters)
    _read_latest(question, meetings, filters)
    _read_people(question, terms, filters)
    return filters


def _read_kind(question: str, terms: ArchiveTerms, filters: Filters) -> None:
    """A kind of meeting named as the meeting asked about ("at the board", "the latest 1:1",
    "the 28 January 2025 1:1") — not one merely mentioned ("on a future Board agenda")."""
    lowered = question.lower()
    kinds = terms.kinds
    named = [k for k in kinds if refers_to_meeting(lowered, k.lower())]
    if not named:
        for word, phrases in KIND_WORDS.items():
            if any(refers_to_meeting(lowered, p) for p in phrases):
                named += [k for k in kinds if word in k.lower()]
    if named:
        filters.kinds = sorted(set(named))
        filters.notes.append(f"meeting kind: {', '.join(filters.kinds)}")


MEETING_REFERENCE = (
    r"\b(?:at|in|during|from|of|for|before|since|after)\s+(?:the|a|an|this|that)\s+"
    r"(?:[\w:,-]+\s+){0,4}"
)


def refers_to_meeting(lowered: str, phrase: str) -> bool:
    """Whether ``phrase`` (a kind of meeting) is used to name the meeting the question is
    about: "at the September 2024 Performance and Governance Board", "in the latest 1:1"."""
    name = rf"(?<![\w:]){re.escape(phrase)}(?![\w:])"
    patterns = (
        MEETING_REFERENCE + name,
        rf"\b(?:last|latest|most recent|previous)\s+{name}",
        rf"{name}\s+(?:meeting\s+)?(?:on|of|held)\b",
    )
    return any(re.search(pattern, lowered) for pattern in patterns)


def _read_range(question: str, filters: Filters) -> None:
    if match := SINCE.search(question):
        first, _ = _period(match.group(2))
        filters.date_from = first
        filters.notes.append(f"meetings from {first}")
    if match := BEFORE.search(question):
        first, _ = _period(match.group(2))
        filters.date_to = _day_before(first)
        filters.notes.append(f"meetings before {first}")


def _read_exact_dates(question: str, terms: ArchiveTerms, filters: Filters) -> None:
    """A day or month that some meeting falls on becomes the range searched; so does a day
    the question calls a meeting's ("the board on 29 October 2024") even when no meeting
    was held then, so that the answer is a plain "not in the minutes"."""
    held = terms.held
    days = list(DAY_DATE.finditer(question))
    periods = [_period(m.group(0)) for m in days]
    periods += [(m.group(0),) * 2 for m in ISO_DATE.finditer(question)]
    if not periods:
        periods = [_period(m.group(0)) for m in MONTH_DATE.finditer(question)]
    named = [_period(m.group(0)) for m in days if names_a_meeting(question, m)]
    matching = [(a, b) for a, b in periods if any(a <= d <= b for d in held) or (a, b) in named]
    if matching:
        filters.date_from = min(a for a, _ in matching)
        filters.date_to = max(b for _, b in matching)
        filters.notes.append(f"meetings dated {filters.date_from} to {filters.date_to}")


MEETING_WORDS = re.compile(r"\b(board|meeting|1:1|panel|minutes|session)\b", re.I)


def names_a_meeting(question: str, date: re.Match[str]) -> bool:
    """Whether a date is the date of a meeting: "the board on 29 October 2024", "the
    28 January 2025 1:1" — a meeting word right before or right after it."""
    before = question[max(0, date.start() - 12) : date.start()]
    after = question[date.end() : date.end() + 12]
    return bool(MEETING_WORDS.search(before) and re.search(r"\bon\s*$", before)) or bool(
        MEETING_WORDS.match(after.strip())
    )


def _read_latest(question: str, meetings: list[Meeting], filters: Filters) -> None:
    """ "the last board", "the latest 1:1": the newest meeting of that kind (or of any kind)."""
    match = LATEST.search(question)
    if not match:
        return
    pool = [m for m in meetings if m.date and (not filters.kinds or m.kind in filters.kinds)]
    words = match.group(2).lower()
    if not filters.kinds and not re.search(r"\b(meeting|one|minutes)\b", words) and words:
        return
    if pool:
        newest = max(pool, key=lambda m: m.date or "")
        filters.meeting_ids = [newest.id]
        filters.notes.append(
            f"the {match.group(1).lower()} meeting: {newest.title} ({newest.date})"
        )


def _read_people(question: str, terms: ArchiveTerms, filters: Filters) -> None:
    """Names or initials of attendees (initials resolve per meeting when ranking). Each
    distinct person is looked for once, however many meetings list them."""
    for name, initials in terms.people:
        for token in [name, name.split()[-1], *([initials] if initials else [])]:
            flags = 0 if token == initials else re.I
            if re.search(rf"\b{re.escape(token)}\b", question, flags):
                if token not in filters.people:
                    filters.people.append(token)
                break


def _period(text: str) -> tuple[str, str]:
    """First and last ISO day of "28 January 2025" or "September 2024"."""
    text = text.strip()
    if match := DAY_DATE.search(text):
        day = date(int(match.group(3)), MONTHS[match.group(2).lower()[:3]], int(match.group(1)))
        return day.isoformat(), day.isoformat()
    match = MONTH_DATE.search(text)
    year, month = int(match.group(2)), MONTHS[match.group(1).lower()[:3]]
    last = calendar.monthrange(year, month)[1]
    return date(year, month, 1).isoformat(), date(year, month, last).isoformat()


def _day_before(iso: str) -> str:
    return date.fromordinal(date.fromisoformat(iso).toordinal() - 1).isoformat()


def in_scope(meeting: Meeting, filters: Filters) -> bool:
    """Whether a meeting passes the filters (people are a ranking hint, not a filter)."""
    if filters.meeting_ids and meeting.id not in filters.meeting_ids:
        return False
    if filters.kinds and meeting.kind not in filters.kinds:
        return False
    if (filters.date_from or filters.date_to) and not meeting.date:
        return False
    if filters.date_from and meeting.date < filters.date_from:
        return False
    return not (filters.date_to and meeting.date > filters.date_to)
