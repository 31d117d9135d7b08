"""OpenAI's chat-completions wire format, which both model backends speak: llama.cpp in process
and any OpenAI-compatible server over HTTP.

Every request decodes greedily (temperature 0, fixed seed) so the same prompt gives the same
answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from core.errors import BackendError

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}

SEED = 42


def request_body(messages: list[Message], max_tokens: int, *, stream: bool) -> dict[str, Any]:
    return {
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": 0,
        "seed": SEED,
        "stream": stream,
    }


def chunk_deltas(chunk: dict[str, Any], source: str) -> Iterator[str]:
    """The text in one OpenAI ``chat.completion.chunk``; BackendError if it carries an error."""
    if "error" in chunk:
        raise BackendError(f"{source}: {error_text(chunk['error'])}")
    for choice in chunk.get("choices") or ():
        text = (choice.get("delta") or {}).get("content")
        if text:
            yield text


def message_text(reply: dict[str, Any], source: str) -> str:
    """The text of a non-streamed OpenAI ``chat.completion``."""
    if "error" in reply:
        raise BackendError(f"{source}: {error_text(reply['error'])}")
    try:
        return reply["choices"][0]["message"]["content"] or ""
    except (KeyError, IndexError, TypeError):
        raise BackendError(f"{source}: reply has no choices[0].message: {reply!r:.300}") from None


def error_text(error: object) -> str:
    return str(error.get("message", error)) if isinstance(error, dict) else str(error)
