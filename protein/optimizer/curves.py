"""Learning curves: one GP over (params, log spend), and what it predicts of a running trial.

Every trial that reported intermediate values is a curve: its value after spending ``s``
(steps, examples, tokens, seconds: the study's cost unit). A complete trial's curve ends at
its final score after its whole cost. The curves are low-fidelity observations of one
function ``f(u, log s)``, so one GP over the unit-cube params and the normalised log spend
learns from complete, stopped and running trials alike; its Matern kernel has its own
lengthscale on log spend, fitted like the others, so curves that keep rising late and curves
that flatten early are both in its reach (freeze-thaw's idea, on the project's own GP). That
lengthscale is at least a quarter of the log-spend range (``T_SCALE``): the wiggles of noisy
reports are noise, not turns. Where runs of like params differ by more than their reports'
noise (RL returns across seeds), a per-run term (``RunKernel``, chosen by marginal likelihood)
lets a run's own reports set its offset and keeps what they cannot tell uncertain.

Notation: ``d`` dimensions of the unit cube; a curve has ``k`` reports. ``t`` is log spend
mapped to [0, 1] over the spends observed. Values are maximise-oriented (``sign * value``).

The spend axis is the study's cost unit when it is known for every report (reported with the
value, or the step where every complete trial's cost is its last step: the bundled trainers);
else the step, where each complete trial ends at its last step. Wall seconds are never the
spend axis: on a busy machine they measure contention as much as work.

A running trial's *budget* is the spend at which it will end: the cost (or last step) that a
GP on the complete trials predicts for its params, never less than it has spent.
``predict`` then gives its final value at that budget, with its uncertainty, given its own
curve so far and every other curve. The prediction is a function of the stored trials alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from protein.optimizer.transforms import Robust
from protein.space import Space
from protein.trial import Trial, TrialState

POINTS_PER_CURVE = 8  # reports kept per curve: spread evenly in log spend, the last always
COST_IS_STEP_TOLERANCE = 0.01


def cost_is_step(complete: Sequence[Trial]) -> bool:
    """True when every complete trial that reported values has cost == its last step
    (the bundled trainers: cost is the steps or examples the step counts)."""
    curves = [t for t in complete if t.intermediate and t.cost]
    if not curves:
        return False
    return all(abs(t.cost - t.intermediate[-1].step) <= COST_IS_STEP_TOLERANCE * t.cost
               for t in curves)


@dataclass(frozen=True)
class Axis:
    """How spend is read from a trial. ``unit``: ``"cost"`` (the study's cost unit) or
    ``"step"``; ``step_is_cost``: reports without a cost spent their step."""

    unit: str
    step_is_cost: bool = False

    @staticmethod
    def of(trials: Sequence[Trial]) -> Axis:
        """The axis for a study's trials (see the module docstring)."""
        complete = [t for t in trials if t.is_complete]
        if any(t.info.get("cost_unit") == "wall seconds" for t in complete):
            return Axis("step")
        step_is_cost = cost_is_step(complete)
        reports = [r for t in trials for r in t.intermediate]
        if reports and (step_is_cost or all(r.cost is not None for r in reports)):
            return Axis("cost", step_is_cost)
        return Axis("step")

    def spent(self, step: float, cost: float | None) -> float | None:
        """The spend of one report, or None when it is unknown on this axis."""
        if self.unit == "step":
            return step
        if cost is not None:
            return cost
        return step if self.step_is_cost else None

    def total(self, trial: Trial) -> float | None:
        """What a complete trial spent in all, on this axis."""
        if self.unit == "cost":
            return trial.cost
        return trial.intermediate[-1].step if trial.intermediate else None


@dataclass(frozen=True)
class Curve:
    """One trial's curve: ``u`` (d,), ``spend`` (k,) > 0 increasing, ``y`` (k,)."""

    trial_id: int
    u: np.ndarray
    spend: np.ndarray
    y: np.ndarray


def curve_of(trial: Trial, space: Space, sign: float, axis: Axis) -> Curve | None:
    """A trial's reports (and, when complete, its final score at its total spend) on the
    spend axis; None for failed trials, trials without a usable point, or stale params."""
    if trial.state is TrialState.FAILED:
        return None
    try:
        u = space.encode(trial.params)
    except Exception:  # noqa: BLE001 - trials from an older space are left out
        return None
    pts = {}
    for r in trial.intermediate:
        s = axis.spent(r.step, r.cost)
        if s is not None and s > 0 and math.isfinite(s) and math.isfinite(r.value):
            pts[float(s)] = sign * float(r.value)
    if trial.is_complete and (total := axis.total(trial)) and total > 0:
        pts = {s: v for s, v in pts.items() if s < total}
        pts[float(total)] = sign * float(trial.score)
    if not pts:
        return None
    spend = np.array(sorted(pts))
    return Curve(trial.trial_id, u, spend, np.array([pts[s] for s in spend]))


def thin(curve: Curve, keep: int = POINTS_PER_CURVE) -> Curve:
    """At most ``keep`` reports, spread evenly in log spend, the last always kept."""
    k = len(curve.spend)
    if k <= keep:
        return curve
    targets = np.linspace(np.log(curve.spend[0]), np.log(curve.spend[-1]), keep)
    idx = np.unique(np.searchsorted(np.log(curve.spend), targets).clip(0, k - 1))
    idx = np.union1d(idx, [k - 1])
    return Curve(curve.trial_id, curve.u, curve.spend[idx], curve.y[idx])


@dataclass(frozen=True)
class Prediction:
    """A running trial's predicted final value (maximise-oriented, the user's units) at
    ``budget`` (its predicted total spend): mean and standard deviation, noise included."""

    mean: float
    sd: float
    budget: float

    def p_above(self, level: float) -> float:
        """The probability that the final value ends above ``level``."""
        return float(0.5 * math.erfc(-(self.mean - level) / (self.sd * math.sqrt(2))))


RUN_VARIANCES = (0.0, 0.03, 0.1, 0.3, 1.0)  # run effect variances tried (standardised units)
RUN_LENGTHSCALES = (0.3, 1.0, 3.0)  # ... and its lengthscales on t
NOISE_SHARES = (1.0, 0.5, 0.2)  # ... with this share of the fitted noise left as noise
T_SCALE = 0.1  # t enters the GP as T_SCALE t, so its lengthscale is at least
# MIN_LENGTHSCALE / T_SCALE = 0.25 of the log-spend range: a curve is smooth at that scale, and
# the wiggles of noisy reports (RL returns) are noise, not a curve that can turn anywhere
NEW_RUN = -(2**40)  # the run id of a run not in the data


@dataclass(frozen=True)
class RunKernel:
    """``base`` over (u, t) plus each run's own deviation from it:
    ``base(a, b) + s2 [run_a == run_b] matern52((t_a - t_b)^2 / l^2)``.

    Rows are (u, t, run id) (d + 2 columns). Two runs of the same params differ (RL returns,
    seeds): without this term the GP reads a neighbour's curve as this run's future; with
    it, a run's own reports tell its offset, and what they cannot tell stays uncertain.
    """

    base: Any  # surrogate.Kernel over (u, t)
    s2: float
    inv_l2: float

    @property
    def variance(self) -> float:
        return self.base.variance + self.s2

    def __call__(self, A: Any, B: Any) -> Any:
        from protein.optimizer.surrogate import matern52

        k = self.base(A[:, :-1], B[:, :-1])
        if self.s2 > 0:
            same = (A[:, -1:] == B[None, :, -1]).to(k.dtype)
            dt2 = (A[:, -2:-1] - B[None, :, -2]) ** 2 * self.inv_l2
            k = k + self.s2 * same * matern52(dt2)
        return k


def with_run_effect(gp: Any, owner: np.ndarray) -> Any:
    """``gp`` (over (u, t)) refitted with a per-run term (``RunKernel``): its variance,
    lengthscale and the share of noise it takes over chosen by marginal likelihood on a
    grid, the base kernel's hyperparameters kept. ``owner`` (n,): each row's run id."""
    import torch

    from protein.optimizer.surrogate import GP, matern52

    X = torch.cat([gp.X, torch.as_tensor(owner, dtype=gp.X.dtype, device=gp.X.device)[:, None]],
                  dim=1)
    r = gp.z - gp.mean_const
    with torch.no_grad():
        K0 = gp.kernel(gp.X, gp.X)
        same = (X[:, -1:] == X[None, :, -1]).to(K0.dtype)
        dt2 = (X[:, -2:-1] - X[None, :, -2]) ** 2
    best, best_ll = (0.0, 1.0, 1.0), -math.inf
    for s2 in RUN_VARIANCES:
        for ls in (RUN_LENGTHSCALES if s2 > 0 else (1.0,)):
            run = s2 * same * matern52(dt2 / ls**2) if s2 > 0 else 0.0
            for share in NOISE_SHARES:
                K = K0 + run
                K.diagonal().add_(gp.noise * share)
                L, info = torch.linalg.cholesky_ex(K)
                if int(info):
                    continue
                a = torch.cholesky_solve(r[:, None], L)[:, 0]
                ll = float(-0.5 * (r @ a) - torch.log(torch.diagonal(L)).sum())
                if ll > best_ll + 1e-9:
                    best, best_ll = (s2, ls, share), ll
    s2, ls, share = best
    if s2 == 0:
        return gp
    return GP(RunKernel(gp.kernel, s2, 1 / ls**2), gp.mean_const, gp.noise * share, X, gp.z,
              gp.cat)


@dataclass(frozen=True)
class CurveModel:
    """The fitted curve GP and the budget GP (see the module docstring).

    ``log_lo``, ``log_hi``: the log-spend range mapped to t in [0, 1]; ``noise_sd``: the
    fitted noise of one report, in the user's units.
    """

    gp: Any  # surrogate.GP over (u, t)
    transform: Robust
    log_lo: float
    log_hi: float
    budget_gp: Any  # surrogate.GP over u, on standardised log total spend; or None
    budget_mu: float
    budget_sd: float
    noise_sd: float
    owner: np.ndarray  # (n,) the trial id of each point the GP holds
    complete: frozenset[int]  # trials whose curve ends at their final score

    @staticmethod
    def fit(curves: Sequence[Curve], totals: Sequence[tuple[np.ndarray, float]],
            cat: Sequence[tuple[int, int]] = (), device: str = "cpu",
            complete: frozenset[int] = frozenset()) -> CurveModel:
        """Fit on ``curves`` (thinned here) and on ``totals``: (u (d,), total spend) of the
        complete trials, for the budget GP. ``complete``: the ids of the curves that end at
        a final score (used by ``calibration``)."""
        from protein.optimizer.surrogate import GP  # torch: only once a model is fitted
        curves = [thin(c) for c in curves]
        owner = np.concatenate([np.full(len(c.spend), c.trial_id) for c in curves])
        U = np.vstack([np.repeat(c.u[None, :], len(c.spend), axis=0) for c in curves])
        log_s = np.concatenate([np.log(c.spend) for c in curves])
        y = np.concatenate([c.y for c in curves])
        lo, hi = float(log_s.min()), float(log_s.max())
        hi = hi if hi > lo else lo + 1.0
        tf = Robust.fit(y)
        X = np.hstack([U, (T_SCALE * (log_s - lo) / (hi - lo))[:, None]])
        gp = with_run_effect(GP.fit(X, tf.forward(y), device=device, cat=cat, noise_prior=None),
                             owner)
        noise_sd = float(math.sqrt(float(gp.noise[0])) * tf.sigma * tf.iqr)

        budget_gp, mu, sd = None, 0.0, 1.0
        log_t = np.log([s for _, s in totals])
        if len(totals):
            mu, sd = float(np.mean(log_t)), float(np.std(log_t))
        if len(totals) >= 2 and sd > 1e-9:
            Ut = np.vstack([u for u, _ in totals])
            budget_gp = GP.fit(Ut, (log_t - mu) / sd, device=device, cat=cat)
        return CurveModel(gp, tf, lo, hi, budget_gp, mu, sd if sd > 1e-9 else 1.0, noise_sd,
                          owner, frozenset(complete))

    def budget(self, u: np.ndarray, spent: float) -> float:
        """The total spend predicted for params ``u`` (d,), at least ``spent``."""
        if self.budget_gp is None:
            guess = math.exp(self.budget_mu)
        else:
            m, _ = self.budget_gp.predict(u[None, :])
            guess = math.exp(float(m[0]) * self.budget_sd + self.budget_mu)
        return max(guess, spent)

    def _t(self, log_spend: np.ndarray | float) -> np.ndarray | float:
        """The GP's spend column: ``T_SCALE`` t."""
        return T_SCALE * (log_spend - self.log_lo) / (self.log_hi - self.log_lo)

    @property
    def t_col(self) -> int:
        """The column of t in the GP's rows (the run id follows it with a run effect)."""
        return -2 if isinstance(self.gp.kernel, RunKernel) else -1

    def predict(self, u: np.ndarray, spend: float, inflate: float = 1.0,
                run: int | None = None) -> Prediction:
        """The value at ``spend`` of run ``run`` (a trial id; None: a new run) with params
        ``u`` (d,); its deviation (latent and noise) is multiplied by ``inflate`` (see
        ``calibration``)."""
        row = np.append(u, self._t(math.log(spend)))
        if self.t_col == -2:
            row = np.append(row, NEW_RUN if run is None else run)
        m, s = self.gp.predict(row[None, :])
        var = float(s[0]) ** 2 + float(self.gp.noise[0])  # a reported value is noisy too
        mean = float(self.transform.inverse(m)[0])
        scale = self.transform.sigma * self.transform.iqr
        return Prediction(mean, inflate * math.sqrt(var) * scale, spend)

    def calibration(self, fraction: float) -> float:
        """How far to widen predictions made from the first ``fraction`` of a curve: the
        root mean square of the standardised errors made when each complete trial's final
        score is predicted, with the same hyperparameters, from the other curves and its own
        reports up to that fraction of its total spend; at least 1.

        A GP's own uncertainty about a curve's end is too narrow where curves turn late (RL
        returns that jump once a policy "gets it"): measured on the study itself, the
        errors say by how much. Each error costs one Cholesky of the kept points.
        """
        import torch

        from protein.optimizer.surrogate import GP

        gp, z = self.gp, self.gp.z.cpu().numpy()
        t = gp.X[:, self.t_col].cpu().numpy()
        errors = []
        for tid in sorted(self.complete):
            mine = np.flatnonzero(self.owner == tid)
            if len(mine) < 2:
                continue
            last = mine[np.argmax(t[mine])]
            t_cut = self._t(math.log(fraction) + (t[last] / T_SCALE * (self.log_hi - self.log_lo)
                                                  + self.log_lo))
            keep = np.ones(len(z), bool)
            keep[mine[t[mine] > t_cut + 1e-12]] = False
            sub = GP(gp.kernel, gp.mean_const, gp.noise[keep], gp.X[keep], gp.z[keep], gp.cat)
            with torch.no_grad():
                m, s = sub.posterior(gp.X[last:last + 1])
            sd = math.sqrt(float(s[0]) ** 2 + float(gp.noise[0]))
            errors.append((z[last] - float(m[0])) / sd)
        if len(errors) < 2:
            return 1.0
        return max(1.0, float(np.sqrt(np.mean(np.square(errors)))))


def front_at(complete: Sequence[Trial], axis: Axis, sign: float, budget: float) -> float | None:
    """The best maximise-oriented score of a complete trial that spent at most ``budget``
    (the cost-score front at that spend); None when every complete trial spent more."""
    best = None
    for t in complete:
        total = axis.total(t)
        if total is not None and total <= budget * (1 + 1e-9):
            v = sign * float(t.score)
            best = v if best is None else max(best, v)
    return best


def fit_curves(trials: Sequence[Trial], space: Space, sign: float,
               cat: Sequence[tuple[int, int]] = (), device: str = "cpu"
               ) -> tuple[CurveModel, Axis] | None:
    """The curve model of a study's trials, or None when no complete trial has a curve."""
    axis = Axis.of(trials)
    curves = [c for t in trials if (c := curve_of(t, space, sign, axis)) is not None]
    complete = [t for t in trials if t.is_complete and t.intermediate]
    totals = []
    for t in complete:
        total = axis.total(t)
        if total and total > 0:
            try:
                totals.append((space.encode(t.params), float(total)))
            except Exception:  # noqa: BLE001 - stale params
                continue
    if not totals or not curves:
        return None
    done = frozenset(t.trial_id for t in complete)
    return CurveModel.fit(curves, totals, cat, device, done), axis
