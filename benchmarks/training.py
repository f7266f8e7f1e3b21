"""Does it pay? Compute to a good model on real training, Protein against the tuners in use.

    python -m benchmarks.training [--seeds 10] [--trials 30] [--workers 2] [--device cpu]
                                  [--problems cartpole acrobot digits tinylm] [--optimizers ...]
                                  [--summarise-only]

Each *run* is one tuner driving one bundled trainer (``trainers/cartpole.py``: PPO on the
torch-vectorised CartPole; ``trainers/acrobot.py``: PPO on the harder Acrobot swing-up;
``trainers/digits.py``: an MLP on the digits; ``trainers/tinylm.py``: a tiny transformer
language model) for ``--trials``
trials, one after another, as a user's sweep would: the same ``train(params, seed,
device, report)`` the runner calls, the trainer seeded per trial (RL is noisy). The budget
parameter (``total_timesteps``, ``epochs``) is searched, and every trial's cost is what it
really spent (environment steps; training examples = epochs x samples), so a stopped trial
costs what it ran. Early stopping sees the trainer's reports: Protein's rules through
``protein.optimizer.early_stop.decide`` (what ``protein run --early-stop`` uses), Optuna's
pruners through ``trial.report`` / ``trial.should_prune``.

Figures per problem and tuner, over seeds: how many runs reach the target (a finished
trial at or above it) and the median cumulative cost until they do; the best finished
score at fixed cumulative compute (an anytime curve, ``benchmarks/training_<problem>.png``);
total cost; trials stopped early; and runs where a stopped trial had already beaten the
run's final best. Runs are stored under ``benchmarks/runs/training/<device>/`` and reused
(``--summarise-only`` starts none); ``benchmarks.run`` embeds the tables in RESULTS.md.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import store

RUNS = store.RUNS / "training"
FIGURES = store.ROOT  # where the anytime-curve PNGs go
VERSION = 1  # bump when the harness changes what a stored run means
DEFAULT = "protein+auto"  # Protein as `protein run` runs it: early stopping auto


@dataclass(frozen=True)
class TrainingProblem:
    """A bundled trainer and the sweep people run on it.

    ``parameters``: the searched space (Protein config form, flat dotted names); ``fixed``:
    flat trainer settings that are not searched; ``budget``: the searched budget parameter;
    ``target``: the score a good run reaches (see ``note`` for how it was chosen);
    ``checkpoints``: cumulative compute at which the anytime curve is read.
    """

    name: str
    trainer: str
    parameters: dict[str, dict]
    fixed: dict[str, Any]
    budget: str
    target: float
    checkpoints: tuple[float, ...]
    cost_unit: str
    note: str
    cuda_parameters: dict[str, dict] = field(default_factory=dict)
    goal: str = "maximize"

    @property
    def sign(self) -> float:
        """+1 to maximise the score, -1 to minimise it: the tuners are handed ``sign * score``
        (and ``sign * value`` for each report), so every one of them maximises."""
        return 1.0 if self.goal == "maximize" else -1.0


# Acrobot's target, set from random search's trials alone before any other tuner ran on it:
# -82 was reached by 2 of its 120 trials (4 runs x 30), -80 by none, -85 by 8 (a 30-trial
# random run would reach -85 nearly always): random search seldom reaches -82.
TARGET_ACROBOT = -82.0

# what the two PPO problems search alike (their learning rate, environments and budget differ),
# in the order their spaces list them
PPO_PARAMETERS = {
    "trainer.ent_coef": {"distribution": "log_normal", "min": 1e-5, "max": 1e-1, "mean": 1e-2},
    "trainer.clip_coef": {"distribution": "uniform", "min": 0.05, "max": 0.4, "mean": 0.2},
    "trainer.gamma": {"distribution": "logit_normal", "min": 0.9, "max": 0.999, "mean": 0.99},
    "trainer.gae_lambda": {"distribution": "logit_normal", "min": 0.8, "max": 0.99, "mean": 0.95},
    "trainer.minibatch_size": {"distribution": "uniform_pow2", "min": 256, "max": 4096, "mean": 1024},
}
PPO_CUDA_PARAMETERS = {  # on a GPU, many more environments and larger minibatches
    "trainer.num_envs": {"distribution": "uniform_pow2", "min": 256, "max": 4096, "mean": 1024},
    "trainer.minibatch_size": {"distribution": "uniform_pow2", "min": 1024, "max": 16384, "mean": 4096},
}
PPO_FIXED = {"trainer.num_steps": 64, "trainer.update_epochs": 4, "trainer.hidden": 64,
             "env.max_steps": 500}

PROBLEMS: dict[str, TrainingProblem] = {
    "cartpole": TrainingProblem(
        name="cartpole",
        trainer="trainers.cartpole",
        parameters={
            "trainer.learning_rate": {"distribution": "log_normal", "min": 3e-4, "max": 3e-2, "mean": 3e-3},
            **PPO_PARAMETERS,
            "trainer.num_envs": {"distribution": "uniform_pow2", "min": 16, "max": 256, "mean": 64},
            "trainer.total_timesteps": {"distribution": "uniform_pow2", "min": 8192, "max": 131072, "mean": 32768},
        },
        fixed=PPO_FIXED,
        budget="trainer.total_timesteps",
        target=450.0,
        checkpoints=(2.5e5, 5e5, 1e6, 2e6),
        cost_unit="environment steps",
        note="PPO on CartPole (max return 500); target 450",
        cuda_parameters={
            **PPO_CUDA_PARAMETERS,
            "trainer.total_timesteps": {"distribution": "uniform_pow2", "min": 65536, "max": 1048576, "mean": 262144},
        },
    ),
    "acrobot": TrainingProblem(
        name="acrobot",
        trainer="trainers.acrobot",
        parameters={
            "trainer.learning_rate": {"distribution": "log_normal", "min": 1e-4, "max": 3e-2, "mean": 1e-3},
            **PPO_PARAMETERS,
            "trainer.num_envs": {"distribution": "uniform_pow2", "min": 32, "max": 256, "mean": 64},
            "trainer.total_timesteps": {"distribution": "uniform_pow2", "min": 16384, "max": 262144, "mean": 65536},
        },
        fixed=PPO_FIXED,
        budget="trainer.total_timesteps",
        target=TARGET_ACROBOT,
        checkpoints=(2.5e5, 5e5, 1e6, 2e6),
        cost_unit="environment steps",
        note=f"PPO on Acrobot (swing-up; -500 never swings up); target {TARGET_ACROBOT:g}",
        cuda_parameters={
            **PPO_CUDA_PARAMETERS,
            "trainer.total_timesteps": {"distribution": "uniform_pow2", "min": 131072, "max": 2097152, "mean": 524288},
        },
    ),
    "digits": TrainingProblem(
        name="digits",
        trainer="trainers.digits",
        parameters={
            "trainer.learning_rate": {"distribution": "log_normal", "min": 1e-4, "max": 1e-1, "mean": 3e-3},
            "trainer.batch_size": {"distribution": "uniform_pow2", "min": 16, "max": 256, "mean": 64},
            "trainer.width": {"distribution": "uniform_pow2", "min": 16, "max": 512, "mean": 128},
            "trainer.depth": {"distribution": "int_uniform", "min": 1, "max": 4, "mean": 2},
            "trainer.weight_decay": {"distribution": "log_normal", "min": 1e-6, "max": 1e-2, "mean": 1e-4},
            "trainer.dropout": {"distribution": "uniform", "min": 0.0, "max": 0.5, "mean": 0.1},
            "trainer.epochs": {"distribution": "int_uniform", "min": 1, "max": 30, "mean": 6},
        },
        fixed={},
        budget="trainer.epochs",
        target=0.988,
        checkpoints=(5e4, 1e5, 2e5, 4e5),
        cost_unit="training examples",
        note="an MLP on the digits (360 validation images); target 98.8% accuracy (356 of 360)",
    ),
    "tinylm": TrainingProblem(
        name="tinylm",
        trainer="trainers.tinylm",
        parameters={
            "trainer.learning_rate": {"distribution": "log_normal", "min": 1e-4, "max": 3e-2, "mean": 1e-3},
            "trainer.warmup": {"distribution": "uniform", "min": 0.0, "max": 0.3, "mean": 0.1},
            "trainer.weight_decay": {"distribution": "log_normal", "min": 1e-4, "max": 0.3, "mean": 1e-2},
            "trainer.width": {"distribution": "uniform_pow2", "min": 16, "max": 64, "mean": 32},
            "trainer.depth": {"distribution": "int_uniform", "min": 1, "max": 2, "mean": 1},
            "trainer.tokens": {"distribution": "uniform_pow2", "min": 8192, "max": 131072, "mean": 32768},
        },
        fixed={},
        budget="trainer.tokens",
        target=1.85,
        checkpoints=(2.5e5, 5e5, 1e6, 2e6),
        cost_unit="training tokens",
        note="a tiny transformer LM, synthetic corpus (validation loss, nats/token); target 1.85",
        goal="minimize",
    ),
}

OPTIMIZERS = (
    "protein", "protein+auto", "protein+protein", "protein+asha",
    "optuna_gp", "optuna_gp+median", "optuna_gp+hyperband",
    "optuna_tpe", "optuna_tpe+median", "optuna_tpe+hyperband",
    "random", "pufferlib_protein", "dehb",
)
# the tuners of the published tables (RESULTS.md), what a plain run starts: Protein's older
# quantile-line rule and its ASHA run on request only (``--optimizers protein+protein``)
PUBLISHED = tuple(o for o in OPTIMIZERS if o not in ("protein+protein", "protein+asha"))


def space_of(problem: TrainingProblem, device: str) -> dict[str, dict]:
    """The searched space on ``device``: CUDA runs use many more environments."""
    return {**problem.parameters, **(problem.cuda_parameters if device.startswith("cuda") else {})}


# -------------------------------------------------------------------- tuners
class Tuner:
    """One sweep: ``ask`` params, ``report`` progress (True: stop), ``tell`` the end."""

    def ask(self) -> tuple[Any, dict[str, Any]]:
        raise NotImplementedError

    def report(self, handle: Any, step: float, value: float) -> bool:
        return False

    def tell(self, handle: Any, score: float | None, cost: float, stopped: bool) -> None:
        raise NotImplementedError


class ProteinTuner(Tuner):
    """Protein's library ``Study`` (cost-aware by default); ``rule`` as ``--early-stop``.
    Every report carries its spend (the bundled trainers' step), as ``protein run`` stores it."""

    def __init__(self, space: dict, seed: int, rule: str) -> None:
        from protein.study import Study

        self.study = Study({"method": "protein", "metric": "score", "goal": "maximize",
                            "parameters": space}, seed=seed)
        self.rule = rule
        self.verdicts: dict[int, Any] = {}

    def ask(self) -> tuple[Any, dict[str, Any]]:
        t = self.study.ask()
        return t, dict(t.params)

    def report(self, handle: Any, step: float, value: float) -> bool:
        self.study.report(handle, step, value, cost=step)
        if self.rule == "none":
            return False
        verdict = self.verdicts[handle.trial_id] = self.study.should_stop(handle, rule=self.rule)
        return verdict.stop

    def tell(self, handle: Any, score: float | None, cost: float, stopped: bool) -> None:
        if score is None:
            self.study.tell(handle, failed=True, cost=cost, reason="non-finite score")
        elif stopped:  # as the runner records it: with the figures behind the stop
            verdict = self.verdicts[handle.trial_id]
            self.study.tell(handle, score, cost, pruned=True, reason=verdict.rule,
                            info=verdict.record())
        else:
            self.study.tell(handle, score, cost)


class OptunaTuner(Tuner):
    """Optuna's ask/tell with a sampler and a pruner, as its users run them (defaults)."""

    def __init__(self, space: dict, seed: int, sampler: str, pruner: str) -> None:
        import optuna

        from benchmarks.peers import _optuna_values

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        samplers = {
            "gp": lambda: optuna.samplers.GPSampler(seed=seed, warn_independent_sampling=False),
            "tpe": lambda: optuna.samplers.TPESampler(seed=seed),
            "random": lambda: optuna.samplers.RandomSampler(seed=seed),
        }
        pruners = {"none": optuna.pruners.NopPruner, "median": optuna.pruners.MedianPruner,
                   "hyperband": optuna.pruners.HyperbandPruner}
        self.optuna = optuna
        self.values = _optuna_values
        self.space = space
        self.study = optuna.create_study(direction="maximize", sampler=samplers[sampler](),
                                         pruner=pruners[pruner]())

    def ask(self) -> tuple[Any, dict[str, Any]]:
        trial = self.study.ask()
        return trial, self.values(trial, self.space)

    def report(self, handle: Any, step: float, value: float) -> bool:
        handle.report(value, int(step))
        return bool(handle.should_prune())

    def tell(self, handle: Any, score: float | None, cost: float, stopped: bool) -> None:
        state = self.optuna.trial.TrialState
        if score is None:
            self.study.tell(handle, state=state.FAIL)
        elif stopped:
            self.study.tell(handle, state=state.PRUNED)
        else:
            self.study.tell(handle, score)


class PufferTuner(Tuner):
    """PufferLib's Protein 3.0, driven as PufferLib drives it, with the same costs."""

    def __init__(self, space: dict, seed: int) -> None:
        import contextlib
        import io
        import random

        import numpy as np
        import pyro
        import torch

        from benchmarks.peers import load_pufferlib_sweep
        from distributions import from_config

        mod = load_pufferlib_sweep()
        pyro.clear_param_store()
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        cfg: dict[str, Any] = {"method": "protein", "metric": "score", "goal": "maximize"}
        for name, s in space.items():
            cfg[name] = {**from_config(name, s).to_dict(), "scale": 0.5}
        self.space = space
        self.quiet = lambda: contextlib.redirect_stdout(io.StringIO())
        with self.quiet():
            self.sweep = mod.Protein(cfg)

    def ask(self) -> tuple[Any, dict[str, Any]]:
        with self.quiet():
            params, _ = self.sweep.suggest(None)
        values = {k: params[k] for k in self.space}
        for k, s in self.space.items():
            if s["distribution"] in ("int_uniform", "uniform_pow2"):
                values[k] = int(round(values[k]))
        return params, values

    def tell(self, handle: Any, score: float | None, cost: float, stopped: bool) -> None:
        with self.quiet():
            self.sweep.observe(handle, 0.0 if score is None else score, cost,
                               is_failure=score is None)


class DEHBTuner(Tuner):
    """DEHB (differential evolution + Hyperband), the multi-fidelity anchor, as its users run
    it: its own ask/tell, the budget parameter taken out of the space and set to the fidelity
    DEHB picks (rounded to a value the budget's distribution holds), eta 3, minimising
    ``-score``, each trial's cost what it spent."""

    def __init__(self, space: dict, seed: int, budget: str) -> None:
        import tempfile

        try:
            import ConfigSpace as CS
            from dehb import DEHB
            from loguru import logger
        except ImportError as e:
            raise RuntimeError(f"dehb is not installed ({e}); bash scripts/setup.sh installs "
                               "it, or: pip install -e '.[bench]' && pip install --no-deps "
                               "dehb==0.1.2") from None

        logger.disable("dehb")  # its progress lines and history files are not this harness's

        cs = CS.ConfigurationSpace(seed=seed)
        for name, s in space.items():
            if name == budget:
                continue
            d, lo, hi = s["distribution"], s["min"], s["max"]
            if d == "uniform_pow2":
                k = range(int(math.log2(lo)), int(math.log2(hi)) + 1)
                cs.add(CS.OrdinalHyperparameter(name, [2 ** i for i in k]))
            elif d == "int_uniform":
                cs.add(CS.UniformIntegerHyperparameter(name, int(lo), int(hi)))
            else:
                cs.add(CS.UniformFloatHyperparameter(name, lo, hi, log=d == "log_normal"))
        b = space[budget]
        self.budget, self.kind = budget, b["distribution"]
        self.out = tempfile.TemporaryDirectory(prefix="dehb")
        self.dehb = DEHB(cs=cs, dimensions=len(list(cs.values())), min_fidelity=float(b["min"]),
                         max_fidelity=float(b["max"]), eta=3, n_workers=1, seed=seed,
                         output_path=self.out.name)

    def ask(self) -> tuple[Any, dict[str, Any]]:
        job = self.dehb.ask()
        values = dict(job["config"])
        f = float(job["fidelity"])
        values[self.budget] = (2 ** round(math.log2(f)) if self.kind == "uniform_pow2"
                               else int(round(f)) if self.kind == "int_uniform" else f)
        return job, {k: (v.item() if hasattr(v, "item") else v) for k, v in values.items()}

    def tell(self, handle: Any, score: float | None, cost: float, stopped: bool) -> None:
        self.dehb.tell(handle, {"fitness": math.inf if score is None else -score, "cost": cost})


def make_tuner(name: str, space: dict, seed: int, budget: str | None = None) -> Tuner:
    base, _, rule = name.partition("+")
    if base == "dehb":
        if budget is None:
            raise ValueError("dehb needs the problem's budget parameter")
        return DEHBTuner(space, seed, budget)
    if base == "protein":
        return ProteinTuner(space, seed, rule or "none")
    if base in ("optuna_gp", "optuna_tpe"):
        return OptunaTuner(space, seed, base.split("_")[1], rule or "none")
    if base == "random":
        return OptunaTuner(space, seed, "random", "none")
    if base == "pufferlib_protein":
        return PufferTuner(space, seed)
    raise ValueError(f"unknown optimizer {name!r}; one of {', '.join(OPTIMIZERS)}")


# ---------------------------------------------------------------------- runs
def run_one(problem: TrainingProblem, optimizer: str, seed: int, trials: int,
            device: str = "cpu", overrides: Mapping[str, Any] | None = None) -> dict:
    """One tuner's sweep of ``trials`` trials; every trial's params, score, cost, curve."""
    import importlib

    import torch

    torch.set_num_threads(1)
    train: Callable = importlib.import_module(problem.trainer).train
    space = space_of(problem, device)
    tuner = make_tuner(optimizer, space, seed, problem.budget)
    log = []
    t_run = time.time()
    for i in range(trials):
        t0 = time.perf_counter()
        handle, values = tuner.ask()
        ask_s = time.perf_counter() - t0
        curve: list[tuple[float, float]] = []

        def report(step: float, value: float, cost: float | None = None) -> bool:
            # stored and told maximise-oriented; the bundled trainers' cost is the step
            curve.append((float(step), problem.sign * float(value)))
            return tuner.report(handle, float(step), problem.sign * float(value))

        params = {**problem.fixed, **values, **(overrides or {})}
        t1 = time.perf_counter()
        result = train(params, seed=1000 * seed + i, device=device, report=report)
        result = {**result, "score": problem.sign * result["score"]}  # maximise-oriented
        wall = time.perf_counter() - t1
        score = result.get("score")
        score = float(score) if score is not None and math.isfinite(score) else None
        cost = float(result["cost"])
        stopped = bool(result.get("stopped_early"))
        tuner.tell(handle, score, cost, stopped)
        log.append({"params": values, "score": score, "cost": cost, "stopped": stopped,
                    "curve": curve, "wall_s": wall, "ask_s": ask_s})
    from benchmarks.store import machine

    return {"problem": problem.name, "optimizer": optimizer, "seed": seed, "device": device,
            "machine": machine(), "version": VERSION, "sign": problem.sign, "trials": log, "wall_s": time.time() - t_run}


TAG: str | None = None  # the source hash whose Protein runs to read (None: the current one)


def path_of(device: str, problem: str, optimizer: str, seed: int, trials: int) -> Path:
    """Where a run is stored; Protein's runs are keyed by the hash of its source, the Study
    included (``store.source_hash(store.STUDY)``), so a change of the optimizer runs them
    again (``TAG`` reads those of another source, e.g. one changed only in error messages)."""
    if optimizer.startswith("protein"):
        tag = TAG or store.source_hash(store.STUDY)
        return RUNS / device / problem / optimizer / f"seed{seed}_n{trials}_{tag}.json"
    return RUNS / device / problem / optimizer / f"seed{seed}_n{trials}.json"


def _job(args: tuple) -> tuple[tuple, str | None]:
    problem, optimizer, seed, trials, device = args
    try:
        out = run_one(PROBLEMS[problem], optimizer, seed, trials, device)
    except Exception as e:  # noqa: BLE001 - a peer that cannot run here is reported, not fatal
        return args, f"{type(e).__name__}: {e}"
    store.save(path_of(device, problem, optimizer, seed, trials), out)
    return args, None


def run_missing(problems: list[str], optimizers: list[str], seeds: int, trials: int,
                device: str, workers: int) -> None:
    plan = [(p, o, s, trials, device) for p in problems for o in optimizers for s in range(seeds)
            if not path_of(device, p, o, s, trials).exists()]
    if not plan:
        return
    print(f"training: {len(plan)} runs to do on {device} with {workers} workers", file=sys.stderr)
    done = 0
    with ProcessPoolExecutor(max_workers=workers, initializer=store.die_with_parent) as pool:
        for fut in as_completed([pool.submit(_job, a) for a in plan]):
            args, err = fut.result()
            done += 1
            print(f"training: [{done}/{len(plan)}] {args[0]} {args[1]} seed {args[2]}"
                  + (f": skipped ({err})" if err else ""), file=sys.stderr, flush=True)


def load(device: str, problem: str, optimizer: str, seeds: int, trials: int) -> list[dict]:
    out = []
    for s in range(seeds):
        run = store.load(path_of(device, problem, optimizer, s, trials))
        if run is not None and run.get("version") == VERSION:
            out.append(run)
    return out


# ------------------------------------------------------------------- figures
def run_figures(run: dict, problem: TrainingProblem) -> dict:
    """One run's figures: cost to the target, best at each checkpoint, totals."""
    spent = 0.0
    best = -math.inf
    to_target = math.inf
    at = {c: -math.inf for c in problem.checkpoints}
    stopped = 0
    beaten_by_stopped = False
    curve = []  # (cumulative cost, best finished score so far)
    for t in run["trials"]:
        spent += t["cost"]
        if t["stopped"]:
            stopped += 1
        elif t["score"] is not None:
            best = max(best, t["score"])
            if t["score"] >= problem.sign * problem.target and to_target == math.inf:
                to_target = spent
        for c in problem.checkpoints:
            if spent <= c:
                at[c] = best
        curve.append((spent, best))
    final = best
    for t in run["trials"]:
        last = t["curve"][-1][1] if t["curve"] else None
        if t["stopped"] and last is not None and last > final:
            beaten_by_stopped = True
    return {"to_target": to_target, "best": final, "at": at, "total": spent,
            "stopped": stopped, "beaten_by_stopped": beaten_by_stopped, "curve": curve,
            "trials": len(run["trials"]), "wall_s": run["wall_s"],
            "train_s": sum(t["wall_s"] for t in run["trials"]),
            "ask_s": sum(t["ask_s"] for t in run["trials"])}


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else math.nan


def summarise(problems: list[str], optimizers: list[str], seeds: int, trials: int,
              device: str) -> tuple[str, dict]:
    """Markdown tables per problem and the figures the targets read."""
    text = [f"## Does it pay? Real training (`benchmarks/training.py`, {device})", "",
            f"Each run: {trials} trials in sequence, one torch thread, the trainer seeded per "
            f"trial; up to {seeds} seeds per tuner (`n` says how many ran). A tuner's name "
            "after `+` is its early-stopping rule (Protein: `protein run --early-stop`; "
            "Optuna: its pruner, fed the same reports). A run keeps the machine it ran on: "
            "the same trial (params and seed) can end differently on another CPU (digits, "
            "seed 0, trial 3: 0.961 on one, 0.983 on another), so a search that takes another "
            "path there ends elsewhere. Rows run on one machine compare exactly; the "
            "machines are listed under each table.", ""]
    fig: dict = {}
    for p in problems:
        prob = PROBLEMS[p]
        text += [f"### {p}: {prob.note}", "",
                 f"Cost: {prob.cost_unit}. Target: a finished trial scoring "
                 f"{'>=' if prob.sign > 0 else '<='} {prob.target}.", "",
                 "| tuner | n | runs reaching target | median cost to target | "
                 + " | ".join(f"best at {c:.3g}" for c in prob.checkpoints)
                 + " | final best | median total cost | trials stopped | stopped one that beat the final best | wall s per run |",
                 "|---|---|---|---|" + "---|" * len(prob.checkpoints) + "---|---|---|---|---|"]
        fig[p] = {}
        machines: dict[str, list[str]] = {}
        for o in optimizers:
            runs = load(device, p, o, seeds, trials)
            if not runs:
                continue
            for r in runs:  # runs stored before machines were recorded: the earlier sessions'
                machines.setdefault(r.get("machine", "an earlier machine (not recorded)"),
                                    []).append(o)
            fs = [run_figures(r, prob) for r in runs]
            reach = sum(f["to_target"] < math.inf for f in fs)
            med_target = _median([f["to_target"] for f in fs])
            row = {
                "n": len(fs), "reach": reach, "to_target": med_target,
                "at": {c: _median([f["at"][c] for f in fs]) for c in prob.checkpoints},
                "best": _median([f["best"] for f in fs]),
                "total": _median([f["total"] for f in fs]),
                "stopped": sum(f["stopped"] for f in fs) / len(fs),
                "beaten": sum(f["beaten_by_stopped"] for f in fs),
                "wall": _median([f["wall_s"] for f in fs]),
                "curves": [f["curve"] for f in fs],
            }
            fig[p][o] = row

            def num(v: float) -> str:
                return "never" if v == math.inf else ("–" if v == -math.inf or v != v else f"{v:.4g}")

            def score(v: float) -> str:  # a maximise-oriented figure, in the problem's units
                return num(v) if v == -math.inf or v != v else f"{prob.sign * v:.4g}"

            text.append(f"| {o} | {row['n']} | {reach}/{len(fs)} | {num(med_target)} | "
                        + " | ".join(score(row["at"][c]) for c in prob.checkpoints)
                        + f" | {score(row['best'])} | {row['total']:.3g} | {row['stopped']:.1f} | "
                        f"{row['beaten']}/{len(fs)} | {row['wall']:.0f} |")
        text.append("")
        text += [f"Ran on {m}: {', '.join(dict.fromkeys(os_))}." for m, os_ in machines.items()]
        text.append("")
        text += breakdown(p, prob, seeds, trials, device)
        png = plot(p, fig[p], prob)
        if png:
            text += [f"![anytime curves on {p}]({png.name})", ""]
    return "\n".join(text), fig


def planned_cost(prob: TrainingProblem, values: Mapping[str, Any]) -> float:
    """What a trial would have cost had it run to its budget (in the cost's unit)."""
    b = float(values[prob.budget])
    if prob.name == "digits":
        return b * 1437  # training examples per epoch
    return b


def breakdown(p: str, prob: TrainingProblem, seeds: int, trials: int, device: str) -> list[str]:
    """Where the compute of Protein's searches goes: trials before the default (curve) rule
    can judge (fewer than ``CURVE_MIN_TRIALS`` complete), later finished and stopped trials,
    what stopping saved, and the share spent on the dearer half of the budget range."""
    from protein.optimizer.early_stop import CURVE_MIN_TRIALS as PROTEIN_MIN_TRIALS

    lo = float(prob.parameters[prob.budget]["min"])
    hi = float(prob.parameters[prob.budget]["max"])
    mid = math.sqrt(lo * hi)
    lines = [f"Where the compute of Protein's searches on {p} goes (share of the total, "
             "mean over runs):", "",
             f"| tuner | first {PROTEIN_MIN_TRIALS} trials | later, finished | later, stopped | "
             f"saved by stopping (of what they would have spent) | on budgets above {mid:.3g} |",
             "|---|---|---|---|---|---|"]
    for o in [x for x in OPTIMIZERS if x.startswith("protein")]:
        runs = load(device, p, o, seeds, trials)
        if not runs:
            continue
        share = {"first": [], "fin": [], "stop": [], "saved": [], "dear": []}
        for r in runs:
            ts = r["trials"]
            total = sum(t["cost"] for t in ts)
            planned = sum(planned_cost(prob, t["params"]) for t in ts if t["stopped"])
            spent_stopped = sum(t["cost"] for t in ts if t["stopped"])
            share["first"].append(sum(t["cost"] for t in ts[:PROTEIN_MIN_TRIALS]) / total)
            share["fin"].append(sum(t["cost"] for t in ts[PROTEIN_MIN_TRIALS:]
                                    if not t["stopped"]) / total)
            share["stop"].append(sum(t["cost"] for t in ts[PROTEIN_MIN_TRIALS:]
                                     if t["stopped"]) / total)
            share["saved"].append((planned - spent_stopped) / (total + planned - spent_stopped))
            share["dear"].append(sum(t["cost"] for t in ts
                                     if float(t["params"][prob.budget]) > mid) / total)
        m = {k: 100 * sum(v) / len(v) for k, v in share.items()}
        lines.append(f"| {o} | {m['first']:.0f}% | {m['fin']:.0f}% | {m['stop']:.0f}% | "
                     f"{m['saved']:.0f}% | {m['dear']:.0f}% |")
    return lines + [""] + replay(p, prob, seeds, trials, device) + bounds(p, seeds, trials, device)


def replay(p: str, prob: TrainingProblem, seeds: int, trials: int, device: str,
           quantiles: tuple[float, ...] = (0.3, 0.5, 0.7)) -> list[str]:
    """What a stricter Protein rule would have saved: the runs of ``protein`` (no stopping)
    replayed against the rule at other quantiles (``early_stop_quantile``). A replay keeps
    the searches as they were, so it shows the compute a rule would cut, and whether it
    would have cut a trial that reached the run's best score, not how the search would then
    have gone on."""
    import numpy as np

    from protein.optimizer.early_stop import COST_RATIO, PROTEIN_MIN_TRIALS, StopRule

    runs = load(device, p, "protein", seeds, trials)
    if not runs:
        return []
    lines = [f"Replaying the `protein` runs (no stopping) against the quantile-line rule "
             f"(`--early-stop protein`) at other quantiles (its default is 0.3):", "",
             "| quantile | compute it would cut | runs where it would stop a trial that reached the run's best |",
             "|---|---|---|"]
    for q in quantiles:
        cut = total = 0.0
        lost = 0
        for r in runs:
            ts = r["trials"]
            best = max(t["score"] for t in ts if t["score"] is not None)
            done: list[tuple[float, float]] = []
            killed_best = False
            for t in ts:
                total += t["cost"]
                costs = [c for _, c in done]
                if len(done) >= PROTEIN_MIN_TRIALS and max(costs) >= COST_RATIO * min(costs):
                    rule = StopRule.fit(np.array([y for y, _ in done]), np.array(costs), q)
                    at = next((s for s, v in t["curve"] if s < t["cost"] and rule is not None
                               and rule.should_stop(v, s)), None)
                    if at is not None:
                        cut += t["cost"] - at
                        killed_best |= t["score"] is not None and t["score"] >= best
                if t["score"] is not None:
                    done.append((t["score"], t["cost"]))
            lost += killed_best
        lines.append(f"| {q} | {100 * cut / total:.0f}% | {lost}/{len(runs)} |")
    return lines + [""]


FAR_BELOW = 0.25  # the oracle's second row: trials ending this share of the score range
# (95th minus 5th percentile of the runs' finished scores) or more below the front


def bounds(p: str, seeds: int, trials: int, device: str) -> list[str]:
    """How much any stopping rule could save on the runs of ``protein`` (no stopping),
    replayed with the searches kept as they were (``benchmarks.replay``): the oracle, which
    knows each trial's end, and the model-free gain bound, which asks whether a curve's
    early part holds the answer at all."""
    from benchmarks.replay import replay_gain_bound, replay_oracle, score_range

    paths = [str(q) for s in range(seeds) if (q := path_of(device, p, "protein", s, trials)).exists()]
    if not paths:
        return []
    lines = ["What stopping could save at most, on the same `protein` runs replayed "
             "(`python -m benchmarks.replay`):", "",
             "| replayed rule | compute it would cut | runs where it would stop the run's best |",
             "|---|---|---|"]
    far = FAR_BELOW * score_range(paths)
    rules = (("oracle: every trial that will end below the cost-score front, at 10% of its "
              "budget", replay_oracle, (0.1,)),
             (f"oracle, only the trials that end more than {FAR_BELOW:.0%} of the score range "
              f"({far:.3g}) below the front", replay_oracle, (0.1, far)),
             ("gain bound: at 1/8, 1/4, 1/2 of the budget, the value there plus the largest "
              "gain any earlier trial made from there short of the front", replay_gain_bound,
              (1.0,)),
             ("gain bound with the 90% quantile of those gains", replay_gain_bound, (0.9,)))
    for label, how, args in rules:
        runs = [how(path, *args) for path in paths]
        total = sum(o["cost"] for r in runs for o in r)
        cut = sum(o["cost"] - o["stop_at"] for r in runs for o in r if o["stop_at"] is not None)
        lost = sum(any(o["run_best"] and o["stop_at"] is not None for o in r) for r in runs)
        lines.append(f"| {label} | {100 * cut / total:.0f}% | {lost}/{len(runs)} |")
    return lines + [""]


def plot(problem: str, rows: dict, prob: TrainingProblem) -> Path | None:
    """Best finished score against cumulative compute: the median over seeds, per tuner,
    from the point where every seed has a finished trial."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError:
        return None
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    top = max(max((c[-1][0] for c in r["curves"] if c), default=1.0) for r in rows.values())
    grid = np.geomspace(top / 200, top, 120)
    for o, r in rows.items():
        ys = []
        for c in r["curves"]:
            cost = np.array([x for x, _ in c])
            best = np.array([y for _, y in c])
            idx = np.searchsorted(cost, grid, side="right") - 1
            ys.append(np.where(idx >= 0, best[np.clip(idx, 0, None)], np.nan))
        y = np.array(ys, dtype=float)
        # a seed with no finished trial yet has no best: the median starts once every seed
        # has one (a median over the seeds that have one would dip as others join)
        med = np.where(np.isfinite(y).all(axis=0), np.median(np.where(np.isfinite(y), y, 0.0),
                                                             axis=0), np.nan)
        style = "-" if o.startswith("protein") else ("--" if o.startswith("optuna") else ":")
        ax.plot(grid, prob.sign * med, style, label=o, lw=2 if o.startswith("protein") else 1.2)
    ax.axhline(prob.target, color="grey", lw=0.8, ls="-.")
    ax.set_xscale("log")
    ax.set_xlabel(f"cumulative {prob.cost_unit}")
    ax.set_ylabel("best finished score (median over seeds)")
    ax.set_title(f"{problem}: {prob.note}")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    out = FIGURES / f"training_{problem}.png"
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def cost_text(c: float) -> str:
    """A median cost to target: a number, or why there is none."""
    return f"{c:.3g}" if math.isfinite(c) else "none (fewer than half its runs reach it)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    ap.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    ap.add_argument("--optimizers", nargs="+", default=list(PUBLISHED), choices=list(OPTIMIZERS))
    ap.add_argument("--summarise-only", action="store_true",
                    help="start no runs: summarise the stored ones")
    ap.add_argument("--tag", default=None,
                    help="read the Protein runs stored under this source hash")
    args = ap.parse_args(argv)
    global TAG
    TAG = args.tag
    device = args.device or _default_device()
    if not args.summarise_only:
        run_missing(args.problems, args.optimizers, args.seeds, args.trials, device, args.workers)
    text, fig = summarise(args.problems, args.optimizers, args.seeds, args.trials, device)
    print(text)
    from benchmarks import targets

    print("\n".join(targets.training(fig)))
    return 0


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
