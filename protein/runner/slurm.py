"""``protein run --launcher slurm``: the sweep's workers as one Slurm job array.

Each array task is a standalone worker (``worker.standalone_main``): it asks the study for
trials, runs them and tells the results until the study has its trials, keeps its own
trial's heartbeat, and hands its trial back when Slurm stops it (``handback``). The array is
submitted through submitit (``pip install 'protein-hpo[slurm]'``); the supervisor on the
login node watches the array with ``squeue`` (which needs no accounting database) and the
study, or leaves at once (``--detach``): nothing but the study holds the sweep's state.

``slurm_script`` writes the same worker as a batch script for users who keep theirs.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from protein.config.load import SLURM_KEYS
from protein.errors import ProteinError, require
from protein.masking import mask_url
from protein.runner.progress import Progress
from protein.runner.spec import RunSpec
from protein.runner.worker import STARTUP_CRASHES, standalone_main, startup_crashes

SIGNAL_DELAY_S = 120  # the pre-timeout signal comes this long before the time limit
POLL_S = 2.0


# each resource: (SlurmResources field, sbatch option, submitit SlurmExecutor parameter)
OPTIONS = (("partition", "partition", "partition"), ("account", "account", "account"),
           ("qos", "qos", "qos"), ("cpus_per_worker", "cpus-per-task", "cpus_per_task"),
           ("mem", "mem", "mem"), ("gpus_per_worker", "gpus-per-task", "gpus_per_task"))


@dataclass(frozen=True)
class SlurmResources:
    """What each array task asks Slurm for; None: the cluster's default."""

    partition: str | None = None
    time: str | None = None  # Slurm's format: MM, HH:MM:SS, D-HH:MM:SS
    gpus_per_worker: int | None = None
    cpus_per_worker: int | None = None
    mem: str | None = None  # e.g. 32G
    account: str | None = None
    qos: str | None = None
    args: Mapping[str, str] = field(default_factory=dict)  # any other sbatch option

    KEYS = SLURM_KEYS

    def sbatch_options(self) -> dict[str, str]:
        """The resources as sbatch long options (without ``--``)."""
        out: dict[str, str] = {}
        for key, opt, _ in OPTIONS:
            v = getattr(self, key)
            if v is not None:
                out[opt] = str(v)
        if self.time is not None:
            out["time"] = self.time
        out.update({k: str(v) for k, v in self.args.items()})
        return out


TIME_FORMATS = re.compile(r"^(\d+-)?\d+(:\d{1,2}){0,2}$|^(\d+)-(\d+)$|^(unlimited|infinite)$",
                          re.IGNORECASE)


