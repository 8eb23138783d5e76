#!/usr/bin/env bash
# `make run`: backing services (given or private), migrations, catalog, then every process.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/services.sh up --profile run
# clamd scans uploads as in production (devstack starts a private one); without it, uploads
# are kept unscanned and cannot be downloaded, so a failed install only warns.
scripts/clamav.sh || echo "[run] clamd is not installed: uploads will not be scanned" >&2
# Ctrl-C stops everything this command started, private Postgres/Redis/S3 included
# (their data directory stays in .devdata/run; services given by URL are left alone).
trap 'scripts/services.sh down --profile run' EXIT
eval "$(scripts/services.sh env --profile run)"

# One signing key kept across restarts, so tokens survive a `make run` restart.
KEY=.devdata/run/jwt-ed25519.pem
if [[ -z ${JWT_PRIVATE_KEY:-} && -z ${JWT_PRIVATE_KEY_FILE:-} ]]; then
    if [[ ! -f $KEY ]]; then
        (umask 077 && .venv/bin/python -c 'from gateway.auth.tokens import load_private_key, private_key_pem; import sys; sys.stdout.buffer.write(private_key_pem(load_private_key(None)))' >"$KEY")
    fi
    export JWT_PRIVATE_KEY_FILE="$ROOT/$KEY"
fi
export ENVIRONMENT="${ENVIRONMENT:-development}"
export S3_CREATE_BUCKET="${S3_CREATE_BUCKET:-true}"
export S3_ACCESS_KEY_ID="${S3_ACCESS_KEY_ID:-${AWS_ACCESS_KEY_ID:-}}"
export S3_SECRET_ACCESS_KEY="${S3_SECRET_ACCESS_KEY:-${AWS_SECRET_ACCESS_KEY:-}}"
export SMS_PROVIDER="${SMS_PROVIDER:-console}"
export LOG_JSON="${LOG_JSON:-false}"
export GATEWAY_PORT="${GATEWAY_PORT:-8000}"
export SHUTDOWN_DELAY="${SHUTDOWN_DELAY:-0}"  # no load balancer to drain on a laptop
trap '' INT  # the supervisor handles Ctrl-C; this shell waits, then cleans up
.venv/bin/python -m devstack run
