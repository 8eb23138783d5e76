#!/usr/bin/env bash
# Create .venv with Python >= 3.11 and install the project with its dev tools.
# Installs python3-venv through apt when it is missing and we are root (fresh Debian/Ubuntu).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

find_python() {
    local candidate
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

apt_install() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "[bootstrap] missing system packages: sudo apt-get install -y $*" >&2
        exit 1
    fi
    echo "[bootstrap] apt-get install $*" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

PYTHON="$(find_python || true)"
if [[ -z $PYTHON ]]; then
    apt_install python3 python3-venv python3-pip
    PYTHON="$(find_python || true)"
fi
if [[ -z $PYTHON ]]; then
    echo "[bootstrap] Python 3.11 or newer is required" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
    version="$("$PYTHON" -c 'import sys; print(f"{sys.version_info.major}.{sys.version_info.minor}")')"
    apt_install "python${version}-venv" || apt_install python3-venv
fi
if [[ ! -x .venv/bin/python ]]; then
    echo "[bootstrap] creating .venv with $PYTHON" >&2
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
echo "[bootstrap] installing Python packages" >&2
.venv/bin/python -m pip install -q -e '.[dev]'
