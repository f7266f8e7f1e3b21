"""The bundled trainers: real training on tiny budgets, deterministic on CPU, and layered."""

from __future__ import annotations

import pytest

import json
import subprocess
import sys
from pathlib import Path

from trainers import acrobot, cartpole, digits, ppo, tinylm
from trainers.common import parse_flags

ROOT = Path(__file__).parent.parent


def test_digits_learns_and_reports_each_epoch():
    reports = []
    out = digits.train({"trainer": {"epochs": 3, "learning_rate": 3e-3, "width": 64}},
                       seed=0, device="cpu", report=lambda s, v, c: reports.append((s, v)))
    assert out["score"] > 0.8 and out["cost"] == reports[-1][0]
    assert len(reports) == 3 and [s for s, _ in reports] == sorted(s for s, _ in reports)


def test_digits_is_deterministic_for_a_seed_and_stops_when_told():
    p = {"trainer": {"epochs": 2, "width": 32}}
    a = digits.train(p, seed=1, device="cpu")
    b = digits.train(p, seed=1, device="cpu")
    assert a["score"] == b["score"]
    stopped = digits.train({"trainer": {"epochs": 5}}, seed=0, device="cpu",
                           report=lambda s, v, c: True)
    assert stopped["epochs"] == 1 and stopped["stopped_early"]


def test_tinylm_learns_the_corpus_reports_its_tokens_and_is_deterministic():
    reports = []
    p = {"trainer": {"tokens": 8192, "width": 32, "depth": 1, "learning_rate": 1e-2}}
    out = tinylm.train(p, seed=0, device="cpu", report=lambda s, v, c: reports.append((s, v, c)))
    assert out["cost"] == 8192 == reports[-1][0] == reports[-1][2]  # cost: training tokens
    assert len(reports) == tinylm.REPORTS and reports[-1][1] == out["score"]
    assert out["score"] < reports[0][1] < 3.6  # it learns, from about ln 32 = 3.47
    assert tinylm.train(p, seed=0, device="cpu")["score"] == out["score"]
    stopped = tinylm.train(p, seed=0, device="cpu", report=lambda s, v, c: True)
    assert stopped["stopped_early"] and stopped["tokens"] < 8192
    with pytest.raises(ValueError, match="tinylm: invalid hyperparameters"):
        tinylm.train({"trainer": {"width": 30}}, device="cpu")  # not a multiple of the heads


def test_cartpole_ppo_runs_and_is_deterministic():
    p = {"trainer": {"total_timesteps": 4096, "num_envs": 32, "num_steps": 32,
                     "minibatch_size": 256, "update_epochs": 2}}
    a = cartpole.train(p, seed=0, device="cpu")
    b = cartpole.train(p, seed=0, device="cpu")
    assert a["score"] == b["score"] and a["env_steps"] == 4096 and a["cost"] == 4096
    assert a["episodes"] > 0 and 0 < a["score"] <= 500


def _book_derivative(s, torque):
    """Sutton & Barto's acrobot dynamics, written as the book (and Gymnasium) write them."""
    import math

    m1 = m2 = l1 = 1.0
    lc1 = lc2 = 0.5
    i1 = i2 = 1.0
    g = 9.8
    t1, t2, d1, d2 = s
    a = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * math.cos(t2)) + i1 + i2
    b = m2 * (lc2**2 + l1 * lc2 * math.cos(t2)) + i2
    phi2 = m2 * lc2 * g * math.cos(t1 + t2 - math.pi / 2)
    phi1 = (-m2 * l1 * lc2 * d2**2 * math.sin(t2) - 2 * m2 * l1 * lc2 * d2 * d1 * math.sin(t2)
            + (m1 * lc1 + m2 * l1) * g * math.cos(t1 - math.pi / 2) + phi2)
    dd2 = ((torque + b / a * phi1 - m2 * l1 * lc2 * d1**2 * math.sin(t2) - phi2)
           / (m2 * lc2**2 + i2 - b**2 / a))
    return [d1, d2, -(b * dd2 + phi1) / a, dd2]


def test_acrobot_follows_the_book_dynamics_and_ends_an_episode_when_the_end_swings_up():
    import numpy as np
    import torch

    env = acrobot.Acrobot(1, "cpu", torch.Generator().manual_seed(0))
    rng = np.random.default_rng(0)
    for _ in range(20):
        s = rng.uniform(-3, 3, 4)
        torque = float(rng.integers(-1, 2))
        mine = env._derivative(*[torch.tensor([x], dtype=torch.float64) for x in s],
                               torch.tensor([torque], dtype=torch.float64))
        assert [float(x[0]) for x in mine] == pytest.approx(_book_derivative(s, torque),
                                                            rel=1e-12, abs=1e-12)
    env.state[:] = torch.tensor([[0.05, 0.0, 0.0, 0.0]])  # hanging: -1 a step, not ended
    _, reward, terminal, (done, _) = env.step(torch.tensor([1]))
    assert float(reward[0]) == -1.0 and not bool(done[0]) and float(terminal[0]) == 0.0
    env.state[:] = torch.tensor([[3.1, 0.0, 0.0, 0.0]])  # both links up: the task is done
    _, reward, terminal, (done, finished) = env.step(torch.tensor([1]))
    assert float(reward[0]) == 0.0 and bool(done[0]) and float(terminal[0]) == 1.0
    assert finished.tolist() == [-1.0]  # its return: one step at -1 before the swing-up


