"""The terminal summary of a study: configuration, per-rollout best, best run, Pareto set."""

from __future__ import annotations

import math
from typing import Any

from protein.output import fmt_value, short_names
from protein.tree import flatten


def summary_text(study: Any, width: int = 80) -> str:
    cfg = study.config
    ts = study.trials()
    rule = "=" * min(width, 65)
    lines = [f"SWEEP SUMMARY: {study.name}", rule, "", "CONFIGURATION", rule]
    if len(cfg.objectives) > 1:
        goals = ", ".join(f"{o.goal} {o.name}" for o in cfg.objectives)
        lines.append(f"Method: {cfg.method}   Goals: {goals}")
    else:
        lines.append(f"Method: {cfg.method}   Goal: {cfg.goal} {cfg.metric}")
    if cfg.constraints:
        lines.append("Constraints: " + ", ".join(map(str, cfg.constraints)))
    if cfg.rollout_count:
        lines.append(f"Rollout count limit: {cfg.rollout_count}")
    lines.append(f"Samples per rollout: {cfg.num_samples}")
    lines += ["", "Parameter space:"]
    for name, e in cfg.space.to_dict().items():
        if e["distribution"] == "categorical":
            rng = "[" + ", ".join(map(str, e["choices"])) + "]"
        else:
            rng = f"[{fmt_value(e['min'])}, {fmt_value(e['max'])}]"
        lines.append(_fit(f"  {name}: {e['distribution']} {rng}", width))
    fixed = flatten(cfg.fixed)
    if fixed:
        lines += ["", "Fixed overrides:"] + [_fit(f"  {k}: {v}", width) for k, v in fixed.items()]
    counts: dict[str, int] = {}
    for t in ts:
        counts[t.state.value] = counts.get(t.state.value, 0) + 1
    lines += ["", "ROLLOUT RESULTS", rule,
              "Trials: " + ", ".join(f"{v} {k}" for k, v in counts.items()) if ts else "No trials yet."]
    per = max(1, cfg.num_samples)
    for r in range(math.ceil(len(ts) / per)):
        group = ts[r * per:(r + 1) * per]
        done = [t for t in group if t.is_complete]
        lines.append(f"Rollout {r}: {len(group)} run{'s' if len(group) != 1 else ''}")
        if done:
            b = max(done, key=lambda t: cfg.sign * t.score)
            lines.append(f"  Best {cfg.metric}: {fmt_value(b.score)} (trial {b.trial_id})")
            lines.append(_fit("  Parameters: " + _brief(b.params), width))
        else:
            lines.append("  (no complete run)")
    best = study.best()
    lines += ["", rule]
    if best is None:
        lines.append("OVERALL BEST RUN: none yet")
    else:
        lines.append(f"OVERALL BEST RUN: trial {best.trial_id}")
        lines.append(f"  {cfg.metric}: {fmt_value(best.score)}   cost: {fmt_value(best.cost)}")
        reported = best.metrics
        if reported:
            lines.append(_fit("  also reported: " + ", ".join(
                f"{k}={fmt_value(v)}" for k, v in reported.items()), width))
        for k, v in best.params.items():
            lines.append(_fit(f"  {k} = {fmt_value(v)}", width))
    if len(cfg.objectives) > 1:
        front = study.objective_front()
        lines += ["", rule, f"PARETO SET: {len(front)} trial{'s' if len(front) != 1 else ''}"]
        for t in front:
            vals = "  ".join(f"{k}={fmt_value(v)}" for k, v in t.values.items())
            lines.append(_fit(f"  trial {t.trial_id}: {vals}   ({_brief(t.params)})", width))
    return "\n".join(lines)


def _brief(params: dict) -> str:
    return ", ".join(f"{k}={fmt_value(v)}" for k, v in zip(short_names(list(params)),
                                                             params.values()))


def _fit(s: str, width: int) -> str:
    return s if len(s) <= width else s[: width - 3] + "..."
