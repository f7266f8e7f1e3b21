"""Candidate points in the unit cube: space-filling and local, never piled on the bounds.

Notation: ``d`` dimensions; every returned array is ``(m, d)`` in [0, 1] (not snapped).
"""

from __future__ import annotations

import numpy as np

from distributions.base import cell_center


def sobol(d: int, n: int, seed: int | np.random.Generator, skip: int = 0) -> np.ndarray:
    """Points ``skip .. skip+n-1`` of a scrambled Sobol sequence seeded by ``seed``."""
    from scipy.stats import qmc  # imported here: the random method and the CLI need no SciPy

    eng = qmc.Sobol(d, scramble=True, seed=seed)
    if skip:
        eng.fast_forward(skip)
    return eng.random(n)


def reflect(U: np.ndarray) -> np.ndarray:
    """Fold values outside [0, 1] back inside (mirror at the bounds) instead of clipping."""
    U = np.mod(U, 2.0)
    return np.where(U > 1.0, 2.0 - U, U)


def around(
    centers: np.ndarray,
    radius: np.ndarray,
    n_per: int,
    rng: np.random.Generator,
    min_radius: float = 0.03,
    choices: np.ndarray | None = None,
) -> np.ndarray:
    """``n_per`` perturbations of each row of ``centers`` (k, d).

    Each perturbation moves every coordinate uniformly within ``r * radius`` (d,), with a
    radius multiplier ``r`` log-uniform in ``[min_radius, 1]`` so both fine and coarse moves
    are proposed; in more than 10 dimensions only a random subset of coordinates moves.
    Out-of-range values are reflected at the bounds.

    ``choices`` (d,) gives the number of choices of each unordered column (0 elsewhere).
    Such a column does not step: with probability ``r`` it takes a uniformly drawn choice
    (as a cell center), else it keeps the center's. A step would reach only the choices
    listed next to the center's, and their order means nothing.
    """
    k, d = centers.shape
    if k == 0:
        return np.empty((0, d))
    base = np.repeat(centers, n_per, axis=0)
    m = len(base)
    r = np.exp(rng.uniform(np.log(min_radius), 0.0, size=(m, 1)))
    step = rng.uniform(-1.0, 1.0, size=(m, d)) * r * radius[None, :]
    if d > 10:
        mask = rng.random((m, d)) < min(1.0, 10.0 / d)
        mask[np.arange(m), rng.integers(0, d, m)] = True
        step = step * mask
    U = reflect(base + step)
    if choices is not None and (choices > 0).any():
        cols = np.flatnonzero(choices > 0)
        n = choices[cols]
        jump = rng.random((m, len(cols))) < r
        drawn = cell_center(np.floor(rng.random((m, len(cols))) * n), n)
        U[:, cols] = np.where(jump, drawn, base[:, cols])
    return U
