"""The bundled trainers: real training on tiny budgets, deterministic on CPU, and layered."""

from __future__ import annotations

import pytest

import json
import subprocess
import sys
from pathlib import Path

from trainers import cartpole, digits, tinylm
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
    (cartpole, {"trainer.total_timesteps": 1024, "trainer.num_steps": 16})])
def test_each_trainer_declares_exactly_the_keys_it_reads(module, budget, monkeypatch):
    import trainers.common as common

    read: list[str] = []
    real = common.get

    def spy(params, path, default):
        read.append(path)
        return real(params, path, default)

    monkeypatch.setattr(module, "get", spy)
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
