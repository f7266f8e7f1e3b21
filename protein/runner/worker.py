"""A worker: the loop a shell user would run. Ask the study for a trial, run it (through
``execute``), report its intermediate values (with early stopping), tell the result.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from protein.errors import ConnectionLost, ProteinError, StorageError, TrialError
from protein.integrations.tensorboard import add_hparams, writer
from protein.integrations.wandb import finish_trial_run, start_trial_run
from protein.optimizer.curves import cost_is_step
from protein.optimizer.early_stop import Verdict
from protein.process import worker_name
from protein.results import cost_of, number, problem
from protein.runner.execute import CHILD, Failure, die_with_parent, kill, run_command, run_trainer
from protein.runner.handback import (
    HandBack,
    Heartbeat,
    StopSignals,
    heartbeat_every,
    requeue_self,
    slurm_job_id,
)
from protein.runner.spec import RunSpec, trial_dir
from protein.study import Study
from protein.trial import Report

STARTUP_CRASHES = 3


def worker_main(spec_dict: dict[str, Any], slot: Any = None) -> None:
    """Entry of a worker process: loop until the study has ``max_trials`` trials.
    ``slot``: a shared integer (``multiprocessing.Value``) where it keeps its command's
    process group, for the supervisor to end if this worker is killed."""
    CHILD["slot"] = slot

    def on_term(signum: int, frame: Any) -> None:
        child = CHILD.get("proc")
        if child is not None and child.poll() is None:
            kill(child)
        os._exit(143)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides
        signal.signal(signal.SIGTERM, on_term)
        die_with_parent(signal.SIGTERM)  # a killed supervisor stops its workers (and commands)
    spec = RunSpec(**spec_dict)
    os.environ.update(spec.env)
    import torch

    torch.set_num_threads(max(1, spec.threads))

    name = worker_name()
    try:
        _loop(Study.load(spec.study, spec.storage), name, spec)
    except StorageError as e:  # the storage stayed away past its retries: say so, no traceback
        print(f"protein run: error: worker {name}: {e}", file=sys.stderr)
        sys.exit(2)


def standalone_main(spec: RunSpec, name: str | None = None) -> int:
    """A worker with no supervisor (``protein worker``, a Slurm array task): the same loop,
    plus what a supervisor would do for it: it keeps its trial's heartbeat itself, and when
    told to stop (SIGTERM, SIGINT, the pre-timeout USR1/USR2) it hands its running trial
    back, asks Slurm to requeue its job after a pre-timeout signal, and exits. Returns the
    exit code: 0 when the study has its trials, 143/130 after a stop, 2 when the storage
    stayed away."""
    signals = StopSignals().install()
    os.environ.update(spec.env)
    job = slurm_job_id()
    name = name or (f"{socket.gethostname()}:{job}" if job else worker_name())
    import torch

    torch.set_num_threads(max(1, spec.threads))
    beat = None
    try:
        study = Study.load(spec.study, spec.storage)
        beat = Heartbeat(spec.study, spec.storage, heartbeat_every(study.lease_s))
        _loop(study, name, spec, signals, beat)
    except StorageError as e:
        print(f"protein worker: error: worker {name}: {e}", file=sys.stderr)
        return 2
    finally:
        if beat is not None:
            beat.close()
    if signals.received is None:
        return 0
    if signals.requeue:
        requeue_self(name)
    return 130 if signals.received == "SIGINT" else 143


def _loop(study: Any, name: str, spec: RunSpec, signals: Any = None, beat: Any = None) -> None:
    """Ask, run and tell until the study has its trials (or ``signals`` says stop)."""
    while True:
        if signals is not None and signals.received:
            return
        if startup_crashes(study.trials(), spec.since) is not None:
            return  # the supervisor reports it and stops the sweep
        trial = _ask(study, name, spec)
        if trial is None:
            return
        if beat is not None:
            beat.trial_id = trial.trial_id
        try:
            run_trial(study, trial, spec, signals)
        except TrialError as e:  # another worker finished it first (its lease ran out)
            print(f"protein run: worker {name}: trial {trial.trial_id} was not ours to finish "
                  f"({e}); moving on", file=sys.stderr)
        except OSError as e:  # the trial's files cannot be written: a full disk, a lost mount
            why = write_failure(e, spec.out_dir)
            try:
                study.tell(trial, failed=True, reason=why)
            except ProteinError:
                pass  # the storage is on the same full disk: the lease expires the trial
            print(f"protein run: error: worker {name}: {why}; this worker stops",
                  file=sys.stderr)
            sys.exit(1)
        finally:
            if beat is not None:
                beat.trial_id = None


def write_failure(e: OSError, where: str) -> str:
    """One line for a failed write under ``where``, saying "the disk is full" when it is."""
    import errno

    full = e.errno in (errno.ENOSPC, errno.EDQUOT)
    return (f"cannot write under {where} ({e.strerror}"
            f"{': ' + str(e.filename) if e.filename else ''})"
            + ("; the disk is full: free space and run again to resume" if full else ""))


ASK_RETRIES = 5  # asks run again after the storage's connection dropped in one


def _ask(study: Any, name: str, spec: RunSpec) -> Any:
    """The next trial for this worker; an ask whose connection dropped while it held the
    ask lock (it withdrew, failing what it made) is asked again."""
    for attempt in range(ASK_RETRIES + 1):
        try:
            return study.ask(worker=name, max_trials=spec.max_trials, retry_stale=True)
        except ConnectionLost as e:
            if attempt == ASK_RETRIES:
                raise
            print(f"protein run: worker {name}: {e}; asking again", file=sys.stderr)
    return None


def startup_crashes(trials: list, since: float = 0.0) -> Any:
    """The first of the last ``STARTUP_CRASHES`` trials finished since ``since`` (this run's
    start) if all crashed at start-up and no trial ever succeeded: a command that cannot
    start at all. Once one trial has finished, the command works, and a crash is that
    trial's own failure; crashes of an earlier run (a typo since fixed) do not count."""
    if any(t.state.value == "complete" for t in trials):
        return None
    finished = [t for t in trials if t.state.finished and (t.finished_at or 0) >= since]
    finished.sort(key=lambda t: t.finished_at or 0)
    tail = finished[-STARTUP_CRASHES:]
    if len(tail) == STARTUP_CRASHES and all(t.info.get("startup_crash") for t in tail):
        return min(tail, key=lambda t: t.trial_id)
    return None


