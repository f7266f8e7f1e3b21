"""Protein against its peers on the same problems, in one run.

    python -m benchmarks.run                      # the full comparison (about an hour on 2 cores)
    python -m benchmarks.run --quick              # 3 seeds, budget 30: a smoke test

The main problems are run by Protein, Optuna's GP and TPE samplers, random search and
PufferLib's Protein (``MAIN_OPTIMIZERS``); Ax, SMAC3 and HEBO, which take seconds per
suggestion, run on the scikit-learn suite of ``benchmarks.versus``, which this script runs
too (``VERSUS_ARGS``, its stored runs reused; ``--no-versus`` skips it) and whose block it
keeps in RESULTS.md.

Each (optimizer, problem, seed) run is stored under ``benchmarks/runs/`` as soon as it
finishes; a rerun reuses stored runs (Protein's are keyed by a hash of its source, so a
code change reruns them). The stored runs are committed, so a fresh clone can rebuild
RESULTS.md with ``--summarise-only`` without hours of recomputation. Prints the tables and writes ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import blocks

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "runs"


def source_hash() -> str:
    h = hashlib.sha256()
    pkg = ROOT.parent / "protein"
    files = (sorted((ROOT.parent / "distributions").rglob("*.py"))
             + sorted((pkg / "optimizer").glob("*.py")) + sorted((pkg / "config").glob("*.py"))
             + [pkg / f"{m}.py" for m in ("pareto", "space", "trial", "api")])
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:10]


def stored_tags() -> dict[str, int]:
    """Source hash -> how many single-objective Protein runs are stored under it."""
    counts: dict[str, int] = {}
    for p in OUT.glob("protein__*__s*__*.json"):
        m = re.search(r"__s\d+__([0-9a-f]{10})\.json$", p.name)
        if m:
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts


def task_path(opt: str, problem: str, seed: int, budget: int, tag: str) -> Path:
    if "@" in opt:  # "protein@TAG": Protein runs stored under another source hash
        opt, tag = opt.split("@", 1)
    suffix = f"__{tag}" if opt == "protein" else ""
    return OUT / f"{opt}__{problem}__s{seed}{suffix}.json"


def _work(opt: str, problem: str, seed: int, budget: int, path: str) -> tuple[str, float]:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    from benchmarks.peers import PEERS, Skipped
    from benchmarks.problems import all_problems

    t = time.time()
    try:
        # one thread per run for BLAS too (scipy, numpy): with both cores busy, scipy's
        # L-BFGS-B on 64-512 variables took twice as long per step with two BLAS threads
        with threadpool_limits(1):
            log = PEERS[opt](all_problems()[problem], budget, seed)
        data: dict[str, Any] = {"log": log}
    except Skipped as e:
        data = {"skipped": str(e)}
    data["wall_s"] = time.time() - t
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
    return path, data["wall_s"]


def run_all(plan: list[tuple[str, str, int, int]], workers: int, tag: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    todo = [(o, p, s, b) for o, p, s, b in plan
            if (r := load(o, p, s, b, tag)) is None or len(r.get("log", [])) < b and "skipped" not in r]
    print(f"{len(plan) - len(todo)} runs stored, {len(todo)} to run", file=sys.stderr)
    if not todo:
        return
    # seed-major (a run stopped part way leaves every optimizer with as many seeds), and
    # within a seed the longest first: PufferLib's Protein, HEBO and Ax, then the GP methods
    weight = {"pufferlib_protein": 0, "hebo": 0, "ax": 0, "smac": 1, "protein": 1, "optuna_gp": 2}
    todo.sort(key=lambda t: (t[2], weight.get(t[0], 3), t[1]))
    # SMAC3's suggestions follow the order of Python's string hashes: fresh interpreters
    # with one hash seed make its runs replay (forked workers would inherit a random one)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futs = [pool.submit(_work, o, p, s, b, str(task_path(o, p, s, b, tag))) for o, p, s, b in todo]
        for i, f in enumerate(as_completed(futs), 1):
            path, wall = f.result()
            print(f"[{i}/{len(todo)}] {Path(path).name} {wall:.0f}s", file=sys.stderr)


def load(opt: str, problem: str, seed: int, budget: int, tag: str) -> dict | None:
    p = task_path(opt, problem, seed, budget, tag)
    return json.loads(p.read_text()) if p.exists() else None


# ------------------------------------------------------------------ summaries
def best_at(log: list[dict], n: int) -> float:
    return min(e["error"] for e in log[:n])


def q(values: list[float]) -> tuple[float, float, float]:
    a = np.asarray(values, dtype=float)
    return float(np.median(a)), float(np.percentile(a, 25)), float(np.percentile(a, 75))


def fmt(x: float) -> str:
    if not math.isfinite(x):
        return "–"
    if x == 0:
        return "0"
    return f"{x:.3g}" if abs(x) < 1e-2 or abs(x) >= 100 else f"{x:.4f}".rstrip("0").rstrip(".")


def summarise(opts: list[str], probs: list[str], seeds: dict[str, int], budgets: list[int],
              tag: str) -> tuple[str, dict]:
    from benchmarks.problems import all_problems, front_hypervolume

    P = all_problems()
    lines: list[str] = []
    figures: dict[str, Any] = {}
    for budget in budgets:
        lines += [f"### Median best after {budget} evaluations [25%–75%] (synthetic: regret; others: error)",
                  "", "| optimizer | " + " | ".join(probs) + " | avg rank |",
                  "|---" * (len(probs) + 2) + "|"]
        med: dict[str, dict[str, float]] = {o: {} for o in opts}
        cells: dict[str, list[str]] = {o: [] for o in opts}
        for p in probs:
            opt_ref = P[p].optimum
            for o in opts:
                runs = [load(o, p, s, budget, tag) for s in range(seeds[o])]
                logs = [r["log"] for r in runs if r and "log" in r and len(r["log"]) >= budget]
                if not logs:
                    cells[o].append("–")
                    continue
                vals = [best_at(lg, budget) - (opt_ref or 0.0) for lg in logs]
                m, lo, hi = q(vals)
                med[o][p] = m
                figures.setdefault("q75", {}).setdefault(budget, {}).setdefault(o, {})[p] = hi
                cells[o].append(f"{fmt(m)} [{fmt(lo)}–{fmt(hi)}]" + ("" if len(logs) >= 10 else f" (n={len(logs)})"))
        ranks: dict[str, list[float]] = {o: [] for o in opts}
        for p in probs:
            ranked = [o for o in opts if "@" not in o]  # reference rows are not ranked
            have = [o for o in ranked if p in med[o]]
            if len(have) < len(ranked):
                continue  # ranks only where every optimizer has results
            order = sorted(have, key=lambda o: med[o][p])
            for o in have:
                # ties share the average rank
                tied = [x for x in have if med[x][p] == med[o][p]]
                pos = [order.index(x) + 1 for x in tied]
                ranks[o].append(sum(pos) / len(pos))
        for o in opts:
            avg = np.mean(ranks[o]) if ranks[o] else math.nan
            lines.append(f"| {o} | " + " | ".join(cells[o]) + f" | {fmt(avg) if ranks[o] else '–'} |")
            figures.setdefault("avg_rank", {}).setdefault(budget, {})[o] = float(avg)
            figures.setdefault("median", {}).setdefault(budget, {})[o] = med[o]
        lines.append("")
        lines.append("Average rank: over the problems where every optimizer in the table has "
                     "results (ties share a rank).")
        lines.append("")

    for p in [p for p in probs if P[p].cost_aware]:
        all_best = min(
            min(e["error"] for e in r["log"])
            for o in opts for s in range(seeds[o])
            if (r := load(o, p, s, max(budgets), tag)) and "log" in r
        )
        target = all_best * 1.05
        lines += [f"### Cost-aware problem (`{p}`)", "",
                  f"Target: within 5% of the best error found by anyone ({fmt(all_best)} → ≤ {fmt(target)}).",
                  "", "| optimizer | HV@50 [IQR] | HV@100 [IQR] | best error@100 | cost to target (median) | runs reaching target | total cost@100 |",
                  "|---|---|---|---|---|---|---|"]
        for o in opts:
            runs = [r for s in range(seeds[o]) if (r := load(o, p, s, max(budgets), tag)) and "log" in r]
            if not runs:
                continue
            row = [o]
            for b in (50, 100):
                hv = [front_hypervolume(np.array([e["error"] for e in r["log"][:b]]),
                                        np.array([e["cost"] for e in r["log"][:b]]), P[p].cost_range)
                      for r in runs if len(r["log"]) >= b]
                if hv:
                    m, lo, hi = q(hv)
                    row.append(f"{m:.4f} [{lo:.4f}–{hi:.4f}]")
                    key = "hv" if p == "budget_costaware" else f"hv:{p}"
                    figures.setdefault(key, {}).setdefault(b, {})[o] = m
                else:
                    row.append("–")
            row.append(fmt(q([min(e["error"] for e in r["log"]) for r in runs])[0]))
            reach = []
            for r in runs:
                cum = 0.0
                hit = math.inf
                for e in r["log"]:
                    cum += e["cost"]
                    if e["error"] <= target:
                        hit = cum
                        break
                reach.append(hit)
            ok = [x for x in reach if math.isfinite(x)]
            row.append(f"{np.median(reach):.3g}" if len(ok) * 2 > len(reach) else "not reached (median)")
            row.append(f"{len(ok)}/{len(reach)}")
            row.append(f"{np.median([sum(e['cost'] for e in r['log']) for r in runs]):.3g}")
            key = "cost_to_target" if p == "budget_costaware" else f"cost_to_target:{p}"
            figures.setdefault(key, {})[o] = float(np.median(reach))
            lines.append("| " + " | ".join(row) + " |")
        lines += ["", "HV: hypervolume of the (normalised log10 cost, error) front, reference (1, 1), "
                  "higher is better. Cost to target: cumulative cost spent until the first "
                  "evaluation within 5% of the best error (runs that never reach it count as infinite).", ""]

    lines += ["### Seconds per suggestion (median over the runs above, all evaluations)", "",
              "| optimizer | " + " | ".join(probs) + " |", "|---" * (len(probs) + 1) + "|"]
    for o in opts:
        row = []
        for p in probs:
            ts = [e["suggest_s"] for s in range(seeds[o])
                  if (r := load(o, p, s, max(budgets), tag)) and "log" in r for e in r["log"]]
            row.append(f"{np.median(ts):.3f}" if ts else "–")
        lines.append(f"| {o} | " + " | ".join(row) + " |")
    lines.append("")
    return "\n".join(lines), figures


# ------------------------------------------------------------------- overhead
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


# ------------------------------------------------------------------------ main
def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"torch {torch.__version__}, one torch thread per run")


MAIN_OPTIMIZERS = ("protein", "optuna_gp", "optuna_tpe", "random", "pufferlib_protein")
VERSUS_ARGS = ["--seeds", "5", "--slow-seeds", "2", "--budgets", "25", "50"]  # as published


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--puffer-seeds", type=int, default=3)
    ap.add_argument("--budgets", type=int, nargs="+", default=[50, 100])
    ap.add_argument("--problems", nargs="+", default=None)
    ap.add_argument("--optimizers", nargs="+", default=None,
                    help=f"default: {' '.join(MAIN_OPTIMIZERS)}")
    ap.add_argument("--no-versus", action="store_true",
                    help="skip benchmarks.versus (Ax, SMAC3, HEBO on the scikit-learn suite)")
    ap.add_argument("--puffer-problems", nargs="+", default=["hartmann6_mixed", "budget_costaware"])
    ap.add_argument("--puffer-budget", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reference", nargs="*", default=[],
                    help="extra unranked rows, e.g. protein@d8579f74af (runs of another source hash)")
    ap.add_argument("--quick", action="store_true", help="3 seeds, budget 30, no PufferLib")
    ap.add_argument("--no-overhead", action="store_true")
    ap.add_argument("--no-multi", action="store_true", help="skip the two-objective problem")
    ap.add_argument("--no-scale", "--no-concurrency", dest="no_scale", action="store_true",
                    help="skip the storage, many-worker and CLI tables (benchmarks.scale)")
    ap.add_argument("--scale-from", type=Path, default=None, metavar="RESULTS.md",
                    help="instead of measuring the scale tables, copy them (and their target "
                         "lines) from an earlier RESULTS.md, labelled with its date and source: "
                         "for a change that leaves storage, the CLI and the runner alone")
    ap.add_argument("--no-trainer-speed", action="store_true")
    ap.add_argument("--no-training", action="store_true",
                    help="skip the real-training benchmark (benchmarks.training)")
    ap.add_argument("--training-seeds", type=int, default=5)
    ap.add_argument("--training-trials", type=int, default=30)
    ap.add_argument("--training-tag", default=None,
                    help="the source hash of the training benchmark's Protein runs to read "
                         "(default: the current source)")
    ap.add_argument("--only-run", action="store_true", help="run what is missing, write nothing")
    ap.add_argument("--out", type=Path, default=None, metavar="FILE.md",
                    help="write the report here, not to benchmarks/RESULTS.md: for a subset "
                         "of problems or optimizers, or more seeds than the published run")
    ap.add_argument("--summarise-only", action="store_true",
                    help="start no runs: summarise the stored ones (missing seeds show as n=K)")
    ap.add_argument("--tag", default=None,
                    help="reuse Protein runs stored under this source hash (after a change that "
                         "does not alter CPU behaviour; RESULTS.md names the tag)")
    args = ap.parse_args(argv)

    from benchmarks.peers import PEERS
    from benchmarks.problems import problems

    probs = args.problems or list(problems())
    opts = args.optimizers or list(MAIN_OPTIMIZERS)
    unknown = sorted(set(opts) - set(PEERS))
    if unknown:
        ap.error(f"--optimizers: unknown {', '.join(unknown)}; expected some of "
                 f"{', '.join(PEERS)}")
    if args.quick:
        args.seeds, args.budgets, args.puffer_seeds = 3, [30], 0
    budget = max(args.budgets)
    tag = args.tag or source_hash()
    if args.summarise_only and args.tag is None and not stored_tags().get(tag):
        # no runs of this exact source: summarise the most complete stored set, and say so
        tags = stored_tags()
        if tags:
            tag = max(tags, key=lambda t: tags[t])
            print(f"benchmarks: no Protein runs stored for source hash {source_hash()}; "
                  f"summarising the {tags[tag]} runs of source hash {tag} (rerun without "
                  "--summarise-only to measure this source)", file=sys.stderr)
    seeds = {o: (args.puffer_seeds if o == "pufferlib_protein" else args.seeds) for o in opts}
    plan = []
    for o in opts:
        for p in probs:
            if o == "pufferlib_protein" and p not in args.puffer_problems:
                continue
            b = args.puffer_budget if o == "pufferlib_protein" else budget
            plan += [(o, p, s, b) for s in range(seeds[o])]
    t0 = time.time()
    if not args.summarise_only:
        run_all(plan, args.workers, tag)
    if args.only_run:
        return 0
    # PufferLib's runs are shorter: summarise them at their own budget
    for ref in args.reference:
        seeds[ref] = args.seeds
    body, figures = summarise_mixed(opts + list(args.reference), probs, seeds, args, tag)
    if not args.no_multi:
        from benchmarks import multi

        if args.summarise_only and not multi.path_of("protein", 0).exists():
            multi.TAG = args.tag or multi.stored_tag()  # --tag names the source for all
            print(f"benchmarks: two-objective Protein runs of source hash {multi.TAG} "
                  f"(none stored for {multi.protein_hash()})", file=sys.stderr)
        if not args.summarise_only:
            multi.run_missing(list(multi.OPTIMIZERS), args.seeds, 50, args.workers)
        text, figures["multi"] = multi.summary(list(multi.OPTIMIZERS), args.seeds, [25, 50])
        body += "\n" + text
    if not args.no_overhead:
        text, figures["overhead"] = overhead([50, 200, 1000], [6, 8, 12], reps=5)
        body += "\n" + text
    if args.scale_from is not None:
        text, figures["scale_lines"] = reused_scale(args.scale_from)
        body += "\n" + text
    elif not args.no_scale:
        from benchmarks import scale

        text, figures["scale"] = scale.run(["sqlite", "postgres"])
        body += "\n" + text
    if not args.no_training:
        from benchmarks import training

        device = training._default_device()
        training.TAG = args.training_tag
        probs_t = list(training.PROBLEMS)
        if not args.summarise_only:
            training.run_missing(probs_t, list(training.PUBLISHED), args.training_seeds,
                                 args.training_trials, device, args.workers)
        text, figures["training"] = training.summarise(
            probs_t, list(training.PUBLISHED), args.training_seeds, args.training_trials, device)
        body += "\n" + text
    if not args.no_trainer_speed:
        from benchmarks import trainer_speed

        body += "\n" + trainer_speed.main(["--envs", "64", "1024", "4096"])
    cmd = "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:])
    head = [
        "# Benchmark results", "",
        f"Command: `{cmd.strip()}`  ",
        f"Machine: {machine()}  ",
        f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; wall time of this invocation "
        f"{(time.time() - t0) / 60:.0f} min (stored runs reused)  ",
        f"Protein source hash of the stored Protein runs: {tag}"
        + ("" if tag == source_hash() else f" (current source: {source_hash()}; see --tag)")
        + ("" if args.no_training else
           f"; of the training benchmark's: {args.training_tag or source_hash()}"), "",
        "Problems (all minimised):", "",
    ]
    for p in probs:
        pr = problems()[p]
        opt = "" if pr.optimum is None else f" (optimum {pr.optimum})"
        head.append(f"- `{p}`: {pr.note}{opt}")
    head += ["", f"Seeds: {args.seeds} per optimizer (PufferLib's Protein: {args.puffer_seeds} on "
             f"{', '.join(args.puffer_problems)} at budget {args.puffer_budget}).", ""]
    text = "\n".join(head) + "\n" + targets(figures) + "\n" + body
    print(text)
    if not (args.no_versus or args.quick or args.out is not None):
        from benchmarks import versus

        # writes its own block into RESULTS.md, which the write below keeps
        versus.main(VERSUS_ARGS + (["--summarise-only"] if args.summarise_only else [])
                    + (["--tag", args.tag] if args.tag else [])
                    + ["--workers", str(args.workers)])
    if args.out is not None:
        args.out.write_text(text + "\n")
    elif not args.quick:
        (ROOT / "RESULTS.md").write_text(text + blocks.kept(ROOT / "RESULTS.md") + "\n")
        (ROOT / "out").mkdir(exist_ok=True)
        (ROOT / "out" / "figures.json").write_text(json.dumps(figures, indent=1, default=str))
    return 0


def targets(fig: dict) -> str:
    """The issue's targets, each with the measured figure and whether it holds."""
    out = ["## Against the targets", ""]
    for b, hv in sorted(fig.get("multi", {}).items()):
        if "protein" in hv:
            order = sorted(hv, key=lambda o: -hv[o])
            out.append(f"- Two objectives (Branin-Currin), hypervolume fraction at {b}: "
                       + ", ".join(f"{o} {hv[o]:.4f}" for o in order)
                       + f" -> Protein {'largest' if order[0] == 'protein' else 'NOT largest'}"
                       + (f"; target >= 0.98: {'met' if hv['protein'] >= 0.98 else 'NOT met'}"
                          if b == 50 else ""))
    for b, ranks in sorted(fig.get("avg_rank", {}).items()):
        have = {o: r for o, r in ranks.items() if r == r}
        if not have:
            continue
        order = sorted(have, key=have.get)
        first, last = order[0], order[-1]
        out.append(f"- Average rank at budget {b}: " + ", ".join(f"{o} {have[o]:.2f}" for o in order)
                   + f" -> Protein {'ranks first' if first == 'protein' else 'does NOT rank first'}"
                   + (" and last on none" if last != "protein" else ""))
    med = fig.get("median", {})
    q75 = fig.get("q75", {})

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    cats = ("categorical_shift", "sgd_breast_cancer", "arch_costaware")
    if 50 in med and "protein" in med[50] and "optuna_gp" in med[50]:
        for p in cats:
            ours, gp = med[50]["protein"].get(p), med[50]["optuna_gp"].get(p)
            if ours is not None and gp is not None:
                out.append(f"- Categorical `{p}` median best at 50: Protein {ours:.4g}, Optuna GP "
                           f"{gp:.4g} (target <= Optuna GP) -> {verdict(ours <= gp)}")
        ranked = {o: v for o, v in med[50].items() if "@" not in o and all(p in v for p in cats)}
        if ranked and "protein" in ranked:
            ranks = {o: 0.0 for o in ranked}
            for p in cats:
                order = sorted(ranked, key=lambda o: ranked[o][p])
                for i, o in enumerate(order, 1):
                    ranks[o] += i / len(cats)
            order = sorted(ranks, key=ranks.get)
            out.append("- Average rank on the categorical problems at 50: "
                       + ", ".join(f"{o} {ranks[o]:.2f}" for o in order)
                       + f" (target: Protein first) -> {verdict(order[0] == 'protein')}")
    for b, target, q_target in ((50, 0.01, 0.05), (100, 0.001, None)):
        h = med.get(b, {}).get("protein", {}).get("hartmann6_mixed")
        if h is not None:
            line = f"- Hartmann6 (mixed) median regret at {b}: {h:.4g} (target <= {target})"
            ok = h <= target
            hq = q75.get(b, {}).get("protein", {}).get("hartmann6_mixed")
            if q_target is not None and hq is not None:
                line += f", 75th percentile {hq:.4g} (target <= {q_target})"
                ok = ok and hq <= q_target
            out.append(line + f" -> {verdict(ok)}")
    br = med.get(100, {}).get("protein", {}).get("branin_mixed")
    if br is not None:
        out.append(f"- Branin (mixed) median regret at 100: {br:.4g} (target <= 0.001) -> "
                   f"{verdict(br <= 0.001)}")
    if 100 in med and "protein" in med[100] and "optuna_gp" in med[100]:
        for p in ("hartmann6_mixed", "ackley10_mixed", "branin_mixed", "rosenbrock5_log",
                  "categorical_shift"):
            ours, gp = med[100]["protein"].get(p), med[100]["optuna_gp"].get(p)
            if ours is not None and gp is not None:
                ratio = ours / gp if gp > 0 else (1.0 if ours == 0 else math.inf)
                out.append(f"- `{p}` median regret at 100: Protein {ours:.3g}, Optuna GP {gp:.3g}, "
                           f"ratio {ratio:.3g} (target <= 10) -> {verdict(ratio <= 10)}")
    ack = med.get(50, {}).get("protein", {}).get("ackley10_mixed")
    if ack is not None:
        out.append(f"- Ackley10 (mixed) median regret at 50: {ack:.3g} (target <= 3.0) -> "
                   f"{verdict(ack <= 3.0)}")
    hv = fig.get("hv", {})
    for b in sorted(hv):
        order = sorted(hv[b], key=lambda o: -hv[b][o])
        ours = hv[b].get("protein", math.nan)
        peers = [o for o in order if "@" not in o]  # reference rows (another source) rank with none
        out.append(f"- Cost-aware front hypervolume at {b}: " + ", ".join(f"{o} {hv[b][o]:.4f}" for o in order)
                   + f" -> Protein {'largest' if peers[0] == 'protein' else 'NOT largest'}"
                   + " of the peers"
                   + (f"; target >= 0.77: {verdict(ours >= 0.77)}" if b == 50 else ""))
    c = fig.get("cost_to_target", {})
    if c:
        out.append("- Cumulative cost to within 5% of the best error (median; inf = most runs never "
                   "reach it): " + ", ".join(f"{o} {v:.3g}" for o, v in sorted(c.items(), key=lambda x: x[1])))
    oh = fig.get("overhead", {})
    if "8,200" in oh:
        ours, theirs = oh["8,200"]
        said = ("no slower: met" if theirs is not None and ours <= theirs
                else "slower: NOT met")
        out.append(f"- Overhead at 200 observations, d = 8: Protein {ours:.3f} s, Optuna GPSampler "
                   f"{theirs if theirs is None else f'{theirs:.3f}'} s -> {said}")
    if "8,1000" in oh:
        ours = oh["8,1000"][0]
        out.append(f"- Overhead at 1000 observations, d = 8: Protein {ours:.3f} s -> "
                   f"{'met' if ours <= 5 else 'NOT met'} (target <= 5 s)")
    pf = fig.get("puffer", {})
    for b, vals in sorted(pf.get("median", {}).items()):
        ours = vals.get("protein", {}).get("hartmann6_mixed")
        theirs = vals.get("pufferlib_protein", {}).get("hartmann6_mixed")
        if ours is not None and theirs is not None:
            out.append(f"- Hartmann6 (mixed) median regret at {b} against PufferLib's Protein run "
                       f"here: Protein {ours:.4f}, PufferLib {theirs:.4f} -> Protein's regret is "
                       f"{ours / theirs:.2f} of PufferLib's (target <= 0.5)"
                       if theirs > 0 else "")
    if pf.get("hv") or pf.get("cost_to_target"):
        for b, vals in sorted(pf.get("hv", {}).items()):
            out.append(f"- Against PufferLib's Protein, front hypervolume at {b}: "
                       + ", ".join(f"{o} {v:.4f}" for o, v in sorted(vals.items(), key=lambda x: -x[1])))
        if pf.get("cost_to_target"):
            out.append("- Against PufferLib's Protein, cost to within 5% of the best error: "
                       + ", ".join(f"{o} {v:.3g}" for o, v in sorted(pf["cost_to_target"].items(),
                                                                        key=lambda x: x[1])))
    out += scale_targets(fig.get("scale")) + fig.get("scale_lines", [])
    if fig.get("training"):
        from benchmarks import training

        out += training.targets(fig["training"])
    out.append("")
    return "\n".join(out)


