"""How a briefing reads, in every format: the Markdown the CLI and the app show, and the pieces
the Word export (:mod:`rag.docx_export`) lays out the same way."""

from __future__ import annotations

import re

from index.markings import highest_marking
from rag.briefing.models import Briefing, Bullet
from rag.models import Citation
from rag.text import inert_markdown

NOTHING_FOUND = "The minutes searched record nothing for this briefing."
REFERENCES = "References"
OVERVIEW = "Overview"
_MARKER = re.compile(r"\s*\[\d+\]")


def bullet_text(bullet: Bullet) -> str:
    """A bullet as it reads: its lead ("3. Precept —"), its cited text, then its note."""
    lead = f"{bullet.lead} — " if bullet.lead else ""
    note = bullet_note(bullet)
    return f"{lead}{bullet.text}" + (f" {note}" if note else "")


def overview_text(briefing: Briefing) -> str:
    """The overview paragraph: the meeting record, then its most salient sentences."""
    return " ".join([briefing.record, *(b.text for b in briefing.overview)]).strip()


def reading_text(briefing: Briefing) -> str:
    """What a reader reads, without [n] markers: title, overview, headings and bullets (not
    references or footnotes). Briefing length and key-point coverage are measured on it."""
    parts = [briefing.title, overview_text(briefing)]
    for section in briefing.sections:
        parts += [section.heading, *(bullet_text(b) for b in section.bullets)]
    return _MARKER.sub("", "\n".join(p for p in parts if p))


def word_count(briefing: Briefing) -> int:
    return len(reading_text(briefing).split())


def uncited_bullets(briefing: Briefing) -> list[str]:
    """Bullets and overview sentences that cite nothing (each should cite its quote)."""
    bullets = [*briefing.overview, *(b for s in briefing.sections for b in s.bullets)]
    return [b.text for b in bullets if not _MARKER.search(b.text)]


def bullet_note(bullet: Bullet) -> str:
    """What follows a bullet's text, set in italics: "(action · owner: AH · open)", or ''."""
    return f"({bullet.note})" if bullet.note else ""


def reference(citation: Citation) -> str:
    """ "[1] meeting — date — item [MARKING]", as every format lists references."""
    marked = f" [{citation.marking.upper()}]" if citation.marking else ""
    return (
        f"[{citation.n}] {citation.meeting} — {citation.date or 'undated'} — {citation.item}"
        + marked
    )


def quoted_reference(citation: Citation) -> str:
    """A reference with the words it quotes: '[1] meeting — date — item: “...”'."""
    return f"{reference(citation)}: “{' '.join(citation.quote.split())}”"


def protective_marking(briefing: Briefing) -> str | None:
    """The highest marking of what the briefing quotes, in capitals, for its header and
    footer; None when it quotes nothing marked."""
    marking = highest_marking([citation.marking for citation in briefing.citations])
    return marking.upper() if marking else None


def footnotes(briefing: Briefing) -> list[str]:
    """Plain lines every format ends with: nothing found, what was left out, the backend."""
    found = briefing.overview or any(s.bullets for s in briefing.sections)
    notes = [] if found else [NOTHING_FOUND]
    if briefing.removed:
        notes.append(
            f"{len(briefing.removed)} drafted sentence(s) left out: "
            "the minutes they cite do not support them."
        )
    notes.append(f"Backend: {briefing.backend}.")
    return notes


def markdown_bullet(bullet: Bullet) -> str:
    note = bullet_note(bullet)
    lead = f"**{inert_markdown(bullet.lead)}** — " if bullet.lead else ""
    return f"- {lead}{inert_markdown(bullet.text)}" + (f" _{inert_markdown(note)}_" if note else "")


def render_markdown(briefing: Briefing) -> str:
    marking = protective_marking(briefing)
    lines = [f"**{marking}**", ""] if marking else []
    lines += [f"# {inert_markdown(briefing.title)}", ""]
    if overview := overview_text(briefing):
        lines += [f"## {OVERVIEW}", "", inert_markdown(overview), ""]
    for section in briefing.sections:
        lines += [f"## {inert_markdown(section.heading)}", ""]
        lines += [markdown_bullet(bullet) for bullet in section.bullets]
        lines.append("")
    if briefing.citations:
        lines += [f"## {REFERENCES}", ""]
        lines += [
            f"- {inert_markdown(quoted_reference(citation))}" for citation in briefing.citations
        ]
        lines.append("")
    lines += [f"_{note}_" for note in footnotes(briefing)]
    if marking:
        lines += ["", f"**{marking}**"]
    return "\n".join(lines) + "\n"
