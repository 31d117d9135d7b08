"""Prompts are text files in ``prompts/``, loaded by name and filled with ``str.format``."""

from __future__ import annotations

from functools import cache

from core.errors import ConfigError
from core.settings import PROJECT_ROOT

PROMPT_DIR = PROJECT_ROOT / "prompts"


@cache
def load_prompt(name: str) -> str:
    path = PROMPT_DIR / f"{name}.txt"
    if not path.is_file():
        raise ConfigError(f"{path}: prompt {name!r} not found")
    return path.read_text(encoding="utf-8").strip()


def render_prompt(name: str, **values: str) -> str:
    return load_prompt(name).format(**values)


# The replies the prompts ask a model for when its passages hold nothing to say. ABSTAIN is
# also the sentence an answer shows when nothing it drafted survives verification.
ABSTAIN = "The minutes searched do not record an answer to this question."
NONE_REPLY = "NONE"
