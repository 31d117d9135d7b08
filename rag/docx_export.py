"""A briefing as a Word briefing note: the marking in header and footer, a title, the meeting
and date, an overview paragraph, one heading per section (decisions, actions, items ...),
bulleted lines, and references that quote the words they cite.

Every piece of text comes from :mod:`rag.briefing.render`, so it reads as the Markdown does.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import MissingDependencyError, UsageError
from rag.briefing.models import Briefing
from rag.briefing.render import (
    OVERVIEW,
    REFERENCES,
    bullet_note,
    footnotes,
    overview_text,
    protective_marking,
    quoted_reference,
)

SUBTITLE_STYLE = "Subtitle"


def write_docx(briefing: Briefing, path: Path) -> Path:
    """Write ``briefing`` to ``path`` (python-docx's default template, "List Bullet" style)."""
    try:
        import docx
    except ImportError:
        raise MissingDependencyError("python-docx", "Word export") from None
    document = docx.Document()
    if marking := protective_marking(briefing):
        section = document.sections[0]
        for part in (section.header, section.footer):
            part.paragraphs[0].add_run(marking).bold = True
    title, _, subject = briefing.title.partition(": ")
    document.add_heading(title if subject else briefing.title, level=0)
    if subject:
        document.add_paragraph(subject, style=SUBTITLE_STYLE)
    if overview := overview_text(briefing):
        document.add_heading(OVERVIEW, level=1)
        document.add_paragraph(overview)
    for section in briefing.sections:
        document.add_heading(section.heading, level=1)
        for bullet in section.bullets:
            paragraph = document.add_paragraph(style="List Bullet")
            if bullet.lead:
                paragraph.add_run(f"{bullet.lead} — ").bold = True
            paragraph.add_run(bullet.text)
            if note := bullet_note(bullet):
                paragraph.add_run(f" {note}").italic = True
    if briefing.citations:
        document.add_heading(REFERENCES, level=1)
        for citation in briefing.citations:
            document.add_paragraph(quoted_reference(citation))
    for note in footnotes(briefing):
        document.add_paragraph().add_run(note).italic = True
    try:
        document.save(str(path))
    except OSError as exc:
        raise UsageError(f"{path}: cannot write ({exc.strerror})") from None
    return path
