"""The learning-curve model and the curve rule (``auto``'s default): what it stops, what it
spares, why it says so, and where it does not judge."""

from __future__ import annotations

import math

import numpy as np
import pytest

from protein.config import load_config
from protein.optimizer.curves import Axis, fit_curves, front_at
from protein.optimizer.early_stop import StopConfig, decide, default_rule
from protein.optimizer.observations import observe
from protein.config.objectives import Objective
from protein.errors import ConfigError
from protein.runner.worker import spent_when_stopped
from protein.study import Study
from protein.trial import Report, Trial, TrialState

SPACE = {"goal": "maximize", "parameters": {
    "lr": {"distribution": "log_normal", "min": 1e-4, "max": 1e-1},
    "budget": {"distribution": "uniform_pow2", "min": 1024, "max": 16384}}}
CFG = load_config(SPACE)


def rising(final: float, budget: float, late: bool = False, points: int = 12) -> tuple:
    """A learning curve over ``budget`` steps that ends at ``final``: quick to rise, or
    (``late``) flat near 0.1 for 60% of the run, then climbing. Costs are the steps."""
    out = []
    for s in np.linspace(budget / points, budget, points):
        f = s / budget
        v = final * (1 - math.exp(-6 * f)) if not late else 0.1 + (final - 0.1) * max(
            0.0, (f - 0.6) / 0.4) ** 1.5
        out.append(Report(float(s), float(v), float(s)))
    return tuple(out)


def complete(i: int, lr: float, budget: int, final: float, late: bool = False) -> Trial:
    return Trial(i, {"lr": lr, "budget": budget}, TrialState.COMPLETE, final, float(budget),
                 {"cost_unit": "reported"}, intermediate=rising(final, budget, late))


def judge(history: tuple, others: list, params: dict, **cfg) -> list:
    """The verdict after each report of ``history``."""
    rule = StopConfig("auto", **cfg)
    return [decide(rule, 1.0, history[:k], others, params=params, space=CFG.space)
            for k in range(1, len(history) + 1)]


# quick risers of every budget; the best cheap one ends at 0.9
QUICK = [complete(i, lr, b, f) for i, (lr, b, f) in enumerate(
    [(1e-3, 1024, 0.62), (3e-3, 2048, 0.9), (1e-2, 4096, 0.8), (3e-4, 8192, 0.55),
     (2e-2, 16384, 0.7), (5e-4, 4096, 0.6)])]


def test_a_flat_bad_curve_is_stopped_early_and_says_why():
    params = {"lr": 1e-4, "budget": 16384}
    flat = tuple(Report(s.step, 0.05, s.cost) for s in rising(0.05, 16384))
    verdicts = judge(flat, QUICK, params)
    first = next(i for i, v in enumerate(verdicts) if v.stop)
    assert flat[first].step <= 0.35 * 16384  # stopped within the first third of its budget
    why = verdicts[first]
    assert why.rule == "curve" and why.info["p_front"] < 0.05
    assert why.info["front"] == pytest.approx(0.9)  # the best run that spent no more
    assert why.info["predicted_final"] < 0.9 and why.info["budget"] >= flat[first].cost


def test_a_curve_that_rises_late_like_its_neighbours_is_not_stopped():
    # in this study good settings start slowly: flat for 60% of the run, then best of all
    late = [complete(10 + i, lr, b, f, late=True) for i, (lr, b, f) in enumerate(
        [(2e-2, 8192, 0.97), (3e-2, 16384, 0.98), (5e-2, 8192, 0.96), (4e-2, 16384, 0.99)])]
    params = {"lr": 3.5e-2, "budget": 16384}
    history = rising(0.99, 16384, late=True)
    verdicts = judge(history, QUICK + late, params)
    assert not any(v.stop for v in verdicts), [(v.rule, v.info.get("p_front")) for v in verdicts]
    assert any(v.rule == "curve" and "p_front" in v.info for v in verdicts)  # it did judge


def test_the_prediction_is_a_function_of_the_data_alone():
    params = {"lr": 1e-3, "budget": 8192}
    history = rising(0.5, 8192)[:5]
    a = decide(StopConfig("curve"), 1.0, history, QUICK, params=params, space=CFG.space)
    b = decide(StopConfig("curve"), 1.0, history, list(QUICK), params=dict(params),
               space=CFG.space)
    assert a.info and a.info == b.info and a.stop == b.stop
    fitted, axis = fit_curves(QUICK, CFG.space, 1.0)
    assert axis.unit == "cost"
    u = CFG.space.encode(params)
    assert fitted.predict(u, 8192.0) == fit_curves(QUICK, CFG.space, 1.0)[0].predict(u, 8192.0)


