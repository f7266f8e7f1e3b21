"""The training benchmark's harness, tiny, so it cannot rot (the benchmark itself is never
a timed test): real trainers, 2 trials, 1 seed, tiny budgets."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks import training


BENCH = "the peers come with the bench extra: pip install -e '.[bench]'"


def test_a_tiny_run_of_each_kind_of_tuner_trains_and_records_every_trial(tmp_path, monkeypatch):
    pytest.importorskip("optuna", reason=BENCH)
    monkeypatch.setattr(training, "RUNS", tmp_path)
    monkeypatch.setattr(training, "FIGURES", tmp_path)  # never over the committed plots
    prob = training.PROBLEMS["digits"]
    for opt in ("protein+asha", "optuna_tpe+median"):
        run = training.run_one(prob, opt, 0, 2, overrides={"trainer.epochs": 1})
        assert [t["cost"] for t in run["trials"]] == [1437.0, 1437.0]  # one epoch of examples
        assert all(0 <= t["score"] <= 1 and len(t["curve"]) == 1 for t in run["trials"])
        p = training.path_of("cpu", "digits", opt, 0, 2)
        p.parent.mkdir(parents=True)
        p.write_text(json.dumps(run))
    text, fig = training.summarise(["digits"], ["protein+asha", "optuna_tpe+median"], 1, 2, "cpu")
    assert "| protein+asha | 1 |" in text and "| optuna_tpe+median | 1 |" in text
    assert fig["digits"]["protein+asha"]["total"] == 2 * 1437.0
    assert (tmp_path / "training_digits.png").read_bytes()[:4] == b"\x89PNG"


def test_a_loss_to_minimise_is_told_to_every_tuner_as_a_score_to_maximise(tmp_path, monkeypatch):
    monkeypatch.setattr(training, "RUNS", tmp_path)
    monkeypatch.setattr(training, "FIGURES", tmp_path)
    prob = training.PROBLEMS["tinylm"]
    run = training.run_one(prob, "protein", 0, 2, overrides={"trainer.tokens": 8192})
    assert run["sign"] == -1 and all(t["cost"] == 8192.0 for t in run["trials"])
    assert all(-3.6 < t["score"] < 0 and t["curve"][-1][1] == t["score"] for t in run["trials"])
    p = training.path_of("cpu", "tinylm", "protein", 0, 2)
    p.parent.mkdir(parents=True)
    p.write_text(json.dumps(run))
    text, fig = training.summarise(["tinylm"], ["protein"], 1, 2, "cpu")
    best = -max(t["score"] for t in run["trials"])
    assert f"| {best:.4g} |" in text and "scoring <= 1.85" in text  # shown as the loss it is


def test_dehb_sets_the_budget_to_its_fidelity_and_runs_on_the_bundled_trainers():
    pytest.importorskip("dehb", reason=BENCH)
    run = training.run_one(training.PROBLEMS["digits"], "dehb", 0, 3)
    epochs = [t["params"]["trainer.epochs"] for t in run["trials"]]
    assert all(isinstance(e, int) and 1 <= e <= 30 for e in epochs)
    assert [t["cost"] for t in run["trials"]] == [1437.0 * e for e in epochs]  # what it spent
    assert all(0 <= t["score"] <= 1 for t in run["trials"])


@pytest.mark.parametrize("problem", ["cartpole", "acrobot"])
def test_ppo_trials_cost_the_environment_steps_they_took(problem):
    run = training.run_one(training.PROBLEMS[problem], "random", 3, 2,
                           overrides={"trainer.total_timesteps": 4096, "trainer.num_envs": 16,
                                      "env.max_steps": 50})  # episodes end within a rollout
    assert [t["cost"] for t in run["trials"]] == [4096.0, 4096.0]
    assert all(t["curve"][-1][0] == 4096.0 for t in run["trials"])
    assert all(t["params"].keys() == training.PROBLEMS[problem].parameters.keys()
               for t in run["trials"])


def test_run_figures_count_cost_to_target_stops_and_checkpoints():
    prob = training.PROBLEMS["digits"]
    trial = lambda score, cost, stopped=False, last=None: {  # noqa: E731
        "score": score, "cost": cost, "stopped": stopped, "wall_s": 1.0, "ask_s": 0.1,
        "curve": [(cost, last if last is not None else score)]}
    run = {"wall_s": 5.0, "trials": [trial(0.9, 4e4), trial(0.5, 1e4, True, 0.995),
                                     trial(0.99, 3e4), trial(0.95, 2e5)]}
    f = training.run_figures(run, prob)
    assert f["to_target"] == 8e4  # the third trial, after 4e4 + 1e4 + 3e4
    assert f["best"] == 0.99 and f["stopped"] == 1 and f["total"] == 2.8e5
    assert f["beaten_by_stopped"]  # the stopped trial had reported 0.995 > 0.99
    assert f["at"][5e4] == 0.9 and f["at"][1e5] == 0.99 and f["at"][4e5] == 0.99
    never = training.run_figures({"wall_s": 1.0, "trials": [trial(0.5, 1e3)]}, prob)
    assert never["to_target"] == math.inf


def test_an_unknown_tuner_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown optimizer 'hyperopt'"):
        training.make_tuner("hyperopt", {}, 0)


def test_the_oracle_replay_stops_exactly_the_trials_that_end_below_the_front(tmp_path):
    from benchmarks.replay import replay_oracle

    trials = [  # maximise-oriented, as stored: (score, cost)
        (0.5, 100.0),  # first: no front yet
        (0.4, 200.0),  # below the front at its cost (0.5): stopped
        (0.6, 200.0),  # a new best
        (0.55, 50.0),  # nothing finished at 50 or less: no front, runs on
        (0.3, 400.0),  # below 0.6: stopped
    ]
    run = {"trials": [{"params": {}, "score": s, "cost": c, "stopped": False,
                       "curve": [[c / 2, s], [c, s]]} for s, c in trials]}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(run))
    out = replay_oracle(str(path), 0.1)
    assert [o["stop_at"] for o in out] == [None, 20.0, None, None, 40.0]
    assert [o["run_best"] for o in out] == [False, False, True, False, False]
    # with a margin it leaves the near misses: 0.4 is 0.1 below its front, 0.3 is 0.3 below
    assert [o["stop_at"] for o in replay_oracle(str(path), 0.1, 0.15)] == [None, None, None,
                                                                           None, 40.0]
