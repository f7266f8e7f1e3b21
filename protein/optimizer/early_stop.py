"""Early stopping: whether a running trial should stop, from its intermediate values.

Rules (``StopConfig.rule``):

* ``curve``: from the learning-curve model (``protein.optimizer.curves``), the running
  trial's final value at its own predicted budget, with its uncertainty, given its curve so
  far and every other trial's. It stops the trial when the probability that this final value
  reaches the cost-matched front (the best complete score among trials that spent no more
  than its budget) falls below ``min_probability``. It judges once ``CURVE_MIN_TRIALS``
  complete trials have curves and the trial has spent ``CURVE_EARLIEST`` of its budget (or
  the ``grace`` given), and no more than ``CURVE_LATEST``; never while its own smoothed
  value is within two noise deviations of that front, nor while no cheaper trial has
  completed, nor when its budget is below the median complete trial's (cheap trials cost
  little, and each one that completes sharpens the cost-score front); it judges again each
  time the spend has grown by ``JUDGE_EVERY`` since the last judgement (a GP fit each time).
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
* ``auto`` (the default): ``curve`` where that rule can judge, else nothing is stopped;
  ``default_rule`` makes it ``none`` for ``random`` and ``grid`` sweeps.
* ``none``.

Every rule leaves alone a trial before its grace period (``grace`` steps, or that fraction
of ``max_resource``; ``None``: each rule's own, see ``DEFAULT_GRACE``) and a trial at or after its last step (``max_resource``: by default the
furthest step a complete trial reported). The value judged is the mean of the last
``smooth`` reports, so one noisy evaluation does not stop a run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from protein.errors import ConfigError
from protein.optimizer.curves import Axis, cost_is_step, fit_curves, front_at
from protein.space import Space
from protein.trial import Report, Trial, TrialState

RULES = ("auto", "curve", "protein", "median", "asha", "none")
DEFAULT_GRACE = 0.25  # median, asha, protein: no stop before this fraction of max_resource
CURVE_MIN_TRIALS = 3  # complete trials with curves before the curve rule judges
CURVE_EARLIEST = 0.1  # fraction of its own budget a trial spends before the curve rule judges
CURVE_LATEST = 0.9  # ... and after which it no longer judges (its last tenth)
JUDGE_EVERY = 1.25  # the curve rule judges again once the spend grew by this factor
MIN_PROBABILITY = 0.01  # the curve rule stops below this chance of reaching the front
CHEAP_QUANTILE = 0.5  # ... and leaves alone trials whose budget is below this quantile of the
# complete trials' totals
PROTEIN_MIN_TRIALS = 10
PROTEIN_EARLIEST = 0.3  # fraction of the dearest complete trial's cost before the rule judges
COST_RATIO = 1.5  # the Protein rule judges only when complete trials' costs differ this much


@dataclass(frozen=True)
class StopConfig:
    """How early stopping judges a running trial.

    Attributes:
        rule: one of ``RULES``.
        smooth: judge the mean of the last ``smooth`` reported values.
        grace: no trial stops before this step; a number in (0, 1) is that fraction of
            ``max_resource`` (and nothing stops while ``max_resource`` is unknown), for the
            curve rule that fraction of the trial's own budget; None: ``DEFAULT_GRACE``, or
            ``CURVE_EARLIEST`` for the curve rule.
        max_resource: the last step of a full trial; ``None``: the furthest step any
            complete trial reported.
        reduction_factor: ASHA keeps the top ``1 / reduction_factor`` at each rung.
        min_trials: complete trials needed before the median rule judges.
        quantile: the quantile of Protein's score-vs-log-cost line.
        min_probability: the curve rule stops a trial whose chance of reaching the front
            falls below this.
    """

    rule: str = "auto"
    smooth: int = 1
    grace: float | None = None
    max_resource: float | None = None
    reduction_factor: float = 3.0
    min_trials: int = 5
    quantile: float = 0.3
    min_probability: float = MIN_PROBABILITY

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ConfigError(f"early stop: unknown rule {self.rule!r}; use one of {', '.join(RULES)}")
        if not isinstance(self.smooth, int) or self.smooth < 1:
            raise ConfigError(f"early stop: smooth must be an integer >= 1, got {self.smooth!r}")
        if self.grace is not None and (not _num(self.grace) or self.grace < 0):
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
        if not _num(self.min_probability) or not 0 < self.min_probability < 1:
            raise ConfigError(f"early stop: min_probability must be in (0, 1), got "
                              f"{self.min_probability!r}")


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


def max_resource(config: StopConfig, complete: Sequence[Any]) -> float | None:
    """The last step of a full trial: configured, else the furthest step a complete trial
    reported, else unknown."""
    if config.max_resource is not None:
        return float(config.max_resource)
    steps = [t.intermediate[-1].step for t in complete if t.intermediate]
    return max(steps) if steps else None


def grace_steps(config: StopConfig, max_res: float | None) -> float | None:
    """The step before which nothing stops; None when it cannot be known yet."""
    grace = DEFAULT_GRACE if config.grace is None else config.grace
    if grace >= 1 or grace == 0:
        return float(grace)
    return None if max_res is None else grace * max_res


def default_rule(rule: str, method: str) -> str:
    """The rule a sweep runs: ``auto`` is ``none`` for ``random`` and ``grid`` sweeps (who
    picks those wants every point run in full), else as given."""
    return "none" if rule == "auto" and method in ("random", "grid") else rule


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


@dataclass(frozen=True)
class Verdict:
    """Whether a running trial should stop: ``rule`` that judged (or why none did), and the
    figures behind it in ``info`` (the curve rule: predicted final, its sd, budget, front,
    probability), kept in a stopped trial's record."""

    stop: bool
    rule: str
    info: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """What a stopped trial keeps in its info (``observations`` reads it back)."""
        return {"early_stop": {"rule": self.rule, **self.info}}


