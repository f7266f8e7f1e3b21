"""Protein's suggestion rule: a pure function from the trials so far to the next params.

Phases, by the number ``k`` of trials created so far (running ones included):

1. ``k == 0`` and ``seed_with_search_center``: the search centre (every ``mean``).
2. ``k < num_random_samples`` (or fewer than two usable observations): point ``k`` of a
   scrambled Sobol sequence, so parallel workers never collide.
3. every ``resample_frequency``-th suggestion: a Pareto point, exactly, to measure noise.
4. otherwise the GP step:
   * a GP on the robustly transformed score (failed points enter it at the worst observed
     score), one on log cost (when costs differ) and one on success (when some failed);
   * running trials are fantasised at their predicted score (kriging believer), so
     workers asking at once are pushed apart;
   * a cost budget ``t`` is drawn from strata of the observed log-cost range (widened by
     ``expansion_rate`` at both ends; one budget in seven is unbounded), and candidates are
     rated by ``log EI(score; best score with cost <= t) + log P(cost <= t)
     + log P(success) + log P(cost <= max_suggestion_cost)``;
   * candidates: perturbations around the Pareto front, the best observations and the
     search centre, plus global Sobol points, snapped to representable values; the best
     few are refined by L-BFGS-B on their continuous coordinates and by a neighbour
     search on discrete ones.

Nothing is kept between calls: the same trials, settings and seed give the same result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from protein import candidates, pareto
from protein.settings import Settings
from protein.space import Space
from protein.trial import Trial, TrialState

N_STRATA = 6  # finite budget strata per block; one unbounded budget is added to each block
COST_AWARE_RATIO = 1.5
N_REFINE = 4


@dataclass(frozen=True)
class Suggestion:
    """Params to run next (flat) and why they were chosen."""

    params: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return str(self.info.get("reason", ""))


@dataclass(frozen=True)
class _Data:
    """Observations as arrays. ``X`` (n, d), ``y`` (n,) maximise-oriented, ``log_c`` (n,)."""

    X: np.ndarray
    y: np.ndarray
    log_c: np.ndarray
    X_failed: np.ndarray
    X_pending: np.ndarray


def suggest(
    space: Space,
    trials: Sequence[Trial],
    *,
    sign: float,
    settings: Settings,
    seed: int = 0,
    n: int = 1,
) -> list[Suggestion]:
    """The next ``n`` suggestions after ``trials`` (any states, in creation order).

    ``sign`` is +1 to maximise the score, -1 to minimise it.
    """
    data = _arrays(space, trials, sign)

    def one(i: int, extra: np.ndarray) -> Suggestion:
        d = _Data(data.X, data.y, data.log_c, data.X_failed,
                  np.vstack([data.X_pending, extra]) if len(extra) else data.X_pending)
        return _one(space, d, len(trials) + i, sign=sign, settings=settings, seed=seed)

    return _batch(space, n, settings, one)


def _batch(space: Space, n: int, settings: Settings, one) -> list[Suggestion]:  # type: ignore[no-untyped-def]
    """Up to ``n`` suggestions from ``one(i, extra)``, where ``extra`` (m, d) holds the points
    already suggested in this batch (pending to the model). Fits run on ``settings.threads``
    torch threads; a space that runs out ends the batch early (or raises if it is empty)."""
    from protein.errors import SearchExhausted

    out: list[Suggestion] = []
    extra: list[np.ndarray] = []
    with _threads(settings.threads):
        for i in range(n):
            try:
                s = one(i, np.array(extra).reshape(-1, space.dim))
            except SearchExhausted:
                if not out:
                    raise
                break
            out.append(s)
            extra.append(space.encode(s.params))
    return out


class _threads:
    """torch's intra-op thread count set to ``n`` for the fits, then restored."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.saved: int | None = None

    def __enter__(self) -> None:
        import torch

        self.saved = torch.get_num_threads()
        if self.saved != self.n:
            torch.set_num_threads(self.n)

    def __exit__(self, *exc: Any) -> None:
        import torch

        if self.saved is not None and torch.get_num_threads() != self.saved:
            torch.set_num_threads(self.saved)


