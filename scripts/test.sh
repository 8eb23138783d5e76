#!/usr/bin/env bash
# `make test`: lint, type-check, then pytest against real Postgres, Redis, S3 and clamd.
# Uses DATABASE_URL / REDIS_URL / S3_ENDPOINT_URL when set, else starts private ones and stops them after.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/clamav.sh # the tests start their own clamd (tests/support/clamd.py)
scripts/services.sh up --profile test
trap 'scripts/services.sh down --profile test' EXIT
eval "$(scripts/services.sh env --profile test)"

echo "== ruff" >&2
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy" >&2
.venv/bin/mypy .
echo "== pytest" >&2
.venv/bin/python -m pytest "$@"