SCALE_TARGET_PREFIXES = ("- sqlite,", "- postgres,", "- CLI median", "- 8 bash workers",
                         "- Nothing lost")


def reused_scale(path: Path) -> tuple[str, list[str]]:
    """The scale section and scale target lines of an earlier RESULTS.md, each labelled."""
    text = path.read_text()
    lines = text.splitlines()
    when = next((ln for ln in lines if ln.startswith("Date: ")), "Date: unknown")
    when = when.split(";")[0].removeprefix("Date: ")
    src = next((ln for ln in lines if ln.startswith("Protein source hash")), "").split(": ")[-1]
    from benchmarks.concurrency import HEADING

    start = text.find(HEADING)
    if start < 0:
        raise SystemExit(f"benchmarks: {path} has no scale tables ({HEADING})")
    end = text.find("\n## ", start)
    # tables that were themselves copied keep the date and source they were measured on
    earlier = re.search(r"_The scale tables below are copied from \S+ of (.+?) \(source (\w+)\)",
                        text[:start])
    if earlier:
        when, src = earlier.group(1), earlier.group(2)
    label = (f"_The scale tables below are copied from {path.name} of {when} (source "
             f"{src}), not measured in this invocation: the change since left storage, the "
             "CLI and the runner alone._")
    section = label + "\n\n" + text[start: end if end > 0 else len(text)].rstrip() + "\n"
    suffix = re.compile(r"( \(copied from [^)]*\))+$")
    targets = [suffix.sub("", ln) + f" (copied from {when})" for ln in lines
               if ln.startswith(SCALE_TARGET_PREFIXES)]
    return section, targets


