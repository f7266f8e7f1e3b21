"""The study CLI driven from bash, as users do: init, then ask | train | tell loops."""

from __future__ import annotations

import json
import os
import sys
import subprocess
import textwrap
from pathlib import Path

import pytest
from _cli import Result, protein

from protein.study import Study

CONFIG = textwrap.dedent("""\
    rollout_count: 4
    num_samples: 4
    sweep:
      goal: minimize
      metric: loss
      method: random
      parameters:
        trainer.lr: {distribution: log_normal, min: 1e-4, max: 1e-1}
        trainer.bs: {distribution: uniform_pow2, min: 16, max: 256}
        trainer.act: {values: [relu, tanh]}
      trainer: {epochs: 2}
    """)


def cli(*args: str, storage: str, check: bool = True) -> Result:
    return protein(*args, env={"PROTEIN_STORAGE": storage}, check=check)


@pytest.fixture
def study(tmp_path, storage_url):
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(CONFIG)
    cli("init", str(cfg), "--study", "s", storage=storage_url)
    return storage_url


def test_ask_formats(study):
    out = json.loads(cli("ask", "--study", "s", storage=study).stdout)
    assert set(out) >= {"trial", "params", "config"}
    assert set(out["params"]["trainer"]) == {"lr", "bs", "act"}
    assert out["config"]["trainer"]["epochs"] == 2
    line = cli("ask", "--study", "s", "--format", "flags", storage=study).stdout.split()
    assert line[0] == "1" and "--trainer.epochs=2" in line
    assert any(a.startswith("--trainer.lr=") for a in line)
    hydra = cli("ask", "--study", "s", "--format", "hydra", storage=study).stdout.split()
    assert hydra[0] == "2" and "trainer.epochs=2" in hydra
    env = cli("ask", "--study", "s", "--format", "env", storage=study).stdout
    assert "export PROTEIN_TRIAL=3" in env and "export TRAINER_EPOCHS=2" in env
    many = json.loads(cli("ask", "--study", "s", "--count", "3", storage=study).stdout)
    assert [m["trial"] for m in many] == [4, 5, 6]


def test_errors_are_one_line(study):
    r = cli("tell", "--study", "s", "--trial", "7", "--score", "1", storage=study, check=False)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no such trial" in r.stderr
    r = cli("ask", "--study", "missing", storage=study, check=False)
    assert r.returncode == 2 and "no study 'missing'" in r.stderr
    r = cli("tell", "--study", "s", "--trial", "0", storage=study, check=False)
    assert r.returncode == 2 and "Traceback" not in r.stderr


LOOP = textwrap.dedent("""\
    set -euo pipefail
    for i in 1 2; do
      read -r trial args <<< "$("$PY" -m protein ask --study s --format flags)"
      lr=$(printf '%s\\n' $args | sed -n 's/^--trainer.lr=//p')
      loss=$("$PY" -c "import math; print((math.log10($lr) + 2) ** 2)")
      "$PY" -m protein tell --study s --trial "$trial" --score "$loss" --cost 1.5 > /dev/null
    done
    """)


