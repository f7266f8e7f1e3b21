"""The issues' targets: each measured figure beside its threshold, and a verdict.

The thresholds are data (``LIMITS``, named after what they bound, and the problem lists
below it); the functions only read figures (from ``benchmarks.summary``, ``multi``,
``overhead``, ``scale`` and ``training``) and write one line per target, ending in ``met``
or ``NOT met`` wherever there is a threshold to hold.
"""

from __future__ import annotations

import math
from typing import Any

LIMITS: dict[str, float] = {
    "two_objective_hv_50": 0.98,  # hypervolume fraction of Branin-Currin's front at 50
    "hartmann6_regret_50": 0.01,  # median
    "hartmann6_regret_50_q75": 0.05,  # 75th percentile
    "hartmann6_regret_100": 0.001,
    "branin_regret_100": 0.001,
    "regret_ratio_to_optuna_gp_100": 10,  # Protein's median regret / Optuna GP's
    "ackley10_regret_50": 3.0,
    "cost_front_hv_50": 0.77,  # budget_costaware's cost-error front
    "overhead_1000_s": 5,  # seconds per suggestion at 1000 observations, d = 8
    "pufferlib_regret_ratio": 0.5,  # Protein's Hartmann6 regret / PufferLib's Protein's
    "storage_asks_per_s_empty": 300,  # 8 workers, random method, 0 stored trials
    "storage_asks_per_s_10000": 100,  # ... 10,000 stored trials
    "crowd_wait_s": 10,  # the last of 32 workers' GP suggestions
    "cli_tell_s": 0.3,
    "cli_ask_random_s": 0.3,
    "cli_ask_gp_s": 3,
    "bash_speedup": 3,  # 8 bash workers: Optuna's CLI wall time / Protein's
    "training_cost_share": 0.5,  # Protein's median cost to target / the best peer's
    "training_saved": 0.4,  # compute saved by the default early stopping
    "training_best_lost_runs": 1,  # runs where a stopped trial would have been the best
}
CATEGORICAL = ("categorical_shift", "sgd_breast_cancer", "arch_costaware")  # <= Optuna GP at 50
RATIO_PROBLEMS = ("hartmann6_mixed", "ackley10_mixed", "branin_mixed", "rosenbrock5_log",
                  "categorical_shift")  # regret ratio to Optuna GP at 100


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def targets(fig: dict[str, Any]) -> str:
    """The "Against the targets" section: every target the figures ``fig`` can judge."""
    out = ["## Against the targets", ""]
    out += two_objectives(fig.get("multi", {}))
    out += ranks(fig.get("avg_rank", {}))
    out += regrets(fig.get("median", {}), fig.get("q75", {}))
    out += fronts(fig.get("hv", {}), fig.get("cost_to_target", {}))
    out += overheads(fig.get("overhead", {}))
    out += against_pufferlib(fig.get("puffer", {}))
    out += scale(fig.get("scale")) + fig.get("scale_lines", [])
    if fig.get("training"):
        out += training(fig["training"])
    out.append("")
    return "\n".join(out)


def two_objectives(multi: dict) -> list[str]:
    out = []
    for b, hv in sorted(multi.items()):
        if "protein" in hv:
            order = sorted(hv, key=lambda o: -hv[o])
            limit = LIMITS["two_objective_hv_50"]
            out.append(f"- Two objectives (Branin-Currin), hypervolume fraction at {b}: "
                       + ", ".join(f"{o} {hv[o]:.4f}" for o in order)
                       + f" -> Protein {'largest' if order[0] == 'protein' else 'NOT largest'}"
                       + (f"; target >= {limit}: {verdict(hv['protein'] >= limit)}"
                          if b == 50 else ""))
    return out


def ranks(avg_rank: dict) -> list[str]:
    out = []
    for b, rank in sorted(avg_rank.items()):
        have = {o: r for o, r in rank.items() if r == r}
        if not have:
            continue
        order = sorted(have, key=have.get)
        first, last = order[0], order[-1]
        out.append(f"- Average rank at budget {b}: " + ", ".join(f"{o} {have[o]:.2f}" for o in order)
                   + f" -> Protein {'ranks first' if first == 'protein' else 'does NOT rank first'}"
                   + (" and last on none" if last != "protein" else ""))
    return out


