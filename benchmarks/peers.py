"""The optimizers compared, each driven through one loop: ``run(problem, budget, seed)``.

Every adapter returns the evaluations in order (error, cost) and the seconds each
suggestion took. Optional peers that are not installed are reported as skipped.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.problems import Problem, active, holds

CACHE = Path(__file__).parent / ".cache"
PUFFER_VERSION = "3.0.23"


class Skipped(Exception):
    """This peer cannot run here; the message says why."""


def _record(problem: Problem, values: Mapping[str, Any], log: list, dt: float) -> float:
    err, cost = problem.objective(values)
    log.append({"error": float(err), "cost": float(cost), "suggest_s": dt})
    return err


# ------------------------------------------------------------ pow2 as exponents
def _exponents(s: Mapping[str, Any]) -> tuple[int, int]:
    """A ``uniform_pow2`` parameter's range as powers of two (every peer searches those)."""
    return int(round(math.log2(s["min"]))), int(round(math.log2(s["max"])))


def _from_exponents(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A peer's suggestion with each ``NAME_log2`` exponent turned back into ``NAME``."""
    return {k.removesuffix("_log2"): 2 ** int(v) if k.endswith("_log2") else v
            for k, v in raw.items()}


# ---------------------------------------------------------------------- ours
def run_protein(problem: Problem, budget: int, seed: int) -> list[dict]:
    import protein

    sweep = protein.Protein(
        {"method": "protein", "goal": "minimize", "metric": "error",
         "parameters": problem.parameters},
        seed=seed,
    )
    log: list[dict] = []
    for _ in range(budget):
        t = time.perf_counter()
        params, _info = sweep.suggest()
        dt = time.perf_counter() - t
        err = _record(problem, params, log, dt)
        sweep.observe(params, err, cost=log[-1]["cost"])
    return log


# --------------------------------------------------------------------- optuna
def _optuna_values(trial: Any, parameters: Mapping[str, dict]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, s in parameters.items():
        kind = s["distribution"]
        if not holds(s, out):
            continue  # an inactive conditional parameter: Optuna's define-by-run skips it
        if kind == "categorical":
            out[name] = trial.suggest_categorical(name, s["choices"])
        elif kind == "log_normal":
            out[name] = trial.suggest_float(name, s["min"], s["max"], log=True)
        elif kind in ("uniform", "logit_normal"):
            out[name] = trial.suggest_float(name, s["min"], s["max"])
        elif kind == "int_uniform":
            out[name] = trial.suggest_int(name, s["min"], s["max"])
        elif kind == "uniform_pow2":
            e = trial.suggest_int(name + "_log2", *_exponents(s))
            out[name] = 2**e
        else:
            raise ValueError(kind)
    return out


def _run_optuna(sampler_name: str, problem: Problem, budget: int, seed: int) -> list[dict]:
    try:
        import optuna
    except ImportError as e:
        raise Skipped("optuna is not installed (pip install 'protein-hpo[bench]')") from e
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    samplers = {
        "random": lambda: optuna.samplers.RandomSampler(seed=seed),
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed),
        "gp": lambda: optuna.samplers.GPSampler(seed=seed, warn_independent_sampling=False),
    }
    study = optuna.create_study(direction="minimize", sampler=samplers[sampler_name]())
    log: list[dict] = []
    for _ in range(budget):
        t0 = time.perf_counter()
        trial = study.ask()
        values = _optuna_values(trial, problem.parameters)
        dt = time.perf_counter() - t0
        err = _record(problem, values, log, dt)
        study.tell(trial, err)
    return log


def run_random(problem: Problem, budget: int, seed: int) -> list[dict]:
    return _run_optuna("random", problem, budget, seed)


def run_tpe(problem: Problem, budget: int, seed: int) -> list[dict]:
    return _run_optuna("tpe", problem, budget, seed)


def run_optuna_gp(problem: Problem, budget: int, seed: int) -> list[dict]:
    return _run_optuna("gp", problem, budget, seed)


# ------------------------------------------------------------ PufferLib Protein
def load_pufferlib_sweep() -> Any:
    """``pufferlib/sweep.py`` from the pufferlib-core wheel, with the one helper it needs.

    The wheel pins an old torch, so it is not installed: the file is read from the
    downloaded wheel (``pip download``) and imported with a stand-in ``pufferlib`` module.
    """
    import importlib.util
    import subprocess
    import types
    import zipfile

    try:
        import pyro  # noqa: F401
    except ImportError as e:
        raise Skipped("PufferLib's Protein needs pyro-ppl (pip install pyro-ppl)") from e
    CACHE.mkdir(exist_ok=True)
    wheels = sorted(CACHE.glob(f"pufferlib_core-{PUFFER_VERSION}-*.whl"))
    if not wheels:
        r = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
             f"pufferlib-core=={PUFFER_VERSION}", "-d", str(CACHE)],
            capture_output=True, text=True,
        )
        wheels = sorted(CACHE.glob(f"pufferlib_core-{PUFFER_VERSION}-*.whl"))
        if not wheels:
            raise Skipped(f"could not download pufferlib-core {PUFFER_VERSION}: {r.stderr[-200:]}")
    src = CACHE / f"pufferlib_sweep_{PUFFER_VERSION}.py"
    if not src.exists():
        with zipfile.ZipFile(wheels[0]) as z:
            src.write_bytes(z.read("pufferlib/sweep.py"))

    def unroll_nested_dict(d: Any) -> Any:
        if not isinstance(d, dict):
            return d
        for k, v in d.items():
            if isinstance(v, dict):
                for k2, v2 in unroll_nested_dict(v):
                    yield f"{k}/{k2}", v2
            else:
                yield k, v

    shim = types.ModuleType("pufferlib")
    shim.unroll_nested_dict = unroll_nested_dict  # type: ignore[attr-defined]
    sys.modules.setdefault("pufferlib", shim)
    spec = importlib.util.spec_from_file_location("pufferlib_sweep", src)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def run_pufferlib(problem: Problem, budget: int, seed: int) -> list[dict]:
    import torch

    from distributions import from_config

    mod = load_pufferlib_sweep()
    import pyro

    pyro.clear_param_store()  # pyro's store is global; PufferLib runs one sweep per process
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    cfg: dict[str, Any] = {"method": "protein", "metric": "score", "goal": "maximize"}
    for name, s in problem.parameters.items():
        d = from_config(name, s).to_dict()
        cfg[name] = {**d, "scale": 0.5}
    # as PufferLib drives it (3.0 defaults), negated objective, cost mask off the problem's range
    sweep = mod.Protein(cfg, max_suggestion_cost=problem.cost_range[1] * 10)
    log: list[dict] = []
    import contextlib
    import io

    for _ in range(budget):
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            params, _info = sweep.suggest(None)
        dt = time.perf_counter() - t0
        values = {k: params[k] for k in problem.parameters}
        for k, s in problem.parameters.items():
            if s["distribution"] in ("int_uniform", "uniform_pow2"):
                values[k] = int(round(values[k]))
        err = _record(problem, values, log, dt)
        sweep.observe(params, -err, max(log[-1]["cost"], 1e-6))
    return log


