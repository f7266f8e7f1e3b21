"""Seed workflows: dry runs, per-environment studies, TensorBoard, W&B from the runner."""

from __future__ import annotations

import pytest

import sys
import textwrap

from protein.study import Study

from _cli import protein

CONFIG = textwrap.dedent("""\
    rollout_count: 2
    num_samples: 1
    sweep:
      metric: score
      goal: maximize
      method: {method}
      parameters:
        trainer.learning_rate: {{distribution: log_normal, min: 1e-3, max: 3e-2}}
        trainer.width: {{values: [16, 32]}}
        trainer.epochs: {{distribution: int_uniform, min: 1, max: 3}}
      trainer: {{depth: 1}}
      env: {{name: single}}
    """)




def test_dry_run_validates_runs_one_cheap_trial_and_stores_nothing(tmp_path):
    (tmp_path / "s.yaml").write_text(CONFIG.format(method="grid"))
    r = protein("run", "s.yaml", "--trainer", "trainers.digits", "--dry-run", "--device", "cpu",
                cwd=tmp_path)
    assert "trainer.learning_rate" in r.stdout and "trials: 2" in r.stdout
    assert "grid: 30 points" in r.stdout
    assert "budget trainer.epochs=1" in r.stdout and "nothing was stored" in r.stdout
    assert not (tmp_path / "protein.db").exists() and not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_over_runs_one_study_per_value_and_compares_them(tmp_path):
    (tmp_path / "s.yaml").write_text(CONFIG.format(method="random"))
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""\
        import json, sys
        args = dict(a[2:].split("=", 1) for a in sys.argv[1:])
        bonus = {"single": 3, "double": 2, "triple": 1}[args["env.name"]]
        print(json.dumps({"score": bonus + float(args["trainer.learning_rate"])}))
        """))
    r = protein("run", "s.yaml", "--command", f"{sys.executable} {script}",
                "--over", "env.name=single,double,triple", cwd=tmp_path)
    for name, bonus in (("single", 3), ("double", 2), ("triple", 1)):
        s = Study.load(f"s-{name}", str(tmp_path / "protein.db"))
        assert len(s.complete()) == 2 and 0 < s.best().score - bonus < 1
        assert s.config.fixed["env"]["name"] == name
    assert "s-single" in r.stdout and "s-triple" in r.stdout


@pytest.mark.slow
def test_tensorboard_scalars_are_readable(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (tmp_path / "s.yaml").write_text(CONFIG.format(method="random"))
    protein("run", "s.yaml", "--trainer", "trainers.digits", "--device", "cpu",
            "--tensorboard", "tb", cwd=tmp_path)
    for trial in (0, 1):
        acc = EventAccumulator(str(tmp_path / "tb" / "s" / f"trial_{trial:04d}"))
        acc.Reload()
        values = [e.value for e in acc.Scalars("score")]
        final = acc.Scalars("final/score")
        assert values and len(final) == 1
        assert final[0].value == Study.load("s", str(tmp_path / "protein.db")).trial(trial).score
        # the HParams tab: the trial's params and its final score
        assert "_hparams_/session_start_info" in acc.PluginTagToContent("hparams")
        assert acc.Scalars("hparams/score")[0].value == final[0].value


@pytest.mark.slow
def test_runner_logs_each_trial_to_wandb_offline(tmp_path):
    (tmp_path / "s.yaml").write_text(CONFIG.format(method="random"))
    env = {"WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path), "WANDB_SILENT": "true"}
    protein("run", "s.yaml", "--trainer", "trainers.digits", "--device", "cpu",
            "--wandb-project", "p", cwd=tmp_path, env=env)
    assert len(list((tmp_path / "wandb").glob("offline-run-*"))) == 2


def test_smoothed_early_stopping_ignores_one_bad_evaluation(tmp_path):
    from protein.optimizer.early_stop import StopConfig, decide
    from protein.trial import Trial, TrialState

    done = [Trial(i, {}, TrialState.COMPLETE, 1.0, 1.0,
                  intermediate=tuple((s, 1.0) for s in range(1, 6))) for i in range(6)]
    noisy = [(1, 1.4), (2, 1.4), (3, 0.5)]  # one bad evaluation at step 3; mean 1.1
    assert decide(StopConfig("median", smooth=1), 1.0, noisy, done).stop is True
    assert decide(StopConfig("median", smooth=3), 1.0, noisy, done).stop is False
