"""``protein run``: drive a whole sweep with parallel workers."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from protein.cli.common import add_stop_options, grid_size, study_name
from protein.errors import ProteinError
from protein.masking import mask_url
from protein.optimizer.early_stop import RULES, StopConfig, default_rule


def _run(args: argparse.Namespace) -> int:
    from protein.config import load_config
    from protein.config.sweep import check_study_name
    from protein.runner import supervise
    from protein.storage import default_url
    from protein.study import Study

    cfg = load_config(args.config)
    defaults_from_config(args, cfg)
    if bool(args.trainer) == bool(args.command):
        raise ProteinError("give exactly one of --trainer MODULE and --command \"CMD\"")
    if args.workers < 1:
        raise ProteinError(f"--workers must be >= 1, got {args.workers}")
    cores = os.cpu_count() or 1
    if args.workers > cores and args.launcher == "local":
        print(f"protein run: warning: --workers {args.workers} on {cores} CPU cores: the trials "
              "share them and each runs slower (and wall-time costs grow); --workers "
              f"{cores} or fewer unless each trial mostly waits (a GPU, the network)",
              file=sys.stderr)
    max_trials = args.max_trials or cfg.max_trials
    if max_trials is None and cfg.method == "grid":
        max_trials = grid_size(cfg)
        print(f"protein run: {max_trials} trials, one per grid point", file=sys.stderr)
    if max_trials is None:
        raise ProteinError(
            f"{args.config}: how many trials? set rollout_count (and num_samples) in the "
            "config, or pass --max-trials N"
        )
    if args.trainer:
        check_trainer(args.trainer, cfg)
    name = check_study_name(args.study or study_name(cfg, args.config))
    storage = args.storage or default_url()
    if args.dry_run:
        return dry_run(args, cfg, name)
    if args.wandb_project:
        from protein.integrations.wandb import check_ready

        check_ready(args.wandb_project)  # before any trial: not a traceback per worker
    if args.over:
        return run_over(args, cfg, name, storage, max_trials)
    resources = None
    if args.launcher == "slurm":
        from protein.runner.slurm import check_storage

        check_storage(storage, args.allow_shared_sqlite)
        resources = slurm_resources(args, cfg)
    study = Study.create(cfg, name, storage, seed=args.seed)
    before = len(study.trials())
    if before:
        print(f"protein run: resuming study {name!r} ({before} trials stored)", file=sys.stderr)
    threads = (resources.cpus_per_worker or 1) if resources is not None else \
        max(1, (os.cpu_count() or 1) // args.workers)
    spec = run_spec(args, cfg, name, storage, max_trials, threads)
    code = supervise(spec, args.workers, progress=not args.quiet, launcher=args.launcher,
                     ray_address=args.ray_address, gpus_per_trial=args.gpus_per_trial,
                     slurm=resources, detach=args.detach)
    if args.detach and args.launcher == "slurm":
        return code
    trials = study.trials()
    if code == 0 and len(trials) < max_trials:
        print(f"protein run: the search space is exhausted after {len(trials)} trials (every "
              f"point has been run); the sweep is complete", file=sys.stderr)
    best = study.best()
    if best is not None:
        from protein.output import fmt_value

        params = ", ".join(f"{k}={fmt_value(v)}" for k, v in best.params.items())
        print(f"protein run: best {cfg.metric} {fmt_value(best.score)} (trial {best.trial_id}): "
              f"{params}", file=sys.stderr)
        if len(cfg.objectives) > 1:
            front = study.objective_front()
            print(f"protein run: {len(front)} trial{'s' if len(front) != 1 else ''} on the Pareto set "
                  f"({', '.join(o.name for o in cfg.objectives)}); list them with "
                  f"`protein best --study {name} --storage {mask_url(storage)}`", file=sys.stderr)
        print(f"protein run: trial files in {Path(args.out) / name}/", file=sys.stderr)
    return code


def run_spec(args: argparse.Namespace, cfg: Any, name: str, storage: str,
             max_trials: int | None, threads: int) -> Any:
    """The run's ``RunSpec`` from the trial options (after ``defaults_from_config``);
    bad early-stop settings fail here, before any worker starts."""
    from protein.runner import RunSpec

    spec = RunSpec(
        study=name, storage=storage, trainer=args.trainer, command=args.command,
        pass_mode=args.pass_mode, timeout=args.timeout, max_trials=max_trials,
        stop={"rule": default_rule(args.early_stop, cfg.method), "smooth": args.smooth,
              "grace": args.grace, "max_resource": args.max_resource,
              "reduction_factor": args.reduction_factor, "min_trials": args.min_trials,
              "min_probability": args.min_probability}, out_dir=args.out, device=args.device,
        threads=threads, tensorboard=args.tensorboard, wandb_project=args.wandb_project,
        wandb_entity=args.wandb_entity,
    )
    spec.stop_config()
    return spec


# each early-stop option's default: StopConfig's own (``early_stop`` is its ``rule``)
STOP_DEFAULTS = {("early_stop" if f.name == "rule" else f.name): f.default
                 for f in dataclasses.fields(StopConfig) if f.name != "quantile"}


def defaults_from_config(args: argparse.Namespace, cfg: Any) -> None:
    """Options the command line leaves out, from the config (a W&B sweep's program and
    early_terminate, a hyperparameter file's environments and logging), else the defaults."""
    extras = cfg.extras
    if not args.trainer and not args.command and extras.get("command"):
        args.command = extras["command"]
        print(f"protein run: --command {args.command!r} (the config's program)", file=sys.stderr)
    if args.pass_mode is None:
        args.pass_mode = extras.get("pass_mode", "flags")
    for key, default in STOP_DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, extras.get(f"early_stop_{key}", extras.get(key, default))
                    if key != "early_stop" else extras.get("early_stop", default))
    if args.wandb_project is None and extras.get("wandb_project"):
        args.wandb_project = extras["wandb_project"]
        print(f"protein run: logging each trial to W&B project {args.wandb_project!r} (the "
              "config's wandb_project)", file=sys.stderr)
    if getattr(args, "wandb_entity", None) is None:
        args.wandb_entity = extras.get("wandb_entity")
    if args.over is None and extras.get("over"):
        (path, values), = extras["over"].items()
        args.over = f"{path}=" + ",".join(str(v) for v in values)
        print(f"protein run: one study per {path} ({', '.join(map(str, values))}), from the "
              "config's environments", file=sys.stderr)