def regrets(med: dict, q75: dict) -> list[str]:
    """Median best on the categorical problems and the regret targets of the main table."""
    out = []
    if 50 in med and "protein" in med[50] and "optuna_gp" in med[50]:
        for p in CATEGORICAL:
            ours, gp = med[50]["protein"].get(p), med[50]["optuna_gp"].get(p)
            if ours is not None and gp is not None:
                out.append(f"- Categorical `{p}` median best at 50: Protein {ours:.4g}, Optuna GP "
                           f"{gp:.4g} (target <= Optuna GP) -> {verdict(ours <= gp)}")
        ranked = {o: v for o, v in med[50].items() if "@" not in o and all(p in v for p in CATEGORICAL)}
        if ranked and "protein" in ranked:
            rank = {o: 0.0 for o in ranked}
            for p in CATEGORICAL:
                order = sorted(ranked, key=lambda o: ranked[o][p])
                for i, o in enumerate(order, 1):
                    rank[o] += i / len(CATEGORICAL)
            order = sorted(rank, key=rank.get)
            out.append("- Average rank on the categorical problems at 50: "
                       + ", ".join(f"{o} {rank[o]:.2f}" for o in order)
                       + f" (target: Protein first) -> {verdict(order[0] == 'protein')}")
    for b, target, q_target in ((50, LIMITS["hartmann6_regret_50"], LIMITS["hartmann6_regret_50_q75"]),
                                (100, LIMITS["hartmann6_regret_100"], None)):
        h = med.get(b, {}).get("protein", {}).get("hartmann6_mixed")
        if h is not None:
            line = f"- Hartmann6 (mixed) median regret at {b}: {h:.4g} (target <= {target})"
            ok = h <= target
            hq = q75.get(b, {}).get("protein", {}).get("hartmann6_mixed")
            if q_target is not None and hq is not None:
                line += f", 75th percentile {hq:.4g} (target <= {q_target})"
                ok = ok and hq <= q_target
            out.append(line + f" -> {verdict(ok)}")
    br = med.get(100, {}).get("protein", {}).get("branin_mixed")
    if br is not None:
        limit = LIMITS["branin_regret_100"]
        out.append(f"- Branin (mixed) median regret at 100: {br:.4g} (target <= {limit}) -> "
                   f"{verdict(br <= limit)}")
    if 100 in med and "protein" in med[100] and "optuna_gp" in med[100]:
        limit = LIMITS["regret_ratio_to_optuna_gp_100"]
        for p in RATIO_PROBLEMS:
            ours, gp = med[100]["protein"].get(p), med[100]["optuna_gp"].get(p)
            if ours is not None and gp is not None:
                ratio = ours / gp if gp > 0 else (1.0 if ours == 0 else math.inf)
                out.append(f"- `{p}` median regret at 100: Protein {ours:.3g}, Optuna GP {gp:.3g}, "
                           f"ratio {ratio:.3g} (target <= {limit}) -> {verdict(ratio <= limit)}")
    ack = med.get(50, {}).get("protein", {}).get("ackley10_mixed")
    if ack is not None:
        limit = LIMITS["ackley10_regret_50"]
        out.append(f"- Ackley10 (mixed) median regret at 50: {ack:.3g} (target <= {limit}) -> "
                   f"{verdict(ack <= limit)}")
    return out


def fronts(hv: dict, cost_to_target: dict) -> list[str]:
    """The cost-aware problem's front hypervolume and cost to target."""
    out = []
    limit = LIMITS["cost_front_hv_50"]
    for b in sorted(hv):
        order = sorted(hv[b], key=lambda o: -hv[b][o])
        ours = hv[b].get("protein", math.nan)
        peers = [o for o in order if "@" not in o]  # reference rows (another source) rank with none
        out.append(f"- Cost-aware front hypervolume at {b}: " + ", ".join(f"{o} {hv[b][o]:.4f}" for o in order)
                   + f" -> Protein {'largest' if peers[0] == 'protein' else 'NOT largest'}"
                   + " of the peers"
                   + (f"; target >= {limit}: {verdict(ours >= limit)}" if b == 50 else ""))
    if cost_to_target:
        out.append("- Cumulative cost to within 5% of the best error (median; inf = most runs never "
                   "reach it): " + ", ".join(f"{o} {v:.3g}" for o, v in
                                            sorted(cost_to_target.items(), key=lambda x: x[1])))
    return out


