"""``protein run``: a supervisor and worker processes that ask, train and tell.

Each worker is an independent process running the same loop a shell user would: ask the
study for a trial, run it (a trainer function in-process, or any command), report its
intermediate values, tell the result. The supervisor only starts workers, shows progress
and stops them. So a worker killed mid-trial loses nothing finished, and ``protein run``
again resumes: trials of dead workers are handed out again first.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from protein.errors import ProteinError, TrialError

STARTUP_CRASHES = 3
HEARTBEAT_S = 20.0


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs, picklable."""

    study: str
    storage: str
    trainer: str | None = None
    command: str | None = None
    pass_mode: str = "flags"
    timeout: float | None = None
    max_trials: int | None = None
    stop: Mapping[str, Any] = field(default_factory=dict)  # StopConfig's fields but quantile
    out_dir: str = "runs"
    device: str | None = None
    threads: int = 1
    env: Mapping[str, str] = field(default_factory=dict)
    tensorboard: str | None = None
    wandb_project: str | None = None
    wandb_entity: str | None = None

    def stop_config(self, quantile: float = 0.3) -> Any:
        """The early-stopping settings of this run."""
        from protein.early_stop import StopConfig

        return StopConfig(**{**self.stop, "quantile": quantile})


# ----------------------------------------------------------------------- worker
class _Stop(Exception):
    """Raised inside a trainer's report() to end the run early."""


def worker_main(spec_dict: dict[str, Any], index: int) -> None:
    """Entry of a worker process: loop until the study has ``max_trials`` trials."""

    def on_term(signum: int, frame: Any) -> None:
        child = _CHILD.get("proc")
        if child is not None and child.poll() is None:
            _kill(child)
        os._exit(143)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides
        signal.signal(signal.SIGTERM, on_term)
    spec = RunSpec(**spec_dict)
    os.environ.update(spec.env)
    import torch

    torch.set_num_threads(max(1, spec.threads))
    from protein.storage.sql import worker_name
    from protein.study import Study

    study = Study.load(spec.study, spec.storage)
    name = worker_name()
    while True:
        if startup_crashes(study.trials()) is not None:
            return  # the supervisor reports it and stops the sweep
        trial = study.ask(worker=name, max_trials=spec.max_trials, retry_stale=True)
        if trial is None:
            return
        run_trial(study, trial, spec)


_CHILD: dict[str, Any] = {}


def trial_dir(spec: RunSpec, trial_id: int) -> Path:
    d = Path(spec.out_dir) / spec.study / f"trial_{trial_id:04d}"
    d.mkdir(parents=True, exist_ok=True)
    return d


