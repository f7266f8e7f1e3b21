"""protein run end to end: trainers and commands, failures, timeouts, early stops, resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import pid_alive

from protein.study import Study
from protein.trial import TrialState

from _cli import ROOT, protein

CONFIG = textwrap.dedent("""\
    rollout_count: {n}
    num_samples: 1
    sweep:
      metric: {metric}
      goal: {goal}
      method: {method}
      settings: {{num_random_samples: 3}}
      parameters:
        trainer.learning_rate: {{distribution: log_normal, min: 1e-3, max: 3e-2}}
        trainer.width: {{distribution: uniform_pow2, min: 16, max: 64}}
        trainer.epochs: {{distribution: int_uniform, min: 1, max: 2}}
      trainer: {{depth: 1}}
    """)


def write_config(tmp_path: Path, n=4, metric="score", goal="maximize", method="protein") -> Path:
    p = tmp_path / "sweep.yaml"
    p.write_text(CONFIG.format(n=n, metric=metric, goal=goal, method=method))
    return p




@pytest.mark.slow
def test_trainer_sweep_with_two_workers(tmp_path):
    cfg = write_config(tmp_path, n=4)
    # no early stopping: the curve rule may fairly stop a trial of this tiny sweep (it did,
    # in about one full run in two), and this test is about the workers
    r = protein("run", str(cfg), "--trainer", "trainers.digits", "--workers", "2",
                "--device", "cpu", "--early-stop", "none", cwd=tmp_path)
    assert "best score" in r.stderr
    s = Study.load("sweep", str(tmp_path / "protein.db"))
    ts = s.trials()
    assert len(ts) == 4 and all(t.state is TrialState.COMPLETE for t in ts), [
        (t.trial_id, t.state.value, t.info.get("failure") or t.info.get("pruned")) for t in ts]
    assert len({t.worker for t in ts}) == 2
    d = tmp_path / "runs" / "sweep" / "trial_0000"
    assert {"params.yaml", "metrics.csv", "result.json"} <= {p.name for p in d.iterdir()}
    assert (d / "metrics.csv").read_text().startswith("step,value,cost\n")  # cost: spent so far
    assert all(t.intermediate for t in ts)
    # a finished sweep run again does nothing more
    protein("run", str(cfg), "--trainer", "trainers.digits", cwd=tmp_path)
    assert len(s.trials()) == 4


SCRIPT = textwrap.dedent("""\
    import json, os, sys
    args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--"))
    lr = float(args.get("trainer.learning_rate", os.environ.get("TRAINER_LEARNING_RATE", "nan")))
    mode = os.environ.get("MODE", "ok")
    if mode == "crash":
        raise RuntimeError("boom at start-up")
    for step in (1, 2, 3):
        print(json.dumps({"step": step, "value": lr * step}), flush=True)
    print("some log line")
    print(json.dumps({"loss": abs(lr - 0.01), "cost": 2.5}))
    """)


@pytest.mark.parametrize("mode", ["flags", "hydra", "json", "env"])
@pytest.mark.slow
def test_command_sweep_reads_the_last_json_line(tmp_path, mode):
    cfg = write_config(tmp_path, n=2, metric="loss", goal="minimize", method="random")
    script = tmp_path / "train.py"
    if mode == "hydra":
        script.write_text(SCRIPT.replace('a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--")',
                                         'a.split("=", 1) for a in sys.argv[1:]'))
    elif mode == "json":
        script.write_text(SCRIPT.replace(
            'lr = float(',
            'p = json.load(open(sys.argv[1])); args = {"trainer.learning_rate": p["trainer"]["learning_rate"]}\nlr = float('))
    else:
        script.write_text(SCRIPT)
    protein("run", str(cfg), "--command", f"{sys.executable} {script}", "--pass", mode,
            "--early-stop", "none", cwd=tmp_path)
    ts = Study.load("sweep", str(tmp_path / "protein.db")).trials()
    assert all(t.state is TrialState.COMPLETE for t in ts), [t.info for t in ts]
    assert all(t.cost == 2.5 for t in ts)
    assert [t.score for t in ts] == [abs(t.params["trainer.learning_rate"] - 0.01) for t in ts]
    assert ts[0].intermediate[-1][0] == 3
    log = (tmp_path / "runs" / "sweep" / "trial_0000" / "stdout.log").read_text()
    assert "some log line" in log


@pytest.mark.slow
def test_three_start_up_crashes_stop_the_sweep_with_the_traceback(tmp_path):
    cfg = write_config(tmp_path, n=10, metric="loss", goal="minimize", method="random")
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    r = subprocess.run([sys.executable, "-m", "protein", "run", str(cfg), "--command",
                        f"{sys.executable} {script}"], capture_output=True, text=True,
                       cwd=tmp_path, env={**os.environ, "MODE": "crash", "PYTHONPATH": str(ROOT)})
    assert r.returncode == 3
    assert "3 trials in a row crashed at start-up" in r.stderr
    assert "RuntimeError: boom at start-up" in r.stderr
    ts = Study.load("sweep", str(tmp_path / "protein.db")).trials()
    assert len(ts) < 10 and ts[0].state is TrialState.FAILED
    assert "exit code 1" in ts[0].info["failure"]
    # the command fixed, the same sweep resumes: the crashes of the last run do not stop it
    r = subprocess.run([sys.executable, "-m", "protein", "run", str(cfg), "--command",
                        f"{sys.executable} {script}"], capture_output=True, text=True,
                       cwd=tmp_path, env={**os.environ, "MODE": "ok", "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    ts = Study.load("sweep", str(tmp_path / "protein.db")).trials()
    # and the crashes of a command that never started do not use up the sweep's 10 trials
    assert sum(t.state is TrialState.COMPLETE for t in ts) == 10


@pytest.mark.slow
def test_timeouts_and_nan_scores_fail_their_trial_only(tmp_path):
    cfg = write_config(tmp_path, n=3, metric="loss", goal="minimize", method="random")
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""\
        import json, os, sys, time
        tid = int(os.environ["PROTEIN_TRIAL"])
        print(json.dumps({"step": 1, "value": 1.0}), flush=True)
        if tid == 0:
            time.sleep(30)
        print(json.dumps({"loss": float("nan") if tid == 1 else 0.5}))
        """))
    protein("run", str(cfg), "--command", f"{sys.executable} {script}", "--timeout", "3",
            cwd=tmp_path)
    ts = Study.load("sweep", str(tmp_path / "protein.db")).trials()
    assert ts[0].state is TrialState.FAILED and "timeout after 3s" in ts[0].info["failure"]
    assert ts[1].state is TrialState.FAILED and "non-finite" in ts[1].info["failure"]
    assert ts[2].state is TrialState.COMPLETE