def scale_targets(sc: dict | None) -> list[str]:
    """The targets of "Studies at scale and a CLI that answers at once"."""
    if not sc:
        return []

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    out = []
    for r in sc.get("storage", []):
        if r["workers"] == 8 and r["stored"] in (0, 10000):
            need = 300 if r["stored"] == 0 else 100
            out.append(f"- {r['backend']}, random method, 8 workers, {r['stored']} stored trials: "
                       f"{r['asks_per_s']:.0f} ask+tell/s (target >= {need}) -> "
                       f"{verdict(r['asks_per_s'] >= need and r['accounted'])}")
    for r in sc.get("crowd", []):
        out.append(f"- {r['backend']}, GP method, {r['stored']} stored trials, {r['workers']} "
                   f"workers asking at once: the last suggestion after {r['max_wait_s']:.1f} s "
                   f"(target <= 10 s) -> {verdict(r['max_wait_s'] <= 10 and r['accounted'])}")
    c, b = sc.get("cli"), sc.get("bash")
    if c:
        out.append(f"- CLI median per call: tell {c['tell']:.2f} s, random ask "
                   f"{c['ask_random']:.2f} s (targets <= 0.3 s), GP ask on {c['gp_stored']} "
                   f"trials {c['ask_gp']:.2f} s (target <= 3 s) -> "
                   f"{verdict(c['tell'] <= 0.3 and c['ask_random'] <= 0.3 and c['ask_gp'] <= 3)}")
    if b:
        out.append(f"- {b['workers']} bash workers x {b['pairs']} ask/tell pairs: Protein "
                   f"{b['protein_wall_s']:.1f} s, Optuna's CLI {b['optuna_wall_s']:.1f} s: "
                   f"{b['speedup']:.1f}x (target >= 3x) -> "
                   f"{verdict(b['speedup'] >= 3 and b['protein_accounted'])}")
    accounted = all(r["accounted"] for r in sc.get("storage", []) + sc.get("crowd", []))
    accounted = accounted and (not b or b["protein_accounted"])
    out.append(f"- Nothing lost or duplicated in any cell of the scale tables -> {verdict(accounted)}")
    return out


def summarise_mixed(opts: list[str], probs: list[str], seeds: dict[str, int],
                    args: argparse.Namespace, tag: str) -> tuple[str, dict]:
    if "pufferlib_protein" not in opts:
        return summarise(opts, probs, seeds, args.budgets, tag)
    others = [o for o in opts if o != "pufferlib_protein"]
    opts = [o for o in opts if "@" not in o]
    # PufferLib's runs are stored at their own budget; read them through a renamed tag
    body, figures = summarise(others, probs, seeds, args.budgets, tag)
    pb = args.puffer_budget
    pp = [p for p in probs if p in args.puffer_problems]
    if seeds["pufferlib_protein"] and pp:
        extra, fig2 = summarise(["protein", "pufferlib_protein", "optuna_gp"], pp, seeds, [pb], tag)
        body += f"\n## Against PufferLib's Protein (budget {pb})\n\n" + extra
        figures["puffer"] = fig2
    return body, figures


if __name__ == "__main__":
    raise SystemExit(main())