BUDGET_WORDS = ("epochs", "epoch", "steps", "timesteps", "total_timesteps", "iterations",
                "iters", "max_iter", "max_steps", "budget", "n_iterations", "episodes")
GRID_WARN = 1000


def budget_params(cfg: Any, named: str | None) -> list[str]:
    """The parameters that set a trial's budget: ``--budget-param``, else by name."""
    if named:
        if named not in cfg.space.dists:
            raise ProteinError(f"--budget-param {named}: not a searched parameter; the space "
                               f"has {cfg.space.names}")
        return [named]
    return [n for n in cfg.space.names if n.rsplit(".", 1)[-1].lower() in BUDGET_WORDS]


def dry_run(args: argparse.Namespace, cfg: Any, name: str) -> int:
    """Validate, show the space and the trial count, run one cheap trial; store nothing."""
    import tempfile

    from protein.cli.check import check
    from protein.runner import RunSpec, run_trial
    from protein.study import Study

    check(argparse.Namespace(config=args.config, format="table"))
    total = args.max_trials or cfg.max_trials
    print(f"\ntrials: {total}" + (f" ({cfg.rollout_count} rollouts x {cfg.num_samples} samples)"
                                  if cfg.rollout_count else ""))
    if cfg.method == "grid":
        size = grid_size(cfg)
        print(f"grid: {size} points")
        if size > GRID_WARN:
            print(f"protein run: warning: the grid has {size} points (more than {GRID_WARN}); "
                  "consider method: protein or fewer values", file=sys.stderr)
    budget = budget_params(cfg, args.budget_param)
    params = cfg.space.decode(cfg.space.center)
    for b in budget:
        params[b] = cfg.space.dists[b].from_unit(0.0)
    print(f"dry run: one trial at the search center, budget {', '.join(f'{b}={params[b]}' for b in budget) or '(no budget parameter found; use --budget-param)'}")
    with tempfile.TemporaryDirectory() as tmp:
        study = Study(cfg, seed=args.seed, name=name)
        trial = study.start(params, reason="dry-run")
        spec = RunSpec(study=name, storage=":memory:", trainer=args.trainer, command=args.command,
                       pass_mode=args.pass_mode, timeout=args.timeout, out_dir=tmp,
                       device=args.device, stop={"rule": "none"})
        run_trial(study, trial, spec)
        t = study.trial(trial.trial_id)
    if t.state.value != "complete":
        print(f"dry run: the trial {t.state.value}: {t.info.get('failure')}\n"
              f"{t.info.get('traceback', '')}", file=sys.stderr)
        return 1
    vals = t.values or {cfg.metric: t.score}
    shown = ", ".join(f"{k} = {v:.6g}" for k, v in vals.items())
    print(f"dry run: ok, {shown}, cost = {t.cost:.6g}; nothing was stored")
    return 0


def check_trainer(trainer: str, cfg: Any) -> None:
    """``--trainer MODULE``: importable, with a ``train`` function that reads the searched
    keys (``READS``, where it says)."""
    import importlib

    try:
        module = importlib.import_module(trainer)
    except ImportError as e:
        raise ProteinError(f"--trainer {trainer}: cannot import it ({e}); give a "
                           "module path such as trainers.digits") from None
    if not callable(getattr(module, "train", None)):
        raise ProteinError(f"--trainer {trainer}: the module has no train() function")
    _keys_it_reads(trainer, getattr(module, "READS", None), cfg)


