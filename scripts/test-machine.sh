#!/usr/bin/env bash
# What some tests need from Debian, besides the Python packages of scripts/setup.sh: a
# one-node Slurm for tests/test_slurm.py (slurm-wlm, munge: scripts/slurm.sh) and a headless
# browser for tests/test_dashboard.py (chromium, chromium-driver). Needs root and apt-get;
# elsewhere those tests skip and say why (under CI they fail). Idempotent.
set -uo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
    echo "scripts/test-machine.sh: not root with apt-get: no local Slurm or headless browser" \
         "is installed; their tests skip" >&2
    exit 0
fi
bash scripts/slurm.sh || echo "scripts/test-machine.sh: no local Slurm; tests/test_slurm.py will skip" >&2
if ! command -v chromedriver >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null \
        || echo "scripts/test-machine.sh: no Chromium; the browser tests will skip" >&2
fi
