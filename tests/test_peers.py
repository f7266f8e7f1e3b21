"""The benchmark's peers (Ax, SMAC3, HEBO) drive a real search through each one's own API:
every suggestion lies in the space (powers of two, integers, choices), an objective sees a
conditional parameter only where its condition holds, and the suite's scores read right."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks import blocks
from benchmarks.problems import Problem
from conftest import need

SPACE = {
    "kind": {"distribution": "categorical", "choices": ["a", "b", "c"]},
    "x": {"distribution": "uniform", "min": -1.0, "max": 1.0, "when": {"kind": "a"}},
    "z": {"distribution": "uniform", "min": 0.0, "max": 1.0, "when": {"kind": ["b", "c"]}},
    "lr": {"distribution": "log_normal", "min": 1e-4, "max": 1e-1},
    "width": {"distribution": "uniform_pow2", "min": 16, "max": 256},
    "layers": {"distribution": "int_uniform", "min": 1, "max": 6},
}


def _checked_problem(seen: list[dict]) -> Problem:
    def objective(v):
        seen.append(dict(v))
        assert ("x" in v) == (v["kind"] == "a"), v
        assert ("z" in v) == (v["kind"] in ("b", "c")), v
        assert 1e-4 * (1 - 1e-9) <= v["lr"] <= 1e-1 * (1 + 1e-9), v
        assert isinstance(v["width"], int) and v["width"] in (16, 32, 64, 128, 256), v
        assert isinstance(v["layers"], int) and 1 <= v["layers"] <= 6, v
        err = (math.log10(v["lr"]) + 2.5) ** 2 + 0.1 * v["layers"] + (v.get("x", 0.5) ** 2)
        return err, 1.0

    return Problem("checked", SPACE, objective, None)


@pytest.mark.parametrize("peer", ["ax", "smac", "hebo"])
def test_a_peer_searches_the_space_as_its_users_would(peer: str):
    from benchmarks.peers import PEERS, Skipped

    seen: list[dict] = []
    try:
        log = PEERS[peer](_checked_problem(seen), 6, 0)
    except Skipped as e:  # the bench extra (scripts/setup.sh) installs every peer
        need(False, str(e))
    assert len(log) == len(seen) == 6
    assert all(math.isfinite(e["error"]) and e["suggest_s"] >= 0 for e in log)
    assert len({tuple(sorted(map(str, v.items()))) for v in seen}) > 1  # it moves


def _random_point(parameters: dict, rng) -> dict:
    point = {}
    for k, s in parameters.items():
        if s["distribution"] == "categorical":
            point[k] = s["choices"][int(rng.integers(len(s["choices"])))]
        elif s["distribution"] in ("log_normal", "uniform_pow2"):
            point[k] = float(math.exp(rng.uniform(math.log(s["min"]), math.log(s["max"]))))
            if s["distribution"] == "uniform_pow2":
                point[k] = int(2 ** round(math.log2(point[k])))
        else:
            point[k] = float(rng.uniform(s["min"], s["max"]))
            if s["distribution"] == "int_uniform":
                point[k] = int(round(point[k]))
    return point


def test_every_problem_of_the_suite_but_the_noisy_ones_gives_one_error_per_point():
    """A problem that draws from numpy's global generator (liblinear's shuffle with an l1
    penalty did: errors 0.033 to 0.046 at one point) is noisy by accident: a run stops
    replaying, and each tuner meets another problem."""
    import numpy as np

    from benchmarks import hpo_suite
    from benchmarks.problems import active

    for name, p in hpo_suite.problems().items():
        if name in hpo_suite.NOISY:
            continue
        rng = np.random.default_rng(0)
        points = [hpo_suite.centre(p.parameters)]
        points += [active(p.parameters, _random_point(p.parameters, rng)) for _ in range(8)]
        for point in points:
            errors = []
            for state in (1, 2, 3):
                np.random.seed(state)
                errors.append(p.objective(point)[0])
            assert len(set(errors)) == 1, (name, point, errors)


def test_the_held_out_regressions_are_deterministic_and_print_one_line_per_tuner():
    """``experiments.regression`` (kept out of ``benchmarks/``): each point gives one error
    whatever numpy's global seed, and ``median_line`` reports a tuner's seeds."""
    import re

    import numpy as np

    from benchmarks import hpo_suite
    from benchmarks.problems import active
    from experiments import regression
    from experiments.medians import median_line

    for name in regression.PROBLEMS:
        p = regression.make(name)
        rng = np.random.default_rng(0)
        points = [hpo_suite.centre(p.parameters)]
        points += [active(p.parameters, _random_point(p.parameters, rng)) for _ in range(4)]
        for point in points:
            errors = set()
            for state in (1, 2):
                np.random.seed(state)
                errors.add(p.objective(point)[0])
            assert len(errors) == 1 and np.isfinite(errors.pop()), (name, point)
    line = median_line("svr random", lambda: regression.make("svr"), "random", 3, 2, digits=5)
    assert re.fullmatch(r"svr random: median best \d+\.\d{5} \[\d+\.\d{5} \d+\.\d{5}\]", line)


def test_the_normalised_score_is_100_at_the_best_known_and_0_at_a_random_guess(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import json

    from benchmarks import store as stored
    from benchmarks import versus

    monkeypatch.setattr(stored, "RUNS", tmp_path)

    def store(opt: str, errors: list[float]) -> None:
        log = [{"error": e, "cost": 1.0, "suggest_s": 0.0} for e in errors]
        stored.task_path(opt, "p", 0, 4, "t").write_text(json.dumps({"log": log}))

    store("random", [3.0, 5.0, 4.0, 4.0])  # one random guess: 4.0 on average
    store("protein", [4.0, 2.0, 1.0, 1.0])  # the best any run found: 1.0
    store("ax", [4.0, 4.0, 4.5, 5.0])
    got = versus.normalised(["protein", "ax", "random"], ["p"], {"protein": 1, "ax": 1,
                                                                  "random": 1}, 4, "t")
    assert got["protein"]["p"] == pytest.approx(100.0)
    assert got["ax"]["p"] == pytest.approx(0.0)
    assert got["random"]["p"] == pytest.approx(100 * (1 - (3.0 - 1.0) / 3.0))
    half = versus.normalised(["protein", "ax", "random"], ["p"], {"protein": 1, "ax": 1,
                                                                   "random": 1}, 2, "t")
    assert half["protein"]["p"] == pytest.approx(100 * (1 - (2.0 - 1.0) / (4.0 - 1.0)))


def test_a_block_is_replaced_in_place_and_carried_over(tmp_path: Path):
    path = tmp_path / "RESULTS.md"
    path.write_text("# Results\n\ntext\n")
    blocks.write(path, "versus", "first")
    blocks.write(path, "dashboard", "board")
    blocks.write(path, "versus", "second")
    text = path.read_text()
    assert text.count("versus: benchmarks/versus.py") == 1 and "first" not in text
    assert text.startswith("# Results\n\ntext\n")
    kept = blocks.kept(path)
    assert kept.index("board") < kept.index("second")  # in MARKERS order
    assert "text" not in kept
