"""Early stopping: whether a running trial should stop, from its intermediate values.

Rules (``StopConfig.rule``):

* ``protein``: Protein's cost rule. From complete trials, fit ``score ~ A + B log(cost)``
  (``B >= 0``) as a low quantile by linear programming (exact quantile regression). A running
  trial whose (maximise-oriented) value, after spending ``cost`` *in the unit of the recorded
  costs*, lies below that line is stopped. It judges only when it knows the cost so far in
  that unit (reported with the value, wall seconds when the costs are wall time, or the step
  when every complete trial's cost equals its last step), with at least ``PROTEIN_MIN_TRIALS``
  complete trials, and never before the trial has spent the cost of the cheapest complete
  trial and 30% of the dearest one. Where every complete trial cost about the same (within
  ``COST_RATIO``) there is no cost-score front to judge by, and it does not judge.
* ``median``: stop below the median of the other trials' values at the same step (Optuna's
  MedianPruner), once ``min_trials`` trials are complete.
* ``asha``: asynchronous successive halving: rungs at ``grace * reduction_factor**k``; at
  each rung a trial goes on only if it is in the top ``1 / reduction_factor`` of the trials
  that reached that rung (at least ``reduction_factor`` of them).
* ``auto`` (the default): ``protein`` where that rule can judge, else nothing is stopped.
* ``none``.

Every rule leaves alone a trial before its grace period (``grace`` steps, or that fraction
of ``max_resource``) and a trial at or after its last step (``max_resource``: by default the
furthest step a complete trial reported). The value judged is the mean of the last
``smooth`` reports, so one noisy evaluation does not stop a run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

RULES = ("auto", "protein", "median", "asha", "none")
PROTEIN_MIN_TRIALS = 10
PROTEIN_EARLIEST = 0.3  # fraction of the dearest complete trial's cost before the rule judges
COST_IS_STEP_TOLERANCE = 0.01
COST_RATIO = 1.5  # the Protein rule judges only when complete trials' costs differ this much


@dataclass(frozen=True)
class StopConfig:
    """How early stopping judges a running trial.

    Attributes:
        rule: one of ``RULES``.
        smooth: judge the mean of the last ``smooth`` reported values.
        grace: no trial stops before this step; a number in (0, 1) is that fraction of
            ``max_resource`` (and nothing stops while ``max_resource`` is unknown).
        max_resource: the last step of a full trial; ``None``: the furthest step any
            complete trial reported.
        reduction_factor: ASHA keeps the top ``1 / reduction_factor`` at each rung.
        min_trials: complete trials needed before the median rule judges.
        quantile: the quantile of Protein's score-vs-log-cost line.
    """

    rule: str = "auto"
    smooth: int = 1
    grace: float = 0.25
    max_resource: float | None = None
    reduction_factor: float = 3.0
    min_trials: int = 5
    quantile: float = 0.3

    def __post_init__(self) -> None:
        from protein.errors import ConfigError

        if self.rule not in RULES:
            raise ConfigError(f"early stop: unknown rule {self.rule!r}; use one of {', '.join(RULES)}")
        if not isinstance(self.smooth, int) or self.smooth < 1:
            raise ConfigError(f"early stop: smooth must be an integer >= 1, got {self.smooth!r}")
        if not _num(self.grace) or self.grace < 0:
            raise ConfigError(f"early stop: grace must be a number >= 0 (steps, or a fraction "
                              f"in (0, 1) of max_resource), got {self.grace!r}")
        if self.max_resource is not None and (not _num(self.max_resource) or self.max_resource <= 0):
            raise ConfigError(f"early stop: max_resource must be a number > 0, got "
                              f"{self.max_resource!r}")
        if not _num(self.reduction_factor) or self.reduction_factor <= 1:
            raise ConfigError(f"early stop: reduction_factor must be a number > 1, got "
                              f"{self.reduction_factor!r}")
        if not isinstance(self.min_trials, int) or self.min_trials < 1:
            raise ConfigError(f"early stop: min_trials must be an integer >= 1, got "
                              f"{self.min_trials!r}")
        if not _num(self.quantile) or not 0 < self.quantile < 1:
            raise ConfigError(f"early stop: quantile must be in (0, 1), got {self.quantile!r}")


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class StopRule:
    """A fitted Protein rule in the maximise orientation (``y = sign * score``)."""

    a: float
    b: float
    quantile: float
    lower_cost: float
    upper_cost: float

    @staticmethod
    def fit(y: np.ndarray, cost: np.ndarray, quantile: float = 0.3,
            min_trials: int = PROTEIN_MIN_TRIALS) -> StopRule | None:
        """Fit on complete trials: ``y`` (n,) maximise-oriented scores, ``cost`` (n,) > 0."""
        from scipy.optimize import linprog

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
        return StopRule(float(res.x[0]), float(res.x[1]), quantile, float(cost.min()),
                        float(cost.max()))

    def threshold(self, cost: float) -> float:
        """The value (maximise-oriented) a run must reach by ``cost``; -inf while too early."""
        if not cost > 0 or cost < max(self.lower_cost, PROTEIN_EARLIEST * self.upper_cost):
            return -np.inf
        return self.a + self.b * float(np.log(min(cost, self.upper_cost)))

    def should_stop(self, y: float, cost: float) -> bool:
        """Whether a run with maximise-oriented value ``y`` after ``cost`` should stop."""
        return bool(np.isfinite(y) and y < self.threshold(cost))


def cost_is_step(complete: Sequence[Any]) -> bool:
    """True when every complete trial that reported values has cost == its last step
    (the bundled trainers: cost is the steps or examples the step counts)."""
    curves = [t for t in complete if t.intermediate and t.cost]
    if not curves:
        return False
    return all(abs(t.cost - t.intermediate[-1][0]) <= COST_IS_STEP_TOLERANCE * t.cost
               for t in curves)


def cost_unit_is_wall(complete: Sequence[Any]) -> bool:
    """True when every complete trial's cost is the wall seconds the runner measured."""
    return bool(complete) and all(t.info.get("cost_unit") == "wall seconds" for t in complete)


