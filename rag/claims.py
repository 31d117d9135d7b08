"""What a sentence claims that can be checked word for word: its figures, its names, and whether
it says a thing did or did not happen.

Closeness in meaning (MiniLM) is blind to all three: "agreed" and "did not agree" embed close
together, as do "£4m" and "£4.5m". So a sentence that is close in meaning to the source sentence
it rests on still stands only if :func:`mismatch` finds nothing:

* **figures** — every figure in it equals a figure in the source sentence once the way it is
  written is normalised (£1m = £1 million = £1,000,000; "ten" = 10; 4.5m; 20% = 20 per cent;
  3rd = third). A date may instead be the cited meeting's own date. The passage header and the
  attendee list vouch for no figure: "2" is not supported by "2025";
* **names** — every capitalised word that is not a function word (the first word included) is
  in the source sentence, or names an attendee of that meeting (name, surname, initials, role
  acronym), or is a word of the meeting title, kind or item heading the citation names;
* **polarity** — a word both sentences use must be negated in both or in neither ("did not
  agree" against "agreed"; "would be prudent" against "would not be prudent"). A negation
  ("not", "no", "never", "n't", ...) reaches the next content word after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.dates import find_date
from index.models import Meeting
from index.outcomes import ROLE_TITLES
from rag.text import MONTH_WORDS, STOPWORDS, stem, terms

NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80}
ORDINAL_WORDS = {
    word: value
    for value, word in enumerate(
        "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh "
        "twelfth".split()
    )
    if value
}
SCALES = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}
_FIGURE = re.compile(
    r"(?<![\w.])[£$€]?\s?(?P<number>\d[\d,]*(?:\.\d+)?)(?:st|nd|rd|th)?"
    r"(?:\s?(?P<scale>k|m|bn|thousand|million|billion)\b)?",
    re.IGNORECASE,
)
_WORD_FIGURE = re.compile(
    r"\b(?P<word>"
    + "|".join(sorted({*NUMBER_WORDS, *ORDINAL_WORDS}, key=len, reverse=True))
    + r")\b(?:\s(?P<scale>thousand|million|billion)\b)?",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"^(?:not|no|never|nor|neither|none|nothing|nobody|cannot|\w+n[’']t)$", re.I)
_TOKEN = re.compile(r"[A-Za-z]+(?:[’'][a-z]+)?")
_LINKING = frozenset({"be", "been", "being", "a", "an", "the", "to"})
NEGATION_REACH = 4
_CAPITALISED = re.compile(r"(?<![\w’'-])[A-Z][\w’'&-]*")


@dataclass(frozen=True)
class Context:
    """What may vouch for a sentence's names besides its source sentence: the meeting's
    attendees and the words of the header the citation shows."""

    meeting: Meeting
    header: str

    def names(self) -> set[str]:
        words = set(re.findall(r"[\w’'&-]+", f"{self.header} {self.meeting.kind}".lower()))
        for person in self.meeting.attendees:
            role = person.role or ""
            words |= set(re.findall(r"[\w’'&-]+", f"{person.name} {role}".lower()))
            words |= {(person.initials or "").lower()}
            words |= {a.lower() for a, title in ROLE_TITLES.items() if role.startswith(title)}
        return words - {""}


def figures(text: str) -> set[float]:
    """The values of the figures written in ``text``, however they are written."""
    found = set()
    for match in _FIGURE.finditer(text):
        value = float(match["number"].replace(",", ""))
        found.add(value * SCALES.get((match["scale"] or "").lower(), 1))
    for match in _WORD_FIGURE.finditer(text):
        word = match["word"].lower()
        value = NUMBER_WORDS.get(word, ORDINAL_WORDS.get(word, 0))
        found.add(float(value) * SCALES.get((match["scale"] or "").lower(), 1))
    return found


def negated_terms(text: str) -> set[str]:
    """Stems of the content words a negation reaches: "did not agree" gives {"agre"}, "would
    not be prudent" gives {"prudent"}."""
    words = _TOKEN.findall(text)
    found = set()
    for index, word in enumerate(words):
        if not _NEGATION.match(word):
            continue
        for following in words[index + 1 : index + 1 + NEGATION_REACH]:
            low = following.lower()
            if low not in STOPWORDS and low not in _LINKING and not _NEGATION.match(following):
                found.add(stem(following))
                break
    return found


def opposite_polarity(sentence: str, source: str) -> bool:
    """Whether a content word of both sentences is negated in one and not in the other."""
    shared = terms(sentence) & terms(source)
    return bool((negated_terms(sentence) ^ negated_terms(source)) & shared)


def names(text: str) -> list[str]:
    """Capitalised words that may name someone or something: not function words, not months
    (those are dates), not figures."""
    return [
        word
        for word in _CAPITALISED.findall(text)
        if word.lower() not in STOPWORDS and _bare(word) not in MONTH_WORDS
    ]


def mismatch(sentence: str, source: str, context: Context) -> str | None:
    """Which figure or name of ``sentence`` its ``source`` sentence does not vouch for, or None.
    (Polarity is checked across every close sentence: :func:`opposite_polarity`.)"""
    if missing := unmatched_figure(sentence, source, context.meeting):
        return f"{missing} is not in the quote"
    allowed = set(re.findall(r"[\w’'&-]+", source.lower())) | context.names()
    for word in names(sentence):
        if _bare(word) not in allowed:
            return f"{word!r} is neither in the quote nor an attendee"
    return None


def unmatched_figure(sentence: str, source: str, meeting: Meeting) -> str | None:
    """The first figure (or month) of ``sentence`` that ``source`` does not hold. A date that
    is the meeting's own is left out: the citation already names it."""
    sentence = _without_meeting_date(sentence, meeting)
    held = figures(source)
    for value in sorted(figures(sentence)):
        if value not in held:
            return f"{value:g}"
    months = _months(sentence) - _months(source)
    return min(months) if months else None


def _without_meeting_date(sentence: str, meeting: Meeting) -> str:
    found = find_date(sentence)
    if found is None or found.iso != meeting.date:
        return sentence
    return f"{sentence[: found.start]} {sentence[found.end :]}"


def _months(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z]+", text) if w.lower() in MONTH_WORDS}


def _bare(word: str) -> str:
    """A word as compared: lower case, without a possessive "'s"."""
    return re.sub(r"[’']s$", "", word.lower())
