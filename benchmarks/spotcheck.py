"""Protein's suggestions on a few problems, seeds fixed: a before/after check for refactors.

    python -m benchmarks.spotcheck --write before.json     # on the old commit
    python -m benchmarks.spotcheck --compare before.json   # on the new one: same or not

It drives the library exactly as the benchmarks do (``protein.Protein`` suggest/observe),
on benchmark problems (mixed types, a cost-aware one) and on a space with a categorical,
a conditional parameter, failures, a constraint and batches of three (pending points), so
every path of the optimizer is taken. A refactor that keeps the numerics gives the same
file, byte for byte; a change to the optimizer shows here first.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

PARAMS = {
    "opt": {"distribution": "categorical", "choices": ["sgd", "adam", "rms"]},
    "lr": {"distribution": "log_normal", "min": 1e-4, "max": 1, "mean": 1e-2, "scale": "auto"},
    "mom": {"distribution": "uniform", "min": 0, "max": 1, "mean": 0.5, "scale": "auto",
            "when": {"opt": "sgd"}},
    "width": {"distribution": "uniform_pow2", "min": 8, "max": 256, "mean": 32, "scale": "auto"},
}


def _loss(p: dict[str, Any]) -> tuple[float, float]:
    x = math.log10(p["lr"]) + 2
    v = x * x + {"sgd": 0.5, "adam": 0.0, "rms": 0.3}[p["opt"]] + 0.1 * math.log2(p["width"]) / 8
    if p.get("mom") is not None:
        v += (p["mom"] - 0.9) ** 2
    return v, p["width"] / 8.0


def _batched(config: dict[str, Any], several: bool) -> list[dict[str, Any]]:
    import protein

    sweep = protein.Protein(dict(config, parameters=PARAMS), seed=3)
    rows = []
    for _ in range(8):
        batch = [sweep.suggest()[0] for _ in range(3)]
        for p in batch:
            v, c = _loss(p)
            rows.append(p)
            if p["lr"] > 0.3:
                sweep.observe(p, 0.0, cost=c, is_failure=True)
            else:
                sweep.observe(p, {"loss": v, "size": c} if several else v, cost=c)
    return rows


def suggestions() -> dict[str, Any]:
    import torch

    from benchmarks import multi, peers
    from benchmarks.problems import problems

    torch.set_num_threads(1)
    out: dict[str, Any] = {}
    P = problems()
    for name, budget in [("branin_mixed", 24), ("budget_costaware", 24), ("hartmann6_mixed", 22)]:
        out[name] = [(r["error"], r["cost"]) for r in peers.run_protein(P[name], budget, 1)]
    out["branin_currin"] = [r["f"] for r in multi.run_protein(16, 0)]
    out["mixed_single"] = _batched({"metric": "loss", "goal": "minimize"}, several=False)
    out["mixed_constrained"] = _batched({"metrics": {"loss": "minimize"},
                                         "constraints": ["size <= 20"]}, several=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", type=Path, help="store the suggestions in this JSON file")
    g.add_argument("--compare", type=Path, help="compare with a file written by --write")
    args = ap.parse_args(argv)
    got = json.loads(json.dumps(suggestions(), default=str))
    if args.write:
        args.write.write_text(json.dumps(got, indent=0))
        print(f"wrote {args.write}: " + ", ".join(f"{k} {len(v)}" for k, v in got.items()))
        return 0
    want = json.loads(args.compare.read_text())
    bad = [k for k in want if got.get(k) != want[k]]
    for k in bad:
        i = next((i for i, (a, b) in enumerate(zip(got.get(k, []), want[k])) if a != b), None)
        print(f"{k}: differs first at suggestion {i}", file=sys.stderr)
    print("same suggestions" if not bad else f"{len(bad)} of {len(want)} problems differ")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
