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
    refs = []
    for curve in curves:
        upto = [v for s, v in curve if s <= step and np.isfinite(v)]
        if curve and curve[-1][0] >= step and upto:
            refs.append(float(np.mean(upto[-window:])))
    if len(refs) < min_trials:
        return False
    return bool(value < float(np.median(refs)))
