#!/usr/bin/env bash
# The whole test suite (unit, integration, the real local model, the browser), then the
# evaluation gates: every labelled fact (samples and corpus) on the extractive backend, gated
# on the held-out test split; meeting briefings against the labelled key points, gated on
# test; and 16 test facts drawn with a fixed seed on the local model.
# Thresholds live in eval/thresholds.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export QUORUM_DATA_DIR="$work/data" QUORUM_INDEX="$work/index"
.venv/bin/python -m pytest -q
.venv/bin/quorum eval --llm extractive --gate extractive --report test-artifacts/eval
# Meeting briefings against the labelled key points (eval/keypoints.jsonl), gated on test.
.venv/bin/quorum eval --briefings --llm extractive --no-ingest --gate briefings_extractive \
  --report test-artifacts/eval
# The local model on 16 test facts drawn with a fixed seed, over the index just built.
.venv/bin/quorum eval --llm local --no-ingest --split test --sample 16 --seed 2026 \
  --gate local --report test-artifacts/eval
