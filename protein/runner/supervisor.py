"""``protein run``'s supervisor: starts the workers, shows progress, stops the sweep.

Each worker is an independent process (or Ray task) running the same loop a shell user
would. The supervisor only starts workers, keeps their trials' heartbeats, shows progress
and stops them; so a worker killed mid-trial loses nothing finished, and ``protein run``
again resumes: trials of dead workers are handed out again first.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import signal
import sys
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from protein.errors import ProteinError
from protein.masking import mask_url
from protein.process import alive, local_pid
from protein.runner.execute import kill_group
from protein.runner.handback import heartbeat_every
from protein.runner.progress import Progress
from protein.runner.ray import ray_workers
from protein.runner.slurm import array_tasks, launch
from protein.runner.spec import RunSpec
from protein.runner.worker import STARTUP_CRASHES, startup_crashes, worker_main, write_failure
from protein.study import Study


def supervise(spec: RunSpec, workers: int, progress: bool = True, launcher: str = "local",
              ray_address: str | None = None, gpus_per_trial: float | None = None,
              slurm: Any = None, detach: bool = False) -> int:
    """Start ``workers`` worker loops (processes, Ray tasks, or a Slurm job array with the
    resources ``slurm``, which ``detach`` leaves running) and watch them."""
    study = Study.load(spec.study, spec.storage)
    live = live_workers(study.trials())
    if live:
        raise ProteinError(
            f"study {spec.study!r} has trials running in live workers on this machine (pids "
            f"{', '.join(map(str, live))}): another protein run is still going. Let it finish, "
            f"or stop it (kill {' '.join(map(str, live))}) and run this again to resume")
    run_dir = Path(spec.out_dir) / spec.study
    _same_storage(run_dir, spec)
    _no_live_array(run_dir, spec)
    record = run_record(spec, launcher)
    write_run_record(run_dir, record, spec.out_dir)
    spec = replace(spec, since=time.time())  # start-up crashes are judged from here on
    with _interrupts() as stop:
        if launcher == "slurm":
            def keep(job: str, logs: str) -> None:
                write_run_record(run_dir, {**record, "slurm": {"job_id": job, "logs": logs,
                                                               "workers": workers}},
                                 spec.out_dir)

            return launch(spec, study, workers, slurm, detach, progress, stop, keep)
        return _watch(spec, study, workers, stop, progress, launcher, ray_address,
                      gpus_per_trial)


RECORDED = ("trainer", "command", "pass_mode", "timeout", "max_trials", "stop", "device",
            "threads", "tensorboard", "wandb_project", "wandb_entity")


def run_record(spec: RunSpec, launcher: str) -> dict[str, Any]:
    """What ``run.json`` keeps of a run: how its trials run (what ``protein worker`` reads
    to join it), its storage (password masked) and launcher."""
    return {"study": spec.study, "storage": storage_key(spec.storage), "launcher": launcher,
            **{k: getattr(spec, k) for k in RECORDED}}


def write_run_record(run_dir: Path, record: dict[str, Any], out_dir: str) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "run.json").write_text(json.dumps(record, indent=2, default=dict))
    except OSError as e:
        raise ProteinError(f"--out {out_dir}: {write_failure(e, out_dir)}") from None


def read_run_record(run_dir: Path) -> dict[str, Any]:
    """The run folder's ``run.json``; {} when there is none (or it cannot be read)."""
    try:
        rec = json.loads((run_dir / "run.json").read_text())
    except (OSError, ValueError):
        return {}
    return rec if isinstance(rec, dict) else {}


def _no_live_array(run_dir: Path, spec: RunSpec) -> None:
    """Refuse a second launch while the last run's Slurm array still has tasks queued or
    running (they would double the workers and keep the study's trials in two runs)."""
    job = (read_run_record(run_dir).get("slurm") or {}).get("job_id")
    if not job:
        return
    import shutil

    if shutil.which("squeue") is None:
        return

    try:
        tasks = array_tasks(str(job))
    except ProteinError:
        return
    if tasks:
        raise ProteinError(
            f"study {spec.study!r}: Slurm job array {job} of the last run still has "
            f"{len(tasks)} task(s) queued or running. Let it finish, stop it (scancel {job}: "
            "their trials are handed back) and run this again to resume, or add workers to "
            f"it with protein worker --study {spec.study}")


class _interrupts:
    """Ctrl-C (SIGINT) sets an event instead of raising wherever the main thread happens to
    be: a KeyboardInterrupt inside the storage layer (a pool checkout, a SQLite call) can
    leave a lock held, and the stop path, which reads the study again, then waits forever.
    The supervisor checks the event between steps. A second Ctrl-C raises at once."""

    def __enter__(self) -> threading.Event:
        self.event = threading.Event()
        self.saved = None
        if threading.current_thread() is threading.main_thread():
            self.saved = signal.signal(signal.SIGINT, self._handle)
        return self.event

    def _handle(self, signum: int, frame: Any) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            signal.signal(signal.SIGINT, self.saved)


