"""Helpers shared by the trainers: device choice, seeding, flag parsing, JSON output."""

from __future__ import annotations

import ast
import json
import math
import random
import sys
from collections.abc import Mapping, Sequence
from typing import Any


def pick_device(device: str | None) -> str:
    import torch

    if device:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device={device!r} but torch sees no CUDA device; use cpu")
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def get(params: Mapping[str, Any], path: str, default: Any) -> Any:
    """``params["a"]["b"]`` for ``path="a.b"``, also accepting the flat key ``"a.b"``."""
    if path in params:
        return params[path]
    node: Any = params
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    return node


def parse_flags(argv: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``--a.b=1 --seed=3`` -> (nested params, options ``seed``/``device``)."""
    params: dict[str, Any] = {}
    opts: dict[str, Any] = {}
    for arg in argv:
        if not arg.startswith("--") or "=" not in arg:
            raise SystemExit(f"expected --name=value flags, got {arg!r}")
        key, raw = arg[2:].split("=", 1)
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = {"true": True, "false": False}.get(raw.lower(), raw)
        if key in ("seed", "device"):
            opts[key] = value
            continue
        node = params
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return params, opts


def main(train: Any, argv: Sequence[str] | None = None) -> int:
    """Script entry: flags in, progress lines and a final result JSON line out."""
    params, opts = parse_flags(sys.argv[1:] if argv is None else argv)

    def report(step: float, value: float, cost: float | None = None) -> bool:
        line = {"step": step, "value": value}
        print(json.dumps(line if cost is None else {**line, "cost": cost}), flush=True)
        return False

    result = train(params, seed=int(opts.get("seed", 0)), device=opts.get("device"),
                   report=report)
    print(json.dumps({k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                      for k, v in result.items()}), flush=True)
    return 0
