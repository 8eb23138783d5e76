#!/usr/bin/env bash
# Make sure clamd, clamdscan and clamconf are installed: `make test` scans uploads with a
# private clamd that the tests start themselves (devstack/clamd.py), with one custom signature
# and no freshclam, so nothing is downloaded but the Debian packages; tests/deploy checks
# deploy/k8s/clamav's config files with clamconf and its probe command with clamdscan.
# Installs them with apt when missing and we are root (fresh Debian/Ubuntu); otherwise prints
# the command to run.
set -euo pipefail

have_clamd() {
    command -v clamd >/dev/null 2>&1 || [[ -x /usr/sbin/clamd ]]
}

have_all() {
    have_clamd && command -v clamdscan >/dev/null 2>&1 && command -v clamconf >/dev/null 2>&1
}

if have_all; then
    exit 0
fi
packages=(clamav-daemon clamav clamdscan)
if [[ $(id -u) -ne 0 ]]; then
    echo "[clamav] ClamAV tools are missing; install them with: sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages[*]}" >&2
    exit 1
fi
echo "[clamav] installing ${packages[*]} with apt-get (this happens once)" >&2
apt-get update >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}" >&2
# The packages' own services (clamav-daemon, clamav-freshclam) are not needed: stop them if
# the install started them, so no signature download runs in the background.
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    systemctl disable --now clamav-daemon clamav-freshclam >/dev/null 2>&1 || true
fi
have_all || {
    echo "[clamav] clamd, clamdscan or clamconf is still missing after the install" >&2
    exit 1
}
