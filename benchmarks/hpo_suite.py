"""A Bayesmark-style suite of real tuning problems on scikit-learn's bundled data sets.

Each problem tunes one model family on one bundled data set (no downloads) over the search
space its users write: log-scaled regularisation, integers, unordered choices and conditions.
The error is 3-fold cross-validated: classification error, or 1 - R^2 for regression. Two
problems are noisy on purpose (the model's own seed changes with every evaluation, as it
does when a user reruns a random forest or an MLP): their noise is measured by replicating
one evaluation (``noise_sd``), so a difference between tuners can be read against it.

The problems live here and are registered with ``benchmarks.problems.problems()``; the
comparison that runs them against Ax, SMAC3, HEBO and Optuna is ``benchmarks.versus``.
"""

from __future__ import annotations

import itertools
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from benchmarks.problems import Problem, active


def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")(return_X_y=True)


def _cv(model: Any, X: np.ndarray, y: np.ndarray, regression: bool = False) -> float:
    """3-fold CV error (fixed folds): 1 - accuracy, or 1 - R^2 for regression."""
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
    from threadpoolctl import threadpool_limits

    cv = (KFold if regression else StratifiedKFold)(3, shuffle=True, random_state=0)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = cross_val_score(model, X, y, cv=cv, n_jobs=1,
                                scoring="r2" if regression else "accuracy")
    return float(1.0 - np.mean(score))


def _scaled(model: Any) -> Any:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), model)


# ------------------------------------------------------------ the problems
DT_PARAMS = {
    "criterion": {"distribution": "categorical", "choices": ["gini", "entropy", "log_loss"]},
    "max_depth": {"distribution": "int_uniform", "min": 1, "max": 20},
    "min_samples_split": {"distribution": "int_uniform", "min": 2, "max": 40},
    "min_samples_leaf": {"distribution": "int_uniform", "min": 1, "max": 30},
    "max_features": {"distribution": "uniform", "min": 0.1, "max": 1.0},
    "ccp_alpha": {"distribution": "log_normal", "min": 1e-5, "max": 0.1},
}


def _dt(data: str) -> Callable[[Mapping[str, Any]], tuple[float, float]]:
    def objective(v: Mapping[str, Any]) -> tuple[float, float]:
        from sklearn.tree import DecisionTreeClassifier

        X, y = _data(data)
        return _cv(DecisionTreeClassifier(
            criterion=v["criterion"], max_depth=int(v["max_depth"]),
            min_samples_split=int(v["min_samples_split"]),
            min_samples_leaf=int(v["min_samples_leaf"]), max_features=float(v["max_features"]),
            ccp_alpha=float(v["ccp_alpha"]), random_state=0), X, y), 1.0
    return objective


KNN_PARAMS = {
    "n_neighbors": {"distribution": "int_uniform", "min": 1, "max": 40},
    "weights": {"distribution": "categorical", "choices": ["uniform", "distance"]},
    "p": {"distribution": "int_uniform", "min": 1, "max": 3},
    "scale": {"distribution": "categorical", "choices": ["none", "standard"]},
}


def _knn(data: str) -> Callable[[Mapping[str, Any]], tuple[float, float]]:
    def objective(v: Mapping[str, Any]) -> tuple[float, float]:
        from sklearn.neighbors import KNeighborsClassifier

        X, y = _data(data)
        model = KNeighborsClassifier(n_neighbors=int(v["n_neighbors"]), weights=v["weights"],
                                     p=int(v["p"]), algorithm="brute")
        return _cv(_scaled(model) if v["scale"] == "standard" else model, X, y), 1.0
    return objective


SVM_PARAMS = {
    "kernel": {"distribution": "categorical", "choices": ["linear", "rbf", "poly", "sigmoid"]},
    "C": {"distribution": "log_normal", "min": 1e-3, "max": 1e3},
    "gamma": {"distribution": "log_normal", "min": 1e-4, "max": 10.0,
              "when": {"kernel": ["rbf", "poly", "sigmoid"]}},
    "degree": {"distribution": "int_uniform", "min": 2, "max": 5, "when": {"kernel": "poly"}},
    "coef0": {"distribution": "uniform", "min": -1.0, "max": 1.0,
              "when": {"kernel": ["poly", "sigmoid"]}},
}


