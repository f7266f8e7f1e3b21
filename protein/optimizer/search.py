"""Maximising an acquisition over the search space: pool -> refine -> pick.

One search serves every acquisition (``protein.optimizer.acquisition.Acquisition``):

1. a pool of candidates: perturbations around the given centers (the search center, the
   best and front points) plus global Sobol points, snapped to representable values;
2. the best ``N_REFINE`` of the pool are refined by L-BFGS-B on their active continuous
   coordinates (one batched run) and then by a neighbour search on discrete ones;
3. the best point not run, failed or running is picked; when every candidate was taken,
   fresh random points are tried, and a finite space with nothing left raises
   ``SearchExhausted``.

Notation: ``d`` dimensions; points are rows in the unit cube, ``U`` (c, d).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from distributions.base import cell_center
from protein.errors import SearchExhausted
from protein.optimizer import candidates
from protein.optimizer.observations import key
from protein.space import Space

if TYPE_CHECKING:
    from protein.config.settings import Settings

N_REFINE = 4  # pool points refined by gradient and neighbour search
NEIGHBOUR_ROUNDS = 4  # rounds of the discrete coordinate search
UNTRIED_DRAWS = 4096  # random points per try when every candidate was taken (8 tries)
MAX_POOL = 4096  # local candidates in all, shared among the centers


@dataclass(frozen=True)
class Pool:
    """The candidate pool's size: up to ``per_center`` perturbations around each center
    (``Settings.suggestions_per_pareto``), at ``spread`` times the space's local radius
    (``global_search_scale``), and ``random`` global Sobol points (``random_suggestions``)."""

    per_center: int
    spread: float
    random: int

    @classmethod
    def of(cls, settings: Settings) -> Pool:
        """The pool ``settings`` ask for."""
        return cls(settings.suggestions_per_pareto, settings.global_search_scale,
                   settings.random_suggestions)


def search(space: Space, acq: Any, centers: np.ndarray, taken: set[tuple], pool: Pool,
           rng: np.random.Generator, *,
           starts: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """The point (d,) the acquisition ``acq`` rates best among the untaken, and its value.

    ``centers`` (k, d) anchor the local candidates; ``taken`` holds the keys
    (``observations.key``) of points never to return. ``starts`` (m, d) are refined too
    (e.g. the best observed points), besides the best ``N_REFINE`` of the pool.
    """
    C = np.unique(centers, axis=0)
    per = max(16, min(pool.per_center, MAX_POOL // len(C)))
    U = np.vstack([
        candidates.around(C, space.local_radius * pool.spread, per, rng,
                          choices=np.where(space.unordered, space.n_values, 0)),
        candidates.sobol(space.dim, pool.random, rng),
    ])
    U = np.unique(space.snap(U), axis=0)
    a = acq.rate(U)
    a = np.where(np.isfinite(a), a, -np.inf)
    top = U[np.argsort(-a)[:N_REFINE]]
    if starts is not None and len(starts):
        top = np.unique(np.vstack([top, space.snap(starts)]), axis=0)
    best = np.vstack([top, refine(space, top, acq)])
    best_a = acq.rate(best)
    ranked = [best[j] for j in np.argsort(-best_a)] + [U[j] for j in np.argsort(-a)]
    pick = next((u for u in ranked if key(u) not in taken), None)
    if pick is None:
        pick = untried(space, taken, rng, acq.rate)
    return pick, float(acq.rate(pick[None, :])[0])


def untried(space: Space, taken: set[tuple], rng: np.random.Generator, rate: Any) -> np.ndarray:
    """The best-rated point (d,) not in ``taken``, from fresh random points; raises
    SearchExhausted when a finite space has no such point left."""
    n_points = space.n_points
    if n_points is not None and len(taken) >= n_points:
        raise SearchExhausted(f"every one of the {n_points} points of the search space has "
                              "been run or is running; the search is complete")
    for _ in range(8):
        U = np.unique(space.snap(rng.random((UNTRIED_DRAWS, space.dim))), axis=0)
        new = np.array([u for u in U if key(u) not in taken]).reshape(-1, space.dim)
        if len(new):
            return new[int(np.argmax(rate(new)))]
    raise SearchExhausted(f"no untried point found in {8 * UNTRIED_DRAWS} random draws; the "
                          "discrete space is all but exhausted")


def refine(space: Space, starts: np.ndarray, acq: Any) -> np.ndarray:
    """Improve each row of ``starts`` (k, d): L-BFGS-B on active continuous coordinates, then
    a neighbour search on discrete ones. Returns (k, d).

    The k continuous problems are independent, so one L-BFGS-B run on the sum of their
    acquisition values optimises all of them at once (each gradient block is its own).
    """
    import torch
    from scipy.optimize import minimize

    from protein.optimizer.surrogate import DTYPE

    device = acq.device
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
            vals = acq(full)
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
            better = acq.rate(moved) >= acq.rate(U)
            U[better] = moved[better]
        except (ValueError, RuntimeError):
            pass
    U = space.snap(U)
    return neighbours_many(space, U, active, acq.rate)


def neighbours(space: Space, u: np.ndarray, active: np.ndarray, rate: Any) -> np.ndarray:
    """A greedy coordinate search over the active discrete coordinates of ``u`` (d,): an
    unordered categorical tries every choice; an ordered discrete one moves 1, 2, 4, ...
    cells up or down. Each round takes the best move of all; it stops when none helps."""
    return neighbours_many(space, u[None, :], active[None, :], rate)[0]


def neighbours_many(space: Space, U: np.ndarray, active: np.ndarray, rate: Any) -> np.ndarray:
    """``neighbours`` for each row of ``U`` (k, d) with its ``active`` (k, d) mask; the
    moves of all rows still improving are rated together, one ``rate`` call a round."""
    U = U.copy()
    moving = [i for i in range(len(U)) if (active[i] & space.is_discrete).any()]
    for _ in range(NEIGHBOUR_ROUNDS):
        if not moving:
            break
        blocks = [_moves(space, U[i], active[i]) for i in moving]
        M = space.snap(np.vstack(blocks))
        values = rate(M)
        still, at = [], 0
        for i, size in zip(moving, map(len, blocks)):
            best = int(np.argmax(values[at : at + size]))
            if best > 0:
                U[i] = M[at + best]
                still.append(i)
            at += size
        moving = still
    return U


def _moves(space: Space, u: np.ndarray, active: np.ndarray) -> np.ndarray:
    """``u`` (d,) itself, then every one-coordinate move of the neighbour search (m, d)."""
    moves = [u]
    for j in np.flatnonzero(active & space.is_discrete):
        nv = int(space.n_values[j])
        if space.unordered[j]:
            targets = cell_center(np.arange(nv), nv)
        else:
            steps = [s for s in _powers(nv) for s in (s, -s)]
            targets = u[j] + np.array(steps, dtype=float) / nv
        for t in targets:
            if 0.0 < t < 1.0 and abs(t - u[j]) > 1e-12:
                v = u.copy()
                v[j] = t
                moves.append(v)
    return np.array(moves)


def _powers(n: int) -> list[int]:
    """1, 2, 4, ... below ``n``: the cell moves an ordered discrete coordinate tries."""
    out, s = [], 1
    while s < n:
        out.append(s)
        s *= 2
    return out
