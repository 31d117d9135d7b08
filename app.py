"""The Quorum web app: ``python app.py [--host H] [--port N] [--auth FILE] [--llm NAME] ...``.

A thin shell: it reads its flags (built from the settings, the same as ``quorum serve``'s)
and starts :func:`web.ui.launch`. The page itself lives in ``web/``.
"""

from __future__ import annotations

import argparse
import sys

from core.errors import QuorumError
from core.settings import add_flags, settings_from_flags
from rag.backends import backend_names
from web import SERVE_SETTINGS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="app.py", description="Serve the Quorum web app.")
    add_flags(parser, SERVE_SETTINGS, {"llm": backend_names()})
    args = parser.parse_args(argv)
    try:
        from web.ui import launch

        launch(settings_from_flags(args))
    except QuorumError as exc:
        print(f"app.py: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
