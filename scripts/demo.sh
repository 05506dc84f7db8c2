#!/usr/bin/env bash
# `make demo`: what a newcomer sees first. Runs after `make install` (the Makefile does it).
# 1. inspects the committed sample logs (formats, accounts, quarantine);
# 2. audits them offline and writes accounts.csv, alerts.jsonl and report.html;
# 3. scores them against the ground-truth labels;
# 4. streams them: a private redis-server, a worker, the service and its dashboard
#    (http://127.0.0.1:8000/ui), the sample replayed at 2400x (two days in ~75 s), alerts
#    printed as they fire; then keeps the service up until Ctrl-C (DEMO_HOLD_SECONDS=N to
#    stop by itself; DEMO_STREAM_SECONDS=N to cut the replay short).
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
echo "== 4. streaming: Redis + worker + service/dashboard, sample replayed at ${DEMO_REPLAY_SPEED:-2400}x"
args=(--replay-speed "${DEMO_REPLAY_SPEED:-2400}" --tokens-out "$OUT/tokens.json")
[ -n "${DEMO_STREAM_SECONDS:-}" ] && args+=(--max-seconds "$DEMO_STREAM_SECONDS")
[ -n "${DEMO_HOLD_SECONDS:-}" ] && args+=(--hold-seconds "$DEMO_HOLD_SECONDS")
bash scripts/demo_stream.sh "${args[@]}"

echo
echo "Open $OUT/audit/report.html in a browser; alerts are in $OUT/audit/alerts.jsonl."