@pytest.mark.slow
def test_eight_parallel_bash_workers_account_for_every_trial(study, tmp_path):
    script = tmp_path / "worker.sh"
    script.write_text(LOOP)
    env = {**os.environ, "PROTEIN_STORAGE": study, "PY": sys.executable}
    procs = [subprocess.Popen(["bash", str(script)], env=env, stderr=subprocess.PIPE, text=True)
             for _ in range(8)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    trials = json.loads(cli("trials", "--study", "s", storage=study).stdout)
    assert [t["trial"] for t in trials] == list(range(16))
    assert all(t["state"] == "complete" and t["cost"] == 1.5 for t in trials)
    best = json.loads(cli("best", "--study", "s", storage=study).stdout)
    assert best["score"] == min(t["score"] for t in trials)
    summary = cli("summary", "--study", "s", storage=study).stdout
    assert "OVERALL BEST RUN: trial" in summary and "Rollout 3: 4 runs" in summary
    assert max(len(line) for line in summary.splitlines()) <= 80
    front = json.loads(cli("pareto", "--study", "s", storage=study).stdout)
    assert len(front) == 1 and front[0]["trial"] == best["trial"]
    studies = json.loads(cli("studies", storage=study).stdout)
    assert studies[0]["study"] == "s" and studies[0]["complete"] == 16


@pytest.mark.slow
def test_progress_reports_and_answers_stop(study):
    for _ in range(6):
        t = json.loads(cli("ask", "--study", "s", storage=study).stdout)["trial"]
        for step in (1, 2, 3):
            cli("progress", "--study", "s", "--trial", str(t), "--step", str(step),
                "--value", str(1.0 / step), storage=study)
        cli("tell", "--study", "s", "--trial", str(t), "--score", "0.33", storage=study)
    t = json.loads(cli("ask", "--study", "s", storage=study).stdout)["trial"]
    bad = json.loads(cli("progress", "--study", "s", "--trial", str(t), "--step", "2",
                         "--value", "9.0", "--rule", "median", storage=study).stdout)
    good = json.loads(cli("progress", "--study", "s", "--trial", str(t), "--step", "3",
                          "--value", "0.1", storage=study).stdout)
    assert bad == {"trial": t, "stop": True, "rule": "median"}
    assert good["stop"] is False
    trials = json.loads(cli("trials", "--study", "s", "--state", "running", storage=study).stdout)
    assert [x["trial"] for x in trials] == [t]


@pytest.mark.slow
def test_progress_keeps_the_spend_and_the_curve_rule_says_why_it_stops(tmp_path, storage_url):
    cfg = tmp_path / "lm.yaml"
    cfg.write_text(textwrap.dedent("""\
        sweep:
          goal: minimize
          metric: val_loss
          settings: {num_random_samples: 3}
          parameters:
            trainer.lr: {distribution: log_normal, min: 1e-4, max: 1e-1}
            trainer.tokens: {distribution: uniform_pow2, min: 1024, max: 8192}
        """))
    cli("init", str(cfg), "--study", "lm", storage=storage_url)
    for final in (2.0, 1.6, 1.9, 1.7):  # loss curves falling to `final` over 4 reports
        ask = json.loads(cli("ask", "--study", "lm", storage=storage_url).stdout)
        for k in range(1, 5):  # each run spends 1000 (tokens, say), reported as it goes
            cli("progress", "--study", "lm", "--trial", str(ask["trial"]), "--step", str(k),
                "--value", str(final + 2.0 / k - 0.5), "--cost", str(250 * k),
                storage=storage_url)
        cli("tell", "--study", "lm", "--trial", str(ask["trial"]), "--score", str(final),
            "--cost", "1000", storage=storage_url)
    t = json.loads(cli("ask", "--study", "lm", storage=storage_url).stdout)["trial"]
    out = [json.loads(cli("progress", "--study", "lm", "--trial", str(t), "--step", str(k),
                          "--value", "3.4", "--cost", str(200 * k), storage=storage_url).stdout)
           for k in range(1, 4)]
    stop = next(o for o in out if o["stop"])
    assert stop["rule"] == "curve" and stop["why"]["p_front"] < 0.05
    assert stop["why"]["predicted_final"] > stop["why"]["front"] >= 1.6  # a loss: lower wins
    rows = json.loads(cli("trials", "--study", "lm", "--format", "json", storage=storage_url).stdout)
    assert rows[t]["state"] == "running"  # the verdict is advice; the tell records the end
    bad = cli("progress", "--study", "lm", "--trial", str(t), "--step", "5", "--value", "3",
              "--cost", "-1", storage=storage_url, check=False)
    assert bad.returncode != 0 and "cost spent so far must be a finite number > 0" in bad.stderr


@pytest.mark.parametrize("name", ["../../escape", "/tmp/abs", "a/b", ".hidden", "x" * 129, "a b"])
def test_study_names_cannot_leave_their_folder(tmp_path, name):
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(CONFIG)
    db = str(tmp_path / "s.db")
    r = protein("init", str(cfg), "--study", name, "--storage", db, cwd=tmp_path, check=False)
    assert r.returncode == 2 and "letters, digits and _.@+-" in r.stderr
    r = protein("run", str(cfg), "--study", name, "--storage", db, "--command", "true",
                "--max-trials", "1", cwd=tmp_path, check=False)
    assert r.returncode == 2 and "letters, digits and _.@+-" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.yaml"]


def test_shell_mistakes_are_clear_and_create_nothing(tmp_path, study):
    # a command on a study where there is no database: an error, and no empty protein.db
    r = protein("ask", "--study", "s", cwd=tmp_path, check=False)
    assert r.returncode == 2 and "no study database at protein.db" in r.stderr
    assert not (tmp_path / "protein.db").exists()
    # a negative number after --score, as a shell user types it
    t = json.loads(cli("ask", "--study", "s", storage=study).stdout)["trial"]
    r = cli("tell", "--study", "s", "--trial", str(t), "--score", "-inf", storage=study)
    assert "recorded as failed" in r.stderr
    t = json.loads(cli("ask", "--study", "s", storage=study).stdout)["trial"]
    cli("tell", "--study", "s", "--trial", str(t), "--score", "-1e-3", storage=study)
    got = json.loads(cli("trials", "--study", "s", storage=study).stdout)
    assert got[-1]["score"] == -1e-3
    r = cli("ask", "--study", "s", "--count", "-3", storage=study, check=False)
    assert r.returncode == 2 and "--count must be >= 1" in r.stderr


@pytest.mark.slow
def test_the_readme_shell_recipe_passes_any_value_intact(tmp_path):
    values = ["a b", "it's \"quoted\"", "line1\nline2"]
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text("method: grid\nmetric: loss\ngoal: minimize\nseed_key: null\nparameters:\n"
                   f"  v: {{values: {json.dumps(values)}}}\n")
    (tmp_path / "train.py").write_text(
        "import json, sys\nopen('seen.jsonl', 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "print(len(sys.argv[1]))\n")
    script = tmp_path / "loop.sh"
    script.write_text(textwrap.dedent("""\
        set -euo pipefail
        "$PY" -m protein init sweep.yaml --study s
        for i in 1 2 3; do
          eval "set -- $("$PY" -m protein ask --study s --format flags)"
          trial=$1; shift
          loss=$("$PY" train.py "$@" | tail -n 1)
          "$PY" -m protein tell --study s --trial "$trial" --score "$loss"
        done
        """))
    r = subprocess.run(["bash", str(script)], cwd=tmp_path, capture_output=True, text=True,
                       env={**os.environ, "PY": sys.executable}, timeout=300)
    assert r.returncode == 0, r.stderr
    seen = [json.loads(line) for line in (tmp_path / "seen.jsonl").read_text().splitlines()]
    assert seen == [[f"--v={v}"] for v in values]


@pytest.mark.parametrize("method", ["random", "grid"])
def test_shell_commands_on_a_random_or_grid_study_import_nothing_heavy(tmp_path, method):
    # tell, progress, trials, best and a random- or grid-method ask: no torch, BoTorch, SciPy
    # or matplotlib on their paths, so each call answers at once
    cfg = tmp_path / "r.yaml"
    cfg.write_text(f"method: {method}\nmetric: loss\ngoal: minimize\nparameters:\n"
                   "  x: {distribution: uniform, min: 0, max: 1}\n")
    protein("init", str(cfg), "--storage", str(tmp_path / "r.db"), cwd=tmp_path)
    code = textwrap.dedent("""\
        import contextlib, io, sys
        from protein.cli import main
        db = sys.argv[1]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            for args in (["ask"], ["progress", "--trial", "0", "--step", "1", "--value", "0.5"],
                         ["tell", "--trial", "0", "--score", "0.5"], ["trials"], ["best"],
                         ["ask", "--count", "2"]):
                assert main([*args, "--storage", db]) == 0, args
        heavy = [m for m in ("torch", "botorch", "gpytorch", "scipy", "matplotlib") if m in sys.modules]
        print(heavy)
        """)
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r.db")], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_shell_asks_carry_a_lease_that_expires_as_lease_expired_and_keep_late_results(study):
    first = json.loads(cli("ask", "--study", "s", "--lease", "1s", storage=study).stdout)
    import time

    time.sleep(1.3)
    cli("ask", "--study", "s", "--lease", "6h", storage=study)  # the next ask expires the first
    rows = {r["trial"]: r for r in json.loads(
        cli("trials", "--study", "s", "--format", "json", storage=study).stdout)}
    failure = rows[first["trial"]]["info"]["failure"]
    assert failure.startswith("expired: lease expired: no heartbeat from") and "lease 1s" in failure
    assert rows[1]["state"] == "running"  # its own 6 h lease has not run out
    late = json.loads(cli("tell", "--study", "s", "--trial", str(first["trial"]), "--score", "0.3",
                          storage=study).stdout)
    assert late["state"] == "complete" and late["score"] == 0.3
    r = cli("ask", "--study", "s", "--lease", "soon", storage=study, check=False)
    assert r.returncode == 2 and "expected a duration" in r.stderr and "6h" in r.stderr


def test_a_repeat_ask_of_a_named_worker_gets_back_the_trial_it_never_told(study):
    a = json.loads(cli("ask", "--study", "s", "--worker", "gpu0", storage=study).stdout)
    again = cli("ask", "--study", "s", "--worker", "gpu0", storage=study)
    assert json.loads(again.stdout)["trial"] == a["trial"]
    assert "has not been told: handing it out again" in again.stderr
    other = json.loads(cli("ask", "--study", "s", "--worker", "gpu1", storage=study).stdout)
    assert other["trial"] != a["trial"]
    cli("tell", "--study", "s", "--trial", str(a["trial"]), "--score", "1", storage=study)
    new = json.loads(cli("ask", "--study", "s", "--worker", "gpu0", storage=study).stdout)
    assert new["trial"] not in (a["trial"], other["trial"])


def test_an_ask_stopped_before_it_printed_leaves_no_orphan(study, monkeypatch):
    import protein.cli.study as commands

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # SIGINT, or SIGTERM/SIGHUP (turned into this), mid-print

    monkeypatch.setattr(commands, "_print_trials", killed)
    r = cli("ask", "--study", "s", "--count", "2", storage=study, check=False)
    assert r.returncode == 130
    monkeypatch.undo()
    rows = json.loads(cli("trials", "--study", "s", "--format", "json", storage=study).stdout)
    assert [(x["state"], x["info"]["failure"].startswith("expired: protein ask was stopped"))
            for x in rows] == [("failed", True)] * 2


def test_tell_refuses_a_trial_id_too_large_and_a_metric_that_is_not_finite(study):
    r = cli("tell", "--study", "s", "--trial", "99999999999999999999", "--score", "1",
            storage=study, check=False)
    assert r.returncode == 2 and "expected a trial id" in r.stderr and "Traceback" not in r.stderr
    trial = json.loads(cli("ask", "--study", "s", storage=study).stdout)
    tid = str(trial["trial"] if "trial" in trial else trial["trial_id"])
    r = cli("tell", "--study", "s", "--trial", tid, "--score", "0.5", "--metric", "m=nan",
            storage=study, check=False)
    assert r.returncode == 2 and "metric m must be a finite number, got nan" in r.stderr
    cli("tell", "--study", "s", "--trial", tid, "--score", "0.5", "--metric", "m=0.25",
        storage=study)


def test_rename_and_delete_a_study_with_a_confirmation(study):
    t = json.loads(cli("ask", "--study", "s", storage=study).stdout)
    tid = str(t.get("trial", t.get("trial_id")))
    cli("progress", "--study", "s", "--trial", tid, "--step", "1", "--value", "0.3",
        storage=study)
    cli("tell", "--study", "s", "--trial", tid, "--score", "0.5", storage=study)
    r = cli("rename", "--study", "s", "s2", storage=study, check=False)
    assert r.returncode == 2 and "pass --yes to confirm" in r.stderr
    cli("rename", "--study", "s", "s2", "--yes", storage=study)
    moved = Study.load("s2", study).trials()
    assert [(x.trial_id, x.score, len(x.intermediate)) for x in moved] == [(int(tid), 0.5, 1)]
    cli("init", str(Path(__file__).parent.parent / "examples" / "digits.yaml"), "--study", "s",
        storage=study)
    r = cli("rename", "--study", "s2", "s", "--yes", storage=study, check=False)
    assert r.returncode == 2 and "a study named 's' already exists" in r.stderr
    r = cli("delete", "--study", "s2", storage=study, check=False)
    assert r.returncode == 2 and Study.load("s2", study).trials()
    cli("delete", "--study", "s2", "--yes", storage=study)
    names = json.loads(cli("studies", storage=study).stdout)
    assert [n["study"] for n in names] == ["s"]


def test_init_force_with_another_metric_is_refused_once_trials_are_scored(tmp_path, storage_url):
    acc = tmp_path / "acc.yaml"
    acc.write_text("metric: train/accuracy\ngoal: maximize\nmethod: random\nparameters:\n"
                   "  lr: {distribution: log_normal, min: 1.0e-4, max: 1.0e-1}\n")
    cli("init", str(acc), "--study", "S", storage=storage_url)
    t = json.loads(cli("ask", "--study", "S", storage=storage_url).stdout)
    tid = str(t.get("trial", t.get("trial_id")))
    cli("tell", "--study", "S", "--trial", tid, "--score", "0.6325", storage=storage_url)
    loss = tmp_path / "loss.yaml"
    loss.write_text(acc.read_text().replace("train/accuracy", "train/lm_loss")
                    .replace("maximize", "minimize"))
    r = cli("init", str(loss), "--study", "S", "--force", storage=storage_url, check=False)
    assert r.returncode == 2 and "scored by train/accuracy" in r.stderr
    assert f"trials {tid} did not report it" in r.stderr and "--study NEW_NAME" in r.stderr
    assert Study.load("S", storage_url).config.metric == "train/accuracy"
    # the same metric with other bounds is a config change --force may make
    wider = tmp_path / "wider.yaml"
    wider.write_text(acc.read_text().replace("max: 1.0e-1", "max: 0.5"))
    cli("init", str(wider), "--study", "S", "--force", storage=storage_url)


def test_the_trials_table_shows_where_running_trials_are(study):
    t = json.loads(cli("ask", "--study", "s", storage=study).stdout)
    tid = str(t.get("trial", t.get("trial_id")))
    cli("progress", "--study", "s", "--trial", tid, "--step", "300", "--value", "0.42",
        storage=study)
    out = cli("trials", "--study", "s", "--format", "table", storage=study).stdout
    assert "last step" in out.splitlines()[0] and "300" in out and "0.42" in out
