"""CLI commands that work on a stored study: init, ask, tell, progress, trials, best,
pareto, studies, summary."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from protein.cli.common import (
    STORAGE_HELP,
    duration,
    emit,
    existing_storage,
    open_study,
    add_stop_options,
    study_args,
    study_name,
    trial_id,
)
from protein.errors import ProteinError
from protein.optimizer.early_stop import RULES, StopConfig
from protein.output import table, to_json




# ------------------------------------------------------------------------ init
def _init(args: argparse.Namespace) -> int:
    from protein.study import Study

    from protein.config import load_config

    cfg = load_config(args.config)
    name = args.study or study_name(cfg, args.config)
    study = Study.create(cfg, name, args.storage, seed=args.seed,
                         lease_s=args.lease, on_expire=args.on_expire, replace=args.force)
    n = len(study.trials())
    print(to_json({"study": study.name, "storage": study.storage.url,
                   "method": study.config.method, "parameters": len(study.space.names),
                   "trials": n}))
    print(f"protein: study {study.name!r} ready ({n} trials so far)", file=sys.stderr)
    return 0


def add_init(sub: Any) -> None:
    p = sub.add_parser("init", help="create a study from a sweep config")
    p.add_argument("config", help="sweep config (.yaml, .json, .ini)")
    study_args(p, fmt=(),
                study_help="study name (default: the config's study: key, else its file name)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lease", type=duration, default=None,
                   help="how long a running trial may go without a heartbeat before it "
                        "expires: seconds, or 30m, 6h, 2d (default 24h; protein ask gives "
                        "its trials their own, see ask --lease)")
    p.add_argument("--on-expire", choices=["fail", "retry"], default="fail",
                   help="what happens to an expired trial: failed, or handed out again")
    p.add_argument("--force", action="store_true",
                   help="replace the config of an existing study of this name (trials are kept)")
    p.set_defaults(func=_init)


# ------------------------------------------------------------------------- ask
CLI_LEASE = "6h"  # a shell's trial expires after this long without a progress call


def _ask(args: argparse.Namespace) -> int:
    import signal
    import socket

    if args.count < 1:
        raise ProteinError(f"--count must be >= 1, got {args.count}")
    study = open_study(args)
    # not host:pid: this process exits at once, while the trial runs on in the caller's loop;
    # such trials expire by their lease (--lease) instead
    worker = args.worker or f"{socket.gethostname()}:cli"
    made: list = []
    if args.worker:  # a repeat ask of a named worker gets back what it never told
        made = [t for t in study.storage.running() if t.worker == args.worker][: args.count]
        for t in made:
            print(f"protein ask: trial {t.trial_id} was handed to worker {args.worker!r} and "
                  "has not been told: handing it out again (tell it, --failed if it cannot "
                  "run, to get a new one)", file=sys.stderr)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    printed: set[int] = set()
    saved = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        if len(made) < args.count:
            made += study.ask(n=args.count - len(made), worker=worker, lease_s=args.lease,
                              held=False)
        if not made:
            raise ProteinError(f"study {study.name!r}: no trial to hand out: "
                               f"{study.exhausted or 'nothing left to suggest'}")
        _print_trials(study, made, args.format, args.count)
        sys.stdout.flush()
        printed.update(t.trial_id for t in made)
    except (KeyboardInterrupt, BrokenPipeError):
        # stored but never seen by the caller: fail them now rather than leave orphans
        for tid in set(study.handed) - printed:
            try:
                study.tell(tid, failed=True,
                           reason="expired: protein ask was stopped before it printed the "
                                  "trial; nothing ran")
            except ProteinError:
                pass
        raise
    finally:
        for s, h in saved.items():
            signal.signal(s, h)
    if study.exhausted:
        print(f"protein ask: {study.exhausted}", file=sys.stderr)
    return 0


def _print_trials(study: Any, made: list, fmt: str, count: int) -> None:
    from protein.invocation import trial_invocation

    for t in made:
        if fmt in ("flags", "hydra", "env"):  # what protein run would hand a command
            argv, env = trial_invocation(None, fmt, study.space.nest(t.params),
                                         study.trial_seed(t), study.config.seed_key)
        if fmt in ("flags", "hydra"):
            print(" ".join([str(t.trial_id)] + [shlex.quote(a) for a in argv]))
        elif fmt == "env":
            print(f"export PROTEIN_TRIAL={t.trial_id}")
            for k, v in env.items():
                print(f"export {k}={shlex.quote(v)}")
    if fmt in ("json", "yaml"):
        out = [{"trial": t.trial_id, "seed": study.trial_seed(t), "params": t.nested_params,
                "config": study.space.nest(t.params), "info": dict(t.info)} for t in made]
        emit(out[0] if count == 1 else out, fmt)


def add_ask(sub: Any) -> None:
    p = sub.add_parser("ask", help="start trials and print their params")
    study_args(p, fmt=("json", "flags", "hydra", "env", "yaml"))
    p.add_argument("--count", type=int, default=1, help="how many trials to start")
    p.add_argument("--worker", default=None,
                   help="worker name stored with the trials (default host:cli). A repeat ask "
                        "with the same name first gets back the trials it was handed and "
                        "never told (so an ask whose output was lost leaves no orphan): give "
                        "each parallel job its own name")
    p.add_argument("--lease", type=duration, default=duration(CLI_LEASE),
                   help=f"how long the trials may go without a progress call before they "
                        f"expire: seconds, or 30m, 6h, 2d (default {CLI_LEASE})")
    p.epilog = ("flags/hydra print one line per trial: the trial id, then --a.b=v (flags; a "
                "list as --a.b v1 v2) or a.b=v (hydra), with the trial seed under the config's "
                "seed_key; "
                "a.b=v (hydra) for every searched parameter and fixed override")
    p.set_defaults(func=_ask)


# ------------------------------------------------------------------------ tell
def _tell(args: argparse.Namespace) -> int:
    study = open_study(args)
    if not args.score and not (args.failed or args.pruned):
        raise ProteinError(f"trial {args.trial}: give --score X, --failed or --pruned")
    score = _scores(args.trial, args.score or [])
    metrics = dict(args.metric or [])
    if any(n is None for n in metrics):
        raise ProteinError(f"trial {args.trial}: --metric takes NAME=VALUE (e.g. "
                           "--metric success_rate=0.73)")
    t = study.tell(args.trial, score, args.cost, failed=args.failed, pruned=args.pruned,
                   reason=args.reason, metrics=metrics)
    out = {"trial": t.trial_id, "state": t.state.value, "score": t.score, "cost": t.cost}
    for key in ("values", "metrics"):
        if key in t.info:
            out[key] = t.info[key]
    print(to_json(out))
    return 0


def _score(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _score_arg(text: str) -> tuple[str | None, float]:
    """``--score 1.5`` or ``--score reward=1.5``."""
    name, sep, value = text.rpartition("=")
    if sep and not name:
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER or NUMBER, got {text!r}")
    try:
        return (name or None), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected NUMBER or NAME=NUMBER (e.g. --score reward=1.2), got {text!r}"
        ) from None


def _scores(trial: int, given: list[tuple[str | None, float]]) -> Any:
    """One bare number stays a number; named values become a mapping."""
    if not given:
        return None
    named = {n: v for n, v in given if n is not None}
    if len(given) == 1 and not named:
        return given[0][1]
    if len(named) != len(given):
        raise ProteinError(f"trial {trial}: with several --score flags, name each one "
                           "(--score reward=1.2 --score memory_gb=31)")
    return named


def add_tell(sub: Any) -> None:
    p = sub.add_parser("tell", help="record how a trial ended")
    study_args(p, fmt=())
    p.add_argument("--trial", type=trial_id, required=True)
    p.add_argument("--score", type=_score_arg, action="append",
                   help="the metric's final value (nan is recorded as failed); with several "
                        "metrics, once per metric as NAME=VALUE")
    p.add_argument("--metric", type=_score_arg, action="append",
                   help="another number the trial reported, kept and shown but not optimised "
                        "(NAME=VALUE, repeatable)")
    p.add_argument("--cost", type=_score, help="what the trial cost (> 0; default 1)")
    p.add_argument("--failed", action="store_true")
    p.add_argument("--pruned", action="store_true")
    p.add_argument("--reason", default=None, help="why it failed or was pruned")
    p.set_defaults(func=_tell)


# -------------------------------------------------------------------- progress
def _progress(args: argparse.Namespace) -> int:
    study = open_study(args)
    study.report(args.trial, args.step, args.value, args.cost)
    options = {k: getattr(args, k) for k in ("smooth", "grace", "max_resource",
                                             "reduction_factor", "min_trials", "min_probability")}
    verdict = study.should_stop(args.trial, rule=args.rule, **options)
    print(to_json({"trial": args.trial, "stop": verdict.stop, "rule": verdict.rule,
                   **({"why": verdict.info} if verdict.info else {})}))
    return 0


def add_progress(sub: Any) -> None:
    p = sub.add_parser("progress", help="record an intermediate value; prints whether to stop")
    study_args(p, fmt=())
    p.add_argument("--trial", type=trial_id, required=True)
    p.add_argument("--step", type=float, required=True)
    p.add_argument("--value", type=_score, required=True)
    p.add_argument("--cost", type=_score, default=None,
                   help="what the trial has spent so far, in tell's --cost unit (steps, "
                        "examples, tokens); stored with the value for the learning-curve "
                        "model. Without it, the rules use the step where every complete "
                        "trial's cost equals its last step")
    p.add_argument("--rule", choices=RULES, default=StopConfig().rule,
                   help="early-stopping rule (default auto; see protein run -h)")
    add_stop_options(p, defaults=True)
    p.set_defaults(func=_progress)


# ------------------------------------------------------------ trials/best/...
def _trials(args: argparse.Namespace) -> int:
    study = open_study(args)
    ts = [t for t in study.trials() if args.state is None or t.state.value == args.state]
    rows = [t.to_dict() for t in ts]
    emit(rows, args.format, lambda: _trial_table(study, ts))
    return 0


def _trial_table(study: Any, ts: list) -> str:
    from protein.output import iso_time, metric_headers, short_names

    names = study.space.names
    metrics = list(study.config.metric_names) if study.config.multi else [study.config.metric]
    extra = list(dict.fromkeys(k for t in ts for k in t.metrics))
    live = any(t.state.value == "running" and t.intermediate for t in ts)
    rows = []
    for t in ts:
        vals = {**t.metrics, **(t.values or {study.config.metric: t.score})}
        last = t.intermediate[-1] if t.state.value == "running" and t.intermediate else None
        rows.append([t.trial_id, t.state.value] + [vals.get(m) for m in metrics + extra]
                    + [t.cost] + [t.params.get(n, "") for n in names]
                    + ([last.step if last else "", last.value if last else ""] if live else [])
                    + [(iso_time(t.finished_at) or "").replace("T", " ").rstrip("Z")])
    params = short_names(names)
    progress = ["last step", "last value"] if live else []  # where running trials are
    taken = ["trial", "state", *metrics, "cost", *params, *progress, "finished (UTC)"]
    return table(rows, ["trial", "state"] + metrics + metric_headers(extra, taken) + ["cost"]
                 + params + progress + ["finished (UTC)"])


def _best(args: argparse.Namespace) -> int:
    study = open_study(args)
    if study.config.multi and len(study.config.objectives) > 1:
        front = study.objective_front()
        if not front:
            raise ProteinError(f"study {study.name!r} has no feasible complete trial yet")
        emit([t.to_dict() for t in front], args.format, lambda: _trial_table(study, front))
        return 0
    b = study.best()
    if b is None:
        what = "feasible complete" if study.config.constraints else "complete"
        raise ProteinError(f"study {study.name!r} has no {what} trial yet")
    emit(b.to_dict(), args.format, lambda: _trial_table(study, [b]))
    return 0


def _pareto(args: argparse.Namespace) -> int:
    study = open_study(args)
    front = study.cost_front()
    emit([t.to_dict() for t in front], args.format, lambda: _trial_table(study, front))
    return 0


def _studies(args: argparse.Namespace) -> int:
    from protein.storage import open_backend
    from protein.study import Study

    backend = open_backend(existing_storage(args.storage))
    out = []
    for name in backend.study_names():
        s = Study.load(name, backend)
        ts = s.trials()
        b = s.best()
        out.append({"study": name, "trials": len(ts),
                    "complete": sum(t.is_complete for t in ts),
                    "running": sum(t.state.value == "running" for t in ts),
                    "best": None if b is None else b.score, "metric": s.config.metric,
                    "goal": s.config.goal})
    emit(out, args.format, lambda: table(
        [[o["study"], o["trials"], o["complete"], o["running"], o["best"], f"{o['goal']} {o['metric']}"]
         for o in out], ["study", "trials", "complete", "running", "best", "goal"]))
    return 0


def _summary(args: argparse.Namespace) -> int:
    study = open_study(args)
    from protein.report.summary import summary_text

    print(summary_text(study))
    return 0


def add_trials(sub: Any) -> None:
    p = sub.add_parser("trials", help="list the trials of a study")
    study_args(p)
    p.add_argument("--state", choices=["running", "complete", "failed", "pruned"])
    p.set_defaults(func=_trials)


def add_best(sub: Any) -> None:
    p = sub.add_parser("best", help="print the best complete trial (with several metrics: "
                                    "the Pareto set of the feasible trials)")
    study_args(p)
    p.set_defaults(func=_best)


def add_pareto(sub: Any) -> None:
    p = sub.add_parser("pareto", help="print the cost-score Pareto front")
    study_args(p)
    p.set_defaults(func=_pareto)


def add_studies(sub: Any) -> None:
    p = sub.add_parser("studies", help="list the studies in a storage")
    p.add_argument("--storage", default=None, help=STORAGE_HELP)
    p.add_argument("--format", choices=["json", "table", "yaml"], default="json")
    p.set_defaults(func=_studies)


def add_summary(sub: Any) -> None:
    p = sub.add_parser("summary", help="a terminal summary: configuration, per-rollout best, best run")
    study_args(p, fmt=())
    p.set_defaults(func=_summary)


def _confirm(question: str, yes: bool) -> None:
    """Ask ``question`` on a terminal (``--yes`` answers it); without a terminal and without
    ``--yes``, nothing is done: a script must say it means it."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise ProteinError(f"{question.rstrip('?')}: pass --yes to confirm (no terminal to ask on)")
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise ProteinError("nothing changed")


