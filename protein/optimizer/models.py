"""The surrogates of one model step, fitted on ``Observations``.

* one GP per objective on its robustly transformed values; failed points enter each at
  the worst transformed value, so the mean drops where runs crash;
* one on standardised log cost, when costs matter (cost-aware search or a cost cap) and
  differ at all;
* one per constraint on its slack, scaled to unit spread;
* one on success (1 finished, 0 failed), when some run failed.

Every GP treats unordered categorical columns as categories (``surrogate.hamming_kernel``).

Running trials are fantasised at their predicted values (kriging believer), so workers
asking at once are pushed apart. Nothing here knows about acquisition or search.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from protein.optimizer.observations import Observations
from protein.optimizer.surrogate import GP
from protein.optimizer.transforms import Robust
from protein.space import Space

if TYPE_CHECKING:
    from protein.config.settings import Settings

COST_AWARE_RATIO = 1.5  # "auto" cost-awareness: the dearest run costs at least this x the cheapest
SUCCESS_FLOOR = 0.02  # the success probability never scores a point below this


def cost_aware(setting: bool | str, log_c: np.ndarray) -> bool:
    """Whether the search trades score against cost (``Settings.cost_aware``): always
    (True), never (False), or ("auto") when the observed log costs ``log_c`` (n,) differ
    by a factor of ``COST_AWARE_RATIO`` or more."""
    return setting is True or (
        setting == "auto" and np.ptp(log_c) > math.log(COST_AWARE_RATIO)
    )


@dataclass(frozen=True)
class CostModel:
    """A GP on standardised log cost: ``(log_c - mu) / sd``."""

    gp: GP
    mu: float
    sd: float

    def standardise(self, log_cost: float) -> float:
        return (log_cost - self.mu) / self.sd

    def predict_cost(self, u: np.ndarray) -> float:
        """The predicted cost at one point (d,), in the user's units."""
        m, _ = self.gp.predict(u[None, :])
        return float(math.exp(m[0] * self.sd + self.mu))

    def with_points(self, X: np.ndarray, log_c: np.ndarray) -> CostModel:
        """Conditioned on standardised log costs ``log_c`` (k,) at ``X`` (k, d)."""
        return CostModel(self.gp.with_points(X, log_c), self.mu, self.sd)


@dataclass(frozen=True)
class SuccessModel:
    """A GP on success labels, centered: ``label - mu``."""

    gp: GP
    mu: float

    def log_prob(self, U: Any) -> Any:
        """``log P(success)`` at ``U`` (c, d) tensor, floored at ``SUCCESS_FLOOR``; (c,)."""
        import torch

        m, _ = self.gp.posterior(U)
        return torch.log(torch.clamp(m + self.mu, SUCCESS_FLOOR, 1.0))

    def prob(self, u: np.ndarray) -> float:
        m, _ = self.gp.predict(u[None, :])
        return float(np.clip(m[0] + self.mu, 0.0, 1.0))


@dataclass(frozen=True)
class Models:
    """Fitted surrogates (see the module docstring). ``Z`` (n, m) the transformed objective
    values the objective GPs were fit on; ``Z_pending`` (p, m) and ``S_pending`` (p, q) the
    fantasised values at pending points."""

    objectives: tuple[GP, ...]
    transforms: tuple[Robust, ...]
    Z: np.ndarray
    cost: CostModel | None
    constraints: tuple[GP, ...]
    success: SuccessModel | None
    Z_pending: np.ndarray
    S_pending: np.ndarray
    C_pending: np.ndarray

    @property
    def device(self) -> Any:
        return self.objectives[0].device

    def predicted_values(self, u: np.ndarray) -> list[float]:
        """Each objective's predicted value at ``u`` (d,), maximise-oriented, in the
        observations' units (before the robust transform)."""
        out = []
        for gp, tf in zip(self.objectives, self.transforms):
            m, _ = gp.predict(u[None, :])
            out.append(float(tf.inverse(m)[0]))
        return out

    def with_pending(self, P: np.ndarray) -> Models:
        """Conditioned on more pending points ``P`` (k, d) at their predicted values (kriging
        believer). A fantasy at the predicted mean leaves every mean unchanged and shrinks
        the variance around ``P``, so workers asking at once are pushed apart."""
        if not len(P):
            return self
        gps, cost, cons = self.objectives, self.cost, self.constraints
        Zp = np.stack([gp.predict(P)[0] for gp in gps], axis=1)
        gps = tuple(gp.with_points(P, Zp[:, j]) for j, gp in enumerate(gps))
        Cp = np.empty(0)
        if cost is not None:
            Cp = cost.gp.predict(P)[0]
            cost = cost.with_points(P, Cp)
        Sp = np.empty((len(P), 0))
        if cons:
            Sp = np.stack([g.predict(P)[0] for g in cons], axis=1)
            cons = tuple(g.with_points(P, Sp[:, i]) for i, g in enumerate(cons))
        return Models(gps, self.transforms, self.Z, cost, cons, self.success,
                      np.vstack([self.Z_pending, Zp]), np.vstack([self.S_pending, Sp]),
                      np.concatenate([self.C_pending, Cp]))

    def p_feasible(self, u: np.ndarray) -> float:
        p = 1.0
        for g in self.constraints:
            m, s = g.predict(u[None, :])
            p *= float(0.5 * math.erfc(-m[0] / s[0] / math.sqrt(2)))
        return p