@pytest.mark.slow
def test_early_stopping_prunes_laggards(tmp_path):
    cfg = write_config(tmp_path, n=9, method="random")
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""\
        import json, os
        tid = int(os.environ["PROTEIN_TRIAL"])
        good = tid < 6
        for step in range(1, 6):
            print(json.dumps({"step": step, "value": step * (1.0 if good else 0.1)}), flush=True)
        print(json.dumps({"score": 5.0 if good else 0.5}))
        """))
    protein("run", str(cfg), "--command", f"{sys.executable} {script}", "--early-stop", "median",
            cwd=tmp_path)
    ts = Study.load("sweep", str(tmp_path / "protein.db")).trials()
    assert [t.state for t in ts[:6]] == [TrialState.COMPLETE] * 6
    assert all(t.state is TrialState.PRUNED for t in ts[6:]), [t.state for t in ts]
    assert all("median rule" in t.info["pruned"] for t in ts[6:])


CURVES = textwrap.dedent("""\
    import json, os, sys
    tid = int(os.environ["PROTEIN_TRIAL"])
    budget = 1000 * (1 + tid % 3)          # what the whole run would spend
    final = 0.9 if tid < 4 else 0.05       # trials 4 and later are hopeless
    for k in range(1, 11):
        spent = budget * k / 10
        value = final * min(1.0, 2 * k / 10)
        print(json.dumps({"step": k, "value": value, "cost": spent}), flush=True)
    print(json.dumps({"score": final, "cost": budget}))
    """)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["protein", "random"])
def test_auto_stops_hopeless_curves_with_their_spend_and_spares_random_sweeps(tmp_path, method):
    cfg = write_config(tmp_path, n=8, method=method)
    script = tmp_path / "train.py"
    script.write_text(CURVES)
    protein("run", str(cfg), "--command", f"{sys.executable} {script}", cwd=tmp_path)
    ts = Study.load("sweep", str(tmp_path / "protein.db")).trials()
    assert [t.state for t in ts[:4]] == [TrialState.COMPLETE] * 4
    assert [r.cost for r in ts[0].intermediate] == [100.0 * k for k in range(1, 11)]
    if method == "random":  # who picks random search wants every point run in full
        assert all(t.state is TrialState.COMPLETE for t in ts)
        return
    pruned = [t for t in ts if t.state is TrialState.PRUNED]
    assert pruned, [(t.trial_id, t.state) for t in ts]
    for t in pruned:
        why = t.info["early_stop"]
        assert why["rule"] == "curve" and why["p_front"] < 0.05 and why["front"] >= 0.9 - 1e-9
        assert "chance to reach" in t.info["pruned"]
        # its cost is what it spent, in the study's unit (the reported cost), not seconds
        assert t.cost == t.intermediate[-1].cost and t.info["cost_unit"] == "reported"
        assert t.cost < 1000 * (1 + t.trial_id % 3)


@pytest.mark.slow
def test_interrupted_sweep_resumes_where_it_stopped(tmp_path):
    cfg = write_config(tmp_path, n=4, method="random")
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""\
        import json, os, time
        tid = int(os.environ["PROTEIN_TRIAL"])
        if tid == 1 and not os.path.exists("resumed"):
            time.sleep(60)
        print(json.dumps({"score": float(tid)}))
        """))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-m", "protein", "run", str(cfg), "--command",
                          f"{sys.executable} {script}"], cwd=tmp_path, env=env,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    db = str(tmp_path / "protein.db")
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.5)
        if (tmp_path / "protein.db").exists():
            try:
                ts = Study.load("sweep", db).trials()
            except Exception:  # noqa: BLE001 - not created yet
                continue
            if len(ts) >= 2 and ts[0].state.finished and ts[1].state is TrialState.RUNNING:
                break
    os.killpg(p.pid, signal.SIGINT)
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # say what hung (this has failed intermittently)
        still = subprocess.run(["ps", "-o", "pid,ppid,pgid,stat,etime,args", "-g", str(p.pid)],
                               capture_output=True, text=True).stdout
        os.killpg(p.pid, signal.SIGKILL)
        _, err = p.communicate()
        states = [(t.trial_id, t.state.value, t.worker) for t in Study.load("sweep", db).trials()]
        pytest.fail(f"protein run did not exit within 60 s of SIGINT\nits stderr:\n{err}\n"
                    f"trials: {states}\nits process group:\n{still}")
    assert p.returncode == 130 and "resume" in err
    ts = Study.load("sweep", db).trials()
    assert ts[0].state is TrialState.COMPLETE and ts[1].state is TrialState.RUNNING
    params_1 = ts[1].params
    (tmp_path / "resumed").write_text("")
    protein("run", str(cfg), "--command", f"{sys.executable} {script}", cwd=tmp_path)
    ts = Study.load("sweep", db).trials()
    assert len(ts) == 4 and all(t.state is TrialState.COMPLETE for t in ts), [(t.trial_id, t.state.value, t.info.get("failure"), t.info.get("traceback", "")[-800:]) for t in ts]
    assert ts[1].params == params_1 and ts[1].info["retries"] == 1


