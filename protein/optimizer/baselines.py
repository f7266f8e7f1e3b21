"""The non-GP methods behind the same interface: ``random``, ``sobol`` and ``grid``.

Each maps the index ``k`` of the trial being created to a point, so parallel workers and
resumed studies never repeat or skip one.
"""

from __future__ import annotations

import itertools


from protein.optimizer import candidates, streams
from protein.errors import SearchExhausted
from protein.config.settings import Settings
from protein.space import Space
from protein.trial import Suggestion


class GridExhausted(SearchExhausted):
    """Every grid point has been handed out."""


def suggest_random(space: Space, k: int, seed: int) -> Suggestion:
    u = streams.stream(seed, k, streams.RANDOM).random(space.dim)
    return Suggestion(space.decode(space.snap(u[None, :])[0]), {"reason": "random"})


def suggest_sobol(space: Space, k: int, seed: int) -> Suggestion:
    u = candidates.sobol(space.dim, 1, seed, skip=k)
    return Suggestion(space.decode(space.snap(u)[0]), {"reason": "sobol"})


def grid_points(space: Space, points: int) -> list[dict]:
    """Every distinct combination, in order; continuous parameters take ``points`` values."""
    axes = [d.grid(points) for d in space.dists.values()]
    seen: set = set()
    out = []
    for combo in itertools.product(*axes):
        full = dict(zip(space.names, combo))
        params = {n: v for n, v in full.items() if space.is_active(n, full)}
        key = tuple(sorted((n, repr(v)) for n, v in params.items()))
        if key not in seen:
            seen.add(key)
            out.append(params)
    return out


def suggest_grid(space: Space, k: int, settings: Settings) -> Suggestion:
    grid = grid_points(space, settings.grid_points)
    if k >= len(grid):
        raise GridExhausted(
            f"all {len(grid)} grid points have been handed out; the grid search is complete"
        )
    return Suggestion(grid[k], {"reason": "grid", "grid_index": k, "grid_size": len(grid)})


def suggest_baseline(method: str, space: Space, k0: int, *, settings: Settings,
                     seed: int, n: int = 1) -> list[Suggestion]:
    """The next ``n`` points of ``method`` (random, sobol or grid) after ``k0`` trials: they
    depend on the count alone, never on the trials' contents."""
    if method == "random":
        return [suggest_random(space, k0 + i, seed) for i in range(n)]
    if method == "sobol":
        return [suggest_sobol(space, k0 + i, seed) for i in range(n)]
    if method == "grid":
        out = []
        for i in range(n):
            try:
                out.append(suggest_grid(space, k0 + i, settings))
            except GridExhausted:
                if not out:
                    raise
                break
        return out
    raise ValueError(f"unknown method {method!r}")