def run_trial(study: Any, trial: Any, spec: RunSpec, signals: Any = None) -> None:
    """Run one trial and tell its result; failures become failed trials with a reason.

    The trial's seed (``Study.trial_seed``: its id, shifted per study seed): the trainer gets
    it as ``seed``, a command as the config's
    ``seed_key`` (``--seed=N`` / ``seed=N``) and as ``$PROTEIN_SEED``.
    ``signals`` (``handback.StopSignals``, standalone workers): a trial whose worker was
    told to stop while it ran is handed back (``Study.release``), not failed.
    """
    import yaml


    cfg = study.config
    nested = cfg.space.nest(trial.params)
    d = trial_dir(spec, trial.trial_id)
    (d / "params.yaml").write_text(yaml.safe_dump(nested, sort_keys=False))
    metrics = open(d / "metrics.csv", "a")  # a trial run again adds to its earlier rows
    if metrics.tell() == 0:
        metrics.write("step,value,cost\n")
    history: list[Report] = []
    verdict = Verdict(False, "none")
    stop_cfg = spec.stop_config(cfg.settings.early_stop_quantile)
    tb = _tensorboard(spec, trial.trial_id)
    wb = _wandb(spec, study, trial, nested)
    start = time.time()

    def report(step: float, value: float, cost: float | None = None) -> bool:
        if signals is None:
            return _report(step, value, cost)
        signals.in_trainer = False  # a signal now waits until the storage is written
        try:
            stop = _report(step, value, cost)
        finally:
            signals.in_trainer = bool(spec.trainer) and not signals.received
        if signals.received and spec.trainer:
            raise HandBack(signals.why)
        return stop

    def _report(step: float, value: float, cost: float | None = None) -> bool:
        nonlocal verdict
        r = Report(float(step), float(value), None if cost is None else float(cost))
        history.append(r)
        metrics.write(f"{r.step},{r.value},{'' if r.cost is None else r.cost}\n")
        metrics.flush()
        study.report(trial, r.step, r.value, r.cost)
        if tb is not None:
            tb.add_scalar(cfg.metric, r.value, r.step)
        if wb is not None:
            wb.log({cfg.metric: r.value, "step": r.step})
        if stop_cfg.rule == "none":
            return False
        verdict = study.should_stop(trial, **spec.stop)  # judged from the stored reports
        return verdict.stop

    trial_seed = study.trial_seed(trial)
    try:
        if spec.trainer:
            if signals is not None:
                signals.in_trainer = not signals.received
            result = run_trainer(spec, nested, trial_seed, report, d)
        else:
            result = run_command(spec, cfg, trial.trial_id, trial_seed, nested, d, report,
                                 signals)
    except Failure as f:
        if signals is not None:
            signals.await_own(f.signum)
        if _handed_back(study, trial, signals, metrics, tb, wb, start):
            return
        _tell_failed(study, trial, f.reason, f.detail, d, startup=f.startup and not history)
        _close(metrics, tb, wb, "failed")
        return
    except Exception as e:  # noqa: BLE001 - a crashing trainer fails its trial, not the sweep
        if _handed_back(study, trial, signals, metrics, tb, wb, start):
            return
        detail = traceback.format_exc()
        _tell_failed(study, trial, f"{type(e).__name__}: {e}", detail, d, startup=not history)
        _close(metrics, tb, wb, "failed")
        return
    finally:
        if signals is not None:
            signals.in_trainer = False
    if signals is not None and signals.stopped_child:  # the command ended because we stopped it
        _handed_back(study, trial, signals, metrics, tb, wb, start)
        return
    # the wall time of earlier attempts (handed back: preempted, out of time) counts too
    wall = time.time() - start + float(trial.info.get("wall_before", 0.0))
    score = result.get(cfg.metric, result.get("score"))
    cost = result.get("cost")
    unit = "reported"
    (d / "result.json").write_text(json.dumps({**result, "wall_seconds": wall}, default=str))
    # checked as Study.tell checks them (protein.results), so a bad one fails this trial
    # with the reason instead of raising in the worker
    name = cfg.metric if cfg.metric in result else "score"
    bad_score = None if score is None else problem(number, trial.trial_id, name, score)
    bad_cost = None if cost is None else problem(cost_of, trial.trial_id, cost, "cost",
                                                 "wall seconds")
    if (bad_score or bad_cost) and not verdict.stop:
        _tell_failed(study, trial, bad_score or bad_cost, json.dumps(result, default=str)[:2000],
                     d, startup=False)
        _close(metrics, tb, wb, "failed")
        return
    reported = cost is not None and bad_cost is None
    if verdict.stop and not reported:  # a stopped command was killed before it said
        cost, unit = spent_when_stopped(history, study.trials(), wall)
    elif not reported:
        cost, unit = max(wall, 1e-3), "wall seconds"
    extra = reported_metrics(result, exclude=(*cfg.metric_names, "score", "cost"))
    note = {"cost_unit": unit}
    if verdict.stop:
        last = score if score is not None else (history[-1].value if history else None)
        study.tell(trial, last, cost, pruned=True, metrics=extra,
                   info={**note, **verdict.record()},
                   reason=f"early stop ({verdict.rule} rule) at step {history[-1].step:g}"
                          + _why(verdict, cfg.metric))
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
        step = history[-1].step if history else 0
        if t.score is not None:
            tb.add_scalar(f"final/{cfg.metric}", t.score, step)
        for name, value in t.reported.items():
            if name != cfg.metric and t.state.value == "complete":
                tb.add_scalar(f"final/{name}", value, step)
        if t.score is not None:
            add_hparams(tb, t.params, {cfg.metric: t.score, "cost": t.cost}, t.state.value)
    _close(metrics, tb, wb, study.trial(trial.trial_id).state.value,
           study.trial(trial.trial_id), cfg.metric)


