"""``protein report``, ``protein verify`` and ``protein compare``."""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path
from typing import Any

from protein.cli.common import (STORAGE_HELP, emit, existing_storage, sole_study, study_args,
                                trial_id)
from protein.errors import ProteinError
from protein.output import fmt_value, table


def _report(args: argparse.Namespace) -> int:
    from protein.report import write_report
    from protein.study import Study


    study = Study.load(sole_study(args.study, args.storage), args.storage)
    if not study.trials():
        raise ProteinError(f"study {study.name!r} has no trials yet; nothing to report")
    if args.html:
        from protein.cli.common import write_output
        from protein.dashboard.page import report_html

        write_output(args.html, report_html(study, Path(args.runs) / study.name), "--html")
        print(f"protein report: wrote {args.html} (one file, opens offline)", file=sys.stderr)
        return 0
    if args.out is None:
        from protein.config.sweep import check_study_name

        check_study_name(study.name)  # the default folder is reports/<study>
    out = Path(args.out or Path("reports") / study.name)
    if out.exists() and not out.is_dir():
        raise ProteinError(f"--out {out}: a file of that name exists; give a folder for the "
                           "report's files")
    try:
        files = write_report(study, out, top_k=args.top_k, runs_dir=args.runs,
                             plots=not args.no_plots)
    except OSError as e:
        raise ProteinError(f"--out {out}: cannot write the report ({e.strerror}"
                           f"{': ' + e.filename if e.filename else ''}); give a writable folder"
                           + (" and free some space" if e.errno == 28 else "")) from None
    if args.wandb_project:
        from protein.integrations.wandb import WandbCallback, check_ready

        check_ready(args.wandb_project)

        cb = WandbCallback(args.wandb_project)
        for t in study.trials():
            if t.state.finished:
                cb.on_trial_end(study, t)
        cb.on_study_end(study)
    for f in files:
        print(f)
    print(f"protein report: {len(files)} files in {out}/", file=sys.stderr)
    return 0


def _verify(args: argparse.Namespace) -> int:
    from protein.report import run_spec
    from protein.runner.spec import RunSpec
    from protein.study import Study

    if args.seeds < 2:
        raise ProteinError(f"--seeds must be >= 2 to measure spread, got {args.seeds}")
    study = Study.load(sole_study(args.study, args.storage), args.storage)
    trial = study.trial(args.trial) if args.trial is not None else study.best()
    if trial is None:
        raise ProteinError(f"study {study.name!r} has no complete trial to verify")
    spec0 = run_spec(study.name, args.runs)
    trainer = args.trainer or spec0.get("trainer")
    command = args.command or spec0.get("command")
    if not trainer and not command:
        raise ProteinError(f"no trainer or command recorded for study {study.name!r} in "
                           f"{args.runs}/{study.name}/run.json; pass --trainer or --command")
    spec = RunSpec(study=study.name, storage=study.storage.url,
                   trainer=trainer if not args.command else None,
                   command=command if not args.trainer else None,
                   pass_mode=spec0.get("pass_mode", "flags"),
                   out_dir=str(Path(args.runs) / "verify"), device=args.device,
                   timeout=args.timeout)
    nested = _with_overrides(study.space.nest(trial.params), args.set or [])
    metric = study.config.metric
    if args.workers < 1:
        raise ProteinError(f"--workers must be >= 1, got {args.workers}")
    seeds = [args.first_seed + k for k in range(args.seeds)]
    jobs = [(spec, study.config, trial.trial_id, seed, nested, metric) for seed in seeds]
    if args.workers > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(min(args.workers, len(jobs)),
                                 mp_context=mp.get_context("spawn")) as pool:
            results = list(pool.map(_rerun, jobs))
    else:
        results = [_rerun(job) for job in jobs]
    scores = []
    for seed, (score, error, d) in zip(seeds, results):
        if error is not None:
            raise ProteinError(f"trial {trial.trial_id}, seed {seed}: {error}; its logs are "
                               f"in {d}")
        scores.append(score)
        print(f"protein verify: seed {seed}: {metric} = {fmt_value(score)}", file=sys.stderr)
    mean = statistics.fmean(scores)
    sd = statistics.stdev(scores)
    ignored = len(set(scores)) == 1
    how = (f"as {study.config.seed_key} and $PROTEIN_SEED" if study.config.seed_key
           else "as $PROTEIN_SEED")
    if ignored:
        print(f"protein verify: warning: every seed gave {metric} = {fmt_value(scores[0])}: "
              f"the {'trainer' if spec.trainer else 'command'} seems to ignore its seed (passed "
              f"{'as seed=' if spec.trainer else how}); the spread measured here says nothing "
              "about reproducibility. Make it seed its random generators from it (or name "
              "the key it reads with seed_key: in the config)", file=sys.stderr)
    out = {"trial": trial.trial_id, "original": trial.score, "seeds": args.seeds,
           "seed_values": [args.first_seed + k for k in range(args.seeds)],
           "scores": scores, "mean": mean, "std": sd, "min": min(scores), "max": max(scores),
           "seed_ignored": ignored}
    emit(out, args.format, lambda: table(
        [[trial.trial_id, trial.score, mean, sd, min(scores), max(scores), args.seeds]],
        ["trial", f"original {metric}", "mean", "std", "min", "max", "seeds"]))
    return 0


