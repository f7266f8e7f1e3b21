#!/usr/bin/env bash
# Install Protein and what its tests need into the current Python.
# torch is pinned first to the CPU build that ships with this project's machines; on your
# own machine any torch >= 2.1 works (pyproject keeps the range broad).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
    "$PY" -m pip install --quiet "torch==2.13.0"
fi
"$PY" -m pip install --quiet --disable-pip-version-check -e ".[dev,bench,report]"
# DEHB (a benchmark peer) without its stale numpy<2 pin: see the bench extra in pyproject.toml
"$PY" -m pip install --quiet --disable-pip-version-check --no-deps "dehb==0.1.2"
# What some tests need from Debian (root and apt-get needed, else those tests skip and say
# why): a one-node Slurm for tests/test_slurm.py (slurm-wlm, munge), a headless browser for
# tests/test_dashboard.py (chromium, chromium-driver)
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    bash scripts/slurm.sh || echo "scripts/setup.sh: no local Slurm; tests/test_slurm.py will skip" >&2
    if ! command -v chromedriver >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null \
            || echo "scripts/setup.sh: no Chromium; the browser tests will skip" >&2
    fi
fi
