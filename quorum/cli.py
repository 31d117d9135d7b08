"""The ``quorum`` command: a thin shell that parses flags, calls the library and prints.

Every command takes ``--index`` and friends; flags override the environment (see Settings).
A QuorumError becomes one line on stderr and exit code 2; nothing else is caught.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from core.errors import QuorumError
from core.settings import Settings

Command = Callable[[argparse.Namespace, Settings], int]
COMMANDS: dict[str, tuple[Command, Callable[[argparse.ArgumentParser], None], str]] = {}


def command(name: str, help_text: str):
    """Register ``func`` as ``quorum NAME``; ``func.arguments`` adds its flags."""

    def register(func: Command) -> Command:
        COMMANDS[name] = (func, getattr(func, "arguments", lambda parser: None), help_text)
        return func

    return register


def with_arguments(adder: Callable[[argparse.ArgumentParser], None]):
    def attach(func: Command) -> Command:
        func.arguments = adder  # type: ignore[attr-defined]
        return func

    return attach


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", type=Path, help="index directory (env QUORUM_INDEX)")
    parser.add_argument("--archive", type=Path, help="archive root for source paths")
    parser.add_argument(
        "--store", choices=["embedded", "server"], help="vector store backend (env QUORUM_STORE)"
    )


def settings_from(args: argparse.Namespace) -> Settings:
    """Environment first, then whatever flags this command was given."""
    overrides = {
        "index_dir": getattr(args, "index", None),
        "archive_dir": getattr(args, "archive", None),
        "store": getattr(args, "store", None),
        "llm": getattr(args, "llm", None),
        "top_k": getattr(args, "top_k", None),
    }
    return Settings.from_env(**overrides)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quorum", description="Cited answers, briefings and registers over minutes."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, adder, help_text) in COMMANDS.items():
        child = sub.add_parser(name, help=help_text, description=help_text)
        add_common(child)
        adder(child)
    return parser


def main(argv: list[str] | None = None) -> int:
    _load_commands()
    args = build_parser().parse_args(argv)
    func = COMMANDS[args.command][0]
    try:
        return func(args, settings_from(args))
    except QuorumError as exc:
        print(f"quorum: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("quorum: interrupted", file=sys.stderr)
        return 130


def print_json(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False))


def _load_commands() -> None:
    """Import the modules whose functions register commands."""
    from quorum import commands  # noqa: F401