def run_trial(study: Any, trial: Any, spec: RunSpec) -> None:
    """Run one trial and tell its result; failures become failed trials with a reason.

    The trial's seed is its id: the trainer gets it as ``seed``, a command as the config's
    ``seed_key`` (``--seed=N`` / ``seed=N``) and as ``$PROTEIN_SEED``.
    """
    import yaml

    from protein.early_stop import cost_unit_is_wall, decide

    cfg = study.config
    nested = cfg.space.nest(trial.params)
    d = trial_dir(spec, trial.trial_id)
    (d / "params.yaml").write_text(yaml.safe_dump(nested, sort_keys=False))
    metrics = open(d / "metrics.csv", "w")
    metrics.write("step,value\n")
    history: list[tuple[float, float]] = []
    stop_state = {"stop": False, "rule": "none"}
    stop_cfg = spec.stop_config(cfg.settings.early_stop_quantile)
    tb = _tensorboard(spec, trial.trial_id)
    wb = _wandb(spec, study, trial, nested)
    start = time.time()

    def report(step: float, value: float, cost: float | None = None) -> bool:
        step, value = float(step), float(value)
        history.append((step, value))
        metrics.write(f"{step},{value}\n")
        metrics.flush()
        study.report(trial, step, value)
        if tb is not None:
            tb.add_scalar(cfg.metric, value, step)
        if wb is not None:
            wb.log({cfg.metric: value, "step": step})
        if stop_cfg.rule == "none":
            return False
        others = [t for t in study.trials() if t.trial_id != trial.trial_id]
        if cost is None and cost_unit_is_wall([t for t in others if t.is_complete]):
            cost = time.time() - start
        stop, rule = decide(stop_cfg, cfg.sign, history, others, cost)
        stop_state.update(stop=stop, rule=rule)
        return stop

    seed = trial.trial_id
    try:
        if spec.trainer:
            result = _run_trainer(spec, nested, seed, report, d)
        else:
            result = _run_command(spec, cfg, trial.trial_id, seed, nested, d, report)
    except _Failure as f:
        _tell_failed(study, trial, f.reason, f.detail, d, startup=f.startup and not history)
        _close(metrics, tb, wb, "failed")
        return
    except Exception as e:  # noqa: BLE001 - a crashing trainer fails its trial, not the sweep
        detail = traceback.format_exc()
        _tell_failed(study, trial, f"{type(e).__name__}: {e}", detail, d, startup=not history)
        _close(metrics, tb, wb, "failed")
        return
    wall = time.time() - start
    score = result.get(cfg.metric, result.get("score"))
    cost = result.get("cost")
    unit = "reported"
    if cost is None or not isinstance(cost, (int, float)) or not cost > 0:
        cost, unit = max(wall, 1e-3), "wall seconds"
    (d / "result.json").write_text(json.dumps({**result, "wall_seconds": wall}, default=str))
    extra = reported_metrics(result, exclude=(*cfg.metric_names, "score", "cost"))
    note = {"cost_unit": unit}
    if stop_state["stop"]:
        last = score if score is not None else (history[-1][1] if history else None)
        study.tell(trial, last, cost, pruned=True, metrics=extra, info=note,
                   reason=f"early stop ({stop_state['rule']} rule) at step {history[-1][0]:g}")
    elif cfg.multi:
        missing = [m for m in cfg.metric_names if m not in result]
        if missing:
            _tell_failed(study, trial, f"no '{missing[0]}' in the result (this sweep needs "
                         f"{', '.join(cfg.metric_names)})", json.dumps(result, default=str)[:2000],
                         d, startup=False)
        else:
            try:
                study.tell(trial, {m: result[m] for m in cfg.metric_names}, cost, metrics=extra,
                           info=note)
            except TrialError as e:
                _tell_failed(study, trial, str(e), json.dumps(result, default=str)[:2000], d,
                             startup=False)
    elif score is None:
        _tell_failed(study, trial, f"no '{cfg.metric}' in the result", json.dumps(result)[:2000],
                     d, startup=False)
    else:
        try:
            score_f = float(score)
        except (TypeError, ValueError):
            score_f = float("nan")
        if not math.isfinite(score_f):
            study.tell(trial, failed=True, reason=f"non-finite score ({score})", cost=cost)
        else:
            study.tell(trial, score_f, cost, metrics=extra, info=note)
    if tb is not None:
        t = study.trial(trial.trial_id)
        step = history[-1][0] if history else 0
        if t.score is not None:
            tb.add_scalar(f"final/{cfg.metric}", t.score, step)
        for name, value in {**(t.info.get("values") or {}), **(t.info.get("metrics") or {})}.items():
            if name != cfg.metric and t.state.value == "complete":
                tb.add_scalar(f"final/{name}", value, step)
    _close(metrics, tb, wb, study.trial(trial.trial_id).state.value,
           study.trial(trial.trial_id), cfg.metric)


def reported_metrics(result: Mapping[str, Any], exclude: tuple[str, ...] = ()) -> dict[str, float]:
    """Every finite number a trainer or command reported, besides ``exclude``."""
    out = {}
    for k, v in result.items():
        if k in exclude or isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if math.isfinite(float(v)):
            out[str(k)] = float(v)
    return out


