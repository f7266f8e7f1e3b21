"""A study's trials as a pandas DataFrame, one row per trial (``Study.trials_dataframe``).

Columns, in Optuna's spirit: ``number`` (the trial id), ``state``, ``value`` (the score; with
several metrics also ``values_<metric>``), ``cost``, ``params_<dotted.name>``, the further
numbers a trial reported as ``metrics_<name>``, ``datetime_start``, ``datetime_complete``,
``duration``, ``worker``, ``reason`` (why the params were chosen) and ``failure``. Running
trials also get ``last_step`` and ``last_value``, their latest report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from protein.errors import require
from protein.trial import Trial


def trials_dataframe(trials: Sequence[Trial], param_names: Sequence[str],
                     metric_names: Sequence[str]) -> Any:
    pd = require("pandas", "dataframe", "Study.trials_dataframe()")
    rows = []
    for t in trials:
        values = t.values
        row: dict[str, Any] = {"number": t.trial_id, "state": t.state.value, "value": t.score}
        if len(metric_names) > 1:
            row.update({f"values_{m}": values.get(m) for m in metric_names})
        row["cost"] = t.cost
        row.update({f"params_{n}": t.params.get(n) for n in param_names})
        row.update({f"metrics_{k}": v for k, v in t.metrics.items()})
        start = pd.to_datetime(t.created_at, unit="s", utc=True) if t.created_at else pd.NaT
        end = pd.to_datetime(t.finished_at, unit="s", utc=True) if t.finished_at else pd.NaT
        row.update({"datetime_start": start, "datetime_complete": end,
                    "duration": (end - start) if t.created_at and t.finished_at else pd.NaT,
                    "worker": t.worker, "reason": t.info.get("reason"),
                    "failure": t.info.get("failure")})
        if t.intermediate:
            row.update({"last_step": t.intermediate[-1].step,
                        "last_value": t.intermediate[-1].value})
        rows.append(row)
    return pd.DataFrame(rows)
