"""Running one trial's training: a trainer function in this process, or any command.

Both get the params, the trial's seed and a ``report(step, value, cost=None) -> stop``
callback; both return the result mapping (the metric, ``cost``, other numbers) or raise
``Failure`` with a reason for the trial's record.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from protein.invocation import trial_invocation
from protein.output import with_seed
from protein.runner.spec import RunSpec

CHILD: dict[str, Any] = {}  # the running command's process, for a worker's SIGTERM handler;
# "slot": a shared integer where the supervisor reads the command's process group


class Failure(Exception):
    """A trial that could not finish: ``reason`` for its record, ``detail`` for error.txt,
    ``startup`` when it ended before training began."""

    def __init__(self, reason: str, detail: str = "", startup: bool = False,
                 signum: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.detail, self.startup = reason, detail, startup
        self.signum = signum  # the signal that ended the command, if one did


def run_trainer(spec: RunSpec, nested: dict, trial_seed: int, report: Any,
                d: Path | None = None) -> dict:
    """Call ``train(params, seed=, device=, report=)`` in this process; its stdout and stderr
    go to ``d/stdout.log`` and ``d/stderr.log`` (the file descriptors, so C output too), and
    ``$PROTEIN_CHECKPOINT_DIR`` names the trial's checkpoint folder while it runs."""
    import importlib

    module = importlib.import_module(spec.trainer)  # type: ignore[arg-type]
    fn = getattr(module, "train", None)
    if fn is None:
        raise Failure(f"{spec.trainer} has no train(params, seed, device, report) function",
                       startup=True)
    if spec.timeout:
        def alarm(signum: int, frame: Any) -> None:
            raise Failure(f"timeout after {spec.timeout:g}s")

        signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, spec.timeout)
    saved = os.environ.get("PROTEIN_CHECKPOINT_DIR")
    if d is not None:
        os.environ["PROTEIN_CHECKPOINT_DIR"] = str(checkpoint_dir(d))
    try:
        with captured(d):
            result = fn(nested, seed=trial_seed, device=spec.device, report=report)
    finally:
        if spec.timeout:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if saved is None:
            os.environ.pop("PROTEIN_CHECKPOINT_DIR", None)
        else:
            os.environ["PROTEIN_CHECKPOINT_DIR"] = saved
    if not isinstance(result, Mapping):
        raise Failure(f"{spec.trainer}.train returned {type(result).__name__}, expected a "
                       "dict with 'score' and 'cost'")
    if "error" in result and not isinstance(result.get("score"), (int, float)):
        raise Failure(str(result["error"]))
    return dict(result)


def checkpoint_dir(d: Path) -> Path:
    """``$PROTEIN_CHECKPOINT_DIR`` of the trial whose folder is ``d``: where its training
    saves what it needs to resume. It outlives the attempt: a trial handed back (preempted,
    out of time) runs again with the same folder, and can go on from there."""
    c = d / "checkpoint"
    c.mkdir(exist_ok=True)
    return c


class captured:
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


def command_argv(spec: RunSpec, nested: dict, d: Path, trial_seed: int | None = None,
                 seed_key: str | None = "seed") -> tuple[list[str], dict]:
    """The command line and extra environment for one trial, per ``--pass``.

    The seed goes in as ``seed_key`` (a flag, an override, a JSON key or a variable, as the
    params do) unless ``seed_key`` is None, and always as ``$PROTEIN_SEED``.
    """
    path = d / "params.json"
    if spec.pass_mode == "json":
        path.write_text(json.dumps(with_seed(nested, seed_key, trial_seed), indent=2))
    return trial_invocation(spec.command, spec.pass_mode, nested, trial_seed, seed_key, path)


