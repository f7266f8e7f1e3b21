"""The ``protein`` command line.

Results go to stdout (JSON by default, ``--format`` for others), messages to stderr. A
user mistake prints one line ``protein CMD: error: ...`` and exits 2; success exits 0.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from protein.errors import ProteinError
from protein.output import table, to_json, to_yaml
from protein.settings import ProteinWarning

def emit(obj: Any, fmt: str, table_text: Callable[[], str] | None = None) -> None:
    if fmt == "json":
        print(to_json(obj))
    elif fmt == "yaml":
        print(to_yaml(obj))
    elif table_text is not None:
        print(table_text())
    else:
        print(to_yaml(obj))


# ----------------------------------------------------------------------- check
def _check(args: argparse.Namespace) -> int:
    from protein.config import load_config
    from protein.space import flatten

    cfg = load_config(args.config)
    params = cfg.space.to_dict()
    out = {
        "parameters": params,
        "goal": cfg.goal,
        "metric": cfg.metric,
        "method": cfg.method,
        "fixed": dict(cfg.fixed),
    }
    if cfg.max_trials is not None:
        out["max_trials"] = cfg.max_trials

    def text() -> str:
        rows = []
        for name, e in params.items():
            lo = e.get("min", "")
            hi = e.get("max", "")
            if e["distribution"] == "categorical":
                lo, hi = "", "[" + ", ".join(map(str, e["choices"])) + "]"
            cond = ""
            if "when" in e:
                cond = " if " + ", ".join(f"{k}={v}" for k, v in e["when"].items())
            rows.append([name + cond, e["distribution"], lo, hi, e.get("mean"), e.get("scale")])
        head = [
            f"config: {cfg.source}",
            ("goals: " + ", ".join(f"{o.goal} {o.name}" for o in cfg.objectives)
             if len(cfg.objectives) > 1 else f"goal: {cfg.goal} {cfg.metric}")
            + f"   method: {cfg.method}"
            + (f"   trials: {cfg.max_trials}" if cfg.max_trials else ""),
        ]
        if cfg.constraints:
            head.append("constraints: " + ", ".join(map(str, cfg.constraints)))
        if cfg.method == "grid":
            from protein.methods import grid_points

            size = len(grid_points(cfg.space, cfg.settings.grid_points))
            head.append(f"grid: {size} points (protein run's default trial count)"
                        + ("" if cfg.space.grid_size is not None else
                           f"; continuous parameters take {cfg.settings.grid_points} values each"))
        if cfg.seed_key:
            head.append(f"seed: each trial's seed goes to a --command as {cfg.seed_key} and "
                        "$PROTEIN_SEED")
        else:
            head.append("seed: each trial's seed goes to a --command as $PROTEIN_SEED only")
        body = table(rows, ["parameter", "distribution", "min", "max", "mean", "scale"])
        fixed = flatten(cfg.fixed)
        tail = ["", "fixed overrides:"] + [f"  {k} = {v}" for k, v in fixed.items()] if fixed else []
        return "\n".join(head + ["", body] + tail)

    emit(out, args.format, text)
    return 0


def _add_check(sub: Any) -> None:
    p = sub.add_parser("check", help="validate a sweep config and print the resolved space")
    p.add_argument("config", help="sweep config: .yaml, .json or .ini")
    p.add_argument("--format", choices=["table", "json", "yaml"], default="table")
    p.set_defaults(func=_check)


# ------------------------------------------------------------------------ main
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="protein", description="Cost-aware Gaussian-process hyperparameter search."
    )
    from protein import __version__

    parser.add_argument("--version", action="version", version=f"protein {__version__}")
    sub = parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")
    _add_check(sub)
    for add in _EXTRA_COMMANDS:
        add(sub)
    return parser


_EXTRA_COMMANDS: list[Callable[[Any], None]] = []


def _show_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    print(f"protein: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    from protein import cli_migrate, cli_report, cli_run, cli_study  # noqa: F401  (register)

    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.simplefilter("always", ProteinWarning)
    warnings.showwarning = _show_warning  # type: ignore[assignment]
    try:
        return int(args.func(args) or 0)
    except ProteinError as e:
        print(f"protein {args.subcommand}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"protein {args.subcommand}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