def _arrays(space: Space, trials: Sequence[Trial], sign: float) -> _Data:
    X, y, log_c, Xf, Xp = [], [], [], [], []
    for t in trials:
        try:
            u = space.encode(t.params)
        except Exception:  # noqa: BLE001 - trials from an older space are skipped
            continue
        if t.state is TrialState.RUNNING:
            Xp.append(u)
        elif t.state is TrialState.FAILED:
            Xf.append(u)
        elif t.score is not None and math.isfinite(t.score):
            cost = t.cost if t.cost is not None and t.cost > 0 and math.isfinite(t.cost) else 1.0
            X.append(u)
            y.append(sign * float(t.score))
            log_c.append(math.log(cost))
    d = space.dim
    return _Data(
        np.array(X).reshape(-1, d), np.array(y), np.array(log_c),
        np.array(Xf).reshape(-1, d), np.array(Xp).reshape(-1, d),
    )


def _one(space: Space, data: _Data, k: int, *, sign: float, settings: Settings,
         seed: int) -> Suggestion:
    if k == 0 and settings.seed_with_search_center:
        return Suggestion(space.decode(space.center), {"reason": "center"})
    if k < settings.num_random_samples or len(data.y) < 2:
        return _sobol(space, data, k, seed)
    freq = settings.resample_frequency
    if freq and (k + 1) % freq == 0:
        front = pareto.front(data.y, data.log_c)
        rng = np.random.default_rng([seed, k, 3])
        j = int(front[rng.integers(len(front))])
        return Suggestion(
            space.decode(data.X[j]),
            {"reason": "resample", "resampled_score": float(sign * data.y[j])},
        )
    return _gp_step(space, data, k, sign=sign, settings=settings, seed=seed)


def _sobol(space: Space, data: _Data, k: int, seed: int) -> Suggestion:
    seen = {_key(u) for u in np.vstack([data.X, data.X_failed, data.X_pending])}
    # point k of the sequence; if snapping made it a repeat, points far down the sequence
    for j in range(8):
        u = space.snap(candidates.sobol(space.dim, 1, seed, skip=k + j * 4096))[0]
        if _key(u) not in seen:
            return Suggestion(space.decode(u), {"reason": "sobol"})
    rng = np.random.default_rng([seed, k, 5])
    u = _untried(space, seen, rng, lambda U: np.zeros(len(U)))
    return Suggestion(space.decode(u), {"reason": "sobol"})


