"""The register: every decision and action across meetings, with the status later minutes give.

Status rule. A decision is ``done`` once recorded: the minutes are its record. An action is
``open`` until a meeting dated after it reports on it:

* only meetings with a later date are searched (undated meetings are never "later"); meetings
  of the same kind come first, then the rest, each group in date order, and the first meeting
  with a matching sentence decides;
* a sentence matches when it carries a status cue, is not itself an action of its meeting
  ("asked for X to be circulated" asks rather than reports), and shares content words with
  the action:
  at least ``MIN_SHARED`` of them, and at least ``MIN_OVERLAP`` of the smaller word set
  (``rag.text.key_terms``, less the cue words and routine words such as "action", "update");
* "carried forward", "ongoing", "outstanding", "not yet", "in progress", "update provided" and
  the like give ``carried forward``; "received", "completed", "delivered", "closed" and the
  like give ``done``;
* ``closed_by`` names the later meeting and item and quotes the sentence, so a person can
  check the match: "Performance and Governance Board 2024-10-29, item 2: <sentence>".
"""

from __future__ import annotations

import csv
import io
import re
import textwrap
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from core.errors import QuorumError
from index.markings import item_marking
from index.models import Meeting, Outcome
from index.outcomes import extract_outcomes, item_sentences
from rag.text import inert_markdown, key_terms, stem

Status = Literal["open", "done", "carried forward"]
Format = Literal["table", "csv", "md"]
STATUSES: tuple[Status, ...] = ("open", "done", "carried forward")
MIN_SHARED = 3
MIN_OVERLAP = 0.5

CARRIED_CUES = re.compile(
    r"\b(?:carried\s+forward|carry\s+forward|ongoing|outstanding|in\s+progress|not\s+yet"
    r"|deferred|remains?\s+open|update\s+(?:was\s+|has\s+been\s+)?provided"
    r"|provided\s+an?\s+update)\b",
    re.IGNORECASE,
)
DONE_CUES = re.compile(
    r"\b(?:received|completed?|delivered|closed|done|discharged|actioned|circulated|submitted"
    r"|presented|provided|held|took\s+place)\b",
    re.IGNORECASE,
)
# Words that every action and follow-up share, beyond rag.text's stopwords and generic terms.
_ROUTINE_WORDS = "action asked request requested update updated previous advised noted confirmed"
ROUTINE_TERMS = frozenset(stem(word) for word in f"{_ROUTINE_WORDS} crime service".split())


class RegisterEntry(BaseModel):
    """One decision or action, where it was recorded, who owns it and where it stands."""

    id: str
    kind: Literal["decision", "action"]
    text: str
    meeting_id: str
    meeting_title: str
    meeting_date: str | None
    item: str
    owner: str | None
    owner_name: str | None
    owner_role: str | None
    requested_by: str | None
    due: str | None
    status: Status
    closed_by: str | None = None
    closed_on: str | None = Field(
        None, description="Date of the meeting whose minutes report on it (closed_by)."
    )
    marking: str | None = None


class _Report(BaseModel):
    """A sentence with a status cue, where it stands, and its content words for matching."""

    where: str
    date: str | None
    text: str
    words: set[str]
    status: Status

    @property
    def closed_by(self) -> str:
        return f"{self.where}: {self.text}"


def build_register(meetings: list[Meeting]) -> list[RegisterEntry]:
    """Every outcome of every meeting, in date order (undated meetings last)."""
    ordered = sorted(meetings, key=lambda m: (m.date is None, m.date_int, m.id))
    found = [(meeting, meeting.outcomes or extract_outcomes(meeting)) for meeting in ordered]
    reported = [(meeting, _reports(meeting, outcomes)) for meeting, outcomes in found]
    entries: list[RegisterEntry] = []
    for meeting, outcomes in found:
        entries.extend(_entries(meeting, outcomes, _later_reports(meeting, reported)))
    return entries


