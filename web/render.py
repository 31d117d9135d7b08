"""HTML for the web app's views. Minutes text reaches a page only through :func:`esc`: it is
shown as text, never rendered as HTML. Nothing here imports Gradio."""

from __future__ import annotations

import html
import re
from pathlib import Path

from index.ingest import FileResult, IngestReport
from index.models import AgendaItem, Meeting
from rag.briefing.models import Briefing
from rag.briefing.render import (
    OVERVIEW,
    bullet_note,
    footnotes,
    overview_text,
    protective_marking,
    quoted_reference,
)
from rag.models import Answer
from rag.register import RegisterEntry, owner_label

MEETING_COLUMNS = ["Date", "Kind", "Title", "Items", "Decisions", "Actions", "Id"]
REGISTER_COLUMNS = [
    "Date",
    "Meeting",
    "Item",
    "Marking",
    "Kind",
    "Owner",
    "Due",
    "Status",
    "Text",
    "Closed by",
]


def esc(text: str) -> str:
    """Minutes text as inert HTML text: every tag in the source is shown, never rendered."""
    return html.escape(text, quote=True)


def draft_html(draft: str) -> str:
    return (
        '<p class="q-note">Drafting — not yet checked against the minutes…</p>'
        f'<p class="q-answer q-draft">{esc(draft)}</p>'
    )


def provisional_html(answer: Answer) -> str:
    """The minutes' own verified answer, shown while the model drafts its own."""
    return (
        '<p class="q-note">Quoted from the minutes — the model\'s answer follows…</p>'
        f'<p class="q-answer q-quoted">{with_refs(answer.answer)}</p>'
    )


def with_refs(text: str) -> str:
    """Escaped text whose [n] citation markers stand out."""
    return re.sub(r"\[(\d+)\]", r'<sup class="q-ref">[\1]</sup>', esc(text))


def answer_html(answer: Answer) -> str:
    if answer.abstained:
        return abstention_html(answer)
    text = with_refs(answer.answer)
    seconds = answer.timings.get("total", 0.0)
    return (
        f'<p class="q-answer">{text}</p>'
        '<p class="q-note">Each sentence above was checked against the passage it cites; open '
        f"a source below to read it in place. ({esc(answer.backend)}, {seconds:.1f} s)</p>"
    )


def abstention_html(answer: Answer) -> str:
    searched = "".join(
        f"<li>{esc(m.meeting)} — {esc(m.date or 'undated')}</li>" for m in answer.searched
    )
    return (
        f'<p class="q-answer">{esc(answer.answer)}</p>'
        f'<p class="q-note">Meetings searched:</p><ul class="q-searched">{searched}</ul>'
    )


def quoted_item_html(meeting: Meeting, item: AgendaItem, start: int, end: int) -> str:
    """The whole agenda item as text, with the quoted span marked."""
    end = min(end, item.end)
    before = meeting.text[item.start : start]
    quote = meeting.text[start:end]
    after = meeting.text[end : item.end]
    return (
        f"<h4>{esc(meeting.title)} — {esc(meeting.date or 'undated')} — {esc(item.label)}</h4>"
        f'<div class="q-text">{esc(before)}<mark>{esc(quote)}</mark>{esc(after)}</div>'
        f'<p class="q-note">Source file: {esc(meeting.source)}</p>'
    )


def meeting_label(meeting: Meeting) -> str:
    return f"{meeting.date or 'undated'} — {meeting.title}"


def meeting_rows(meetings: list[Meeting]) -> dict[str, object]:
    rows = [
        [
            m.date or "undated",
            m.kind,
            m.title,
            len(m.items),
            sum(o.kind == "decision" for o in m.outcomes),
            sum(o.kind == "action" for o in m.outcomes),
            m.id,
        ]
        for m in meetings
    ]
    return {"headers": MEETING_COLUMNS, "data": rows}


def meeting_html(meeting: Meeting) -> str:
    return (
        '<div class="q-meeting">'
        + meeting_header_html(meeting)
        + attendees_html(meeting)
        + items_html(meeting)
        + outcomes_html(meeting)
        + "</div>"
    )


def meeting_header_html(meeting: Meeting) -> str:
    facts = [
        ("Kind", meeting.kind),
        ("Date", meeting.date or "undated"),
        ("Time", meeting.time),
        ("Venue", meeting.venue),
        ("Marking", meeting.marking),
        ("Source file", meeting.source),
    ]
    listed = "".join(f"<li><b>{name}:</b> {esc(value)}</li>" for name, value in facts if value)
    return f"<h3>{esc(meeting.title)}</h3><ul>{listed}</ul>"


