#!/usr/bin/env bash
# `make demo`: what a newcomer sees first. Runs after `make install` (the Makefile does it).
# 1. inspects the committed sample logs (formats, accounts, quarantine);
# 2. audits them offline and writes accounts.csv, alerts.jsonl and report.html;
# 3. scores them against the ground-truth labels;
# 4. streams them: a private redis-server, a worker, the sample replayed at 600x,
#    alerts printed as they fire (stops by itself after DEMO_STREAM_SECONDS).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
OUT=${DEMO_OUT:-demo_out}
mkdir -p "$OUT"

echo "== 1. inspect the sample logs"
$BIN/distillwatch inspect sample_logs/litellm-2d.jsonl.gz sample_logs/openai-2d.jsonl.gz \
  --quarantine-out "$OUT/inspect-quarantine.jsonl"

echo
echo "== 2. offline audit of the LiteLLM sample"
$BIN/distillwatch audit sample_logs/litellm-2d.jsonl.gz --out "$OUT/audit"

echo
echo "== 3. detection against the sample's ground truth"
$BIN/python -m detector.evaluate "$OUT/audit/accounts.csv" sample_logs/litellm-2d.labels.csv

echo
echo "== 4. streaming: Redis + worker, sample replayed at 600x (${DEMO_STREAM_SECONDS:-45} s)"
bash scripts/demo_stream.sh --max-seconds "${DEMO_STREAM_SECONDS:-45}"

echo
echo "Open $OUT/audit/report.html in a browser; alerts are in $OUT/audit/alerts.jsonl."