def test_bad_invocations_are_one_line_errors(tmp_path):
    cfg = write_config(tmp_path)
    r = protein("run", str(cfg), "--trainer", "no.such.module", cwd=tmp_path, check=False)
    assert r.returncode == 2 and "cannot import it" in r.stderr
    r = protein("run", str(cfg), cwd=tmp_path, check=False)
    assert r.returncode == 2 and "exactly one of --trainer" in r.stderr


@pytest.mark.slow
def test_crashes_after_a_success_never_stop_the_sweep_and_a_rerun_goes_on(tmp_path):
    # a grid whose values succeed 5 times, then exit 1, print no JSON, die, then succeed
    values = ["a", "b", "c", "d", "e", "exit", "nojson", "kill", "f", "g", "h", "i"]
    cfg = tmp_path / "grid.yaml"
    cfg.write_text("method: grid\nmetric: score\ngoal: maximize\nparameters:\n"
                   f"  v: {{values: [{', '.join(values)}]}}\n")
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""\
        import json, os, signal, sys
        v = sys.argv[1].split("=", 1)[1]
        if v == "exit":
            sys.exit(1)
        if v == "nojson":
            print("no result")
            sys.exit(0)
        if v == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        print(json.dumps({"score": float(ord(v[0]))}))
        """))
    r = protein("run", str(cfg), "--command", f"{sys.executable} {script}", cwd=tmp_path,
                check=False)
    ts = Study.load("grid", str(tmp_path / "protein.db")).trials()
    assert r.returncode == 0, r.stderr
    assert len(ts) == 12 and sum(t.state is TrialState.FAILED for t in ts) == 3
    again = protein("run", str(cfg), "--command", f"{sys.executable} {script}", cwd=tmp_path,
                    check=False)
    assert again.returncode == 0 and "crashed at start-up" not in again.stderr


@pytest.mark.slow
def test_a_bool_score_or_a_bad_cost_fails_its_trial_with_the_reason(tmp_path):
    cfg = tmp_path / "grid.yaml"
    cfg.write_text("method: grid\nmetric: reward\ngoal: maximize\nparameters:\n"
                   "  v: {values: [boolean, negative, zero, fine]}\n")
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""\
        import json, sys
        v = sys.argv[1].split("=", 1)[1]
        print(json.dumps({"boolean": {"reward": True}, "negative": {"reward": 1.0, "cost": -3},
                          "zero": {"reward": 1.0, "cost": 0}, "fine": {"reward": 2.0, "cost": 4}}[v]))
        """))
    protein("run", str(cfg), "--command", f"{sys.executable} {script}", cwd=tmp_path)
    ts = {t.params["v"]: t for t in Study.load("grid", str(tmp_path / "protein.db")).trials()}
    assert ts["boolean"].state is TrialState.FAILED
    assert "reward must be a number, got True" in ts["boolean"].info["failure"]
    for v in ("negative", "zero"):
        why = ts[v].info["failure"]
        assert ts[v].state is TrialState.FAILED and "cost must be a finite number > 0" in why
        assert "leave it out to use wall seconds" in why
    assert ts["fine"].score == 2.0 and ts["fine"].cost == 4.0


