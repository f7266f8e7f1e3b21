#!/usr/bin/env bash
# Install Protein and run a real sweep: the digits MLP, 12 trials, 2 workers, SQLite storage.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PROTEIN_STORAGE=${PROTEIN_STORAGE:-quickstart.db}
protein run examples/digits.yaml --trainer trainers.digits --workers 2
protein summary --study digits
echo "watch the next sweep live: protein dashboard --storage $PROTEIN_STORAGE  (http://127.0.0.1:8080/)" >&2