def _keys_it_reads(trainer: str, reads: Any, cfg: Any) -> None:
    """A trainer that declares the keys it reads (``READS``): a searched key it does not
    read is an error (the sweep would spend its budget on nothing), a fixed one a warning."""
    if not reads:
        return
    from protein.tree import flatten

    takes = f"it reads {', '.join(reads)}"
    unread = [n for n in cfg.space.names if n not in reads]
    if unread:
        raise ProteinError(f"--trainer {trainer} does not read the searched "
                           f"{', '.join(unread)}, so the sweep would spend trials on it for "
                           f"nothing; {takes}")
    ignored = [k for k in flatten(dict(cfg.fixed)) if k not in reads]
    if ignored:
        print(f"protein run: warning: --trainer {trainer} ignores the fixed "
              f"{', '.join(ignored)}; {takes}", file=sys.stderr)


def run_over(args: argparse.Namespace, cfg: Any, name: str, storage: str,
             max_trials: int) -> int:
    """One study per value of ``--over path=v1,v2,...``, run one after another."""
    import ast
    import copy

    import dataclasses

    from protein.report.stats import study_stats
    from protein.output import table
    from protein.space import Space
    from protein.tree import set_path
    from protein.study import Study

    path, _, values = args.over.partition("=")
    if not path or not values:
        raise ProteinError(f"--over {args.over!r}: expected path=v1,v2,... e.g. env.name=single,double")
    if path in cfg.space.dists:
        raise ProteinError(f"--over {path}: that parameter is searched; --over sets a fixed value")
    codes = []
    names = []
    for raw in values.split(","):
        try:
            v = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            v = raw
        fixed = copy.deepcopy(dict(cfg.fixed))
        set_path(fixed, path, v)
        sub = dataclasses.replace(cfg, space=Space(cfg.space.dists, cfg.space.conditions, fixed))
        from protein.config.sweep import STUDY_NAME_RULE, check_study_name

        try:
            sub_name = check_study_name(f"{name}-{raw}")
        except ProteinError:
            raise ProteinError(
                f"--over {path}: the value {raw!r} makes the study name {name + '-' + raw!r}, "
                f"which is not one ({STUDY_NAME_RULE}); give values that can name a study, "
                "e.g. env.name=single,double") from None
        names.append(sub_name)
        print(f"protein run: study {sub_name} ({path}={raw})", file=sys.stderr)
        sub_args = argparse.Namespace(**{**vars(args), "over": None, "study": sub_name})
        import yaml

        tmp_cfg = Path(args.out) / f"{sub_name}.sweep.yaml"
        tmp_cfg.parent.mkdir(parents=True, exist_ok=True)
        tmp_cfg.write_text(yaml.safe_dump(sub.to_dict(), sort_keys=False))
        sub_args.config = str(tmp_cfg)
        sub_args.max_trials = max_trials
        codes.append(_run(sub_args))
    rows = [study_stats(Study.load(n, storage)) for n in names]
    print(table([[r["study"], r["complete"], r["best"], r["best_trial"], r["cost_to_best"]]
                 for r in rows], ["study", "complete", f"best {cfg.metric}", "at trial",
                                  "cost to best"]))
    return max(codes)


def add_run(sub: Any) -> None:
    p = sub.add_parser("run", help="run a sweep: ask, train, tell with parallel workers")
    p.add_argument("config", help="sweep config")
    add_study_options(p)
    p.add_argument("--workers", type=int, default=1,
                   help="parallel workers: processes, Ray tasks or Slurm array tasks")
    p.add_argument("--launcher", "--executor", dest="launcher",
                   choices=["local", "ray", "slurm"], default="local",
                   help="where the workers run: local processes (the default), Ray tasks "
                        "(pip install 'protein-hpo[ray]'), or a Slurm job array (pip install "
                        "'protein-hpo[slurm]'; see the Slurm options)")
    p.add_argument("--ray-address", default=None,
                   help="an existing Ray cluster (default: start a local Ray instance)")
    p.add_argument("--gpus-per-trial", type=float, default=None,
                   help="GPUs each Ray task asks for (default 1 when the cluster has GPUs)")
    add_trial_options(p)
    add_slurm_options(p)
    p.add_argument("--detach", action="store_true",
                   help="--launcher slurm: leave once the job array is submitted (watch it with "
                        "protein status)")
    p.add_argument("--seed", type=int, default=0,
                   help="the study's seed: the same trials and seed give the same suggestions; "
                        "trial N trains with seed SEED * 1000000 + N (seed 0: N)")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument("--dry-run", action="store_true",
                   help="validate, show the space and trial count, run one trial at the smallest "
                        "budget; store nothing")
    p.add_argument("--budget-param", default=None,
                   help="the parameter that sets a trial's budget (for --dry-run)")
    p.add_argument("--over", default=None, metavar="PATH=V1,V2",
                   help="one study per value of a fixed override, e.g. env.name=single,double")
    p.set_defaults(func=_run)


