"""Protein's method, phase by phase: a pure function from the trials so far to the next params.

Phases, by the number ``k`` of trials created so far (running ones included):

1. ``k == 0`` and ``seed_with_search_center``: the search center (every ``mean``).
2. ``k < num_random_samples`` (or fewer than two usable observations): point ``k`` of a
   scrambled Sobol sequence, so parallel workers never collide; its unordered categoricals
   cycle through every choice in a seeded order (``start_choice``), so each is tried once
   before any twice.
3. the model step: observations -> fitted models (``models``) -> an acquisition object ->
   ``search`` -> a suggestion with its explanation. One objective without constraints
   takes the cost-aware step of ``single``; several objectives or any constraint take the
   hypervolume step of ``multi``.

A batch of ``n`` suggestions counts the ones already made as running, and fits the models
once (``models.Fits``): later picks condition them on the earlier ones. Nothing is kept
between calls: the same trials, settings, seed and ``n`` give the same result.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from distributions.base import cell_center
from protein.config.objectives import Constraint, Objective
from protein.config.settings import Settings
from protein.errors import SearchExhausted
from protein.optimizer import candidates, multi, single, streams
from protein.optimizer.models import Fits
from protein.optimizer.observations import Observations, key, observe
from protein.optimizer.search import untried
from protein.space import Space
from protein.trial import Suggestion, Trial

SOBOL_RETRIES = 8  # Sobol points tried (4096 apart) before a random untried point
SOBOL_STRIDE = 4096


def suggest(space: Space, trials: Sequence[Trial], *, objectives: Sequence[Objective],
            constraints: Sequence[Constraint] = (), settings: Settings, seed: int = 0,
            n: int = 1) -> list[Suggestion]:
    """The next ``n`` suggestions after ``trials`` (any states, in creation order).

    Fewer come back when a finite space runs out part way; ``SearchExhausted`` when it has
    no point left at all.
    """
    obs = observe(space, trials, objectives, constraints)
    fits = Fits.of(settings, space)  # one fit for the whole batch
    step = single.step if len(objectives) == 1 and not constraints else multi.step

    def one(k: int, o: Observations) -> Suggestion:
        if k == 0 and settings.seed_with_search_center:
            return Suggestion(space.decode(space.center), {"reason": "center"})
        if k < settings.num_random_samples or len(o) < 2:
            return sobol_point(space, o, k, seed, settings.seed_with_search_center)
        return step(space, o, k, objectives=tuple(objectives), constraints=tuple(constraints),
                    settings=settings, seed=seed, fits=fits)

    out: list[Suggestion] = []
    extra: list[np.ndarray] = []
    with threads(settings.threads):
        for i in range(n):
            try:
                s = one(len(trials) + i, obs.with_pending(np.array(extra).reshape(-1, space.dim)))
            except SearchExhausted:
                if not out:
                    raise
                break
            out.append(s)
            extra.append(space.encode(s.params))
    return out


def sobol_point(space: Space, obs: Observations, k: int, seed: int,
                center_first: bool = True) -> Suggestion:
    """Point ``k`` of the seed's Sobol sequence, its unordered categoricals set by
    ``start_choice``; if snapping made it a repeat of a point run or running, points far
    down the sequence, then a random untried point."""
    seen = obs.taken()
    for j in range(SOBOL_RETRIES):
        u = candidates.sobol(space.dim, 1, seed, skip=k + j * SOBOL_STRIDE)[0]
        for col in np.flatnonzero(space.unordered):
            u[col] = start_choice(space, col, k + j * SOBOL_STRIDE, seed, center_first)
        u = space.snap(u[None, :])[0]
        if key(u) not in seen:
            return Suggestion(space.decode(u), {"reason": "sobol"})
    rng = streams.stream(seed, k, streams.SOBOL_FALLBACK)
    u = untried(space, seen, rng, lambda U: np.zeros(len(U)))
    return Suggestion(space.decode(u), {"reason": "sobol"})


def start_choice(space: Space, col: int, k: int, seed: int, center_first: bool) -> float:
    """The choice (a cell center) of unordered column ``col`` at start point ``k``: the
    start cycles through every choice in a seeded order (the search center's first when
    it opens the start), so each choice is tried once before any twice, whatever its place
    in the list. Sobol points cover a column in halves, quarters, ...; with five choices,
    five points can leave one untried, and which one depends on its place in the list."""
    n = int(space.n_values[col])
    order = list(streams.stream(seed, col, streams.CHOICE_ORDER).permutation(n))
    if center_first:
        first = int(space.center[col] * n)
        order.remove(first)
        order.insert(0, first)
    return cell_center(order[k % n], n)


class threads:
    """torch's intra-op thread count, and the BLAS libraries' (NumPy's and SciPy's
    OpenBLAS, through threadpoolctl), set to ``n`` for the fits, then restored.

    The BLAS limit matters on a busy machine: L-BFGS-B (the GP fits and ``search.refine``)
    calls BLAS on vectors of a few dozen numbers, and OpenBLAS then wakes its worker
    threads for each call. With every core taken by trainers or other workers, those
    wake-ups cost more than the optimisation itself: 0.26 s against 0.17 s a suggestion at
    90-99 observations on a 2-core machine with the other core busy. The suggestions are
    the same either way (checked trial for trial on eight benchmark runs)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.saved: int | None = None
        self.blas: Any = None

    def __enter__(self) -> None:
        import torch

        self.saved = torch.get_num_threads()
        if self.saved != self.n:
            torch.set_num_threads(self.n)
        self.blas = _blas().limit(limits=self.n, user_api="blas")

    def __exit__(self, *exc: Any) -> None:
        import torch

        if self.blas is not None:
            self.blas.restore_original_limits()
            self.blas = None
        if self.saved is not None and torch.get_num_threads() != self.saved:
            torch.set_num_threads(self.saved)


@functools.cache
def _blas() -> Any:
    """A threadpoolctl controller over the BLAS libraries loaded once SciPy's optimiser
    is (found once: looking them up takes about a millisecond, a limit through the
    controller 20 microseconds)."""
    import scipy.optimize  # noqa: F401  (loads SciPy's own OpenBLAS before the lookup)
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()