def test_acrobot_ppo_is_deterministic_and_scores_the_worst_when_no_episode_ended():
    p = {"trainer": {"total_timesteps": 4096, "num_envs": 32, "num_steps": 32,
                     "minibatch_size": 256, "update_epochs": 2}, "env": {"max_steps": 40}}
    a = acrobot.train(p, seed=0, device="cpu")
    assert a == {**acrobot.train(p, seed=0, device="cpu"), "seconds": a["seconds"],
                 "steps_per_second": a["steps_per_second"]}
    assert a["cost"] == a["env_steps"] == 4096 and a["episodes"] > 0
    assert -40 <= a["score"] < 0
    short = acrobot.train({"trainer": {"total_timesteps": 512, "num_envs": 32,
                                       "num_steps": 16}}, seed=0, device="cpu")
    assert short["episodes"] == 0 and short["score"] == -500  # nobody swung up in 16 steps
    with pytest.raises(ValueError, match="acrobot: invalid hyperparameters"):
        acrobot.train({"trainer": {"num_envs": 0}}, device="cpu")


@pytest.mark.slow
def test_acrobot_learns_to_swing_up_with_good_settings():
    p = {"trainer": {"learning_rate": 3e-3, "num_envs": 32, "minibatch_size": 512,
                     "total_timesteps": 2**16}}
    out = acrobot.train(p, seed=0, device="cpu")
    assert out["score"] > -200  # swings up in well under half the episode's 500 steps


@pytest.mark.slow
def test_cartpole_learns_with_good_settings():
    out = cartpole.train({"trainer": {"total_timesteps": 2**15, "learning_rate": 3e-3,
                                      "num_envs": 64, "num_steps": 64, "minibatch_size": 512}},
                         seed=0, device="cpu")
    early = cartpole.train({"trainer": {"total_timesteps": 2**12, "learning_rate": 3e-3,
                                        "num_envs": 64, "num_steps": 64, "minibatch_size": 512}},
                           seed=0, device="cpu")
    assert out["score"] > 2 * early["score"]


@pytest.mark.slow
def test_script_mode_prints_a_final_json_line():
    r = subprocess.run([sys.executable, "-m", "trainers.digits", "--trainer.epochs=1",
                        "--trainer.width=16", "--seed=2", "--device=cpu"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert "step" in lines[0] and "score" in lines[-1] and "cost" in lines[-1]


def test_flag_parsing():
    params, opts = parse_flags(["--trainer.lr=0.001", "--trainer.use_lstm=true", "--seed=3",
                                "--env.name=single"])
    assert params == {"trainer": {"lr": 0.001, "use_lstm": True}, "env": {"name": "single"}}
    assert opts == {"seed": 3}


@pytest.mark.parametrize("module, budget", [
    (digits, {"trainer.epochs": 1}), (tinylm, {"trainer.tokens": 1024, "trainer.width": 16}),
    (cartpole, {"trainer.total_timesteps": 1024, "trainer.num_steps": 16}),
    (acrobot, {"trainer.total_timesteps": 1024, "trainer.num_steps": 16})])
def test_each_trainer_declares_exactly_the_keys_it_reads(module, budget, monkeypatch):
    import trainers.common as common

    read: list[str] = []
    real = common.get

    def spy(params, path, default):
        read.append(path)
        return real(params, path, default)

    monkeypatch.setattr(module, "get", spy)
    monkeypatch.setattr(ppo, "get", spy)  # the PPO trainers read their hyperparameters there
    module.train(budget, seed=0, device="cpu")
    assert set(read) == set(module.READS)


def test_cartpole_batch_size_sets_the_environments_of_a_rollout():
    p = {"trainer": {"total_timesteps": 2048, "num_steps": 32, "batch_size": 128,
                     "minibatch_size": 64, "update_epochs": 1}, "env": {"game": {"max_steps": 32}}}
    out = cartpole.train(p, seed=0, device="cpu")
    assert out["score"] <= 32  # Metta's env.game.max_steps caps an episode
    other = cartpole.train({**p, "trainer": {**p["trainer"], "batch_size": 32}}, seed=0,
                           device="cpu")
    assert other["score"] != out["score"]  # 1 environment instead of 4: another run
