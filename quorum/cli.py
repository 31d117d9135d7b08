"""The ``quorum`` command: a thin shell that parses flags, calls the library and prints.

Each command's setting flags (``--index``, ``--llm``, ...) are built from the fields of
:class:`core.settings.Settings`, so their types, choices and help match the settings; a flag
given overrides the environment. A QuorumError becomes one line on stderr and its exit code;
nothing else is caught.
"""

from __future__ import annotations

import argparse
import os
import sys

from core.errors import QuorumError
from core.settings import add_flags, settings_from_flags
from quorum import commands  # noqa: F401  (its handlers register the subcommands)
from quorum.registry import COMMANDS, COMMON_SETTINGS


def build_parser() -> argparse.ArgumentParser:
    from rag.backends import backend_names

    parser = argparse.ArgumentParser(
        prog="quorum", description="Cited answers, briefings and registers over minutes."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    choices = {"llm": backend_names()}
    for name, spec in COMMANDS.items():
        child = sub.add_parser(name, help=spec.help, description=spec.help)
        add_flags(child, COMMON_SETTINGS + spec.settings, choices)
        if spec.arguments:
            spec.arguments(child)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command].handler(args, settings_from_flags(args))
    except QuorumError as exc:
        print(f"quorum: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # Whoever read our output has gone (`quorum ask ... | head -1`): stop quietly, and
        # keep Python from complaining when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("quorum: interrupted", file=sys.stderr)
        return 130
