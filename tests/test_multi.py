"""Several metrics and constraints: configs, tell, the EHVI step, the CLI and the runner."""

from __future__ import annotations

import json
import math
import sys
import textwrap

import numpy as np
import pytest
import torch

from protein import Study
from protein.config import load_config
from protein.errors import ConfigError, TrialError
from protein.optimizer.acquisition import log_ehvi
from protein.optimizer import suggest_multi as suggest
from protein.config.objectives import parse_constraint
from protein.pareto import hypervolume_2d, nondominated
from protein.trial import Trial, TrialState
from tests._cli import protein

PARAMS = {
    "x": {"distribution": "uniform", "min": 0.0, "max": 1.0},
    "y": {"distribution": "uniform", "min": 0.0, "max": 1.0},
    "n": {"distribution": "int_uniform", "min": 1, "max": 8},
}
CFG = {"metrics": {"f1": "minimize", "f2": "minimize"}, "parameters": PARAMS}


def zdt1(p):
    """Both minimised; the front is f2 = 1 - sqrt(f1) at y = 0, n = 1."""
    g = 1 + 4 * p["y"] + 0.05 * (p["n"] - 1)
    return {"f1": p["x"], "f2": g * (1 - math.sqrt(p["x"] / g))}


def hypervolume(points, ref=(1.0, 5.0)):
    """2-d hypervolume of minimised points against ``ref``."""
    P = np.asarray(points, dtype=float).reshape(-1, 2)
    return hypervolume_2d(-P[:, 1], P[:, 0], -ref[1], ref[0])


def run(cfg, n, seed=0):
    st = Study(cfg, seed=seed)
    for _ in range(n):
        t = st.ask()
        st.tell(t, zdt1(t.params))
    return st


# ----------------------------------------------------------------- configs
def test_metrics_and_constraints_parse_and_round_trip():
    cfg = load_config({**CFG, "constraints": ["f1 <= 0.5", "f2>=0"]})
    assert cfg.multi and cfg.metric == "f1" and cfg.goal == "minimize"
    assert cfg.metric_names == ("f1", "f2")
    assert [str(c) for c in cfg.constraints] == ["f1 <= 0.5", "f2 >= 0"]
    again = load_config(cfg.to_dict())
    assert again.objectives == cfg.objectives and again.constraints == cfg.constraints
    single = load_config({"metric": "loss", "goal": "minimize", "parameters": PARAMS})
    assert not single.multi and single.metric_names == ("loss",)
    # a constraint on a metric that is not optimised
    c = load_config({**CFG, "constraints": ["memory_gb <= 40"]})
    assert c.metric_names == ("f1", "f2", "memory_gb")


def test_config_errors_point_at_the_line(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent("""\
        sweep:
          metrics: {reward: maximize, memory_gb: minimize}
          constraints:
            - memory_gb < = 40
          parameters:
            lr: {distribution: log_normal, min: 1e-5, max: 1e-1}
        """))
    with pytest.raises(ConfigError, match=r"sweep.yaml:4: .*constraints.0.*METRIC <= NUMBER"):
        load_config(path)
    path.write_text(path.read_text().replace("memory_gb < = 40", "memory_gb <= 40")
                    .replace("minimize}", "smaller}"))
    with pytest.raises(ConfigError, match=r"sweep.yaml:2: .*memory_gb: expected maximize or minimize"):
        load_config(path)
    with pytest.raises(ConfigError, match="either metric/goal or metrics"):
        load_config({**CFG, "goal": "minimize"})
    assert parse_constraint("acc >= 0.9").slack(0.95) == pytest.approx(0.05)


