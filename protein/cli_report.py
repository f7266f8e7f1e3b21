"""``protein report``, ``protein verify`` and ``protein compare``."""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

from protein.cli import _EXTRA_COMMANDS, emit
from protein.errors import ProteinError
from protein.output import fmt_value, table


def _report(args: argparse.Namespace) -> int:
    from protein.report import write_report
    from protein.study import Study

    study = Study.load(args.study, args.storage)
    if not study.trials():
        raise ProteinError(f"study {study.name!r} has no trials yet; nothing to report")
    out = Path(args.out or Path("reports") / study.name)
    files = write_report(study, out, top_k=args.top_k, runs_dir=args.runs, plots=not args.no_plots)
    if args.wandb_project:
        from protein.integrations.wandb import WandbCallback

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
    from protein.runner import RunSpec, _run_command, _run_trainer, trial_dir
    from protein.study import Study

    study = Study.load(args.study, args.storage)
    trial = study.trial(args.trial) if args.trial is not None else study.best()
    if trial is None:
        raise ProteinError(f"study {study.name!r} has no complete trial to verify")
    spec0 = run_spec(study.name, args.runs)
    trainer = args.trainer or spec0.get("trainer")
    command = args.command or spec0.get("command")
    if not trainer and not command:
        raise ProteinError(f"no trainer or command recorded for study {study.name!r} in "
                           f"{args.runs}/{study.name}/run.json; pass --trainer or --command")
    spec = RunSpec(study=study.name, storage=study.storage.backend.url, trainer=trainer if not args.command else None,
                   command=command if not args.trainer else None,
                   pass_mode=spec0.get("pass_mode", "flags"), out_dir=str(Path(args.runs) / "verify"),
                   device=args.device, timeout=args.timeout)
    nested = study.space.nest(trial.params)
    metric = study.config.metric
    scores = []
    for k in range(args.seeds):
        seed = 10_000 + k
        if spec.trainer:
            result = _run_trainer(spec, nested, seed, lambda s, v: False)
        else:
            d = trial_dir(spec, trial.trial_id) / f"seed_{seed}"
            d.mkdir(parents=True, exist_ok=True)
            fake = type("T", (), {"trial_id": trial.trial_id})()
            result = _run_command(spec, study, fake, nested, d, lambda s, v: False)
        score = float(result.get(metric, result.get("score", float("nan"))))
        scores.append(score)
        print(f"protein verify: seed {seed}: {metric} = {fmt_value(score)}", file=sys.stderr)
    mean = statistics.fmean(scores)
    sd = statistics.stdev(scores) if len(scores) > 1 else 0.0
    out = {"trial": trial.trial_id, "original": trial.score, "seeds": args.seeds,
           "scores": scores, "mean": mean, "std": sd,
           "min": min(scores), "max": max(scores)}
    emit(out, args.format, lambda: table(
        [[trial.trial_id, trial.score, mean, sd, min(scores), max(scores), args.seeds]],
        ["trial", f"original {metric}", "mean", "std", "min", "max", "seeds"]))
    return 0


def study_stats(study: Any) -> dict[str, Any]:
    cfg = study.config
    trials = study.trials()
    best = study.best()
    cum, to_best = 0.0, None
    for t in trials:
        cum += t.cost or 0.0
        if best is not None and t.trial_id == best.trial_id:
            to_best = cum
    done = [t.score for t in trials if t.is_complete]
    return {"study": study.name, "trials": len(trials), "complete": len(done),
            "failed": sum(t.state.value == "failed" for t in trials),
            "best": None if best is None else best.score,
            "best_trial": None if best is None else best.trial_id,
            "cost_to_best": to_best, "total_cost": cum,
            "median": statistics.median(done) if done else None,
            "metric": cfg.metric, "goal": cfg.goal}


def _compare(args: argparse.Namespace) -> int:
    from protein.study import Study

    if len(args.studies) < 2:
        raise ProteinError("compare needs at least two study names")
    rows = [study_stats(Study.load(n, args.storage)) for n in args.studies]
    metrics = {(r["metric"], r["goal"]) for r in rows}
    if len(metrics) > 1:
        print(f"protein compare: warning: the studies optimise different things: {sorted(metrics)}",
              file=sys.stderr)
    emit(rows, args.format, lambda: table(
        [[r["study"], r["trials"], r["complete"], r["failed"], r["best"], r["best_trial"],
          r["cost_to_best"], r["total_cost"], r["median"]] for r in rows],
        ["study", "trials", "complete", "failed", f"best {rows[0]['metric']}", "at trial",
         "cost to best", "total cost", "median"]))
    return 0


def _add(sub: Any) -> None:
    p = sub.add_parser("report", help="write results.csv, topk.json, best_config.yaml, SUMMARY.md, plots")
    p.add_argument("--study", default="default")
    p.add_argument("--storage", default=None)
    p.add_argument("--out", default=None, help="directory (default reports/<study>)")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--runs", default="runs", help="protein run's --out, for the reproduce command")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--wandb-project", default=None, help="also log every trial and the summary to W&B")
    p.set_defaults(func=_report)

    p = sub.add_parser("verify", help="rerun the best (or --trial) config with several seeds")
    p.add_argument("--study", default="default")
    p.add_argument("--storage", default=None)
    p.add_argument("--trial", type=int, default=None)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--trainer", default=None)
    p.add_argument("--command", default=None)
    p.add_argument("--runs", default="runs")
    p.add_argument("--device", default=None)
    p.add_argument("--timeout", type=float, default=None)
    p.add_argument("--format", choices=["json", "table", "yaml"], default="json")
    p.set_defaults(func=_verify)

    p = sub.add_parser("compare", help="two or more studies side by side")
    p.add_argument("studies", nargs="+")
    p.add_argument("--storage", default=None)
    p.add_argument("--format", choices=["table", "json", "yaml"], default="table")
    p.set_defaults(func=_compare)


_EXTRA_COMMANDS.append(_add)
