"""Test doubles. :class:`FakeLLM` is a deterministic chat model that reads Quorum's prompts; the
``fake_backend`` fixture in ``conftest.py`` offers it as the backend "fake"."""

from __future__ import annotations

import re
from collections.abc import Iterator

from rag.backends.wire import Message
from rag.text import split_sentences, terms

DEFAULT_ABSTAIN = "The minutes do not record this."
_PASSAGE_HEADER = re.compile(r"^\[(\d+)\] ")
# The prompts' own "if nothing answers, reply with ..." line (answer_user, brief_system).
_NOTHING_REPLY = re.compile(r"^(?:- )?If .*?(?:write only|reply with exactly): (.+)$", re.M)


class FakeLLM:
    """A deterministic stand-in with the chat-model interface, for tests.

    With ``reply=`` it streams that text word by word (whitespace kept with the word before it,
    so the deltas join back to ``reply``).

    Otherwise it plays a grounded reader over the last user message, which it expects in the
    answer engine's format::

        <minutes n=1>
        [1] <meeting title> — <YYYY-MM-DD> — <item number>. <heading>
        <passage text>
        </minutes n=1>

        <minutes n=2> ...

        Question: <question>

    A passage starts at a line beginning ``[n] `` (its header, not searched) and runs until the
    next such line or the ``Question:`` line. The reader splits passage texts into sentences
    (:func:`rag.text.split_sentences`), scores each by how many content words
    (:func:`rag.text.terms`) it shares with the question, and answers the best one followed by
    `` [n]``; the first best wins ties. If no sentence shares a content word, or there is no
    ``Question:`` line, it abstains: with ``abstain`` if given, else with the reply the prompt
    asks for when nothing answers, else with :data:`DEFAULT_ABSTAIN`. ``max_tokens`` caps the
    number of words streamed.
    """

    name = "fake"

    def __init__(self, reply: str | None = None, *, abstain: str | None = None) -> None:
        self.reply = reply
        self.abstain = abstain

    def warm_up(self) -> None:
        """Nothing to load."""

    def stream(self, messages: list[Message], *, max_tokens: int) -> Iterator[str]:
        text = self.reply if self.reply is not None else self._grounded_answer(messages)
        yield from _words(text)[:max_tokens]

    def complete(self, messages: list[Message], *, max_tokens: int) -> str:
        return "".join(self.stream(messages, max_tokens=max_tokens))

    def _grounded_answer(self, messages: list[Message]) -> str:
        prompt = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        question, passages = parse_prompt(prompt)
        query = terms(question)
        best, best_score = self._abstention(messages), 0
        for number, text in passages:
            for sentence in split_sentences(text):
                score = len(query & terms(sentence.text))
                if score > best_score:
                    best, best_score = f"{sentence.text.strip()} [{number}]", score
        return best

    def _abstention(self, messages: list[Message]) -> str:
        if self.abstain is not None:
            return self.abstain
        asked = [
            m.group(1).strip() for msg in messages for m in _NOTHING_REPLY.finditer(msg["content"])
        ]
        return asked[-1] if asked else DEFAULT_ABSTAIN


def parse_prompt(prompt: str) -> tuple[str, list[tuple[int, str]]]:
    """(question, [(passage number, passage text), ...]) from a prompt in the format above."""
    question = ""
    passages: list[tuple[int, list[str]]] = []
    in_passage = False
    for line in prompt.splitlines():
        if line.startswith(("<minutes n=", "</minutes n=")):  # the fence around a passage
            in_passage = False
        elif header := _PASSAGE_HEADER.match(line):
            passages.append((int(header.group(1)), []))
            in_passage = True
        elif line.startswith("Question:"):
            question = line.removeprefix("Question:").strip()
            in_passage = False
        elif in_passage:
            passages[-1][1].append(line)
    return question, [(n, " ".join(" ".join(lines).split())) for n, lines in passages]


def _words(text: str) -> list[str]:
    """``text`` cut before each word that follows whitespace; the pieces join back to ``text``."""
    return [piece for piece in re.split(r"(?<=\s)(?=\S)", text) if piece]
