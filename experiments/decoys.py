"""Held-out problems with a decoy choice: kept out of ``benchmarks/`` on purpose, to check
that a change measured there carries over (issue 31). Not part of any benchmark table.

Each problem has a 5-choice categorical ``opt`` and a 3-choice ``act`` and five continuous
parameters (log, int, pow2 and two uniform). The best ``opt`` choice has its optimum
off-centre at floor 0; a decoy two places further in the list has its optimum at the centre
of the box at floor 0.2; the others have floors about 0.5. ``act`` adds 0, 0.03 or 0.06.

- ``A``: unit curvature, the best optimum off-centre;
- ``B``: as A with the best optimum elsewhere;
- ``C``: the best choice's bowl 1.5 times steeper, its optimum near a corner: at a random
  setting it scores far worse (about 1.8) than the decoy at the centre (0.2).

    python -m experiments.decoys --budget 40 --seeds 5 [--optimizers protein optuna_gp]

prints, per problem and position of the best choice in the list, how many runs found it
(a final best below 0.2, the decoy's floor).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from benchmarks.problems import Problem, position

CHOICES = 5
PARAMS_BASE = {
    "lr": {"distribution": "log_normal", "min": 1e-4, "max": 1e-1},
    "layers": {"distribution": "int_uniform", "min": 1, "max": 16},
    "width": {"distribution": "uniform_pow2", "min": 16, "max": 1024},
    "dropout": {"distribution": "uniform", "min": 0.0, "max": 0.5},
    "warmup": {"distribution": "uniform", "min": 0.0, "max": 1.0},
}
BEST = {"A": np.array([0.75, 0.3, 0.7, 0.25, 0.7]),
        "B": np.array([0.3, 0.72, 0.28, 0.75, 0.35]),
        "C": np.array([0.9, 0.1, 0.88, 0.12, 0.9])}
CURVATURE = {"A": 1.0, "B": 1.0, "C": 1.5}
ACT = ["relu", "gelu", "tanh"]


def make(kind: str, best_at: int) -> Problem:
    """Problem ``kind`` (A, B or C) with the best ``opt`` choice at list position ``best_at``."""
    names = [f"o{i}" for i in range(CHOICES)]
    decoy_at = (best_at + 2) % CHOICES
    rng = np.random.default_rng(7)
    others = {i: (0.45 + 0.1 * rng.random(), rng.random(5)) for i in range(CHOICES)}
    params = {"opt": {"distribution": "categorical", "choices": names},
              "act": {"distribution": "categorical", "choices": ACT}, **PARAMS_BASE}

    def objective(values: Mapping[str, Any]) -> tuple[float, float]:
        x = np.array([position(PARAMS_BASE[k], values[k]) for k in PARAMS_BASE])
        i = names.index(values["opt"])
        if i == best_at:
            floor, centre, curv = 0.0, BEST[kind], CURVATURE[kind]
        elif i == decoy_at:
            floor, centre, curv = 0.2, np.full(5, 0.5), 1.0
        else:
            floor, (centre), curv = others[i][0], others[i][1], 1.0
        act = 0.03 * ACT.index(values["act"])
        return float(floor + curv * np.sum((x - centre) ** 2) + act), 1.0

    return Problem(f"decoy_{kind}{best_at}", params, objective, 0.0)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.peers import run_optuna_gp, run_protein

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=int, default=40)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--kinds", nargs="+", default=["A", "B", "C"])
    ap.add_argument("--optimizers", nargs="+", default=["protein"])
    args = ap.parse_args(argv)
    runners = {"protein": run_protein, "optuna_gp": run_optuna_gp}
    for opt in args.optimizers:
        for kind in args.kinds:
            found, bests = [], []
            for pos in range(CHOICES):
                p = make(kind, pos)
                hits = 0
                for seed in range(args.seeds):
                    best = min(e["error"] for e in runners[opt](p, args.budget, seed))
                    bests.append(best)
                    hits += best < 0.2
                found.append(hits)
            print(f"{opt} {kind}: {sum(found)}/{CHOICES * args.seeds} {found} "
                  f"median best {np.median(bests):.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
