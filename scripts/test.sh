#!/usr/bin/env bash
# The whole test suite (unit, integration, the real local model, the browser), then the
# evaluation gates: every labelled fact on the extractive backend, and a fixed subset on
# the local model. Thresholds live in eval/thresholds.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export QUORUM_DATA_DIR="$work/data" QUORUM_INDEX="$work/index"
.venv/bin/python -m pytest -q
.venv/bin/quorum eval --llm extractive --gate extractive --report test-artifacts/eval
.venv/bin/quorum eval --llm local --only @eval/local_subset.txt --gate local \
  --report test-artifacts/eval --no-ingest
