"""Persistent studies: the same test bodies on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
import time

import pytest

from protein.errors import StorageError, TrialError
from protein.process import identity
from protein.study import Study
from protein.trial import TrialState

CFG = {
    "goal": "minimize",
    "metric": "loss",
    "settings": {"num_random_samples": 4},
    "parameters": {
        "trainer.lr": {"distribution": "log_normal", "min": 1e-4, "max": 1e-1},
        "trainer.bs": {"distribution": "uniform_pow2", "min": 16, "max": 256},
    },
    "trainer": {"epochs": 2},
}


def loss(p):
    return (math.log10(p["trainer.lr"]) + 2) ** 2 + 0.1 * abs(math.log2(p["trainer.bs"]) - 5)


@pytest.mark.slow
def test_trials_survive_reopening_and_the_next_ask_continues(storage_url):
    s = Study.create(CFG, "s", storage_url, seed=1)
    for _ in range(7):
        t = s.ask(worker="w1")
        s.tell(t, loss(t.params), cost=3.0)
    again = Study.load("s", storage_url)
    assert [t.params for t in again.trials()] == [t.params for t in s.trials()]
    assert again.best().score == min(t.score for t in s.trials())
    # the reopened study asks exactly what the live one would: state comes from storage alone
    live = Study(CFG, seed=1)
    for t in s.trials():
        live.storage.create_trial(t.params, t.info)
        live.tell(t.trial_id, t.score, t.cost)
    assert again.ask().params == live.ask().params


def test_tell_rules(storage_url, capsys):
    s = Study.create(CFG, "s", storage_url)
    t = s.ask()
    done = s.tell(t, 0.5, cost=2.0)
    assert done.state is TrialState.COMPLETE and done.cost == 2.0
    assert s.tell(t, 0.5, cost=2.0) == done  # the same tell twice is harmless
    with pytest.raises(TrialError, match="already complete"):
        s.tell(t, 0.7)
    with pytest.raises(TrialError, match="trial 42: no such trial"):
        s.tell(42, 1.0)
    u = s.ask()
    nan = s.tell(u, float("nan"))
    assert nan.state is TrialState.FAILED and "non-finite" in nan.info["failure"]
    assert "recorded as failed" in capsys.readouterr().err
    v = s.ask()
    with pytest.raises(TrialError, match="cost must be a finite number > 0"):
        s.tell(v, 1.0, cost=0)
    assert s.tell(v, failed=True, reason="CUDA OOM").info["failure"] == "CUDA OOM"
    w = s.ask()
    assert s.tell(w, pruned=True, score=3.0).state is TrialState.PRUNED


def test_intermediate_values_are_stored_in_order(storage_url):
    s = Study.create(CFG, "s", storage_url)
    t = s.ask()
    for step, v, spent in [(1, 0.9, 10.0), (2, 0.7, None), (3, 0.6, 30.5)]:
        s.report(t, step, v, spent)
    got = Study.load("s", storage_url).trial(t.trial_id).intermediate
    assert got == ((1, 0.9, 10.0), (2, 0.7, None), (3, 0.6, 30.5))  # with the spend, if given
    assert [r.cost for r in got] == [10.0, None, 30.5]
    for bad in (0, -1.0, float("nan"), "x"):
        with pytest.raises(TrialError, match="cost spent so far must be"):
            s.report(t, 4, 0.5, bad)
    with pytest.raises(TrialError, match="step must be a finite number"):
        s.report(t, float("nan"), 0.5)
    s.tell(t, 0.6)
    with pytest.raises(TrialError, match="only recorded for running trials"):
        s.report(t, 4, 0.5)


def test_a_different_config_is_refused_unless_forced(storage_url):
    Study.create(CFG, "s", storage_url)
    Study.create(CFG, "s", storage_url)  # identical: reopens
    other = {**CFG, "goal": "maximize"}
    with pytest.raises(StorageError, match="already exists .* --force"):
        Study.create(other, "s", storage_url)
    assert Study.create(other, "s", storage_url, replace=True).config.goal == "maximize"
    with pytest.raises(StorageError, match="no study 'nope'"):
        Study.load("nope", storage_url)


def test_expired_trials_fail_or_are_handed_out_again(storage_url):
    # handed to another process (not held by this one): only the lease expires them
    s = Study.create(CFG, "fail", storage_url, lease_s=0.2, on_expire="fail")
    t = s.ask(worker="remote-host:1", held=False)
    time.sleep(0.4)
    s.ask()
    assert "expired" in s.trial(t.trial_id).info["failure"]
    r = Study.create(CFG, "retry", storage_url, lease_s=0.2, on_expire="retry")
    t = r.ask(worker="remote-host:1", held=False)
    time.sleep(0.4)
    again = r.ask(worker="w2")
    assert again.trial_id == t.trial_id and again.worker == "w2"
    assert again.info["retries"] == 1 and again.info["process"] == identity()


def test_a_trial_held_by_a_live_process_never_expires_whatever_its_name(storage_url):
    # a live local worker whose heartbeat is late (a lease shorter than its heartbeat) keeps
    # its trial, even under a name that looks like host:pid of a dead process
    s = Study.create(CFG, "live", storage_url, lease_s=0.2, on_expire="retry")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    t = s.ask(worker=f"{socket.gethostname()}:{dead}")
    time.sleep(0.4)
    other = s.ask(worker="w2", retry_stale=True)
    assert other.trial_id != t.trial_id
    assert s.trial(t.trial_id).state is TrialState.RUNNING


def test_a_trial_of_a_dead_process_expires_at_once_whatever_its_name(storage_url, tmp_path):
    # a job named like a pid of this host (node:$SLURM_JOB_ID) is judged by its process, and
    # a dead process's trial goes back to the queue without waiting for its lease
    script = tmp_path / "ask.py"
    script.write_text(textwrap.dedent("""
        import os, socket, sys
        from protein.study import Study
        s = Study.load("dead", sys.argv[1])
        t = s.ask(worker=f"{socket.gethostname()}:{os.getppid()}")
        print(t.trial_id)
    """))
    s = Study.create(CFG, "dead", storage_url, lease_s=3600, on_expire="retry")
    tid = int(subprocess.run([sys.executable, str(script), storage_url], capture_output=True,
                             text=True, check=True).stdout)
    again = s.ask(worker="w2", retry_stale=True)
    assert again.trial_id == tid and again.info["retries"] == 1


WORKER = textwrap.dedent("""
    import math, sys
    from protein.study import Study
    url, n = sys.argv[1], int(sys.argv[2])
    s = Study.load("race", url)
    for _ in range(n):
        t = s.ask()
        s.tell(t, (math.log10(t.params["trainer.lr"]) + 2) ** 2, cost=1.0)
