"""Reports from a real sweep: every file and plot, W&B offline runs, verify and compare."""

from __future__ import annotations

import csv
import json
import os
import shlex
import subprocess
import sys
import textwrap

import pytest
import yaml

from _cli import ROOT, protein

CONFIG = textwrap.dedent("""\
    rollout_count: 3
    num_samples: 2
    sweep:
      metric: score
      goal: maximize
      settings: {num_random_samples: 3}
      parameters:
        trainer.learning_rate: {distribution: log_normal, min: 1e-3, max: 3e-2}
        trainer.width: {distribution: uniform_pow2, min: 16, max: 64}
        trainer.epochs: {distribution: int_uniform, min: 1, max: 2}
      trainer: {depth: 1}
    """)




@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep")
    (d / "sweep.yaml").write_text(CONFIG)
    protein("run", "sweep.yaml", "--trainer", "trainers.digits", "--workers", "2",
            "--device", "cpu", cwd=d)
    return d


@pytest.mark.slow
def test_report_writes_every_file(sweep):
    r = protein("report", "--study", "sweep", "--out", "rep", cwd=sweep)
    rep = sweep / "rep"
    names = {p.name for p in rep.iterdir()}
    assert {"results.csv", "topk.json", "best_config.yaml", "SUMMARY.md", "history.png",
            "pareto.png", "parameters.png", "score_distribution.png", "learning_curves.png"} <= names
    rows = list(csv.DictReader(open(rep / "results.csv")))
    assert len(rows) == 6 and {"trial", "state", "score", "cost", "trainer.learning_rate",
                               "reason", "worker", "seconds"} <= set(rows[0])
    top = json.loads((rep / "topk.json").read_text())
    assert [t["rank"] for t in top] == list(range(1, len(top) + 1))
    assert [t["score"] for t in top] == sorted((t["score"] for t in top), reverse=True)
    best_text = (rep / "best_config.yaml").read_text()
    best = yaml.safe_load(best_text)
    assert best["trainer"]["depth"] == 1 and "learning_rate" in best["trainer"]
    cmd = next(line for line in best_text.splitlines() if line.startswith("# Reproduce: "))
    assert "python -m trainers.digits" in cmd and "--trainer.depth=1" in cmd
    summary = (rep / "SUMMARY.md").read_text()
    for section in ("## Search space", "## Best", "## Best per rollout", "## Cost-score Pareto front",
                    "## How trials were chosen", "## Plots", "importance"):
        assert section in summary
    for png in rep.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "rep/SUMMARY.md" in r.stdout.splitlines()


@pytest.mark.slow
def test_the_reproduce_command_reproduces_the_best_score(sweep):
    best_text = (sweep / "rep" / "best_config.yaml").read_text() if (sweep / "rep").exists() else None
    if best_text is None:
        protein("report", "--study", "sweep", "--out", "rep", cwd=sweep)
        best_text = (sweep / "rep" / "best_config.yaml").read_text()
    cmd = next(line for line in best_text.splitlines() if line.startswith("# Reproduce: "))
    score = float(best_text.splitlines()[0].rsplit("=", 1)[1])
    argv = shlex.split(cmd[len("# Reproduce: "):]) + ["--device=cpu"]
    assert argv[0] == "python"  # as printed for users; run with this environment's interpreter
    out = subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1])["score"] == pytest.approx(score)


@pytest.mark.slow
def test_verify_reruns_the_best_with_other_seeds(sweep):
    r = protein("verify", "--study", "sweep", "--seeds", "2", "--device", "cpu", cwd=sweep)
    out = json.loads(r.stdout)
    assert out["seeds"] == 2 and len(out["scores"]) == 2 and out["original"] is not None
    assert min(out["scores"]) <= out["mean"] <= max(out["scores"])


@pytest.mark.slow
def test_compare_puts_studies_side_by_side(sweep):
    cfg = sweep / "random.yaml"
    cfg.write_text(CONFIG.replace("goal: maximize", "goal: maximize\n  method: random"))
    protein("run", "random.yaml", "--trainer", "trainers.digits", "--device", "cpu", cwd=sweep)
    r = protein("compare", "sweep", "random", "--format", "json", cwd=sweep)
    rows = json.loads(r.stdout)
    assert [x["study"] for x in rows] == ["sweep", "random"]
    assert all(x["trials"] == 6 and x["failed"] == 0 and x["cost_to_best"] <= x["total_cost"]
               for x in rows)
    assert rows[1]["complete"] == 6  # a random sweep runs every trial in full by default
    assert rows[1]["std"] > 0 and min(rows[1]["mean"], rows[1]["median"]) <= rows[1]["best"]
    table = protein("compare", "sweep", "random", "--format", "table", cwd=sweep).stdout
    assert table.splitlines()[0].split()[-3:] == ["median", "mean", "std"]