class _Failure(Exception):
    def __init__(self, reason: str, detail: str = "", startup: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.detail, self.startup = reason, detail, startup


def _tell_failed(study: Any, trial: Any, reason: str, detail: str, d: Path,
                 startup: bool) -> None:
    (d / "error.txt").write_text(detail or reason)
    info_reason = reason.splitlines()[0][:500] if reason else "failed"
    study.storage.finish_trial(
        trial.trial_id, _failed_state(), None, None,
        {"failure": info_reason, "startup_crash": startup, "traceback": (detail or "")[-4000:]},
    )


def _failed_state():  # type: ignore[no-untyped-def]
    from protein.trial import TrialState

    return TrialState.FAILED


def _run_trainer(spec: RunSpec, nested: dict, seed: int, report: Any, d: Path | None = None) -> dict:
    """Call ``train(params, seed=, device=, report=)`` in this process; its stdout and stderr
    go to ``d/stdout.log`` and ``d/stderr.log`` (the file descriptors, so C output too)."""
    import importlib

    module = importlib.import_module(spec.trainer)  # type: ignore[arg-type]
    fn = getattr(module, "train", None)
    if fn is None:
        raise _Failure(f"{spec.trainer} has no train(params, seed, device, report) function",
                       startup=True)
    if spec.timeout:
        def alarm(signum: int, frame: Any) -> None:
            raise _Failure(f"timeout after {spec.timeout:g}s")

        signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, spec.timeout)
    try:
        with _captured(d):
            result = fn(nested, seed=seed, device=spec.device, report=report)
    finally:
        if spec.timeout:
            signal.setitimer(signal.ITIMER_REAL, 0)
    if not isinstance(result, Mapping):
        raise _Failure(f"{spec.trainer}.train returned {type(result).__name__}, expected a "
                       "dict with 'score' and 'cost'")
    if "error" in result and not isinstance(result.get("score"), (int, float)):
        raise _Failure(str(result["error"]))
    return dict(result)


class _captured:
    """Send this process's stdout and stderr (file descriptors 1 and 2) to files in ``d``."""

    def __init__(self, d: Path | None) -> None:
        self.d = d
        self.saved: list[int] = []

    def __enter__(self) -> None:
        if self.d is None:
            return
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, name in ((1, "stdout.log"), (2, "stderr.log")):
            self.saved.append(os.dup(fd))
            with open(self.d / name, "ab") as f:
                os.dup2(f.fileno(), fd)

    def __exit__(self, *exc: Any) -> None:
        if self.d is None:
            return
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, saved in zip((1, 2), self.saved):
            os.dup2(saved, fd)
            os.close(saved)


def command_argv(spec: RunSpec, nested: dict, d: Path, seed: int | None = None,
                 seed_key: str | None = "seed") -> tuple[list[str], dict]:
    """The command line and extra environment for one trial, per ``--pass``.

    The seed goes in as ``seed_key`` (a flag, an override, a JSON key or a variable, as the
    params do) unless ``seed_key`` is None, and always as ``$PROTEIN_SEED``.
    """
    import copy

    from protein.output import env_name, param_args, value_text
    from protein.space import flatten, set_path

    if seed is not None and seed_key:
        nested = copy.deepcopy(nested)
        set_path(nested, seed_key, seed)
    flat = flatten(nested)
    argv = shlex.split(spec.command or "")
    env: dict[str, str] = {} if seed is None else {"PROTEIN_SEED": str(seed)}
    if spec.pass_mode in ("flags", "hydra"):
        argv += param_args(flat, spec.pass_mode)
    elif spec.pass_mode == "json":
        path = d / "params.json"
        path.write_text(json.dumps(nested, indent=2))
        argv.append(str(path))
        env["PROTEIN_PARAMS_FILE"] = str(path)
    elif spec.pass_mode == "env":
        for k, v in flat.items():
            env[env_name(k)] = value_text(v)
    else:
        raise ProteinError(f"--pass: unknown mode {spec.pass_mode!r}; use flags, hydra, json or env")
    return argv, env


