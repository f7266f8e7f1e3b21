"""The benchmark harness copies an earlier run's scale tables only with a label saying so."""

from pathlib import Path

import pytest
from conftest import pid_alive

from benchmarks.summary import reused_scale
from benchmarks.targets import targets

EARLIER = """# Benchmark results

Command: `python -m benchmarks.run`  
Date: 2026-11-20 10:00 UTC; wall time of this invocation 40 min (stored runs reused)  
Protein source hash of the stored Protein runs: abc1234567

## Against the targets

- Average rank at budget 50: protein 1.60 -> Protein ranks first
- sqlite, random method, 8 workers, 0 stored trials: 484 ask+tell/s (target >= 300) -> met
- CLI median per call: tell 0.17 s -> met

### Overhead

| a |

### Storage throughput (ask + tell loops, `method: random`)

| backend | asks/s |
|---|---|
| sqlite | 484 |

## Does it pay? Real training
"""


def test_scale_tables_are_copied_with_their_date_source_and_nothing_else(tmp_path: Path):
    path = tmp_path / "RESULTS.md"
    path.write_text(EARLIER)
    section, lines = reused_scale(path)
    assert section.startswith("_The scale tables below are copied from RESULTS.md of "
                              "2026-11-20 10:00 UTC (source abc1234567)")
    assert "| sqlite | 484 |" in section
    assert "Does it pay" not in section and "Overhead" not in section
    assert lines == [
        "- sqlite, random method, 8 workers, 0 stored trials: 484 ask+tell/s (target >= 300) "
        "-> met (copied from 2026-11-20 10:00 UTC)",
        "- CLI median per call: tell 0.17 s -> met (copied from 2026-11-20 10:00 UTC)",
    ]
    assert all(ln in targets({"scale_lines": lines}) for ln in lines)


def test_a_results_file_without_scale_tables_is_refused(tmp_path: Path):
    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\nDate: 2026-11-20 10:00 UTC\n")
    with pytest.raises(SystemExit, match="no scale tables"):
        reused_scale(path)


def test_tables_copied_twice_keep_the_date_and_source_they_were_measured_on(tmp_path: Path):
    first = tmp_path / "first.md"
    first.write_text(EARLIER)
    section, lines = reused_scale(first)
    second = tmp_path / "RESULTS.md"
    head, _, rest = EARLIER.partition("## Against the targets")
    body = rest.split("\n### Overhead")[0].splitlines()
    body = [ln for ln in body if not ln.startswith("- sqlite") and not ln.startswith("- CLI")]
    second.write_text(head.replace("2026-11-20 10:00", "2026-11-21 09:00")
                      .replace("abc1234567", "def7654321") + "## Against the targets"
                      + "\n".join(body + lines) + "\n\n" + section + "\n## Does it pay?\n")
    section2, lines2 = reused_scale(second)
    assert "of 2026-11-20 10:00 UTC (source abc1234567)" in section2
    assert lines2 == lines  # one label, the original date


def test_a_report_with_out_leaves_the_published_results_alone(tmp_path: Path):
    from benchmarks import run

    published = run.ROOT / "RESULTS.md"
    before = published.read_text()
    out = tmp_path / "subset.md"
    assert run.main(["--summarise-only", "--seeds", "2", "--problems", "branin_mixed",
                     "--optimizers", "random", "--no-multi", "--no-overhead", "--no-scale",
                     "--no-training", "--no-trainer-speed", "--out", str(out)]) == 0
    assert "| random |" in out.read_text() and "`branin_mixed`" in out.read_text()
    assert published.read_text() == before


# ----------------------------------------------------------------- stored runs
def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_the_source_hash_follows_every_import_of_the_optimizer_and_nothing_else(tmp_path, monkeypatch):
    from benchmarks import store

    _tree(tmp_path, {
        "protein/__init__.py": "",
        "protein/api.py": "from protein.optimizer import step\n",
        "protein/optimizer/__init__.py": "",
        "protein/optimizer/step.py": "def f():\n    from protein.trial import Trial\n",
        "protein/optimizer/curves.py": "from distributions.base import cell\n",
        "protein/trial.py": "from . import errors\n",
        "protein/errors.py": "",
        "protein/study.py": "import protein.storage.memory\n",
        "protein/storage/__init__.py": "",
        "protein/storage/memory.py": "",
        "protein/cli.py": "import protein.api\n",
        "distributions/__init__.py": "",
        "distributions/base.py": "import numpy\n",
    })
    monkeypatch.setattr(store, "PROJECT", tmp_path)
    names = {str(p.relative_to(tmp_path)) for p in store.source_files(store.OPTIMIZER)}
    assert names == {"protein/__init__.py", "protein/api.py", "protein/optimizer/__init__.py",
                     "protein/optimizer/step.py", "protein/optimizer/curves.py",
                     "protein/trial.py", "protein/errors.py", "distributions/__init__.py",
                     "distributions/base.py"}
    study = {str(p.relative_to(tmp_path)) for p in store.source_files(store.STUDY)}
    assert study - names == {"protein/study.py", "protein/storage/__init__.py",
                             "protein/storage/memory.py"}
    before = store.source_hash()
    (tmp_path / "protein/cli.py").write_text("# a change the suggestions cannot see\n")
    assert store.source_hash() == before
    (tmp_path / "protein/errors.py").write_text("X = 1\n")  # reached by a relative import
    assert store.source_hash() != before


def test_a_run_is_stored_whole_and_read_back(tmp_path):
    from benchmarks import store

    path = tmp_path / "runs" / "p" / "seed0.json"
    assert store.load(path) is None
    store.save(path, {"log": [{"error": 0.5}], "wall_s": 1.0})
    assert store.load(path) == {"log": [{"error": 0.5}], "wall_s": 1.0}
    assert [p.name for p in path.parent.iterdir()] == ["seed0.json"]  # no temporary left


POOL_PARENT = """
import os, sys, time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from benchmarks import store

def work(x):
    time.sleep(120)

if __name__ == "__main__":
    with ProcessPoolExecutor(2, mp_context=get_context("spawn"),
                             initializer=store.die_with_parent) as pool:
        futures = [pool.submit(work, i) for i in range(4)]
        while len(pool._processes) < 2:
            time.sleep(0.1)
        time.sleep(1.0)  # the initializers have run
        print(*pool._processes, flush=True)
        time.sleep(120)
"""


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="prctl is Linux's")
def test_a_killed_benchmark_leaves_no_worker_running(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(POOL_PARENT)
    root = Path(__file__).resolve().parents[1]
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    workers = [int(p) for p in parent.stdout.readline().split()]
    assert len(workers) == 2
    parent.send_signal(signal.SIGKILL)  # no clean-up of any kind in the parent
    parent.wait()

    deadline = time.time() + 10
    while any(pid_alive(w) for w in workers) and time.time() < deadline:
        time.sleep(0.1)
    left = [w for w in workers if pid_alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert not left