def run_command(spec: RunSpec, cfg: Any, trial_id: int, trial_seed: int, nested: dict, d: Path,
                report: Any, signals: Any = None) -> dict:
    """Run the trial's command; ``signals`` (a standalone worker's ``StopSignals``) is told
    the command, so a stop signal ends it at once. Its logs are appended to: a trial run
    again (handed back, or its worker died) keeps the earlier attempt's output."""
    argv, extra = command_argv(spec, nested, d, trial_seed, cfg.seed_key)
    env = {**os.environ, **extra, "PROTEIN_TRIAL": str(trial_id),
           "PROTEIN_TRIAL_DIR": str(d), "PROTEIN_STUDY": spec.study,
           "PROTEIN_CHECKPOINT_DIR": str(checkpoint_dir(d))}
    metric = cfg.metric
    out_log = open(d / "stdout.log", "a")
    err_log = open(d / "stderr.log", "a")
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err_log, text=True,
                                env=env, start_new_session=True,
                                preexec_fn=lambda: die_with_parent(signal.SIGKILL))
    except OSError as e:
        raise Failure(f"cannot start {argv[0]!r}: {e.strerror}", startup=True) from None
    CHILD["proc"] = proc
    if signals is not None:
        signals.child = proc
        if signals.received:  # told to stop while it started
            signals.stopped_child = True
            kill(proc)
    slot = CHILD.get("slot")
    if slot is not None:  # the supervisor kills this group if this worker dies
        slot.value = proc.pid
    deadline = time.time() + spec.timeout if spec.timeout else None
    timed_out = {"v": False}
    if deadline:
        def watchdog() -> None:
            while proc.poll() is None:
                if time.time() > deadline:
                    timed_out["v"] = True
                    kill(proc)
                    return
                time.sleep(0.2)

        threading.Thread(target=watchdog, daemon=True).start()
    last: dict[str, Any] | None = None
    stopped = False
    assert proc.stdout is not None
    for line in proc.stdout:
        out_log.write(line)
        out_log.flush()
        obj = json_line(line)
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
                    kill(proc)
                    break
            except (TypeError, ValueError):
                pass
        if metric in obj or "score" in obj:
            last = obj
    code = proc.wait()
    kill_group(proc.pid)  # what the command left running in the background ends with it
    if slot is not None:
        slot.value = 0
    CHILD.pop("proc", None)
    if signals is not None:
        signals.child = None
    out_log.close()
    err_log.close()
    if stopped and last is not None:
        return last
    if timed_out["v"]:
        raise Failure(f"timeout after {spec.timeout:g}s")
    if code != 0:
        tail = (d / "stderr.log").read_text()[-4000:]
        lines = [x for x in tail.splitlines() if x.strip()]
        reason = f"exit code {code}" + (f": {lines[-1][:300]}" if lines else "")
        refused = re.findall(r"unrecognized arguments: (.*)", tail)
        if cfg.seed_key and any(re.search(rf"(^|[\s-]){re.escape(cfg.seed_key)}(=|\s|$)", r)
                                for r in refused):
            reason += (f" (the command does not take the trial seed as {cfg.seed_key}; accept "
                       "it, name its key with seed_key: in the config, or set seed_key: null "
                       "to pass it only as $PROTEIN_SEED)")
        raise Failure(reason, tail, startup=True, signum=-code if code < 0 else None)
    results_file = d / "result.json"
    if last is None and results_file.exists():
        last = json_line(results_file.read_text())
    if last is None:
        raise Failure(
            f"the command printed no JSON line with '{metric}' (e.g. {{\"{metric}\": 0.93, "
            f"\"cost\": 120}}) and wrote no $PROTEIN_TRIAL_DIR/result.json", startup=True)
    return last


def json_line(line: str) -> dict | None:
    line = line.strip()
    if not (line.startswith("{") and line.endswith("}")):
        return None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def _load_prctl() -> Any:
    """libc's ``prctl``, resolved once in the parent: a ``preexec_fn`` runs in the forked
    child before ``exec``, where importing ctypes or ``dlopen`` could block on a lock that
    another thread of the parent held at the fork, leaving a child that never runs its
    command and keeps the parent's file descriptors open."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def die_with_parent(sig: int) -> None:
    """Ask Linux to send this process ``sig`` when its parent dies (``PR_SET_PDEATHSIG``):
    a worker killed by SIGKILL takes its training command with it, and a supervisor killed
    so takes its workers. Elsewhere it does nothing (the lease then expires the trial).
    Safe in a ``preexec_fn``: it only calls the function resolved at import."""
    if _PRCTL is not None:
        _PRCTL(1, int(sig), 0, 0, 0)  # PR_SET_PDEATHSIG


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to process group ``pgid`` (a command's session), if any is left."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
