"""CARBS -> Protein migration: each space, each warning, each error, and the examples."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from _cli import protein

from protein.config import load_config, yaml_loader
from protein.errors import ConfigError
from protein.migrate import carbs_to_protein

EXAMPLES = Path(__file__).parent.parent / "examples" / "carbs"


def one(value, **kw):
    new, warnings = carbs_to_protein({"trainer": {"p": value}}, **kw)
    return new["sweep"]["parameters"]["trainer.p"], warnings


@pytest.mark.parametrize("ss, expected", [
    # the table of seed 003's "Migration from CARBS", with logit corrected
    ("${ss:log, 1e-5, 1e-2}", {"distribution": "log_normal", "min": 1e-5, "max": 0.01}),
    ("${ss:pow2, 32, 256}", {"distribution": "uniform_pow2", "min": 32, "max": 256}),
    ("${ss:int, 1, 10}", {"distribution": "int_uniform", "min": 1, "max": 10}),
    ("${ss:logit, 0.1, 0.9}", {"distribution": "logit_normal", "min": 0.1, "max": 0.9}),
    ("${ss:linear, -1, 1, 0.5}", {"distribution": "uniform", "min": -1, "max": 1, "mean": 0.5}),
    ("${ss:log, 1e10, 10e12, 2e10}", {"distribution": "log_normal", "min": 1e10, "max": 1e13,
                                       "mean": 2e10}),
    ("${ss:pow2, 131072, 524288, 131072}", {"distribution": "uniform_pow2", "min": 131072,
                                            "max": 524288, "mean": 131072}),
])
def test_each_resolver_space(ss, expected):
    entry, _ = one(ss)
    assert {k: entry[k] for k in expected} == expected
    assert entry["scale"] == "auto"


@pytest.mark.parametrize("value, warning", [
    ("${ss:log, 1e-5, 1e-1}", "no search_center and no --base value"),
    ({"space": "log", "min": 1e-5, "max": 1e-1, "search_center": 1e-3, "scale": 0.5},
     "CARBS scale 0.5 is in CARBS units"),
    ({"space": "linear", "min": 1, "max": 9, "search_center": 3, "is_int": True,
      "rounding_factor": 2}, "rounding_factor 2 has no Protein equivalent"),
    ({"space": "log", "min": 1, "max": 100, "search_center": 10, "is_int": True},
     "integer log space has no exact Protein form"),
    ("${ss:logit, 0.0, 1.0, 0.5}", "clamped to [1e-06, 0.999999]"),
    ("${ss:pow2, 48, 1000, 64}", "narrowed to [64, 512]"),
])
def test_each_warning_names_the_path(value, warning):
    _, warnings = one(value)
    assert any(w.startswith("trainer.p: ") and warning in w for w in warnings), warnings


def test_malformed_resolver_and_foreign_settings_warn():
    new, warnings = carbs_to_protein({
        "wandb": {"project": "x"}, "resume": True,
        "trainer": {"lr": "${ss:log, 1e-5, 1e-1, 1e-3}", "mb": "$pow2(1024, 32768)"},
    })
    assert "trainer.mb" not in new["sweep"]["parameters"]
    assert any("trainer.mb" in w and "not a ${ss:...} call" in w for w in warnings)
    assert any(w.startswith("wandb: dropped") for w in warnings)
    assert any(w.startswith("resume: dropped") for w in warnings)


def test_missing_centre_comes_from_base():
    entry, warnings = one("${ss:log, 1e-5, 1e-1}", base={"trainer": {"p": 3e-4}})
    assert entry["mean"] == 3e-4
    assert any("--base value" in w for w in warnings)


@pytest.mark.parametrize("value, error", [
    ({"space": "log", "min": 1e-5, "max": float("inf")}, "unbounded range"),
    ({"space": "log", "max": 1.0}, "unbounded range"),
    ("${ss:log, 1e-5, 1e-1, 5}", "search_center 5 lies outside"),
    ("${ss:cubic, 1, 2}", "unknown CARBS space 'cubic'"),
    ("${ss:log, 1e-5}", "needs space, min, max"),
    ("${ss:linear, 2, 1}", "min must be below max"),
])
def test_errors(value, error):
    with pytest.raises(ConfigError, match=error.replace("(", r"\(").replace("[", r"\[")):
        one(value)


def test_carbs_param_list_and_settings():
    doc = yaml.load((EXAMPLES / "carbs_params.json").read_text(), Loader=yaml_loader())
    new, warnings = carbs_to_protein(doc)
    sweep = new["sweep"]
    assert sweep["goal"] == "minimize" and sweep["metric"] == "val_loss"
    assert sweep["settings"] == {"max_suggestion_cost": 3600, "num_random_samples": 8,
                                 "resample_frequency": 5}
    p = sweep["parameters"]
    assert p["n_layers"]["distribution"] == "int_uniform"
    assert p["dropout"]["distribution"] == "logit_normal"
    assert "model.width" in p
    assert any("params.checkpoint_dir: dropped" in w for w in warnings)
    with pytest.raises(ConfigError, match="unbounded LinearSpace"):
        carbs_to_protein([{"name": "x", "space": {"type": "LinearSpace", "min": 0}}])


@pytest.mark.parametrize("name", ["metta_carbs.yaml", "pong.yaml", "carbs_params.json"])
def test_examples_migrate_and_load_through_the_cli(name, tmp_path):
    out = tmp_path / "sweep.yaml"
    r = protein("migrate", str(EXAMPLES / name), "-o", str(out), check=False)
    assert r.returncode == 0, r.stderr
    cfg = load_config(out)
    assert cfg.method == "protein" and cfg.space.names
    check = protein("migrate", str(EXAMPLES / name), "--check", check=False)
    assert check.returncode == 0 and "Protein distribution" in check.stdout


def test_metta_example_keeps_paths_and_fixed_overrides(tmp_path):
    doc = yaml.load((EXAMPLES / "metta_carbs.yaml").read_text(), Loader=yaml_loader())
    new, _ = carbs_to_protein(doc)
    assert new["rollout_count"] == 100
    assert new["sweep"]["trainer"] == {"checkpoint_interval": 100}
    assert new["sweep"]["env"] == {"game": {"max_steps": 1000}}
    assert "trainer.optimizer.learning_rate" in new["sweep"]["parameters"]


def _bomb(levels: int) -> str:
    """``levels`` nested aliases, each repeating the one before nine times (472 bytes at 7)."""
    lines = ['l0: &l0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("command", ["check", "migrate"])
def test_alias_bombs_are_refused_at_once_with_one_line(command, tmp_path):
    import time

    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb(9))
    t0 = time.perf_counter()
    r = protein(command, str(path), check=False)
    assert time.perf_counter() - t0 < 5
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "aliases (&name / *name) expand to more than 100,000 values" in r.stderr
    # a few aliases, as configs use them to share a block, still read
    path.write_text("goal: maximize\nmetric: score\n"
                    "shared: &s {distribution: uniform, min: 0, max: 1}\n"
                    "parameters: {a: *s, b: *s}\n")
    assert load_config(str(path)).space.names == ["a", "b"]


def test_migrate_reads_its_input_as_check_does(tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text("name: a\nname: b\n")
    r = protein("migrate", str(dup), check=False)
    assert r.returncode == 2 and "dup.yaml:2: name: duplicate key (first at line 1)" in r.stderr
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(bytes(range(256)))
    r = protein("migrate", str(binary), check=False)
    assert r.returncode == 2 and "not a text file" in r.stderr and "Traceback" not in r.stderr
    r = protein("migrate", str(tmp_path), check=False)
    assert r.returncode == 2 and "is a directory" in r.stderr
    r = protein("migrate", str(tmp_path / "missing" / "x.yaml"), check=False)
    assert r.returncode == 2 and "no such file" in r.stderr
    base = tmp_path / "base.yaml"
    base.write_text("a: 1\na: 2\n")
    good = Path(__file__).parent.parent / "examples"
    r = protein("migrate", str(good / "carbs" / "metta_carbs.yaml"), "--base", str(base),
                check=False)
    assert r.returncode == 2 and "base.yaml:2: a: duplicate key" in r.stderr


def test_migrate_writes_as_check_and_report_do(tmp_path):
    src = str(Path(__file__).parent.parent / "examples" / "carbs" / "metta_carbs.yaml")
    for out, says in [(str(tmp_path), "is a folder"),
                      (str(tmp_path / "missing" / "x.yaml"), "does not exist"),
                      ("/dev/full", "the disk is full")]:
        r = protein("migrate", src, "-o", out, check=False)
        assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
    protein("migrate", src, "-o", str(tmp_path / "ok.yaml"))
    assert load_config(str(tmp_path / "ok.yaml")).space.names


def test_migrate_lifts_a_root_sweep_block_and_warns_when_it_invents_the_metric():
    cfg, warns = carbs_to_protein({"sweep": {"metric": "reward", "trainer": {
        "lr": "${ss:log, 1e-4, 1e-2}"}}})
    assert cfg["sweep"]["metric"] == "reward" and "sweep" not in cfg["sweep"]
    assert "trainer.lr" in cfg["sweep"]["parameters"]
    assert not any(w.startswith("metric:") for w in warns)
    cfg, warns = carbs_to_protein({"trainer": {"lr": "${ss:log, 1e-4, 1e-2}"}})
    assert cfg["sweep"]["metric"] == "score"
    assert any(w.startswith("metric: not in the source; wrote metric: score") for w in warns)
    with pytest.raises(ConfigError, match="both at the top and in sweep"):
        carbs_to_protein({"metric": "a", "sweep": {"metric": "b"}})
