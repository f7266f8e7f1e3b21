"""Sweeps on a real Slurm (the one-node cluster of scripts/slurm.sh, which scripts/test.sh
starts) with the local PostgreSQL: ``protein run --launcher slurm`` job arrays, tasks
cancelled or sent the pre-timeout signal mid-trial, a whole array cancelled and resumed,
and ``protein worker`` from a hand-written batch script joining a running sweep."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from protein.study import Study
from protein.trial import TrialState

from _cli import ROOT, protein
from _slow_train import write_sweep
from conftest import need, pg_schema

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def slurm():
    need(shutil.which("sbatch") is not None,
          "sbatch not found: no Slurm here (bash scripts/slurm.sh installs and starts a "
          "one-node Slurm as root)")
    up = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    if not any(s in up.stdout for s in ("idle", "mix", "alloc")):
        subprocess.run(["bash", str(ROOT / "scripts" / "slurm.sh")], check=False)
        up = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    need(any(s in up.stdout for s in ("idle", "mix", "alloc")),
          f"Slurm does not answer (sinfo: {up.stdout.strip() or up.stderr.strip()})")


@pytest.fixture
def pg():
    yield from pg_schema()


ENV = {"PYTHONPATH": str(ROOT)}


def _tasks(job: str) -> dict[str, str]:
    out = subprocess.run(["squeue", "-h", "-r", "-j", job, "-o", "%i|%T"], capture_output=True,
                         text=True).stdout
    return dict(line.split("|", 1) for line in out.split())


def _wait(predicate, timeout: float, what: str) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _run(cfg: Path, pg: str, workers: int) -> tuple[str, ...]:
    """``protein run`` of the slow command sweep as a Slurm array of ``workers``."""
    return ("run", str(cfg), "--command", "python train.py", "--launcher", "slurm",
            "--workers", str(workers), "--storage", pg, "--early-stop", "none")


def _detached(tmp_path: Path, cfg: Path, pg: str, workers: int) -> str:
    """Submit the sweep and leave (``--detach``); returns the array's job id."""
    protein(*_run(cfg, pg, workers), "--detach", cwd=tmp_path, real=True, env=ENV, timeout=120)
    return _job(tmp_path)


def _job(tmp_path: Path) -> str:
    return json.loads((tmp_path / "runs" / "sweep" / "run.json").read_text())["slurm"]["job_id"]


def _running_with_reports(url: str, k: int) -> list:
    ts = Study.load("sweep", url).trials()
    return [t for t in ts if t.state is TrialState.RUNNING and len(t.intermediate) >= 2
            and not t.info.get("released")][:k] if sum(
        t.state is TrialState.RUNNING and len(t.intermediate) >= 2 for t in ts) >= k else []


def _all_accounted_for(url: str, n: int) -> list:
    ts = Study.load("sweep", url).trials()
    assert [t.trial_id for t in ts] == list(range(n)), "a trial was lost or made twice"
    assert len({json.dumps(t.params, sort_keys=True) for t in ts}) == n
    assert all(t.state is TrialState.COMPLETE for t in ts), [
        (t.trial_id, t.state.value, t.info.get("failure")) for t in ts]
    return ts


def test_launcher_slurm_runs_a_bundled_trainer_sweep(tmp_path, slurm, pg):
    cfg = tmp_path / "digits.yaml"
    cfg.write_text((ROOT / "examples" / "digits.yaml").read_text())
    r = protein("run", str(cfg), "--trainer", "trainers.digits", "--launcher", "slurm",
                "--workers", "2", "--max-trials", "4", "--storage", pg, "--study", "sweep",
                "--cpus-per-worker", "1", "--time", "10", "--device", "cpu",
                cwd=tmp_path, real=True, env=ENV, timeout=400)
    assert "Slurm job array" in r.stderr and "best score" in r.stderr
    job = _job(tmp_path)
    ts = _all_accounted_for(pg, 4)
    assert {t.worker.split(":")[-1] for t in ts} <= {f"{job}_0", f"{job}_1"}
    logs = tmp_path / "runs" / "sweep" / "slurm"
    assert list(logs.glob(f"{job}_0_*log.out"))
    s = json.loads(protein("status", "--storage", pg, "--study", "sweep", "--format", "json",
                           cwd=tmp_path).stdout)
    assert s["slurm"]["job_id"] == job and s["trials"] == {"complete": 4}


