"""Suggestions: a pure function of the trials so far (and the settings and seed).

``suggest_config`` dispatches on the sweep's ``method``: ``protein`` goes to the phases of
Protein's method (``phases``: center, Sobol start, then a model step, ``single`` for one
objective, ``multi`` for several or for constraints); ``random``, ``sobol`` and ``grid``
to ``baselines``. The pieces of a model step, in the order they run: ``observations``
(trials -> arrays), ``models`` (on ``surrogate`` GPs and ``transforms``), ``acquisition``
(objects), ``search`` (on ``candidates``). ``early_stop`` and ``importance`` judge trials
with the same numerics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from protein.config.objectives import Objective
from protein.optimizer.baselines import suggest_baseline
from protein.trial import Suggestion, Trial

if TYPE_CHECKING:
    from protein.config import SweepConfig
    from protein.config.objectives import Constraint, Objective
    from protein.config.settings import Settings
    from protein.space import Space


def suggest_config(config: SweepConfig, trials: Sequence[Trial], *, seed: int,
                   n: int = 1, count: int | None = None) -> list[Suggestion]:
    """The next ``n`` suggestions for a sweep (fewer when a finite space runs out part way):
    the one place that dispatches on ``method``. ``random``, ``sobol`` and ``grid`` need only
    how many trials came before (``count``, default ``len(trials)``), so a caller may pass
    ``count`` and no trials."""
    if config.method == "protein":
        from protein.optimizer.phases import suggest

        return suggest(config.space, trials, objectives=config.objectives,
                       constraints=config.constraints, settings=config.settings, seed=seed, n=n)

    return suggest_baseline(config.method, config.space,
                            len(trials) if count is None else count,
                            settings=config.settings, seed=seed, n=n)


def suggest_single(space: Space, trials: Sequence[Trial], *, sign: float, settings: Settings,
                   seed: int = 0, n: int = 1) -> list[Suggestion]:
    """The next ``n`` suggestions after ``trials`` (any states, in creation order), for a
    score to maximise (``sign`` +1) or minimise (-1): Protein's phases with one objective."""
    from protein.optimizer.phases import suggest

    goal = "maximize" if sign > 0 else "minimize"
    return suggest(space, trials, objectives=(Objective("score", goal),), settings=settings,
                   seed=seed, n=n)


def suggest_multi(space: Space, trials: Sequence[Trial], *, objectives: tuple[Objective, ...],
                  constraints: tuple[Constraint, ...] = (), settings: Settings, seed: int = 0,
                  n: int = 1) -> list[Suggestion]:
    """The next ``n`` suggestions after ``trials`` for several objectives and constraints."""
    from protein.optimizer.phases import suggest

    return suggest(space, trials, objectives=objectives, constraints=constraints,
                   settings=settings, seed=seed, n=n)
