"""``protein run``: drive a whole sweep with parallel workers."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from protein.cli import _EXTRA_COMMANDS
from protein.errors import ProteinError


def _run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from protein.config import load_config
    from protein.runner import RunSpec, supervise
    from protein.storage import default_url
    from protein.study import Study

    if bool(args.trainer) == bool(args.command):
        raise ProteinError("give exactly one of --trainer MODULE and --command \"CMD\"")
    if args.workers < 1:
        raise ProteinError(f"--workers must be >= 1, got {args.workers}")
    cfg = load_config(args.config)
    max_trials = args.max_trials or cfg.max_trials
    if max_trials is None:
        raise ProteinError(
            f"{args.config}: how many trials? set rollout_count (and num_samples) in the "
            "config, or pass --max-trials N"
        )
    if args.trainer:
        import importlib

        try:
            module = importlib.import_module(args.trainer)
        except ImportError as e:
            raise ProteinError(f"--trainer {args.trainer}: cannot import it ({e}); give a "
                               "module path such as trainers.digits") from None
        if not callable(getattr(module, "train", None)):
            raise ProteinError(f"--trainer {args.trainer}: the module has no train() function")
    name = args.study or Path(args.config).stem
    storage = args.storage or default_url()
    study = Study.create(cfg, name, storage, seed=args.seed)
    before = len(study.trials())
    if before:
        print(f"protein run: resuming study {name!r} ({before} trials stored)", file=sys.stderr)
    threads = max(1, (os.cpu_count() or 1) // args.workers)
    spec = RunSpec(
        study=name, storage=storage, trainer=args.trainer, command=args.command,
        pass_mode=args.pass_mode, timeout=args.timeout, max_trials=max_trials,
        early_stop=args.early_stop, smooth=args.smooth, out_dir=args.out, device=args.device,
        threads=threads,
    )
    code = supervise(spec, args.workers, progress=not args.quiet)
    best = study.best()
    if best is not None:
        from protein.output import fmt_value

        params = ", ".join(f"{k}={fmt_value(v)}" for k, v in best.params.items())
        print(f"protein run: best {cfg.metric} {fmt_value(best.score)} (trial {best.trial_id}): "
              f"{params}", file=sys.stderr)
        print(f"protein run: trial files in {Path(args.out) / name}/", file=sys.stderr)
    _ = asdict
    return code


def _add_run(sub: Any) -> None:
    p = sub.add_parser("run", help="run a sweep: ask, train, tell with parallel workers")
    p.add_argument("config", help="sweep config")
    p.add_argument("--study", default=None, help="study name (default: the config file's stem)")
    p.add_argument("--storage", default=None,
                   help="sqlite path or postgresql:// URL (default: $PROTEIN_STORAGE or ./protein.db)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--trainer", help="python module with train(params, seed, device, report)")
    what.add_argument("--command", help="program to run per trial; params are passed per --pass")
    p.add_argument("--pass", dest="pass_mode", choices=["flags", "hydra", "json", "env"],
                   default="flags", help="how --command gets the params (default --a.b=value flags)")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes")
    p.add_argument("--executor", choices=["local"], default="local")
    p.add_argument("--timeout", type=float, default=None, help="seconds before a trial is failed")
    p.add_argument("--max-trials", type=int, default=None,
                   help="total trials (default: rollout_count x num_samples from the config)")
    p.add_argument("--early-stop", choices=["auto", "protein", "median", "asha", "none"],
                   default="auto", help="rule applied to reported intermediate values")
    p.add_argument("--smooth", type=int, default=1,
                   help="judge the mean of the last K intermediate values (noisy metrics)")
    p.add_argument("--out", default="runs", help="directory for per-trial files (default runs/)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="trainer device (default: cuda if present)")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=_run)


_EXTRA_COMMANDS.append(_add_run)