""")


@pytest.mark.slow
def test_parallel_worker_processes_lose_nothing(storage_url, tmp_path):
    cfg = {**CFG, "method": "random"}
    Study.create(cfg, "race", storage_url)
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    procs = [subprocess.Popen([sys.executable, str(script), storage_url, "12"], env=env,
                              stderr=subprocess.PIPE, text=True) for _ in range(6)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    ts = Study.load("race", storage_url).trials()
    assert [t.trial_id for t in ts] == list(range(72))
    assert all(t.state is TrialState.COMPLETE for t in ts)


KILLED = textwrap.dedent("""
    import sys, time
    from protein.study import Study
    s = Study.load("kill", sys.argv[1])
    t = s.ask()
    print(t.trial_id, flush=True)
    time.sleep(60)
""")


@pytest.mark.slow
def test_kill_9_mid_trial_loses_no_finished_trial(storage_url, tmp_path):
    s = Study.create(CFG, "kill", storage_url, lease_s=3600, on_expire="fail")
    for _ in range(3):
        t = s.ask()
        s.tell(t, loss(t.params))
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    p = subprocess.Popen([sys.executable, str(script), storage_url], stdout=subprocess.PIPE,
                         text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    tid = int(p.stdout.readline())
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    s2 = Study.load("kill", storage_url)
    nxt = s2.ask()  # a dead local worker is noticed at once, not after the lease
    ts = s2.trials()
    assert [t.state for t in ts[:3]] == [TrialState.COMPLETE] * 3
    assert ts[tid].state is TrialState.FAILED and "died" in ts[tid].info["failure"]
    assert nxt.trial_id == tid + 1


def test_unsupported_url_and_missing_directory():
    from protein.storage import open_backend

    with pytest.raises(StorageError, match="unsupported storage URL"):
        open_backend("mysql://x")
    with pytest.raises(StorageError, match="does not exist"):
        open_backend("/no/such/dir/p.db")


def test_a_nan_intermediate_value_is_kept_as_nan(storage_url):
    s = Study.create(CFG, "s", storage_url)
    t = s.ask()
    s.report(t, 1, 0.5)
    s.report(t, 2, float("nan"))  # a diverging loss must not break the write
    steps = Study.load("s", storage_url).trial(t.trial_id).intermediate
    assert steps[0] == (1.0, 0.5, None) and steps[1].step == 2.0 and math.isnan(steps[1].value)


@pytest.mark.parametrize("backend", ["memory", "sql"])
def test_every_study_storage_keeps_the_protocol_and_starts_given_params(backend, tmp_path):
    from protein.errors import SpaceError
    from protein.storage.base import StudyStorage

    s = Study(CFG) if backend == "memory" else Study.create(CFG, "s", str(tmp_path / "s.db"))
    assert isinstance(s.storage, StudyStorage)
    t = s.start({"trainer": {"lr": 0.01, "bs": 32}}, worker="me", reason="baseline")
    assert t.params == {"trainer.lr": 0.01, "trainer.bs": 32} and t.info["reason"] == "baseline"
    s.heartbeat([t])
    assert s.storage.reassign(t.trial_id, "you").worker == "you"
    assert s.ask().trial_id == 1  # the optimizer counts the given trial as running
    with pytest.raises(SpaceError, match="trainer.bs"):
        s.start({"trainer.lr": 0.01, "trainer.bs": 33})


def _racer(url: str, score: float, rounds: int, barrier, results) -> None:  # noqa: ANN001
    s = Study.load("race", url)
    for i in range(rounds):
        barrier.wait(timeout=60)
        try:
            s.tell(i, score)
            results.put((i, score, "ok"))
        except TrialError as e:
            results.put((i, score, "refused" if "refusing to change" in str(e) else str(e)))


@pytest.mark.slow
def test_two_concurrent_tells_of_different_results_one_wins_one_is_refused(storage_url):
    import multiprocessing as mp

    rounds = 12
    st = Study.create(CFG, "race", storage_url)
    for _ in range(rounds):
        st.ask()
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_racer, args=(storage_url, s, rounds, barrier, results))
             for s in (1.0, 2.0)]
    for p in procs:
        p.start()
    got = [results.get(timeout=120) for _ in range(2 * rounds)]
    for p in procs:
        p.join(timeout=60)
    for i in range(rounds):
        mine = sorted(r[2] for r in got if r[0] == i)
        assert mine == ["ok", "refused"], (i, mine)
        winner = next(r[1] for r in got if r[0] == i and r[2] == "ok")
        assert st.trial(i).score == winner


def _opener(url: str, barrier, results) -> None:  # noqa: ANN001
    from protein.storage import open_backend

    barrier.wait(timeout=60)
    try:
        open_backend(url).study_names()
        results.put("ok")
    except Exception as e:  # noqa: BLE001 - reported to the test
        results.put(f"{type(e).__name__}: {e}")


@pytest.mark.slow
def test_eight_processes_opening_a_fresh_database_at_once_all_succeed(storage_url):
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_opener, args=(storage_url, barrier, results)) for _ in range(8)]
    for p in procs:
        p.start()
    got = [results.get(timeout=120) for _ in range(8)]
    for p in procs:
        p.join(timeout=60)
    assert got == ["ok"] * 8, got


def test_a_full_disk_fails_the_call_with_disk_full_and_loses_nothing(tmp_path):
    s = Study.create(CFG, "s", str(tmp_path / "s.db"))
    for _ in range(3):
        t = s.ask()
        s.tell(t, loss(t.params))
    backend = s.storage.backend
    pages = backend.conn.execute("PRAGMA page_count").fetchone()[0]
    backend.conn.execute(f"PRAGMA max_page_count = {pages}")  # as full as a full disk
    with pytest.raises(StorageError, match="the disk is full") as e:
        for _ in range(200):
            s.ask()
    assert "rollback" not in str(e.value)
    backend.conn.execute("PRAGMA max_page_count = 1073741823")
    again = Study.load("s", str(tmp_path / "s.db"))
    assert [t.state for t in again.trials()][:3] == [TrialState.COMPLETE] * 3


def test_unusable_storage_and_report_paths_are_one_line_errors(tmp_path):
    from _cli import protein

    cfg = tmp_path / "s.yaml"
    cfg.write_text("metric: loss\ngoal: minimize\nparameters:\n"
                   "  x: {distribution: uniform, min: 0, max: 1}\n")
    r = protein("init", str(cfg), "--storage", "/dev/null", cwd=tmp_path, check=False)
    assert r.returncode == 2 and "not a regular file" in r.stderr
    protein("init", str(cfg), cwd=tmp_path)
    s = Study.load("s", str(tmp_path / "protein.db"))
    s.tell(s.ask(), 0.5)
    (tmp_path / "afile").write_text("x")
    for out, says in (("afile", "a file of that name exists"),
                      ("/proc/no/report", "cannot write the report")):
        r = protein("report", "--out", out, "--no-plots", cwd=tmp_path, check=False)
        assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("column,value,says", [
    ("params", "{not json", "trial 0: the stored row is damaged"),
    ("state", "bogus", "trial 0: the stored row is damaged"),
    ("info", "[1, 2]", "trial 0: the stored row is damaged"),
    ("score", "'high'", "trial 0: the stored row is damaged"),
])
def test_a_hand_edited_row_is_a_clear_error_not_a_traceback(storage_url, column, value, says):
    from _cli import protein

    s = Study.create(CFG, "s", storage_url)
    s.tell(s.ask(), 1.0)
    backend = s.storage.backend
    if column == "score" and "postgresql" in storage_url:  # a typed column: damage it otherwise
        column, value = "params", "[]"
    v = value if column == "score" else "'" + value.replace("'", "''") + "'"
    backend._execute(f"UPDATE trials SET {column} = {v} WHERE trial_id = 0")
    r = protein("trials", "--storage", storage_url, check=False)
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr


V1_SCHEMA = """
CREATE TABLE protein_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE studies (name TEXT PRIMARY KEY, config TEXT NOT NULL, seed INTEGER NOT NULL,
    lease_s {r} NOT NULL, on_expire TEXT NOT NULL, created_at {r} NOT NULL);
