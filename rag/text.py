"""Sentences with offsets, content terms and checkable facts: shared by answering and checking."""

from __future__ import annotations

import re
from dataclasses import dataclass

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself just
    me more most my no nor not now of off on once only or other our out over own same she should
    so some such than that the their them then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you your
    yours ours us s t done get got many much tell said say says""".split()
)
GENERIC = frozenset(
    """meeting meetings minutes minute item items agenda police pcc cc commissioner chief
    constable bedfordshire board 1 record recorded discussed discuss""".split()
)
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+(?=\s|$)|(?=\n)|$)")
_TERM = re.compile(r"[A-Za-z][A-Za-z'&-]*|\d[\d,.:%]*")
NUMBER = re.compile(r"(?<![\w£])£?\d[\d,]*(?:\.\d+)?%?(?![\w])")
MONTH_WORDS = frozenset(
    """january february march april may june july august september october november
    december""".split()
)
INSTRUCTION_LIKE = re.compile(
    r"\b(ignore|disregard|forget)\b.{0,40}\b(instructions?|prompt|rules|above)\b"
    r"|\byou are (now )?(an? )?(ai|assistant|model|chatbot)\b|\bsystem prompt\b"
    r"|\b(answer|respond|reply|say) (only |always )?(that|with)\b",
    re.I,
)


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int


def split_sentences(text: str, offset: int = 0) -> list[Sentence]:
    """Sentences and lines of ``text`` with offsets shifted by ``offset`` (verbatim spans)."""
    found = []
    for match in _SENTENCE.finditer(text):
        raw = match.group(0)
        lead = len(raw) - len(raw.lstrip())
        body = raw.strip()
        if len(re.findall(r"\w+", body)) < 3:
            continue
        start = offset + match.start() + lead
        found.append(Sentence(body, start, start + len(body)))
    return found


def stem(word: str) -> str:
    """A light stemmer: enough to match officer/officers, agreed/agree, policing/police."""
    word = word.lower().strip("'")
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def terms(text: str) -> set[str]:
    """Stemmed content words, without stopwords."""
    return {stem(w) for w in _TERM.findall(text) if w.lower() not in STOPWORDS}


def key_terms(text: str) -> set[str]:
    """Content words that say what a question is about (generic meeting words left out)."""
    return {t for t in terms(text) if t not in GENERIC and len(t) > 1}


def is_instruction_like(text: str) -> bool:
    """Text in minutes that addresses a model. It is data, never an instruction, so it is
    kept out of what the model reads and out of extractive answers."""
    return bool(INSTRUCTION_LIKE.search(text))


def facts(sentence: str) -> set[str]:
    """Numbers, months and proper names in a sentence: each must occur in the cited source."""
    found = {n.strip(",.") for n in NUMBER.findall(sentence)}
    words = re.findall(r"[A-Za-z][\w'&-]*", sentence)
    for index, word in enumerate(words):
        is_name = index > 0 and word[0].isupper() and word.lower() not in STOPWORDS
        if word.lower() in MONTH_WORDS or is_name:
            found.add(word)
    return found


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()
