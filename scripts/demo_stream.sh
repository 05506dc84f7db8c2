#!/usr/bin/env bash
# Streaming demo: a real Redis (redis-server on PATH, a temp dir, a free port; or
# DISTILLWATCH_REDIS_URL), one worker, and the sample logs replayed at 600x so alerts
# appear while the campaigns run. Usage: scripts/demo_stream.sh [LOG...] [--replay-speed N]
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m service.stream.demo "$@"