# ------------------------------------------------------------------------ Ax
def run_ax(problem: Problem, budget: int, seed: int) -> list[dict]:
    """Ax 1.x as its docs drive it: ``ax.api.Client`` with its default generation strategy
    (centre point, Sobol, then modular BoTorch), native unordered choices and dependent
    parameters (a hierarchical space) for conditions."""
    import logging

    try:
        from ax.api import Client
        from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
    except ImportError as e:
        raise Skipped("Ax is not installed (pip install 'protein-hpo[bench]')") from e
    dependents: dict[str, dict[Any, list[str]]] = {}
    for name, s in problem.parameters.items():
        # Ax's hierarchy is a tree: a child of one value of one parent. A parameter active
        # under several values is searched always (the objective drops it where inactive).
        if len(when := s.get("when", {})) != 1:
            continue
        (parent, v), = when.items()
        choices = v if isinstance(v, list) else [v]
        if len(choices) == 1:
            dependents.setdefault(parent, {}).setdefault(choices[0], []).append(name)
    configs: list[Any] = []
    for name, s in problem.parameters.items():
        kind = s["distribution"]
        if kind == "categorical":
            configs.append(ChoiceParameterConfig(
                name=name, values=list(s["choices"]), parameter_type="str", is_ordered=False,
                dependent_parameters=dependents.get(name)))
        elif kind == "uniform_pow2":
            configs.append(RangeParameterConfig(name=name + "_log2", bounds=_exponents(s),
                                                parameter_type="int"))
        else:
            configs.append(RangeParameterConfig(
                name=name, bounds=(float(s["min"]), float(s["max"])),
                parameter_type="int" if kind == "int_uniform" else "float",
                scaling="log" if kind == "log_normal" else "linear"))
    client = Client(random_seed=seed)
    for name in list(logging.root.manager.loggerDict):  # Ax sets a level on each of its loggers
        if name.split(".")[0] in ("ax", "botorch", "gpytorch", "linear_operator"):
            logging.getLogger(name).setLevel(logging.ERROR)
    client.configure_experiment(parameters=configs, name=problem.name)
    client.configure_optimization(objective="-error")
    log: list[dict] = []
    for _ in range(budget):
        t0 = time.perf_counter()
        (index, raw), = client.get_next_trials(max_trials=1).items()
        dt = time.perf_counter() - t0
        err = _record(problem, active(problem.parameters, _from_exponents(raw)), log, dt)
        client.complete_trial(trial_index=index, raw_data={"error": err})
    return log


