"""Seconds per suggestion against the number of observations: Protein and Optuna's GP
sampler on the same random data, one thread (a table in RESULTS.md)."""

from __future__ import annotations

import math
import sys
import time

from typing import Any

import numpy as np


def overhead(sizes: list[int], dims: list[int], reps: int) -> tuple[str, dict]:
    """Median seconds per ``suggest`` with n stored observations, Protein vs Optuna's GP.

    Returns the table and ``{"d,n": [protein_s, optuna_s or None]}``. One untimed call of
    each comes first, so imports and first-call set-up are not counted. Both run on one
    torch thread and one BLAS thread, as every run of ``benchmarks.run`` does (Protein
    sets both itself; Optuna would otherwise use every core's BLAS thread).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _overhead(sizes, dims, reps)


def _overhead(sizes: list[int], dims: list[int], reps: int) -> tuple[str, dict]:
    import torch

    torch.set_num_threads(1)
    import optuna

    from benchmarks.peers import _optuna_values
    from protein.config import load_config
    from protein.optimizer import suggest_single as suggest
    from protein.trial import Trial, TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kinds = [("log_normal", 1e-5, 1e-1), ("uniform_pow2", 16, 1024), ("int_uniform", 1, 10),
             ("uniform", 0.0, 1.0)]
    lines = ["### Overhead: median seconds per suggestion with n observations (one thread)", "",
             f"Median of {reps} calls each, the two optimizers timed in turn (Protein, Optuna, "
             "Protein, ...), so both see the same load.", "",
             "| d (mixed types, two of them categorical) | n | Protein | Optuna GPSampler |",
             "|---|---|---|---|"]
    fig: dict[str, list] = {}
    warm = True
    for d in dims:
        params = {f"p{i}": {"distribution": k, "min": lo, "max": hi}
                  for i, (k, lo, hi) in ((i, kinds[i % 4]) for i in range(d - 2))}
        # two unordered categoricals in every space, as real sweeps have
        params[f"p{d - 2}"] = {"distribution": "categorical", "choices": ["a", "b", "c", "d", "e"]}
        params[f"p{d - 1}"] = {"distribution": "categorical", "choices": ["x", "y", "z"]}
        cfg = load_config({"goal": "minimize", "parameters": params})
        rng = np.random.default_rng(0)
        for n in sizes:
            U = cfg.space.snap(rng.random((n, d)))
            vals = [float(np.sum((u - 0.3) ** 2) + 0.01 * rng.normal()) for u in U]
            trials = [Trial(i, cfg.space.decode(u), TrialState.COMPLETE, v, 1.0)
                      for i, (u, v) in enumerate(zip(U, vals))]
            if warm:  # imports and first-call set-up, untimed
                suggest(cfg.space, trials, sign=-1.0, settings=cfg.settings, seed=99)
                warm_optuna = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=0))
                for _ in range(12):
                    tr = warm_optuna.ask()
                    warm_optuna.tell(tr, tr.suggest_float("x", 0, 1) ** 2)
                warm = False
            study = _optuna_study(optuna, params, trials, vals) if n <= 200 or d <= 8 else None
            # interleaved (Protein, Optuna, Protein, ...): both see the machine as it is at
            # that moment; timed one after the other, background load moved the verdict
            # by +-30% from run to run on a 2-core machine
            ours_s, theirs_s = [], []
            for r in range(reps):
                t = time.perf_counter()
                suggest(cfg.space, trials, sign=-1.0, settings=cfg.settings, seed=r)
                ours_s.append(time.perf_counter() - t)
                if study is not None:
                    t = time.perf_counter()
                    trial = study.ask()
                    _optuna_values(trial, params)
                    theirs_s.append(time.perf_counter() - t)
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
            ours = float(np.median(ours_s))
            theirs = f"{np.median(theirs_s):.3f}" if theirs_s else "–"
            fig[f"{d},{n}"] = [ours, None if theirs == "–" else float(theirs)]
            lines.append(f"| {d} | {n} | {ours:.3f} | {theirs} |")
            print(lines[-1], file=sys.stderr)
    lines.append("")
    return "\n".join(lines), fig


def _optuna_study(optuna: Any, params: dict[str, dict], trials: list, vals: list[float]) -> Any:
    """An Optuna GPSampler study holding ``trials`` (a pow2 parameter as its integer log2)."""
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.GPSampler(seed=0))
    dists = {}
    for name, s in params.items():
        k = s["distribution"]
        if k == "log_normal":
            dists[name] = optuna.distributions.FloatDistribution(s["min"], s["max"], log=True)
        elif k == "uniform":
            dists[name] = optuna.distributions.FloatDistribution(s["min"], s["max"])
        elif k == "int_uniform":
            dists[name] = optuna.distributions.IntDistribution(s["min"], s["max"])
        elif k == "categorical":
            dists[name] = optuna.distributions.CategoricalDistribution(s["choices"])
        else:
            dists[name + "_log2"] = optuna.distributions.IntDistribution(
                int(math.log2(s["min"])), int(math.log2(s["max"])))
    for t_, v in zip(trials, vals):
        p = {(k + "_log2" if k + "_log2" in dists else k): (int(math.log2(x)) if k + "_log2" in dists else x)
             for k, x in t_.params.items()}
        study.add_trial(optuna.trial.create_trial(params=p, distributions=dists, value=v))
    return study
