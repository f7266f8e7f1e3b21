"""The model step for several objectives or any constraint: expected hypervolume improvement.

With the models of ``protein.optimizer.models``:

* when costs differ (cost-aware search), log cost is one more axis of the front, to be
  minimised;
* running trials count as front points at their fantasised values (when predicted
  feasible), so workers asking at once are pushed apart;
* the acquisition is the exact expected hypervolume improvement of independent Gaussian
  predictions over the feasible front, computed on BoTorch's box decomposition of the
  non-dominated region, times the probability of meeting every constraint, of staying
  under ``max_suggestion_cost`` and of succeeding. Until some trial is feasible, only
  those probabilities count. A single objective with constraints gets plain expected
  improvement over the best feasible value (a one-axis front).
* the search starts around the search center, the feasible front and each objective's
  best observations.

Notation: ``Z`` (n, M) transformed objective values (maximise orientation), with the
cost axis last when it is one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from protein.config.objectives import Constraint, Objective
from protein.config.settings import Settings
from protein.optimizer import streams
from protein.optimizer.observations import Observations
from protein.optimizer.search import Pool, search
from protein.pareto import nondominated
from protein.space import Space
from protein.trial import Suggestion

MAX_FRONT_CENTRES = 32  # feasible front points that anchor local candidates
REF_MARGIN = 0.1  # the hypervolume reference point sits this fraction of each range below it


def step(space: Space, obs: Observations, k: int, *, objectives: tuple[Objective, ...],
         constraints: tuple[Constraint, ...], settings: Settings, seed: int,
         fits: Any = None) -> Suggestion:
    """Suggestion ``k`` from the models; ``fits`` (``models.Fits``) shares one fit among
    the suggestions of a batch."""
    import torch
    from botorch.utils.multi_objective.box_decompositions.non_dominated import (
        FastNondominatedPartitioning,
    )

    from protein.optimizer import models as M
    from protein.optimizer.acquisition import Acquisition, Below, LogEHVI, Satisfied
    from protein.optimizer.surrogate import DTYPE

    rng = streams.stream(seed, k, streams.MULTI_SEARCH)
    obs = obs.limited(settings.max_gp_observations)
    models = (fits or M.Fits.of(settings, space))(obs)
    cost = models.cost
    cost_axis = cost is not None and M.cost_aware(settings.cost_aware, obs.log_c[obs.costed])
    Z, Zp = models.Z, models.Z_pending
    if cost_axis:  # cheaper is better
        Z = np.hstack([Z, -cost.standardise(obs.log_c)[:, None]])
        Zp = np.hstack([Zp, -models.C_pending[:, None]])

    feasible = np.all(obs.S >= 0, axis=1)
    front_Z = Z[feasible]
    if len(front_Z) and len(Zp):
        front_Z = np.vstack([front_Z, Zp[np.all(models.S_pending >= 0, axis=1)]])

    terms: list = []
    if len(front_Z):
        dev = models.device
        if Z.shape[1] == 1:
            # one axis (a single objective with constraints): the region above the best
            # feasible value, so the improvement is plain expected improvement
            lo = torch.tensor([[float(front_Z.max())]], dtype=DTYPE, device=dev)
            cells = (lo, torch.full_like(lo, math.inf))
        else:
            ref = Z.min(axis=0) - REF_MARGIN * np.maximum(np.ptp(Z, axis=0), 1e-6)
            part = FastNondominatedPartitioning(
                ref_point=torch.as_tensor(ref, dtype=DTYPE),
                Y=torch.as_tensor(front_Z[nondominated(front_Z)], dtype=DTYPE),
            )
            bounds = part.get_hypercell_bounds()
            cells = (bounds[0].to(dev), bounds[1].to(dev))
        terms.append(LogEHVI(models.objectives, cost.gp if cost_axis else None, *cells))
    terms += [Satisfied(g) for g in models.constraints]
    if cost is not None and settings.max_suggestion_cost:
        terms.append(Below(cost.gp, cost.standardise(math.log(settings.max_suggestion_cost))))
    if models.success is not None:
        terms.append(models.success.log_prob)
    acq = Acquisition(tuple(terms), models.device)

    centers = [space.center[None, :]]
    feas_idx = np.flatnonzero(feasible)
    if len(feas_idx):
        centers.append(obs.X[feas_idx[nondominated(Z[feas_idx])]][:MAX_FRONT_CENTRES])
    for j in range(obs.Y.shape[1]):
        centers.append(obs.X[np.argsort(-obs.Y[:, j])[: settings.num_keep_top_obs]])
    pick, value = search(space, acq, np.vstack(centers), obs.taken(), Pool.of(settings), rng)

    predicted = models.predicted_values(pick)
    info = {"reason": "gp", "acquisition": value,
            "predicted_values": {o.name: o.sign * v for o, v in zip(objectives, predicted)}}
    if cost is not None:
        info["predicted_cost"] = cost.predict_cost(pick)
    if models.constraints:
        info["p_feasible"] = models.p_feasible(pick)
    if models.success is not None:
        info["p_success"] = models.success.prob(pick)
    return Suggestion(space.decode(pick), info)
