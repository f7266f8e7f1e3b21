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
# DEHB and HEBO (benchmark peers) without their stale numpy pins: see the bench extra in
# pyproject.toml
"$PY" -m pip install --quiet --disable-pip-version-check --no-deps "dehb==0.1.2" "HEBO==0.3.6"
