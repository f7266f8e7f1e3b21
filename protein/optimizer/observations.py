"""Trials -> arrays: the one place where stored trials become what the models see.

Notation: ``d`` dimensions of the unit cube, ``m`` objectives, ``q`` constraints. ``X``
(n, d) finished points whose every value is known; ``Y`` (n, m) their objective values,
each multiplied by its objective's sign so that every column is maximised; ``S`` (n, q)
constraint slacks (>= 0 when satisfied); ``log_c`` (n,) log costs; ``full`` (n,) True
where the run went to its end (False: stopped early, so its cost is what it spent before it
was stopped, not what its params cost); ``X_failed`` (f, d) points whose run failed;
``X_pending`` (p, d) points still running (or suggested in the current batch).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from protein.config.objectives import Constraint, Objective, metric_names
from protein.space import Space
from protein.trial import Trial, TrialState, values_of


@dataclass(frozen=True)
class Observations:
    """What the trials so far say, as arrays (see the module docstring for shapes)."""

    X: np.ndarray
    Y: np.ndarray
    S: np.ndarray
    log_c: np.ndarray
    X_failed: np.ndarray
    X_pending: np.ndarray
    full: np.ndarray

    @property
    def y(self) -> np.ndarray:
        """(n,) the first objective's column."""
        return self.Y[:, 0]

    @property
    def costed(self) -> np.ndarray:
        """Indices of the rows whose cost is the cost of their params (runs that went to
        their end); every row when none did. The cost model, cost budgets and the
        cost-score front read only these: a stopped run's spend would make its params look
        cheap."""
        rows = np.flatnonzero(self.full)
        return rows if len(rows) else np.arange(len(self.X))

    def __len__(self) -> int:
        return len(self.X)

    def with_pending(self, extra: np.ndarray) -> Observations:
        """The same observations with ``extra`` (k, d) points counted as pending."""
        if not len(extra):
            return self
        return Observations(self.X, self.Y, self.S, self.log_c, self.X_failed,
                            np.vstack([self.X_pending, extra]), self.full)

    def limited(self, cap: int) -> Observations:
        """At most ``cap`` finished points: the best quarter on the first objective and the
        most recent of the rest (failed and pending points are all kept)."""
        n = len(self.X)
        if n <= cap:
            return self
        best = np.argsort(-self.y)[: cap // 4]
        rest = np.setdiff1d(np.arange(n), best)[-(cap - len(best)):]
        keep = np.sort(np.concatenate([best, rest]))
        return Observations(self.X[keep], self.Y[keep], self.S[keep], self.log_c[keep],
                            self.X_failed, self.X_pending, self.full[keep])

    def taken(self) -> set[tuple]:
        """Keys of every point run, failed or running: never suggested again."""
        return {key(u) for u in np.vstack([self.X, self.X_failed, self.X_pending])}


def key(u: np.ndarray) -> tuple:
    """A hashable identity for a unit-cube point (d,), robust to float noise."""
    return tuple(np.round(u, 9))


def observe(space: Space, trials: Sequence[Trial], objectives: Sequence[Objective],
            constraints: Sequence[Constraint] = ()) -> Observations:
    """The observations in ``trials`` (any states, in creation order).

    A complete or pruned trial counts when every value it needs is a finite number (a pruned
    trial's score is the final score the curve rule predicted when it stopped it, else its
    last reported value; its cost is what it spent, so ``full`` is False);
    its cost is 1 when none was recorded. Trials whose params no longer fit the space (an
    edited config) are skipped.
    """
    names = metric_names(objectives, constraints)
    X, Y, S, log_c, Xf, Xp, full = [], [], [], [], [], [], []
    for t in trials:
        try:
            u = space.encode(t.params)
        except Exception:  # noqa: BLE001 - trials from an older space are skipped
            continue
        if t.state is TrialState.RUNNING:
            Xp.append(u)
        elif t.state is TrialState.FAILED:
            Xf.append(u)
        else:
            vals = values_of(t, names)
            if vals is None:
                continue
            cost = t.cost if t.cost is not None and t.cost > 0 and math.isfinite(t.cost) else 1.0
            X.append(u)
            Y.append([o.sign * vals[o.name] for o in objectives])
            S.append([c.slack(vals[c.metric]) for c in constraints])
            log_c.append(math.log(cost))
            full.append(t.state is TrialState.COMPLETE)
    d, m, q = space.dim, len(objectives), len(constraints)
    return Observations(np.array(X).reshape(-1, d), np.array(Y, dtype=float).reshape(-1, m),
                        np.array(S, dtype=float).reshape(len(X), q), np.array(log_c),
                        np.array(Xf).reshape(-1, d), np.array(Xp).reshape(-1, d),
                        np.array(full, dtype=bool))
