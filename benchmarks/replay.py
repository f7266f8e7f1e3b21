"""Replay the curve rule (``--early-stop auto``) on stored training runs without stopping.

Each run of ``protein`` (no early stopping) in ``benchmarks/runs/training`` is replayed
trial by trial, in its order: before each report the rule sees the trials finished so far
and the trial's own reports, and says whether it would stop it. A replay keeps the searches
as they were, so it measures what a setting of the rule would cut and whom it would cut
(whether a stopped trial would have set a new best of its run, or beaten the cost-score
front at its own cost), not how the search would then have gone on. It is how the rule's
settings were chosen without rerunning 60 searches per try.

    python -m benchmarks.replay cartpole digits --min-probability 0.05 0.01

``--gain-bound Q ...`` replays a model-free bound instead, to ask whether the early part of a
curve holds the answer at all: at 1/8, 1/4 and 1/2 of its budget a trial stops when its value
there plus the ``Q`` quantile of the gains the finished trials made from the same fraction of
their own budgets to their end (``Q = 1``: the largest gain seen) still falls short of the
cost-score front at its budget. ``Q = 1`` stops only trials that would need to gain more
than any trial before them did.

``--oracle F ...`` replays the bound no rule can beat: a trial that will end below the
cost-score front at its cost (the best earlier finished trial that cost no more) is stopped
at fraction ``F`` of its budget, knowing its end. It never stops a run's best.
"""

from __future__ import annotations

import argparse
import json
import math
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks import store
from benchmarks.training import RUNS


def replay_run(path: str, min_probability: float) -> list[dict[str, Any]]:
    """Per trial of one stored run: its cost, score, where the rule would stop it (or None),
    and whether it set a new best of its run or beat the front at its cost."""
    import torch

    from benchmarks.training import PROBLEMS, space_of
    from protein.config import load_config
    from protein.optimizer.early_stop import StopConfig, decide
    from protein.trial import Report, Trial, TrialState

    torch.set_num_threads(1)
    run = json.loads(Path(path).read_text())
    cfg = load_config({"method": "protein", "metric": "score", "goal": "maximize",
                       "parameters": space_of(PROBLEMS[run["problem"]], run["device"])})
    rule = StopConfig(rule="auto", min_probability=min_probability)
    done: list[Trial] = []
    out = []
    for i, t in enumerate(run["trials"]):  # scores and curves are stored maximise-oriented
        if t["score"] is None:
            done.append(Trial(i, t["params"], TrialState.FAILED))
            continue
        history: list[Report] = []
        stop_at = None
        for step, value in t["curve"]:
            if step >= t["cost"]:
                break
            history.append(Report(step, value, step))
            if decide(rule, 1.0, history, done, params=t["params"], space=cfg.space).stop:
                stop_at = step
                break
        complete = [d for d in done if d.is_complete]
        best_before = max((d.score for d in complete), default=-math.inf)
        front = max((d.score for d in complete if d.cost <= t["cost"] * (1 + 1e-9)),
                    default=-math.inf)
        out.append({"cost": t["cost"], "score": t["score"], "stop_at": stop_at,
                    "new_best": t["score"] > best_before, "beats_front": t["score"] > front})
        done.append(Trial(i, t["params"], TrialState.COMPLETE, score=t["score"], cost=t["cost"],
                          intermediate=tuple(Report(s, v, s) for s, v in t["curve"])))
    return with_run_best(out)