def test_cancelled_and_timed_out_tasks_hand_their_trials_back(tmp_path, slurm, pg):
    job = _detached(tmp_path, write_sweep(tmp_path, n=5, steps=20, pause=0.25), pg, 3)
    _wait(lambda: _running_with_reports(pg, 3), 180, "three trials under way")
    holder = {t.worker.rsplit("_", 1)[-1]: t.trial_id
              for t in Study.load("sweep", pg).trials() if t.state is TrialState.RUNNING}
    assert set(holder) == {"0", "1", "2"}
    subprocess.run(["scancel", f"{job}_0"], check=True)  # cancelled (or preempted): SIGTERM
    subprocess.run(["scancel", "--signal=USR2", f"{job}_1"], check=True)  # near its time limit
    _wait(lambda: all(t.state.finished for t in Study.load("sweep", pg).trials())
          and len(Study.load("sweep", pg).trials()) == 5, 300, "the sweep to finish")
    ts = _all_accounted_for(pg, 5)
    for task in ("0", "1"):
        t = ts[holder[task]]
        assert t.info["handed_back"] == 1, t.info
        starts = (tmp_path / "runs" / "sweep" / f"trial_{t.trial_id:04d}" / "attempts.txt")
        first, second = map(int, starts.read_text().split())
        assert first == 0 and second >= 2  # the second attempt resumed from the checkpoint
        assert [x.step for x in t.intermediate] == list(map(float, range(1, 21)))
    # the task sent the pre-timeout signal requeued itself (Slurm holds a requeued job for
    # about two minutes before it runs again); the cancelled one is gone
    log = next((tmp_path / "runs" / "sweep" / "slurm").glob(f"{job}_1_*log.out")).read_text()
    assert f"Slurm job {job}_1 requeued" in log
    assert _tasks(job).get(f"{job}_1") in ("PENDING", "RUNNING", "REQUEUED", "COMPLETING")
    assert f"{job}_0" not in _tasks(job) or _tasks(job)[f"{job}_0"] == "COMPLETING"
    subprocess.run(["scancel", job], check=True)


def test_a_killed_worker_and_a_cancelled_array_lose_nothing(tmp_path, slurm, pg):
    """A worker killed outright (SIGKILL: a node's death, the out-of-memory killer) cannot
    hand its trial back, but its process is gone (on another node: its heartbeats stop), so
    another worker runs the trial again; then the whole array is cancelled (its running
    trials handed back), and the same command resumes the study exactly."""
    cfg = write_sweep(tmp_path, n=5, steps=16, pause=0.25)
    job = _detached(tmp_path, cfg, pg, 2)
    _wait(lambda: _running_with_reports(pg, 2), 180, "two trials under way")
    victim = next(t for t in Study.load("sweep", pg).trials()
                  if t.state is TrialState.RUNNING and t.worker.endswith(f"{job}_0"))
    os.kill(int(victim.info["process"].split(":")[1]), signal.SIGKILL)  # the worker, outright
    _wait(lambda: Study.load("sweep", pg).trial(victim.trial_id).info.get("retries") == 1
          and len(Study.load("sweep", pg).trial(victim.trial_id).intermediate) >= 2
          and _running_with_reports(pg, 1), 180, "the killed worker's trial under way again")
    subprocess.run(["scancel", job], check=True)
    _wait(lambda: not _tasks(job), 120, "the array to end")
    before = Study.load("sweep", pg).trials()
    released = [t.trial_id for t in before if t.info.get("released")]
    assert released and all(t.state is not TrialState.FAILED for t in before)
    r = protein(*_run(cfg, pg, 2), cwd=tmp_path, real=True, env=ENV, timeout=400)
    assert "resuming study" in r.stderr
    ts = _all_accounted_for(pg, 5)
    assert all(ts[i].info["handed_back"] == 1 for i in released)
    assert ts[victim.trial_id].info["retries"] == 1


def test_protein_worker_from_a_hand_written_batch_script_joins(tmp_path, slurm, pg):
    job = _detached(tmp_path, write_sweep(tmp_path, n=6, steps=12, pause=0.3), pg, 1)
    script = tmp_path / "join.sbatch"
    script.write_text(f"#!/bin/bash\n#SBATCH --output=join-%j.out\n"
                      f"exec protein worker --storage '{pg}' --study sweep\n")
    out = subprocess.run(["sbatch", "--parsable", str(script)], cwd=tmp_path, check=True,
                         capture_output=True, text=True, env={**os.environ, **ENV})
    mine = out.stdout.strip().split(";")[0]
    _wait(lambda: not _tasks(job) and not _tasks(mine), 300, "both jobs to end")
    ts = _all_accounted_for(pg, 6)
    by = {t.worker.rsplit(":", 1)[-1] for t in ts}
    assert mine in by and by & {job, f"{job}_0"}, by  # (an array of one may be a plain job)
    assert "protein worker: done, no trial left to start; study 'sweep' has" in (
        tmp_path / f"join-{mine}.out").read_text()

