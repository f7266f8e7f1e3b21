"""The main problems' tables from their stored runs (``benchmarks.run`` writes them).

Median best after each budget with the average rank; the cost-aware problems' front
hypervolume and cost to target; seconds per suggestion; PufferLib's Protein at its own
budget; and the scale tables copied from an earlier RESULTS.md (``reused_scale``).
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import store


def load(opt: str, problem: str, seed: int, budget: int, tag: str) -> dict | None:
    """A stored run of a main problem, or None."""
    return store.load(store.task_path(opt, problem, seed, budget, tag))


def best_at(log: list[dict], n: int) -> float:
    return min(e["error"] for e in log[:n])


def q(values: list[float]) -> tuple[float, float, float]:
    a = np.asarray(values, dtype=float)
    return float(np.median(a)), float(np.percentile(a, 25)), float(np.percentile(a, 75))


def fmt(x: float) -> str:
    if not math.isfinite(x):
        return "–"
    if x == 0:
        return "0"
    return f"{x:.3g}" if abs(x) < 1e-2 or abs(x) >= 100 else f"{x:.4f}".rstrip("0").rstrip(".")


def summarise(opts: list[str], probs: list[str], seeds: dict[str, int], budgets: list[int],
              tag: str) -> tuple[str, dict]:
    from benchmarks.problems import all_problems, front_hypervolume

    P = all_problems()
    lines: list[str] = []
    figures: dict[str, Any] = {}
    for budget in budgets:
        lines += [f"### Median best after {budget} evaluations [25%–75%] (synthetic: regret; others: error)",
                  "", "| optimizer | " + " | ".join(probs) + " | avg rank |",
                  "|---" * (len(probs) + 2) + "|"]
        med: dict[str, dict[str, float]] = {o: {} for o in opts}
        cells: dict[str, list[str]] = {o: [] for o in opts}
        for p in probs:
            opt_ref = P[p].optimum
            for o in opts:
                runs = [load(o, p, s, budget, tag) for s in range(seeds[o])]
                logs = [r["log"] for r in runs if r and "log" in r and len(r["log"]) >= budget]
                if not logs:
                    cells[o].append("–")
                    continue
                vals = [best_at(lg, budget) - (opt_ref or 0.0) for lg in logs]
                m, lo, hi = q(vals)
                med[o][p] = m
                figures.setdefault("q75", {}).setdefault(budget, {}).setdefault(o, {})[p] = hi
                cells[o].append(f"{fmt(m)} [{fmt(lo)}–{fmt(hi)}]" + ("" if len(logs) >= 10 else f" (n={len(logs)})"))
        ranks: dict[str, list[float]] = {o: [] for o in opts}
        for p in probs:
            ranked = [o for o in opts if "@" not in o]  # reference rows are not ranked
            have = [o for o in ranked if p in med[o]]
            if len(have) < len(ranked):
                continue  # ranks only where every optimizer has results
            order = sorted(have, key=lambda o: med[o][p])
            for o in have:
                # ties share the average rank
                tied = [x for x in have if med[x][p] == med[o][p]]
                pos = [order.index(x) + 1 for x in tied]
                ranks[o].append(sum(pos) / len(pos))
        for o in opts:
            avg = np.mean(ranks[o]) if ranks[o] else math.nan
            lines.append(f"| {o} | " + " | ".join(cells[o]) + f" | {fmt(avg) if ranks[o] else '–'} |")
            figures.setdefault("avg_rank", {}).setdefault(budget, {})[o] = float(avg)
            figures.setdefault("median", {}).setdefault(budget, {})[o] = med[o]
        lines.append("")
        lines.append("Average rank: over the problems where every optimizer in the table has "
                     "results (ties share a rank).")
        lines.append("")

    for p in [p for p in probs if P[p].cost_aware]:
        all_best = min(
            min(e["error"] for e in r["log"])
            for o in opts for s in range(seeds[o])
            if (r := load(o, p, s, max(budgets), tag)) and "log" in r
        )
        target = all_best * 1.05
        lines += [f"### Cost-aware problem (`{p}`)", "",
                  f"Target: within 5% of the best error found by anyone ({fmt(all_best)} → ≤ {fmt(target)}).",
                  "", "| optimizer | HV@50 [IQR] | HV@100 [IQR] | best error@100 | cost to target (median) | runs reaching target | total cost@100 |",
                  "|---|---|---|---|---|---|---|"]
        for o in opts:
            runs = [r for s in range(seeds[o]) if (r := load(o, p, s, max(budgets), tag)) and "log" in r]
            if not runs:
                continue
            row = [o]
            for b in (50, 100):
                hv = [front_hypervolume(np.array([e["error"] for e in r["log"][:b]]),
                                        np.array([e["cost"] for e in r["log"][:b]]), P[p].cost_range)
                      for r in runs if len(r["log"]) >= b]
                if hv:
                    m, lo, hi = q(hv)
                    row.append(f"{m:.4f} [{lo:.4f}–{hi:.4f}]")
                    key = "hv" if p == "budget_costaware" else f"hv:{p}"
                    figures.setdefault(key, {}).setdefault(b, {})[o] = m
                else:
                    row.append("–")
            row.append(fmt(q([min(e["error"] for e in r["log"]) for r in runs])[0]))
            reach = []
            for r in runs:
                cum = 0.0
                hit = math.inf
                for e in r["log"]:
                    cum += e["cost"]
                    if e["error"] <= target:
                        hit = cum
                        break
                reach.append(hit)
            ok = [x for x in reach if math.isfinite(x)]
            row.append(f"{np.median(reach):.3g}" if len(ok) * 2 > len(reach) else "not reached (median)")
            row.append(f"{len(ok)}/{len(reach)}")
            row.append(f"{np.median([sum(e['cost'] for e in r['log']) for r in runs]):.3g}")
            key = "cost_to_target" if p == "budget_costaware" else f"cost_to_target:{p}"
            figures.setdefault(key, {})[o] = float(np.median(reach))
            lines.append("| " + " | ".join(row) + " |")
        lines += ["", "HV: hypervolume of the (normalised log10 cost, error) front, reference (1, 1), "
                  "higher is better. Cost to target: cumulative cost spent until the first "
                  "evaluation within 5% of the best error (runs that never reach it count as infinite).", ""]

    lines += ["### Seconds per suggestion (median over the runs above, all evaluations)", "",
              "| optimizer | " + " | ".join(probs) + " |", "|---" * (len(probs) + 1) + "|"]
    for o in opts:
        row = []
        for p in probs:
            ts = [e["suggest_s"] for s in range(seeds[o])
                  if (r := load(o, p, s, max(budgets), tag)) and "log" in r for e in r["log"]]
            row.append(f"{np.median(ts):.3f}" if ts else "–")
        lines.append(f"| {o} | " + " | ".join(row) + " |")
    lines.append("")
    return "\n".join(lines), figures


def summarise_mixed(opts: list[str], probs: list[str], seeds: dict[str, int],
                    args: argparse.Namespace, tag: str) -> tuple[str, dict]:
    if "pufferlib_protein" not in opts:
        return summarise(opts, probs, seeds, args.budgets, tag)
    others = [o for o in opts if o != "pufferlib_protein"]
    opts = [o for o in opts if "@" not in o]
    # PufferLib's runs are stored at their own budget; read them through a renamed tag
    body, figures = summarise(others, probs, seeds, args.budgets, tag)
    pb = args.puffer_budget
    pp = [p for p in probs if p in args.puffer_problems]
    if seeds["pufferlib_protein"] and pp:
        extra, fig2 = summarise(["protein", "pufferlib_protein", "optuna_gp"], pp, seeds, [pb], tag)
        body += f"\n## Against PufferLib's Protein (budget {pb})\n\n" + extra
        figures["puffer"] = fig2
    return body, figures


SCALE_TARGET_PREFIXES = ("- sqlite,", "- postgres,", "- CLI median", "- 8 bash workers",
                         "- Nothing lost")


def reused_scale(path: Path) -> tuple[str, list[str]]:
    """The scale section and scale target lines of an earlier RESULTS.md, each labelled."""
    text = path.read_text()
    lines = text.splitlines()
    when = next((ln for ln in lines if ln.startswith("Date: ")), "Date: unknown")
    when = when.split(";")[0].removeprefix("Date: ")
    src = next((ln for ln in lines if ln.startswith("Protein source hash")), "").split(": ")[-1]
    from benchmarks.concurrency import HEADING

    start = text.find(HEADING)
    if start < 0:
        raise SystemExit(f"benchmarks: {path} has no scale tables ({HEADING})")
    end = text.find("\n## ", start)
    # tables that were themselves copied keep the date and source they were measured on
    earlier = re.search(r"_The scale tables below are copied from \S+ of (.+?) \(source (\w+)\)",
                        text[:start])
    if earlier:
        when, src = earlier.group(1), earlier.group(2)
    label = (f"_The scale tables below are copied from {path.name} of {when} (source "
             f"{src}), not measured in this invocation: the change since left storage, the "
             "CLI and the runner alone._")
    section = label + "\n\n" + text[start: end if end > 0 else len(text)].rstrip() + "\n"
    suffix = re.compile(r"( \(copied from [^)]*\))+$")
    targets = [suffix.sub("", ln) + f" (copied from {when})" for ln in lines
               if ln.startswith(SCALE_TARGET_PREFIXES)]
    return section, targets
