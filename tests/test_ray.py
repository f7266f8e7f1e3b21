"""protein run --launcher ray on a local Ray instance."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _cli import protein
from _sweeps import _sweep

from protein.study import Study
from protein.trial import TrialState

ROOT = Path(__file__).parent.parent
pytest.importorskip("ray", reason="ray is in the dev extra: pip install -e '.[dev]'")


@pytest.mark.slow
def test_ray_executor_runs_every_trial(tmp_path):
    (tmp_path / "s.yaml").write_text(textwrap.dedent("""\
        rollout_count: 4
        num_samples: 1
        sweep:
          metric: score
          goal: maximize
          method: random
          parameters:
            trainer.learning_rate: {distribution: log_normal, min: 1e-3, max: 3e-2}
            trainer.epochs: {distribution: int_uniform, min: 1, max: 2}
          trainer: {depth: 1, width: 16}
        """))
    r = subprocess.run([sys.executable, "-m", "protein", "run", "s.yaml", "--trainer",
                        "trainers.digits", "--launcher", "ray", "--workers", "2", "--device", "cpu"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"})
    assert r.returncode == 0, r.stderr[-3000:]
    ts = Study.load("s", str(tmp_path / "protein.db")).trials()
    assert len(ts) == 4 and all(t.state is TrialState.COMPLETE for t in ts)
    assert len({t.worker for t in ts}) >= 1 and all(t.intermediate for t in ts)


# a Ray address without a cluster
def test_ray_address_without_a_cluster_is_one_clear_error(tmp_path):
    pytest.importorskip("ray")
    cfg = _sweep(tmp_path, n=1)
    r = protein("run", str(cfg), "--command", f"{sys.executable} train.py", "--launcher", "ray",
                "--ray-address", "auto", cwd=tmp_path, check=False, real=True,
                env={"RAY_ADDRESS": ""})
    assert r.returncode == 2 and "no Ray cluster to join" in r.stderr
    assert "Traceback" not in r.stderr
