"""The one drafting interface every answer backend implements, and the draft conventions.

A backend only drafts: sentences with ``[n]`` markers naming the passage each comes from.
What reaches a user is decided later, by verification against the passages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

from rag.models import Passage
from rag.prompts import NONE_REPLY

TokenSink = Callable[[str], None]

_LIST_MARK = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")


class Backend(Protocol):
    """What answers and briefings need from a backend, whichever it is."""

    name: str
    """What an answer or briefing reports as its backend ("extractive", "local:<model>")."""
    streams_draft: bool
    """Whether :meth:`draft_answer` writes its draft token by token, worth showing as it comes."""

    def warm_up(self) -> None:
        """Load models or check the server now rather than on the first question. Idempotent."""
        ...

    def draft_answer(
        self, question: str, passages: list[Passage], on_token: TokenSink | None = None
    ) -> str:
        """A draft answer from the numbered ``passages`` with [n] markers, or '' to abstain.
        A streaming backend passes every piece of text to ``on_token`` as it is written."""
        ...

    def draft_bullets(self, passage: Passage, topic: str | None, limit: int) -> str:
        """Up to about ``limit`` sentences on one agenda item (on ``topic``, or on the item as
        a whole), one a line, each ending with [1]; '' when the item holds nothing."""
        ...

    def draft_condensed(self, passages: list[Passage]) -> str:
        """One shorter sentence for each numbered passage (each a sentence a briefing chose),
        one a line, each ending with its [n]; '' when the backend does not rewrite (the
        chosen sentences then stand as they are). One call for the whole briefing."""
        ...


def bullet_lines(reply: str) -> str:
    """A bullet list as plain sentences, one a line; the "nothing here" reply is ''."""
    lines = (_LIST_MARK.sub("", line).strip() for line in reply.splitlines())
    return "\n".join(line for line in lines if line and line.strip(" .").upper() != NONE_REPLY)


def one_line(text: str) -> str:
    """Whitespace (line breaks of the minutes' layout included) collapsed to single spaces."""
    return " ".join(text.split())
