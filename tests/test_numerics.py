"""The optimizer's pieces on tiny arrays: surrogate, acquisition terms, candidates,
observations, search and budgets. Fast and exact where a closed form exists."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from protein.config import load_config
from protein.config.objectives import Constraint, Objective
from protein.errors import SearchExhausted
from protein.optimizer import candidates
from protein.optimizer.acquisition import (Acquisition, Below, LogEI, Satisfied, log_ei,
                                           log_prob_below)
from protein.optimizer.observations import key, observe
from protein.optimizer.search import neighbours, untried
from protein.optimizer.single import N_STRATA, budget_of
from protein.optimizer.surrogate import DTYPE, GP
from protein.trial import Trial, TrialState


def _gp(n: int = 12) -> tuple[GP, np.ndarray]:
    X = np.linspace(0, 1, n)[:, None]
    z = np.sin(6 * X[:, 0])
    return GP.fit(X, (z - z.mean()) / z.std()), X


# ------------------------------------------------------------------- surrogate
def test_gp_interpolates_and_is_unsure_away_from_data():
    gp, X = _gp()
    m, s = gp.predict(X)
    z = np.sin(6 * X[:, 0])
    assert np.allclose(m, (z - z.mean()) / z.std(), atol=0.1)
    _, far = gp.predict(np.array([[3.0]]))
    assert far[0] > 5 * s.max()


def test_gp_fantasy_points_shrink_the_std_there():
    gp, _ = _gp(6)
    x = np.array([[0.55]])
    m, s = gp.predict(x)
    m2, s2 = gp.with_points(x, m).predict(x)
    assert s2[0] < s[0] and m2[0] == pytest.approx(m[0], abs=1e-6)


def test_gp_posterior_is_differentiable_and_matches_predict():
    gp, _ = _gp()
    U = torch.tensor([[0.3], [0.7]], dtype=DTYPE, requires_grad=True)
    mean, std = gp.posterior(U)
    (mean.sum() + std.sum()).backward()
    assert U.grad is not None and torch.isfinite(U.grad).all()
    m, s = gp.predict(U.detach().numpy())
    assert np.allclose(mean.detach().numpy(), m) and np.allclose(std.detach().numpy(), s)


# ----------------------------------------------------------------- acquisition
@pytest.mark.parametrize("mu,sd,best", [(0.0, 1.0, 0.5), (2.0, 0.3, 0.1), (-8.0, 0.5, 1.0)])
def test_log_ei_matches_the_closed_form(mu, sd, best):
    u = (mu - best) / sd
    ei = sd * (stats.norm.pdf(u) + u * stats.norm.cdf(u))
    got = log_ei(torch.tensor([mu], dtype=DTYPE), torch.tensor([sd], dtype=DTYPE), best)
    assert float(got[0]) == pytest.approx(math.log(ei), rel=1e-6)


def test_log_ei_stays_finite_far_below_the_incumbent():
    got = log_ei(torch.tensor([-60.0], dtype=DTYPE), torch.tensor([1.0], dtype=DTYPE), 0.0)
    assert torch.isfinite(got).all() and float(got[0]) < -1000


def test_log_prob_below_is_the_normal_log_cdf():
    got = log_prob_below(torch.tensor([0.2, -1.0], dtype=DTYPE),
                         torch.tensor([0.5, 2.0], dtype=DTYPE), 0.7)
    want = stats.norm.logcdf((0.7 - np.array([0.2, -1.0])) / np.array([0.5, 2.0]))
    assert np.allclose(got.numpy(), want)


def test_an_acquisition_is_the_sum_of_its_terms_on_tensors_and_arrays():
    gp, _ = _gp()
    terms = (LogEI(gp, 0.5), Below(gp, 0.0), Satisfied(gp))
    acq = Acquisition(terms, gp.device, chunk=3)
    U = np.linspace(0, 1, 7)[:, None]
    T = torch.as_tensor(U, dtype=DTYPE)
    want = sum(t(T) for t in terms).detach().numpy()
    assert np.allclose(acq.rate(U), want)  # chunked in threes
    assert np.allclose(acq(T).detach().numpy(), want)
    assert np.all(Acquisition((), gp.device).rate(U) == 0.0)


# ------------------------------------------------------------------ candidates
def test_sobol_points_are_in_the_cube_and_fixed_by_the_seed():
    a = candidates.sobol(3, 8, 7)
    assert a.shape == (8, 3) and ((a >= 0) & (a <= 1)).all()
    assert np.array_equal(a, candidates.sobol(3, 8, 7))
    assert np.array_equal(candidates.sobol(3, 4, 7, skip=4), a[4:])


def test_local_candidates_reflect_at_the_bounds_and_keep_their_radius():
    rng = np.random.default_rng(0)
    C = np.array([[0.0, 1.0], [0.5, 0.5]])
    U = candidates.around(C, np.array([0.2, 0.1]), 500, rng)
    assert U.shape == (1000, 2) and ((U >= 0) & (U <= 1)).all()
    near = U[500:]
    reach = np.abs(near - 0.5).max(axis=0)  # radius x a log-uniform multiplier in [0.03, 1]
    assert (reach <= [0.2, 0.1]).all() and (reach > [0.1, 0.05]).all()
    assert np.median(np.abs(near - 0.5)) < 0.05  # fine moves as well as coarse ones
    assert np.array_equal(candidates.reflect(np.array([-0.25, 1.25, 0.5])), [0.25, 0.75, 0.5])


# ---------------------------------------------------------------- observations
SPACE = load_config({"goal": "minimize", "parameters": {
    "x": {"distribution": "uniform", "min": 0, "max": 1},
    "n": {"distribution": "int_uniform", "min": 1, "max": 3}}}).space


def test_observations_split_states_orient_scores_and_default_the_cost():
    trials = [
        Trial(0, {"x": 0.1, "n": 1}, TrialState.COMPLETE, 2.0, 4.0),
        Trial(1, {"x": 0.2, "n": 2}, TrialState.PRUNED, 5.0, None),
        Trial(2, {"x": 0.3, "n": 3}, TrialState.FAILED),
        Trial(3, {"x": 0.4, "n": 1}, TrialState.RUNNING),
        Trial(4, {"x": 7.0, "n": 1}, TrialState.COMPLETE, 1.0, 1.0),  # outside the space
        Trial(5, {"x": 0.5, "n": 1}, TrialState.COMPLETE, float("nan"), 1.0),
    ]
    obs = observe(SPACE, trials, (Objective("loss", "minimize"),))
    assert obs.Y[:, 0].tolist() == [-2.0, -5.0]
    assert np.allclose(obs.log_c, [math.log(4.0), 0.0])
    assert len(obs.X_failed) == 1 and len(obs.X_pending) == 1 and obs.S.shape == (2, 0)
    assert len(obs.taken()) == 4 and key(obs.X[0]) in obs.taken()
    more = obs.with_pending(np.array([[0.9, 0.5]]))
    assert len(more.X_pending) == 2 and len(obs.X_pending) == 1


def test_observations_read_every_metric_and_slack_from_the_values():
    t = Trial(0, {"x": 0.1, "n": 1}, TrialState.COMPLETE, 0.9, 1.0,
              info={"values": {"acc": 0.9, "mem": 30.0}})
    obs = observe(SPACE, [t, Trial(1, {"x": 0.2, "n": 1}, TrialState.COMPLETE, 0.5, 1.0)],
                  (Objective("acc", "maximize"),), (Constraint("mem", "<=", 40.0),))
    assert obs.Y.tolist() == [[0.9]] and obs.S.tolist() == [[10.0]]  # trial 1 has no mem


def test_limited_observations_keep_the_best_quarter_and_the_most_recent():
    trials = [Trial(i, {"x": i / 40, "n": 1}, TrialState.COMPLETE, float(i % 10), 1.0)
              for i in range(40)]
    obs = observe(SPACE, trials, (Objective("s", "maximize"),)).limited(8)
    assert len(obs) == 8 and obs.y.max() == 9.0
    assert obs.X[-1, 0] == pytest.approx(39 / 40)


# ---------------------------------------------------------------------- search
def test_neighbour_search_moves_ordered_coordinates_by_growing_steps():
    space = load_config({"goal": "maximize", "parameters": {
        "n": {"distribution": "int_uniform", "min": 1, "max": 10}}}).space
    u = space.snap(np.array([[0.05]]))[0]
    best = neighbours(space, u, np.array([True]), lambda U: U[:, 0])
    assert space.decode(best)["n"] == 10  # 8 cells, then 1: two rounds, not nine


def test_neighbour_search_finds_a_planted_choice_at_the_end_of_a_long_list():
    choices = [f"c{i}" for i in range(12)]
    space = load_config({"goal": "maximize", "parameters": {
        "opt": {"values": choices},
        "n": {"distribution": "int_uniform", "min": 1, "max": 5}}}).space
    target = space.encode({"opt": "c11", "n": 3})
    calls = []

    def rate(U):
        calls.append(len(U))
        return -np.abs(U - target).sum(axis=1)

    best = neighbours(space, space.encode({"opt": "c0", "n": 3}), np.array([True, True]), rate)
    assert space.decode(best) == {"opt": "c11", "n": 3} and len(calls) == 2  # found, then confirmed


def test_untried_finds_the_last_free_point_then_says_the_space_is_done():
    space = load_config({"goal": "maximize", "parameters": {"c": {"values": ["a", "b"]}}}).space
    a = space.encode({"c": "a"})
    rng = np.random.default_rng(0)
    u = untried(space, {key(a)}, rng, lambda U: np.zeros(len(U)))
    assert space.decode(u) == {"c": "b"}
    with pytest.raises(SearchExhausted, match="every one of the 2 points"):
        untried(space, {key(a), key(u)}, rng, lambda U: np.zeros(len(U)))


# --------------------------------------------------------------------- budgets
def test_budgets_cover_every_stratum_once_per_block_and_one_is_unbounded():
    log_c = np.log([1.0, 100.0])
    block = [budget_of(log_c, k, seed=3, expansion=0.25) for k in range(N_STRATA + 1)]
    finite = sorted(b for b in block if math.isfinite(b))
    assert len(finite) == N_STRATA
    lo, width = -0.25 * log_c[1], 1.5 * log_c[1]
    strata = [int((b - lo) / width * N_STRATA) for b in finite]
    assert strata == list(range(N_STRATA))
    assert block == [budget_of(log_c, k, seed=3, expansion=0.25) for k in range(N_STRATA + 1)]


# -------------------------------------------------------------- categoricals
CAT = load_config({"goal": "maximize", "parameters": {
    "opt": {"values": ["sgd", "adam", "rmsprop", "lion"]},
    "x": {"distribution": "uniform", "min": 0, "max": 1},
    "mom": {"distribution": "uniform", "min": 0, "max": 1, "when": {"opt": "sgd"}}}}).space


def _cat_gp() -> GP:
    from protein.optimizer.models import categorical

    rng = np.random.default_rng(0)
    X = CAT.snap(rng.random((12, 3)))
    return GP.fit(X, rng.normal(size=12), cat=categorical(CAT))


def test_unordered_choices_are_all_equally_far_apart():
    gp = _cat_gp()
    P = CAT.encode_many([{"opt": c, "x": 0.5} for c in ("adam", "rmsprop", "lion")]
                        + [{"opt": "sgd", "x": 0.5, "mom": 0.3}])
    P[:, 2] = 0.3  # the same momentum column everywhere: only the choice differs
    K = gp.covariance(P, P)
    off = K[~np.eye(4, dtype=bool)]
    assert np.allclose(off, off[0]) and off[0] < K[0, 0]


def test_an_inactive_parameter_never_makes_two_points_differ():
    a = CAT.encode({"opt": "adam", "x": 0.2})
    U = np.array([a, a])
    U[1, 2] = 0.9  # junk in the inactive momentum column
    S = CAT.snap(U)
    assert np.array_equal(S[0], S[1])
    gp = _cat_gp()
    m, s = gp.predict(S)
    # the same point: equal to the last bits a matrix product may round differently per row
    assert m[0] == pytest.approx(m[1], rel=1e-12) and s[0] == pytest.approx(s[1], rel=1e-12)


def test_numeric_choices_are_ordered_unless_told_otherwise():
    from distributions import from_config

    assert from_config("b", {"values": [16, 32, 64]}).is_ordered
    assert not from_config("o", {"values": ["adam", "sgd"]}).is_ordered
    assert not from_config("b", {"values": [16, 32, 64], "ordered": False}).is_ordered
    assert from_config("o", {"values": ["s", "m", "l"], "ordered": True}).is_ordered
    d = from_config("o", {"values": ["s", "m", "l"], "ordered": True})
    again = from_config("o", d.to_dict())
    assert again.is_ordered and again.to_dict() == d.to_dict()
    assert list(CAT.unordered) == [True, False, False]


def test_a_categorical_suggestion_is_deterministic():
    from protein.optimizer import suggest_single as suggest

    cfg = load_config({"goal": "maximize", "settings": {"num_random_samples": 4},
                       "parameters": {"opt": {"values": ["sgd", "adam", "rmsprop", "lion"]},
                                      "x": {"distribution": "uniform", "min": 0, "max": 1}}})
    trials = [Trial(i, p, TrialState.COMPLETE, float(p["opt"] == "lion") + p["x"], 1.0)
              for i, p in enumerate(cfg.space.decode_many(cfg.space.snap(
                  np.random.default_rng(1).random((8, 2)))))]
    a = suggest(cfg.space, trials, sign=1.0, settings=cfg.settings, seed=5)
    b = suggest(cfg.space, trials, sign=1.0, settings=cfg.settings, seed=5)
    assert a == b and a[0].params["opt"] == "lion"


@pytest.mark.parametrize("cat", [(), ((1, 4),), ((0, 3), (2, 5)), ((0, 3), (1, 2), (2, 5))])
def test_the_dense_kernel_and_loss_are_gpytorchs(cat):
    """The fit and the predictions use a dense kernel and marginal likelihood of our own (for
    speed); at any hyperparameters they must equal GPyTorch's modules and its exact MLL."""
    from botorch.models import SingleTaskGP
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from protein.optimizer.surrogate import Kernel, _codes, _columns, _kernel, _loss, _weights

    rng = np.random.default_rng(3)
    d, n = 4, 30
    X = _codes(torch.as_tensor(rng.random((n, d)), dtype=DTYPE), cat)
    z = torch.as_tensor(rng.normal(size=n), dtype=DTYPE)
    kernel, matern, ham = _kernel(d, cat)
    model = SingleTaskGP(X, z.unsqueeze(-1), outcome_transform=None, covar_module=kernel)
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    with torch.no_grad():
        for p in model.parameters():  # away from the initial values, where a bug could hide
            p.add_(torch.as_tensor(rng.normal(scale=0.7, size=tuple(p.shape)), dtype=DTYPE))
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    theirs_t = -mll(model(X), z)
    theirs = float(theirs_t.detach())
    their_grad = torch.autograd.grad(theirs_t, params)
    ours_t = _loss(model, matern, ham, X, z, cat)()
    ours = float(ours_t.detach())
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-9)
    # the fit follows our closed-form gradients: they must be GPyTorch's autograd ones
    for mine, their in zip(torch.autograd.grad(ours_t, params), their_grad):
        assert torch.allclose(mine, their, rtol=1e-7, atol=1e-10)

    k = Kernel(*_columns(d, cat), *(t.detach() for t in _weights(matern, ham, X)))
    A = _codes(torch.as_tensor(rng.random((7, d)), dtype=DTYPE), cat)
    with torch.no_grad():
        expected = kernel(A, X).to_dense()
    assert torch.allclose(k(A, X), expected, rtol=1e-9, atol=1e-12)
    assert torch.allclose(torch.diagonal(k(A, A)), torch.ones(7, dtype=DTYPE))
    # the search differentiates the kernel in its first argument, at observed points too
    B = torch.cat([A, X[:3]]).requires_grad_()
    k(B, X).sum().backward()
    assert torch.isfinite(B.grad).all()
