"""Sweep configs in every format load into one validated object; errors say where and how."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from _cli import Result, protein
from _sweeps import _sweep

from protein.config import load_config
from protein.errors import ConfigError
from protein.config.settings import ProteinWarning

EXAMPLES = Path(__file__).parent.parent / "examples"


def write(tmp_path: Path, text: str, name: str = "sweep.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_metta_sweep_yaml(tmp_path):
    cfg = load_config(EXAMPLES / "metta_sweep.yaml")
    assert (cfg.goal, cfg.metric, cfg.method) == ("maximize", "reward", "protein")
    assert cfg.max_trials == 10
    assert cfg.fixed["trainer"]["total_timesteps"] == 50000
    assert cfg.fixed["env"]["game"]["max_steps"] == 64
    assert cfg.space.dists["trainer.batch_size"].kind == "uniform_pow2"
    assert "trainer.lstm_hidden_size" in cfg.space.conditions
    assert cfg.settings.num_random_samples == 5


def test_root_overrides_are_an_error_that_says_where_to_move_them(tmp_path):
    p = write(tmp_path, """\
        rollout_count: 3
        sweep:
          goal: maximize
          parameters:
            trainer.lr: {distribution: log_normal, min: 1e-5, max: 1e-1}
        trainer:
          total_timesteps: 50000
        """)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(e.value).startswith(f"{p}:6: trainer: ")
    assert "move 'trainer:' under 'sweep:'" in str(e.value)


def test_nested_parameter_tree_and_settings_block():
    cfg = load_config({
        "goal": "minimize", "metric": "loss", "method": "bayes",
        "protein": {"num_random_samples": 3, "max_suggestion_cost": 100},
        "parameters": {"trainer": {"optimizer": {
            "learning_rate": {"distribution": "log_normal", "min": 1e-5, "max": 1e-1}}}},
    })
    assert cfg.space.names == ["trainer.optimizer.learning_rate"]
    assert cfg.method == "protein" and cfg.sign == -1.0
    assert cfg.settings.max_suggestion_cost == 100.0


def test_pufferlib_ini():
    with pytest.warns(ProteinWarning, match="sweep.downsample: ignored"):
        cfg = load_config(EXAMPLES / "pufferlib.ini")
    assert cfg.metric == "score" and cfg.method == "protein"
    assert cfg.settings.max_suggestion_cost == 3600.0
    assert cfg.space.dists["train.gamma"].kind == "logit_normal"
    assert cfg.space.dists["train.total_timesteps"].scale == "time"
    assert "train" not in cfg.fixed  # searched: their INI values are defaults, not fixed
    assert cfg.space.dists["train.total_timesteps"].integer  # its default 10_000_000 is whole
    assert cfg.fixed["base"]["env_name"] == "puffer_breakout"


def test_ini_unknown_sweep_key_is_an_error_with_its_line(tmp_path):
    p = write(tmp_path, """\
        [sweep]
        method = Protein
        goal = maximize
        max_sugestion_cost = 10

        [sweep.lr]
        distribution = uniform
        min = 0
        max = 1
        """, "s.ini")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert f"{p}:4: sweep.max_sugestion_cost: unknown key; did you mean 'max_suggestion_cost'" in str(e.value)


def test_hyperparameter_list_yaml():
    cfg = load_config(EXAMPLES / "conspec_search.yaml")
    assert cfg.metric == "mean_reward" and cfg.max_trials == 50
    assert cfg.space.dists["num_prototypes"].kind == "categorical"
    assert cfg.space.dists["learning_rate"].kind == "log_normal"
    assert cfg.extras["over"] == {"environment": ["single", "double", "triple"]}
    assert cfg.fixed["training"]["episodes"] == 5000


@pytest.mark.parametrize("method, expected", [
    ("protein", "protein"), ("bayes", "protein"), ("bayesian", "protein"),
    ("random", "random"), ("grid", "grid"), ("sobol", "sobol"), ("Protein", "protein"),
])
def test_methods_and_aliases(method, expected):
    cfg = load_config({"goal": "maximize", "method": method,
                       "parameters": {"x": {"distribution": "uniform", "min": 0, "max": 1}}})
    assert cfg.method == expected


@pytest.mark.parametrize("doc, message", [
    ({"parameters": {"x": {"distribution": "uniform", "min": 0, "max": 1}}}, "goal: missing"),
    ({"goal": "max", "parameters": {"x": {"distribution": "uniform", "min": 0, "max": 1}}},
     "expected maximize or minimize"),
    ({"goal": "maximize", "method": "tpe",
      "parameters": {"x": {"distribution": "uniform", "min": 0, "max": 1}}}, "unknown method 'tpe'"),
    ({"goal": "maximize"}, "parameters: missing"),
    ({"goal": "maximize", "parameters": {"x": 3}}, "parameters.x: expected a parameter"),
    ({"goal": "maximize", "metrc": "loss",
      "parameters": {"x": {"distribution": "uniform", "min": 0, "max": 1}}}, "did you mean 'metric'"),
    ({"goal": "maximize", "settings": {"num_random_sample": 3},
      "parameters": {"x": {"distribution": "uniform", "min": 0, "max": 1}}},
     "settings.num_random_sample: unknown setting; did you mean 'num_random_samples'"),
    ({"goal": "maximize", "settings": {"num_random_samples": -1},
      "parameters": {"x": {"distribution": "uniform", "min": 0, "max": 1}}}, "integer >= 0"),
    ({"goal": "maximize", "settings": {"num_random_samples": "short"},
      "parameters": {"x": {"distribution": "uniform", "min": 0, "max": 1}}},
     "settings.num_random_samples: expected an integer >= 0, got "
     "num_random_samples='short'"),
])
def test_bad_dicts_get_clear_errors(doc, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(doc)


def test_to_dict_round_trips(tmp_path):
    for name in ("metta_sweep.yaml", "conspec_search.yaml"):
        cfg = load_config(EXAMPLES / name)
        again = load_config(cfg.to_dict())
        assert again.to_dict() == cfg.to_dict()


def run_cli(*args: str) -> Result:
    return protein(*args, check=False)


@pytest.mark.parametrize("name", ["metta_sweep.yaml", "pufferlib.ini", "conspec_search.yaml",
                                  "cartpole.yaml", "acrobot.yaml", "digits.yaml"])
def test_cli_check_prints_the_resolved_space(name):
    import json

    r = run_cli("check", str(EXAMPLES / name), "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) >= {"parameters", "goal", "metric", "method", "fixed"}
    for entry in out["parameters"].values():
        assert "distribution" in entry and "scale" in entry
    r = run_cli("check", str(EXAMPLES / name))
    assert r.returncode == 0 and "parameter" in r.stdout


def test_cli_check_fails_with_one_line(tmp_path):
    p = write(tmp_path, """\
        sweep:
          goal: maximize
          parameters:
            trainer.batch_size: {distribution: uniform_pow2, min: 48, max: 256}
        """)
    r = run_cli("check", str(p))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"protein check: error: {p}:4: sweep.parameters.trainer.batch_size: "
        "uniform_pow2 needs powers of two, got min=48; use 32 or 64"
    ]
    assert "Traceback" not in r.stderr


def test_a_duplicate_key_is_an_error_with_both_lines(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent("""\
        sweep:
          metric: loss
          goal: maximize
          goal: minimize
          parameters:
            lr: {distribution: log_normal, min: 1e-5, max: 1e-1}
        """))
    with pytest.raises(ConfigError, match=r"sweep.yaml:4: sweep.goal: duplicate key \(first at line 3\)"):
        load_config(path)
    path.write_text("metric: loss\ngoal: minimize\nparameters:\n"
                    "  lr: {distribution: uniform, min: 1, max: 9, min: 5}\n")
    with pytest.raises(ConfigError, match=r"sweep.yaml:4: parameters.lr.min: duplicate key"):
        load_config(path)


def test_a_binary_config_file_is_one_clear_error(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    r = protein("check", str(path), check=False)
    assert r.returncode == 2 and "not a text file" in r.stderr and "Traceback" not in r.stderr


def test_a_config_file_without_a_metric_says_what_trials_report(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text("goal: maximize\nparameters:\n  x: {distribution: uniform, min: 0, max: 1}\n")
    with pytest.warns(ProteinWarning, match=r"metric not given; trials report 'score'"):
        assert load_config(path).metric == "score"
    r = protein("check", str(path))
    assert "metric not given" in r.stderr


def test_ini_errors_point_at_the_parameter_section(tmp_path):
    path = tmp_path / "sweep.ini"
    path.write_text("[sweep]\nmethod = protein\nmetric = score\ngoal = maximize\n\n"
                    "[sweep.train.learning_rate]\ndistribution = log_normal\nmin = 1e-5\nmax = abc\n")
    with pytest.raises(ConfigError, match=r"sweep.ini:6: sweep.train.learning_rate: log_normal"):
        load_config(path)


def test_pufferlib_ini_searched_keys_are_not_fixed_and_integer_defaults_stay_integers():
    from pathlib import Path

    with pytest.warns(ProteinWarning):
        cfg = load_config(str(Path(__file__).parent.parent / "examples" / "pufferlib.ini"))
    assert cfg.fixed == {"base": {"env_name": "puffer_breakout"}}
    steps = cfg.space.dists["train.total_timesteps"]
    assert steps.integer and not cfg.space.dists["train.learning_rate"].integer
    for u in np.linspace(0, 1, 17):
        v = cfg.space.decode(np.array([0.3, u, 0.5, 0.5]))["train.total_timesteps"]
        assert isinstance(v, int) and 3 * 10**7 <= v <= 2 * 10**8
    assert cfg.space.dists["train.total_timesteps"].to_dict()["integer"] is True


@given(st.floats(0, 1), st.floats(1.5, 1e9), st.floats(1.01, 1e4))
def test_integer_continuous_values_are_whole_and_round_trip(u, lo, ratio):
    from distributions.continuous import LogNormal, Uniform

    for d in (LogNormal(lo, lo * ratio + 2, integer=True), Uniform(lo, lo * ratio + 2, integer=True)):
        v = d.from_unit(u)
        assert isinstance(v, int) and d.min <= v <= d.max and d.contains(v)
        assert d.from_unit(d.to_unit(v)) == v


def test_check_says_how_many_trials_protein_run_will_run(tmp_path):
    grid = "goal: maximize\nmetric: score\nmethod: grid\nparameters:\n  b: {values: [1, 2, 3]}\n"
    p = tmp_path / "g.yaml"
    p.write_text(grid)
    assert "grid: 3 points; protein run runs each once" in protein("check", str(p)).stdout
    p.write_text("rollout_count: 2\n" + grid)
    out = protein("check", str(p)).stdout
    assert "protein run runs 2 of them (the config's trial count)" in out
    p.write_text(grid.replace("method: grid", "method: protein"))
    assert "protein run needs --max-trials N" in protein("check", str(p)).stdout


# metric goals, seed keys, setting names, W&B sweeps, study names
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


def test_one_study_name_rule(tmp_path):
    cfg = _sweep(tmp_path)
    r = protein("init", str(cfg), cwd=tmp_path)
    assert json.loads(r.stdout)["study"] == "sweep"
    r = protein("ask", cwd=tmp_path)
    assert "study 'sweep' (the only one" in r.stderr
    protein("init", str(cfg), "--study", "other", cwd=tmp_path)
    r = protein("ask", cwd=tmp_path, check=False)
    assert r.returncode == 2 and "choose one with --study" in r.stderr