# ---------------------------------------------------------------------- GP step
def _gp_step(space: Space, data: _Data, k: int, *, sign: float, settings: Settings,
             seed: int) -> Suggestion:
    import torch

    from protein.acquisition import log_ei, log_prob_below
    from protein.surrogate import DTYPE, GP
    from protein.transforms import Robust

    rng = np.random.default_rng([seed, k, 1])
    X, y, log_c = _limit(data, settings.max_gp_observations)
    tf = Robust.fit(y)
    z = tf.forward(y)
    if len(data.X_failed):
        # failed points stand at the worst observed score in the score GP's data (never
        # in storage), so the model's mean drops where runs crash
        Xs = np.vstack([X, data.X_failed])
        zs = np.concatenate([z, np.full(len(data.X_failed), z.min())])
        score_gp = GP.fit(Xs, zs, device=settings.device)
    else:
        score_gp = GP.fit(X, z, device=settings.device)

    cost_aware = settings.cost_aware is True or (
        settings.cost_aware == "auto" and np.ptp(log_c) > math.log(COST_AWARE_RATIO)
    )
    cost_gp = None
    c_mu, c_sd = float(np.mean(log_c)), float(np.std(log_c)) or 1.0
    if cost_aware or settings.max_suggestion_cost is not None:
        if np.ptp(log_c) > 0:
            cost_gp = GP.fit(X, (log_c - c_mu) / c_sd, device=settings.device)

    if len(data.X_pending):
        m, _ = score_gp.predict(data.X_pending)
        score_gp = score_gp.with_points(data.X_pending, m)
        if cost_gp is not None:
            m, _ = cost_gp.predict(data.X_pending)
            cost_gp = cost_gp.with_points(data.X_pending, m)

    fail_gp = None
    fail_mu = 1.0
    if len(data.X_failed):
        Xs = np.vstack([X, data.X_failed])
        labels = np.concatenate([np.ones(len(X)), np.zeros(len(data.X_failed))])
        fail_mu = float(labels.mean())
        fail_gp = GP.fit(Xs, labels - fail_mu, device=settings.device)

    # the budget for this suggestion, and the incumbent within it
    budget = math.inf
    if cost_aware and cost_gp is not None:
        budget = _budget(log_c, k, seed, settings.expansion_rate)
    # the incumbent is the best posterior mean at observed points (plug-in EI): with a noisy
    # GP an isolated lucky observation would otherwise make EI vanish around the best region
    within = log_c <= budget + 1e-12
    fitted, _ = score_gp.predict(X)
    best = float(fitted[within].max()) if within.any() else float(fitted.min())
    max_log_cost = (
        math.log(settings.max_suggestion_cost) if settings.max_suggestion_cost else math.inf
    )

    def rate(U: torch.Tensor) -> torch.Tensor:
        mean, std = score_gp.posterior(U)
        a = log_ei(mean, std, best)
        if cost_gp is not None and (math.isfinite(budget) or math.isfinite(max_log_cost)):
            cm, cs = cost_gp.posterior(U)
            if math.isfinite(budget):
                a = a + log_prob_below(cm, cs, (budget - c_mu) / c_sd)
            if math.isfinite(max_log_cost):
                a = a + log_prob_below(cm, cs, (max_log_cost - c_mu) / c_sd)
        if fail_gp is not None:
            fm, _ = fail_gp.posterior(U)
            a = a + torch.log(torch.clamp(fm + fail_mu, 0.02, 1.0))
        return a

    # candidates
    centres = [space.center[None, :]]
    order = np.argsort(-z)
    centres.append(X[order[: settings.num_keep_top_obs]])
    if cost_aware:
        f = pareto.front(y, log_c)
        if settings.prune_pareto:
            f = pareto.prune(y, log_c, f)
        centres.append(X[f])
    C = np.unique(np.vstack(centres), axis=0)
    spread = space.spread * settings.global_search_scale
    per = max(16, min(settings.suggestions_per_pareto, 4096 // len(C)))
    U = np.vstack([
        candidates.around(C, spread, per, rng),
        candidates.sobol(space.dim, settings.random_suggestions, rng),
    ])
    U = np.unique(space.snap(U), axis=0)

    def rate_np(U: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = []
            for i in range(0, len(U), 4096):
                t = torch.as_tensor(U[i : i + 4096], dtype=DTYPE, device=score_gp.device)
                out.append(rate(t).cpu().numpy())
            return np.concatenate(out) if out else np.empty(0)

    a = rate_np(U)
    a = np.where(np.isfinite(a), a, -np.inf)
    top = U[np.argsort(-a)[:N_REFINE]]
    refined = _refine(space, top, rate, rate_np, score_gp.device)
    pool = np.vstack([top, refined])
    pool_a = rate_np(pool)
    # never a point already run or running: in small discrete spaces the GP would
    # otherwise re-propose a finished trial (resampling is the resample_frequency step's job)
    taken = {_key(u) for u in np.vstack([data.X, data.X_failed, data.X_pending])}
    ranked = [pool[j] for j in np.argsort(-pool_a)] + [U[j] for j in np.argsort(-a)]
    pick = next((u for u in ranked if _key(u) not in taken), None)
    if pick is None:
        pick = _untried(space, taken, rng, rate_np)
    pick_a = float(rate_np(pick[None, :])[0])

    mean, _ = score_gp.predict(pick[None, :])
    info: dict[str, Any] = {
        "reason": "gp",
        "predicted_score": float(sign * tf.inverse(mean)[0]),
        "acquisition": pick_a,
    }
    if cost_gp is not None:
        cm, _ = cost_gp.predict(pick[None, :])
        info["predicted_cost"] = float(math.exp(cm[0] * c_sd + c_mu))
    if math.isfinite(budget):
        info["budget"] = float(math.exp(budget))
    if fail_gp is not None:
        fm, _ = fail_gp.predict(pick[None, :])
        info["p_success"] = float(np.clip(fm[0] + fail_mu, 0.0, 1.0))
    return Suggestion(space.decode(pick), info)


def _key(u: np.ndarray) -> tuple:
    return tuple(np.round(u, 9))


def _untried(space: Space, taken: set, rng: np.random.Generator, rate_np) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The best-rated point not in ``taken``, from fresh random points; raises
    SearchExhausted when a finite space has no such point left."""
    from protein.errors import SearchExhausted

    n_points = space.n_points
    if n_points is not None and len(taken) >= n_points:
        raise SearchExhausted(f"every one of the {n_points} points of the search space has "
                              "been run or is running; the search is complete")
    for _ in range(8):
        U = np.unique(space.snap(rng.random((4096, space.dim))), axis=0)
        new = np.array([u for u in U if _key(u) not in taken]).reshape(-1, space.dim)
        if len(new):
            return new[int(np.argmax(rate_np(new)))]
    raise SearchExhausted("no untried point found in 32768 random draws; the discrete space "
                          "is all but exhausted")


def _budget(log_c: np.ndarray, k: int, seed: int, expansion: float) -> float:
    """The log-cost budget of suggestion ``k``: stratified over the observed range.

    Suggestions come in blocks of ``N_STRATA + 1``: one budget drawn uniformly inside each
    of ``N_STRATA`` equal strata of the observed log-cost range widened by ``expansion`` at
    both ends (so the front grows toward cheaper and dearer runs), and one unbounded.
    """
    n = N_STRATA + 1
    order = np.random.default_rng([seed, k // n, 2]).permutation(n)
    stratum = int(order[k % n])
    if stratum == N_STRATA:
        return math.inf
    lo, hi = float(log_c.min()), float(log_c.max())
    width = (hi - lo) * (1 + 2 * expansion)
    u = (stratum + np.random.default_rng([seed, k, 4]).random()) / N_STRATA
    return lo - expansion * (hi - lo) + u * width


def _limit(data: _Data, cap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At most ``cap`` observations: the best quarter and the most recent of the rest."""
    n = len(data.y)
    if n <= cap:
        return data.X, data.y, data.log_c
    best = np.argsort(-data.y)[: cap // 4]
    rest = np.setdiff1d(np.arange(n), best)[-(cap - len(best)) :]
    keep = np.sort(np.concatenate([best, rest]))
    return data.X[keep], data.y[keep], data.log_c[keep]


def _refine(space: Space, starts: np.ndarray, rate, rate_np, device) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Improve each row of ``starts`` (k, d): L-BFGS-B on active continuous coordinates, then
    a neighbour search on discrete ones. Returns (k, d).

    The k continuous problems are independent, so one L-BFGS-B run on the sum of their
    acquisition values optimises all of them at once (each gradient block is its own).
    """
    import torch
    from scipy.optimize import minimize

    from protein.surrogate import DTYPE

    U = starts.copy()
    active = space.active_mask(U)
    cont = active & ~space.is_discrete[None, :]
    rows, cols = np.nonzero(cont)
    if len(rows):
        base = torch.as_tensor(U, dtype=DTYPE, device=device)
        r_idx = torch.as_tensor(rows, device=device)
        c_idx = torch.as_tensor(cols, device=device)

        def f(xc: np.ndarray) -> tuple[float, np.ndarray]:
            x = torch.as_tensor(xc, dtype=DTYPE, device=device).requires_grad_(True)
            full = base.clone()
            full[r_idx, c_idx] = x
            vals = rate(full)
            if not torch.isfinite(vals).all():
                vals = torch.where(torch.isfinite(vals), vals, torch.full_like(vals, -1e10))
            val = -vals.sum()
            val.backward()
            return float(val.detach()), x.grad.detach().cpu().numpy().astype(float)

        try:
            res = minimize(f, U[rows, cols], jac=True, method="L-BFGS-B",
                           bounds=[(0.0, 1.0)] * len(rows),
                           options={"maxiter": 50 * max(1, len(starts) // 2)})
            moved = U.copy()
            moved[rows, cols] = np.clip(res.x, 0.0, 1.0)
            # keep a start where its own block did not improve (the sum can trade them off)
            better = rate_np(moved) >= rate_np(U)
            U[better] = moved[better]
        except (ValueError, RuntimeError):
            pass
    U = space.snap(U)
    return np.array([_neighbours(space, u, active[i], rate_np) for i, u in enumerate(U)])


def _neighbours(space: Space, u: np.ndarray, active: np.ndarray, rate_np) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Greedy moves of one cell up or down on the active discrete coordinates of ``u`` (d,)."""
    disc = np.flatnonzero(active & space.is_discrete)
    if not len(disc):
        return u
    dists = list(space.dists.values())
    for _ in range(2):
        moves = [u]
        for j in disc:
            nv = dists[j].n_values
            for step in (-1.0 / nv, 1.0 / nv):
                v = u.copy()
                v[j] = u[j] + step
                if 0.0 < v[j] < 1.0:
                    moves.append(v)
        M = space.snap(np.array(moves))
        best = int(np.argmax(rate_np(M)))
        if best == 0:
            break
        u = M[best]
    return u
