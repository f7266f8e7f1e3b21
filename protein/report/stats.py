"""Figures of a study at a glance: counts, best, cost spent to reach it, median."""

from __future__ import annotations

import statistics
from typing import Any


def study_stats(study: Any) -> dict[str, Any]:
    cfg = study.config
    trials = study.trials()
    best = study.best()
    cum, to_best = 0.0, None
    for t in trials:
        cum += t.cost or 0.0
        if best is not None and t.trial_id == best.trial_id:
            to_best = cum
    done = [t.score for t in trials if t.is_complete]
    return {"study": study.name, "trials": len(trials), "complete": len(done),
            "failed": sum(t.state.value == "failed" for t in trials),
            "best": None if best is None else best.score,
            "best_trial": None if best is None else best.trial_id,
            "cost_to_best": to_best, "total_cost": cum,
            "median": statistics.median(done) if done else None,
            "mean": statistics.fmean(done) if done else None,
            "std": statistics.stdev(done) if len(done) > 1 else None,
            "metric": cfg.metric, "goal": cfg.goal}
