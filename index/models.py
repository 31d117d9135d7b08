"""Typed records for what a meeting's minutes say, and the chunks the index keeps."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

AttendeeStatus = Literal["present", "in attendance", "apologies"]
Session = Literal["open", "closed"]


class Attendee(BaseModel):
    """Someone listed at the head of the minutes."""

    name: str
    initials: str | None = None
    role: str | None = None
    status: AttendeeStatus = "present"


class AgendaItem(BaseModel):
    """One numbered agenda item. ``text`` is exactly ``meeting.text[start:end]``."""

    number: str
    heading: str
    text: str
    start: int
    end: int
    session: Session = "open"
    marking: str | None = None

    @property
    def label(self) -> str:
        """ "7. Neighbourhood Policing Guarantee" — how citations name an item."""
        return f"{self.number}. {self.heading}" if self.heading else f"Item {self.number}"


class Outcome(BaseModel):
    """A decision or an action recorded under an agenda item."""

    kind: Literal["decision", "action"]
    text: str
    item_number: str
    owner: str | None = Field(None, description="Initials or name as written in the minutes.")
    owner_name: str | None = None
    owner_role: str | None = None
    requested_by: str | None = Field(None, description="Who asked for an action, as written.")
    due: str | None = Field(None, description="ISO date or the words used, when stated.")
    start: int = Field(description="Offset of the span in meeting.text.")
    end: int


class Meeting(BaseModel):
    """A meeting as its minutes record it. ``text`` is the source text all offsets refer to."""

    id: str
    source: str = Field(description="Path of the source file relative to the archive root.")
    sha256: str
    title: str
    body: str | None = Field(
        None, description='The organisation whose meeting it was ("Surrey Police and Crime Panel").'
    )
    kind: str
    shape: str = Field(
        "numbered",
        description='How the items were found: "numbered", "references", "headings", "table",'
        ' "fallback: layout" or "fallback: parts".',
    )
    date: str | None = Field(
        None, description="ISO YYYY-MM-DD, or None when the minutes give none."
    )
    time: str | None = None
    venue: str | None = None
    marking: str | None = None
    attendees: list[Attendee] = Field(default_factory=list)
    items: list[AgendaItem] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(default_factory=list)
    text: str
    warnings: list[str] = Field(default_factory=list)

    @property
    def date_int(self) -> int:
        """yyyymmdd as an integer for range filters; 0 when the date is unknown."""
        return int(self.date.replace("-", "")) if self.date else 0

    def item(self, number: str) -> AgendaItem | None:
        return next((it for it in self.items if it.number == number), None)

    def person(self, initials_or_name: str) -> Attendee | None:
        """The attendee these initials (or this name) stand for at this meeting."""
        key = initials_or_name.strip().lower()
        for person in self.attendees:
            if (person.initials or "").lower() == key or person.name.lower() == key:
                return person
        return None


class Chunk(BaseModel):
    """What the index embeds: a whole agenda item, or one part of a long one.

    ``embed_text`` carries the meeting title, date and item heading so the vector knows where
    the words come from; ``text`` is the verbatim span ``meeting.text[start:end]``.
    """

    id: str
    meeting_id: str
    item_number: str
    item_heading: str
    part: int
    parts: int
    text: str
    embed_text: str
    start: int
    end: int
