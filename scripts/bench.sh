#!/usr/bin/env bash
# The benchmark suite (bench/): smlocal against SDK local mode, moto, docker run and boto3.
#   scripts/bench.sh            full run, writes docs/benchmarks.md and docs/benchmarks.json
#   scripts/bench.sh --quick    fewer and shorter runs
set -euo pipefail
source "$(dirname "$0")/lib/venv.sh"
ensure_venv bench
cd "$(dirname "$0")/.."
exec "$VENV/bin/python" -m bench "$@"