def attendees_html(meeting: Meeting) -> str:
    rows = "".join(
        f"<tr><td>{esc(p.name)}</td><td>{esc(p.initials or '')}</td>"
        f"<td>{esc(p.role or '')}</td><td>{esc(p.status)}</td></tr>"
        for p in meeting.attendees
    )
    head = "<tr><th>Name</th><th>Initials</th><th>Role</th><th>Status</th></tr>"
    return f"<h4>Attendees</h4><table>{head}{rows}</table>"


def items_html(meeting: Meeting) -> str:
    items = "".join(
        f"<details><summary>{esc(item.label)}"
        f"{' (closed session)' if item.session == 'closed' else ''}</summary>"
        f'<div class="q-text">{esc(item.text)}</div></details>'
        for item in meeting.items
    )
    return f"<h4>Agenda items</h4>{items}"


def outcomes_html(meeting: Meeting) -> str:
    if not meeting.outcomes:
        return "<h4>Decisions and actions</h4><p>None recorded.</p>"
    rows = "".join(
        f"<tr><td>{o.kind}</td><td>{esc(o.item_number)}</td>"
        f"<td>{esc(o.owner_name or o.owner or '')}</td><td>{esc(o.text)}</td></tr>"
        for o in meeting.outcomes
    )
    head = "<tr><th>Kind</th><th>Item</th><th>Owner</th><th>Text</th></tr>"
    return f"<h4>Decisions and actions</h4><table>{head}{rows}</table>"


def archive_summary(meetings: list[Meeting]) -> str:
    dated = sorted(m.date for m in meetings if m.date)
    span = f", {dated[0]} to {dated[-1]}" if dated else ""
    return f"**{len(meetings)} meetings** in the archive{span}."


def briefing_html(briefing: Briefing) -> str:
    marking = protective_marking(briefing)
    parts = [f"<p><strong>{esc(marking)}</strong></p>"] if marking else []
    parts.append(f"<h3>{esc(briefing.title)}</h3>")
    if overview := overview_text(briefing):
        parts.append(f"<h4>{OVERVIEW}</h4><p>{with_refs(overview)}</p>")
    for section in briefing.sections:
        bullets = "".join(
            "<li>"
            + (f"<strong>{esc(bullet.lead)}</strong> — " if bullet.lead else "")
            + with_refs(bullet.text)
            + (f' <span class="q-note">{esc(bullet_note(bullet))}</span>' if bullet.note else "")
            + "</li>"
            for bullet in section.bullets
        )
        parts.append(f"<h4>{esc(section.heading)}</h4><ul>{bullets}</ul>")
    if briefing.citations:
        references = "".join(f"<li>{esc(quoted_reference(c))}</li>" for c in briefing.citations)
        parts.append(f"<h4>References</h4><ul>{references}</ul>")
    parts += [f'<p class="q-note">{esc(note)}</p>' for note in footnotes(briefing)]
    return "".join(parts)


def file_stem(title: str) -> str:
    """A download's file name from a briefing title: "briefing-1-1-pcc-john-tizard…"."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "briefing"


def register_rows(entries: list[RegisterEntry]) -> dict[str, object]:
    rows = [
        [
            e.meeting_date or "undated",
            e.meeting_title,
            e.item,
            e.marking or "",
            e.kind,
            owner_label(e),
            e.due or "",
            e.status,
            e.text,
            e.closed_by or "",
        ]
        for e in entries
    ]
    return {"headers": REGISTER_COLUMNS, "data": rows}


_ABSOLUTE_PATH = re.compile(r"(?<![\w.~])/(?:[^/\s:'\"]+/)+([^/\s:'\"]+)")


def without_paths(message: str) -> str:
    """A message with every absolute path cut to its last part: the server's folders are not
    a browser's business."""
    return _ABSOLUTE_PATH.sub(r"\1", message)


def file_outcome(result: FileResult) -> str:
    """ "empty.txt: empty file" — the file by name and what happened to it."""
    detail = without_paths(result.detail.removeprefix(f"{result.path}: "))
    name = Path(result.path).name
    return f"{name}: {detail}" if detail else name


def ingest_report_html(report: IngestReport) -> str:
    rows = "".join(
        f'<li><span class="{"q-failed" if r.status == "failed" else ""}">{esc(r.status)}</span>'
        f" — {esc(file_outcome(r))}</li>"
        for r in report.results
    )
    return f"<p>{esc(report.summary())}.</p><ul>{rows}</ul>"
