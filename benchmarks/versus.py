"""Protein against Ax, SMAC3 and HEBO (and Optuna's samplers and random search) on the
scikit-learn suite (``benchmarks.hpo_suite``) and the categorical and conditional problems.

    python -m benchmarks.versus --seeds 5 --slow-seeds 3 --budgets 25 50

Runs are stored beside ``benchmarks.run``'s (``benchmarks/runs/``, Protein's keyed by its
source hash) and reused. Prints the tables (median best and average rank per budget, mean
Bayesmark normalised score, seconds per suggestion, the peers' versions, the measured noise
of the noisy problems) and writes them into ``benchmarks/RESULTS.md`` between the ``versus``
markers, which ``benchmarks.run`` keeps.

Bayesmark's normalised score of a run at budget ``b``: ``100 * (1 - (best_b - opt) /
(mean_random - opt))``, where ``opt`` is the best error any run of any optimizer found on
the problem and ``mean_random`` the mean error of one random-search evaluation there (100:
found the best known; 0: no better than one random guess).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import math
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import blocks, store, summary
from benchmarks import run as runs

OPTIMIZERS = ["protein", "ax", "smac", "hebo", "optuna_gp", "optuna_tpe", "random"]
SLOW = ("ax", "hebo")  # seconds per suggestion: fewer seeds (``--slow-seeds``)
EXTRA = ["categorical_shift", "sgd_breast_cancer"]  # unordered choices, conditions
OVERHEAD_PROBLEM, OVERHEAD_AT = "hartmann6_mixed", 100  # one run per peer of this many
VERSIONS = {"ax": "ax-platform", "smac": "smac", "hebo": "HEBO", "optuna_gp": "optuna",
            "optuna_tpe": "optuna", "random": "optuna"}


def problem_names() -> list[str]:
    from benchmarks import hpo_suite

    return list(hpo_suite.problems()) + EXTRA


def normalised(opts: list[str], probs: list[str], seeds: dict[str, int], budget: int,
               tag: str) -> dict[str, dict[str, float]]:
    """Mean Bayesmark normalised score per optimizer and problem at ``budget``."""
    out: dict[str, dict[str, float]] = {o: {} for o in opts}
    for p in probs:
        logs = {o: [r["log"] for s in range(seeds[o])
                    if (r := summary.load(o, p, s, budget, tag)) and "log" in r
                    and len(r["log"]) >= budget] for o in opts}
        everyone = [e["error"] for lg in logs.values() for log in lg for e in log]
        randoms = [e["error"] for log in logs.get("random", []) for e in log]
        if not everyone or not randoms:
            continue
        best, mean_random = min(everyone), float(np.mean(randoms))
        if mean_random <= best:
            continue
        for o, lg in logs.items():
            if lg:
                out[o][p] = float(np.mean([100 * (1 - (summary.best_at(log, budget) - best)
                                                  / (mean_random - best)) for log in lg]))
    return out


def overhead(opts: list[str], tag: str, problem: str = OVERHEAD_PROBLEM,
             n: int = OVERHEAD_AT) -> tuple[str, dict[str, float]]:
    """Seconds per suggestion with about ``n`` observations: the median over the
    suggestions a run of ``n`` evaluations made with ``n - 10`` to ``n - 1`` observations
    (seed 0 on ``problem``), each peer driven as in the comparison."""
    med: dict[str, float] = {}
    for o in opts:
        r = summary.load(o, problem, 0, n, tag)
        if r and len(r.get("log", [])) >= n:
            med[o] = float(np.median([e["suggest_s"] for e in r["log"][n - 10:n]]))
    lines = [f"### Seconds per suggestion with {n - 10}-{n - 1} observations (`{problem}`, "
             "seed 0, one thread)", "", "| optimizer | seconds | Protein's share |", "|---|---|---|"]
    for o in sorted(med, key=med.get):
        lines.append(f"| {o} | {med[o]:.3f} | "
                     + (f"{med['protein'] / med[o]:.2f}x" if "protein" in med else "–") + " |")
    return "\n".join(lines) + "\n", med


def versions(opts: list[str]) -> str:
    found = []
    for o in opts:
        dist = VERSIONS.get(o)
        if dist is None:
            continue
        try:
            v = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            v = "not installed"
        item = f"{dist} {v}"
        if item not in found:
            found.append(item)
    return ", ".join(found)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--slow-seeds", type=int, default=None,
                    help=f"seeds for {', '.join(SLOW)} (default: --seeds)")
    ap.add_argument("--budgets", type=int, nargs="+", default=[25, 50, 100])
    ap.add_argument("--problems", nargs="+", default=None)
    ap.add_argument("--optimizers", nargs="+", default=OPTIMIZERS)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tag", default=None, help="Protein runs of this source hash")
    ap.add_argument("--summarise-only", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--no-overhead", action="store_true",
                    help=f"skip the {OVERHEAD_AT}-evaluation run per peer that times suggestions")
    args = ap.parse_args(argv)
    from benchmarks import hpo_suite

    probs = args.problems or problem_names()
    opts = args.optimizers
    tag = args.tag or store.source_hash()
    slow = args.seeds if args.slow_seeds is None else args.slow_seeds
    seeds = {o: slow if o in SLOW else args.seeds for o in opts}
    budget = max(args.budgets)
    t0 = time.time()
    if not args.summarise_only:
        plan = [(o, p, s, budget) for o in opts for p in probs for s in range(seeds[o])]
        plan += [(o, OVERHEAD_PROBLEM, 0, OVERHEAD_AT) for o in opts if not args.no_overhead]
        runs.run_all(plan, args.workers, tag)
    body, figures = summary.summarise(opts, probs, seeds, args.budgets, tag)
    lines = ["## Against Ax, SMAC3 and HEBO: a scikit-learn suite and the categorical "
             "problems (`benchmarks/versus.py`)", "",
             f"Command: `python -m benchmarks.versus {' '.join(argv if argv is not None else sys.argv[1:])}`  ",
             f"Machine: {store.machine()}  ",
             f"Protein source hash: {tag}; peers: {versions(opts)}; seeds: up to {args.seeds} "
             f"({', '.join(SLOW)}: up to {slow}; `n` in each cell); wall time of this invocation "
             f"{(time.time() - t0) / 60:.0f} min (stored runs reused)", "",
             "How each peer runs (its users' defaults): Ax 1.x `ax.api.Client` with its default "
             "generation strategy (centre, Sobol, modular BoTorch), unordered choices and "
             "single-parent conditions as a hierarchical space; SMAC3's "
             "`HyperparameterOptimizationFacade` (random forest; the facade its docs "
             "recommend for HPO) with ConfigSpace conditions; HEBO's defaults (no conditions: "
             "the objective drops inactive parameters); Optuna's `GPSampler` and `TPESampler`.",
             "", "Problems (errors, minimised):", ""]
    from benchmarks.problems import all_problems

    P = all_problems()
    for p in probs:
        noisy = ""
        if p in hpo_suite.NOISY:
            noisy = f" (noise sd of one evaluation, 10 replicates of the centre: " \
                    f"{hpo_suite.noise_sd(p):.4f})"
        lines.append(f"- `{p}`: {P[p].note}{noisy}")
    lines += [""]
    lines += ["### Mean Bayesmark normalised score (100: the best any run found; 0: one random "
              "guess)", "", "| optimizer | " + " | ".join(f"budget {b}" for b in args.budgets)
              + " |", "|---" * (len(args.budgets) + 1) + "|"]
    scores = {b: normalised(opts, probs, seeds, b, tag) for b in args.budgets}
    for o in opts:
        cells = []
        for b in args.budgets:
            have = scores[b][o]
            cells.append(f"{np.mean(list(have.values())):.1f}" + (
                "" if len(have) == len(probs) else f" ({len(have)} of {len(probs)} problems)")
                if have else "–")
        lines.append(f"| {o} | " + " | ".join(cells) + " |")
    lines += ["", body]
    if not args.no_overhead:
        text, med = overhead(opts, tag)
        lines.append(text)
        slowest = [o for o in SLOW if o in med]
        if "protein" in med and slowest:
            worst = max(med["protein"] / med[o] for o in slowest)
            lines.append(f"- Suggestion overhead at {OVERHEAD_AT} observations: Protein's is "
                         f"{worst:.2f} of {' and '.join(slowest)}'s (target <= 0.1) -> "
                         + ("met" if worst <= 0.1 else "NOT met")
                         + (f"; Optuna GP's {med['optuna_gp']:.3f} s against Protein's "
                            f"{med['protein']:.3f} s" if "optuna_gp" in med else ""))
    ranks = figures.get("avg_rank", {})
    for b in args.budgets:
        have = {o: r for o, r in ranks.get(b, {}).items() if math.isfinite(r)}
        if have:
            order = sorted(have, key=have.get)
            lines.append(f"- Average rank at budget {b}: " + ", ".join(
                f"{o} {have[o]:.2f}" for o in order) + f" -> Protein "
                f"{'first' if order[0] == 'protein' else 'NOT first'}"
                f"{', last' if order[-1] == 'protein' else ''}")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        blocks.write(Path(__file__).parent / "RESULTS.md", "versus", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
