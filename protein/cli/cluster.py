"""Commands for sweeps beyond one machine: ``protein worker`` (a worker anyone can start,
e.g. from their own sbatch script), ``protein slurm-script`` (such a script, written for
them) and ``protein status`` (the sweep now: workers, jobs, running trials and their logs).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from protein.cli.common import emit, open_study, study_args, study_name
from protein.cli.run import (defaults_from_config, add_slurm_options, add_study_options,
                             add_trial_options, check_trainer, run_spec, slurm_resources)
from protein.errors import ProteinError
from protein.masking import mask_url

# the trial options a run records in run.json, by option: (attribute, record key)
FROM_RECORD = ("trainer", "command", "pass_mode", "timeout", "device", "tensorboard",
               "wandb_project", "wandb_entity")
STOP_OPTIONS = {"early_stop": "rule", "smooth": "smooth", "grace": "grace",
                "max_resource": "max_resource", "reduction_factor": "reduction_factor",
                "min_trials": "min_trials", "min_probability": "min_probability"}


def _sweep(args: argparse.Namespace, storage: str, create: bool) -> tuple[Any, str, Any]:
    """The worker's study (``create``: from the config when given) and its config."""
    from protein.config import load_config
    from protein.config.sweep import check_study_name
    from protein.study import Study

    if args.config:
        cfg = load_config(args.config)
        name = check_study_name(args.study or study_name(cfg, args.config))
        study = Study.create(cfg, name, storage, seed=args.seed) if create else None
        return study, name, cfg
    if not create:
        raise ProteinError("give the sweep's CONFIG")
    args.storage = storage
    study = open_study(args)
    return study, study.name, study.config


def _from_record(args: argparse.Namespace, run_dir: Path) -> dict[str, Any]:
    """Options left out taken from the run's ``run.json`` (what ``protein run`` recorded)."""
    from protein.runner.supervisor import read_run_record

    rec = read_run_record(run_dir)
    for key in FROM_RECORD:
        if getattr(args, key) is None and rec.get(key) is not None:
            setattr(args, key, rec[key])
    stop = rec.get("stop") or {}
    for option, key in STOP_OPTIONS.items():
        if getattr(args, option) is None and stop.get(key) is not None:
            setattr(args, option, stop[key])
    return rec


def _worker(args: argparse.Namespace) -> int:
    from protein.runner.worker import standalone_main
    from protein.storage import default_url

    storage = args.storage or default_url()
    study, name, cfg = _sweep(args, storage, create=True)
    rec = _from_record(args, Path(args.out) / name)
    defaults_from_config(args, cfg)
    if bool(args.trainer) == bool(args.command):
        raise ProteinError(
            f"give --trainer MODULE or --command \"CMD\": study {name!r} has no run record at "
            f"{Path(args.out) / name / 'run.json'} (protein run writes it; or give --out where "
            "the sweep's files are)")
    if args.trainer:
        check_trainer(args.trainer, cfg)
    max_trials = args.max_trials or rec.get("max_trials") or cfg.max_trials
    if max_trials is None:
        raise ProteinError(f"study {name!r}: how many trials? pass --max-trials N (or set "
                           "rollout_count in the config)")
    threads = int(os.environ.get("SLURM_CPUS_PER_TASK") or rec.get("threads") or 1)
    spec = replace(run_spec(args, cfg, name, storage, max_trials, threads), since=time.time())
    if not rec:  # the first worker of a sweep: later ones join with --storage and --study
        from protein.runner.supervisor import run_record, write_run_record

        write_run_record(Path(args.out) / name, run_record(spec, "worker"), args.out)
    code = standalone_main(spec, args.name)
    trials = study.trials()
    done = sum(t.state.finished for t in trials)
    running = len(trials) - done
    print(f"protein worker: {'stopped' if code else 'done, no trial left to start'}; study "
          f"{name!r} has {done} of {max_trials} trials finished"
          + (f", {running} running or handed back" if running else ""), file=sys.stderr)
    return code


