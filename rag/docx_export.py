"""A briefing as a Word document: title, one heading per section, bulleted lines, references.

Every piece of text comes from :mod:`rag.briefing.render`, so it reads as the Markdown does.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import MissingDependencyError, UsageError
from rag.briefing.models import Briefing
from rag.briefing.render import (
    REFERENCES,
    bullet_note,
    footnotes,
    protective_marking,
    reference,
)


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
    document.add_heading(briefing.title, level=0)
    for section in briefing.sections:
        document.add_heading(section.heading, level=1)
        for bullet in section.bullets:
            paragraph = document.add_paragraph(bullet.text, style="List Bullet")
            if note := bullet_note(bullet):
                paragraph.add_run(f" {note}").italic = True
    if briefing.citations:
        document.add_heading(REFERENCES, level=1)
        for citation in briefing.citations:
            document.add_paragraph(reference(citation))
    for note in footnotes(briefing):
        document.add_paragraph().add_run(note).italic = True
    try:
        document.save(str(path))
    except OSError as exc:
        raise UsageError(f"{path}: cannot write ({exc.strerror})") from None
    return path
