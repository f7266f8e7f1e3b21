"""Malformed configs in every format Protein reads (Protein YAML, a Metta ``sweep:`` block,
a W&B sweep, a ``hyperparameters:`` search, PufferLib INI) and CARBS configs given to
``migrate``: each loads, or fails with one line that says where, never a traceback, a hang
or a blow-up of memory."""

from __future__ import annotations

import os
import resource
import time
import warnings

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protein.config import load_config
from protein.errors import ProteinError
from protein.migrate import carbs_to_protein

NASTY = st.sampled_from([
    0, 1, -1, 2, 3, 1e-5, 0.5, 1e300, -1e300, float("inf"), float("-inf"), float("nan"),
    10**400, -(10**400), 2**64, True, False, None, "", "x", "1e-3", "inf", "nan", "0x10",
    "uniform", "log_normal", "logit_normal", "int_uniform", "uniform_pow2", "categorical",
    "maximize", "minimize", "protein", "random", "grid", "bayes", "score", "loss",
    [], {}, [1, 2], ["a", "b"], [1, [2]], {"a": 1},
])
KEYS = st.sampled_from([
    "distribution", "min", "max", "mean", "scale", "values", "value", "choices", "goal",
    "metric", "method", "settings", "parameters", "sweep", "name", "search_center",
    "num_random_samples", "max_suggestion_cost", "rollout_count", "num_samples", "trainer",
    "distribution_type", "space", "is_integer", "max_trials", "early_terminate",
])
VALUES = st.recursive(NASTY, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)), max_leaves=12)
PARAM = st.dictionaries(KEYS, VALUES, max_size=6)
PARAMS = st.dictionaries(st.sampled_from(["lr", "trainer.lr", "bs", "a.b"]), PARAM, max_size=3)
TOP = st.dictionaries(KEYS, VALUES, max_size=4)


def _documents() -> st.SearchStrategy:
    protein_yaml = st.builds(lambda top, p: {**top, "parameters": p}, TOP, PARAMS)
    metta = st.builds(lambda top, p: {"sweep": {**top, "parameters": p}}, TOP, PARAMS)
    wandb = st.builds(lambda top, p: {"method": "bayes", **top, "parameters": p}, TOP, PARAMS)
    search = st.builds(lambda top, p: {"hyperparameters": p, "search": top}, TOP, PARAMS)
    anything = st.dictionaries(KEYS, VALUES, max_size=6)
    return st.one_of(protein_yaml, metta, wandb, search, anything)


def _ini(top: dict, params: dict) -> str:
    lines = ["[sweep]"] + [f"{k} = {v}" for k, v in top.items()]
    for name, spec in params.items():
        lines.append(f"[sweep.{name}]")
        lines += [f"{k} = {v}" for k, v in spec.items()]
    return "\n".join(lines) + "\n"


def _one_line_or_load(path) -> None:
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            load_config(str(path))
        except ProteinError as e:
            assert "\n" not in str(e).strip() and str(e).startswith(str(path)), str(e)
    assert time.perf_counter() - t0 < 5


FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 150)), deadline=None, derandomize="FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@FUZZ
@given(doc=_documents())
def test_malformed_yaml_configs_load_or_fail_with_one_line(doc, tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    _one_line_or_load(path)


@FUZZ
@given(top=st.dictionaries(KEYS, NASTY, max_size=5),
       params=st.dictionaries(st.sampled_from(["train.lr", "train.bs", "env.x"]),
                              st.dictionaries(KEYS, NASTY, max_size=6), max_size=3))
def test_malformed_ini_configs_load_or_fail_with_one_line(top, params, tmp_path):
    path = tmp_path / "sweep.ini"
    path.write_text(_ini(top, params))
    _one_line_or_load(path)


@FUZZ
@given(doc=st.one_of(VALUES, st.lists(PARAM, max_size=3),
                     st.builds(lambda p: {"parameters": list(p.values())}, PARAMS)))
def test_malformed_carbs_configs_migrate_or_fail_with_one_line(doc):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    try:
        carbs_to_protein(doc, source="carbs.yaml")
    except ProteinError as e:
        assert "\n" not in str(e).strip(), str(e)
    assert time.perf_counter() - t0 < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 500_000  # KiB


BIG = 10**400


@pytest.mark.parametrize("doc, message", [
    ({"settings": True}, "settings: expected a mapping of setting: value"),
    ({"settings": ["a"]}, "settings: expected a mapping of setting: value"),
    ({"settings": {"max_suggestion_cost": BIG}}, "settings.max_suggestion_cost: 1000"),
    ({"parameters": {"a": {"distribution": "uniform", "min": 0, "max": BIG}}},
     "uniform needs a finite number for max"),
    ({"parameters": {"a": {"distribution": "int_uniform", "min": 0, "max": BIG}}},
     "int_uniform needs a finite integer max"),
    ({"parameters": {"a": {"distribution": "int_uniform", "min": 0, "max": float("inf")}}},
     "int_uniform needs a finite integer max, got max=inf"),
    ({"parameters": {"a": {"distribution": "uniform_pow2", "min": 1, "max": 2**2000}}},
     "uniform_pow2 needs powers of two, got max=11481306952742545242..."),
])
def test_the_fuzzers_finds_are_one_line_errors(doc, message, tmp_path):
    base = {"goal": "maximize", "metric": "score",
            "parameters": {"a": {"distribution": "uniform", "min": 0, "max": 1}}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({**base, **doc}))
    with pytest.raises(ProteinError) as e:
        load_config(str(path))
    assert message in str(e.value) and "\n" not in str(e.value)
