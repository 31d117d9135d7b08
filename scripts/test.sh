#!/usr/bin/env bash
# The whole test suite (unit, integration, the real local model, the browser), then the
# evaluation gates: every labelled fact (samples and corpus) on the extractive backend, gated
# Meeting briefings against the labelled key points (eval/keypoints.jsonl), gated on test.
.venv/bin/quorum eval --briefings --llm extractive --no-ingest --gate briefings_extractive \
  --report test-artifacts/eval
# The local model on 16 test facts drawn with a fixed seed, over the index just built.
.venv/bin/quorum eval --llm local --no-ingest --split test --sample 16 --seed 2026 \
  --gate local --report test-artifacts/eval
