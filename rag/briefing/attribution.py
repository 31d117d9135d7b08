"""Who said it: briefings hold a sentence's names and numbers to the very sentence it quotes."""

from __future__ import annotations

import re
from dataclasses import replace

from index.models import Meeting
from index.outcomes import ROLE_TITLES
from rag.claims import names, unmatched_figure
from rag.models import Passage
from rag.text import Sentence, passage_sentences
from rag.verify import Checked


def attributed(sentence: Checked, passage: Passage, meeting: Meeting) -> Checked:
    """Briefings hold figures and names closer than answers do: each (the first word
    included) must occur in the quoted sentence or the one before it (which a "He" may refer
    back to) or the item's header, or name the same attendee as a word there ("PCC" for
    "JT"). The item as a whole is not enough: a remark would otherwise survive credited to
    someone else who spoke under it."""
    if sentence.evidence is None:
        return sentence
    context = quote_context(sentence.evidence.quote, passage)
    groups = attendee_names(meeting)
    missing = [n for n in names(sentence.text) if not named_in(n, context, groups)]
    if figure := unmatched_figure(sentence.text, context, meeting):
        missing.append(figure)
    if not missing:
        return sentence
    return replace(sentence, evidence=None, reason=f"not in the quote: {', '.join(missing)}")


def quote_context(quote: Sentence, passage: Passage) -> str:
    before = [s.text for s in passage_sentences(passage) if s.end <= quote.start][-1:]
    return " ".join([passage.header, *before, quote.text])


def named_in(fact: str, context: str, names: list[set[str]]) -> bool:
    """Whether ``context`` holds ``fact``, or another name of the attendee it names."""
    if mentioned(fact, context):
        return True
    return any(fact in group and any(mentioned(n, context) for n in group) for group in names)


def attendee_names(meeting: Meeting) -> list[set[str]]:
    """Each attendee's full name, surname, initials and role acronym ("PCC", "CC")."""
    found = []
    for person in meeting.attendees:
        role = person.role or ""
        acronyms = {short for short, title in ROLE_TITLES.items() if role.startswith(title)}
        names = {person.name, person.name.split()[-1], person.initials or "", *acronyms}
        found.append(names - {""})
    return found


def mentioned(name: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE) is not None