def test_the_curve_rule_waits_for_three_curves_and_judges_by_step_without_spends():
    params = {"lr": 1e-4, "budget": 16384}
    flat = tuple(Report(s.step, 0.05, s.cost) for s in rising(0.05, 16384))
    assert {v.rule for v in judge(flat, QUICK[:2], params)} == {"none"}
    # reports without their spend, in a study whose costs are not the steps: judged by step
    others = [Trial(t.trial_id, t.params, t.state, t.score, 3.0 * t.cost, t.info,
                    tuple(Report(r.step, r.value) for r in t.intermediate)) for t in QUICK]
    bare = tuple(Report(r.step, r.value) for r in flat)
    assert Axis.of(others) == Axis("step")  # steps are comparable across trials, spends not
    stopped = next(v for v in judge(bare, others, params) if v.stop)
    assert stopped.info["spend_axis"] == "step" and stopped.info["front"] == pytest.approx(0.9)


def test_wall_seconds_are_never_the_spend_axis():
    wall = [Trial(t.trial_id, t.params, t.state, t.score, 5.0 + t.trial_id,
                  {"cost_unit": "wall seconds"}, tuple(Report(r.step, r.value) for r in
                                                        t.intermediate)) for t in QUICK]
    assert Axis.of(wall) == Axis("step")
    assert front_at(wall, Axis("step"), 1.0, 2048.0) == pytest.approx(0.9)


def test_random_and_grid_sweeps_run_every_point_in_full_by_default():
    assert default_rule("auto", "random") == "none" == default_rule("auto", "grid")
    assert default_rule("auto", "protein") == "auto"
    assert default_rule("median", "random") == "median"  # asked for: kept
    study = Study({**SPACE, "method": "random"})
    t = study.ask()
    study.report(t, 1.0, 0.0, cost=1.0)
    assert study.should_stop(t).rule == "none"


def test_a_stopped_trial_costs_what_it_spent_in_the_unit_of_the_study():
    history = [Report(100.0, 0.1), Report(200.0, 0.2)]
    assert spent_when_stopped([*history[:1], Report(200.0, 0.2, 777.0)], QUICK, 3.0) == \
        (777.0, "reported")
    step_costs = [Trial(i, {}, TrialState.COMPLETE, 0.5, 1000.0, {},
                        (Report(500.0, 0.3), Report(1000.0, 0.5))) for i in range(3)]
    assert spent_when_stopped(history, step_costs, 3.0) == (200.0, "reported")
    examples = [Trial(i, {}, TrialState.COMPLETE, 0.5, 64000.0, {},
                      (Report(500.0, 0.3), Report(1000.0, 0.5))) for i in range(3)]
    assert spent_when_stopped(history, examples, 3.0) == (12800.0, "estimated from the step")
    wall = [Trial(0, {}, TrialState.COMPLETE, 0.5, 9.0, {"cost_unit": "wall seconds"})]
    assert spent_when_stopped(history, wall, 3.0) == (3.0, "wall seconds")


def test_a_stopped_run_does_not_teach_the_cost_model_that_its_params_are_cheap():
    study = Study(SPACE)
    trials = [*QUICK, Trial(9, {"lr": 1e-4, "budget": 16384}, TrialState.PRUNED, 0.05, 1500.0)]
    obs = observe(study.space, trials, (Objective("score", "maximize"),))
    assert len(obs) == 7 and list(obs.full) == [True] * 6 + [False]
    assert 6 not in set(obs.costed)  # the model of cost, budgets and the front skip it
    assert obs.y[6] == 0.05  # no prediction stored: its last value
    judged = Trial(9, {"lr": 1e-4, "budget": 16384}, TrialState.PRUNED, 0.05, 1500.0,
                   {"early_stop": {"rule": "curve", "predicted_final": 0.3}})
    assert observe(study.space, [*QUICK, judged], (Objective("score", "maximize"),)).y[6] == 0.3


# ------------------------------------------------ the quantile-line (protein) rule
def _curve(final: float, tau: float, steps: int = 10) -> tuple:
    """A learning curve rising to ``final`` with time constant ``tau`` (in steps)."""
    return tuple((float(s), final * (1 - math.exp(-s / tau))) for s in range(1, steps + 1))


def _spent(curve: tuple, cost: float) -> tuple:
    """``curve`` whose last report says it has spent ``cost`` (the unit of the costs)."""
    *head, (step, value) = curve
    return (*head, (step, value, cost))


def _complete(i: int, final: float, cost: float, tau: float = 1.0, unit: str = "wall seconds"):
    return Trial(i, {}, TrialState.COMPLETE, final, cost, {"cost_unit": unit},
                 intermediate=_curve(final, tau))


def test_protein_rule_judges_in_the_cost_unit_and_spares_a_slow_starter():
    # 12 finished runs of equal budget (10 steps, ~30 s each); the best one starts slowly
    done = [_complete(i, 0.6 + 0.02 * i, 30.0 + i) for i in range(12)]
    slow = _curve(0.95, tau=6.0)
    for k in range(1, len(slow) + 1):
        seconds = 3.0 * k  # what it has spent, in the unit of the recorded costs
        for rule in ("auto", "protein"):
            v = decide(StopConfig(rule), 1.0, _spent(slow[:k], seconds), done)
            assert not v.stop, (k, rule, v.rule)
    # step 1 is never read as 1 second (the old bug compared steps with seconds)
    assert decide(StopConfig("protein", grace=0), 1.0, slow[:1], done).stop is False


