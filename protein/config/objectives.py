"""Several metrics: what each one's goal is, and which bounds a trial must respect.

A sweep names its metrics either the single-metric way (``metric: loss``, ``goal:
minimize``) or as a mapping (``metrics: {reward: maximize, memory_gb: minimize}``), with
optional ``constraints: ["memory_gb <= 40"]``. A constraint may bound a metric that is not
optimised (it is then only recorded and modelled). The first metric is the primary one:
its value is a trial's ``score``; every metric's value is kept in ``info["values"]``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

GOALS = ("maximize", "minimize")
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][\w.\-/]*)\s*(<=|>=|<|>)\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*$")

# Words in a metric's name that say its direction (``mean_reward``, ``val/loss``).
MAXIMIZE_WORDS = {"reward", "rewards", "return", "returns", "accuracy", "acc", "score", "f1",
                  "auc", "success", "precision", "recall", "map", "bleu", "iou"}
MINIMIZE_WORDS = {"loss", "error", "err", "perplexity", "ppl", "regret", "mse", "mae", "rmse",
                  "nll", "cost", "wer", "cer", "latency"}


def infer_goal(metric: str) -> str | None:
    """``maximize`` or ``minimize`` when the metric's name leaves no doubt, else None."""
    words = set(re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", metric).lower()))
    up, down = bool(words & MAXIMIZE_WORDS), bool(words & MINIMIZE_WORDS)
    if up == down:
        return None
    return "maximize" if up else "minimize"


@dataclass(frozen=True)
class Objective:
    """One optimised metric and its goal."""

    name: str
    goal: str

    @property
    def sign(self) -> float:
        """+1 to maximise, -1 to minimise: internals maximise ``sign * value``."""
        return 1.0 if self.goal == "maximize" else -1.0


@dataclass(frozen=True)
class Constraint:
    """``metric <= bound`` (``op`` "<=") or ``metric >= bound`` (``op`` ">=")."""

    metric: str
    op: str
    bound: float

    def slack(self, value: float) -> float:
        """How far inside the bound ``value`` is: >= 0 when satisfied, < 0 when violated."""
        return self.bound - value if self.op == "<=" else value - self.bound

    def satisfied(self, value: float | None) -> bool:
        return value is not None and math.isfinite(value) and self.slack(value) >= 0

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"


def parse_metrics(raw: Any) -> tuple[Objective, ...]:
    """``{name: goal}`` or ``{name: {goal: ...}}`` (in order) -> objectives.

    Raises ``ValueError`` with a message that names the offending metric.
    """
    if not isinstance(raw, Mapping) or not raw:
        raise ValueError(
            f"expected a mapping of metric names to goals, e.g. "
            f"{{reward: maximize, memory_gb: minimize}}, got {raw!r}"
        )
    out = []
    for name, spec in raw.items():
        goal = spec.get("goal") if isinstance(spec, Mapping) else spec
        if not isinstance(name, str) or not name:
            raise ValueError(f"metric names must be non-empty strings, got {name!r}")
        if goal not in GOALS:
            raise ValueError(f"{name}: expected maximize or minimize, got {goal!r}")
        out.append(Objective(name, str(goal)))
    return tuple(out)


def parse_constraint(text: Any) -> Constraint:
    """``"memory_gb <= 40"`` -> Constraint. Strict ``<``/``>`` are read as ``<=``/``>=``."""
    m = _CONSTRAINT.match(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(
            f"expected 'METRIC <= NUMBER' or 'METRIC >= NUMBER', e.g. 'memory_gb <= 40', got {text!r}"
        )
    name, op, bound = m.groups()
    return Constraint(name, "<=" if op.startswith("<") else ">=", float(bound))


def metric_values(
    objectives: tuple[Objective, ...], constraints: tuple[Constraint, ...], given: Mapping[str, Any]
) -> dict[str, float]:
    """Check that ``given`` holds a number for every objective and constrained metric.

    Returns the values as floats (NaN allowed: the caller decides what a NaN means).
    Raises ``ValueError`` naming the missing or unknown metric.
    """
    names = list(dict.fromkeys([o.name for o in objectives] + [c.metric for c in constraints]))
    unknown = [k for k in given if k not in names]
    if unknown:
        raise ValueError(
            f"unknown metric {unknown[0]!r}; this sweep's metrics are {', '.join(names)}"
        )
    missing = [k for k in names if k not in given]
    if missing:
        raise ValueError(
            f"missing a value for {', '.join(missing)}; give every metric "
            f"({', '.join(f'{n}=...' for n in names)})"
        )
    out = {}
    for k in names:
        v = given[k]
        if isinstance(v, bool):
            raise ValueError(f"{k}: expected a number, got {v!r}")
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"{k}: expected a number, got {v!r}") from None
    return out


def feasible(constraints: tuple[Constraint, ...], values: Mapping[str, float]) -> bool:
    return all(c.satisfied(values.get(c.metric)) for c in constraints)


def metric_names(objectives: Sequence[Objective], constraints: Sequence[Constraint]) -> list[str]:
    """Every metric the objectives and constraints read, primary first, once each."""
    return list(dict.fromkeys([o.name for o in objectives] + [c.metric for c in constraints]))
