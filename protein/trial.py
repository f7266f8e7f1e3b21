"""Records: what was run, with which params, and how it ended; what to run next, and why."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple

from protein.output import iso_time
from protein.tree import set_path


class TrialState(str, Enum):
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    PRUNED = "pruned"

    @property
    def finished(self) -> bool:
        return self is not TrialState.RUNNING


class Report(NamedTuple):
    """One intermediate value of a running trial: ``value`` after ``step`` steps, having
    spent ``cost`` in the study's cost unit (None when the reporter did not say)."""

    step: float
    value: float
    cost: float | None = None


@dataclass(frozen=True)
class Trial:
    """One trial of a study.

    ``params`` is flat (``{"trainer.learning_rate": 3e-4}``); ``score`` is in the user's
    units and direction; ``cost`` is > 0 (seconds, dollars, steps: the user's choice);
    ``info`` says why the params were chosen (``reason``, predictions) and, for failures,
    ``failure``; ``intermediate`` holds the ``Report``\ s (step, value, cost so far) made while
    running.
    ``lease_s`` is this trial's own lease (``protein ask --lease``), else the study's.
    """

    trial_id: int
    params: Mapping[str, Any]
    state: TrialState = TrialState.RUNNING
    score: float | None = None
    cost: float | None = None
    info: Mapping[str, Any] = field(default_factory=dict)
    intermediate: tuple[Report, ...] = ()
    worker: str | None = None
    created_at: float | None = None
    finished_at: float | None = None
    heartbeat_at: float | None = None
    lease_s: float | None = None  # seconds without a heartbeat before it expires; None: the study's

    def __post_init__(self) -> None:
        if any(not isinstance(r, Report) for r in self.intermediate):  # (step, value[, cost])
            object.__setattr__(self, "intermediate", tuple(Report(*r) for r in self.intermediate))

    @property
    def is_complete(self) -> bool:
        return (
            self.state is TrialState.COMPLETE
            and self.score is not None
            and math.isfinite(self.score)
        )

    @property
    def values(self) -> dict[str, float]:
        """Every optimised metric's value, with several metrics (the first is ``score``);
        empty with one metric, whose value is ``score``. Kept in ``info["values"]``."""
        v = self.info.get("values") if isinstance(self.info, Mapping) else None
        return dict(v) if isinstance(v, Mapping) else {}

    @property
    def metrics(self) -> dict[str, float]:
        """The further numbers the trial reported (``success_rate``, ``seconds``): kept and
        shown, not optimised. Kept in ``info["metrics"]``."""
        v = self.info.get("metrics") if isinstance(self.info, Mapping) else None
        return dict(v) if isinstance(v, Mapping) else {}

    @property
    def reported(self) -> dict[str, float]:
        """Every number the trial told: its further metrics and its optimised values."""
        return {**self.metrics, **self.values}

    @property
    def nested_params(self) -> dict[str, Any]:
        """``params`` as a tree: ``{"trainer": {"learning_rate": ...}}`` (no fixed overrides)."""
        out: dict[str, Any] = {}
        for k, v in self.params.items():
            set_path(out, k, v)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: nested params, timestamps in ISO 8601 (UTC)."""
        return {
            "trial": self.trial_id,
            "state": self.state.value,
            "params": self.nested_params,
            "score": self.score,
            "cost": self.cost,
            "info": dict(self.info),
            "worker": self.worker,
            "created_at": iso_time(self.created_at),
            "finished_at": iso_time(self.finished_at),
        }


@dataclass(frozen=True)
class Suggestion:
    """Params to run next (flat) and why they were chosen (``info["reason"]``, predictions)."""

    params: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return str(self.info.get("reason", ""))


def values_of(trial: Trial, names: Sequence[str]) -> dict[str, float] | None:
    """A trial's value of every metric in ``names`` (the first is the primary metric, whose
    value is the trial's ``score``, or for a trial the curve rule stopped the final score it
    predicted then; the others come from ``info["values"]``), or None when one is missing or
    not finite."""
    vals = trial.values
    vals[names[0]] = predicted_final(trial) if trial.state is TrialState.PRUNED else None
    if vals[names[0]] is None:
        vals[names[0]] = trial.score
    out = {}
    for n in names:
        v = vals.get(n)
        if v is None or isinstance(v, bool):
            return None
        try:
            f = float(v)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(f):
            return None
        out[n] = f
    return out


def predicted_final(trial: Trial) -> float | None:
    """The final score the curve rule predicted for a trial it stopped (the model's best
    guess of what the trial's params give at their whole budget), or None."""
    why = trial.info.get("early_stop") if isinstance(trial.info, Mapping) else None
    p = why.get("predicted_final") if isinstance(why, Mapping) else None
    if isinstance(p, (int, float)) and not isinstance(p, bool) and math.isfinite(p):
        return float(p)
    return None