def _refuse_live(study: Any, what: str) -> None:
    from protein.runner.supervisor import live_workers

    live = live_workers(study.trials())
    if live:
        raise ProteinError(f"study {study.name!r} has trials running in live workers on this "
                           f"machine (pids {', '.join(map(str, live))}); stop them before you "
                           f"{what} it")


def _delete(args: argparse.Namespace) -> int:
    study = open_study(args)
    _refuse_live(study, "delete")
    ts = study.trials()
    _confirm(f"delete study {study.name!r} and its {len(ts)} trials from {study.storage.url} "
             "(its run folder is kept)?", args.yes)
    study.storage.backend.delete_study(study.name)
    print(f"protein delete: study {study.name!r} deleted ({len(ts)} trials)", file=sys.stderr)
    return 0


def _rename(args: argparse.Namespace) -> int:
    from protein.config.sweep import check_study_name

    study = open_study(args)
    new = check_study_name(args.new_name)
    _refuse_live(study, "rename")
    _confirm(f"rename study {study.name!r} to {new!r} in {study.storage.url}?", args.yes)
    study.storage.backend.rename_study(study.name, new)
    print(f"protein rename: study {study.name!r} is now {new!r}; its run folder "
          f"runs/{study.name}/ keeps its name (move it to runs/{new}/ to keep reports and "
          "verify finding its files)", file=sys.stderr)
    return 0


def add_delete(sub: Any) -> None:
    p = sub.add_parser("delete", help="delete a study and its trials from the storage")
    study_args(p, fmt=())
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=_delete)


def add_rename(sub: Any) -> None:
    p = sub.add_parser("rename", help="give a study (and its trials) another name")
    study_args(p, fmt=())
    p.add_argument("new_name", metavar="NEW_NAME")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=_rename)