def test_protein_rule_stops_a_hopeless_run_once_it_has_spent_enough():
    done = [_complete(i, 0.5 + 0.4 * math.log(c) / math.log(100), c)
            for i, c in enumerate([1, 2, 3, 5, 8, 13, 20, 30, 50, 70, 100, 100])]
    flat = tuple((float(s), 0.01) for s in range(1, 8))
    assert decide(StopConfig("protein", grace=0), 1.0, _spent(flat[:1], 5.0), done).stop is False
    v = decide(StopConfig("protein", grace=0), 1.0, _spent(flat, 60.0), done)
    assert v.stop and v.rule == "protein"


def test_protein_rule_cannot_judge_without_a_cost_unit():
    done = [_complete(i, 0.5 + 0.03 * i, 10.0 * (i + 1), unit="reported") for i in range(12)]
    flat = tuple((float(s), 0.0) for s in range(1, 9))
    v = decide(StopConfig("protein", grace=0), 1.0, flat, done)
    assert (v.stop, v.rule) == (False, "protein (cannot judge yet)")


# ---------------------------------------------------------- 2. median, ASHA, last step
def test_rules_never_stop_in_the_grace_period_or_at_the_last_step():
    done = [_complete(i, 1.0, 10.0) for i in range(8)]
    bad = tuple((float(s), 0.0) for s in range(1, 11))
    for rule in ("median", "asha"):
        assert decide(StopConfig(rule), 1.0, bad[:2], done).rule == "grace"
        assert decide(StopConfig(rule), 1.0, bad, done).rule == "last step"
        assert decide(StopConfig(rule), 1.0, bad[:5], done).stop is True
    # nothing is known of the budget before a trial completes: nothing stops
    assert decide(StopConfig("asha"), 1.0, bad[:5], []).stop is False


def test_median_waits_for_its_startup_trials():
    done = [_complete(i, 1.0, 10.0) for i in range(3)]
    bad = tuple((float(s), 0.0) for s in range(1, 6))
    assert decide(StopConfig("median", min_trials=5), 1.0, bad, done).stop is False
    assert decide(StopConfig("median", min_trials=3), 1.0, bad, done).stop is True


def test_asha_keeps_the_top_third_at_a_rung():
    peers = [_complete(i, 0.1 * (i + 1), 10.0) for i in range(8)]
    cfg = StopConfig("asha", grace=3, reduction_factor=3)
    top = tuple((float(s), 0.9 * (1 - math.exp(-s))) for s in range(1, 4))
    low = tuple((float(s), 0.15 * (1 - math.exp(-s))) for s in range(1, 4))
    assert decide(cfg, 1.0, top, peers).stop is False
    assert decide(cfg, 1.0, low, peers).stop is True


def test_bad_stop_settings_are_errors():
    with pytest.raises(ConfigError, match="reduction_factor must be a number > 1"):
        StopConfig("asha", reduction_factor=1)
    with pytest.raises(ConfigError, match="unknown rule"):
        StopConfig("hyperband")


def noisy_runs(offset_sd: float, n: int = 8, seed: int = 0) -> list[Trial]:
    """Runs of nearby params whose curves share a shape but each sit at an offset of their
    own (sd ``offset_sd``): seeds that differ, as RL returns do."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        off = float(rng.normal(0, offset_sd))
        reports = tuple(Report(r.step, r.value + off, r.cost) for r in rising(0.6, 8192))
        out.append(Trial(i, {"lr": 1e-3 * (1 + 0.01 * i), "budget": 8192}, TrialState.COMPLETE,
                         reports[-1].value, 8192.0, {}, intermediate=reports))
    return out


def test_runs_that_differ_by_seed_get_a_run_effect_and_a_run_is_judged_by_its_own_reports():
    from protein.optimizer.curves import RunKernel

    smooth, _ = fit_curves(noisy_runs(0.0), CFG.space, 1.0)
    assert not isinstance(smooth.gp.kernel, RunKernel)  # one curve explains them all
    model, _ = fit_curves(noisy_runs(0.15), CFG.space, 1.0)
    assert isinstance(model.gp.kernel, RunKernel) and model.gp.kernel.s2 > 0
    # a run of the same params that reported high early is predicted higher than a new run,
    # and a new run's final stays uncertain by about the spread of the offsets
    high = Trial(99, {"lr": 1.04e-3, "budget": 8192}, TrialState.RUNNING,
                 intermediate=tuple(Report(r.step, r.value + 0.3, r.cost)
                                    for r in rising(0.6, 8192)[:4]))
    model, _ = fit_curves([*noisy_runs(0.15), high], CFG.space, 1.0)
    u = CFG.space.encode(high.params)
    mine, new = model.predict(u, 8192.0, run=99), model.predict(u, 8192.0)
    assert mine.mean > new.mean + 0.1
    assert new.sd > 0.08
