"""Protein's early-stopping rule: stop a run whose score lags the score-vs-log-cost line.

From finished trials, fit ``score ~ A + B log(cost)`` (``B >= 0``) as a low quantile by
linear programming (exact quantile regression). A running trial at ``cost`` whose
(maximise-oriented) score falls below the line is stopped. Conservative by design: nothing
stops before 30% of the front's largest cost, and at least ``min_trials`` must be finished.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog


@dataclass(frozen=True)
class StopRule:
    """A fitted rule in the maximise orientation (``y = sign * score``)."""

    a: float
    b: float
    quantile: float
    upper_cost: float

    @staticmethod
    def fit(y: np.ndarray, cost: np.ndarray, quantile: float = 0.3,
            min_trials: int = 10) -> StopRule | None:
        """Fit on finished trials: ``y`` (n,) maximise-oriented scores, ``cost`` (n,) > 0."""
        y = np.asarray(y, dtype=float)
        cost = np.asarray(cost, dtype=float)
        ok = np.isfinite(y) & np.isfinite(cost) & (cost > 0)
        y, cost = y[ok], cost[ok]
        if len(y) < min_trials:
            return None
        x = np.log(cost)
        n = len(y)
        # variables: a, b, u+ (n), u- (n); y_i = a + b x_i + u+_i - u-_i
        c = np.concatenate([[0.0, 0.0], np.full(n, quantile), np.full(n, 1 - quantile)])
        A_eq = np.hstack([np.ones((n, 1)), x[:, None], np.eye(n), -np.eye(n)])
        bounds = [(None, None), (0, None)] + [(0, None)] * (2 * n)
        res = linprog(c, A_eq=A_eq, b_eq=y, bounds=bounds, method="highs")
        if not res.success:
            return None
        return StopRule(float(res.x[0]), float(res.x[1]), quantile, float(cost.max()))

    def threshold(self, cost: float) -> float:
        """The score (maximise-oriented) a run must reach by ``cost``; -inf while too early."""
        if cost <= 0 or cost < 0.3 * self.upper_cost:
            return -np.inf
        return self.a + self.b * float(np.log(cost))

    def should_stop(self, y: float, cost: float) -> bool:
        """Whether a run with maximise-oriented score ``y`` after ``cost`` should stop."""
        if not np.isfinite(y):
            return True
        return bool(y < self.threshold(cost))


def median_stop(value: float, step: float, curves: list[list[tuple[float, float]]],
                min_trials: int = 5, window: int = 1) -> bool:
    """The median stopping rule, maximise orientation.

    Stop when ``value`` (the mean of the last ``window`` reports) is below the median, over
    other trials that reached ``step``, of their mean of the last ``window`` values at or
    before ``step``. Needs ``min_trials`` such trials.
    """
    refs = _peer_values(step, curves, window)
    if len(refs) < min_trials:
        return False
    return bool(value < float(np.median(refs)))


def _peer_values(step: float, curves: list[list[tuple[float, float]]], window: int) -> list[float]:
    """For each curve that reached ``step``: the mean of its last ``window`` values up to it."""
    refs = []
    for curve in curves:
        upto = [v for s, v in curve if s <= step and np.isfinite(v)]
        if curve and curve[-1][0] >= step and upto:
            refs.append(float(np.mean(upto[-window:])))
    return refs


def asha_stop(value: float, step: float, curves: list[list[tuple[float, float]]],
              eta: float = 3.0, min_trials: int = 3, window: int = 1) -> bool:
    """Successive-halving rule, maximise orientation: keep the top ``1/eta`` at each step.

    Stop when ``value`` is below the ``1 - 1/eta`` quantile of the other trials' values
    (each the mean of its last ``window`` reports at or before ``step``).
    """
    refs = _peer_values(step, curves, window)
    if len(refs) < min_trials:
        return False
    return bool(value < float(np.quantile(refs, 1.0 - 1.0 / eta)))


RULES = ("auto", "protein", "median", "asha", "none")


def decide(rule: str, sign: float, history: list[tuple[float, float]],
           finished: list, quantile: float = 0.3, window: int = 1) -> tuple[bool, str]:
    """Whether a running trial should stop, and the rule that decided.

    ``history`` is its (step, value) reports so far, in the user's direction; ``finished``
    the study's complete trials (with ``score``, ``cost``, ``intermediate``). The value
    judged is the mean of the last ``window`` reports, so noisy curves do not trigger a
    stop on one bad evaluation. ``auto`` uses Protein's cost rule when finished trials
    differ in cost (steps are then read as cost), else the median rule.
    """
    if rule == "none" or not history:
        return False, "none"
    finite = [v for _, v in history if np.isfinite(v)]
    if not finite:
        return True, "nan"
    step = history[-1][0]
    value = sign * float(np.mean(finite[-window:]))
    curves = [[(s, sign * v) for s, v in t.intermediate] for t in finished]
    if rule == "auto":
        costs = {t.cost for t in finished}
        rule = "protein" if len(costs) > 1 else "median"
    if rule == "protein":
        fit = StopRule.fit(np.array([sign * t.score for t in finished]),
                           np.array([t.cost for t in finished]), quantile=quantile)
        return (fit is not None and fit.should_stop(value, step)), "protein"
    if rule == "median":
        return median_stop(value, step, curves, window=window), "median"
    if rule == "asha":
        return asha_stop(value, step, curves, window=window), "asha"
    raise ValueError(f"unknown early-stopping rule {rule!r}; expected one of {RULES}")