def _svm(data: str) -> Callable[[Mapping[str, Any]], tuple[float, float]]:
    def objective(v: Mapping[str, Any]) -> tuple[float, float]:
        from sklearn.svm import SVC

        X, y = _data(data)
        return _cv(_scaled(SVC(kernel=v["kernel"], C=float(v["C"]),
                               gamma=float(v.get("gamma", 1.0)), degree=int(v.get("degree", 3)),
                               coef0=float(v.get("coef0", 0.0)), max_iter=100_000)), X, y), 1.0
    return objective


LOGREG_PARAMS = {
    "penalty": {"distribution": "categorical", "choices": ["l1", "l2"]},
    "C": {"distribution": "log_normal", "min": 1e-4, "max": 1e3},
    "class_weight": {"distribution": "categorical", "choices": ["none", "balanced"]},
    "intercept_scaling": {"distribution": "log_normal", "min": 0.1, "max": 10.0},
    "tol": {"distribution": "log_normal", "min": 1e-6, "max": 1e-1},
}


def _logreg(data: str) -> Callable[[Mapping[str, Any]], tuple[float, float]]:
    def objective(v: Mapping[str, Any]) -> tuple[float, float]:
        from sklearn.linear_model import LogisticRegression

        X, y = _data(data)
        return _cv(_scaled(LogisticRegression(
            solver="liblinear", C=float(v["C"]), tol=float(v["tol"]),
            l1_ratio=1.0 if v["penalty"] == "l1" else 0.0,
            class_weight=None if v["class_weight"] == "none" else "balanced",
            intercept_scaling=float(v["intercept_scaling"]), max_iter=200,
            random_state=0)), X, y), 1.0  # liblinear shuffles: without a seed, numpy's global one
    return objective


ENET_PARAMS = {
    "alpha": {"distribution": "log_normal", "min": 1e-5, "max": 10.0},
    "l1_ratio": {"distribution": "uniform", "min": 0.0, "max": 1.0},
    "selection": {"distribution": "categorical", "choices": ["cyclic", "random"]},
    "tol": {"distribution": "log_normal", "min": 1e-6, "max": 1e-1},
}


def _enet(data: str) -> Callable[[Mapping[str, Any]], tuple[float, float]]:
    def objective(v: Mapping[str, Any]) -> tuple[float, float]:
        from sklearn.linear_model import ElasticNet

        X, y = _data(data)
        return _cv(_scaled(ElasticNet(alpha=float(v["alpha"]), l1_ratio=float(v["l1_ratio"]),
                                      selection=v["selection"], tol=float(v["tol"]),
                                      max_iter=5000, random_state=0)), X, y, regression=True), 1.0
    return objective


RF_PARAMS = {
    "n_estimators": {"distribution": "int_uniform", "min": 5, "max": 60},
    "criterion": {"distribution": "categorical",
                  "choices": ["squared_error", "friedman_mse", "poisson"]},
    "max_depth": {"distribution": "int_uniform", "min": 2, "max": 20},
    "max_features": {"distribution": "uniform", "min": 0.1, "max": 1.0},
    "min_samples_leaf": {"distribution": "int_uniform", "min": 1, "max": 30},
    "bootstrap": {"distribution": "categorical", "choices": ["yes", "no"]},
}


def _rf(data: str, draws: Iterator[int]) -> Callable[[Mapping[str, Any]], tuple[float, float]]:
    """Noisy: each evaluation seeds the forest anew (``draws``), as a rerun would."""
    def objective(v: Mapping[str, Any]) -> tuple[float, float]:
        from sklearn.ensemble import RandomForestRegressor

        X, y = _data(data)
        return _cv(RandomForestRegressor(
            n_estimators=int(v["n_estimators"]), criterion=v["criterion"],
            max_depth=int(v["max_depth"]), max_features=float(v["max_features"]),
            min_samples_leaf=int(v["min_samples_leaf"]), bootstrap=v["bootstrap"] == "yes",
            random_state=next(draws), n_jobs=1), X, y, regression=True), 1.0
    return objective