# -------------------------------------------------------------------- tell
def test_tell_checks_every_metric_and_fails_non_finite_values():
    st = Study({**CFG, "constraints": ["mem <= 4"]}, seed=0)
    t = st.ask()
    with pytest.raises(TrialError, match=r"trial 0: missing a value for mem"):
        st.tell(t, {"f1": 1.0, "f2": 2.0})
    with pytest.raises(TrialError, match=r"trial 0: unknown metric 'f3'"):
        st.tell(t, {"f1": 1.0, "f2": 2.0, "mem": 1, "f3": 0})
    with pytest.raises(TrialError, match=r"several metrics; give each one's value \(f1=\.\.\., f2"):
        st.tell(t, 1.0)
    done = st.tell(t, {"f1": 1.0, "f2": 2.0, "mem": 3})
    assert done.score == 1.0 and done.info["values"] == {"f1": 1.0, "f2": 2.0, "mem": 3.0}
    t2 = st.ask()
    bad = st.tell(t2, {"f1": 0.5, "f2": float("nan"), "mem": 1})
    assert bad.state is TrialState.FAILED and "f2" in bad.info["failure"]
    t3 = st.ask()
    st.tell(t3, {"f1": 0.1, "f2": 0.1, "mem": 9})  # better, but infeasible
    assert st.best().trial_id == 0
    assert [p.trial_id for p in st.objective_front()] == [0]


# --------------------------------------------------------------- the model
def test_log_ehvi_matches_monte_carlo():
    from botorch.utils.multi_objective.box_decompositions.non_dominated import (
        FastNondominatedPartitioning,
    )

    front = torch.tensor([[1.0, 0.0], [0.2, 0.8], [0.6, 0.5]], dtype=torch.float64)
    ref = torch.tensor([-1.0, -1.0], dtype=torch.float64)
    lo, hi = FastNondominatedPartitioning(ref_point=ref, Y=front).get_hypercell_bounds()
    mean = torch.tensor([[0.7, 0.6], [0.0, 0.0], [2.0, -0.5]], dtype=torch.float64)
    std = torch.tensor([[0.3, 0.2], [0.1, 0.1], [0.5, 1.0]], dtype=torch.float64)
    got = log_ehvi(mean, std, lo, hi).exp().numpy()
    rng = np.random.default_rng(0)

    def hv(Y):
        return float(FastNondominatedPartitioning(ref_point=ref, Y=Y).compute_hypervolume())

    base = hv(front)
    for i in range(3):
        s = rng.normal(mean[i].numpy(), std[i].numpy(), size=(4000, 2))
        # the improvement of one point = the volume of the cells' intersection with its box
        box = np.prod(np.clip(np.minimum(s[:, None, :], hi.numpy()[None]) - lo.numpy()[None],
                              0, None), axis=-1).sum(-1)
        assert got[i] == pytest.approx(box.mean(), rel=0.05, abs=1e-6)
        exact = np.mean([hv(torch.cat([front, torch.tensor(p[None])])) - base for p in s[:200]])
        assert box[:200].mean() == pytest.approx(exact, rel=1e-6, abs=1e-9)


@pytest.mark.slow
def test_front_grows_better_than_random_search():
    ours = [hypervolume([(t.info["values"]["f1"], t.info["values"]["f2"])
                         for t in run(CFG, 20, seed).complete()]) for seed in (0, 1)]
    rand = [hypervolume([(t.info["values"]["f1"], t.info["values"]["f2"])
                         for t in run({**CFG, "method": "random"}, 20, seed).complete()])
            for seed in (0, 1)]
    assert min(ours) > max(rand), (ours, rand)


@pytest.mark.slow
def test_constraints_steer_suggestions_into_the_feasible_region():
    st = run({**CFG, "constraints": ["f1 <= 0.3"]}, 22)
    gp = [t for t in st.trials() if t.info.get("reason") == "gp"]
    ok = [t.info["values"]["f1"] <= 0.3 for t in gp]
    assert len(gp) >= 10 and np.mean(ok) >= 0.8, ok
    assert all(0 < t.info["p_feasible"] <= 1 for t in gp)
    assert all(t.info["values"]["f1"] <= 0.3 for t in st.objective_front())