def _run_command(spec: RunSpec, cfg: Any, trial_id: int, seed: int, nested: dict, d: Path,
                 report: Any) -> dict:
    argv, extra = command_argv(spec, nested, d, seed, cfg.seed_key)
    env = {**os.environ, **extra, "PROTEIN_TRIAL": str(trial_id),
           "PROTEIN_TRIAL_DIR": str(d), "PROTEIN_STUDY": spec.study}
    metric = cfg.metric
    out_log = open(d / "stdout.log", "w")
    err_log = open(d / "stderr.log", "w")
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err_log, text=True,
                                env=env, start_new_session=True)
    except OSError as e:
        raise _Failure(f"cannot start {argv[0]!r}: {e.strerror}", startup=True) from None
    _CHILD["proc"] = proc
    deadline = time.time() + spec.timeout if spec.timeout else None
    timed_out = {"v": False}
    if deadline:
        def watchdog() -> None:
            while proc.poll() is None:
                if time.time() > deadline:
                    timed_out["v"] = True
                    _kill(proc)
                    return
                time.sleep(0.2)

        threading.Thread(target=watchdog, daemon=True).start()
    last: dict[str, Any] | None = None
    stopped = False
    assert proc.stdout is not None
    for line in proc.stdout:
        out_log.write(line)
        out_log.flush()
        obj = _json_line(line)
        if obj is None:
            continue
        if "step" in obj and ("value" in obj or metric in obj) and not stopped:
            value = obj.get("value", obj.get(metric))
            try:
                spent = obj.get("cost")
                spent = float(spent) if isinstance(spent, (int, float)) and spent > 0 else None
                if report(float(obj["step"]), float(value), spent):
                    stopped = True
                    last = {metric: float(value), "stopped_early": True}
                    _kill(proc)
                    break
            except (TypeError, ValueError):
                pass
        if metric in obj or "score" in obj:
            last = obj
    code = proc.wait()
    _CHILD.pop("proc", None)
    out_log.close()
    err_log.close()
    if stopped and last is not None:
        return last
    if timed_out["v"]:
        raise _Failure(f"timeout after {spec.timeout:g}s")
    if code != 0:
        tail = (d / "stderr.log").read_text()[-4000:]
        lines = [x for x in tail.splitlines() if x.strip()]
        reason = f"exit code {code}" + (f": {lines[-1][:300]}" if lines else "")
        if cfg.seed_key and "unrecognized arguments" in tail and cfg.seed_key in tail:
            reason += (f" (the command does not take the trial seed as {cfg.seed_key}; accept "
                       "it, name its key with seed_key: in the config, or set seed_key: null "
                       "to pass it only as $PROTEIN_SEED)")
        raise _Failure(reason, tail, startup=True)
    results_file = d / "result.json"
    if last is None and results_file.exists():
        last = _json_line(results_file.read_text())
    if last is None:
        raise _Failure(
            f"the command printed no JSON line with '{metric}' (e.g. {{\"{metric}\": 0.93, "
            f"\"cost\": 120}}) and wrote no $PROTEIN_TRIAL_DIR/result.json", startup=True)
    return last


def _json_line(line: str) -> dict | None:
    line = line.strip()
    if not (line.startswith("{") and line.endswith("}")):
        return None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tensorboard(spec: RunSpec, trial_id: int) -> Any:
    if not spec.tensorboard:
        return None
    from protein.integrations.tensorboard import writer

    return writer(spec.tensorboard, spec.study, trial_id)