CREATE TABLE trials (study TEXT NOT NULL REFERENCES studies(name) ON DELETE CASCADE,
    trial_id INTEGER NOT NULL, state TEXT NOT NULL, params TEXT NOT NULL, score {r}, cost {r},
    info TEXT NOT NULL, worker TEXT, created_at {r} NOT NULL, finished_at {r},
    heartbeat_at {r}, PRIMARY KEY (study, trial_id));
CREATE TABLE intermediate (study TEXT NOT NULL, trial_id INTEGER NOT NULL, step {r} NOT NULL,
    value {r}, PRIMARY KEY (study, trial_id, step),
    FOREIGN KEY (study, trial_id) REFERENCES trials(study, trial_id) ON DELETE CASCADE);
INSERT INTO protein_meta VALUES ('schema_version', '1');
"""


def _raw_sql(url: str, script: str, rows: list[tuple[str, tuple]]) -> None:
    """Write a database by hand, as the first released Protein (schema version 1) did."""
    if url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            for stmt in script.format(r="DOUBLE PRECISION").split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            for sql, args in rows:
                conn.execute(sql.replace("?", "%s"), args)
    else:
        import sqlite3

        conn = sqlite3.connect(url)
        conn.executescript(script.format(r="REAL"))
        for sql, args in rows:
            conn.execute(sql, args)
        conn.commit()
        conn.close()


def test_a_version_1_database_opens_upgrades_in_place_and_goes_on(storage_url):
    import json

    from protein.config import load_config
    from protein.storage import open_backend
    from protein.storage.sql import SCHEMA_VERSION

    cfg = json.dumps(load_config(CFG).to_dict())
    now = time.time()
    ins = "INSERT INTO trials VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    _raw_sql(storage_url, V1_SCHEMA, [
        ("INSERT INTO studies VALUES (?, ?, ?, ?, ?, ?)", ("old", cfg, 3, 86400.0, "fail", now)),
        (ins, ("old", 0, "complete", '{"trainer.lr": 0.01, "trainer.bs": 32}', 0.5, 2.0,
               '{"reason": "center"}', "h:1", now, now, now)),
        (ins, ("old", 1, "running", '{"trainer.lr": 0.001, "trainer.bs": 64}', None, None,
               '{"reason": "sobol"}', "remote:7", now, None, now)),
        ("INSERT INTO intermediate VALUES (?, ?, ?, ?)", ("old", 1, 10.0, 0.9)),
    ])
    s = Study.load("old", storage_url)
    ts = s.trials()
    assert [(t.trial_id, t.state, t.score) for t in ts] == [
        (0, TrialState.COMPLETE, 0.5), (1, TrialState.RUNNING, None)]
    assert ts[1].intermediate == ((10.0, 0.9, None),) and s.seed == 3
    s.report(1, 20.0, 0.7)
    s.tell(1, 0.4, cost=1.0)
    t = s.ask()
    assert t.trial_id == 2
    backend = open_backend(storage_url)  # a second process's view, after the upgrade
    assert backend._execute(backend._sql("SELECT value FROM protein_meta WHERE key = ?"),
                            ("schema_version",))[0][0] == str(SCHEMA_VERSION)
    again = Study.load("old", storage_url).trials()
    assert [t.state for t in again] == [TrialState.COMPLETE, TrialState.COMPLETE,
                                        TrialState.RUNNING]
    assert again[1].intermediate == ((10.0, 0.9, None), (20.0, 0.7, None))


def test_a_version_2_database_gains_the_spend_of_intermediate_values_in_place(storage_url):
    """Version 2 stored intermediate values without the cost spent when each was reported:
    made here from a current database by dropping that column, as version 2 wrote it."""
    from protein.storage import open_backend
    from protein.storage.sql import SCHEMA_VERSION

    s = Study.create(CFG, "v2", storage_url)
    t = s.ask()
    s.report(t, 1.0, 0.5)
    s.report(t, 2.0, 0.6)
    s.tell(t, 0.6, cost=2.0)
    running = s.ask()
    s.report(running, 1.0, 0.4)
    backend = open_backend(storage_url)
    backend._execute("ALTER TABLE intermediate DROP COLUMN cost")
    backend._execute("ALTER TABLE asks DROP COLUMN held")  # added by version 4
    backend._execute(backend._sql("UPDATE protein_meta SET value = ? WHERE key = ?"),
                     ("2", "schema_version"))
    backend.close()

    again = Study.load("v2", storage_url)  # a new process opens the version 2 file
    got = {x.trial_id: x for x in again.trials()}
    assert got[t.trial_id].intermediate == ((1.0, 0.5, None), (2.0, 0.6, None))
    again.report(running, 2.0, 0.45, cost=200.0)  # reports go on, now with their spend
    assert again.trial(running.trial_id).intermediate == ((1.0, 0.4, None), (2.0, 0.45, 200.0))
    check = open_backend(storage_url)
    assert check._execute(check._sql("SELECT value FROM protein_meta WHERE key = ?"),
                          ("schema_version",))[0][0] == str(SCHEMA_VERSION) == "4"
    Study.load("v2", storage_url).tell(running, 0.45, cost=200.0)  # and opens again unchanged
    assert len(Study.load("v2", storage_url).complete()) == 2


def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path):
    import sqlite3

    from protein.storage import open_backend

    path = tmp_path / "new.db"
    open_backend(str(path)).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE protein_meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(StorageError, match="schema version 99 is newer.*upgrade protein-hpo"):
        open_backend(str(path))


def test_incremental_reads_see_every_change_another_process_makes(storage_url):
    """A reader keeps what it read and fetches only changed rows; it must still see new
    trials, tells, progress, heartbeats, an expiry that fails a trial, one that hands a
    trial out again, and a study deleted and made again under the same name."""
    from protein.storage import open_backend

    writer = Study.create(CFG, "inc", storage_url, lease_s=0.3, on_expire="retry")
    reader = Study.load("inc", open_backend(storage_url))  # its own connection and cache
    assert reader.trials() == []
    a, b = writer.ask(n=2, worker="remote:1", held=False)  # run by another process
    assert [t.trial_id for t in reader.trials()] == [0, 1]
    writer.report(a, 1.0, 3.0)
    writer.tell(a, 1.5, cost=2.0)
    seen = {t.trial_id: t for t in reader.trials()}
    assert seen[0].state is TrialState.COMPLETE and seen[0].intermediate == ((1.0, 3.0, None),)
    before = seen[1].heartbeat_at
    time.sleep(0.05)
    writer.heartbeat([b])
    assert reader.trials()[1].heartbeat_at > before
    time.sleep(0.5)  # b's lease runs out; the next ask hands it to another worker
    again = writer.ask(worker="remote:2")
    assert again.trial_id == 1
    got = reader.trials()[1]
    assert got.state is TrialState.RUNNING and got.worker == "remote:2" and got.info["retries"] == 1
    writer.tell(again, 0.5)
    assert [t.state for t in reader.trials()] == [TrialState.COMPLETE] * 2
    writer.storage.backend.delete_study("inc")
    assert reader.trials() == []
    fresh = Study.create(CFG, "inc", storage_url)
    fresh.tell(fresh.ask(), 9.0)
    assert [(t.trial_id, t.score) for t in reader.trials()] == [(0, 9.0)]


def test_a_lease_expiry_says_lease_expired_and_a_late_result_is_still_kept(storage_url):
    s = Study.create(CFG, "late", storage_url, lease_s=0.2, on_expire="fail")
    t = s.ask(worker="other-host:cli", held=False)
    time.sleep(0.4)
    s.ask()  # expires t
    failed = s.trial(t.trial_id)
    assert failed.state is TrialState.FAILED
    assert failed.info["failure"].startswith("expired: lease expired: no heartbeat from "
                                             "other-host:cli for")
    done = s.tell(t, 0.25, cost=3.0)  # the worker was only slow: its result counts
    assert (done.state, done.score, done.cost) == (TrialState.COMPLETE, 0.25, 3.0)
    assert "failure" not in done.info and done.info["expired_before"].startswith("expired")
    with pytest.raises(TrialError, match="already complete"):
        s.tell(t, 0.3)


GP_CFG = {**CFG, "settings": {"num_random_samples": 3}}


def test_asks_waiting_on_a_fit_are_served_by_one_batch_distinct_and_deterministic(storage_url):
    from protein.optimizer import suggest_config
    from protein.process import worker_name

    s = Study.create(GP_CFG, "batch", storage_url, seed=5)
    for _ in range(6):
        t = s.ask()
        s.tell(t, loss(t.params))
    history = s.trials()
    # three workers queued while another ask held the lock (this process stands in for them)
    queued = [s.storage.enqueue(worker_name(), f"w{i}", 1, None, False, None) for i in (1, 2, 3)]
    mine = s.ask(worker="w0")
    answers = [s.storage.answer_of(r.request_id) for r in queued]
    ids = [a.trial_ids[0] for a in answers] + [mine.trial_id]
    assert ids == [6, 7, 8, 9]  # oldest request first; the asker's own last
    made = [s.trial(i) for i in ids]
    assert [t.worker for t in made] == ["w1", "w2", "w3", "w0"]
    assert all(t.info["batch"] == 4 and t.info["reason"] == "gp" for t in made)
    expected = suggest_config(s.config, history, seed=5, n=4)  # one fit, four picks
    assert [t.params for t in made] == [e.params for e in expected]
    assert len({tuple(sorted(t.params.items())) for t in made}) == 4
    for r in queued:
        s.storage.withdraw(r.request_id)
    assert s.storage.waiting() == []


ASKER = textwrap.dedent("""
    import json, sys, time
    from protein.study import Study
    import protein.optimizer.single  # warm: measure the wait for the fit, not the imports
    url, start = sys.argv[1], float(sys.argv[2])
    s = Study.load("crowd", url)
    time.sleep(max(0.0, start - time.time()))
    t0 = time.time()
    t = s.ask()
    print(json.dumps({"trial": t.trial_id, "batch": t.info.get("batch", 1),
                      "wait": time.time() - t0}))
