"""What a trial's result must be, checked in one place: every path that tells a result
(``Study.tell``, the runner through it, the ``Protein`` suggest/observe API) calls
``validate_result``. A wrong type or a bad cost is a one-line ``TrialError`` naming the
trial; a non-finite score is recorded as a failure, with a warning."""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import Any

from protein.config import SweepConfig
from protein.config.objectives import metric_values
from protein.errors import TrialError
from protein.trial import TrialState


def validate_result(
    trial_id: int, score: Any, cost: Any, failed: bool, pruned: bool, reason: str | None,
    config: SweepConfig | None = None,
) -> tuple[TrialState, float | None, float | None, dict]:
    """``(state, score, cost, info)`` of a told result: ``score`` a number, or with several
    metrics a mapping of each metric to its value (``info["values"]``); ``cost`` > 0 or
    None; ``failed`` and ``pruned`` as ``Study.tell`` takes them."""
    info: dict[str, Any] = {}
    if pruned and isinstance(score, Mapping) and config is not None:
        score = score.get(config.metric)
    if (config is not None and score is not None and not pruned
            and (config.multi or isinstance(score, Mapping))):
        score, values = _values(trial_id, score, config)
        info["values"] = values
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad and not (failed or pruned):
            print(f"protein: warning: trial {trial_id}: {bad[0]} is {values[bad[0]]}; "
                  "recorded as failed", file=sys.stderr)
            info["failure"] = f"non-finite {bad[0]} ({values[bad[0]]})"
            return TrialState.FAILED, None, cost_of(trial_id, cost), info
    if failed and pruned:
        raise TrialError(f"trial {trial_id}: give one of failed and pruned, not both")
    if failed:
        if score is not None:
            raise TrialError(f"trial {trial_id}: a failed trial takes no score; drop --score")
        info["failure"] = reason or "failed"
        return TrialState.FAILED, None, cost_of(trial_id, cost), info
    if pruned:
        if reason:
            info["pruned"] = reason
        s = None if score is None else number(trial_id, "score", score)
        return TrialState.PRUNED, s, cost_of(trial_id, cost), info
    if score is None:
        raise TrialError(
            f"trial {trial_id}: missing score; give score=..., or failed=True / pruned=True"
        )
    s = number(trial_id, "score", score)
    c = cost_of(trial_id, cost)
    if not math.isfinite(s):
        print(f"protein: warning: trial {trial_id}: score is {s}; recorded as failed",
              file=sys.stderr)
        info["failure"] = f"non-finite score ({s})"
        return TrialState.FAILED, None, c, info
    return TrialState.COMPLETE, s, 1.0 if c is None else c, info


def _values(trial_id: int, score: Any, config: SweepConfig) -> tuple[float, dict[str, float]]:
    """(primary value, every metric's value) from a mapping; a bare number only when the
    sweep has a single metric and no constraint."""
    if not isinstance(score, Mapping):
        if config.multi:
            names = ", ".join(f"{n}=..." for n in config.metric_names)
            raise TrialError(f"trial {trial_id}: this sweep has several metrics; give each "
                             f"one's value ({names}), got {score!r}")
        score = {config.metric: score}
    try:
        values = metric_values(config.objectives, config.constraints, score)
    except ValueError as e:
        raise TrialError(f"trial {trial_id}: {e}") from None
    return values[config.metric], values


def number(trial_id: int, what: str, v: Any) -> float:
    if isinstance(v, bool):
        raise TrialError(f"trial {trial_id}: {what} must be a number, got {v!r}")
    try:
        return float(v)
    except (TypeError, ValueError):
        raise TrialError(f"trial {trial_id}: {what} must be a number, got {v!r}") from None


def finite(trial_id: int, what: str, v: Any) -> float:
    """A further metric: a finite number (the runner leaves out the others), else an error."""
    x = number(trial_id, what, v)
    if not math.isfinite(x):
        raise TrialError(f"trial {trial_id}: {what} must be a finite number, got {x}; leave it "
                         "out when the trial has no value for it")
    return x


def cost_of(trial_id: int, cost: Any, what: str = "cost", missing: str = "1") -> float | None:
    """A cost as a float (None stays None); ``missing`` is what a left-out cost becomes,
    for the error's hint (the runner's is wall seconds)."""
    if cost is None:
        return None
    c = number(trial_id, what, cost)
    if not math.isfinite(c) or c <= 0:
        raise TrialError(
            f"trial {trial_id}: {what} must be a finite number > 0 (seconds, steps, dollars), "
            f"got {cost!r}; " + (f"leave it out to use {missing}" if what == "cost" else
                                 "leave it out when it is not known")
        )
    return c


def problem(check: Any, *args: Any) -> str | None:
    """What ``check(*args)`` (``number``, ``cost_of``) says is wrong, or None."""
    try:
        check(*args)
    except TrialError as e:
        return str(e)
    return None
