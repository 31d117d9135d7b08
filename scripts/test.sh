#!/usr/bin/env bash
# The whole test suite (unit, integration, the real local model, the browser), then the
# evaluation gates: every labelled fact (samples and corpus) on the extractive backend, gated
# on the held-out test split, a fixed subset of the sample facts on the local model, and the
# meeting briefings on the extractive backend against the labelled key points.
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
# Meeting briefings against the labelled key points (eval/keypoints.jsonl), gated on test.
.venv/bin/quorum eval --briefings --llm extractive --gate briefings_extractive \
  --report test-artifacts/eval
