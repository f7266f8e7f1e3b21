"""The model step for one objective: cost-aware log expected improvement.

* every ``resample_frequency``-th suggestion is a point of the cost-score front, exactly,
  to measure noise;
* otherwise the models of ``protein.optimizer.models`` are fitted; a cost budget ``t`` is
  drawn from strata of the observed log-cost range (widened by ``expansion_rate`` at both
  ends; one budget in seven is unbounded), and candidates are rated by
  ``log EI(score; best score with cost <= t) + log P(cost <= t) + log P(success)
  + log P(cost <= max_suggestion_cost)``;
* the search starts around the search center, the best observations and (when cost-aware)
  the cost-score front;
* in a space with unordered categoricals, every other suggestion whose best candidate's
  expected improvement is below ``exp(STALLED_LOG_EI)`` standard units (the model has
  converged on its incumbent and would spend the trial on a near-repeat) asks for an
  improvement of ``EXPLORE_MARGIN`` units instead (EI over ``best + EXPLORE_MARGIN``), which
  favours what the model is unsure of, such as a choice tried once, at a poor setting of the
  rest, during the start (reason ``explore``). Only every other one, and only with
  categoricals: on continuous problems the near-repeats are the refinement that takes the
  regret from 1e-3 to 1e-5.

``protein.optimizer.suggest_single`` is the library entry point for one objective.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from protein import pareto
from protein.config.objectives import Constraint, Objective
from protein.config.settings import Settings
from protein.optimizer import streams
from protein.optimizer.observations import Observations
from protein.optimizer.search import Pool, search
from protein.space import Space
from protein.trial import Suggestion

N_STRATA = 6  # finite budget strata per block; one unbounded budget is added to each block
N_START_OBS = 2  # the best observed points are refined too, besides the best candidates
STALLED_LOG_EI = -7.0  # log EI (standardised score units) below which the model has stalled
EXPLORE_MARGIN = 1.0  # a stalled step asks for this much more than the incumbent (same units)
FLOOR_SAMPLE = 1024  # random points at which the cost model's cheapest prediction is sought


def step(space: Space, obs: Observations, k: int, *, objectives: tuple[Objective, ...],
         constraints: tuple[Constraint, ...], settings: Settings, seed: int,
         fits: Any = None) -> Suggestion:
    """Suggestion ``k`` from the model (or a resample of a front point). ``fits``
    (``models.Fits``) shares one fit among the suggestions of a batch."""
    from protein.optimizer import models as M
    from protein.optimizer.acquisition import Acquisition, Below, LogEI

    sign = objectives[0].sign
    freq = settings.resample_frequency
    if freq and (k + 1) % freq == 0:
        rows = obs.costed
        front = rows[pareto.front(obs.y[rows], obs.log_c[rows])]
        j = int(front[streams.stream(seed, k, streams.RESAMPLE).integers(len(front))])
        return Suggestion(space.decode(obs.X[j]),
                          {"reason": "resample", "resampled_score": float(sign * obs.y[j])})

    rng = streams.stream(seed, k, streams.SEARCH)
    obs = obs.limited(settings.max_gp_observations)
    models = (fits or M.Fits.of(settings, space))(obs)
    score_gp, cost = models.objectives[0], models.cost
    rows = obs.costed  # runs that went to their end: their cost is their params' cost
    aware = M.cost_aware(settings.cost_aware, obs.log_c[rows])

    # the budget for this suggestion, and the incumbent within it: the best posterior mean
    # at observed points (plug-in EI), since with a noisy GP an isolated lucky observation
    # would otherwise make EI vanish around the best region
    budget = budget_of(obs.log_c[rows], k, seed, settings.expansion_rate) \
        if aware and cost is not None else math.inf
    if math.isfinite(budget):
        budget = max(budget, cheapest(cost, space.dim, obs.X[rows], seed, k))
    within = np.zeros(len(obs), bool)
    within[rows] = obs.log_c[rows] <= budget + 1e-12
    fitted, _ = score_gp.predict(obs.X)
    best = float(fitted[within].max()) if within.any() else float(fitted.min())
    cap = math.log(settings.max_suggestion_cost) if settings.max_suggestion_cost else math.inf

    terms: list = [LogEI(score_gp, best)]
    if cost is not None:
        terms += [Below(cost.gp, cost.standardise(b)) for b in (budget, cap) if math.isfinite(b)]
    if models.success is not None:
        terms.append(models.success.log_prob)
    acq = Acquisition(tuple(terms), models.device)

    centers = [space.center[None, :], obs.X[np.argsort(-models.Z[:, 0])[: settings.num_keep_top_obs]]]
    if aware:
        f = pareto.front(obs.y[rows], obs.log_c[rows])
        if settings.prune_pareto:
            f = pareto.prune(obs.y[rows], obs.log_c[rows], f)
        centers.append(obs.X[rows[f]])
    starts = obs.X[np.argsort(-fitted)[:N_START_OBS]]
    pool = Pool.of(settings)
    pick, value = search(space, acq, np.vstack(centers), obs.taken(), pool, rng,
                         starts=starts)
    reason = "gp"
    if (space.unordered.any() and k % 2 == 1
            and Acquisition(tuple(terms[:1]), models.device).rate(pick[None, :])[0] < STALLED_LOG_EI):
        # the model sees nothing left to gain anywhere: spend the trial where a real gain is
        # possible, not on a near-repeat of the incumbent
        reason = "explore"
        acq = Acquisition((LogEI(score_gp, best + EXPLORE_MARGIN), *terms[1:]), models.device)
        pick, value = search(space, acq, np.vstack(centers), obs.taken(), pool, rng,
                             starts=starts)

    info = {"reason": reason, "predicted_score": sign * models.predicted_values(pick)[0],
            "acquisition": value}
    if cost is not None:
        info["predicted_cost"] = cost.predict_cost(pick)
    if math.isfinite(budget):
        info["budget"] = float(math.exp(budget))
    if models.success is not None:
        info["p_success"] = models.success.prob(pick)
    return Suggestion(space.decode(pick), info)


def cheapest(cost: Any, dim: int, X: np.ndarray, seed: int, k: int) -> float:
    """The lowest log cost the cost model (``models.CostModel``) predicts anywhere: over
    ``FLOOR_SAMPLE`` random points of the unit cube (dim) and the runs ``X`` (n, d).

    A budget is never set below it. A budget stratum under the cheapest finished cost
    grows the cheap end of the front where cheaper settings exist; but where the cost
    model knows none, no setting can meet it, ``P(cost <= budget)`` then rewards the cost
    model's uncertainty, not cheapness, and the pick goes to a corner of the space (seen
    on Acrobot: one budget in seven lay below every reachable cost)."""
    rng = streams.stream(seed, k, streams.COST_FLOOR)
    sample = np.vstack([rng.random((FLOOR_SAMPLE, dim)), X])
    m, _ = cost.gp.predict(sample)
    return float(np.min(m)) * cost.sd + cost.mu


def budget_of(log_c: np.ndarray, k: int, seed: int, expansion: float) -> float:
    """The log-cost budget of suggestion ``k``: stratified over the observed range ``log_c`` (n,).

    Suggestions come in blocks of ``N_STRATA + 1``: one budget drawn uniformly inside each
    of ``N_STRATA`` equal strata of the observed log-cost range widened by ``expansion`` at
    both ends (so the front grows toward cheaper and dearer runs), and one unbounded.
    """
    n = N_STRATA + 1
    order = streams.stream(seed, k // n, streams.BUDGET_ORDER).permutation(n)
    stratum = int(order[k % n])
    if stratum == N_STRATA:
        return math.inf
    lo, hi = float(log_c.min()), float(log_c.max())
    width = (hi - lo) * (1 + 2 * expansion)
    u = (stratum + streams.stream(seed, k, streams.BUDGET).random()) / N_STRATA
    return lo - expansion * (hi - lo) + u * width
