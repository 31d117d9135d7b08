"""The answer backends, by name: one registry that the settings, the CLI and the app all use.

A backend is built from a factory ``factory(settings, embedder)``; ``embedder`` is the loaded
sentence embedder to share (the retriever's), or None. The built-in backends (extractive,
local, openai) register themselves below, in the order they are offered; a model backend
imports its engine only when it loads a model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from core.errors import UnknownBackendError
from core.settings import Settings
from rag.backends.base import Backend
from rag.backends.extractive import extractive_backend
from rag.backends.local import local_backend
from rag.backends.openai import openai_backend

if TYPE_CHECKING:
    from index.embed import Embedder

Factory = Callable[[Settings, "Embedder | None"], Backend]

_FACTORIES: dict[str, Factory] = {}


def register(name: str, factory: Factory) -> None:
    """Offer ``factory``'s backend under ``name`` (a later registration replaces it)."""
    _FACTORIES[name] = factory


def unregister(name: str) -> None:
    """Withdraw the backend ``name``, if registered (for tests that register a double)."""
    _FACTORIES.pop(name, None)


def backend_names() -> list[str]:
    """The registered backend names, in registration order."""
    return list(_FACTORIES)


def get_backend(name: str, settings: Settings, embedder: Embedder | None = None) -> Backend:
    """The backend ``name``, configured from ``settings``; UnknownBackendError if none is."""
    factory = _FACTORIES.get(name)
    if factory is None:
        choices = ", ".join(backend_names())
        raise UnknownBackendError(f"unknown answer backend {name!r}; choose one of: {choices}")
    return factory(settings, embedder)


register("extractive", extractive_backend)
register("local", local_backend)
register("openai", openai_backend)
