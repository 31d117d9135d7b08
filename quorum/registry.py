"""The ``quorum`` subcommands, registered by the functions that handle them."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from core.settings import Settings

COMMON_SETTINGS = ("index_dir", "archive_dir", "store")

Handler = Callable[[argparse.Namespace, Settings], int]
Arguments = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Command:
    handler: Handler
    help: str
    arguments: Arguments | None
    settings: tuple[str, ...]


COMMANDS: dict[str, Command] = {}


def command(
    name: str, help_text: str, *, settings: tuple[str, ...] = (), arguments: Arguments | None = None
) -> Callable[[Handler], Handler]:
    """Register a handler as ``quorum NAME``: ``arguments`` adds its own flags, ``settings``
    names the settings (beyond the common ones) it takes as flags."""

    def register(handler: Handler) -> Handler:
        COMMANDS[name] = Command(handler, help_text, arguments, settings)
        return handler

    return register