def _with_overrides(nested: dict, pairs: list[str]) -> dict:
    """The trial's config with ``--set path=value`` overrides (a longer training, another
    device): each value read as a Python literal where it is one (``10``, ``1e-3``,
    ``[64, 64]``), else kept as text."""
    import ast
    import copy

    from protein.tree import set_path

    out = copy.deepcopy(nested)
    for pair in pairs:
        path, eq, raw = pair.partition("=")
        if not path or not eq:
            raise ProteinError(f"--set {pair!r}: expected PATH=VALUE, e.g. trainer.epochs=50")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        set_path(out, path, value)
    return out


def _rerun(job: tuple) -> tuple[float | None, str | None, str]:
    """One seed of ``verify`` (a process of its own with --workers): (score, None, log
    folder), or (None, what went wrong, log folder)."""
    from protein.runner.execute import Failure, run_command, run_trainer
    from protein.runner.spec import trial_dir

    spec, cfg, tid, seed, nested, metric = job
    d = trial_dir(spec, tid) / f"seed_{seed}"
    d.mkdir(parents=True, exist_ok=True)
    try:
        if spec.trainer:
            result = run_trainer(spec, nested, seed, lambda step, value, cost=None: False, d)
        else:
            result = run_command(spec, cfg, tid, seed, nested, d, lambda s, v, c=None: False)
    except Failure as e:
        return None, f"the rerun failed: {e}", str(d)
    raw = result.get(metric, result.get("score"))
    try:
        score = float(raw)
    except (TypeError, ValueError):
        score = float("nan")
    if isinstance(raw, bool) or not math.isfinite(score):
        return None, f"the rerun gave {metric} = {raw!r}, not a finite number", str(d)
    return score, None, str(d)


def _compare(args: argparse.Namespace) -> int:
    from protein.report.stats import study_stats
    from protein.study import Study

    if len(args.studies) < 2:
        raise ProteinError("compare needs at least two study names")
    storage = existing_storage(args.storage)
    rows = [study_stats(Study.load(n, storage)) for n in args.studies]
    metrics = {(r["metric"], r["goal"]) for r in rows}
    if len(metrics) > 1:
        print(f"protein compare: warning: the studies optimise different things: {sorted(metrics)}",
              file=sys.stderr)
    emit(rows, args.format, lambda: table(
        [[r["study"], r["trials"], r["complete"], r["failed"], r["best"], r["best_trial"],
          r["cost_to_best"], r["total_cost"], r["median"], r["mean"], r["std"]] for r in rows],
        ["study", "trials", "complete", "failed", f"best {rows[0]['metric']}", "at trial",
         "cost to best", "total cost", "median", "mean", "std"]))
    return 0


def add_report(sub: Any) -> None:
    p = sub.add_parser("report", help="write results.csv, topk.json, best_config.yaml, SUMMARY.md, plots")
    study_args(p, fmt=())
    p.add_argument("--out", default=None, help="directory for the files (default reports/<study>)")
    p.add_argument("--top-k", type=int, default=5, help="trials in topk.json (default 5)")
    p.add_argument("--runs", default="runs",
                   help="protein run's --out, where run.json says how to reproduce a trial")
    p.add_argument("--no-plots", action="store_true", help="write no PNG plots")
    p.add_argument("--html", default=None, metavar="FILE",
                   help="write only the dashboard's page as one self-contained HTML file "
                        "(interactive plots, the trial table, log tails; opens offline)")
    p.add_argument("--wandb-project", default=None, help="also log every trial and the summary to W&B")
    p.set_defaults(func=_report)


def add_verify(sub: Any) -> None:
    p = sub.add_parser("verify", help="rerun the best (or --trial) config with several seeds")
    study_args(p, fmt=())
    p.add_argument("--trial", type=trial_id, default=None, help="the trial to rerun (default: the best)")
    p.add_argument("--seeds", type=int, default=5, help="how many seeds (default 5)")
    p.add_argument("--first-seed", type=int, default=10_000,
                   help="seeds are this, this + 1, ... (default 10000, away from trial ids)")
    p.add_argument("--trainer", default=None, help="trainer module (default: the one the sweep used)")
    p.add_argument("--command", default=None,
                   help="command (default: the one the sweep used); it gets the seed as the "
                        "config's seed_key and $PROTEIN_SEED")
    p.add_argument("--runs", default="runs", help="protein run's --out (reads run.json there)")
    p.add_argument("--device", default=None, help="trainer device (default: cuda if present)")
    p.add_argument("--timeout", type=float, default=None, help="seconds before a rerun fails")
    p.add_argument("--workers", type=int, default=1, help="seeds run at once (default 1)")
    p.add_argument("--set", action="append", metavar="PATH=VALUE",
                   help="override a value of the trial's config for the reruns (repeatable), "
                        "e.g. --set trainer.epochs=50 for a longer training")
    p.add_argument("--format", choices=["json", "table", "yaml"], default="json")
    p.set_defaults(func=_verify)


def add_compare(sub: Any) -> None:
    p = sub.add_parser("compare", help="two or more studies side by side")
    p.add_argument("studies", nargs="+", help="study names")
    p.add_argument("--storage", default=None, help=STORAGE_HELP)
    p.add_argument("--format", choices=["table", "json", "yaml"], default="table")
    p.set_defaults(func=_compare)


