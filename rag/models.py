"""Typed results of retrieval and answering: what a user, the app and the eval all read."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Citation(BaseModel):
    """A verbatim span of a source, named by meeting, date and agenda item."""

    n: int
    meeting: str = Field(description="Meeting title.")
    date: str = Field(description="ISO YYYY-MM-DD, or '' when the minutes give none.")
    item: str = Field(
        description="Item number and heading, e.g. '7. Neighbourhood Policing Guarantee'."
    )
    source: str = Field(description="Source file path relative to the archive root.")
    quote: str = Field(description="Verbatim span of the source text.")
    start: int = Field(description="Offset of the quote in the meeting's source text.")
    end: int
    marking: str | None = Field(
        None, description="The item's protective marking as written, e.g. 'OFFICIAL-SENSITIVE'."
    )


class SearchedMeeting(BaseModel):
    meeting: str
    date: str


class Answer(BaseModel):
    """The one answer contract: the CLI's --json prints exactly these fields."""

    question: str
    answer: str = Field(description="Sentences with [n] markers, or the abstention sentence.")
    abstained: bool
    citations: list[Citation] = Field(default_factory=list)
    searched: list[SearchedMeeting] = Field(default_factory=list)
    backend: str
    drafted_by: str = Field(
        "",
        description="What drafted the sentences the answer quotes: the backend asked, the "
        "extractive reading of the minutes when a model's draft could not be verified, or "
        "'meeting record' for a whole-meeting question answered from the parsed meeting.",
    )
    timings: dict[str, float] = Field(default_factory=dict)
    provisional: bool = Field(
        False,
        description="Quoted from the minutes while a model drafts; the model's verified "
        "answer replaces it.",
    )


class Filters(BaseModel):
    """Restrictions on which meetings a question searches. Empty means the whole archive."""

    date_from: str | None = None
    date_to: str | None = None
    kinds: list[str] = Field(default_factory=list)
    meeting_ids: list[str] = Field(default_factory=list)
    people: list[str] = Field(default_factory=list, description="Names or initials as asked.")
    notes: list[str] = Field(default_factory=list, description="How each filter was understood.")

    @property
    def is_empty(self) -> bool:
        return not (self.date_from or self.date_to or self.kinds or self.meeting_ids)


class Passage(BaseModel):
    """A retrieved agenda item (or the parts of it that matched) with its meeting and score."""

    meeting_id: str
    title: str
    kind: str
    date: str
    body: str = Field("", description="The body whose meeting it is, when the minutes say.")
    source: str
    item_number: str
    item_label: str
    score: float
    start: int
    end: int
    text: str
    marking: str | None = Field(None, description="The item's protective marking, if any.")
    spans: list[tuple[int, int]] = Field(
        default_factory=list, description="Offsets of the matched chunks inside the item."
    )

    @property
    def header(self) -> str:
        return f"{self.title} — {self.date or 'date unknown'} — {self.item_label}"
