"""Held-out regression problems, kept out of ``benchmarks/`` (issue 31): 3-fold CV
``1 - R^2`` on scikit-learn's diabetes data, where a poor setting is far worse than a
mediocre one (an overfitted kernel model scores 1 - R^2 well above 1 while most settings
sit on a plateau near 0.5), the shape of the elastic net on which Protein was last.

- ``kernel_ridge``: kernel ridge regression; log alpha, log gamma, kernel (rbf, laplacian,
  polynomial), degree 2-4 with the polynomial kernel only;
- ``svr``: support-vector regression; log C, log epsilon, log gamma, kernel (rbf, sigmoid),
  coef0 with the sigmoid kernel only.

    python -m experiments.regression --budget 40 --seeds 10 [--optimizers protein random]

prints each tuner's median best error per problem, and each seed's.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Mapping
from typing import Any

from benchmarks.hpo_suite import _cv, _data, _scaled
from benchmarks.problems import Problem

KERNEL_RIDGE = {
    "alpha": {"distribution": "log_normal", "min": 1e-4, "max": 1e2},
    "gamma": {"distribution": "log_normal", "min": 1e-4, "max": 1e1},
    "kernel": {"distribution": "categorical", "choices": ["rbf", "laplacian", "polynomial"]},
    "degree": {"distribution": "int_uniform", "min": 2, "max": 4,
               "when": {"kernel": ["polynomial"]}},
}
SVR = {
    "C": {"distribution": "log_normal", "min": 1e-2, "max": 1e3},
    "epsilon": {"distribution": "log_normal", "min": 1e-3, "max": 1e0},
    "gamma": {"distribution": "log_normal", "min": 1e-4, "max": 1e0},
    "kernel": {"distribution": "categorical", "choices": ["rbf", "sigmoid"]},
    "coef0": {"distribution": "uniform", "min": -1.0, "max": 1.0,
              "when": {"kernel": ["sigmoid"]}},
}


def _kernel_ridge(v: Mapping[str, Any]) -> tuple[float, float]:
    from sklearn.kernel_ridge import KernelRidge

    X, y = _data("diabetes")
    model = KernelRidge(alpha=float(v["alpha"]), kernel=v["kernel"], gamma=float(v["gamma"]),
                        degree=int(v.get("degree", 3)), coef0=1.0)
    return _cv(_scaled(model), X, (y - y.mean()) / y.std(), regression=True), 1.0


def _svr(v: Mapping[str, Any]) -> tuple[float, float]:
    from sklearn.svm import SVR as Model

    X, y = _data("diabetes")
    model = Model(C=float(v["C"]), epsilon=float(v["epsilon"]), gamma=float(v["gamma"]),
                  kernel=v["kernel"], coef0=float(v.get("coef0", 0.0)), max_iter=200_000)
    return _cv(_scaled(model), X, (y - y.mean()) / y.std(), regression=True), 1.0


PROBLEMS: dict[str, tuple[dict, Callable[[Mapping[str, Any]], tuple[float, float]]]] = {
    "kernel_ridge": (KERNEL_RIDGE, _kernel_ridge),
    "svr": (SVR, _svr),
}


def make(name: str) -> Problem:
    params, objective = PROBLEMS[name]
    return Problem(f"{name}_diabetes", params, objective, None)


def main(argv: list[str] | None = None) -> int:
    from experiments.medians import median_line

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=int, default=40)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--problems", nargs="+", default=list(PROBLEMS))
    ap.add_argument("--optimizers", nargs="+", default=["protein", "random"])
    args = ap.parse_args(argv)
    for name in args.problems:
        for opt in args.optimizers:
            print(median_line(f"{name} {opt}", functools.partial(make, name), opt, args.budget,
                              args.seeds, digits=5), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
