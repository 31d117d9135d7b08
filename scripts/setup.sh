#!/usr/bin/env bash
# Create .venv and install Quorum with pinned versions from the project's own files.
# torch goes first and pinned: its CPU wheel lies on local disk; unpinned it pulls CUDA builds.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check "torch==2.13.0"
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
