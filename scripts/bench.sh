#!/usr/bin/env bash
# `make bench`: installs wrk if missing, starts (or finds) Postgres/Redis/S3, measures.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if ! command -v wrk >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
    else
        echo "[bench] wrk is required: sudo apt-get install -y wrk" >&2
        exit 1
    fi
fi
scripts/services.sh up --profile test
trap 'scripts/services.sh down --profile test' EXIT
eval "$(scripts/services.sh env --profile test)"
.venv/bin/python -m bench.run "$@"
