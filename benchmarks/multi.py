"""Two objectives: Protein against Optuna's multi-objective samplers on one problem.

    python -m benchmarks.multi                 # runs what is missing, prints the table
    python -m benchmarks.multi --only-run      # runs only

Problem: Branin-Currin (both minimised), the standard two-objective test of the BoTorch
papers, through mixed coordinates: x1 from a log-normal parameter, x2 an integer 0..30,
plus an inert power of two. Score: the hypervolume of the found front against the
reference point (18, 6), as a fraction of the best hypervolume any run found.
Each run is stored in ``benchmarks/runs/mo__OPT__SEED[__HASH].json``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import store

RUNS = store.RUNS
REF = (18.0, 6.0)
PARAMS = {
    "lr": {"distribution": "log_normal", "min": 1e-4, "max": 1e-1},
    "steps": {"distribution": "int_uniform", "min": 0, "max": 30},
    "width": {"distribution": "uniform_pow2", "min": 16, "max": 256},
}
OPTIMIZERS = ("protein", "optuna_gp", "optuna_tpe", "optuna_nsga2", "random")


def branin_currin(values: Mapping[str, Any]) -> tuple[float, float]:
    """(Branin, Currin) at the unit-square point the params stand for; both minimised."""
    from benchmarks.problems import branin, position

    x1, x2 = position(PARAMS["lr"], values["lr"]), position(PARAMS["steps"], values["steps"])
    x2c = max(x2, 1e-9)
    currin = (1 - math.exp(-1 / (2 * x2c))) * (2300 * x1**3 + 1900 * x1**2 + 2092 * x1 + 60) \
        / (100 * x1**3 + 500 * x1**2 + 4 * x1 + 20)
    return branin(15 * x1 - 5, 15 * x2), float(currin)


def hypervolume(points: list[tuple[float, float]], ref: tuple[float, float] = REF) -> float:
    """2-d hypervolume of minimised points against ``ref``."""
    from protein.pareto import hypervolume_2d

    P = np.asarray(points, dtype=float).reshape(-1, 2)
    return hypervolume_2d(-P[:, 1], P[:, 0], -ref[1], ref[0])


# ------------------------------------------------------------------- adapters
def run_protein(budget: int, seed: int) -> list[dict]:
    import protein

    sweep = protein.Protein({"method": "protein", "metrics": {"branin": "minimize",
                                                              "currin": "minimize"},
                             "parameters": PARAMS}, seed=seed)
    log = []
    for _ in range(budget):
        t = time.perf_counter()
        params, _ = sweep.suggest()
        dt = time.perf_counter() - t
        f1, f2 = branin_currin(params)
        log.append({"f": [f1, f2], "suggest_s": dt})
        sweep.observe(params, {"branin": f1, "currin": f2})
    return log


def run_optuna(kind: str, budget: int, seed: int) -> list[dict]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = {
        "optuna_gp": lambda: optuna.samplers.GPSampler(seed=seed),
        "optuna_tpe": lambda: optuna.samplers.TPESampler(seed=seed),
        "optuna_nsga2": lambda: optuna.samplers.NSGAIISampler(seed=seed),
        "random": lambda: optuna.samplers.RandomSampler(seed=seed),
    }[kind]()
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    log = []
    for _ in range(budget):
        t = time.perf_counter()
        trial = study.ask()
        values = {
            "lr": trial.suggest_float("lr", 1e-4, 1e-1, log=True),
            "steps": trial.suggest_int("steps", 0, 30),
            "width": 2 ** trial.suggest_int("width_log2", 4, 8),
        }
        dt = time.perf_counter() - t
        f1, f2 = branin_currin(values)
        log.append({"f": [f1, f2], "suggest_s": dt})
        study.tell(trial, [f1, f2])
    return log


TAG: str | None = None  # set by --summarise-only when no runs of this source are stored


def stored_tag() -> str | None:
    """The hash with the most stored two-objective Protein runs."""
    tags = store.most_stored(RUNS.glob("mo__protein__s*__*.json"),
                             lambda p: p.stem.rsplit("__", 1)[-1])
    return next(iter(tags), None)


def path_of(opt: str, seed: int) -> Path:
    if opt == "protein":
        return RUNS / f"mo__protein__s{seed}__{TAG or store.source_hash()}.json"
    return RUNS / f"mo__{opt}__s{seed}.json"


def _work(opt: str, seed: int, budget: int) -> tuple[str, float]:
    import torch

    torch.set_num_threads(1)
    t = time.time()
    log = run_protein(budget, seed) if opt == "protein" else run_optuna(opt, budget, seed)
    path = path_of(opt, seed)
    store.save(path, {"log": log, "wall_s": time.time() - t})
    return str(path), time.time() - t


def run_missing(opts: list[str], seeds: int, budget: int, workers: int) -> None:
    RUNS.mkdir(parents=True, exist_ok=True)
    todo = [(o, s) for s in range(seeds) for o in opts
            if (run := store.load(path_of(o, s))) is None or len(run["log"]) < budget]
    print(f"two objectives: {len(todo)} runs to do", file=sys.stderr)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futs = [pool.submit(_work, o, s, budget) for o, s in todo]
        for i, f in enumerate(as_completed(futs), 1):
            p, wall = f.result()
            print(f"[{i}/{len(todo)}] {Path(p).name} {wall:.0f}s", file=sys.stderr)


def summary(opts: list[str], seeds: int, budgets: list[int]) -> tuple[str, dict]:
    """The markdown table, and {budget: {optimizer: median HV fraction}}."""
    hv: dict[str, dict[int, list[float]]] = {o: {b: [] for b in budgets} for o in opts}
    secs: dict[str, list[float]] = {o: [] for o in opts}
    for o in opts:
        for s in range(seeds):
            run = store.load(path_of(o, s))
            if run is None:
                continue
            log = run["log"]
            for b in budgets:
                if len(log) >= b:
                    hv[o][b].append(hypervolume([tuple(e["f"]) for e in log[:b]]))
            secs[o] += [e["suggest_s"] for e in log]
    best = max((v for o in opts for b in budgets for v in hv[o][b]), default=1.0) or 1.0
    lines = ["### Two objectives: Branin-Currin (mixed space)", "",
             "Hypervolume of the found (Branin, Currin) front against the reference point "
             f"{REF}, as a fraction of the largest any run found ({best:.2f}); median "
             "[25%–75%] over seeds; higher is better.", "",
             "| optimizer | " + " | ".join(f"HV@{b}" for b in budgets)
             + " | s/suggestion (median) |", "|---" * (len(budgets) + 2) + "|"]
    fig: dict[int, dict[str, float]] = {b: {} for b in budgets}
    for o in opts:
        cells = []
        for b in budgets:
            v = np.array(hv[o][b]) / best
            if not len(v):
                cells.append("–")
                continue
            fig[b][o] = float(np.median(v))
            n = "" if len(v) >= seeds else f" (n={len(v)})"
            cells.append(f"{np.median(v):.4f} [{np.percentile(v, 25):.4f}–"
                         f"{np.percentile(v, 75):.4f}]{n}")
        sec = f"{np.median(secs[o]):.3f}" if secs[o] else "–"
        lines.append(f"| {o} | " + " | ".join(cells) + f" | {sec} |")
    return "\n".join(lines) + "\n", fig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budgets", type=int, nargs="+", default=[25, 50])
    ap.add_argument("--optimizers", nargs="+", default=list(OPTIMIZERS), choices=OPTIMIZERS)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--only-run", action="store_true")
    ap.add_argument("--summarise-only", action="store_true")
    args = ap.parse_args(argv)
    if not args.summarise_only:
        run_missing(args.optimizers, args.seeds, max(args.budgets), args.workers)
    if not args.only_run:
        print(summary(args.optimizers, args.seeds, args.budgets)[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