MLP_PARAMS = {
    "hidden": {"distribution": "uniform_pow2", "min": 8, "max": 256},
    "activation": {"distribution": "categorical", "choices": ["relu", "tanh", "logistic"]},
    "solver": {"distribution": "categorical", "choices": ["adam", "sgd"]},
    "learning_rate_init": {"distribution": "log_normal", "min": 1e-4, "max": 0.3},
    "momentum": {"distribution": "uniform", "min": 0.5, "max": 0.99, "when": {"solver": "sgd"}},
    "alpha": {"distribution": "log_normal", "min": 1e-6, "max": 1.0},
    "batch_size": {"distribution": "uniform_pow2", "min": 8, "max": 128},
}


def _mlp(data: str, draws: Iterator[int]) -> Callable[[Mapping[str, Any]], tuple[float, float]]:
    """Noisy: each evaluation draws new initial weights and batch order (``draws``)."""
    def objective(v: Mapping[str, Any]) -> tuple[float, float]:
        from sklearn.neural_network import MLPClassifier

        X, y = _data(data)
        return _cv(_scaled(MLPClassifier(
            hidden_layer_sizes=(int(v["hidden"]),), activation=v["activation"],
            solver=v["solver"], learning_rate_init=float(v["learning_rate_init"]),
            momentum=float(v.get("momentum", 0.9)), alpha=float(v["alpha"]),
            batch_size=int(v["batch_size"]), max_iter=30, random_state=next(draws))), X, y), 1.0
    return objective


def _draws(problem: str) -> Iterator[int]:
    """The model seeds of a noisy problem's evaluations, in order: a fresh stream for each
    run (``problems()`` is called once per run), so a run replays exactly."""
    rng = np.random.default_rng(zlib.crc32(problem.encode()))
    return (int(rng.integers(2**31)) for _ in itertools.count())


NOISY = ("rf_diabetes", "mlp_wine")


def problems() -> dict[str, Problem]:
    """The suite, by name (model_data)."""
    specs = [
        ("dt_breast_cancer", DT_PARAMS, _dt("breast_cancer"),
         "decision tree on breast_cancer: criterion choice, depth and split integers, "
         "log cost-complexity pruning"),
        ("knn_breast_cancer", KNN_PARAMS, _knn("breast_cancer"),
         "k-NN on breast_cancer: k, Minkowski p, weighting and scaling choices"),
        ("svm_wine", SVM_PARAMS, _svm("wine"),
         "SVC on wine: kernel choice with conditional gamma (rbf/poly/sigmoid), degree (poly) "
         "and coef0 (poly/sigmoid), log C"),
        ("logreg_breast_cancer", LOGREG_PARAMS, _logreg("breast_cancer"),
         "logistic regression on breast_cancer: l1/l2 penalty, class weights, log C, tol and "
         "intercept scaling"),
        ("enet_diabetes", ENET_PARAMS, _enet("diabetes"),
         "elastic net on diabetes (1 - R^2): log alpha, l1 ratio, coordinate order, log tol"),
        ("rf_diabetes", RF_PARAMS, _rf("diabetes", _draws("rf_diabetes")),
         "random forest on diabetes (1 - R^2), noisy: a new forest seed each evaluation"),
        ("mlp_wine", MLP_PARAMS, _mlp("wine", _draws("mlp_wine")),
         "one-hidden-layer MLP on wine, 30 epochs, noisy: new initial weights each evaluation; "
         "momentum only with SGD"),
    ]
    return {name: Problem(name, params, f, None, note=note) for name, params, f, note in specs}


def centre(parameters: Mapping[str, dict]) -> dict[str, Any]:
    """Each parameter's middle (geometric for log and pow2 ones; the first choice of a
    categorical), with the inactive conditionals dropped."""
    point: dict[str, Any] = {}
    for k, s in parameters.items():
        if s["distribution"] == "categorical":
            point[k] = s["choices"][0]
        elif s["distribution"] in ("log_normal", "uniform_pow2"):
            point[k] = float(np.sqrt(s["min"] * s["max"]))
            if s["distribution"] == "uniform_pow2":
                point[k] = int(2 ** round(np.log2(point[k])))
        else:
            point[k] = (s["min"] + s["max"]) / 2
            if s["distribution"] == "int_uniform":
                point[k] = int(round(point[k]))
    return active(parameters, point)


def noise_sd(name: str, reps: int = 10) -> float:
    """The standard deviation of one problem's error over ``reps`` evaluations of its centre
    point, from a fresh stream of seeds."""
    p = problems()[name]
    values = centre(p.parameters)
    return float(np.std([p.objective(values)[0] for _ in range(reps)], ddof=1))
