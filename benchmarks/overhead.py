"""Seconds per suggestion against the number of observations: Protein and Optuna's GP
sampler on the same random data, one thread (a table in RESULTS.md)."""

from __future__ import annotations

import math
import sys
import time

import numpy as np


def overhead(sizes: list[int], dims: list[int], reps: int) -> tuple[str, dict]:
    """Median seconds per ``suggest`` with n stored observations, Protein vs Optuna's GP.

    Returns the table and ``{"d,n": [protein_s, optuna_s or None]}``. One untimed call of
    each comes first, so imports and first-call set-up are not counted.
    """
    import torch

    torch.set_num_threads(1)
    import optuna

    from protein.config import load_config
    from protein.optimizer import suggest_single as suggest
    from protein.trial import Trial, TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kinds = [("log_normal", 1e-5, 1e-1), ("uniform_pow2", 16, 1024), ("int_uniform", 1, 10),
             ("uniform", 0.0, 1.0)]
    lines = ["### Overhead: median seconds per suggestion with n observations (one thread)", "",
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
            ts = []
            for r in range(reps):
                t = time.perf_counter()
                suggest(cfg.space, trials, sign=-1.0, settings=cfg.settings, seed=r)
                ts.append(time.perf_counter() - t)
            ours = float(np.median(ts))
            theirs = "–"
            if n <= 200 or d <= 8:
                study = optuna.create_study(direction="minimize",
                                            sampler=optuna.samplers.GPSampler(seed=0))
                dists = {}
                from benchmarks.peers import _optuna_values

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
                    p = {k2: (int(math.log2(v2)) if k2 + "_log2" in dists else v2)
                         for k2, v2 in t_.params.items()}
                    p = {(k2 + "_log2" if k2 + "_log2" in dists else k2): v2 for k2, v2 in p.items()}
                    study.add_trial(optuna.trial.create_trial(params=p, distributions=dists, value=v))
                ts = []
                for r in range(reps):
                    t = time.perf_counter()
                    trial = study.ask()
                    _optuna_values(trial, params)
                    ts.append(time.perf_counter() - t)
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                theirs = f"{np.median(ts):.3f}"
            fig[f"{d},{n}"] = [ours, None if theirs == "–" else float(theirs)]
            lines.append(f"| {d} | {n} | {ours:.3f} | {theirs} |")
            print(lines[-1], file=sys.stderr)
    lines.append("")
    return "\n".join(lines), fig
