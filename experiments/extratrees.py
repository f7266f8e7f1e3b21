"""A held-out noisy problem, kept out of ``benchmarks/`` (issue 31): 3-fold CV error of an
extra-trees classifier on breast_cancer, a new forest seed each evaluation, so the same
params score differently from one call to the next and the error moves in plateaus.

    python -m experiments.extratrees --budget 40 --seeds 10 [--optimizers protein random]

prints each tuner's median best error over the seeds.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Mapping
from typing import Any

from benchmarks.problems import Problem

PARAMS = {
    "n_estimators": {"distribution": "int_uniform", "min": 5, "max": 100},
    "max_depth": {"distribution": "int_uniform", "min": 1, "max": 20},
    "min_samples_split": {"distribution": "int_uniform", "min": 2, "max": 40},
    "max_features": {"distribution": "uniform", "min": 0.05, "max": 1.0},
    "criterion": {"distribution": "categorical", "choices": ["gini", "entropy", "log_loss"]},
    "bootstrap": {"distribution": "categorical", "choices": ["yes", "no"]},
}


def make() -> Problem:
    """The problem, with its own stream of forest seeds."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import ExtraTreesClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    X, y = load_breast_cancer(return_X_y=True)
    draws = itertools.count(1000)

    def objective(v: Mapping[str, Any]) -> tuple[float, float]:
        model = ExtraTreesClassifier(
            n_estimators=int(v["n_estimators"]), max_depth=int(v["max_depth"]),
            min_samples_split=int(v["min_samples_split"]), max_features=float(v["max_features"]),
            criterion=v["criterion"], bootstrap=v["bootstrap"] == "yes",
            random_state=next(draws), n_jobs=1)
        folds = StratifiedKFold(3, shuffle=True, random_state=0)
        return 1.0 - float(cross_val_score(model, X, y, cv=folds).mean()), 1.0

    return Problem("extratrees_breast_cancer", PARAMS, objective, None)


def main(argv: list[str] | None = None) -> int:
    from experiments.medians import median_line

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=int, default=40)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--optimizers", nargs="+", default=["protein", "random"])
    args = ap.parse_args(argv)
    for opt in args.optimizers:
        print(median_line(opt, make, opt, args.budget, args.seeds), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
