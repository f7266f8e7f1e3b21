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

from protein.trial import Suggestion, Trial

if TYPE_CHECKING:
    from protein.config import SweepConfig


def suggest_config(config: SweepConfig, trials: Sequence[Trial], *, seed: int,
                   n: int = 1) -> list[Suggestion]:
    """The next ``n`` suggestions for a sweep (fewer when a finite space runs out part way)."""
    if config.method == "protein":
        from protein.optimizer.phases import suggest

        return suggest(config.space, trials, objectives=config.objectives,
                       constraints=config.constraints, settings=config.settings, seed=seed, n=n)
    from protein.optimizer.baselines import suggest_baseline

    return suggest_baseline(config.method, config.space, len(trials), settings=config.settings,
                            seed=seed, n=n)
