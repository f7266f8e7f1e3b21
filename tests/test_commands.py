"""What a command gets from a sweep and gives back: its seed (and the study seed's shift),
fixed keys, every metric it reports, floats without noise, its logs; the hints when it
refuses something; and verify's reruns of a trial."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
import yaml

from protein.config import load_config
from protein.study import Study
from protein.trial import TrialState
from tests._cli import ROOT, protein
from tests._sweeps import _sweep




@pytest.mark.slow
def test_command_gets_seed_fixed_keys_and_every_metric_is_kept(tmp_path):
    cfg = _sweep(tmp_path)
    r = protein("run", str(cfg), "--command", f"{sys.executable} train.py", cwd=tmp_path)
    assert "study 'sweep' (the config file's name" in r.stderr
    study = Study.load("sweep", str(tmp_path / "protein.db"))
    ts = study.trials()
    assert [t.state for t in ts] == [TrialState.COMPLETE] * 4, [t.info for t in ts]
    for t in ts:
        assert t.info["metrics"]["seed_seen"] == t.trial_id  # seed as --seed=N and env
        assert t.info["metrics"]["success_rate"] == pytest.approx(t.score / 2)
        assert t.info["cost_unit"] == "wall seconds"
        result = json.loads((tmp_path / f"runs/sweep/trial_{t.trial_id:04d}/result.json").read_text())
        assert result["device_seen"] == "cpu"  # a fixed key named like a setting reaches it
    table = protein("trials", "--format", "table", cwd=tmp_path).stdout
    assert "success_rate" in table and "max_reward" in table and "finished (UTC)" in table
    rows = json.loads(protein("trials", cwd=tmp_path).stdout)
    assert rows[0]["finished_at"].endswith("Z") and "T" in rows[0]["finished_at"]
    protein("report", "--out", "rep", "--no-plots", cwd=tmp_path)
    head = (tmp_path / "rep/results.csv").read_text().splitlines()[0]
    assert "success_rate" in head and "max_reward" in head
    top = json.loads((tmp_path / "rep/topk.json").read_text())
    assert "success_rate" in top[0]["metrics"]


def test_hydra_ask_keeps_fixed_keys(tmp_path):
    cfg = _sweep(tmp_path)
    protein("init", str(cfg), cwd=tmp_path)
    line = protein("ask", "--format", "hydra", cwd=tmp_path).stdout.split()
    assert "device=cpu" in line and "max_steps=10" in line and "seed=0" in line


@pytest.mark.slow
def test_verify_says_when_a_command_ignores_its_seed(tmp_path):
    cfg = _sweep(tmp_path, n=2)
    protein("run", str(cfg), "--command", f"{sys.executable} train.py", cwd=tmp_path)
    r = protein("verify", "--seeds", "2", cwd=tmp_path)
    out = json.loads(r.stdout)
    assert out["seed_ignored"] is True and "seems to ignore its seed" in r.stderr
    assert out["seed_values"] == [10000, 10001]


def test_floats_reach_commands_without_noise():
    from protein.output import param_args, short_names

    cfg = load_config({"goal": "maximize", "parameters": {
        "lr": {"distribution": "log_normal", "min": 1e-5, "max": 1e-1}}})
    params = cfg.space.decode(cfg.space.center)
    assert param_args(params, "flags") == ["--lr=0.001"]
    assert short_names(["policy.lr", "value.lr", "trainer.batch_size"]) == [
        "policy.lr", "value.lr", "batch_size"]


def test_trainer_trials_keep_stdout_and_stderr(tmp_path):
    (tmp_path / "noisy_trainer.py").write_text(textwrap.dedent("""
        import sys
        def train(params, seed=0, device=None, report=None):
            print("hello from the trainer")
            print("a warning", file=sys.stderr)
            return {"score": params["x"], "cost": 1.0}
        """))
    cfg = tmp_path / "t.yaml"
    cfg.write_text("sweep:\n  metric: score\n  goal: maximize\n  max_trials: 1\n  parameters:\n"
                   "    x: {distribution: uniform, min: 0, max: 1}\n")
    protein("run", str(cfg), "--trainer", "noisy_trainer", cwd=tmp_path,
            env={"PYTHONPATH": f"{tmp_path}:{ROOT}"})
    d = tmp_path / "runs/t/trial_0000"
    assert "hello from the trainer" in (d / "stdout.log").read_text()
    assert "a warning" in (d / "stderr.log").read_text()


@pytest.mark.slow
def test_verify_says_in_one_line_when_a_rerun_fails_or_its_record_is_damaged(tmp_path):
    cfg = _sweep(tmp_path, n=2)
    protein("run", str(cfg), "--command", f"{sys.executable} train.py", cwd=tmp_path)
    for body, says in [("import sys; sys.exit(3)", "the rerun failed: exit code 3"),
                       ("import time; time.sleep(30)", "the rerun failed: timeout after 1s"),
                       ('print(\'{"reward": NaN}\')', "not a finite number")]:
        (tmp_path / "bad.py").write_text(body)
        r = protein("verify", "--seeds", "2", "--command", f"{sys.executable} bad.py",
                    "--timeout", "1", cwd=tmp_path, check=False)
        assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
    run_json = tmp_path / "runs" / "sweep" / "run.json"
    run_json.write_text(run_json.read_text()[:20])  # truncated
    for cmd in (["verify", "--seeds", "2"], ["report", "--out", "rep", "--no-plots"]):
        r = protein(*cmd, cwd=tmp_path, check=False)
        assert r.returncode == 2 and "run.json: cannot read how the sweep was run" in r.stderr, \
            r.stderr


def test_hints_name_what_the_user_can_type(tmp_path):
    # the goal warning names goal:, as the README does, in the hyperparameter-list format
    doc = {"hyperparameters": {"lr": {"type": "loguniform", "min": 1e-4, "max": 1e-2}},
           "search": {"method": "bayesian", "optimization_metric": "mean_reward"}}
    p = tmp_path / "search.yaml"
    p.write_text(yaml.safe_dump(doc))
    with pytest.warns(UserWarning, match="search.goal not given.*set goal: maximize"):
        load_config(str(p))
    # a changed config under a study name in use points at the command that takes --force
    cfg = _sweep(tmp_path, n=1)
    protein("init", str(cfg), cwd=tmp_path)
    cfg.write_text(cfg.read_text().replace("max: 1.0", "max: 2.0"))
    r = protein("run", str(cfg), "--command", f"{sys.executable} train.py", cwd=tmp_path,
                check=False)
    assert r.returncode == 2 and f"protein init CONFIG --study {cfg.stem} --force" in r.stderr


def test_the_seed_hint_only_when_the_seed_was_refused(tmp_path):
    from protein.runner.execute import Failure, run_command
    from protein.runner.spec import RunSpec

    cfg = load_config({"goal": "maximize", "metric": "score", "parameters": {
        "lr": {"distribution": "uniform", "min": 0, "max": 1}}})
    script = tmp_path / "strict.py"
    script.write_text("import argparse\np = argparse.ArgumentParser()\n"
                      "p.add_argument('--seed', type=int)\np.parse_args()\n")
    spec = RunSpec(study="s", storage=":memory:", command=f"{sys.executable} {script}")
    with pytest.raises(Failure) as e:  # --lr is refused, --seed was accepted
        run_command(spec, cfg, 0, 0, {"lr": 0.5}, tmp_path, lambda *a: False)
    assert "unrecognized arguments: --lr" in str(e.value)
    assert "does not take the trial seed" not in str(e.value)
    script.write_text("import argparse\np = argparse.ArgumentParser()\n"
                      "p.add_argument('--lr', type=float)\np.parse_args()\n")
    with pytest.raises(Failure) as e:
        run_command(spec, cfg, 0, 0, {"lr": 0.5}, tmp_path, lambda *a: False)
    assert "does not take the trial seed as seed" in str(e.value)


def test_the_study_seed_shifts_every_trials_training_seed(tmp_path):
    cfg = _sweep(tmp_path, n=2)
    protein("run", str(cfg), "--command", f"{sys.executable} train.py", "--seed", "3",
            "--study", "shifted", cwd=tmp_path)
    ts = Study.load("shifted", str(tmp_path / "protein.db")).trials()
    assert [t.info["metrics"]["seed_seen"] for t in ts] == [3_000_000 + t.trial_id for t in ts]
    line = protein("ask", "--study", "shifted", "--format", "json", cwd=tmp_path).stdout
    assert json.loads(line)["seed"] == 3_000_002


@pytest.mark.slow
def test_verify_runs_seeds_at_once_with_a_value_overridden(tmp_path):
    cfg = _sweep(tmp_path, n=2)
    protein("run", str(cfg), "--command", f"{sys.executable} train.py", cwd=tmp_path)
    r = protein("verify", "--seeds", "3", "--workers", "2", "--set", "max_steps=77",
                "--set", "trainer.note=long run", cwd=tmp_path)
    out = json.loads(r.stdout)
    assert out["seed_values"] == [10000, 10001, 10002] and len(out["scores"]) == 3
    logs = list((tmp_path / "runs" / "verify").rglob("stdout.log"))
    assert len(logs) == 3  # the override reached each rerun: 77 progress lines, not 10
    assert all(p.read_text().count('"step"') == 77 for p in logs)
    r = protein("verify", "--seeds", "2", "--set", "nonsense", cwd=tmp_path, check=False)
    assert r.returncode == 2 and "expected PATH=VALUE" in r.stderr