def minutes(text: str, where: str = "--time") -> int:
    """Slurm's time formats (``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``,
    ``D-HH:MM:SS``, ``unlimited``) as whole minutes, rounded up; 0 for no limit."""
    t = str(text).strip()
    if not TIME_FORMATS.match(t):
        raise ProteinError(f"{where} {text!r}: not a Slurm time; give minutes (90), HH:MM:SS "
                           "(48:00:00) or D-HH:MM:SS (2-00:00:00)")
    if t.lower() in ("unlimited", "infinite"):
        return 0
    days, _, rest = t.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if days:  # D-HH, D-HH:MM, D-HH:MM:SS
        parts += [0] * (3 - len(parts))
        h, m, s = parts
    elif len(parts) == 1:
        h, m, s = 0, parts[0], 0
    elif len(parts) == 2:  # MM:SS
        h, m, s = 0, parts[0], parts[1]
    else:
        h, m, s = parts
    total_s = ((int(days or 0) * 24 + h) * 60 + m) * 60 + s
    return -(-total_s // 60)


def resources_from(options: Mapping[str, Any], config: Mapping[str, Any] | None,
                   where: str) -> SlurmResources:
    """The resources: each command-line option given, else the config's ``slurm:`` key."""
    cfg = dict(config or {})
    values: dict[str, Any] = {}
    for key in SlurmResources.KEYS:
        given = options.get(key)
        values[key] = given if given not in (None, {}, []) else cfg.get(key)
    args = dict(cfg.get("args") or {})
    for item in options.get("args") or []:
        k, sep, v = str(item).partition("=")
        k = k.strip().lstrip("-")
        if not sep or not k:
            raise ProteinError(f"--slurm-arg {item!r}: expected KEY=VALUE, e.g. "
                               "constraint=a100 or mail-type=END")
        args[k] = v
    values["args"] = args
    if values["time"] is not None:
        minutes(values["time"], f"{where} time" if options.get("time") is None else "--time")
    for key in ("gpus_per_worker", "cpus_per_worker"):
        v = values[key]
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise ProteinError(f"{where}: {key} must be a whole number >= 0, got {v!r}")
    return SlurmResources(**values)


def check_storage(storage: str, allow_shared_sqlite: bool) -> None:
    """Workers on several nodes need a database server; a SQLite file on a network
    filesystem corrupts under concurrent writers from several machines."""
    if "://" in storage and not storage.startswith("sqlite:"):
        return
    if allow_shared_sqlite:
        return
    raise ProteinError(
        f"--storage {storage}: a SQLite file, but Slurm may run the workers on several "
        "nodes, and SQLite on a network filesystem (NFS, Lustre, GPFS) corrupts under writers "
        "on several machines. Use PostgreSQL (--storage postgresql://USER@HOST/DB; see the "
        "README's 'Many machines'), or, when every job runs on this one node (its local "
        "disk), pass --allow-shared-sqlite")


def array_task(spec_dict: dict[str, Any]) -> None:
    """What each array task runs (through submitit): a standalone worker."""
    code = standalone_main(RunSpec(**spec_dict))
    if code:
        sys.exit(code)  # no result for submitit: a requeued task runs the same call again


def _executor(folder: Path, resources: SlurmResources, workers: int, name: str) -> Any:
    submitit = require("submitit", "slurm", "--launcher slurm")
    ex = submitit.SlurmExecutor(folder=str(folder), max_num_timeout=100)
    params: dict[str, Any] = {"job_name": f"protein-{name}", "array_parallelism": workers,
                              "signal_delay_s": SIGNAL_DELAY_S, "stderr_to_stdout": True,
                              "time": minutes(resources.time) if resources.time else 0,
                              "ntasks_per_node": 1}
    for key, _, param in OPTIONS:
        v = getattr(resources, key)
        if v is not None:
            params[param] = v
    extra = {k.replace("-", "_"): v for k, v in resources.args.items()}
    params["additional_parameters"] = {"requeue": True, **extra}
    ex.update_parameters(**params)
    return ex


def submit(spec: RunSpec, workers: int, resources: SlurmResources, log_dir: Path) -> str:
    """Submit ``workers`` array tasks; returns the array's job id."""
    ex = _executor(log_dir, resources, workers, spec.study)
    try:
        jobs = ex.map_array(array_task, [asdict(spec)] * workers)
    except Exception as e:  # noqa: BLE001 - sbatch refused: say what it said
        first = str(e).strip().splitlines()
        raise ProteinError("sbatch refused the job array: "
                           + (" ".join(first[-3:]) if first else type(e).__name__)
                           + "; check --partition, --time, --account and --slurm-arg") from None
    return str(jobs[0].job_id).split("_")[0]


def array_tasks(job_id: str) -> dict[str, str]:
    """The array's tasks Slurm still holds (pending, running, requeued...): ``{id: state}``;
    a finished task drops out."""
    try:
        out = subprocess.run(["squeue", "-h", "-r", "-j", job_id, "-o", "%i|%T"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if out.returncode != 0:
        if "Invalid job id" in out.stderr:
            return {}
        raise ProteinError(f"squeue -j {job_id}: {out.stderr.strip()}")
    tasks = {}
    for line in out.stdout.splitlines():
        tid, _, state = line.partition("|")
        tasks[tid.strip()] = state.strip()
    return tasks


def cancel(job_id: str) -> None:
    subprocess.run(["scancel", job_id], capture_output=True, timeout=60)


def launch(spec: RunSpec, study: Any, workers: int, resources: SlurmResources, detach: bool,
           progress: bool, stop: threading.Event, record: Any) -> int:
    """Submit the array, record it (``record(job_id, log_dir)``), then leave (``detach``)
    or watch it until every task has ended."""
    log_dir = Path(spec.out_dir) / spec.study / "slurm"
    job = submit(spec, workers, resources, log_dir)
    record(job, str(log_dir))
    where = f"--storage {mask_url(spec.storage)} --study {spec.study}"
    print(f"protein run: Slurm job array {job} ({workers} workers); logs in {log_dir}/; "
          f"watch with `protein status {where} --out {spec.out_dir}` or `squeue -j {job}`",
          file=sys.stderr)
    if detach:
        print(f"protein run: detached; the workers run on. Stop them with `scancel {job}` (their "
              "trials are handed back); resume with the same protein run command",
              file=sys.stderr)
        return 0
    show = Progress(study, spec.max_trials, enabled=progress)
    seen = False
    try:
        while True:
            if stop.wait(POLL_S):
                raise KeyboardInterrupt
            tasks = array_tasks(job)
            trials = study.trials()
            show.update(trials)
            seen = seen or bool(tasks)
            crash = startup_crashes(trials, spec.since)
            if crash is not None:
                cancel(job)
                show.done(trials)
                print(f"protein run: error: {STARTUP_CRASHES} trials in a row crashed at start-up "
                      f"before any trial succeeded; cancelled job {job}. First traceback (trial "
                      f"{crash.trial_id}):\n{crash.info.get('traceback') or crash.info.get('failure')}",
                      file=sys.stderr)
                return 3
            if not tasks:
                break
    except KeyboardInterrupt:
        cancel(job)
        show.done(study.trials())
        print(f"protein run: interrupted; cancelled Slurm job {job}: its workers hand their "
              "trials back. Run the same command again to resume.", file=sys.stderr)
        return 130
    trials = study.trials()
    show.done(trials)
    running = [t.trial_id for t in trials if t.state.value == "running"]
    if running:
        print(f"protein run: every task of job {job} has ended with trials {running} still "
              f"running or handed back; see {log_dir}/ and run the same command again to "
              "finish them", file=sys.stderr)
        return 1
    return 0


def script(config: str | None, study: str, out_dir: str, workers: int,
           resources: SlurmResources, worker_args: Sequence[str]) -> str:
    """A batch script that runs ``workers`` array tasks of ``protein worker``."""
    log_dir = Path(out_dir) / study / "slurm"
    lines = ["#!/bin/bash",
             "# A Protein sweep as a Slurm job array: submit with `sbatch FILE`; each task",
             "# is a worker that asks the study for trials until it has them all. scancel or",
             "# preemption hands a running trial back to the study for another worker; near",
             "# the time limit (USR2) the task also requeues itself.",
             f"#SBATCH --job-name=protein-{study}",
             f"#SBATCH --array=0-{workers - 1}",
             f"#SBATCH --output={log_dir}/%A_%a.out",
             f"#SBATCH --signal=B:USR2@{SIGNAL_DELAY_S}",
             "#SBATCH --requeue",
             "#SBATCH --ntasks=1"]
    for opt, v in resources.sbatch_options().items():
        lines.append(f"#SBATCH --{opt}" + (f"={v}" if v != "" else ""))
    argv = ["protein", "worker", *([config] if config else []), *worker_args]
    lines += ["", "exec " + shlex.join(argv), ""]
    return "\n".join(lines)