@pytest.mark.slow
def test_wandb_offline_runs_are_written(sweep, tmp_path):
    env = {"WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path), "WANDB_SILENT": "true"}
    protein("report", "--study", "sweep", "--out", str(tmp_path / "rep"), "--no-plots",
            "--wandb-project", "protein-test", cwd=sweep, env=env)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 7  # six trials and the summary
    assert all(list(r.glob("*.wandb")) for r in runs)


def test_wandb_missing_says_how_to_install(tmp_path):
    code = textwrap.dedent("""
        import sys
        sys.modules["wandb"] = None
        from protein.integrations.wandb import WandbCallback
        try:
            WandbCallback("p")
        except Exception as e:
            print(type(e).__name__, e)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "MissingDependencyError" in r.stdout and "pip install 'protein-hpo[wandb]'" in r.stdout


def test_a_value_with_a_newline_stays_out_of_best_configs_comments(tmp_path):
    from protein.report import write_report
    from protein.study import Study

    prompt = "Answer briefly.\nmodel: evil"
    s = Study({"goal": "maximize", "metric": "score", "method": "random", "parameters": {
        "prompt": {"distribution": "categorical", "values": [prompt, "plain"]}}})
    t = s.start({"prompt": prompt})
    s.tell(t, 1.0)
    write_report(s, tmp_path, plots=False)
    text = (tmp_path / "best_config.yaml").read_text()
    assert yaml.safe_load(text) == {"prompt": prompt}
    assert all(line.startswith("# ") for line in text.splitlines()[:3])


def test_topk_ranks_complete_trials_before_pruned_ones(tmp_path):
    import json

    from protein.report import write_report
    from protein.study import Study

    s = Study({"goal": "minimize", "metric": "loss", "method": "random", "parameters": {
        "x": {"distribution": "uniform", "min": 0, "max": 1}}})
    for x, loss, pruned in [(0.1, 3.2, False), (0.2, 2.9, False), (0.3, 0.9, True),
                            (0.4, 0.8, True)]:
        t = s.start({"x": x})
        s.report(t, 300, loss)
        s.tell(t, loss, pruned=pruned)
    write_report(s, tmp_path, plots=False)
    top = json.loads((tmp_path / "topk.json").read_text())
    assert [t["state"] for t in top] == ["complete", "complete", "pruned", "pruned"]
    assert [t["score"] for t in top] == [2.9, 3.2, 0.8, 0.9]


def test_a_reported_metric_named_like_a_column_or_parameter_is_qualified(tmp_path):
    import csv

    from _cli import protein as cli
    from protein.report import write_report
    from protein.study import Study

    db = tmp_path / "s.db"
    s = Study.create({"goal": "maximize", "metric": "score", "method": "random", "parameters": {
        "trainer.epochs": {"distribution": "int_uniform", "min": 1, "max": 9}}}, "s", str(db))
    t = s.ask()
    s.tell(t, 1.0, metrics={"seconds": 12.0, "epochs": 3.0})
    write_report(s, tmp_path / "rep", plots=False)
    head = next(csv.reader(open(tmp_path / "rep" / "results.csv")))
    assert len(head) == len(set(head)) and "metrics.seconds" in head
    table = cli("trials", "--study", "s", "--storage", str(db), "--format", "table").stdout
    header = table.splitlines()[0].split()
    assert "metrics.epochs" in header and header.count("epochs") == 1


def test_trials_dataframe_has_a_row_per_trial_with_flattened_params_and_metrics():
    from protein.study import Study

    s = Study({"goal": "maximize", "metric": "score", "method": "random", "parameters": {
        "trainer.lr": {"distribution": "log_normal", "min": 1e-4, "max": 1e-1}}})
    a = s.ask()
    s.tell(a, 0.5, cost=2.0, metrics={"success_rate": 0.25})
    b = s.ask()
    s.report(b, 10, 0.3)
    df = s.trials_dataframe()
    assert list(df["number"]) == [0, 1] and list(df["state"]) == ["complete", "running"]
    assert df.loc[0, "value"] == 0.5 and df.loc[0, "metrics_success_rate"] == 0.25
    assert df.loc[0, "params_trainer.lr"] == a.params["trainer.lr"]
    assert df.loc[0, "duration"].total_seconds() >= 0
    assert df.loc[1, "last_step"] == 10 and df.loc[1, "last_value"] == 0.3


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["flags", "hydra", "json", "env"])
def test_the_reproduce_line_reruns_the_best_trial_in_every_pass_mode(mode, tmp_path):
    import subprocess
    import sys

    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""\
        import json, os, sys
        mode = os.environ["MODE"]  # read the params only the way this mode hands them over
        if mode == "json":
            p = json.load(open(os.environ["PROTEIN_PARAMS_FILE"]))
            assert sys.argv[-1] == os.environ["PROTEIN_PARAMS_FILE"]
            lr, seed = p["trainer"]["learning_rate"], p["seed"]
        elif mode == "env":
            assert len(sys.argv) == 1
            lr, seed = float(os.environ["TRAINER_LEARNING_RATE"]), int(os.environ["SEED"])
        else:
            a = dict(x.lstrip("-").split("=", 1) for x in sys.argv[1:])
            assert all(x.startswith("--") == (mode == "flags") for x in sys.argv[1:])
            lr, seed = float(a["trainer.learning_rate"]), int(a["seed"])
        assert seed == int(os.environ["PROTEIN_SEED"])
        print(json.dumps({"score": round(lr * 1000 + seed, 6)}))
        """))
    (tmp_path / "s.yaml").write_text(CONFIG.replace("goal: maximize",
                                                    "goal: maximize\n  method: random"))
    protein("run", "s.yaml", "--command", f"{sys.executable} {script}", "--pass", mode,
            "--max-trials", "2", cwd=tmp_path, env={"MODE": mode})
    protein("report", "--study", "s", "--out", "rep", "--no-plots", cwd=tmp_path)
    text = (tmp_path / "rep" / "best_config.yaml").read_text()
    line = next(x for x in text.splitlines() if x.startswith("# Reproduce: "))[len("# Reproduce: "):]
    out = subprocess.run(["bash", "-c", line], capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, "MODE": mode})
    assert out.returncode == 0, (line, out.stderr)
    from protein.study import Study

    best = Study.load("s", str(tmp_path / "protein.db")).best()
    assert json.loads(out.stdout.splitlines()[-1])["score"] == best.score
