"""Each seed workflow (../shared/seeds), with its config as the document prints it, runs as a
sweep (examples/seeds/)."""

from __future__ import annotations

import pytest

import json
import sys

from protein.study import Study
from tests._cli import ROOT, protein

SEEDS = ROOT / "examples" / "seeds"
STUB = f"{sys.executable} {SEEDS / 'stub_train.py'}"
OFFLINE = {"WANDB_MODE": "offline", "WANDB_SILENT": "true"}


@pytest.mark.slow
def test_seed_000_conspec_one_study_per_environment(tmp_path):
    r = protein("run", str(SEEDS / "seed_000_conspec.yaml"), "--command", STUB, "--max-trials",
                "2", cwd=tmp_path, env={**OFFLINE, "WANDB_DIR": str(tmp_path)})
    assert "maximize 'mean_reward' (inferred from the metric's name" in r.stderr
    assert "W&B project 'schema-learning'" in r.stderr
    for env in ("single", "double", "triple"):
        study = Study.load(f"seed_000_conspec-{env}", str(tmp_path / "protein.db"))
        ts = study.trials()
        assert len(ts) == 2 and all(t.is_complete for t in ts)
        assert "success_rate" in ts[0].info["metrics"]
        assert study.config.fixed["environment"] == env
    assert (tmp_path / "wandb").exists()


@pytest.mark.slow
def test_seed_001_jepa_asha_with_smoothing_and_artifacts(tmp_path):
    protein("run", str(SEEDS / "seed_001_jepa.yaml"), "--command", STUB, "--max-trials", "8",
            "--early-stop", "asha", "--smooth", "3", "--workers", "2", cwd=tmp_path)
    ts = Study.load("seed_001_jepa", str(tmp_path / "protein.db")).trials()
    assert len(ts) == 8 and all(t.state.finished for t in ts)
    # no trial is stopped in its grace period or at its last step
    for t in ts:
        if t.state.value == "pruned":
            assert 2500 <= t.intermediate[-1][0] < 10000, t.info
    protein("report", "--out", "rep", "--no-plots", cwd=tmp_path)
    for f in ("results.csv", "topk.json", "best_config.yaml", "SUMMARY.md"):
        assert (tmp_path / "rep" / f).exists()
    assert "algo.jepa_proj_dim" in (tmp_path / "rep/SUMMARY.md").read_text()


@pytest.mark.slow
def test_seed_002_policy_gradient_tuples_reach_argparse(tmp_path):
    protein("run", str(SEEDS / "seed_002_policy_gradient.yaml"), "--command", STUB,
            "--max-trials", "4", "--workers", "2", cwd=tmp_path)
    ts = Study.load("seed_002_policy_gradient", str(tmp_path / "protein.db")).trials()
    assert len(ts) == 4 and all(t.is_complete for t in ts)
    argv = (tmp_path / "runs/seed_002_policy_gradient/trial_0000/params.yaml").read_text()
    assert "policy_hidden" in argv
    line = protein("ask", "--format", "flags", cwd=tmp_path).stdout
    assert "--policy_hidden" in line and "--device=cpu" in line


@pytest.mark.slow
def test_seed_003_metta_quick_sweep_on_the_cartpole_trainer(tmp_path):
    protein("run", str(SEEDS / "seed_003_metta.yaml"), "--trainer", "trainers.cartpole",
            cwd=tmp_path)
    r = protein("summary", cwd=tmp_path)
    assert "Rollout 2: 1 run" in r.stdout and "OVERALL BEST RUN" in r.stdout
    assert "total_timesteps: 2048" in r.stdout


@pytest.mark.slow
def test_seed_004_hrm_grid_with_hydra_overrides(tmp_path):
    # the stub's runs take ~0.1 s, so wall-time noise alone makes their costs differ 1.5x and
    # lets the cost rule judge; the HRM sweep reports no early stopping anyway
    r = protein("run", str(SEEDS / "seed_004_hrm.yaml"), "--command", STUB, "--pass", "hydra",
                "--early-stop", "none", cwd=tmp_path)
    assert "12 trials, one per grid point" in r.stderr
    study = Study.load("seed_004_hrm", str(tmp_path / "protein.db"))
    ts = study.trials()
    assert len(ts) == 12 and all(t.is_complete for t in ts)
    out = (tmp_path / "runs/seed_004_hrm/trial_0000/stdout.log").read_text()
    assert json.loads(out.splitlines()[-1])["train/accuracy"] == ts[0].score
