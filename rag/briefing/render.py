"""How a briefing reads, in every format: the Markdown the CLI and the app show, and the pieces
the Word export (:mod:`rag.docx_export`) lays out the same way."""

from __future__ import annotations

from index.markings import highest_marking
from rag.briefing.models import Briefing, Bullet
from rag.models import Citation
from rag.text import inert_markdown

NOTHING_FOUND = "The minutes searched record nothing for this briefing."
REFERENCES = "References"


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


def protective_marking(briefing: Briefing) -> str | None:
    """The highest marking of what the briefing quotes, in capitals, for its header and
    footer; None when it quotes nothing marked."""
    marking = highest_marking([citation.marking for citation in briefing.citations])
    return marking.upper() if marking else None


def footnotes(briefing: Briefing) -> list[str]:
    """Plain lines every format ends with: nothing found, what was left out, the backend."""
    notes = [] if any(s.bullets for s in briefing.sections) else [NOTHING_FOUND]
    if briefing.removed:
        notes.append(
            f"{len(briefing.removed)} drafted sentence(s) left out: "
            "the minutes they cite do not support them."
        )
    notes.append(f"Backend: {briefing.backend}.")
    return notes


def markdown_bullet(bullet: Bullet) -> str:
    note = bullet_note(bullet)
    return f"- {inert_markdown(bullet.text)}" + (f" _{inert_markdown(note)}_" if note else "")


def render_markdown(briefing: Briefing) -> str:
    marking = protective_marking(briefing)
    lines = [f"**{marking}**", ""] if marking else []
    lines += [f"# {inert_markdown(briefing.title)}", ""]
    for section in briefing.sections:
        lines += [f"## {inert_markdown(section.heading)}", ""]
        lines += [markdown_bullet(bullet) for bullet in section.bullets]
        lines.append("")
    if briefing.citations:
        lines += [f"## {REFERENCES}", ""]
        lines += [f"- {inert_markdown(reference(citation))}" for citation in briefing.citations]
        lines.append("")
    lines += [f"_{note}_" for note in footnotes(briefing)]
    if marking:
        lines += ["", f"**{marking}**"]
    return "\n".join(lines) + "\n"
