#!/usr/bin/env bash
# `make soak`: issue 8's long fault scenario (tests/chaos/soak.py). ARGS are passed on,
# e.g. `make soak ARGS="--submissions 600 --minutes 3"` for a short run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# S3 from the test profile (left running if it already was); the scenario starts its own
# Postgres, Redis and SMS provider, so that it may crash them.
if scripts/services.sh status --profile test >/dev/null 2>&1; then
    started=0
else
    scripts/services.sh up --profile test
    started=1
fi
trap 'if ((started)); then scripts/services.sh down --profile test; fi' EXIT
eval "$(scripts/services.sh env --profile test)"
.venv/bin/python -m tests.chaos.soak "$@"