def add_worker(sub: Any) -> None:
    p = sub.add_parser(
        "worker", help="one worker of a sweep: ask, train, tell until the study has its trials",
        description="A worker of a sweep, started by hand, by a scheduler or from your own "
                    "batch script: it joins the study (made from CONFIG if given and new) and "
                    "runs trials as protein run's workers do. How trials run comes from the "
                    "options, else from the run.json that protein run left in --out, else from "
                    "the config. SIGTERM, SIGINT or the pre-timeout signal (USR1/USR2) hand its "
                    "running trial back to the study; after the pre-timeout signal it asks "
                    "Slurm to requeue its job.")
    p.add_argument("config", nargs="?", default=None,
                   help="sweep config (optional once the study exists)")
    add_study_options(p)
    add_trial_options(p)
    p.add_argument("--seed", type=int, default=0, help="the study's seed (with CONFIG)")
    p.add_argument("--name", default=None,
                   help="this worker's label in the study (default host:SLURM job, or host:pid)")
    p.set_defaults(func=_worker, over=None)


# ------------------------------------------------------------------- slurm-script
WORKER_OPTIONS = ("trainer", "command", "pass_mode", "timeout", "max_trials", "early_stop",
                  "smooth", "grace", "max_resource", "reduction_factor", "min_trials",
                  "min_probability", "device", "tensorboard", "wandb_project", "wandb_entity")


