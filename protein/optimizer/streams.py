"""Named random streams: every draw of a suggestion comes from ``stream(seed, k, TAG)``.

``k`` is the index of the trial being created, so the same trials, seed and settings give
the same suggestion, and parallel workers asking for different ``k`` draw differently.
"""

from __future__ import annotations

import numpy as np

SEARCH = 1  # single-objective model step: candidate pool and untried fallback
BUDGET_ORDER = 2  # the order of the budget strata within a block (drawn per block, k // n)
RESAMPLE = 3  # which front point a resample step measures again
BUDGET = 4  # the budget's position inside its stratum
SOBOL_FALLBACK = 5  # an untried point when the Sobol sequence keeps snapping onto old ones
CHOICE_ORDER = 6  # the order in which the start cycles through a categorical's choices (k = column)
COST_FLOOR = 7  # the random points at which the cost model's cheapest prediction is sought
MULTI_SEARCH = 11  # several-objective model step: candidate pool and untried fallback
RANDOM = 11  # the random method's point k


def stream(seed: int, k: int, tag: int) -> np.random.Generator:
    return np.random.default_rng([seed, k, tag])