@pytest.mark.slow
def test_batches_differ_and_are_deterministic():
    st = run(CFG, 14)
    trials = st.trials()
    cfg = st.config
    kw = {"objectives": cfg.objectives, "settings": cfg.settings, "seed": 3, "n": 4}
    a = suggest(cfg.space, trials, **kw)
    b = suggest(cfg.space, trials, **kw)
    assert [s.params for s in a] == [s.params for s in b]
    assert len({tuple(sorted(s.params.items())) for s in a}) == 4
    # a running trial at the first suggestion moves the next one elsewhere
    pending = trials + [Trial(len(trials), a[0].params, TrialState.RUNNING)]
    nxt = suggest(cfg.space, pending, objectives=cfg.objectives, settings=cfg.settings, seed=3)
    assert nxt[0].params != a[0].params


@pytest.mark.slow
def test_failed_trials_count_against_their_region():
    st = Study(CFG, seed=0)
    for _ in range(16):
        t = st.ask()
        if t.params["x"] > 0.6:
            st.tell(t, failed=True, reason="out of memory")
        else:
            st.tell(t, zdt1(t.params))
    later = st.ask(n=4)
    assert sum(t.params["x"] > 0.6 for t in later) <= 1
    assert all("p_success" in t.info for t in later)


def test_nondominated_keeps_ties_and_orders_by_the_first_column():
    Y = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.4, 0.4], [0.5, 0.5]])
    assert nondominated(Y) == [0, 2, 4, 1]


# ---------------------------------------------------------------- CLI, runner
MULTI_YAML = textwrap.dedent("""\
    sweep:
      method: protein
      metrics: {reward: maximize, memory_gb: minimize}
      constraints: ["memory_gb <= 40"]
      settings: {num_random_samples: 3}
      parameters:
        lr: {distribution: log_normal, min: 1.0e-5, max: 1.0e-1}
        width: {distribution: uniform_pow2, min: 16, max: 1024}
    """)


@pytest.mark.slow
def test_cli_tells_named_scores_and_best_is_the_pareto_set(tmp_path, storage_url):
    (tmp_path / "sweep.yaml").write_text(MULTI_YAML)
    env = {"PROTEIN_STORAGE": storage_url}
    protein("init", "sweep.yaml", "--study", "m", cwd=tmp_path, env=env)
    results = {0: (1.0, 20.0), 1: (2.0, 30.0), 2: (3.0, 50.0), 3: (0.5, 10.0), 4: (0.9, 25.0)}
    asked = json.loads(protein("ask", "--study", "m", "--count", "5", cwd=tmp_path, env=env).stdout)
    assert [a["trial"] for a in asked] == list(results)
    for tid, (r, m) in results.items():
        told = json.loads(protein("tell", "--study", "m", "--trial", str(tid), "--score",
                                  f"reward={r}", "--score", f"memory_gb={m}", cwd=tmp_path,
                                  env=env).stdout)
        assert told["values"] == {"reward": r, "memory_gb": m} and told["score"] == r
    best = json.loads(protein("best", "--study", "m", cwd=tmp_path, env=env).stdout)
    # 2 breaks the memory bound, 4 is beaten by 0 on both metrics
    assert [b["trial"] for b in best] == [1, 0, 3]
    protein("ask", "--study", "m", cwd=tmp_path, env=env)
    r = protein("tell", "--study", "m", "--trial", "5", "--score", "reward=1", cwd=tmp_path,
                env=env, check=False)
    assert r.returncode == 2 and "missing a value for memory_gb" in r.stderr
    assert "Traceback" not in r.stderr
    summary = protein("summary", "--study", "m", cwd=tmp_path, env=env).stdout
    assert "PARETO SET: 3 trials" in summary and "memory_gb <= 40" in summary
    rep = tmp_path / "rep"
    protein("report", "--study", "m", "--out", str(rep), cwd=tmp_path, env=env)
    assert (rep / "pareto_set.png").stat().st_size > 10_000
    text = (rep / "SUMMARY.md").read_text()
    assert "## Pareto set (3 trials)" in text and "`memory_gb <= 40`" in text
    header = (rep / "results.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["trial", "state", "reward", "memory_gb"]


RUN_SCRIPT = textwrap.dedent("""\
    import json, sys
    args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--"))
    lr, width = float(args["lr"]), int(args["width"])
    print(json.dumps({"reward": -abs(lr - 0.01) - width / 1e4, "memory_gb": width / 20}))
    """)


@pytest.mark.slow
def test_run_command_mode_records_every_metric(tmp_path):
    (tmp_path / "sweep.yaml").write_text(MULTI_YAML.replace("sweep:\n", "rollout_count: 6\nsweep:\n"))
    (tmp_path / "train.py").write_text(RUN_SCRIPT)
    protein("run", "sweep.yaml", "--command", f"{sys.executable} train.py", "--pass", "flags",
            "--tensorboard", "tb", cwd=tmp_path)
    st = Study.load("sweep", str(tmp_path / "protein.db"))
    ts = st.trials()
    assert len(ts) == 6 and all(t.state is TrialState.COMPLETE for t in ts), [t.info for t in ts]
    for t in ts:
        assert t.info["values"]["memory_gb"] == pytest.approx(t.params["width"] / 20)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path / "tb" / "sweep" / "trial_0000"))
    acc.Reload()
    assert acc.Scalars("final/memory_gb")[0].value == pytest.approx(ts[0].params["width"] / 20)
    assert acc.Scalars("final/reward")[0].value == pytest.approx(ts[0].score)
    assert all(t.info["values"]["memory_gb"] <= 40 for t in st.objective_front())
    # a result that lacks a metric fails its trial and says which
    (tmp_path / "train.py").write_text('import json; print(json.dumps({"reward": 1.0}))')
    protein("run", "sweep.yaml", "--command", f"{sys.executable} train.py", "--study", "two",
            "--max-trials", "1", cwd=tmp_path, check=False)
    t = Study.load("two", str(tmp_path / "protein.db")).trials()[0]
    assert t.state is TrialState.FAILED and "memory_gb" in t.info["failure"]


