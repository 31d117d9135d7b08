"""What a briefing is: sections of cited bullets, their references, and what was left out."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from rag.models import Citation
from rag.register import RegisterEntry

BriefingKind = Literal["meeting", "topic", "since", "digest"]


class Bullet(BaseModel):
    text: str = Field(description="One verified sentence ending with its [n] marker.")
    note: str = Field("", description="Register facts (kind, owner, status): not model text.")
    lead: str = Field("", description="What the bullet is about (an item's label): set first.")


class Section(BaseModel):
    heading: str
    bullets: list[Bullet] = Field(default_factory=list)


class Briefing(BaseModel):
    """What every output format renders: sections of cited bullets and their references."""

    title: str
    kind: BriefingKind
    record: str = Field(
        "", description="What the typed meeting records (items, decisions, actions): no quote."
    )
    overview: list[Bullet] = Field(
        default_factory=list, description="The meeting's most salient sentences, cited."
    )
    sections: list[Section] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    open_actions: list[RegisterEntry] = Field(default_factory=list)
    removed: list[str] = Field(
        default_factory=list, description="Drafted sentences that failed verification."
    )
    backend: str
    timings: dict[str, float] = Field(default_factory=dict)
