"""Rules every storage backend applies when a trial is finished."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from protein.errors import TrialError
from protein.trial import Trial, TrialState


def expired(t: Trial) -> bool:
    """Whether ``t`` was failed because its worker went silent or died (not by its own run)."""
    return t.state is TrialState.FAILED and str(t.info.get("failure", "")).startswith("expired")


def counts(t: Trial, trials: Sequence[Trial]) -> bool:
    """Whether ``t`` uses up one of a sweep's ``max_trials``: not a trial lost to a dead or
    silent worker, nor a start-up crash before any trial of the study had completed (a
    command that could not start at all, e.g. a typo since fixed)."""
    if expired(t):
        return False
    if t.info.get("startup_crash"):
        done = [d.finished_at for d in trials if d.is_complete and d.finished_at is not None]
        return bool(done) and min(done) <= (t.finished_at or 0)
    return True


def finished_info(t: Trial, info: Mapping[str, Any]) -> dict[str, Any]:
    """The info of ``t`` once finished with ``info``; a late result of an expired trial
    keeps the expiry as ``expired_before``."""
    merged = {**t.info, **info}
    if expired(t) and "failure" not in info:
        merged["expired_before"] = merged.pop("failure")
    return merged


def check_finish(t: Trial, state: TrialState, score: float | None, cost: float | None) -> bool:
    """True when ``t`` already holds exactly this result (a harmless repeat).

    Raises TrialError when ``t`` is finished with a different result.
    """
    if t.state is TrialState.RUNNING:
        return False
    if expired(t) and state is not TrialState.FAILED:
        return False  # the late result of a trial given up for lost: kept, nothing is lost
    same_cost = cost is None or t.cost == cost
    if t.state is state and t.score == score and same_cost:
        return True
    raise TrialError(
        f"trial {t.trial_id}: already {t.state.value} (score={t.score}, cost={t.cost}); "
        f"refusing to change it to {state.value} (score={score}, cost={cost})"
    )


def released_info(info: Mapping[str, Any], reason: str, wall: float = 0.0) -> dict[str, Any]:
    """The info of a running trial its worker hands back (``StudyStorage.release``) after
    ``wall`` seconds: no process holds it, ``released`` says why until another worker takes
    it, and ``wall_before`` sums the wall time of its attempts so far."""
    out = {k: v for k, v in info.items() if k != "process"}
    return {**out, "released": reason, "handed_back": int(info.get("handed_back", 0)) + 1,
            "wall_before": float(info.get("wall_before", 0.0)) + max(0.0, float(wall))}


def reassigned_info(info: Mapping[str, Any]) -> dict[str, Any]:
    """The info of a stale trial handed to a new worker: a trial its worker handed back
    keeps its count of hand-backs; one whose worker died counts a retry."""
    out = {k: v for k, v in info.items() if k not in ("process", "released")}
    if "released" not in info:
        out["retries"] = int(info.get("retries", 0)) + 1
    return out
