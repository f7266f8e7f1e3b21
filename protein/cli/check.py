"""``protein check``: validate a sweep config and print the resolved space."""

from __future__ import annotations

import argparse
from typing import Any

from protein.cli.common import emit, grid_size
from protein.output import table


def check(args: argparse.Namespace) -> int:
    from protein.config import load_config
    from protein.tree import flatten

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
            size = grid_size(cfg)
            runs = (f"protein run runs {cfg.max_trials} of them (the config's trial count)"
                    if cfg.max_trials else "protein run runs each once")
            head.append(f"grid: {size} points; {runs}"
                        + ("" if cfg.space.grid_size is not None else
                           f"; continuous parameters take {cfg.settings.grid_points} values each"))
        elif not cfg.max_trials:
            head.append("trials: not set: protein run needs --max-trials N (or set "
                        "rollout_count, and num_samples, in the config)")
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


def add_check(sub: Any) -> None:
    p = sub.add_parser("check", help="validate a sweep config and print the resolved space")
    p.add_argument("config", help="sweep config: .yaml, .json or .ini")
    p.add_argument("--format", choices=["table", "json", "yaml"], default="table")
    p.set_defaults(func=check)