""")


@pytest.mark.slow
def test_many_processes_asking_a_gp_study_at_once_share_fits(storage_url, tmp_path):
    s = Study.create(GP_CFG, "crowd", storage_url)
    for _ in range(8):
        t = s.ask()
        s.tell(t, loss(t.params))
    script = tmp_path / "asker.py"
    script.write_text(ASKER)
    start = time.time() + 6.0
    procs = [subprocess.Popen([sys.executable, str(script), storage_url, str(start)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(8)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    got = [__import__("json").loads(o.strip().splitlines()[-1]) for o, _ in outs]
    assert sorted(g["trial"] for g in got) == list(range(8, 16))  # distinct, none lost
    assert max(g["batch"] for g in got) > 1  # some asks were served by another's fit
    assert len(s.trials()) == 16 and s.storage.waiting() == []


def test_an_ask_interrupted_while_waiting_leaves_no_trial_running_unseen(storage_url):
    # the waiter's request is served by another holder of the ask lock, then a signal ends
    # the waiter before it reads the answer: the trial made for it must not stay running
    holder = Study.create(CFG, "stray", storage_url)
    waiter = Study.load("stray", storage_url)
    lock = waiter.storage.lock

    def served_then_interrupted():
        waiter.storage.lock = lock
        holder.ask()  # serves every waiting request, the waiter's too
        raise KeyboardInterrupt  # SIGTERM while waiting for the lock

    waiter.storage.lock = served_then_interrupted
    with pytest.raises(KeyboardInterrupt):
        waiter.ask(worker="waiter")
    ts = holder.trials()
    assert len(ts) == 2
    running = [t for t in ts if t.state is TrialState.RUNNING]
    assert len(running) == 1 and running[0].worker != "waiter"
    stray = next(t for t in ts if t.worker == "waiter")
    assert stray.state is TrialState.FAILED
    assert stray.info["failure"].startswith("expired: the ask was interrupted")
    assert holder.storage.waiting() == []


CREATE = textwrap.dedent("""
    import json, sys, time
    from protein.study import Study
    url, at = sys.argv[1], float(sys.argv[2])
    time.sleep(max(0.0, at - time.time()))  # all start together
    Study.create(json.loads(sys.argv[3]), "together", url)
    print("ok")
