"""Workers beyond one supervisor, without Slurm: a trial handed back (``Study.release``)
on both storage backends, ``protein worker`` processes told to stop (SIGTERM, SIGINT, the
pre-timeout signal) mid-trial, the config's ``slurm:`` key, Slurm time limits, the storage
check and ``protein slurm-script``. The same on a real Slurm: test_slurm.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from protein.ask_queue import MAX_HANDBACKS
from protein.config import load_config
from protein.errors import ConfigError, ProteinError
from protein.runner.slurm import check_storage, minutes
from protein.study import Study
from protein.trial import TrialState

from _cli import ROOT, protein
from _slow_train import write_sweep


def _study(tmp_path: Path, url: str, **kw) -> Study:
    return Study.create(load_config(write_sweep(tmp_path)), "sweep", url, **kw)


def test_a_released_trial_goes_to_the_next_worker_that_retries(tmp_path, storage_url):
    study = _study(tmp_path, storage_url)
    t = study.ask(worker="a")
    study.report(t, 1, 0.5)
    study.release(t, "preempted", wall=2.5)
    r = study.trial(t.trial_id)
    assert r.state is TrialState.RUNNING and r.info["released"] == "preempted"
    assert "process" not in r.info and r.info["wall_before"] == 2.5
    # an ask that does not retry stale trials neither takes it nor fails it
    other = study.ask(worker="b")
    assert other.trial_id != t.trial_id
    assert study.trial(t.trial_id).state is TrialState.RUNNING
    again = study.ask(worker="c", retry_stale=True)
    assert again.trial_id == t.trial_id and again.params == t.params
    assert again.worker == "c" and "released" not in again.info
    assert again.info["handed_back"] == 1 and "retries" not in again.info  # not a death
    assert [(x.step, x.value) for x in study.trial(t.trial_id).intermediate] == [(1.0, 0.5)]
    study.tell(again, 0.9)
    assert study.trial(t.trial_id).state is TrialState.COMPLETE


def test_a_trial_handed_back_too_often_fails_with_the_reason(tmp_path, storage_url):
    study = _study(tmp_path, storage_url)
    t = study.ask(worker="a")
    for _ in range(MAX_HANDBACKS + 1):
        study.release(t, "its job is near its time limit (SIGUSR2)")
        t = study.ask(worker="a", retry_stale=True)
        if t.trial_id != 0:
            break
    failed = study.trial(0)
    assert failed.state is TrialState.FAILED
    assert "handed back" in failed.info["failure"] and "--time" in failed.info["failure"]
    with pytest.raises(ProteinError, match="only a running trial"):
        study.release(failed, "again")


def _start_worker(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "protein", "worker", *args], cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"})


def _wait_for_report(url: str, timeout: float = 60.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            ts = Study.load("sweep", url).trials()
        except Exception:  # noqa: BLE001 - not created yet
            ts = []
        if any(t.state is TrialState.RUNNING and len(t.intermediate) >= 2 for t in ts):
            return
        time.sleep(0.2)
    raise AssertionError("no trial reported progress")


@pytest.mark.slow
@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGUSR2, 143),
                                      (signal.SIGINT, 130)])
def test_a_worker_told_to_stop_hands_its_command_trial_back(tmp_path, sig, code):
    url = str(tmp_path / "s.db")
    cfg = write_sweep(tmp_path, n=2, steps=8, pause=0.2)
    w = _start_worker(tmp_path, str(cfg), "--command", f"{sys.executable} train.py",
                      "--storage", url)
    _wait_for_report(url)
    w.send_signal(sig)
    _, err = w.communicate(timeout=60)
    assert w.returncode == code, err
    assert "handed back" in err
    t = Study.load("sweep", url).trial(0)
    assert t.state is TrialState.RUNNING and t.info["released"] and t.info["wall_before"] > 0
    # a second worker joins with the run record the first left, and finishes both trials
    r = protein("worker", "--storage", url, "--study", "sweep", cwd=tmp_path, real=True,
                env={"PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"})
    ts = Study.load("sweep", url).trials()
    assert [t.state for t in ts] == [TrialState.COMPLETE] * 2, r.stderr
    first = ts[0]
    assert first.info["handed_back"] == 1
    assert first.cost > first.info["wall_before"]  # both attempts' wall time
    starts = (tmp_path / "runs" / "sweep" / "trial_0000" / "attempts.txt").read_text().split()
    assert starts[0] == "0" and int(starts[1]) >= 2  # resumed from its checkpoint
    assert [x.step for x in first.intermediate] == list(map(float, range(1, 9)))


@pytest.mark.slow
def test_a_worker_told_to_stop_hands_its_trainer_trial_back_at_once(tmp_path):
    """A trainer is stopped straight from the signal, not at its next report."""
    url = str(tmp_path / "s.db")
    cfg = write_sweep(tmp_path, n=1, steps=4, pause=0.2, extra="  first_pause: 600\n")
    w = _start_worker(tmp_path, str(cfg), "--trainer", "slowtrainer", "--storage", url)
    _wait_for_report(url)  # the trainer now sleeps 600 s before its next report
    w.send_signal(signal.SIGTERM)
    _, err = w.communicate(timeout=30)
    assert w.returncode == 143, err
    t = Study.load("sweep", url).trial(0)
    assert t.state is TrialState.RUNNING and "SIGTERM" in t.info["released"]
    protein("worker", "sweep.yaml", "--trainer", "slowtrainer", "--storage", url,
            cwd=tmp_path, real=True, env={"PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"})
    t = Study.load("sweep", url).trial(0)
    assert t.state is TrialState.COMPLETE and t.metrics["started_at"] >= 2


def test_worker_without_a_way_to_run_trials_says_what_to_give(tmp_path):
    cfg = write_sweep(tmp_path)
    r = protein("init", str(cfg), "--storage", str(tmp_path / "s.db"), cwd=tmp_path)
    r = protein("worker", "--storage", str(tmp_path / "s.db"), cwd=tmp_path, check=False)
    assert r.returncode == 2
    assert "give --trainer MODULE or --command" in r.stderr and "run.json" in r.stderr


def test_slurm_times():
    assert minutes("90") == 90 and minutes("48:00:00") == 48 * 60
    assert minutes("1:30") == 2 and minutes("2-00:00:00") == 2 * 24 * 60
    assert minutes("1-12") == 36 * 60 and minutes("unlimited") == 0
    with pytest.raises(ProteinError, match="not a Slurm time.*48:00:00"):
        minutes("two days")


def test_slurm_workers_refuse_a_sqlite_file_unless_told_it_is_one_node(tmp_path):
    with pytest.raises(ProteinError, match="PostgreSQL.*--allow-shared-sqlite"):
        check_storage(str(tmp_path / "s.db"), allow_shared_sqlite=False)
    check_storage(str(tmp_path / "s.db"), allow_shared_sqlite=True)
    check_storage("postgresql://u@db/protein", allow_shared_sqlite=False)
    cfg = write_sweep(tmp_path)
    r = protein("run", str(cfg), "--command", "python train.py", "--launcher", "slurm",
                "--storage", str(tmp_path / "s.db"), cwd=tmp_path, check=False)
    assert r.returncode == 2 and "--allow-shared-sqlite" in r.stderr
    assert not (tmp_path / "s.db").exists()  # refused before anything was made


def test_config_slurm_key(tmp_path):
    cfg = write_sweep(tmp_path, extra="slurm: {partition: gpu, time: '48:00:00', "
                                      "gpus_per_worker: 1, args: {constraint: a100}}\n")
    assert load_config(cfg).extras["slurm"] == {
        "partition": "gpu", "time": "48:00:00", "gpus_per_worker": 1,
        "args": {"constraint": "a100"}}
    bad = write_sweep(tmp_path, extra="slurm: {partiton: gpu}\n")
    with pytest.raises(ConfigError, match="slurm.partiton.*did you mean 'partition'"):
        load_config(bad)
    bad = write_sweep(tmp_path, extra="slurm: {gpus_per_worker: one}\n")
    with pytest.raises(ConfigError, match="gpus_per_worker.*whole number"):
        load_config(bad)


def test_slurm_script_runs_protein_worker_with_the_resources(tmp_path):
    cfg = write_sweep(tmp_path, extra="slurm: {partition: gpu, time: '48:00:00'}\n")
    r = protein("slurm-script", str(cfg), "--command", "python train.py", "--workers", "4",
                "--storage", "postgresql://me@db/sweeps", "--gpus-per-worker", "1",
                "--mem", "32G", "--slurm-arg", "constraint=a100", "--early-stop", "none",
                cwd=tmp_path)
    lines = r.stdout.splitlines()
    assert lines[0] == "#!/bin/bash"
    for want in ("#SBATCH --array=0-3", "#SBATCH --partition=gpu", "#SBATCH --time=48:00:00",
                 "#SBATCH --gpus-per-task=1", "#SBATCH --mem=32G",
                 "#SBATCH --constraint=a100", "#SBATCH --requeue",
                 "#SBATCH --signal=B:USR2@120",
                 "#SBATCH --output=runs/sweep/slurm/%A_%a.out"):
        assert want in lines, want
    assert lines[-1] == (f"exec protein worker {cfg} --storage postgresql://me@db/sweeps "
                         "--study sweep --out runs --command 'python train.py' "
                         "--early-stop none")
    assert (tmp_path / "runs" / "sweep" / "slurm").is_dir()  # sbatch writes the logs there
    r = protein("slurm-script", str(cfg), "--command", "python train.py", "--time", "soon",
                "--storage", "postgresql://me@db/sweeps", cwd=tmp_path, check=False)
    assert r.returncode == 2 and "--time 'soon': not a Slurm time" in r.stderr


def test_status_shows_workers_running_trials_and_their_logs(tmp_path):
    url = str(tmp_path / "s.db")
    study = _study(tmp_path, url)
    a = study.ask(worker="node1:77_0")
    study.report(a, 3, 0.2)
    b = study.ask(worker="node2:77_1")
    study.tell(b, 0.5)
    c = study.ask(worker="node2:77_1")
    study.release(c, "its job is near its time limit (SIGUSR2)")
    d = tmp_path / "runs" / "sweep" / f"trial_{a.trial_id:04d}"
    d.mkdir(parents=True)
    (d / "stdout.log").write_text("epoch 3\n")
    r = protein("status", "--storage", url, "--format", "json", cwd=tmp_path)
    s = json.loads(r.stdout)
    assert s["trials"] == {"running": 2, "complete": 1}
    assert {w["worker"]: w["running"] for w in s["workers"]} == {"node1:77_0": a.trial_id,
                                                                 "node2:77_1": None}
    running = {x["trial"]: x for x in s["running"]}
    assert running[a.trial_id]["logs"] == [str(Path("runs/sweep/trial_0000/stdout.log"))]
    assert running[c.trial_id]["handed_back"].startswith("its job is near")
    text = protein("status", "--storage", url, cwd=tmp_path).stdout
    assert "handed back" in text and "node1:77_0" in text


def test_a_standalone_worker_keeps_its_trials_heartbeat(tmp_path, storage_url):
    """On another node its process cannot be looked up: only heartbeats keep its trial."""
    from protein.runner.handback import Heartbeat

    study = _study(tmp_path, storage_url)
    t = study.ask(worker="far:1")
    before = study.trial(t.trial_id).heartbeat_at
    beat = Heartbeat("sweep", storage_url, every=0.1)
    try:
        beat.trial_id = t.trial_id
        end = time.time() + 10
        while study.trial(t.trial_id).heartbeat_at == before and time.time() < end:
            time.sleep(0.05)
    finally:
        beat.close()
    assert study.trial(t.trial_id).heartbeat_at > before