def overheads(oh: dict) -> list[str]:
    out = []
    if "8,200" in oh:
        ours, theirs = oh["8,200"]
        said = ("no slower: met" if theirs is not None and ours <= theirs
                else "slower: NOT met")
        out.append(f"- Overhead at 200 observations, d = 8: Protein {ours:.3f} s, Optuna GPSampler "
                   f"{theirs if theirs is None else f'{theirs:.3f}'} s -> {said}")
    if "8,1000" in oh:
        ours, limit = oh["8,1000"][0], LIMITS["overhead_1000_s"]
        out.append(f"- Overhead at 1000 observations, d = 8: Protein {ours:.3f} s -> "
                   f"{verdict(ours <= limit)} (target <= {limit} s)")
    return out


def against_pufferlib(pf: dict) -> list[str]:
    out = []
    limit = LIMITS["pufferlib_regret_ratio"]
    for b, vals in sorted(pf.get("median", {}).items()):
        ours = vals.get("protein", {}).get("hartmann6_mixed")
        theirs = vals.get("pufferlib_protein", {}).get("hartmann6_mixed")
        if ours is not None and theirs is not None and theirs > 0:
            out.append(f"- Hartmann6 (mixed) median regret at {b} against PufferLib's Protein run "
                       f"here: Protein {ours:.4f}, PufferLib {theirs:.4f} -> Protein's regret is "
                       f"{ours / theirs:.2f} of PufferLib's (target <= {limit}): "
                       f"{verdict(ours / theirs <= limit)}")
    for b, vals in sorted(pf.get("hv", {}).items()):
        out.append(f"- Against PufferLib's Protein, front hypervolume at {b}: "
                   + ", ".join(f"{o} {v:.4f}" for o, v in sorted(vals.items(), key=lambda x: -x[1])))
    if pf.get("cost_to_target"):
        out.append("- Against PufferLib's Protein, cost to within 5% of the best error: "
                   + ", ".join(f"{o} {v:.3g}" for o, v in sorted(pf["cost_to_target"].items(),
                                                                    key=lambda x: x[1])))
    return out


def scale(sc: dict | None) -> list[str]:
    """The targets of "Studies at scale and a CLI that answers at once"."""
    if not sc:
        return []
    out = []
    for r in sc.get("storage", []):
        if r["workers"] == 8 and r["stored"] in (0, 10000):
            need = LIMITS["storage_asks_per_s_empty" if r["stored"] == 0 else "storage_asks_per_s_10000"]
            out.append(f"- {r['backend']}, random method, 8 workers, {r['stored']} stored trials: "
                       f"{r['asks_per_s']:.0f} ask+tell/s (target >= {need}) -> "
                       f"{verdict(r['asks_per_s'] >= need and r['accounted'])}")
    wait = LIMITS["crowd_wait_s"]
    for r in sc.get("crowd", []):
        out.append(f"- {r['backend']}, GP method, {r['stored']} stored trials, {r['workers']} "
                   f"workers asking at once: the last suggestion after {r['max_wait_s']:.1f} s "
                   f"(target <= {wait} s) -> {verdict(r['max_wait_s'] <= wait and r['accounted'])}")
    c, b = sc.get("cli"), sc.get("bash")
    if c:
        tell, ask, gp = LIMITS["cli_tell_s"], LIMITS["cli_ask_random_s"], LIMITS["cli_ask_gp_s"]
        out.append(f"- CLI median per call: tell {c['tell']:.2f} s, random ask "
                   f"{c['ask_random']:.2f} s (targets <= {tell} s), GP ask on {c['gp_stored']} "
                   f"trials {c['ask_gp']:.2f} s (target <= {gp} s) -> "
                   f"{verdict(c['tell'] <= tell and c['ask_random'] <= ask and c['ask_gp'] <= gp)}")
    if b:
        x = LIMITS["bash_speedup"]
        out.append(f"- {b['workers']} bash workers x {b['pairs']} ask/tell pairs: Protein "
                   f"{b['protein_wall_s']:.1f} s, Optuna's CLI {b['optuna_wall_s']:.1f} s: "
                   f"{b['speedup']:.1f}x (target >= {x}x) -> "
                   f"{verdict(b['speedup'] >= x and b['protein_accounted'])}")
    accounted = all(r["accounted"] for r in sc.get("storage", []) + sc.get("crowd", []))
    accounted = accounted and (not b or b["protein_accounted"])
    out.append(f"- Nothing lost or duplicated in any cell of the scale tables -> {verdict(accounted)}")
    return out


