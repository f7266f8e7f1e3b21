"""CLI commands that work on a stored study: init, ask, tell, progress, trials, best,
pareto, studies, summary."""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from typing import Any

from protein.cli import _EXTRA_COMMANDS, emit
from protein.errors import ProteinError
from protein.output import fmt_value, table, to_json
from protein.space import flatten


def _study_args(p: argparse.ArgumentParser, fmt: tuple[str, ...] = ("json", "table", "yaml")) -> None:
    p.add_argument("--study", default="default", help="study name (default: default)")
    p.add_argument("--storage", default=None,
                   help="sqlite path or postgresql:// URL (default: $PROTEIN_STORAGE or ./protein.db)")
    if fmt:
        p.add_argument("--format", choices=fmt, default=fmt[0])


def _open(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from protein.study import Study

    return Study.load(args.study, args.storage)


# ------------------------------------------------------------------------ init
def _init(args: argparse.Namespace) -> int:
    from protein.study import Study

    study = Study.create(args.config, args.study, args.storage, seed=args.seed,
                         lease_s=args.lease, on_expire=args.on_expire, replace=args.force)
    n = len(study.trials())
    print(to_json({"study": study.name, "storage": study.storage.backend.url,
                   "method": study.config.method, "parameters": len(study.space.names),
                   "trials": n}))
    print(f"protein: study {study.name!r} ready ({n} trials so far)", file=sys.stderr)
    return 0


def _add_init(sub: Any) -> None:
    p = sub.add_parser("init", help="create a study from a sweep config")
    p.add_argument("config", help="sweep config (.yaml, .json, .ini)")
    _study_args(p, fmt=())
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lease", type=float, default=None,
                   help="seconds without a heartbeat before a running trial expires (default 24h)")
    p.add_argument("--on-expire", choices=["fail", "retry"], default="fail",
                   help="what happens to an expired trial: failed, or handed out again")
    p.add_argument("--force", action="store_true",
                   help="replace the config of an existing study of this name (trials are kept)")
    p.set_defaults(func=_init)


# ------------------------------------------------------------------------- ask
def _shell_value(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, dict)):
        import json

        return json.dumps(v)
    return str(v)


def _ask(args: argparse.Namespace) -> int:
    import socket

    study = _open(args)
    # not host:pid: this process exits at once, while the trial runs on in the caller's loop;
    # such trials expire by their lease (protein init --lease) instead
    worker = args.worker or f"{socket.gethostname()}:cli"
    made = study.ask(n=args.count, worker=worker)
    for t in made:
        full = flatten(study.space.nest(t.params))
        if args.format == "json":
            continue
        if args.format == "flags":
            print(" ".join([str(t.trial_id)] + [shlex.quote(f"--{k}={_shell_value(v)}")
                                                for k, v in full.items()]))
        elif args.format == "hydra":
            print(" ".join([str(t.trial_id)] + [shlex.quote(f"{k}={_shell_value(v)}")
                                                for k, v in full.items()]))
        elif args.format == "env":
            print(f"export PROTEIN_TRIAL={t.trial_id}")
            for k, v in full.items():
                name = "".join(c if c.isalnum() else "_" for c in k).upper()
                print(f"export {name}={shlex.quote(_shell_value(v))}")
    if args.format in ("json", "yaml"):
        out = [{"trial": t.trial_id, "params": t.nested_params,
                "config": study.space.nest(t.params), "info": dict(t.info)} for t in made]
        emit(out[0] if args.count == 1 else out, args.format)
    return 0


def _add_ask(sub: Any) -> None:
    p = sub.add_parser("ask", help="start trials and print their params")
    _study_args(p, fmt=("json", "flags", "hydra", "env", "yaml"))
    p.add_argument("--count", type=int, default=1, help="how many trials to start")
    p.add_argument("--worker", default=None, help="worker name stored with the trial (default host:cli); "
                        "trials expire after the study's --lease without a progress call")
    p.epilog = ("flags/hydra print one line per trial: the trial id, then --a.b=v (flags) or "
                "a.b=v (hydra) for every searched parameter and fixed override")
    p.set_defaults(func=_ask)