def _slurm_script(args: argparse.Namespace) -> int:
    from protein.cli.common import write_output
    from protein.runner.slurm import check_storage, script
    from protein.storage import default_url

    storage = args.storage or default_url()
    check_storage(storage, args.allow_shared_sqlite)
    if args.workers < 1:
        raise ProteinError(f"--workers must be >= 1, got {args.workers}")
    _, name, cfg = _sweep(args, storage, create=False)
    resources = slurm_resources(args, cfg)
    given = {k: getattr(args, k) for k in WORKER_OPTIONS}
    defaults_from_config(args, cfg)
    if bool(args.trainer) == bool(args.command):
        raise ProteinError("give exactly one of --trainer MODULE and --command \"CMD\"")
    if args.trainer:
        check_trainer(args.trainer, cfg)
    run_spec(args, cfg, name, storage, args.max_trials or cfg.max_trials, 1)  # validates
    worker_args = ["--storage", storage, "--study", name, "--out", args.out]
    if args.seed:
        worker_args += ["--seed", str(args.seed)]
    for key, value in given.items():
        if value is not None:
            option = "--pass" if key == "pass_mode" else "--" + key.replace("_", "-")
            worker_args += [option, str(value)]
    text = script(args.config, name, args.out, args.workers, resources, worker_args)
    logs = Path(args.out) / name / "slurm"
    logs.mkdir(parents=True, exist_ok=True)  # sbatch writes the tasks' output there
    if args.output:
        write_output(args.output, text)
        print(f"protein slurm-script: wrote {args.output}; submit it with sbatch {args.output}",
              file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def add_slurm_script(sub: Any) -> None:
    p = sub.add_parser(
        "slurm-script", help="print a Slurm batch script that runs a sweep's workers",
        description="A job-array batch script whose every task is `protein worker`: submit it "
                    "with sbatch, keep it in your repository. The same resources as protein "
                    "run --launcher slurm.")
    p.add_argument("config", help="sweep config")
    add_study_options(p)
    p.add_argument("--workers", type=int, default=1, help="array tasks (workers)")
    add_trial_options(p)
    add_slurm_options(p)
    p.add_argument("--seed", type=int, default=0, help="the study's seed")
    p.add_argument("--output", "-o", default=None, help="write the script here (default stdout)")
    p.set_defaults(func=_slurm_script, over=None)


# ------------------------------------------------------------------------ status
def _status(args: argparse.Namespace) -> int:
    from protein.runner.supervisor import read_run_record

    study = open_study(args)
    trials = study.trials()
    run_dir = Path(args.out) / study.name
    rec = read_run_record(run_dir)
    status = sweep_status(study, trials, rec, run_dir)
    emit(status, args.format, lambda: _status_text(status))
    return 0


def sweep_status(study: Any, trials: list, rec: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """The sweep now: counts, best, workers, running and handed-back trials with their log
    files, and the Slurm array's tasks where the run was launched on Slurm."""
    import shutil

    from protein.output import iso_time

    cfg = study.config
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.value] = states.get(t.state.value, 0) + 1
    best = study.best()
    workers: dict[str, dict[str, Any]] = {}
    for t in trials:
        w = workers.setdefault(t.worker or "-", {"worker": t.worker or "-", "finished": 0,
                                                 "running": None, "last_activity": 0.0})
        w["finished"] += int(t.state.finished)
        if t.state.value == "running" and not t.info.get("released"):
            w["running"] = t.trial_id
        w["last_activity"] = max(w["last_activity"], t.finished_at or t.heartbeat_at
                                 or t.created_at or 0.0)
    running = []
    for t in trials:
        if t.state.value != "running":
            continue
        d = run_dir / f"trial_{t.trial_id:04d}"
        last = t.intermediate[-1] if t.intermediate else None
        running.append({
            "trial": t.trial_id, "worker": t.worker,
            "handed_back": t.info.get("released"),
            "last_step": last.step if last else None, "last_value": last.value if last else None,
            "logs": [str(d / n) for n in ("stdout.log", "stderr.log") if (d / n).exists()],
        })
    out: dict[str, Any] = {
        "study": study.name, "storage": mask_url(study.storage.url),
        "trials": states, "max_trials": rec.get("max_trials"),
        "best": None if best is None else {"trial": best.trial_id, cfg.metric: best.score},
        "workers": [{**w, "last_activity": iso_time(w["last_activity"])}
                    for w in workers.values()],
        "running": running, "run_folder": str(run_dir), "launcher": rec.get("launcher"),
    }
    slurm = rec.get("slurm")
    if slurm:
        job = str(slurm.get("job_id"))
        tasks = None
        if shutil.which("squeue"):
            from protein.runner.slurm import array_tasks

            try:
                tasks = array_tasks(job)
            except ProteinError as e:
                tasks = {"error": str(e)}
        out["slurm"] = {"job_id": job, "logs": slurm.get("logs"), "tasks": tasks,
                        "log_files": sorted(str(p) for p in Path(slurm.get("logs", ".")).glob(
                            f"{job}_*_log.out"))}
    return out


def _status_text(s: dict[str, Any]) -> str:
    from protein.output import table

    counts = ", ".join(f"{v} {k}" for k, v in s["trials"].items()) or "no trials yet"
    total = f" of {s['max_trials']}" if s.get("max_trials") else ""
    lines = [f"study {s['study']} ({s['storage']}): {sum(s['trials'].values())}{total} trials: "
             f"{counts}"]
    if s["best"]:
        lines.append("best: " + ", ".join(f"{k} {v}" for k, v in s["best"].items()))
    slurm = s.get("slurm")
    if slurm:
        tasks = slurm["tasks"]
        held = ("squeue not found here" if tasks is None else
                ", ".join(f"{k} {v}" for k, v in tasks.items()) or "none left in the queue")
        lines.append(f"Slurm job array {slurm['job_id']}: {held}; task logs in {slurm['logs']}/")
    if s["workers"]:
        lines += ["", table([[w["worker"], w["finished"], "" if w["running"] is None
                              else w["running"], w["last_activity"]] for w in s["workers"]],
                            ["worker", "finished", "running trial", "last activity (UTC)"])]
    if s["running"]:
        lines += ["", table([[r["trial"], r["worker"] or "",
                              "handed back" if r["handed_back"] else "running",
                              "" if r["last_step"] is None else f"{r['last_step']:g}",
                              " ".join(r["logs"])] for r in s["running"]],
                            ["trial", "worker", "state", "last step", "logs"])]
    return "\n".join(lines)


def add_status(sub: Any) -> None:
    p = sub.add_parser("status", help="the sweep now: trials, workers, Slurm jobs, logs")
    study_args(p, fmt=("table", "json", "yaml"))
    p.add_argument("--out", default="runs",
                   help="the run's trial folder, where protein run wrote run.json (default runs/)")
    p.set_defaults(func=_status)
