"""``Protein``: the suggest/observe interface of PufferLib's Protein and of CARBS.

    sweep = protein.Protein("sweep.yaml", seed=0)
    params, info = sweep.suggest(fill=args)    # params nested like the config tree
    ...train...
    sweep.observe(params, score, cost=seconds)

The state is the list of observations; suggestions depend on nothing else.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from protein.config import load_config
from protein.errors import SpaceError
from protein.optimizer import suggest_config
from protein.results import validate_result
from protein.trial import Trial, TrialState


class Protein:
    """Drop-in for ``pufferlib.sweep.Protein`` / CARBS: ``suggest`` then ``observe``."""

    def __init__(self, config: Any, seed: int = 0) -> None:
        self.config = load_config(config)
        self.seed = seed
        self._trials: list[Trial] = []
        self._outstanding: list[dict[str, Any]] = []

    @property
    def space(self):  # type: ignore[no-untyped-def]
        return self.config.space

    def suggest(self, fill: Mapping[str, Any] | None = None, n: int | None = None) -> Any:
        """The next params and why: ``(params, info)``; a list of them when ``n`` is given.

        ``params`` is nested like the config tree on top of the fixed overrides; with
        ``fill`` (e.g. the trainer's whole args tree) the params are written into a copy
        of it. Suggestions not yet observed count as running trials.
        """
        count = 1 if n is None else n
        pending = [
            Trial(len(self._trials) + i, p, TrialState.RUNNING)
            for i, p in enumerate(self._outstanding)
        ]
        out = suggest_config(self.config, self._trials + pending, seed=self.seed, n=count)
        result = []
        for s in out:
            self._outstanding.append(dict(s.params))
            params = self.space.nest(s.params, copy.deepcopy(dict(fill)) if fill else None)
            result.append((params, dict(s.info)))
        return result[0] if n is None else result

    def observe(self, params: Mapping[str, Any], score: float | Mapping[str, float],
                cost: float = 1.0, is_failure: bool = False) -> None:
        """Record a finished run. ``params`` may be nested or flat, and may hold extra keys.

        With several metrics, ``score`` is a mapping of every metric to its value.
        """
        flat = self.space.flatten(params)
        self.space.encode(flat, where="observe(params)")
        for i, p in enumerate(self._outstanding):
            if p == flat:
                del self._outstanding[i]
                break

        tid = len(self._trials)
        state, s, c, info = validate_result(tid, None if is_failure else score, cost,
                                            is_failure, False, None, self.config)
        self._trials.append(Trial(tid, flat, state, s, c, info))

    @property
    def observations(self) -> list[Trial]:
        return list(self._trials)


__all__ = ["Protein", "SpaceError"]