def with_run_best(out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``out`` with ``run_best`` set on the trial that set the run's final best."""
    best = max((o["score"] for o in out), default=-math.inf)
    for o in out:
        o["run_best"] = o["new_best"] and o["score"] >= best
    return out


FRACTIONS = (0.125, 0.25, 0.5)  # where the gain bound judges, as fractions of the budget


def _value_at(curve: list[list[float]], spend: float) -> float | None:
    """A curve's last value reported at or before ``spend``."""
    upto = [v for s, v in curve if s <= spend]
    return upto[-1] if upto else None


def _replay(path: str, stop_at: Any) -> list[dict[str, Any]]:
    """Per trial of one stored run, as ``replay_run``, where ``stop_at(trial, done, front)``
    (the trial's stored record, the finished ones before it, the cost-score front at its
    cost or None) gives the spend at which a model-free rule stops it, or None."""
    run = json.loads(Path(path).read_text())
    done: list[dict[str, Any]] = []
    out = []
    for t in run["trials"]:  # maximise-oriented
        if t["score"] is None:
            continue
        front = max((d["score"] for d in done if d["cost"] <= t["cost"] * (1 + 1e-9)),
                    default=None)
        best_before = max((d["score"] for d in done), default=-math.inf)
        out.append({"cost": t["cost"], "score": t["score"], "stop_at": stop_at(t, done, front),
                    "new_best": t["score"] > best_before,
                    "beats_front": front is None or t["score"] > front})
        done.append(t)
    return with_run_best(out)


def replay_gain_bound(path: str, quantile: float, min_trials: int = 3) -> list[dict[str, Any]]:
    """Per trial of one stored run, as ``replay_run``, under the gain bound (module doc)."""
    import numpy as np

    def stop_at(t: dict, done: list[dict], front: float | None) -> float | None:
        if front is None or len(done) < min_trials:
            return None
        for frac in FRACTIONS:
            v = _value_at(t["curve"], frac * t["cost"])
            gains = [d["score"] - w for d in done
                     if (w := _value_at(d["curve"], frac * d["cost"])) is not None]
            if v is not None and len(gains) >= min_trials and \
                    v + float(np.quantile(gains, quantile)) < front:
                return frac * t["cost"]
        return None

    return _replay(path, stop_at)


def replay_oracle(path: str, fraction: float, margin: float = 0.0) -> list[dict[str, Any]]:
    """Per trial of one stored run, as ``replay_run``, under the oracle (module doc); with
    ``margin`` > 0 it stops only trials that end more than ``margin`` below the front (a
    trial that ends within noise of the front is one no honest rule can tell apart)."""
    return _replay(path, lambda t, done, front: fraction * t["cost"]
                   if front is not None and t["score"] < front - margin else None)


def score_range(paths: list[str]) -> float:
    """The spread of the finished scores of the stored runs at ``paths``: their 95th minus
    5th percentile (maximise-oriented, the problem's units)."""
    import numpy as np

    scores = [t["score"] for p in paths for t in json.loads(Path(p).read_text())["trials"]
              if t["score"] is not None]
    return float(np.quantile(scores, 0.95) - np.quantile(scores, 0.05)) if scores else 0.0


def summarise(problem: str, min_probability: float, workers: int = 2,
              gain_bound: bool = False, oracle: bool = False) -> dict[str, Any]:
    paths = sorted(str(p) for p in (RUNS / "cpu" / problem / "protein").glob("seed*.json"))
    from benchmarks.training import TAG
    tag = TAG or store.source_hash(store.STUDY)
    paths = [p for p in paths if p.endswith(f"_{tag}.json")]
    with ProcessPoolExecutor(workers) as pool:
        how = replay_oracle if oracle else replay_gain_bound if gain_bound else replay_run
        runs = list(pool.map(how, paths, [min_probability] * len(paths)))
    cut = sum(o["cost"] - o["stop_at"] for r in runs for o in r if o["stop_at"] is not None)
    total = sum(o["cost"] for r in runs for o in r)
    return {"problem": problem, "min_probability": min_probability, "runs": len(runs),
            "cut": cut / total if total else 0.0,
            "stopped": sum(o["stop_at"] is not None for r in runs for o in r),
            "runs_losing_best": sum(any(o["run_best"] and o["stop_at"] is not None for o in r)
                                    for r in runs),
            "front_beaters_stopped": sum(o["beats_front"] and o["stop_at"] is not None
                                         for r in runs for o in r)}


def main(argv: list[str] | None = None) -> int:
    import benchmarks.training as training

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("problems", nargs="+", choices=list(training.PROBLEMS))
    ap.add_argument("--min-probability", type=float, nargs="+", default=[0.05, 0.02, 0.01])
    ap.add_argument("--gain-bound", type=float, nargs="+", default=None, metavar="Q",
                    help="replay the model-free gain bound at these quantiles instead")
    ap.add_argument("--oracle", type=float, nargs="+", default=None, metavar="F",
                    help="replay the oracle (stop, at this fraction of their budget, the "
                         "trials that end below the front) instead")
    ap.add_argument("--tag", default=None, help="the source hash of the runs to replay")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    training.TAG = args.tag
    rule = ("oracle's fraction" if args.oracle else "gain quantile" if args.gain_bound
            else "min_probability")
    print(f"| problem | {rule} | runs | compute cut | trials stopped | runs where a "
          "stopped trial would have been the run's best | stopped trials that would have "
          "beaten the front at their cost |")
    print("|---|---|---|---|---|---|---|")
    for p in args.problems:
        for q in args.oracle or args.gain_bound or args.min_probability:
            s = summarise(p, q, args.workers, gain_bound=bool(args.gain_bound),
                          oracle=bool(args.oracle))
            print(f"| {p} | {q} | {s['runs']} | {100 * s['cut']:.1f}% | {s['stopped']} | "
                  f"{s['runs_losing_best']}/{s['runs']} | {s['front_beaters_stopped']} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