# ------------------------------------------------------------------------ tell
def _tell(args: argparse.Namespace) -> int:
    study = _open(args)
    if not args.score and not (args.failed or args.pruned):
        raise ProteinError(f"trial {args.trial}: give --score X, --failed or --pruned")
    score = _scores(args.trial, args.score or [])
    t = study.tell(args.trial, score, args.cost, failed=args.failed, pruned=args.pruned,
                   reason=args.reason)
    out = {"trial": t.trial_id, "state": t.state.value, "score": t.score, "cost": t.cost}
    if "values" in t.info:
        out["values"] = t.info["values"]
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


def _add_tell(sub: Any) -> None:
    p = sub.add_parser("tell", help="record how a trial ended")
    _study_args(p, fmt=())
    p.add_argument("--trial", type=int, required=True)
    p.add_argument("--score", type=_score_arg, action="append",
                   help="the metric's final value (nan is recorded as failed); with several "
                        "metrics, once per metric as NAME=VALUE")
    p.add_argument("--cost", type=_score, help="what the trial cost (> 0; default 1)")
    p.add_argument("--failed", action="store_true")
    p.add_argument("--pruned", action="store_true")
    p.add_argument("--reason", default=None, help="why it failed or was pruned")
    p.set_defaults(func=_tell)


# -------------------------------------------------------------------- progress
def _progress(args: argparse.Namespace) -> int:
    from protein.early_stop import median_stop

    study = _open(args)
    study.report(args.trial, args.step, args.value)
    sign = study.config.sign
    cost = args.cost if args.cost is not None else args.step
    done = study.complete()
    costs = {t.cost for t in done}
    if len(costs) > 1:
        stop = study.should_stop(args.trial, args.value, cost)
        rule = "protein"
    else:
        curves = [[(s, sign * v) for s, v in t.intermediate] for t in done]
        stop = median_stop(sign * args.value, args.step, curves)
        rule = "median"
    print(to_json({"trial": args.trial, "stop": stop, "rule": rule}))
    return 0


def _add_progress(sub: Any) -> None:
    p = sub.add_parser("progress", help="record an intermediate value; prints whether to stop")
    _study_args(p, fmt=())
    p.add_argument("--trial", type=int, required=True)
    p.add_argument("--step", type=float, required=True)
    p.add_argument("--value", type=_score, required=True)
    p.add_argument("--cost", type=_score, default=None,
                   help="cost so far, in tell's --cost unit (default: the step)")
    p.set_defaults(func=_progress)


# ------------------------------------------------------------ trials/best/...
def _trials(args: argparse.Namespace) -> int:
    study = _open(args)
    ts = [t for t in study.trials() if args.state is None or t.state.value == args.state]
    rows = [t.to_dict() for t in ts]
    emit(rows, args.format, lambda: _trial_table(study, ts))
    return 0


def _trial_table(study: Any, ts: list) -> str:
    names = study.space.names
    short = [n.rsplit(".", 1)[-1] for n in names]
    metrics = list(study.config.metric_names) if study.config.multi else [study.config.metric]
    rows = []
    for t in ts:
        vals = t.info.get("values") or {study.config.metric: t.score}
        rows.append([t.trial_id, t.state.value] + [vals.get(m) for m in metrics] + [t.cost]
                    + [t.params.get(n, "") for n in names])
    return table(rows, ["trial", "state"] + metrics + ["cost"] + short)


def _best(args: argparse.Namespace) -> int:
    study = _open(args)
    if study.config.multi and len(study.config.objectives) > 1:
        front = study.pareto_set()
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
    study = _open(args)
    front = study.pareto()
    emit([t.to_dict() for t in front], args.format, lambda: _trial_table(study, front))
    return 0


def _studies(args: argparse.Namespace) -> int:
    from protein.storage import open_storage
    from protein.study import Study

    backend = open_storage(args.storage)
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


