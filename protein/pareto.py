"""Pareto fronts, on arrays, in the maximise orientation: the cost-score front, non-dominated
rows of several objectives, and the Pareto set of a study's trials.

Notation: ``y`` (n,) scores to maximise (multiply by -1 first to minimise); ``c`` (n,)
costs to minimise (any monotone transform of cost, e.g. log cost).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from protein.config.objectives import feasible, metric_names
from protein.trial import values_of

if TYPE_CHECKING:
    from protein.config.objectives import Constraint, Objective
    from protein.trial import Trial


def front(y: np.ndarray, c: np.ndarray, *, tol: float = 1e-12) -> np.ndarray:
    """Indices of the non-dominated points, sorted by increasing cost.

    A point is dominated when another has score >= and cost <= with one strict. Points
    repeated at the same (cost, score) form one group: only the first index is kept.
    """
    y = np.asarray(y, dtype=float)
    c = np.asarray(c, dtype=float)
    if y.shape != c.shape or y.ndim != 1:
        raise ValueError(f"y and c must be (n,) arrays of one shape, got {y.shape}, {c.shape}")
    ok = np.isfinite(y) & np.isfinite(c)
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return idx
    # sort by cost ascending, then score descending: a sweep keeps strict score records
    order = idx[np.lexsort((-y[idx], c[idx]))]
    keep = []
    best = -np.inf
    for i in order:
        if y[i] > best + tol:
            keep.append(i)
            best = y[i]
    return np.array(keep, dtype=int)


def prune(
    y: np.ndarray, c: np.ndarray, idx: np.ndarray, *, efficiency: float = 0.5,
    near_best: float = 0.02,
) -> np.ndarray:
    """Drop the flat expensive tail of a front ``idx`` (sorted by cost).

    Walking from the most expensive end, a point is dropped while its score gain over the
    next cheaper point, relative to the front's score range, is less than ``efficiency``
    times its relative cost increase, and while the cheaper point is within ``near_best``
    (relative to the score range) of the best. Drops "0.99 at cost 100, 0.991 at cost 200".
    """
    idx = np.asarray(idx, dtype=int)
    if idx.size < 3:
        return idx
    ys, cs = y[idx], c[idx]
    y_range = ys[-1] - ys[0]
    c_range = cs[-1] - cs[0]
    if y_range <= 0 or c_range <= 0:
        return idx
    end = idx.size
    while end > 2:
        dy = (ys[end - 1] - ys[end - 2]) / y_range
        dc = (cs[end - 1] - cs[end - 2]) / c_range
        close = (ys[-1] - ys[end - 2]) / y_range <= near_best
        if close and dc > 0 and dy / dc < efficiency:
            end -= 1
        else:
            break
    return idx[:end]


def hypervolume_2d(
    y: np.ndarray, c: np.ndarray, ref_y: float, ref_c: float
) -> float:
    """Area dominated by the points (maximise ``y``, minimise ``c``) and bounded by the reference.

    Points that do not beat the reference on both axes add nothing.
    """
    y = np.asarray(y, dtype=float)
    c = np.asarray(c, dtype=float)
    ok = np.isfinite(y) & np.isfinite(c) & (y > ref_y) & (c < ref_c)
    if not ok.any():
        return 0.0
    f = front(y[ok], c[ok])
    ys, cs = y[ok][f], c[ok][f]
    widths = np.diff(np.append(cs, ref_c))
    return float(np.sum(widths * (ys - ref_y)))


def nondominated(Y: np.ndarray) -> list[int]:
    """Indices of the rows of ``Y`` (n, m), maximise orientation, that no other row dominates
    (BoTorch's ``is_non_dominated``; duplicated rows are all kept), best first column first."""
    import torch
    from botorch.utils.multi_objective.pareto import is_non_dominated

    Y = np.asarray(Y, dtype=float)
    if len(Y) == 0:
        return []
    keep = np.flatnonzero(is_non_dominated(torch.as_tensor(Y), deduplicate=False).numpy())
    return [int(i) for i in keep[np.argsort(-Y[keep, 0], kind="stable")]]


def objective_front(objectives: Sequence[Objective], constraints: Sequence[Constraint],
                    trials: Sequence[Trial]) -> list[Trial]:
    """The complete trials that meet every constraint and that no other such trial beats on
    every objective, best on the first objective first."""
    names = metric_names(objectives, constraints)
    rows, kept = [], []
    for t in trials:
        v = values_of(t, names) if t.is_complete else None
        if v is not None and feasible(tuple(constraints), v):
            rows.append([o.sign * v[o.name] for o in objectives])
            kept.append(t)
    return [kept[i] for i in nondominated(np.array(rows))] if rows else []
