"""Drafting with a chat model: the one place the prompts are built, for every model backend.

A :class:`ChatModel` only turns messages into text (llama.cpp in process, an OpenAI-compatible
server, a test double). :class:`ChatBackend` puts Quorum's prompts in front of one: the numbered
passages for an answer, one agenda item for a briefing's bullets, each within its token budget.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from core.errors import ConfigError, UsageError
from core.settings import Settings
from rag.backends.base import TokenSink, bullet_lines, one_line
from rag.backends.extractive import Candidate, ExtractiveBackend, extractive_backend
from rag.backends.wire import Message
from rag.models import Passage
from rag.prompts import ABSTAIN, NONE_REPLY, load_prompt, render_prompt
from rag.text import Sentence, normalise, passage_sentences
from rag.tokens import count_tokens

if TYPE_CHECKING:
    from index.embed import Embedder

MAX_LLM_PASSAGES = 3
GAP = "…"  # where the model's view of a passage skips sentences
MAP_MAX_TOKENS = 160
_CITED = re.compile(r"\[\d+\]")
CONDENSED_TOKENS = 40  # room for one shortened sentence in a briefing's one call
# cl100k counts differ from the local model's own tokenizer: keep a fifth of the room spare.
TOKENIZER_MARGIN = 0.8
MIN_PASSAGE_TOKENS = 64  # less than this for the minutes and no answer can be grounded


class ChatModel(Protocol):
    """A language model behind a chat interface. Every implementation decodes greedily, streams
    text deltas as they are produced and reports its failures as BackendError; none ever falls
    back to another model: a failure is shown, not papered over."""

    name: str

    def warm_up(self) -> None:
        """Load the model or check the server. Idempotent."""
        ...

    def stream(self, messages: list[Message], *, max_tokens: int) -> Iterator[str]:
        """Text deltas of a greedy (temperature 0, fixed seed) reply, as they are produced."""
        ...

    def complete(self, messages: list[Message], *, max_tokens: int) -> str:
        """The whole greedy reply."""
        ...


class ChatBackend:
    """A backend that drafts with a chat model: answers streamed, briefing bullets whole."""

    streams_draft = True

    def __init__(
        self, model: ChatModel, settings: Settings, embedder: Embedder | None = None
    ) -> None:
        self.model = model
        self.name = model.name
        self.settings = settings
        self.ranker: ExtractiveBackend = extractive_backend(settings, embedder)

    def warm_up(self) -> None:
        self.model.warm_up()

    def draft_answer(
        self, question: str, passages: list[Passage], on_token: TokenSink | None = None
    ) -> str:
        messages = self.answer_prompt(question, passages)
        parts = []
        for delta in self.model.stream(messages, max_tokens=self.settings.max_tokens):
            parts.append(delta)
            if on_token:
                on_token(delta)
        draft = "".join(parts).strip()
        return "" if normalise(ABSTAIN) in normalise(draft) else draft

    def answer_prompt(self, question: str, passages: list[Passage]) -> list[Message]:
        """The answer prompt over what the model needs of the passages: the sentences the
        extractive ranking puts first and their neighbours, not whole items (reading the
        prompt is most of a CPU model's time, and small models lose the thread in long ones)."""
        budget = self.answer_budget(question)
        pool = passages[:MAX_LLM_PASSAGES]
        return answer_messages(question, pool, self.ranker.rank(question, pool), budget)

    def draft_bullets(self, passage: Passage, topic: str | None, limit: int) -> str:
        """One short model call over this item's passage, within the model's context."""
        messages = self.bullet_messages(passage, topic, limit)
        if not messages:
            return ""
        return bullet_lines(self.model.complete(messages, max_tokens=MAP_MAX_TOKENS))

    def draft_condensed(self, passages: list[Passage]) -> str:
        """One model call that shortens every chosen sentence of a briefing; the sentences
        that do not fit the context are left out of it (they stand as they are)."""
        system = render_prompt("brief_condense_system")
        question = render_prompt("brief_condense_question")
        max_tokens = max(self.settings.max_tokens, CONDENSED_TOKENS * len(passages))
        frame = render_prompt("brief_condense_user", passages="", question=question)
        room = self.settings.n_ctx - max_tokens - count_tokens(system) - count_tokens(frame)
        blocks, used = [], 0
        for number, passage in enumerate(passages, start=1):
            block = fenced(number, passage.header, one_line(passage.text))
            used += count_tokens(block)
            if used > room * TOKENIZER_MARGIN:
                break
            blocks.append(block)
        if not blocks:
            return ""
        user = render_prompt("brief_condense_user", passages="\n\n".join(blocks), question=question)
        messages: list[Message] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        return numbered_in_order(bullet_lines(self.model.complete(messages, max_tokens=max_tokens)))

    def bullet_messages(self, passage: Passage, topic: str | None, limit: int) -> list[Message]:
        """The briefing prompt for one item; empty when not even part of the item fits."""
        question = (
            render_prompt("brief_item_question")
            if topic is None
            else render_prompt("brief_topic_question", topic=topic)
        )
        system = render_prompt("brief_system", bullets=str(limit), none=NONE_REPLY)
        blocks = passage_blocks([passage], self.passage_budget(system, question))
        if not blocks:
            return []
        user = render_prompt("brief_user", passages=blocks[0], question=question)
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def answer_budget(self, question: str) -> int:
        """Tokens the passages may take once the question, the prompts and the reply are
        counted against ``n_ctx``; a question that leaves no room is a UsageError."""
        frame = render_prompt("answer_user", passages="", question=question, abstain=ABSTAIN)
        fixed = count_tokens(load_prompt("answer_system")) + count_tokens(frame)
        room = self.settings.n_ctx - self.settings.max_tokens - fixed
        if room < MIN_PASSAGE_TOKENS:
            raise UsageError(
                f"the question is too long for the model's context: with it the prompt takes "
                f"{fixed} of {self.settings.n_ctx} tokens (QUORUM_N_CTX), leaving no room for "
                "the minutes; shorten the question"
            )
        return min(self.settings.answer_tokens, int(room * TOKENIZER_MARGIN))

    def passage_budget(self, system: str, question: str) -> int:
        """Tokens the passage may take so prompt and reply fit ``n_ctx``."""
        n_ctx = self.settings.n_ctx
        frame = render_prompt("brief_user", passages="", question=question)
        room = n_ctx - MAP_MAX_TOKENS - count_tokens(system) - count_tokens(frame)
        budget = min(self.settings.context_tokens, int(room * TOKENIZER_MARGIN))
        if budget <= 0:
            raise ConfigError(f"QUORUM_N_CTX={n_ctx} leaves no room for a passage")
        return budget


def numbered_in_order(lines: str) -> str:
    """Lines asked for one per passage, in order: a line the model left without its [n] gets
    the number of its place. Verification then decides whether it holds for that passage."""
    return "\n".join(
        line if _CITED.search(line) else f"{line.rstrip()} [{place}]"
        for place, line in enumerate(lines.splitlines(), start=1)
    )


def answer_messages(
    question: str, passages: list[Passage], ranked: list[Candidate], budget: int
) -> list[Message]:
    """The answer prompt: the system rules, then the numbered passages (cut to the ranked
    sentences and their neighbours) and the question."""
    blocks = focused_blocks(passages, ranked, budget)
    user = render_prompt(
        "answer_user", passages="\n\n".join(blocks), question=question, abstain=ABSTAIN
    )
    return [
        {"role": "system", "content": load_prompt("answer_system")},
        {"role": "user", "content": user},
    ]


def passage_blocks(passages: list[Passage], budget: int) -> list[str]:
    """Numbered passages for the model (a briefing's one item), whole while they fit, else
    their matched parts; none takes over half the budget. Answers use :func:`focused_blocks`.

    Minutes are data by construction: each passage, its meeting title and item heading
    included, is fenced as a quoted record (:func:`fenced`) that the prompts tell the model
    never to take as instructions; the verifier then ties every shown sentence to the source.
    """
    blocks, used = [], count_tokens(load_prompt("answer_user"))
    share = budget // 2
    for number, passage in enumerate(passages[:MAX_LLM_PASSAGES], start=1):
        body = model_view(passage, min(share, max(budget - used, 0)))
        if not body:
            break
        block = fenced(number, passage.header, body)
        used += count_tokens(block)
        blocks.append(block)
    return blocks


def focused_blocks(passages: list[Passage], ranked: list[Candidate], budget: int) -> list[str]:
    """Each passage cut to the sentences that matter for the question, numbered as retrieved.

    Candidates are taken best first while the budget lasts, each whole, then the sentence
    before and after it as room allows; a passage shows its chosen sentences in reading order,
    a skip marked "…", under its meeting title and item heading. A passage nothing was chosen
    from is left out (its number is not reused), so "[n]" always names the n-th passage.
    """
    sentences = [passage_sentences(p) for p in passages]
    chosen: dict[int, set[Sentence]] = {}
    used = 0
    for candidate in ranked:
        index = candidate.passage
        mine = chosen.setdefault(index, set())
        opening = 0 if mine else count_tokens(fenced(index + 1, passages[index].header, ""))
        new = [s for s in candidate.sentences if s not in mine]
        cost = opening + sum(sentence_tokens(s) for s in new)
        if used + cost > budget:
            continue
        mine.update(new)
        used += cost
        for sentence in neighbours(candidate.sentences, sentences[index]):
            if sentence not in mine and used + sentence_tokens(sentence) <= budget:
                mine.add(sentence)
                used += sentence_tokens(sentence)
    return [
        fenced(index + 1, passage.header, in_reading_order(sentences[index], chosen[index]))
        for index, passage in enumerate(passages)
        if chosen.get(index)
    ]


def sentence_tokens(sentence: Sentence) -> int:
    return count_tokens(sentence.text) + 1


def neighbours(unit: tuple[Sentence, ...], sentences: list[Sentence]) -> list[Sentence]:
    """The sentence before the unit and the one after it in its passage."""
    positions = [i for i, s in enumerate(sentences) if s in unit]
    if not positions:
        return []
    around = (positions[0] - 1, positions[-1] + 1)
    return [sentences[i] for i in around if 0 <= i < len(sentences)]


def in_reading_order(sentences: list[Sentence], chosen: set[Sentence]) -> str:
    """The chosen sentences joined in text order, a gap mark wherever others are left out
    (before, between or after them)."""
    parts: list[str] = []
    previous = -1
    for position, sentence in enumerate(sentences):
        if sentence in chosen:
            if position != previous + 1:
                parts.append(GAP)
            parts.append(sentence.text)
            previous = position
    if previous != len(sentences) - 1:
        parts.append(GAP)
    return " ".join(parts)


def fenced(number: int, header: str, body: str) -> str:
    """A passage as a quoted record: opened and closed by numbered ``<minutes n=N>`` tags, its
    own angle brackets turned into look-alikes so no text in the minutes can close the fence
    or open another."""
    inert = str.maketrans({"<": "‹", ">": "›"})
    return (
        f"<minutes n={number}>\n[{number}] {header.translate(inert)}\n"
        f"{body.translate(inert)}\n</minutes n={number}>"
    )


def model_view(passage: Passage, budget: int) -> str:
    """The passage text the model reads: the item, or its best-matching parts, within budget."""
    sentences = passage_sentences(passage)
    matched = [s for s in sentences if any(a <= s.start < b for a, b in passage.spans[:1])]
    chosen, used = [], 0
    for sentence in matched + [s for s in sentences if s not in matched]:
        cost = count_tokens(sentence.text) + 1
        if used + cost > budget:
            continue
        chosen.append(sentence)
        used += cost
    return " ".join(s.text for s in sorted(chosen, key=lambda s: s.start))
