"""A worker told to stop hands its running trial back instead of losing it.

What a cluster does to a job: ``scancel`` and preemption send SIGTERM (then SIGKILL after
Slurm's ``KillWait``), a job near its time limit gets the signal it asked for (``--signal
USR2@120``; USR1 too), a user at a terminal presses Ctrl-C. On any of them a standalone
worker (``protein worker``, a Slurm array task) stops its trial's command at once (SIGTERM to
its process group, so it can save a checkpoint; SIGKILL after ``GRACE_S``) and a trainer at
its next report, gives the trial back to the study unfinished (``Study.release``: another
worker runs it again, with the same params, seed and ``$PROTEIN_CHECKPOINT_DIR``), and
exits; after the pre-timeout signal it first asks Slurm to requeue its own job.

The handler itself only records the signal and signals the command: the storage is used
from the main thread alone (a handler that wrote while the main thread held a connection
could leave a lock held). A trainer running in this process gets ``HandBack`` raised in
it straight from the handler, except while it is inside ``report`` (which writes).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from protein.study import Study

HEARTBEAT_S = 20.0  # at most this long between heartbeats of running trials ...
HEARTBEAT_SHARE = 0.25  # ... and at most this share of the study's lease
GRACE_S = 20.0  # a command told to stop gets this long to save before SIGKILL (Slurm's
# KillWait is 30 s by default)
TIMEOUT_SIGNALS = ("SIGUSR1", "SIGUSR2")  # what Slurm sends before the time limit
STOP_SIGNALS = ("SIGTERM", "SIGINT", *TIMEOUT_SIGNALS)
SIGNAL_WAIT_S = 2.0  # how long a command killed by a stop signal waits for its worker's own


class HandBack(Exception):
    """Raised in a trainer when its worker is told to stop: the trial goes back."""


class StopSignals:
    """The signals that tell a standalone worker to stop, recorded for the main thread.

    ``received``: the first signal's name, or None. ``requeue``: a pre-timeout signal
    came (the job should run again). ``in_trainer``: set by the worker while a trainer
    function runs outside ``report``; a signal then raises ``HandBack`` in it.
    """

    def __init__(self) -> None:
        self.received: str | None = None
        self.requeue = False
        self.in_trainer = False
        self.child: Any = None  # the running command (subprocess.Popen), if any
        self.stopped_child = False  # a command was stopped by a signal: its end is not its own

    def install(self) -> "StopSignals":
        for name in STOP_SIGNALS:
            signal.signal(getattr(signal, name), self._handle)
        return self

    def await_own(self, signum: int | None) -> None:
        """When the command died of a stop signal that this worker has not (yet) received,
        wait up to ``SIGNAL_WAIT_S`` for it: ``scancel --signal`` and Ctrl-C reach the
        command and its worker one after the other, and a command that dies first must not
        make its trial a failure instead of handing it back."""
        if signum is None or self.received is not None:
            return
        try:
            if signal.Signals(signum).name not in STOP_SIGNALS:
                return
        except ValueError:  # not a signal this platform names
            return
        end = time.monotonic() + SIGNAL_WAIT_S
        while self.received is None and time.monotonic() < end:
            time.sleep(0.05)  # a signal interrupts the sleep and its handler runs here

    @property
    def why(self) -> str:
        """The reason a handed-back trial records."""
        if self.received in TIMEOUT_SIGNALS:
            return f"its job is near its time limit ({self.received})"
        if self.received == "SIGINT":
            return "its worker was interrupted (SIGINT)"
        job = slurm_job_id()
        return (f"its worker was told to stop ({self.received}: cancelled or preempted"
                + (f", Slurm job {job}" if job else "") + ")")

    def _handle(self, signum: int, frame: Any) -> None:
        first = self.received is None
        name = signal.Signals(signum).name
        if first:
            self.received = name
        self.requeue = self.requeue or name in TIMEOUT_SIGNALS
        if not first:
            return
        child = self.child
        if child is not None and child.poll() is None:
            self.stopped_child = True
            stop_command(child)
        if self.in_trainer:
            self.in_trainer = False
            raise HandBack(self.why)


def stop_command(proc: subprocess.Popen) -> None:
    """SIGTERM to the command's process group now, SIGKILL after ``GRACE_S``; returns at
    once (the worker's main thread waits for the command as usual)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return

    def finish() -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    timer = threading.Timer(GRACE_S, finish)
    timer.daemon = True
    timer.start()


def slurm_job_id() -> str | None:
    """This process's Slurm job as ``scontrol`` names it: ``ARRAY_TASK`` for an array task,
    else the job id; None outside Slurm."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID")


def requeue_self(label: str) -> bool:
    """Ask Slurm to run this job again (``scontrol requeue``); False outside Slurm or when
    Slurm refuses (the job was submitted with ``--no-requeue``), which is said on stderr."""
    job = slurm_job_id()
    if job is None:
        return False
    try:
        out = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True,
                             timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"protein worker {label}: cannot requeue Slurm job {job} ({e})", file=sys.stderr)
        return False
    if out.returncode != 0:
        print(f"protein worker {label}: Slurm did not requeue job {job}: "
              f"{(out.stderr or out.stdout).strip()}", file=sys.stderr)
        return False
    print(f"protein worker {label}: Slurm job {job} requeued", file=sys.stderr)
    return True


def heartbeat_every(lease_s: float | None) -> float:
    """Seconds between heartbeats (the supervisor's and a standalone worker's): often
    enough that a trial's lease (``lease_s``, the study's) never runs out while it lives."""
    return HEARTBEAT_S if lease_s is None else min(HEARTBEAT_S, HEARTBEAT_SHARE * lease_s)


class Heartbeat:
    """Keeps the running trial's heartbeat while no supervisor does (a standalone worker on
    another node, where its process cannot be looked up): a thread with its own storage
    connection, every ``every`` seconds."""

    def __init__(self, study_name: str, storage: str, every: float) -> None:
        self.trial_id: int | None = None
        self._stop = threading.Event()
        self._args = (study_name, storage, every)
        self._thread = threading.Thread(target=self._run, daemon=True, name="heartbeat")
        self._thread.start()

    def _run(self) -> None:
        name, storage, every = self._args
        study = None
        while not self._stop.wait(every):
            tid = self.trial_id
            if tid is None:
                continue
            try:
                study = study or Study.load(name, storage)
                study.heartbeat([tid])
            except Exception:  # noqa: BLE001 - a storage hiccup: the next beat tries again
                study = None

    def close(self) -> None:
        self._stop.set()
