"""Parameter importance from a GP fit on the complete trials.

First-order variance shares: for each parameter, the variance of the GP mean averaged
within bins of that parameter, over the total variance of the GP mean, estimated on a
Sobol sample of the space. Values sum to at most 1; interactions take the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from protein.optimizer import candidates
from protein.optimizer.transforms import Robust
from protein.space import Space
from protein.trial import Trial


def importance(space: Space, trials: Sequence[Trial], sign: float, bins: int = 8,
               samples: int = 4096) -> dict[str, float]:
    """``{name: share}`` for complete trials (needs at least 5), else an empty dict."""
    from protein.optimizer.surrogate import GP

    done = [t for t in trials if t.is_complete]
    if len(done) < 5:
        return {}
    X = space.encode_many([t.params for t in done])
    y = sign * np.array([t.score for t in done])
    z = Robust.fit(y).forward(y)
    gp = GP.fit(X, z)
    U = space.snap(candidates.sobol(space.dim, samples, 0))
    mean, _ = gp.predict(U)
    total = float(np.var(mean))
    out = {}
    for j, name in enumerate(space.names):
        if total <= 0:
            out[name] = 0.0
            continue
        edges = np.quantile(U[:, j], np.linspace(0, 1, bins + 1)[1:-1])
        which = np.searchsorted(edges, U[:, j], side="right")
        groups = [mean[which == b] for b in np.unique(which)]
        between = sum(len(g) * (g.mean() - mean.mean()) ** 2 for g in groups) / len(mean)
        out[name] = float(between / total)
    return out
