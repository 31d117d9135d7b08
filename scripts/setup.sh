#!/usr/bin/env bash
# Create .venv and install Quorum with pinned versions from the project's own files.
# torch goes first and pinned: its CPU wheel lies on local disk; unpinned it pulls CUDA builds.
# A stamp of pyproject.toml + constraints.txt skips the install when nothing changed, so the
# README's commands also run with no network once set up.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=.venv/.quorum-install
wanted=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check "torch==2.13.0"
  .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
  echo "$wanted" > "$stamp"
fi
