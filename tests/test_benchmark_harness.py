"""The benchmark harness copies an earlier run's scale tables only with a label saying so."""

from pathlib import Path

import pytest

from benchmarks.run import reused_scale, targets

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