def categorical(space: Space) -> tuple[tuple[int, int], ...]:
    """The space's unordered categorical columns and their numbers of choices."""
    cols = np.flatnonzero(space.unordered)
    return tuple((int(j), int(space.n_values[j])) for j in cols)


def fit(obs: Observations, *, device: str, aware: bool | str, capped: bool,
        cat: Sequence[tuple[int, int]] = ()) -> Models:
    """Fit every surrogate the observations call for, then fantasise the pending points.
    The cost model is fitted when the search is cost-aware (``aware``: the
    ``Settings.cost_aware`` value) or costs are ``capped``, and the costs differ at all.
    ``cat`` (``categorical(space)``) marks the unordered columns for the kernels."""
    dev = device
    cat = tuple(cat)
    n_fail = len(obs.X_failed)
    Xs = np.vstack([obs.X, obs.X_failed]) if n_fail else obs.X

    gps, tfs, Z_cols = [], [], []
    for j in range(obs.Y.shape[1]):
        tf = Robust.fit(obs.Y[:, j])
        z = tf.forward(obs.Y[:, j])
        target = np.concatenate([z, np.full(n_fail, z.min())]) if n_fail else z
        gps.append(GP.fit(Xs, target, device=dev, cat=cat))
        tfs.append(tf)
        Z_cols.append(z)

    cost = None
    rows = obs.costed
    log_c = obs.log_c[rows]
    if (cost_aware(aware, log_c) or capped) and np.ptp(log_c) > 0:
        mu, sd = float(np.mean(log_c)), float(np.std(log_c)) or 1.0
        cost = CostModel(GP.fit(obs.X[rows], (log_c - mu) / sd, device=dev, cat=cat), mu, sd)

    scales = [float(np.std(obs.S[:, i])) or 1.0 for i in range(obs.S.shape[1])]
    cons = [GP.fit(obs.X, obs.S[:, i] / scales[i], device=dev, cat=cat) for i in range(obs.S.shape[1])]

    success = None
    if n_fail:
        labels = np.concatenate([np.ones(len(obs.X)), np.zeros(n_fail)])
        mu = float(labels.mean())
        success = SuccessModel(GP.fit(Xs, labels - mu, device=dev, cat=cat, noise_prior=None), mu)

    blank = Models(tuple(gps), tuple(tfs), np.stack(Z_cols, axis=1), cost, tuple(cons), success,
                   np.empty((0, len(gps))), np.empty((0, len(cons))), np.empty(0))
    return blank.with_pending(obs.X_pending)


class Fits:
    """The models of one batch of suggestions. The first call fits them; a later call on the
    same observations with more pending points (the batch's earlier picks) conditions those
    models on the new points only, keeping the hyperparameters: a batch of ``n`` costs one
    fit, not ``n``. Any other observations are fitted afresh."""

    def __init__(self, *, device: str, aware: bool | str, capped: bool,
                 cat: Sequence[tuple[int, int]] = ()) -> None:
        self.options = dict(device=device, aware=aware, capped=capped, cat=tuple(cat))
        self._last: tuple[Observations, Models] | None = None

    @classmethod
    def of(cls, settings: Settings, space: Space) -> Fits:
        """The fits a model step over ``space`` with ``settings`` asks for."""
        return cls(device=settings.device, aware=settings.cost_aware,
                   capped=settings.max_suggestion_cost is not None, cat=categorical(space))

    def __call__(self, obs: Observations) -> Models:
        if self._last is not None and _extends(self._last[0], obs):
            before, models = self._last
            models = models.with_pending(obs.X_pending[len(before.X_pending):])
        else:
            models = fit(obs, **self.options)
        self._last = (obs, models)
        return models


def _extends(a: Observations, b: Observations) -> bool:
    """Whether ``b`` is ``a`` with pending points added."""
    pa = len(a.X_pending)
    return (a.X.shape == b.X.shape and a.Y.shape == b.Y.shape and len(b.X_pending) >= pa
            and a.X_failed.shape == b.X_failed.shape
            and np.array_equal(a.X, b.X) and np.array_equal(a.Y, b.Y)
            and np.array_equal(a.S, b.S) and np.array_equal(a.log_c, b.log_c)
            and np.array_equal(a.X_failed, b.X_failed) and np.array_equal(a.full, b.full)
            and np.array_equal(a.X_pending, b.X_pending[:pa]))