@pytest.mark.slow
def test_api_observe_takes_a_mapping():
    import protein as P

    sweep = P.Protein(CFG, seed=0)
    for _ in range(12):
        params, info = sweep.suggest()
        sweep.observe(params, zdt1(params))
    params, info = sweep.suggest()
    assert info["reason"] == "gp" and set(info["predicted_values"]) == {"f1", "f2"}
    with pytest.raises(TrialError, match="several metrics"):
        sweep.observe(params, 0.5)


@pytest.mark.slow
def test_dry_run_of_the_bundled_example_shows_every_metric(tmp_path):
    from tests._cli import ROOT

    r = protein("run", str(ROOT / "examples" / "digits_multi.yaml"), "--trainer",
                "trainers.digits", "--dry-run", "--device", "cpu", cwd=tmp_path)
    assert "goals: maximize accuracy, minimize params_k" in r.stdout
    assert "constraints: seconds <= 20" in r.stdout
    assert "params_k = " in r.stdout and "nothing was stored" in r.stdout
    assert not (tmp_path / "protein.db").exists()


@pytest.mark.slow
def test_one_objective_with_a_constraint_finds_the_bound():
    cfg = {"metric": "loss", "goal": "minimize", "constraints": ["mem <= 0.5"],
           "parameters": {"x": PARAMS["x"], "y": PARAMS["y"]}}
    st = Study(cfg, seed=0)
    for _ in range(18):
        t = st.ask()
        x, y = t.params["x"], t.params["y"]
        st.tell(t, {"loss": (x - 0.8) ** 2 + (y - 0.3) ** 2, "mem": x})
    b = st.best()
    # the unconstrained optimum (0.8, 0.3) is infeasible; the best feasible one is (0.5, 0.3)
    assert b.info["values"]["mem"] <= 0.5
    assert b.score == pytest.approx(0.09, abs=0.01)