def add_study_options(p: Any) -> None:
    p.add_argument("--study", default=None,
                   help="study name (default: the config's study: key, else its file name)")
    p.add_argument("--storage", default=None,
                   help="sqlite path or postgresql:// URL (default: $PROTEIN_STORAGE or ./protein.db)")


def add_trial_options(p: Any) -> None:
    """How each trial runs: the options of ``protein run``, ``protein worker`` and
    ``protein slurm-script``, written once (defaults None: the config's, then the run's)."""
    what = p.add_mutually_exclusive_group()
    what.add_argument("--trainer", help="python module with train(params, seed, device, report)")
    what.add_argument("--command",
                      help="program to run per trial; params are passed per --pass. It is split "
                           "like a shell would (shlex) but runs without a shell: no pipes, "
                           "redirections or FOO=1 prefixes (set variables before protein run)")
    p.add_argument("--pass", dest="pass_mode", choices=["flags", "hydra", "json", "env"],
                   default=None,
                   help="how --command gets the params and the trial seed: flags --a.b=value "
                        "(the default; lists as --a.b v1 v2), hydra a.b=value, json (a file "
                        "path argument), env (A_B=value variables); the seed also comes as "
                        "$PROTEIN_SEED")
    p.add_argument("--timeout", type=float, default=None, help="seconds before a trial is failed")
    p.add_argument("--max-trials", type=int, default=None,
                   help="total trials (default: rollout_count x num_samples from the config)")
    stop = p.add_argument_group(
        "early stopping", "rules applied to the intermediate values a trial reports; none stops "
        "a trial before its grace period or at its last step")
    stop.add_argument("--early-stop", choices=RULES, default=None,
                      help="auto (the default): the curve rule once 3 trials have completed "
                           "with curves, else none; none for random and grid sweeps. curve: "
                           "stop when the learning-"
                           "curve model gives the trial's final score little chance of "
                           "reaching the best score of trials that spent no more; protein: "
                           "below a quantile line of score against log cost (10 complete "
                           "trials); median: below the median of the other trials at the same "
                           "step; asha: successive halving")
    add_stop_options(stop, defaults=False)
    p.add_argument("--out", default="runs", help="directory for per-trial files (default runs/)")
    p.add_argument("--device", default=None, help="trainer device (default: cuda if present)")
    p.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="write each trial's intermediate values as TensorBoard scalars")
    p.add_argument("--wandb-project", default=None,
                   help="log each trial as a W&B run (default: the config's wandb_project)")
    p.add_argument("--wandb-entity", default=None, help="the W&B entity (team or user)")


def add_slurm_options(p: Any) -> None:
    """What each Slurm array task asks for; the config's ``slurm:`` key gives the same."""
    g = p.add_argument_group(
        "Slurm", "resources of each worker (array task) with --launcher slurm and in protein "
        "slurm-script; the config's slurm: key sets the same (partition, time, ...)")
    g.add_argument("--partition", default=None)
    g.add_argument("--time", default=None,
                   help="each worker's time limit: minutes, HH:MM:SS or D-HH:MM:SS; near it the "
                        "worker hands its trial back and requeues itself")
    g.add_argument("--gpus-per-worker", type=int, default=None)
    g.add_argument("--cpus-per-worker", type=int, default=None)
    g.add_argument("--mem", default=None, help="memory per worker, e.g. 32G")
    g.add_argument("--account", default=None)
    g.add_argument("--qos", default=None)
    g.add_argument("--slurm-arg", dest="slurm_args", action="append", default=[],
                   metavar="KEY=VALUE", help="any other sbatch option, e.g. constraint=a100 "
                                             "(repeatable)")
    g.add_argument("--allow-shared-sqlite", action="store_true",
                   help="let Slurm workers share a SQLite file: only when every job runs on "
                        "this one node; across nodes use PostgreSQL")


def slurm_resources(args: argparse.Namespace, cfg: Any) -> Any:
    """The Slurm resources of ``args`` over the config's ``slurm:`` key."""
    from protein.runner.slurm import resources_from

    options = {"partition": args.partition, "time": args.time,
               "gpus_per_worker": args.gpus_per_worker, "cpus_per_worker": args.cpus_per_worker,
               "mem": args.mem, "account": args.account, "qos": args.qos,
               "args": args.slurm_args}
    return resources_from(options, cfg.extras.get("slurm"), f"{cfg.source}: slurm")
