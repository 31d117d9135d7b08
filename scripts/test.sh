#!/usr/bin/env bash
# The whole test suite (unit, integration, the real local model, the browser), then the
# evaluation gates: every labelled fact (samples and corpus) on the extractive backend, gated
# on the held-out test split, and a fixed subset of the sample facts on the local model.
# Thresholds live in eval/thresholds.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export QUORUM_DATA_DIR="$work/data" QUORUM_INDEX="$work/index"
.venv/bin/python -m pytest -q
.venv/bin/quorum eval --llm extractive --gate extractive --report test-artifacts/eval
# The local subset is scored over the sample archive it was labelled on, in its own index.
QUORUM_INDEX="$work/index-samples" .venv/bin/quorum eval --llm local --facts eval/facts.jsonl \
  --only @eval/local_subset.txt --gate local --report test-artifacts/eval