def _wandb(spec: RunSpec, study: Any, trial: Any, nested: dict) -> Any:
    if not spec.wandb_project:
        return None
    from protein.integrations.wandb import start_trial_run

    return start_trial_run(spec.wandb_project, study, trial, nested, spec.wandb_entity)


def _close(metrics: Any, tb: Any, wb: Any, state: str, trial: Any = None,
           metric: str = "score") -> None:
    metrics.close()
    if tb is not None:
        tb.close()
    if wb is not None:
        from protein.integrations.wandb import finish_trial_run

        finish_trial_run(wb, trial, state, metric)


# ------------------------------------------------------------------- supervisor
class _RayWorker:
    """A Ray task running the worker loop, with a process-like face for the supervisor."""

    def __init__(self, ray: Any, ref: Any) -> None:
        self.ray, self.ref = ray, ref
        self.pid = None
        self.exitcode: int | None = None

    def is_alive(self) -> bool:
        done, _ = self.ray.wait([self.ref], timeout=0)
        if done and self.exitcode is None:
            try:
                self.ray.get(self.ref)
                self.exitcode = 0
            except Exception as e:  # noqa: BLE001 - reported by the supervisor
                print(f"protein run: error: a Ray worker failed: {e}", file=sys.stderr)
                self.exitcode = 1
        return not done

    def terminate(self) -> None:
        self.ray.cancel(self.ref, force=True)

    kill = terminate

    def join(self, timeout: float | None = None) -> None:
        try:
            self.ray.wait([self.ref], timeout=timeout)
        except Exception:  # noqa: BLE001
            pass


def _ray_workers(spec: RunSpec, workers: int, address: str | None,
                 gpus_per_trial: float | None) -> list[_RayWorker]:
    from protein.errors import require

    ray = require("ray", "ray", "--executor ray")
    if not ray.is_initialized():
        try:
            ray.init(address=address, ignore_reinit_error=True, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ProteinError(
                f"--ray-address {address}: no Ray cluster to join ({first}); start one with "
                "`ray start --head`, give its address, or leave --ray-address out to start a "
                "local Ray instance") from None
    gpus = gpus_per_trial
    if gpus is None:
        gpus = 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0
    task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=0)(worker_main)
    return [_RayWorker(ray, task.remote(asdict(spec), i)) for i in range(workers)]


def supervise(spec: RunSpec, workers: int, progress: bool = True, executor: str = "local",
              ray_address: str | None = None, gpus_per_trial: float | None = None) -> int:
    """Start ``workers`` worker loops (processes, or Ray tasks) and watch them."""
    from protein.study import Study

    study = Study.load(spec.study, spec.storage)
    run_dir = Path(spec.out_dir) / spec.study
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "run.json").write_text(json.dumps(
        {"trainer": spec.trainer, "command": spec.command, "pass_mode": spec.pass_mode,
         "storage": spec.storage, "study": spec.study, "device": spec.device}, indent=2))
    procs: list[Any] = []
    if executor == "ray":
        procs = _ray_workers(spec, workers, ray_address, gpus_per_trial)
    else:
        gpus = _gpu_count()
        ctx = mp.get_context("spawn")
        for i in range(workers):
            env = dict(spec.env)
            if gpus > 1:
                env["CUDA_VISIBLE_DEVICES"] = str(i % gpus)
            s = RunSpec(**{**asdict(spec), "env": env})
            p = ctx.Process(target=worker_main, args=(asdict(s), i), daemon=False)
            p.start()
            procs.append(p)
    show = Progress(study, spec.max_trials, enabled=progress)
    code = 0
    try:
        while True:
            alive = any(p.is_alive() for p in procs)
            time.sleep(0.5 if alive else 0)
            trials = study.trials()
            show.update(trials)
            crash = startup_crashes(trials)
            if crash is not None:
                _stop(procs)
                show.done(trials)
                print(f"protein run: error: {STARTUP_CRASHES} trials in a row crashed at start-up; "
                      f"stopping the sweep. First traceback (trial {crash.trial_id}):\n"
                      f"{crash.info.get('traceback') or crash.info.get('failure')}",
                      file=sys.stderr)
                return 3
            if not alive:
                break
            _heartbeat(study, trials, procs)
    except KeyboardInterrupt:
        _stop(procs)
        trials = study.trials()
        show.done(trials)
        print(f"protein run: interrupted; {sum(t.state.finished for t in trials)} trials "
              "finished are stored. Run the same command again to resume (running trials are "
              "restarted).", file=sys.stderr)
        return 130
    for p in procs:
        p.join()
        if p.exitcode not in (0, None):
            code = 1
    show.done(study.trials())
    if code:
        print("protein run: error: a worker process exited abnormally; its trial is handed "
              "out again on resume", file=sys.stderr)
    return code