""")


@pytest.mark.slow
def test_processes_creating_the_same_study_at_once_all_get_it(storage_url, tmp_path):
    script = tmp_path / "create.py"
    script.write_text(CREATE)
    import json
    at = time.time() + 3.0
    procs = [subprocess.Popen([sys.executable, str(script), storage_url, str(at), json.dumps(CFG)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(12)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 12, [e for _, e in outs if e][:1]
    assert Study.load("together", storage_url).config.metric == "loss"


def test_reading_a_study_never_waits_behind_another_processs_write(tmp_path):
    import sqlite3

    db = tmp_path / "study.db"
    s = Study.create(CFG, "busy", str(db))
    s.tell(s.ask(), 0.5)
    writer = sqlite3.connect(str(db), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock (a long fit)
    try:
        r = subprocess.run([sys.executable, "-m", "protein", "trials", "--study", "busy",
                            "--storage", str(db)], capture_output=True, text=True, timeout=60,
                           cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert r.returncode == 0, r.stderr
    assert '"state": "complete"' in r.stdout


@pytest.fixture
def small_disk(tmp_path):
    """A 512 KiB tmpfs of its own (needs root, as in CI)."""
    d = tmp_path / "small"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(d)],
                       capture_output=True, text=True)
    if r.returncode != 0:  # not root, or a container without mounts
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield d
    subprocess.run(["umount", "-l", str(d)], capture_output=True)


def test_a_full_disk_says_so_and_a_full_or_read_only_disk_still_reads(small_disk):
    db = small_disk / "study.db"
    s = Study.create(CFG, "s", str(db))
    for _ in range(3):
        s.tell(s.ask(), 0.5)
    try:
        with open(small_disk / "filler", "wb") as f:
            while True:
                f.write(b"x" * 4096)
    except OSError:
        pass  # the disk is full
    with pytest.raises(StorageError, match="the disk is full"):
        for _ in range(50):
            s.tell(s.ask(), 0.5)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    trials = [sys.executable, "-m", "protein", "trials", "--study", "s", "--storage", str(db)]
    r = subprocess.run(trials, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and r.stdout.count('"complete"') >= 3, r.stderr
    s.storage.backend.close()  # a file open for writing keeps a mount writable
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    r = subprocess.run(trials, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and r.stdout.count('"complete"') >= 3, r.stderr


def test_a_write_lock_held_past_the_busy_timeout_says_what_it_waited_for(tmp_path, monkeypatch):
    import sqlite3

    import protein.storage.sqlite as backend

    db = tmp_path / "study.db"
    Study.create(CFG, "s", str(db))
    monkeypatch.setattr(backend, "BUSY_TIMEOUT_S", 0.5)
    s = Study.load("s", str(db))
    writer = sqlite3.connect(str(db), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageError, match="another process has held the database's write "
                                               "lock for over 0s"):
            s.ask()
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_trials_values_and_metrics_have_one_home(storage_url):
    cfg = {"metrics": {"acc": "maximize", "mem": "minimize"}, "parameters": CFG["parameters"]}
    s = Study.create(cfg, "vals", storage_url)
    t = s.tell(s.ask(), {"acc": 0.9, "mem": 3.0}, cost=1.0, metrics={"seconds": 12.0})
    again = Study.load("vals", storage_url).trial(t.trial_id)
    assert again.values == {"acc": 0.9, "mem": 3.0} and again.metrics == {"seconds": 12.0}
    assert again.reported == {"acc": 0.9, "mem": 3.0, "seconds": 12.0} and again.score == 0.9
    one = Study.create(CFG, "one", storage_url)
    u = one.tell(one.ask(), 0.5)
    assert u.values == {} and u.metrics == {} and u.score == 0.5