# --------------------------------------------------------------------- SMAC3
def run_smac(problem: Problem, budget: int, seed: int) -> list[dict]:
    """SMAC3's hyperparameter-optimisation facade (a random forest over ConfigSpace, the
    facade its docs recommend for HPO), with native categoricals and conditions."""
    import tempfile

    try:
        from ConfigSpace import (Categorical, ConfigurationSpace, EqualsCondition, Float,
                                 InCondition, Integer)
        from smac import HyperparameterOptimizationFacade, Scenario
        from smac.runhistory.dataclasses import TrialValue
    except ImportError as e:
        raise Skipped("SMAC3 is not installed (pip install 'protein-hpo[bench]')") from e
    cs = ConfigurationSpace(seed=seed)
    hps: dict[str, Any] = {}
    for name, s in problem.parameters.items():
        kind = s["distribution"]
        if kind == "categorical":
            hps[name] = Categorical(name, list(s["choices"]))
        elif kind == "uniform_pow2":
            hps[name] = Integer(name + "_log2", _exponents(s))
        elif kind == "int_uniform":
            hps[name] = Integer(name, (int(s["min"]), int(s["max"])))
        else:
            hps[name] = Float(name, (float(s["min"]), float(s["max"])), log=kind == "log_normal")
    cs.add(list(hps.values()))
    for name, s in problem.parameters.items():
        for parent, v in s.get("when", {}).items():
            cond = (InCondition(hps[name], hps[parent], list(v)) if isinstance(v, list)
                    else EqualsCondition(hps[name], hps[parent], v))
            cs.add(cond)
    with tempfile.TemporaryDirectory() as out:
        scenario = Scenario(cs, deterministic=True, n_trials=budget, seed=seed,
                            output_directory=Path(out) / "smac")
        smac = HyperparameterOptimizationFacade(
            scenario, lambda config, seed=0: 0.0, overwrite=True, logging_level=40)
        log: list[dict] = []
        for _ in range(budget):
            t0 = time.perf_counter()
            info = smac.ask()
            dt = time.perf_counter() - t0
            err = _record(problem, _from_exponents(dict(info.config)), log, dt)
            smac.tell(info, TrialValue(cost=err))
    return log


# ---------------------------------------------------------------------- HEBO
def run_hebo(problem: Problem, budget: int, seed: int) -> list[dict]:
    """HEBO with its defaults (GP with input warping and output power transform, MACE
    acquisition ensemble optimised by NSGA-II). It has no conditions: every parameter is
    searched and the objective drops the inactive ones."""
    import contextlib
    import io
    import warnings

    import torch

    try:
        from hebo.design_space.design_space import DesignSpace
        from hebo.optimizers.hebo import HEBO
    except ImportError as e:
        raise Skipped("HEBO is not installed (scripts/setup.sh installs it with --no-deps)") from e
    specs = []
    for name, s in problem.parameters.items():
        kind = s["distribution"]
        if kind == "categorical":
            specs.append({"name": name, "type": "cat", "categories": list(s["choices"])})
        elif kind == "uniform_pow2":
            specs.append({"name": name, "type": "int_exponent", "lb": s["min"], "ub": s["max"],
                          "base": 2})
        elif kind == "int_uniform":
            specs.append({"name": name, "type": "int", "lb": int(s["min"]), "ub": int(s["max"])})
        elif kind == "log_normal":
            specs.append({"name": name, "type": "pow", "lb": float(s["min"]),
                          "ub": float(s["max"])})
        else:
            specs.append({"name": name, "type": "num", "lb": float(s["min"]),
                          "ub": float(s["max"])})
    np.random.seed(seed)
    random.seed(seed)
    torch.manual_seed(seed)
    opt = HEBO(DesignSpace().parse(specs), scramble_seed=seed)
    log: list[dict] = []
    for _ in range(budget):
        t0 = time.perf_counter()
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            rec = opt.suggest(n_suggestions=1)
        dt = time.perf_counter() - t0
        row = rec.iloc[0].to_dict()
        values = {}
        for name, s in problem.parameters.items():
            v = row[name]
            kind = s["distribution"]
            values[name] = (int(v) if kind in ("int_uniform", "uniform_pow2")
                            else v if kind == "categorical" else float(v))
        err = _record(problem, active(problem.parameters, values), log, dt)
        opt.observe(rec, np.array([[err]]))  # rec: HEBO's own frame of the suggestion
    return log


PEERS = {
    "protein": run_protein,
    "optuna_gp": run_optuna_gp,
    "optuna_tpe": run_tpe,
    "random": run_random,
    "pufferlib_protein": run_pufferlib,
    "ax": run_ax,
    "smac": run_smac,
    "hebo": run_hebo,
}
