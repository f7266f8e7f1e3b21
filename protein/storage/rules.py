"""Rules every storage backend applies when a trial is finished."""

from __future__ import annotations

from protein.errors import TrialError
from protein.trial import Trial, TrialState


def check_finish(t: Trial, state: TrialState, score: float | None, cost: float | None) -> bool:
    """True when ``t`` already holds exactly this result (a harmless repeat).

    Raises TrialError when ``t`` is finished with a different result.
    """
    if t.state is TrialState.RUNNING:
        return False
    same_cost = cost is None or t.cost == cost
    if t.state is state and t.score == score and same_cost:
        return True
    raise TrialError(
        f"trial {t.trial_id}: already {t.state.value} (score={t.score}, cost={t.cost}); "
        f"refusing to change it to {state.value} (score={score}, cost={cost})"
    )