def _handed_back(study: Any, trial: Any, signals: Any, metrics: Any, tb: Any, wb: Any,
                 start: float) -> bool:
    """Give the trial back when its worker was told to stop while it ran (True), else
    False. A trial another worker finished meanwhile is left as it is."""
    if signals is None or not signals.received:
        return False
    try:
        study.release(trial, signals.why, wall=time.time() - start)
        print(f"protein worker: trial {trial.trial_id} handed back ({signals.why}); another "
              "worker runs it again", file=sys.stderr)
    except TrialError:
        pass
    _close(metrics, tb, wb, "handed back")
    return True


def spent_when_stopped(history: list[Report], trials: list[Any], wall: float
                       ) -> tuple[float, str]:
    """What a stopped trial spent, in the unit of the study's other trials, and that unit:
    the cost of its last report when it gave one; else its last step where every complete
    trial's cost is its last step; else wall seconds where the study's costs are wall
    seconds; else its last step times the cost per step of the complete trials (median)."""
    last = history[-1]
    complete = [t for t in trials if t.is_complete]
    if last.cost is not None:
        return last.cost, "reported"
    if cost_is_step(complete):
        return last.step, "reported"
    if not complete or all(t.info.get("cost_unit") == "wall seconds" for t in complete):
        return max(wall, 1e-3), "wall seconds"
    rates = [t.cost / t.intermediate[-1].step for t in complete
             if t.cost and t.intermediate and t.intermediate[-1].step > 0]
    if not rates or not last.step > 0:
        return max(wall, 1e-3), "wall seconds"
    return float(last.step * sorted(rates)[len(rates) // 2]), "estimated from the step"


def _why(verdict: Verdict, metric: str) -> str:
    """The figures behind a curve-rule stop, for the trial's reason."""
    i = verdict.info
    if "p_front" not in i:
        return ""
    return (f": predicted final {metric} {i['predicted_final']:.4g} +- {i['predicted_sd']:.2g} "
            f"at its predicted total spend {i['budget']:.4g}, {100 * i['p_front']:.1f}% chance to reach "
            f"{i['front']:.4g} (the best of trials that spent no more)")


def reported_metrics(result: Mapping[str, Any], exclude: tuple[str, ...] = ()) -> dict[str, float]:
    """Every finite number a trainer or command reported, besides ``exclude``."""
    out = {}
    for k, v in result.items():
        if k in exclude or isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if math.isfinite(float(v)):
            out[str(k)] = float(v)
    return out


def _tell_failed(study: Any, trial: Any, reason: str, detail: str, d: Path,
                 startup: bool) -> None:
    (d / "error.txt").write_text(detail or reason)
    study.tell(trial, failed=True, reason=reason.splitlines()[0][:500] if reason else "failed",
               info={"startup_crash": startup, "traceback": (detail or "")[-4000:]})


def _tensorboard(spec: RunSpec, trial_id: int) -> Any:
    if not spec.tensorboard:
        return None

    return writer(spec.tensorboard, spec.study, trial_id)


def _wandb(spec: RunSpec, study: Any, trial: Any, nested: dict) -> Any:
    if not spec.wandb_project:
        return None

    return start_trial_run(spec.wandb_project, study, trial, nested, spec.wandb_entity)


def _close(metrics: Any, tb: Any, wb: Any, state: str, trial: Any = None,
           metric: str = "score") -> None:
    metrics.close()
    if tb is not None:
        tb.close()
    if wb is not None:
        finish_trial_run(wb, trial, state, metric)