@pytest.mark.slow
def test_a_killed_sweep_leaves_no_orphans_and_a_second_run_beside_a_live_one_is_refused(tmp_path):
    cfg = write_config(tmp_path, n=4, method="random")
    script = tmp_path / "sleeper.py"
    script.write_text("import os, time\nopen(f'pid_{os.getpid()}', 'w').close()\ntime.sleep(300)\n")
    cmd = [sys.executable, "-m", "protein", "run", str(cfg), "--command",
           f"{sys.executable} {script}", "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sup = subprocess.Popen(cmd, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    deadline = time.time() + 120
    while len(list(tmp_path.glob("pid_*"))) < 2 and time.time() < deadline:
        time.sleep(0.5)
    pids = [int(p.name[4:]) for p in tmp_path.glob("pid_*")]
    assert len(pids) == 2
    # a second run of the same study beside the live one is refused
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "live workers" in r.stderr
    os.kill(sup.pid, signal.SIGKILL)  # the supervisor dies without a word
    sup.wait()
    deadline = time.time() + 30
    while any(pid_alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.5)
    assert not any(pid_alive(p) for p in pids), "training commands outlived their sweep"


def test_unwritable_run_folders_fail_clearly_and_lose_no_trial(tmp_path):
    import errno

    from protein.runner.spec import RunSpec
    from protein.runner.worker import worker_main, write_failure

    cfg = write_config(tmp_path, n=2, method="random")
    r = protein("run", str(cfg), "--command", "true", "--out", "/proc/protein-runs",
                cwd=tmp_path, check=False)
    assert r.returncode == 2 and "--out /proc/protein-runs: cannot write" in r.stderr
    assert "Traceback" not in r.stderr
    # a worker whose trial folder cannot be written fails that trial and stops, saying why
    db = str(tmp_path / "w.db")
    Study.create(cfg, "w", db)
    spec = RunSpec(study="w", storage=db, command="true", out_dir="/proc/protein-runs",
                   max_trials=1)
    from protein.runner.execute import die_with_parent

    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:  # the worker loop, in this process: its signal set-up is undone below
        with pytest.raises(SystemExit) as e:
            worker_main(spec.__dict__ | {"stop": {}, "env": {}})
    finally:
        for s, h in saved.items():
            signal.signal(s, h)
        die_with_parent(0)
    assert e.value.code == 1
    t = Study.load("w", db).trial(0)
    assert t.state is TrialState.FAILED and "cannot write under /proc/protein-runs" in t.info["failure"]
    full = write_failure(OSError(errno.ENOSPC, "No space left on device", "runs/x"), "runs")
    assert "the disk is full" in full


def test_ctrl_c_sets_a_flag_for_the_supervisor_and_a_second_one_raises():
    """A first SIGINT must not raise wherever the supervisor is (a storage call), only
    mark the sweep as stopping; a second one raises; the old handler comes back after."""
    from protein.runner.supervisor import _interrupts

    before = signal.getsignal(signal.SIGINT)
    with _interrupts() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.wait(5)  # set, and nothing raised here
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the handler runs before this ends
    assert signal.getsignal(signal.SIGINT) is before


SLOW = textwrap.dedent("""\
    import json, os, sys, time
    seed = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--seed=")][0]
    with open(os.environ["RUNS_LOG"], "a") as f:
        f.write(seed + "\\n")
    time.sleep(3)
    print(json.dumps({"score": 1.0}))
    """)


@pytest.mark.slow
def test_a_lease_shorter_than_the_heartbeat_never_runs_a_live_trial_twice(tmp_path):
    # a lease of 2 s against trials of 3 s: the supervisor's heartbeat keeps up with the
    # lease, and a trial whose worker process lives is never handed to a second worker
    cfg = write_config(tmp_path, n=3, method="random")
    script = tmp_path / "slow.py"
    script.write_text(SLOW)
    log = tmp_path / "runs.log"
    protein("init", str(cfg), "--study", "sweep", "--lease", "2s", cwd=tmp_path)
    r = subprocess.run([sys.executable, "-m", "protein", "run", str(cfg), "--command",
                        f"{sys.executable} {script}", "--workers", "2", "--early-stop", "none"],
                       capture_output=True, text=True, cwd=tmp_path,
                       env={**os.environ, "RUNS_LOG": str(log), "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    runs = log.read_text().split()
    assert sorted(runs) == sorted(set(runs)) and len(runs) == 3, runs  # each trial ran once
    ts = Study.load("sweep", str(tmp_path / "protein.db")).trials()
    assert [t.state for t in ts] == [TrialState.COMPLETE] * 3
    assert not any("retries" in t.info for t in ts)


FORKER = textwrap.dedent("""\
    import os, subprocess, time
    grand = subprocess.Popen(["sleep", "307"])  # left running in the background
    open(f"grand_{grand.pid}", "w").close()
    open(f"cmd_{os.getpid()}", "w").close()
    time.sleep(300)
    """)


@pytest.mark.slow
def test_what_a_command_started_ends_when_its_worker_is_killed(tmp_path):
    cfg = write_config(tmp_path, n=1, method="random")
    script = tmp_path / "forker.py"
    script.write_text(FORKER)
    sup = subprocess.Popen([sys.executable, "-m", "protein", "run", str(cfg), "--command",
                            f"{sys.executable} {script}"], cwd=tmp_path, stderr=subprocess.PIPE,
                           text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                           start_new_session=True)
    try:
        deadline = time.time() + 120
        while not (list(tmp_path.glob("grand_*")) and list(tmp_path.glob("cmd_*"))) \
                and time.time() < deadline:
            time.sleep(0.3)
        grand = int(next(tmp_path.glob("grand_*")).name[6:])
        cmd = int(next(tmp_path.glob("cmd_*")).name[4:])
        worker = int(open(f"/proc/{cmd}/stat").read().rpartition(")")[2].split()[1])
        os.kill(worker, signal.SIGKILL)  # the worker dies without a word
        deadline = time.time() + 20
        while (pid_alive(grand) or pid_alive(cmd)) and time.time() < deadline:
            time.sleep(0.3)
        assert not pid_alive(cmd) and not pid_alive(grand), "the command's children outlived it"
    finally:
        if sup.poll() is None:
            os.killpg(sup.pid, signal.SIGKILL)
        sup.wait()


@pytest.mark.slow
def test_a_sweep_survives_its_postgresql_connections_being_dropped(storage_url, tmp_path):
    if not storage_url.startswith("postgresql"):
        pytest.skip("a SQLite file has no server connection to drop")
    import psycopg

    cfg = write_config(tmp_path, n=8, method="random")
    script = tmp_path / "slow.py"
    script.write_text(SLOW.replace("time.sleep(3)", "time.sleep(1)"))
    log = tmp_path / "runs.log"
    sup = subprocess.Popen(
        [sys.executable, "-m", "protein", "run", str(cfg), "--storage", storage_url, "--command",
         f"{sys.executable} {script}", "--workers", "2", "--early-stop", "none"],
        cwd=tmp_path, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "RUNS_LOG": str(log), "PYTHONPATH": str(ROOT)})
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if sum(t.state is TrialState.COMPLETE
                   for t in Study.load("sweep", storage_url).trials()) >= 2:
                break
        except Exception:  # noqa: BLE001 - not created yet
            pass
        time.sleep(0.3)
    with psycopg.connect(storage_url.split("?")[0], autocommit=True) as conn:
        dropped = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = "
            "current_database() AND pid <> pg_backend_pid()").fetchone()[0]
    assert dropped >= 3  # the supervisor's and both workers' connections
    _, err = sup.communicate(timeout=300)
    assert sup.returncode == 0, err
    assert "Traceback" not in err
    ts = Study.load("sweep", storage_url).trials()
    assert sorted(t.state.value for t in ts if not t.info.get("failure", "").startswith(
        "expired")) == ["complete"] * 8, [(t.state, t.info) for t in ts]
    runs = log.read_text().split()
    assert len(runs) == len(set(runs)), runs  # no trial ran twice


def test_trial_files_are_not_written_through_a_symbolic_link(tmp_path):
    from protein.runner.spec import RunSpec, trial_dir

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    spec = RunSpec(study="s", storage=":memory:", out_dir=str(tmp_path / "runs"))
    (tmp_path / "runs" / "s").mkdir(parents=True)
    (tmp_path / "runs" / "s" / "trial_0000").symlink_to(outside)
    with pytest.raises(OSError, match="is a symbolic link"):
        trial_dir(spec, 0)
    assert trial_dir(spec, 1).is_dir() and not list(outside.iterdir())


def test_a_new_study_database_is_readable_by_its_owner_only(tmp_path):
    db = tmp_path / "protein.db"
    Study.create({"goal": "maximize", "parameters": {
        "x": {"distribution": "uniform", "min": 0, "max": 1}}}, "s", str(db))
    assert db.stat().st_mode & 0o777 == 0o600


def test_an_over_value_that_cannot_name_a_study_blames_over(tmp_path):
    cfg = write_config(tmp_path, n=1, method="random")
    r = protein("run", str(cfg), "--trainer", "trainers.digits", "--over", "env.kind=a b,c",
                cwd=tmp_path, check=False)
    assert r.returncode == 2 and "--over env.kind: the value 'a b'" in r.stderr
    assert "choose another with --study" not in r.stderr


def test_a_second_storage_does_not_overwrite_the_first_ones_run_folder(tmp_path):
    cfg = write_config(tmp_path, n=1, method="random")
    args = ["run", str(cfg), "--trainer", "trainers.digits", "--device", "cpu"]
    protein(*args, "--storage", str(tmp_path / "a.db"), cwd=tmp_path)
    before = (tmp_path / "runs" / "sweep" / "trial_0000" / "result.json").read_text()
    r = protein(*args, "--storage", str(tmp_path / "b.db"), cwd=tmp_path, check=False)
    assert r.returncode == 2 and "--out DIR" in r.stderr and "a.db" in r.stderr
    assert (tmp_path / "runs" / "sweep" / "trial_0000" / "result.json").read_text() == before
    protein(*args, "--storage", str(tmp_path / "b.db"), "--out", "runs_b", cwd=tmp_path)
    protein(*args, "--storage", "a.db", cwd=tmp_path)  # the same file, named another way


def test_wandb_without_a_login_is_refused_before_any_trial(tmp_path):
    pytest.importorskip("wandb")
    cfg = write_config(tmp_path, n=1, method="random")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    r = subprocess.run([sys.executable, "-m", "protein", "run", str(cfg), "--trainer",
                        "trainers.digits", "--wandb-project", "p"], capture_output=True,
                       text=True, cwd=tmp_path, timeout=300,
                       env={**env, "HOME": str(tmp_path), "NETRC": str(tmp_path / "none"),
                            "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2 and "wandb login" in r.stderr and "WANDB_MODE=offline" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "runs").exists()
    from protein.integrations.wandb import check_ready

    os.environ["WANDB_MODE"] = "offline"
    try:
        check_ready("p")  # offline logging needs no key
    finally:
        del os.environ["WANDB_MODE"]


def test_a_searched_key_the_bundled_trainer_does_not_read_is_an_error(tmp_path):
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(CONFIG.format(n=2, metric="score", goal="maximize", method="random")
                   .replace("trainer.epochs:", "trainer.momentum: {distribution: uniform, "
                            "min: 0.1, max: 0.9}\n    trainer.epochs:")
                   .replace("trainer: {depth: 1}", "trainer: {depth: 1, evaluate_interval: 10}"))
    r = protein("run", str(cfg), "--trainer", "trainers.digits", cwd=tmp_path, check=False)
    assert r.returncode == 2 and "does not read the searched trainer.momentum" in r.stderr
    assert "it reads trainer.learning_rate" in r.stderr and not (tmp_path / "runs").exists()
    r = protein("run", str(cfg), "--trainer", "trainers.digits", "--dry-run", cwd=tmp_path,
                check=False)
    assert r.returncode == 2
    cfg.write_text(cfg.read_text().replace("trainer.momentum: {distribution: uniform, min: 0.1, "
                                           "max: 0.9}\n    ", ""))
    r = protein("run", str(cfg), "--trainer", "trainers.digits", "--dry-run", cwd=tmp_path)
    assert "ignores the fixed trainer.evaluate_interval" in r.stderr


def test_a_command_killed_by_a_stop_signal_waits_for_its_workers_own():
    # scancel --signal and Ctrl-C reach the command and its worker one after the other: a
    # command that dies of the signal first must find its worker told to stop, so the trial
    # is handed back rather than failed
    import threading

    from protein.runner.handback import SIGNAL_WAIT_S, StopSignals

    names = ("SIGTERM", "SIGINT", "SIGUSR1", "SIGUSR2")
    before = {n: signal.getsignal(getattr(signal, n)) for n in names}
    try:
        s = StopSignals().install()
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGUSR2)).start()
        t = time.monotonic()
        s.await_own(signal.SIGUSR2)
        assert s.received == "SIGUSR2" and s.requeue and time.monotonic() - t < SIGNAL_WAIT_S
        other = StopSignals().install()
        t = time.monotonic()
        other.await_own(signal.SIGKILL)  # not a stop signal: the command's own death
        other.await_own(None)  # an exit code, no signal
        assert other.received is None and time.monotonic() - t < 0.5
    finally:
        for n, h in before.items():
            signal.signal(getattr(signal, n), h)