def max_resource(config: StopConfig, complete: Sequence[Any]) -> float | None:
    """The last step of a full trial: configured, else the furthest step a complete trial
    reported, else unknown."""
    if config.max_resource is not None:
        return float(config.max_resource)
    steps = [t.intermediate[-1][0] for t in complete if t.intermediate]
    return max(steps) if steps else None


def grace_steps(config: StopConfig, max_res: float | None) -> float | None:
    """The step before which nothing stops; None when it cannot be known yet."""
    if config.grace >= 1 or config.grace == 0:
        return float(config.grace)
    return None if max_res is None else config.grace * max_res


def _at(curve: Sequence[tuple[float, float]], step: float, window: int) -> float | None:
    """The mean of a curve's last ``window`` finite values at or before ``step``."""
    upto = [v for s, v in curve if s <= step and np.isfinite(v)]
    return float(np.mean(upto[-window:])) if upto else None


def _peers(step: float, curves: Sequence[Sequence[tuple[float, float]]], window: int) -> list[float]:
    """For each curve that reached ``step``: its value there (see ``_at``)."""
    out = []
    for curve in curves:
        if curve and curve[-1][0] >= step and (v := _at(curve, step, window)) is not None:
            out.append(v)
    return out


def median_stop(value: float, step: float, curves: Sequence[Sequence[tuple[float, float]]],
                window: int = 1, min_peers: int = 1) -> bool:
    """The median rule, maximise orientation: stop below the median of the others at ``step``."""
    refs = _peers(step, curves, window)
    if len(refs) < min_peers:
        return False
    return bool(value < float(np.median(refs)))


def asha_stop(history: Sequence[tuple[float, float]], curves: Sequence[Sequence[tuple[float, float]]],
              min_resource: float, eta: float, window: int = 1) -> bool:
    """Successive halving at the highest rung ``min_resource * eta**k`` the trial reached.

    ``history`` and ``curves`` are maximise-oriented. At that rung the trial goes on if it
    is in the top ``1/eta`` of every trial there; fewer than ``eta`` others: it goes on.
    """
    step = history[-1][0]
    if min_resource <= 0 or step < min_resource:
        return False
    rung = min_resource * eta ** math.floor(math.log(step / min_resource, eta) + 1e-9)
    mine = _at(history, rung, window)
    refs = _peers(rung, curves, window)
    if mine is None or len(refs) < eta:
        return False
    cutoff = float(np.quantile(refs + [mine], 1.0 - 1.0 / eta))
    return bool(mine < cutoff)


def decide(config: StopConfig, sign: float, history: Sequence[tuple[float, float]],
           others: Sequence[Any], cost: float | None = None) -> tuple[bool, str]:
    """Whether a running trial should stop, and why (the rule, or why none judged).

    ``history`` is its (step, value) reports so far, in the user's direction; ``others``
    the study's other trials (any state; complete ones with ``score``, ``cost``,
    ``intermediate``); ``cost`` what the trial has spent so far in the unit of the recorded
    costs, when known.
    """
    if config.rule == "none" or not history:
        return False, "none"
    finite = [v for _, v in history if np.isfinite(v)]
    if not finite:
        return True, "nan"
    complete = [t for t in others if t.is_complete]
    step = history[-1][0]
    max_res = max_resource(config, complete)
    if max_res is not None and step >= max_res:
        return False, "last step"
    grace = grace_steps(config, max_res)
    if grace is None or step < grace:
        return False, "grace"
    value = sign * float(np.mean(finite[-config.smooth:]))
    rule = config.rule
    if rule in ("auto", "protein"):
        if cost is None and cost_is_step(complete):
            cost = step
        verdict = protein_verdict(sign, complete, value, cost, config.quantile)
        if verdict is None:
            return False, "protein (cannot judge yet)" if rule == "protein" else "none"
        return verdict, "protein"
    curves = [[(s, sign * v) for s, v in t.intermediate] for t in others if t.intermediate]
    if rule == "median":
        if len(complete) < config.min_trials:
            return False, "median (too few complete trials)"
        return median_stop(value, step, curves, window=config.smooth), "median"
    mine = [(s, sign * v) for s, v in history]
    return asha_stop(mine, curves, grace, config.reduction_factor, config.smooth), "asha"


def protein_verdict(sign: float, complete: Sequence[Any], value: float, cost: float | None,
                    quantile: float) -> bool | None:
    """Protein's rule for a running trial at maximise-oriented ``value`` after spending
    ``cost``, judged against the ``complete`` trials; None when it cannot judge (cost
    unknown, too few trials, or every run cost about the same)."""
    costs = [t.cost for t in complete if t.cost]
    if cost is None or (costs and max(costs) < COST_RATIO * min(costs)):
        return None  # without costs that differ there is no cost-score front to judge by
    fit = StopRule.fit(np.array([sign * t.score for t in complete]),
                       np.array([t.cost for t in complete]), quantile=quantile)
    return None if fit is None else fit.should_stop(value, cost)
