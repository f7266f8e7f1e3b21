"""Suggestions for several objectives and constraints: expected hypervolume improvement.

The same phases as ``protein.optimizer`` (search centre, Sobol start, then a model step),
with these models and this acquisition in the model step:

* one GP per objective on its robustly transformed values (failed trials enter at the
  worst value), a GP on log cost when costs differ (cost is then one more axis of the
  front, to be minimised), a GP on each constraint's slack, and one on success;
* running trials are fantasised at their predicted values (kriging believer) and count
  as front points, so workers asking at once are pushed apart;
* the acquisition is the exact expected hypervolume improvement of independent Gaussian
  predictions over the feasible front, computed on BoTorch's box decomposition of the
  non-dominated region, times the probability of meeting every constraint and of
  succeeding. Until some trial is feasible, only those probabilities count.

Notation: ``X`` (n, d) unit-cube points, ``Z`` (n, M) transformed objective values
(maximise orientation), ``S`` (n, q) constraint slacks (>= 0 when satisfied).
Nothing is kept between calls: the same trials, settings and seed give the same result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from protein import candidates
from protein.pareto import nondominated
from protein.objectives import Constraint, Objective, feasible
from protein.optimizer import (COST_AWARE_RATIO, N_REFINE, Suggestion, _batch, _Data, _key,
                               _refine, _sobol, _untried)
from protein.settings import Settings
from protein.space import Space
from protein.trial import Trial, TrialState


@dataclass(frozen=True)
class _Obs:
    """Observations: ``X`` (n, d), ``Y`` (n, m) sign-adjusted objectives, ``S`` (n, q)
    slacks, ``log_c`` (n,), and failed / pending points (k, d)."""

    X: np.ndarray
    Y: np.ndarray
    S: np.ndarray
    log_c: np.ndarray
    X_failed: np.ndarray
    X_pending: np.ndarray


def values_of(trial: Trial, names: Sequence[str]) -> dict[str, float] | None:
    """A complete trial's metric values (``info["values"]``; the score stands for a single
    metric), or None when one is missing or not finite."""
    vals = trial.info.get("values") if isinstance(trial.info, Mapping) else None
    if not isinstance(vals, Mapping):
        vals = {names[0]: trial.score} if len(names) == 1 else {}
    out = {}
    for n in names:
        v = vals.get(n)
        if v is None or isinstance(v, bool):
            return None
        try:
            f = float(v)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(f):
            return None
        out[n] = f
    return out


def pareto_set(objectives: tuple[Objective, ...], constraints: tuple[Constraint, ...],
               trials: Sequence[Trial]) -> list[Trial]:
    """The complete trials that meet every constraint and that no other such trial beats on
    every objective, best on the first objective first."""
    names = list(dict.fromkeys([o.name for o in objectives] + [c.metric for c in constraints]))
    rows, kept = [], []
    for t in trials:
        v = values_of(t, names) if t.is_complete else None
        if v is not None and feasible(constraints, v):
            rows.append([o.sign * v[o.name] for o in objectives])
            kept.append(t)
    return [kept[i] for i in nondominated(np.array(rows))] if rows else []


def suggest(
    space: Space,
    trials: Sequence[Trial],
    *,
    objectives: tuple[Objective, ...],
    constraints: tuple[Constraint, ...] = (),
    settings: Settings,
    seed: int = 0,
    n: int = 1,
) -> list[Suggestion]:
    """The next ``n`` suggestions after ``trials`` (any states, in creation order)."""
    obs = _arrays(space, trials, objectives, constraints)

    def one(i: int, extra: np.ndarray) -> Suggestion:
        k = len(trials) + i
        o = _Obs(obs.X, obs.Y, obs.S, obs.log_c, obs.X_failed, np.vstack([obs.X_pending, extra]))
        if k == 0 and settings.seed_with_search_center:
            return Suggestion(space.decode(space.center), {"reason": "center"})
        if k < settings.num_random_samples or len(o.Y) < 2:
            return _sobol(space, _Data(o.X, o.Y[:, 0], o.log_c, o.X_failed, o.X_pending), k, seed)
        return _model_step(space, o, k, objectives, constraints, settings, seed)

    return _batch(space, n, settings, one)


def _arrays(space: Space, trials: Sequence[Trial], objectives: tuple[Objective, ...],
            constraints: tuple[Constraint, ...]) -> _Obs:
    names = list(dict.fromkeys([o.name for o in objectives] + [c.metric for c in constraints]))
    X, Y, S, log_c, Xf, Xp = [], [], [], [], [], []
    for t in trials:
        try:
            u = space.encode(t.params)
        except Exception:  # noqa: BLE001 - trials from an older space are skipped
            continue
        if t.state is TrialState.RUNNING:
            Xp.append(u)
        elif t.state is TrialState.FAILED:
            Xf.append(u)
        elif t.state is TrialState.COMPLETE:
            vals = values_of(t, names)
            if vals is None:
                continue
            cost = t.cost if t.cost is not None and t.cost > 0 and math.isfinite(t.cost) else 1.0
            X.append(u)
            Y.append([o.sign * vals[o.name] for o in objectives])
            S.append([c.slack(vals[c.metric]) for c in constraints])
            log_c.append(math.log(cost))
    d, m, q = space.dim, len(objectives), len(constraints)
    return _Obs(np.array(X).reshape(-1, d), np.array(Y).reshape(-1, m),
                np.array(S, dtype=float).reshape(len(X), q), np.array(log_c),
                np.array(Xf).reshape(-1, d), np.array(Xp).reshape(-1, d))


def log_ehvi(mean: Any, std: Any, lower: Any, upper: Any) -> Any:
    """Log expected hypervolume improvement of independent Gaussians.

    ``mean``, ``std`` (c, M) predictions at c candidates; ``lower``, ``upper`` (k, M) the
    boxes that partition the non-dominated region (``upper`` may be inf). Returns (c,).
    The improvement inside a box is a product over axes of ``E[clamp(y, l, u) - l]``,
    which for a Gaussian is ``std * (h((mean - l) / std) - h((mean - u) / std))``.
    """
    import torch

    from protein.acquisition import log_h

    mu, sd = mean[:, None, :], std[:, None, :]
    a = (mu - lower[None]) / sd
    b = torch.where(torch.isinf(upper[None]), torch.full_like(a, -1e6), (mu - upper[None]) / sd)
    la, lb = log_h(a), log_h(b)
    ratio = torch.clamp(torch.exp(lb - la), max=1.0 - 1e-12)
    per_axis = torch.log(sd) + la + torch.log1p(-ratio)  # (c, k, M)
    return torch.logsumexp(per_axis.sum(-1), dim=-1)


def _model_step(space: Space, o: _Obs, k: int, objectives: tuple[Objective, ...],
                constraints: tuple[Constraint, ...], settings: Settings, seed: int) -> Suggestion:
    import torch
    from botorch.utils.multi_objective.box_decompositions.non_dominated import (
        FastNondominatedPartitioning,
    )

    from protein.surrogate import DTYPE, GP
    from protein.transforms import Robust

    rng = np.random.default_rng([seed, k, 11])
    dev = settings.device
    n_fail = len(o.X_failed)
    Xs = np.vstack([o.X, o.X_failed])

    # one GP per objective axis, in transformed units
    tfs, Z_cols, gps = [], [], []
    for j in range(o.Y.shape[1]):
        tf = Robust.fit(o.Y[:, j])
        z = tf.forward(o.Y[:, j])
        tfs.append(tf)
        Z_cols.append(z)
        gps.append(GP.fit(Xs, np.concatenate([z, np.full(n_fail, z.min())]), device=dev))
    cost_aware = settings.cost_aware is True or (
        settings.cost_aware == "auto" and np.ptp(o.log_c) > math.log(COST_AWARE_RATIO)
    )
    c_mu, c_sd = float(np.mean(o.log_c)), float(np.std(o.log_c)) or 1.0
    cost_gp = None
    if (cost_aware or settings.max_suggestion_cost is not None) and np.ptp(o.log_c) > 0:
        cost_gp = GP.fit(o.X, (o.log_c - c_mu) / c_sd, device=dev)
    axes = list(gps)
    if cost_aware and cost_gp is not None:
        Z_cols.append(-(o.log_c - c_mu) / c_sd)  # cheaper is better
        axes.append(None)  # marks the cost axis: its prediction is minus the cost GP's
    Z = np.stack(Z_cols, axis=1)

    s_scale = [float(np.std(o.S[:, i])) or 1.0 for i in range(o.S.shape[1])]
    con_gps = [GP.fit(o.X, o.S[:, i] / s_scale[i], device=dev) for i in range(o.S.shape[1])]
    fail_gp, fail_mu = None, 1.0
    if n_fail:
        labels = np.concatenate([np.ones(len(o.X)), np.zeros(n_fail)])
        fail_mu = float(labels.mean())
        fail_gp = GP.fit(Xs, labels - fail_mu, device=dev)

    feasible = np.all(o.S >= 0, axis=1) if o.S.shape[1] else np.ones(len(o.X), bool)
    front_Z = Z[feasible]
    if len(o.X_pending):  # kriging believer: pending points at their predicted values
        preds = []
        for j, gp in enumerate(axes):
            src = cost_gp if gp is None else gp
            m, _ = src.predict(o.X_pending)
            preds.append(-m if gp is None else m)
        Zp = np.stack(preds, axis=1)
        gps = [gp.with_points(o.X_pending, Zp[:, j]) for j, gp in enumerate(gps)]
        if cost_gp is not None:
            m, _ = cost_gp.predict(o.X_pending)
            cost_gp = cost_gp.with_points(o.X_pending, m)
        slack = [g.predict(o.X_pending)[0] for g in con_gps]
        con_gps = [g.with_points(o.X_pending, m) for g, m in zip(con_gps, slack)]
        p_ok = np.ones(len(o.X_pending), bool)
        for m in slack:
            p_ok &= m >= 0
        if len(front_Z):
            front_Z = np.vstack([front_Z, Zp[p_ok]])
        axes = list(gps) + ([None] if len(axes) > len(gps) else [])

    cells = None
    if len(front_Z) and Z.shape[1] == 1:
        # one axis (a single objective with constraints): the region above the best
        # feasible value, so the improvement is plain expected improvement
        lo = torch.tensor([[float(front_Z.max())]], dtype=DTYPE, device=gps[0].device)
        cells = (lo, torch.full_like(lo, math.inf))
    elif len(front_Z):
        ref = Z.min(axis=0) - 0.1 * np.maximum(np.ptp(Z, axis=0), 1e-6)
        part = FastNondominatedPartitioning(
            ref_point=torch.as_tensor(ref, dtype=DTYPE),
            Y=torch.as_tensor(front_Z[nondominated(front_Z)], dtype=DTYPE),
        )
        bounds = part.get_hypercell_bounds()
        cells = (bounds[0].to(gps[0].device), bounds[1].to(gps[0].device))
    max_log_cost = (
        math.log(settings.max_suggestion_cost) if settings.max_suggestion_cost else math.inf
    )

    def rate(U: torch.Tensor) -> torch.Tensor:
        a = torch.zeros(len(U), dtype=DTYPE, device=U.device)
        if cells is not None:
            means, stds = [], []
            for gp in axes:
                m, s = (cost_gp if gp is None else gp).posterior(U)
                means.append(-m if gp is None else m)
                stds.append(s)
            a = a + log_ehvi(torch.stack(means, 1), torch.stack(stds, 1), *cells)
        for g in con_gps:
            m, s = g.posterior(U)
            a = a + torch.special.log_ndtr(m / s)
        if cost_gp is not None and math.isfinite(max_log_cost):
            m, s = cost_gp.posterior(U)
            a = a + torch.special.log_ndtr(((max_log_cost - c_mu) / c_sd - m) / s)
        if fail_gp is not None:
            m, _ = fail_gp.posterior(U)
            a = a + torch.log(torch.clamp(m + fail_mu, 0.02, 1.0))
        return a

    def rate_np(U: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = [rate(torch.as_tensor(U[i : i + 2048], dtype=DTYPE, device=gps[0].device))
                   .cpu().numpy() for i in range(0, len(U), 2048)]
        return np.concatenate(out) if out else np.empty(0)

    # candidates around the feasible front, each objective's best points and the centre
    centres = [space.center[None, :]]
    feas_idx = np.flatnonzero(feasible)
    if len(feas_idx):
        centres.append(o.X[feas_idx[nondominated(Z[feas_idx])]][:32])
    for j in range(o.Y.shape[1]):
        centres.append(o.X[np.argsort(-o.Y[:, j])[: settings.num_keep_top_obs]])
    C = np.unique(np.vstack(centres), axis=0)
    per = max(16, min(settings.suggestions_per_pareto, 4096 // len(C)))
    U = np.vstack([
        candidates.around(C, space.spread * settings.global_search_scale, per, rng),
        candidates.sobol(space.dim, settings.random_suggestions, rng),
    ])
    U = np.unique(space.snap(U), axis=0)
    a = rate_np(U)
    a = np.where(np.isfinite(a), a, -np.inf)
    top = U[np.argsort(-a)[:N_REFINE]]
    pool = np.vstack([top, _refine(space, top, rate, rate_np, gps[0].device)])
    pool_a = rate_np(pool)
    taken = {_key(u) for u in np.vstack([o.X, o.X_failed, o.X_pending])}
    ranked = [pool[j] for j in np.argsort(-pool_a)] + [U[j] for j in np.argsort(-a)]
    pick = next((u for u in ranked if _key(u) not in taken), None)
    if pick is None:
        pick = _untried(space, taken, rng, rate_np)

    info: dict[str, Any] = {"reason": "gp", "acquisition": float(rate_np(pick[None, :])[0])}
    predicted = {}
    for obj, gp, tf in zip(objectives, gps, tfs):
        m, _ = gp.predict(pick[None, :])
        predicted[obj.name] = float(obj.sign * tf.inverse(m)[0])
    info["predicted_values"] = predicted
    if cost_gp is not None:
        m, _ = cost_gp.predict(pick[None, :])
        info["predicted_cost"] = float(math.exp(m[0] * c_sd + c_mu))
    if con_gps:
        p = 1.0
        for g in con_gps:
            m, s = g.predict(pick[None, :])
            p *= float(0.5 * math.erfc(-m[0] / s[0] / math.sqrt(2)))
        info["p_feasible"] = p
    if fail_gp is not None:
        m, _ = fail_gp.predict(pick[None, :])
        info["p_success"] = float(np.clip(m[0] + fail_mu, 0.0, 1.0))
    return Suggestion(space.decode(pick), info)
