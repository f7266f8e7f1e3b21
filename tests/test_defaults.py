"""The default paths give the right answer: seeds, fixed keys, metrics, goals, study names,
grids, repeats, threads, names and timestamps (issue "wrong results on default paths"; its
early-stopping tests live in test_early_stop.py). Each test failed before its fix."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
import yaml

from protein.config import load_config
from protein.errors import ConfigError
from protein.study import Study
from protein.trial import Trial, TrialState
from tests._cli import ROOT, protein


TRAIN = textwrap.dedent("""
    import json, os, sys
    args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
    lr = float(args["trainer.lr"])
    seed = int(args.get("seed", -1))
    env_seed = int(os.environ["PROTEIN_SEED"])
    assert seed == env_seed, (seed, env_seed)
    steps = int(args.get("max_steps", 10))
    for s in range(1, steps + 1):
        print(json.dumps({"step": s, "value": lr * s / steps}), flush=True)
    print(json.dumps({"reward": lr, "success_rate": lr / 2, "max_reward": lr * 2,
                      "seed_seen": seed, "device_seen": args.get("device")}))
""")


def _sweep(tmp_path, extra="", method="random", n=4):
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(textwrap.dedent(f"""
        sweep:
          metric: reward
          goal: maximize
          method: {method}
          max_trials: {n}
          parameters:
            trainer.lr: {{distribution: log_normal, min: 0.001, max: 1.0}}
          device: cpu
          max_steps: 10
        {extra}"""))
    (tmp_path / "train.py").write_text(TRAIN)
    return cfg


# -------------------------------------------------- 3, 4, 5: seeds, fixed keys, metrics
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


def test_seed_key_names_the_key_and_must_not_collide():
    base = {"goal": "maximize", "parameters": {"lr": {"distribution": "uniform", "min": 0, "max": 1}}}
    assert load_config({**base, "seed_key": "train.seed"}).seed_key == "train.seed"
    with pytest.raises(ConfigError, match="also a fixed override"):
        load_config({**base, "seed_key": "train.seed", "train": {"seed": 3}})
    with pytest.raises(ConfigError, match="searched parameter"):
        load_config({**base, "seed_key": "lr"})


def test_optimizer_setting_names_at_the_sweep_level_are_ambiguous():
    base = {"goal": "maximize", "parameters": {"lr": {"distribution": "uniform", "min": 0, "max": 1}}}
    with pytest.raises(ConfigError, match="ambiguous.*settings.num_random_samples.*trainer"):
        load_config({**base, "num_random_samples": 3})
    cfg = load_config({**base, "device": "cpu", "max_steps": 100})
    assert dict(cfg.fixed) == {"device": "cpu", "max_steps": 100}
    assert cfg.settings.device == "cpu"  # untouched by the fixed key


# --------------------------------------------------------------------- 6. goals
@pytest.mark.parametrize("metric, goal", [("mean_reward", "maximize"), ("val/loss", "minimize"),
                                          ("episodeReturn", "maximize"), ("perplexity", "minimize")])
def test_goal_is_inferred_only_from_clear_metric_names(metric, goal):
    doc = {"metric": metric, "parameters": {"x": {"distribution": "uniform", "min": 0, "max": 1}}}
    with pytest.warns(UserWarning, match="inferred from the metric's name"):
        assert load_config(doc).goal == goal


def test_an_unclear_metric_name_needs_a_goal():
    doc = {"metric": "reward_loss", "parameters": {"x": {"distribution": "uniform", "min": 0, "max": 1}}}
    with pytest.raises(ConfigError, match="does not say its direction"):
        load_config(doc)


def test_wandb_sweep_yaml(tmp_path):
    p = tmp_path / "wb.yaml"
    p.write_text(textwrap.dedent("""
        program: train.py
        method: bayes
        metric: {name: val_loss, goal: minimize}
        run_cap: 20
        early_terminate: {type: hyperband, min_iter: 3, eta: 2}
        parameters:
          lr: {distribution: log_uniform_values, min: 0.0001, max: 0.1}
          wd: {distribution: log_uniform, min: -9.21, max: -2.3}
          layers: {distribution: int_uniform, min: 1, max: 4}
          optimizer: {values: [adam, sgd]}
          epochs: {value: 5}
        project: my-proj
        """))
    cfg = load_config(p)
    d = cfg.space.to_dict()
    assert (cfg.method, cfg.metric, cfg.goal, cfg.max_trials) == ("protein", "val_loss", "minimize", 20)
    assert d["lr"]["distribution"] == "log_normal" and d["wd"]["min"] == pytest.approx(1e-4, rel=1e-3)
    assert d["optimizer"]["distribution"] == "categorical" and dict(cfg.fixed) == {"epochs": 5}
    assert cfg.extras["command"] == "python train.py" and cfg.extras["early_stop"] == "asha"
    assert cfg.extras["early_stop_grace"] == 3 and cfg.extras["wandb_project"] == "my-proj"
    bad = tmp_path / "bad.yaml"
    bad.write_text("metric: {name: loss, goal: minimize}\nparameters:\n  x: {distribution: normal, mu: 0, sigma: 1}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:3: parameters.x.distribution: W&B's 'normal'"):
        load_config(bad)


# ---------------------------------------------------------------- 7. study names
def test_one_study_name_rule(tmp_path):
    cfg = _sweep(tmp_path)
    r = protein("init", str(cfg), cwd=tmp_path)
    assert json.loads(r.stdout)["study"] == "sweep"
    r = protein("ask", cwd=tmp_path)
    assert "study 'sweep' (the only one" in r.stderr
    protein("init", str(cfg), "--study", "other", cwd=tmp_path)
    r = protein("ask", cwd=tmp_path, check=False)
    assert r.returncode == 2 and "choose one with --study" in r.stderr


# --------------------------------------------------------------------- 8. grids
@pytest.mark.slow
def test_grid_run_defaults_to_the_grid_and_ends_cleanly(tmp_path):
    cfg = tmp_path / "grid.yaml"
    cfg.write_text(textwrap.dedent("""
        sweep:
          metric: reward
          goal: maximize
          method: grid
          parameters:
            trainer.lr: {values: [0.01, 0.1]}
            hidden: {values: [[32, 32], [64, 64, 64]]}
        """))
    (tmp_path / "train.py").write_text(textwrap.dedent("""
        import argparse, json
        p = argparse.ArgumentParser()
        p.add_argument("--trainer.lr", type=float)
        p.add_argument("--hidden", type=int, nargs="+")
        p.add_argument("--seed", type=int)
        a = p.parse_args()
        print(json.dumps({"reward": getattr(a, "trainer.lr") * len(a.hidden)}))
        """))
    r = protein("run", str(cfg), "--command", f"{sys.executable} train.py", cwd=tmp_path)
    assert "4 trials, one per grid point" in r.stderr
    ts = Study.load("grid", str(tmp_path / "protein.db")).trials()
    assert sorted(t.score for t in ts) == pytest.approx([0.02, 0.03, 0.2, 0.3])
    r = protein("run", str(cfg), "--command", f"{sys.executable} train.py", "--max-trials", "6",
                cwd=tmp_path)
    assert "exhausted after 4 trials" in r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------------------ 9. no repeated points
@pytest.mark.slow
def test_a_small_discrete_space_is_never_repeated_then_exhausted():
    cfg = {"goal": "maximize", "settings": {"num_random_samples": 4},
           "parameters": {"a": {"values": ["x", "y", "z"]}, "b": {"values": [1, 2, 3]},
                          "c": {"values": [True, False]}}}
    study = Study(cfg, seed=0)
    seen = []
    for _ in range(18):
        t = study.ask()
        seen.append(tuple(sorted(t.params.items())))
        study.tell(t, float(t.params["b"]) + (t.params["a"] == "z"))
    assert len(set(seen)) == 18
    assert study.ask() is None and "every one of the 18 points" in study.exhausted


# -------------------------------------------------------------------- 10. threads
def test_suggest_runs_its_fits_on_the_configured_threads():
    import torch

    from protein.optimizer import models, suggest_single

    before = torch.get_num_threads()
    seen = []
    real = models.fit

    def spy(*a, **k):
        seen.append(torch.get_num_threads())
        return real(*a, **k)

    models.fit = spy
    try:
        cfg = load_config({"goal": "maximize", "settings": {"num_random_samples": 3, "threads": 1},
                           "parameters": {"x": {"distribution": "uniform", "min": 0, "max": 1}}})
        trials = [Trial(i, {"x": i / 5}, TrialState.COMPLETE, float(i), 1.0) for i in range(5)]
        suggest_single(cfg.space, trials, sign=1.0, settings=cfg.settings)
    finally:
        models.fit = real
    assert seen == [1] and torch.get_num_threads() == before


# ------------------------------------------------------------------- 12. smaller
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


def test_ray_address_without_a_cluster_is_one_clear_error(tmp_path):
    pytest.importorskip("ray")
    cfg = _sweep(tmp_path, n=1)
    r = protein("run", str(cfg), "--command", f"{sys.executable} train.py", "--executor", "ray",
                "--ray-address", "auto", cwd=tmp_path, check=False, real=True,
                env={"RAY_ADDRESS": ""})
    assert r.returncode == 2 and "no Ray cluster to join" in r.stderr
    assert "Traceback" not in r.stderr


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
