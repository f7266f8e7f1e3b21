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
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

from typing import Any

from benchmarks import blocks, overhead, store, summary, targets
from benchmarks.store import source_hash

ROOT = store.ROOT
OUT = store.RUNS


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
    store.save(Path(path), data)
    return path, data["wall_s"]


def run_all(plan: list[tuple[str, str, int, int]], workers: int, tag: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    todo = [(o, p, s, b) for o, p, s, b in plan
            if (r := store.load(store.task_path(o, p, s, b, tag))) is None or len(r.get("log", [])) < b and "skipped" not in r]
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
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                             initializer=store.die_with_parent) as pool:
        futs = [pool.submit(_work, o, p, s, b, str(store.task_path(o, p, s, b, tag))) for o, p, s, b in todo]
        for i, f in enumerate(as_completed(futs), 1):
            path, wall = f.result()
            print(f"[{i}/{len(todo)}] {Path(path).name} {wall:.0f}s", file=sys.stderr)


MAIN_OPTIMIZERS = ("protein", "optuna_gp", "optuna_tpe", "random", "pufferlib_protein")
VERSUS_ARGS = ["--seeds", "10", "--slow-seeds", "10", "--budgets", "25", "50"]  # as published


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
    ap.add_argument("--training-seeds", type=int, default=10)
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
    if args.summarise_only and args.tag is None and not store.stored_tags().get(tag):
        # no runs of this exact source: summarise the most complete stored set, and say so
        tags = store.stored_tags()
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
    body, figures = summary.summarise_mixed(opts + list(args.reference), probs, seeds, args, tag)
    if not args.no_multi:
        from benchmarks import multi

        if args.summarise_only and not multi.path_of("protein", 0).exists():
            multi.TAG = args.tag or multi.stored_tag()  # --tag names the source for all
            print(f"benchmarks: two-objective Protein runs of source hash {multi.TAG} "
                  f"(none stored for {source_hash()})", file=sys.stderr)
        if not args.summarise_only:
            multi.run_missing(list(multi.OPTIMIZERS), args.seeds, 50, args.workers)
        text, figures["multi"] = multi.summary(list(multi.OPTIMIZERS), args.seeds, [25, 50])
        body += "\n" + text
    if not args.no_overhead:
        text, figures["overhead"] = overhead.overhead([50, 200, 1000], [6, 8, 12], reps=5)
        body += "\n" + text
    if args.scale_from is not None:
        text, figures["scale_lines"] = summary.reused_scale(args.scale_from)
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
        f"Machine: {store.machine()}  ",
        f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; wall time of this invocation "
        f"{(time.time() - t0) / 60:.0f} min (stored runs reused)  ",
        f"Protein source hash of the stored Protein runs: {tag}"
        + ("" if tag == source_hash() else f" (current source: {source_hash()}; see --tag)")
        + ("" if args.no_training else
           f"; of the training benchmark's: {args.training_tag or source_hash(store.STUDY)}"), "",
        "Problems (all minimised):", "",
    ]
    for p in probs:
        pr = problems()[p]
        opt = "" if pr.optimum is None else f" (optimum {pr.optimum})"
        head.append(f"- `{p}`: {pr.note}{opt}")
    head += ["", f"Seeds: {args.seeds} per optimizer (PufferLib's Protein: {args.puffer_seeds} on "
             f"{', '.join(args.puffer_problems)} at budget {args.puffer_budget}).", ""]
    text = "\n".join(head) + "\n" + targets.targets(figures) + "\n" + body
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


if __name__ == "__main__":
    raise SystemExit(main())