# --------------------------------------------------------------------- summary
def summary_text(study: Any, width: int = 80) -> str:
    cfg = study.config
    ts = study.trials()
    rule = "=" * min(width, 65)
    lines = [f"SWEEP SUMMARY: {study.name}", rule, "", "CONFIGURATION", rule]
    if len(cfg.objectives) > 1:
        goals = ", ".join(f"{o.goal} {o.name}" for o in cfg.objectives)
        lines.append(f"Method: {cfg.method}   Goals: {goals}")
    else:
        lines.append(f"Method: {cfg.method}   Goal: {cfg.goal} {cfg.metric}")
    if cfg.constraints:
        lines.append("Constraints: " + ", ".join(map(str, cfg.constraints)))
    if cfg.rollout_count:
        lines.append(f"Rollout count limit: {cfg.rollout_count}")
    lines.append(f"Samples per rollout: {cfg.num_samples}")
    lines += ["", "Parameter space:"]
    for name, e in cfg.space.to_dict().items():
        if e["distribution"] == "categorical":
            rng = "[" + ", ".join(map(str, e["choices"])) + "]"
        else:
            rng = f"[{fmt_value(e['min'])}, {fmt_value(e['max'])}]"
        lines.append(_fit(f"  {name}: {e['distribution']} {rng}", width))
    fixed = flatten(cfg.fixed)
    if fixed:
        lines += ["", "Fixed overrides:"] + [_fit(f"  {k}: {v}", width) for k, v in fixed.items()]
    counts: dict[str, int] = {}
    for t in ts:
        counts[t.state.value] = counts.get(t.state.value, 0) + 1
    lines += ["", "ROLLOUT RESULTS", rule,
              "Trials: " + ", ".join(f"{v} {k}" for k, v in counts.items()) if ts else "No trials yet."]
    per = max(1, cfg.num_samples)
    for r in range(math.ceil(len(ts) / per)):
        group = ts[r * per:(r + 1) * per]
        done = [t for t in group if t.is_complete]
        lines.append(f"Rollout {r}: {len(group)} run{'s' if len(group) != 1 else ''}")
        if done:
            b = max(done, key=lambda t: cfg.sign * t.score)
            lines.append(f"  Best {cfg.metric}: {fmt_value(b.score)} (trial {b.trial_id})")
            lines.append(_fit("  Parameters: " + _brief(b.params), width))
        else:
            lines.append("  (no complete run)")
    best = study.best()
    lines += ["", rule]
    if best is None:
        lines.append("OVERALL BEST RUN: none yet")
    else:
        lines.append(f"OVERALL BEST RUN: trial {best.trial_id}")
        lines.append(f"  {cfg.metric}: {fmt_value(best.score)}   cost: {fmt_value(best.cost)}")
        for k, v in best.params.items():
            lines.append(_fit(f"  {k} = {fmt_value(v)}", width))
    if len(cfg.objectives) > 1:
        front = study.pareto_set()
        lines += ["", rule, f"PARETO SET: {len(front)} trial{'s' if len(front) != 1 else ''}"]
        for t in front:
            vals = "  ".join(f"{k}={fmt_value(v)}" for k, v in t.info["values"].items())
            lines.append(_fit(f"  trial {t.trial_id}: {vals}   ({_brief(t.params)})", width))
    return "\n".join(lines)


def _brief(params: dict) -> str:
    return ", ".join(f"{k.rsplit('.', 1)[-1]}={fmt_value(v)}" for k, v in params.items())


def _fit(s: str, width: int) -> str:
    return s if len(s) <= width else s[: width - 3] + "..."


def _summary(args: argparse.Namespace) -> int:
    study = _open(args)
    print(summary_text(study))
    return 0


def _add_queries(sub: Any) -> None:
    p = sub.add_parser("trials", help="list the trials of a study")
    _study_args(p)
    p.add_argument("--state", choices=["running", "complete", "failed", "pruned"])
    p.set_defaults(func=_trials)
    p = sub.add_parser("best", help="print the best complete trial (with several metrics: "
                                    "the Pareto set of the feasible trials)")
    _study_args(p)
    p.set_defaults(func=_best)
    p = sub.add_parser("pareto", help="print the cost-score Pareto front")
    _study_args(p)
    p.set_defaults(func=_pareto)
    p = sub.add_parser("studies", help="list the studies in a storage")
    p.add_argument("--storage", default=None)
    p.add_argument("--format", choices=["json", "table", "yaml"], default="json")
    p.set_defaults(func=_studies)
    p = sub.add_parser("summary", help="a terminal summary: configuration, per-rollout best, best run")
    _study_args(p, fmt=())
    p.set_defaults(func=_summary)


_EXTRA_COMMANDS.extend([_add_init, _add_ask, _add_tell, _add_progress, _add_queries])