def training(fig: dict) -> list[str]:
    """The training issue's targets (``benchmarks.training.summarise``'s figures)."""
    from benchmarks.training import DEFAULT, PROBLEMS, cost_text

    share, saved_at_least = LIMITS["training_cost_share"], LIMITS["training_saved"]
    lost_at_most = LIMITS["training_best_lost_runs"]
    out = []
    for p, rows in fig.items():
        sign = PROBLEMS[p].sign
        ours = rows.get("protein")
        peers = {o: r for o, r in rows.items() if not o.startswith("protein")}
        if peers:
            # by the share of runs that reach the target (peers may have fewer seeds stored)
            best_peer = min(peers, key=lambda o: (-peers[o]["reach"] / peers[o]["n"],
                                                  peers[o]["to_target"]))
            bp = peers[best_peer]
            # Protein without stopping, and as `protein run` runs it by default
            # (--early-stop auto: its own rule wherever that rule can judge)
            for name, label in (("protein", "Protein without early stopping"),
                                (DEFAULT, "Protein as `protein run` runs it "
                                          "(early stopping auto)")):
                r = rows.get(name)
                if not r:
                    continue
                ok = (r["reach"] / r["n"] >= bp["reach"] / bp["n"]
                      and math.isfinite(r["to_target"])
                      and r["to_target"] <= share * bp["to_target"])
                out.append(f"- {p}: {label} reaches the target in {r['reach']}/{r['n']} runs at "
                           f"a median cost of {cost_text(r['to_target'])}; the best peer, "
                           f"{best_peer}, in {bp['reach']}/{bp['n']} at "
                           f"{cost_text(bp['to_target'])} (target: <= half, in as many runs) -> "
                           f"{verdict(ok)}")
        for rule in (DEFAULT, "protein+protein", "protein+asha"):
            es = rows.get(rule)
            if ours and es:
                saved = 1 - es["total"] / ours["total"]
                ok = (saved >= saved_at_least and es["best"] >= ours["best"]
                      and es["beaten"] <= lost_at_most)
                spends = f"{100 * saved:.0f}% less" if saved >= 0 else f"{-100 * saved:.0f}% more"
                out.append(f"- {p}: {rule} spends {spends} compute than the same "
                           f"search without stopping; final best {sign * es['best']:.4g} vs "
                           f"{sign * ours['best']:.4g}; a stopped trial had beaten the final best in "
                           f"{es['beaten']}/{es['n']} runs (target: >= {100 * saved_at_least:.0f}% "
                           f"less at an equal or better best, at most {lost_at_most} such run) -> "
                           f"{verdict(ok)}")
        es = rows.get(DEFAULT)
        if es and peers:
            # anytime: at every checkpoint, Protein as users run it against every peer
            behind = {c: [o for o in peers if peers[o]["at"][c] > es["at"][c]]
                      for c in PROBLEMS[p].checkpoints}
            said = "; ".join(f"at {c:.3g} {sign * es['at'][c]:.4g}" + (
                ", behind " + ", ".join(f"{o} {sign * peers[o]['at'][c]:.4g}" for o in os_)
                if os_ else ", ahead of or level with every peer") for c, os_ in behind.items())
            out.append(f"- {p}: anytime best of Protein with its early stopping, by "
                       f"{PROBLEMS[p].cost_unit}: {said} (target: >= every peer at every "
                       f"checkpoint) -> {verdict(not any(behind.values()))}")
    return out