def _watch(spec: RunSpec, study: Any, workers: int, stop: threading.Event, progress: bool,
           launcher: str, ray_address: str | None, gpus_per_trial: float | None) -> int:
    """Start the workers and watch them until they finish, fail at start-up or ``stop``."""
    procs: list[Any] = []
    if launcher == "ray":
        procs = ray_workers(spec, workers, ray_address, gpus_per_trial)
    else:
        gpus = _gpu_count()
        ctx = mp.get_context("spawn")
        slots = [ctx.Value("i", 0, lock=False) for _ in range(workers)]
        for i, slot in enumerate(slots):
            env = dict(spec.env)
            if gpus > 1:
                env["CUDA_VISIBLE_DEVICES"] = str(i % gpus)
            s = RunSpec(**{**asdict(spec), "env": env})
            p = ctx.Process(target=worker_main, args=(asdict(s), slot), daemon=False)
            p.slot = slot  # type: ignore[attr-defined]
            p.start()
            procs.append(p)
    show = Progress(study, spec.max_trials, enabled=progress)
    code = 0
    try:
        while True:
            alive = any(p.is_alive() for p in procs)
            if stop.wait(0.5 if alive else 0):
                raise KeyboardInterrupt
            trials = study.trials()
            show.update(trials)
            crash = startup_crashes(trials, spec.since)
            if crash is not None:
                _stop(procs)
                show.done(trials)
                print(f"protein run: error: {STARTUP_CRASHES} trials in a row crashed at start-up "
                      "before any trial succeeded; stopping the sweep. First traceback "
                      f"(trial {crash.trial_id}):\n"
                      f"{crash.info.get('traceback') or crash.info.get('failure')}",
                      file=sys.stderr)
                return 3
            _end_orphans(procs)
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
    if now - getattr(_heartbeat, "last", 0.0) < heartbeat_every(study.lease_s):
        return
    _heartbeat.last = now  # type: ignore[attr-defined]
    pids = {p.pid for p in procs if p.pid is not None and p.is_alive()}
    if any(p.pid is None for p in procs):  # Ray tasks: every running trial of this study
        mine = [t.trial_id for t in trials if t.state.value == "running"]
    else:
        mine = [t.trial_id for t in trials if t.state.value == "running"
                and local_pid(t.info.get("process")) in pids]
    if mine:
        study.heartbeat(mine)


def storage_key(url: str) -> str:
    """The storage a run folder belongs to, as ``run.json`` records it: a SQLite file by its
    absolute path, a server by its URL (password masked)."""
    if "://" not in url or url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url
        return "sqlite:///" + str(Path(path).resolve()) if path != ":memory:" else path
    return mask_url(url)


def _same_storage(run_dir: Path, spec: RunSpec) -> None:
    """Refuse to write a study's trial files into a run folder that holds another
    storage's study of the same name: its trial folders would be overwritten."""
    try:
        recorded = json.loads((run_dir / "run.json").read_text()).get("storage")
    except (OSError, ValueError, AttributeError):
        return  # no record (a new folder), or one too damaged to say
    if recorded and recorded != storage_key(spec.storage) and storage_key(recorded) != \
            storage_key(spec.storage):
        raise ProteinError(
            f"{run_dir}/ holds the trial files of study {spec.study!r} in {recorded}; this run "
            f"uses {storage_key(spec.storage)}, and its trials would overwrite them. Give it "
            "another folder (--out DIR) or another study name (--study NAME)")


def _end_orphans(procs: list) -> None:
    """End the command of each worker process that has died (SIGKILL, out of memory):
    the command's whole process group, so nothing it started runs on unseen."""
    for p in procs:
        slot = getattr(p, "slot", None)
        if slot is not None and slot.value > 0 and not p.is_alive():
            kill_group(slot.value)
            slot.value = 0


def _stop(procs: list) -> None:
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
            p.join(timeout=10)
    _end_orphans(procs)




def _gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:  # noqa: BLE001
        return 0


def live_workers(trials: list) -> list[int]:
    """Pids of this machine's live processes that hold a running trial (``info["process"]``)."""
    import os

    pids = set()
    for t in trials:
        process = t.info.get("process") if t.state.value == "running" else None
        pid = local_pid(process)
        if pid is not None and pid != os.getpid() and alive(process):
            pids.add(pid)
    return sorted(pids)