def filter_register(
    entries: list[RegisterEntry],
    *,
    since: str | None = None,
    owner: str | None = None,
    status: str | None = None,
) -> list[RegisterEntry]:
    """Entries from meetings on or after ``since`` (ISO date), owned by ``owner`` (initials,
    a role word like "CC", or part of a name), with ``status``."""
    if status is not None and status not in STATUSES:
        raise QuorumError(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
    since_day = _iso_day(since) if since else None
    return [
        entry
        for entry in entries
        if (since_day is None or (entry.meeting_date or "") >= since_day)
        and (owner is None or _owned_by(entry, owner))
        and (status is None or entry.status == status)
    ]


def render_register(entries: list[RegisterEntry], fmt: Format) -> str:
    """The register as a plain-text table, CSV (every field) or a Markdown table."""
    renderers = {"table": _render_table, "csv": _render_csv, "md": _render_markdown}
    if fmt not in renderers:
        raise QuorumError(f"unknown register format {fmt!r}: use table, csv or md")
    return renderers[fmt](entries)


def _later_reports(
    meeting: Meeting, reported: list[tuple[Meeting, list[_Report]]]
) -> list[list[_Report]]:
    """The reports of each meeting dated after ``meeting``: same kind first, then by date."""
    if meeting.date is None:
        return []
    later = [(m, r) for m, r in reported if m.date is not None and m.date_int > meeting.date_int]
    later.sort(key=lambda pair: (pair[0].kind != meeting.kind, pair[0].date_int))
    return [reports for _, reports in later]


def _entries(
    meeting: Meeting, outcomes: list[Outcome], later: list[list[_Report]]
) -> list[RegisterEntry]:
    entries: list[RegisterEntry] = []
    per_item: dict[str, int] = {}
    for outcome in outcomes:
        per_item[outcome.item_number] = per_item.get(outcome.item_number, 0) + 1
        report = _follow_up(outcome, later) if outcome.kind == "action" else None
        item = meeting.item(outcome.item_number)
        entries.append(
            RegisterEntry(
                id=f"{meeting.id}:{outcome.item_number}.{per_item[outcome.item_number]}",
                kind=outcome.kind,
                text=outcome.text,
                meeting_id=meeting.id,
                meeting_title=meeting.title,
                meeting_date=meeting.date,
                item=item.label if item else f"Item {outcome.item_number}",
                owner=outcome.owner,
                owner_name=outcome.owner_name,
                owner_role=outcome.owner_role,
                requested_by=outcome.requested_by,
                due=outcome.due,
                status=_status(outcome, report),
                closed_by=report.closed_by if report else None,
                closed_on=report.date if report else None,
                marking=item_marking(meeting, outcome.item_number),
            )
        )
    return entries


def _status(outcome: Outcome, report: _Report | None) -> Status:
    if outcome.kind == "decision":
        return "done"
    return report.status if report else "open"


def _follow_up(action: Outcome, later: list[list[_Report]]) -> _Report | None:
    """The best matching report of the first later meeting that has one, if any."""
    wanted = _content_words(action.text)
    for reports in later:
        scored = [(_overlap(wanted, report.words), report) for report in reports]
        best = max(scored, key=lambda pair: pair[0], default=None)
        if best and best[0] >= MIN_OVERLAP:
            return best[1]
    return None


def _reports(meeting: Meeting, outcomes: list[Outcome]) -> list[_Report]:
    """Every sentence of the meeting that carries a status cue and is not itself an action
    ("asked for X to be circulated" asks; it does not report)."""
    actions = {(o.start, o.end) for o in outcomes if o.kind == "action"}
    return [
        _Report(
            where=f"{meeting.kind} {meeting.date}, item {item.number}",
            date=meeting.date,
            text=span.text,
            words=_content_words(span.text),
            status="carried forward" if CARRIED_CUES.search(span.text) else "done",
        )
        for item in meeting.items
        for span in item_sentences(item)
        if (span.start, span.end) not in actions
        and (CARRIED_CUES.search(span.text) or DONE_CUES.search(span.text))
    ]


def _content_words(text: str) -> set[str]:
    """Stemmed key terms of ``text`` without status cues and routine action words."""
    cue_free = DONE_CUES.sub(" ", CARRIED_CUES.sub(" ", text))
    return key_terms(cue_free) - ROUTINE_TERMS


def _overlap(wanted: set[str], found: set[str]) -> float:
    """Shared words over the smaller set; 0 when fewer than ``MIN_SHARED`` are shared."""
    shared = len(wanted & found)
    if shared < MIN_SHARED:
        return 0.0
    return shared / min(len(wanted), len(found))


def _iso_day(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise QuorumError(f"since must be an ISO date (YYYY-MM-DD), not {value!r}") from None


def _owned_by(entry: RegisterEntry, owner: str) -> bool:
    """Initials or role word as written ("AH", "CC"), or part of the resolved name."""
    wanted = owner.strip().lower()
    written = [part.lower() for part in re.split(r"\s+and\s+", entry.owner or "")]
    return wanted in written or wanted in (entry.owner_name or "").lower()


def owner_label(entry: RegisterEntry) -> str:
    if entry.owner_name and entry.owner_name != entry.owner:
        return f"{entry.owner_name} ({entry.owner})"
    return entry.owner or "-"


_SUMMARY_HEADER = ["Date", "Item", "Marking", "Kind", "Owner", "Asked by", "Due", "Status", "Text"]
# Widest each leading column may be in the plain-text table; csv and md keep everything.
_TABLE_WIDTHS = [10, 36, 20, 8, 30, 8, 20, 15]
_TEXT_WIDTH = 70


def _summary_row(entry: RegisterEntry) -> list[str]:
    return [
        entry.meeting_date or "undated",
        entry.item,
        entry.marking or "-",
        entry.kind,
        owner_label(entry),
        entry.requested_by or "-",
        entry.due or "-",
        entry.status,
        entry.text,
    ]


def _render_table(entries: list[RegisterEntry]) -> str:
    """Aligned columns, long cells cut with "…"; the text wraps in the last column and the
    evidence for a status follows its row."""
    rows = [_summary_row(entry) for entry in entries]
    widths = [
        min(cap, max(len(row[i]) for row in [_SUMMARY_HEADER, *rows]))
        for i, cap in enumerate(_TABLE_WIDTHS)
    ]
    indent = " " * (sum(widths) + 2 * len(widths))
    lines = [_aligned(_SUMMARY_HEADER, widths) + _SUMMARY_HEADER[-1]]
    for entry, row in zip(entries, rows, strict=True):
        wrapped = textwrap.wrap(" ".join(row[-1].split()), _TEXT_WIDTH) or [""]
        lines.append(_aligned(row, widths) + wrapped[0])
        lines.extend(indent + part for part in wrapped[1:])
        if entry.closed_by:
            lines.append(indent + f"closed by: {' '.join(entry.closed_by.split())}")
    return "\n".join(lines) + "\n"


def _aligned(cells: list[str], widths: list[int]) -> str:
    """The leading cells (one per width), each cut to its width and padded."""
    return "".join(
        (cell if len(cell) <= width else cell[: width - 1] + "…").ljust(width) + "  "
        for cell, width in zip(cells, widths, strict=False)
    )


def _render_csv(entries: list[RegisterEntry]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(RegisterEntry.model_fields), lineterminator="\n")
    writer.writeheader()
    writer.writerows(entry.model_dump() for entry in entries)
    return out.getvalue()


def _render_markdown(entries: list[RegisterEntry]) -> str:
    header = [*_SUMMARY_HEADER, "Closed by"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for entry in entries:
        cells = [*_summary_row(entry), entry.closed_by or ""]
        lines.append("| " + " | ".join(_md_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def _md_cell(text: str) -> str:
    return inert_markdown(" ".join(text.split()))