def _heartbeat(study: Any, trials: list, procs: list) -> None:
    now = time.time()
    if now - getattr(_heartbeat, "last", 0.0) < HEARTBEAT_S:
        return
    _heartbeat.last = now  # type: ignore[attr-defined]
    pids = {str(p.pid) for p in procs if p.pid is not None and p.is_alive()}
    if any(p.pid is None for p in procs):  # Ray tasks: every running trial of this study
        mine = [t.trial_id for t in trials if t.state.value == "running"]
    else:
        mine = [t.trial_id for t in trials
                if t.state.value == "running" and t.worker and t.worker.rpartition(":")[2] in pids]
    if mine:
        study.heartbeat(mine)


def _stop(procs: list) -> None:
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()


def startup_crashes(trials: list) -> Any:
    """The first of the last ``STARTUP_CRASHES`` finished trials if all crashed at start-up."""
    finished = [t for t in trials if t.state.finished]
    finished.sort(key=lambda t: t.finished_at or 0)
    tail = finished[-STARTUP_CRASHES:]
    if len(tail) == STARTUP_CRASHES and all(t.info.get("startup_crash") for t in tail):
        return min(tail, key=lambda t: t.trial_id)
    return None


def _gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:  # noqa: BLE001
        return 0


class Progress:
    """One status line: finished/total, running, best so far (a live line on a terminal)."""

    def __init__(self, study: Any, total: int | None, enabled: bool = True) -> None:
        self.study, self.total, self.enabled = study, total, enabled
        self.tty = sys.stderr.isatty()
        self.last = ""

    def line(self, trials: list) -> str:
        cfg = self.study.config
        states: dict[str, int] = {}
        for t in trials:
            states[t.state.value] = states.get(t.state.value, 0) + 1
        done = [t for t in trials if t.is_complete]
        best = max(done, key=lambda t: cfg.sign * t.score) if done else None
        fin = sum(v for k, v in states.items() if k != "running")
        total = f"/{self.total}" if self.total else ""
        extra = ", ".join(f"{states[k]} {k}" for k in ("failed", "pruned") if states.get(k))
        b = f"best {cfg.metric} {best.score:.4g} (trial {best.trial_id})" if best else "no result yet"
        if best and len(cfg.objectives) > 1:
            from protein.multi import pareto_set

            k = len(pareto_set(cfg.objectives, cfg.constraints, done))
            b = f"{k} trial{'s' if k != 1 else ''} on the Pareto set"
        return (f"[{self.study.name}] {fin}{total} finished"
                + (f" ({extra})" if extra else "") + f", {states.get('running', 0)} running, {b}")

    def update(self, trials: list) -> None:
        if not self.enabled:
            return
        text = self.line(trials)
        if text == self.last:
            return
        self.last = text
        if self.tty:
            print("\r" + text.ljust(79)[:200], end="", file=sys.stderr, flush=True)
        else:
            print(text, file=sys.stderr, flush=True)

    def done(self, trials: list) -> None:
        if self.enabled:
            self.update(trials)
            if self.tty:
                print(file=sys.stderr)
