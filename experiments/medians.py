"""Each tuner's best error per seed on a held-out problem, and their median: the line the
held-out experiments (``extratrees``, ``regression``) print."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmarks.problems import Problem


def median_line(label: str, make: Callable[[], Problem], opt: str, budget: int, seeds: int,
                digits: int = 4) -> str:
    """Run tuner ``opt`` for ``budget`` evaluations on a fresh ``make()`` per seed 0 ..
    ``seeds - 1``; ``label: median best M [best of each seed]``."""
    from benchmarks.peers import PEERS

    bests = [min(e["error"] for e in PEERS[opt](make(), budget, seed)) for seed in range(seeds)]
    each = " ".join(f"{b:.{digits}f}" for b in bests)
    return f"{label}: median best {np.median(bests):.{digits}f} [{each}]"
