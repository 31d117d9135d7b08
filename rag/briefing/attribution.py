"""Who said it: briefings hold a sentence's names and numbers to the very sentence it quotes."""

from __future__ import annotations

import re
from dataclasses import replace

from index.models import Meeting
from index.outcomes import ROLE_TITLES
from rag.models import Passage
from rag.text import Sentence, facts, passage_sentences
from rag.verify import Checked


def attributed(sentence: Checked, passage: Passage, meeting: Meeting) -> Checked:
    """Briefings hold names and numbers closer than answers do: each (and an attendee named
    as the sentence's first word, which :func:`rag.text.facts` skips) must occur in the quoted
    sentence or the one before it (which a "He" may refer back to) or the item's header, or
    name the same attendee as a word there ("PCC" for "JT"). The item as a whole is not
    enough: a remark would otherwise survive credited to someone else who spoke under it."""
    if sentence.evidence is None:
        return sentence
    context = quote_context(sentence.evidence.quote, passage)
    names = attendee_names(meeting)
    wanted = sorted(facts(sentence.text) | leading_attendee(sentence.text, names))
    missing = [f for f in wanted if not named_in(f, context, names)]
    if not missing:
        return sentence
    return replace(sentence, evidence=None, reason=f"not in the quote: {', '.join(missing)}")


def leading_attendee(text: str, names: list[set[str]]) -> set[str]:
    """The sentence's first word ("TR", "AH's" as "AH") when it names an attendee."""
    first = re.match(r"\s*([A-Za-z][\w-]*)", text)
    word = first.group(1) if first else ""
    return {word} if any(word in group for group in names) else set()


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