def decide(config: StopConfig, sign: float, history: Sequence[Any], others: Sequence[Trial],
           *, params: Mapping[str, Any] | None = None, space: Space | None = None,
           device: str = "cpu") -> Verdict:
    """Whether a running trial should stop, and why (the rule, or why none judged).

    ``history`` is its reports so far (``Report``\\ s, or (step, value[, cost]) tuples), in
    the user's direction, with the cost spent at each in the unit of the recorded costs
    when known; ``others`` the study's other trials (any state); ``params`` and ``space``
    the trial's params and the study's space (the curve rule needs them).
    """
    history = [Report(*h) for h in history]
    if config.rule == "none" or not history:
        return Verdict(False, "none")
    finite = [r.value for r in history if np.isfinite(r.value)]
    if not finite:
        return Verdict(True, "nan")
    complete = [t for t in others if t.is_complete]
    step = history[-1].step
    value = sign * float(np.mean(finite[-config.smooth:]))
    rule = config.rule
    if rule in ("auto", "curve"):  # its own last step: the trial's predicted budget
        if config.max_resource is not None and step >= config.max_resource:
            return Verdict(False, "last step")
        verdict = curve_verdict(config, sign, history, others, params, space, value, device)
        if verdict is None:
            return Verdict(False, "curve (cannot judge yet)" if rule == "curve" else "none")
        return verdict
    max_res = max_resource(config, complete)
    if max_res is not None and step >= max_res:
        return Verdict(False, "last step")
    grace = grace_steps(config, max_res)
    if grace is None or step < grace:
        return Verdict(False, "grace")
    if rule == "protein":
        cost = history[-1].cost
        if cost is None and cost_is_step(complete):
            cost = step
        verdict = protein_verdict(sign, complete, value, cost, config.quantile)
        if verdict is None:
            return Verdict(False, "protein (cannot judge yet)")
        return Verdict(verdict, "protein")
    curves = [[(r.step, sign * r.value) for r in t.intermediate] for t in others if t.intermediate]
    if rule == "median":
        if len(complete) < config.min_trials:
            return Verdict(False, "median (too few complete trials)")
        return Verdict(median_stop(value, step, curves, window=config.smooth), "median")
    mine = [(r.step, sign * r.value) for r in history]
    return Verdict(asha_stop(mine, curves, grace, config.reduction_factor, config.smooth), "asha")


def _due(spends: Sequence[float]) -> bool:
    """Whether the last report starts a new judgement: its spend is the first, or crossed
    a power of ``JUDGE_EVERY`` since the report before."""
    if len(spends) < 2:
        return True
    bucket = lambda s: math.floor(math.log(s) / math.log(JUDGE_EVERY))  # noqa: E731
    return bucket(spends[-1]) > bucket(spends[-2])


def curve_verdict(config: StopConfig, sign: float, history: Sequence[Report],
                  others: Sequence[Trial], params: Mapping[str, Any] | None,
                  space: Space | None, value: float, device: str = "cpu") -> Verdict | None:
    """The curve rule (see the module docstring) for a running trial whose smoothed,
    maximise-oriented value is ``value``; None when it cannot judge."""
    if space is None or params is None:
        return None
    complete = [t for t in others if t.is_complete and t.intermediate]
    if len(complete) < CURVE_MIN_TRIALS:
        return None
    me = Trial(-1, dict(params), TrialState.RUNNING, intermediate=tuple(history))
    axis = Axis.of([*others, me])
    spends = [s for r in history if (s := axis.spent(r.step, r.cost)) is not None and s > 0]
    if len(spends) != len(history):
        return None  # the spend of this trial's reports is not known in the study's unit
    if not _due(spends):
        return Verdict(False, "curve (judged at the last spend)")
    from protein.optimizer.models import categorical

    fitted = fit_curves([*others, me], space, sign, categorical(space), device)
    if fitted is None:
        return None
    model, _ = fitted
    u = space.encode(params)
    spent = spends[-1]
    if config.max_resource is not None and axis.unit == "step":
        budget = max(float(config.max_resource), spent)
    else:
        budget = model.budget(u, spent)  # at least what it has spent
    if spent >= CURVE_LATEST * budget:
        return Verdict(False, "last step")  # little left to save; a budget predicted a
        # little short would otherwise throw away a finished result
    totals = [t for c in complete if (t := axis.total(c)) is not None]
    if totals and budget < (1 - 1e-9) * float(np.quantile(totals, CHEAP_QUANTILE)):
        return Verdict(False, "curve (a cheap trial runs to its end)")
    grace = CURVE_EARLIEST if config.grace is None else config.grace
    if spent < (grace * budget if grace < 1 else grace):
        return Verdict(False, "grace")
    front = front_at(complete, axis, sign, budget)
    if front is None:
        return Verdict(False, "curve (no complete trial at its budget)")
    inflate = model.calibration(spent / budget)
    pred = model.predict(u, budget, inflate, run=me.trial_id)
    p = pred.p_above(front)
    info = {"predicted_final": sign * pred.mean, "predicted_sd": pred.sd, "budget": budget,
            "spent": spent, "front": sign * front, "p_front": p, "calibration": inflate,
            "spend_axis": axis.unit}
    if value >= front - 2 * model.noise_sd:
        return Verdict(False, "curve", info)  # still within the noise of the front
    return Verdict(p < config.min_probability, "curve", info)


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
