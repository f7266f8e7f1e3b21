"""Benchmark problems with HPO-shaped mixed spaces (all minimised).

Each problem has a Protein parameter dict (``parameters``), an objective on a flat params
dict returning ``(error, cost)``, and the best value reachable in its mixed space
(``optimum``; None where unknown). The synthetic functions read each parameter's position
in its range (log position for log/pow2, linear otherwise, ``(v - min)/(max - min)`` for
integers), so the optimum does not depend on any optimizer's encoding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Problem:
    name: str
    parameters: dict[str, dict[str, Any]]
    objective: Callable[[Mapping[str, Any]], tuple[float, float]]
    optimum: float | None
    cost_aware: bool = False
    note: str = ""
    cost_range: tuple[float, float] = (1.0, 1.0)
    extra: dict[str, Any] = field(default_factory=dict)


def position(spec: Mapping[str, Any], v: float) -> float:
    """Where ``v`` lies in the parameter's range, in [0, 1] (log scale for log and pow2)."""
    lo, hi = float(spec["min"]), float(spec["max"])
    if spec["distribution"] in ("log_normal", "uniform_pow2"):
        return (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return (float(v) - lo) / (hi - lo)


def holds(spec: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    """Whether a parameter's ``when`` condition holds for the ``values`` chosen so far."""
    return all(values.get(parent) in (v if isinstance(v, list) else [v])
               for parent, v in spec.get("when", {}).items())


def active(parameters: Mapping[str, dict], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` without the conditional parameters whose ``when`` does not hold (what the
    objective of a user who tunes a conditional space receives)."""
    out: dict[str, Any] = {}
    for name, s in parameters.items():
        if holds(s, out):
            out[name] = values[name]
    return out


def _positions(params: Mapping[str, dict], values: Mapping[str, Any]) -> np.ndarray:
    return np.array([position(spec, values[name]) for name, spec in params.items()])


# ------------------------------------------------------------------ hartmann6
_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
               [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                      [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(x: np.ndarray) -> float:
    return float(-np.sum(_ALPHA * np.exp(-np.sum(_A * (x[None, :] - _P) ** 2, axis=1))))


H6_PARAMS = {
    "lr": {"distribution": "log_normal", "min": 1e-5, "max": 1e-1},
    "weight_decay": {"distribution": "log_normal", "min": 1e-6, "max": 1e-2},
    "batch_size": {"distribution": "uniform_pow2", "min": 16, "max": 1024},
    "n_layers": {"distribution": "int_uniform", "min": 1, "max": 10},
    "dropout": {"distribution": "uniform", "min": 0.0, "max": 0.5},
    "momentum": {"distribution": "uniform", "min": 0.5, "max": 1.0},
}


def _mixed_optimum(f: Callable[[np.ndarray], float], grids: dict[int, np.ndarray],
                   d: int) -> float:
    """Minimum of ``f`` on [0,1]^d with the coordinates in ``grids`` restricted to grid values."""
    from itertools import product

    from scipy.optimize import minimize

    cont = [j for j in range(d) if j not in grids]
    best = math.inf
    rng = np.random.default_rng(0)
    for combo in product(*grids.values()):
        def g(xc: np.ndarray) -> float:
            x = np.empty(d)
            x[cont] = xc
            for j, v in zip(grids, combo):
                x[j] = v
            return f(x)

        for x0 in rng.random((12, len(cont))):
            r = minimize(g, x0, bounds=[(0, 1)] * len(cont), method="L-BFGS-B")
            best = min(best, float(r.fun))
    return best


def _h6(values: Mapping[str, Any]) -> tuple[float, float]:
    return hartmann6(_positions(H6_PARAMS, values)), 1.0


# --------------------------------------------------------------------- ackley
ACKLEY_PARAMS = {
    "lr": {"distribution": "log_normal", "min": 1e-5, "max": 1e-1},
    "eps": {"distribution": "log_normal", "min": 1e-9, "max": 1e-3},
    "batch_size": {"distribution": "uniform_pow2", "min": 16, "max": 1024},
    "layers": {"distribution": "int_uniform", "min": 1, "max": 10},
    **{f"x{i}": {"distribution": "uniform", "min": 0.0, "max": 1.0} for i in range(6)},
}


def ackley(x: np.ndarray) -> float:
    z = -5 + 15 * x
    d = len(z)
    return float(-20 * math.exp(-0.2 * math.sqrt(np.sum(z * z) / d))
                 - math.exp(np.sum(np.cos(2 * math.pi * z)) / d) + 20 + math.e)


def _ackley(values: Mapping[str, Any]) -> tuple[float, float]:
    return ackley(_positions(ACKLEY_PARAMS, values)), 1.0


# --------------------------------------------------------------------- branin
BRANIN_PARAMS = {
    "x1_scale": {"distribution": "log_normal", "min": 1e-3, "max": 1.0},
    "x2": {"distribution": "int_uniform", "min": 0, "max": 15},
    "inert_a": {"distribution": "uniform", "min": 0.0, "max": 1.0},
    "inert_b": {"distribution": "uniform_pow2", "min": 1, "max": 64},
}


def branin(x1: float, x2: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def _branin(values: Mapping[str, Any]) -> tuple[float, float]:
    x1 = -5 + 15 * position(BRANIN_PARAMS["x1_scale"], values["x1_scale"])
    return branin(x1, float(values["x2"])), 1.0


def _branin_optimum() -> float:
    from scipy.optimize import minimize_scalar

    return min(
        minimize_scalar(lambda x1: branin(x1, x2), bounds=(lo, hi), method="bounded").fun
        for x2 in range(16) for lo, hi in ((-5, 0), (0, 5), (5, 10))
    )


# ----------------------------------------------------------------- rosenbrock
ROSEN_PARAMS = {
    "a": {"distribution": "log_normal", "min": 1e-4, "max": 1.0},
    "b": {"distribution": "uniform", "min": 0.0, "max": 1.0},
    "c": {"distribution": "uniform", "min": 0.0, "max": 1.0},
    "d": {"distribution": "logit_normal", "min": 0.01, "max": 0.99},
    "e": {"distribution": "int_uniform", "min": 0, "max": 20},
}


def _rosen(values: Mapping[str, Any]) -> tuple[float, float]:
    x = -2 + 4 * _positions(ROSEN_PARAMS, values)
    val = np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    # Rosenbrock itself spans four orders of magnitude here; log1p keeps the valley's shape
    return float(math.log1p(val)), 1.0


# -------------------------------------------------------------- scikit-learn
HGB_PARAMS = {
    "learning_rate": {"distribution": "log_normal", "min": 1e-3, "max": 1.0},
    "max_leaf_nodes": {"distribution": "uniform_pow2", "min": 4, "max": 128},
    "min_samples_leaf": {"distribution": "int_uniform", "min": 1, "max": 60},
    "l2_regularization": {"distribution": "log_normal", "min": 1e-4, "max": 10.0},
    "max_iter": {"distribution": "int_uniform", "min": 10, "max": 40},
}


def _cv_error(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from threadpoolctl import threadpool_limits

    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    with threadpool_limits(1):
        return float(1.0 - cross_val_score(model, X, y, cv=cv, n_jobs=1).mean())


def _hgb(values: Mapping[str, Any]) -> tuple[float, float]:
    import warnings

    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = load_breast_cancer(return_X_y=True)
    model = HistGradientBoostingClassifier(
        learning_rate=values["learning_rate"], max_leaf_nodes=int(values["max_leaf_nodes"]),
        min_samples_leaf=int(values["min_samples_leaf"]),
        l2_regularization=values["l2_regularization"], max_iter=int(values["max_iter"]),
        early_stopping=False, random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _cv_error(model, X, y), 1.0


SVC_PARAMS = {
    "C": {"distribution": "log_normal", "min": 1e-3, "max": 1e3},
    "gamma": {"distribution": "log_normal", "min": 1e-5, "max": 1.0},
    "tol": {"distribution": "log_normal", "min": 1e-5, "max": 1e-1},
    "max_iter": {"distribution": "int_uniform", "min": 5, "max": 500},
    "cache_mb": {"distribution": "uniform_pow2", "min": 16, "max": 256},
}


def _svc(values: Mapping[str, Any]) -> tuple[float, float]:
    import warnings

    from sklearn.datasets import load_breast_cancer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    X, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), SVC(
        C=values["C"], gamma=values["gamma"], tol=values["tol"],
        max_iter=int(values["max_iter"]), cache_size=int(values["cache_mb"]),
    ))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _cv_error(model, X, y), 1.0


# ------------------------------------------------------------------ cost-aware
BUDGET_PARAMS = {
    "lr": {"distribution": "log_normal", "min": 1e-5, "max": 1e-1},
    "batch_size": {"distribution": "uniform_pow2", "min": 16, "max": 1024},
    "layers": {"distribution": "int_uniform", "min": 1, "max": 8},
    "dropout": {"distribution": "uniform", "min": 0.0, "max": 0.5},
    "steps": {"distribution": "uniform_pow2", "min": 2**12, "max": 2**22},
}
_BUDGET_FLOOR = 0.0524 - 0.6 * (2**10) ** -0.5  # min error at the largest budget is 0.0524


def _budget(values: Mapping[str, Any]) -> tuple[float, float]:
    p = {k: position(s, values[k]) for k, s in BUDGET_PARAMS.items()}
    floor = _BUDGET_FLOOR + 0.3 * (
        (p["lr"] - 0.62) ** 2 + 0.5 * (p["batch_size"] - 0.5) ** 2
        + 0.2 * (p["layers"] - 4 / 7) ** 2 + 0.4 * (p["dropout"] - 0.3) ** 2
    )
    steps = float(values["steps"])
    error = floor + 0.6 * (steps / 2**12) ** -0.5
    cost = steps / 2**12 * (1 + 0.25 * int(values["layers"])) * (64 / int(values["batch_size"])) ** 0.5
    return float(error), float(cost)


BUDGET_COST_RANGE = (
    1.0 * 1.25 * (64 / 1024) ** 0.5,
    2**10 * (1 + 0.25 * 8) * (64 / 16) ** 0.5,
)


def budget_hypervolume(errors: np.ndarray, costs: np.ndarray) -> float:
    """Hypervolume of the (normalised log10 cost, error) front, reference (1, 1); higher is better."""
    from protein.pareto import hypervolume_2d

    lo, hi = (math.log10(c) for c in BUDGET_COST_RANGE)
    c = (np.log10(costs) - lo) / (hi - lo)
    return hypervolume_2d(-np.asarray(errors), c, ref_y=-1.0, ref_c=1.0)


# ---------------------------------------------------------------- categorical
# Six unordered choices, each with its own optimum and offset; the best choice sits at index
# 4 and its list neighbours are among the worst, so an ordinal reading of the list misleads.
CAT_CHOICES = ["sgd", "adam", "adamw", "rmsprop", "adagrad", "lion"]
_CAT_OFFSET = [0.15, 0.6, 0.35, 0.5, 0.0, 0.3]
_CAT_LR = [0.7, 0.35, 0.4, 0.55, 0.25, 0.8]
_CAT_WARMUP = [0.2, 0.8, 0.5, 0.1, 0.65, 0.4]
_CAT_LAYERS = [1 / 7, 5 / 7, 3 / 7, 6 / 7, 2 / 7, 4 / 7]
_ACT_OFFSET = {"tanh": 0.2, "relu": 0.0, "silu": 0.08}
CAT_PARAMS = {
    "optimizer": {"distribution": "categorical", "choices": CAT_CHOICES},
    "activation": {"distribution": "categorical", "choices": ["tanh", "relu", "silu"]},
    "lr": {"distribution": "log_normal", "min": 1e-5, "max": 1e-1},
    "warmup": {"distribution": "uniform", "min": 0.0, "max": 1.0},
    "layers": {"distribution": "int_uniform", "min": 1, "max": 8},
}


def _categorical(values: Mapping[str, Any]) -> tuple[float, float]:
    c = CAT_CHOICES.index(values["optimizer"])
    lr = position(CAT_PARAMS["lr"], values["lr"])
    layers = position(CAT_PARAMS["layers"], values["layers"])
    err = (_CAT_OFFSET[c] + _ACT_OFFSET[values["activation"]] + (lr - _CAT_LR[c]) ** 2
           + 0.5 * (values["warmup"] - _CAT_WARMUP[c]) ** 2 + 0.3 * (layers - _CAT_LAYERS[c]) ** 2)
    return float(err), 1.0


SGD_PARAMS = {
    "loss": {"distribution": "categorical",
             "choices": ["hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron"]},
    "penalty": {"distribution": "categorical", "choices": ["l2", "l1", "elasticnet"]},
    "l1_ratio": {"distribution": "uniform", "min": 0.0, "max": 1.0,
                 "when": {"penalty": "elasticnet"}},
    "alpha": {"distribution": "log_normal", "min": 1e-7, "max": 1e-1},
    "learning_rate": {"distribution": "categorical",
                      "choices": ["optimal", "constant", "invscaling", "adaptive"]},
    "eta0": {"distribution": "log_normal", "min": 1e-4, "max": 1.0,
             "when": {"learning_rate": ["constant", "invscaling", "adaptive"]}},
    "max_iter": {"distribution": "int_uniform", "min": 5, "max": 60},
}


def _sgd(values: Mapping[str, Any]) -> tuple[float, float]:
    import warnings

    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), SGDClassifier(
        loss=values["loss"], penalty=values["penalty"],
        l1_ratio=values.get("l1_ratio", 0.15), alpha=values["alpha"],
        learning_rate=values["learning_rate"], eta0=values.get("eta0", 0.01),  # unused by "optimal"
        max_iter=int(values["max_iter"]), tol=None, random_state=0,
    ))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _cv_error(model, X, y), 1.0


# cost-aware with a categorical: the architecture moves both the error floor and the cost
ARCHS = {"mlp": (0.05, 0.6), "rnn": (0.03, 1.6), "cnn": (0.012, 1.0), "transformer": (0.0, 2.0)}
ARCH_PARAMS = {
    "arch": {"distribution": "categorical", "choices": list(ARCHS)},
    "lr": {"distribution": "log_normal", "min": 1e-5, "max": 1e-1},
    "batch_size": {"distribution": "uniform_pow2", "min": 16, "max": 1024},
    "dropout": {"distribution": "uniform", "min": 0.0, "max": 0.5},
    "steps": {"distribution": "uniform_pow2", "min": 2**12, "max": 2**22},
}
ARCH_COST_RANGE = (0.6 * (64 / 1024) ** 0.5, 2**10 * 2.0 * (64 / 16) ** 0.5)


def _arch_budget(values: Mapping[str, Any]) -> tuple[float, float]:
    p = {k: position(s, values[k]) for k, s in ARCH_PARAMS.items() if k != "arch"}
    offset, scale = ARCHS[values["arch"]]
    floor = _BUDGET_FLOOR + offset + 0.3 * (
        (p["lr"] - 0.62) ** 2 + 0.5 * (p["batch_size"] - 0.5) ** 2 + 0.4 * (p["dropout"] - 0.3) ** 2)
    steps = float(values["steps"])
    error = floor + 0.6 * (steps / 2**12) ** -0.5
    cost = steps / 2**12 * scale * (64 / int(values["batch_size"])) ** 0.5
    return float(error), float(cost)


def front_hypervolume(errors: np.ndarray, costs: np.ndarray,
                      cost_range: tuple[float, float]) -> float:
    """Hypervolume of the (normalised log10 cost, error) front, reference (1, 1); higher is better."""
    from protein.pareto import hypervolume_2d

    lo, hi = (math.log10(c) for c in cost_range)
    c = (np.log10(costs) - lo) / (hi - lo)
    return hypervolume_2d(-np.asarray(errors), c, ref_y=-1.0, ref_c=1.0)


# ------------------------------------------------------------------ registry
def problems() -> dict[str, Problem]:
    return {
        "hartmann6_mixed": Problem(
            "hartmann6_mixed", H6_PARAMS, _h6, -3.23908,
            note="Hartmann6 through 2 log, 1 pow2, 1 int and 2 uniform coordinates",
        ),
        "ackley10_mixed": Problem(
            "ackley10_mixed", ACKLEY_PARAMS, _ackley, 0.0,
            note="Ackley on [-5,10]^10 through 2 log, 1 pow2, 1 int, 6 uniform",
        ),
        "branin_mixed": Problem(
            "branin_mixed", BRANIN_PARAMS, _branin, 0.4323359532,
            note="Branin: x1 from a log coordinate, x2 an integer 0..15, two inert parameters",
        ),
        "rosenbrock5_log": Problem(
            "rosenbrock5_log", ROSEN_PARAMS, _rosen, 0.0,
            note="log(1 + Rosenbrock), a narrow curved valley, in 5-d through log, logit, int and "
                 "uniform coordinates",
        ),
        "hgb_breast_cancer": Problem(
            "hgb_breast_cancer", HGB_PARAMS, _hgb, None,
            note="3-fold CV error of HistGradientBoostingClassifier on breast_cancer",
        ),
        "svc_breast_cancer": Problem(
            "svc_breast_cancer", SVC_PARAMS, _svc, None,
            note="3-fold CV error of a scaled RBF SVC on breast_cancer (C, gamma, tol log; "
                 "max_iter int; cache size pow2, inert)",
        ),
        "budget_costaware": Problem(
            "budget_costaware", BUDGET_PARAMS, _budget, 0.0524, cost_aware=True,
            note="error falls with a pow2 step budget while cost grows with it, layers, 1/batch",
            cost_range=BUDGET_COST_RANGE,
        ),
        "categorical_shift": Problem(
            "categorical_shift", CAT_PARAMS, _categorical, 0.0,
            note="six unordered optimizer choices, each with its own optimum and offset (the "
                 "best is 5th of 6, its list neighbours among the worst), an activation choice, "
                 "log lr, uniform warmup, int layers",
        ),
        "sgd_breast_cancer": Problem(
            "sgd_breast_cancer", SGD_PARAMS, _sgd, None,
            note="3-fold CV error of a scaled SGDClassifier on breast_cancer: loss, penalty and "
                 "learning-rate schedule choices, l1_ratio only with elasticnet, eta0 only "
                 "without the optimal schedule",
        ),
        "arch_costaware": Problem(
            "arch_costaware", ARCH_PARAMS, _arch_budget, 0.0524, cost_aware=True,
            note="the budget problem with an architecture choice that moves both the error "
                 "floor and the cost (the best floor is the dearest)",
            cost_range=ARCH_COST_RANGE,
        ),
    }


def all_problems() -> dict[str, Problem]:
    """Every problem a stored run can name: ``problems()`` and the scikit-learn suite
    (``benchmarks.hpo_suite``)."""
    from benchmarks import hpo_suite

    return {**problems(), **hpo_suite.problems()}


def branin_optimum() -> float:
    return _branin_optimum()


if __name__ == "__main__":
    grids = {2: np.linspace(0, 1, 7), 3: np.linspace(0, 1, 10)}
    print("hartmann6 mixed optimum", _mixed_optimum(hartmann6, grids, 6))
    print("branin mixed optimum", _branin_optimum())
