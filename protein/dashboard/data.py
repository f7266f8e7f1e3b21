"""What the dashboard shows, as JSON-ready dicts built from a study's stored trials.

A ``Feed`` follows one study for one dashboard process: each refresh reads the study (the
storage reads only the rows changed since the last read), notes which trials changed, and
answers a page's ``since=REV`` with just those trials and a fresh summary, so a refresh of a
10,000-trial study sends a few rows, not all of them. Nothing here writes to the study.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from protein.masking import mask_url
from protein.optimizer.importance import importance
from protein.report.markdown import importance_meaningful
from protein.runner.supervisor import read_run_record

LOG_TAIL = 8000  # bytes of a trial's stdout/stderr shown
IMPORTANCE_MAX = 500  # importance is fitted on at most the last this many complete trials
LOG_NAMES = ("stdout.log", "stderr.log", "error.txt")
ETA_WINDOW = 20  # the finishing rate is taken over this many latest finished trials


def clean(v: Any) -> Any:
    """``v`` with every non-finite float as None (JSON has no NaN), tuples as lists."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, Mapping):
        return {str(k): clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [clean(x) for x in v]
    if isinstance(v, (str, int, bool)) or v is None:
        return v
    return str(v)


def _num(v: Any) -> Any:
    """A float as JSON can hold it (None for NaN and infinities); anything else as is."""
    return v if not isinstance(v, float) or math.isfinite(v) else None


def trial_row(t: Any) -> dict[str, Any]:
    """One trial for the page: what the table, the plots and the detail panel need (its
    traceback and logs come with ``trial_logs``). Written for speed: a 10,000-trial study
    makes 10,000 of these on its first load."""
    end = t.finished_at or t.heartbeat_at
    info = {k: v for k, v in t.info.items() if k not in ("traceback", "process", "metrics",
                                                         "values")}
    return {
        "id": t.trial_id, "state": t.state.value, "score": _num(t.score), "cost": _num(t.cost),
        "values": clean(t.values or {}), "metrics": clean(t.metrics),
        "params": {k: _num(v) for k, v in t.params.items()},
        "worker": t.worker, "created": t.created_at, "finished": t.finished_at,
        "duration": (end - t.created_at) if end and t.created_at else None,
        "curve": [[r.step, _num(r.value), _num(r.cost)] for r in t.intermediate],
        "info": clean(info) if info else {},
    }


def space_of(study: Any) -> list[dict[str, Any]]:
    """Each searched parameter: its name, whether its axis is log-like, its choices."""
    out = []
    for name in study.space.names:
        d = study.space.dists[name]
        kind = d.kind
        out.append(clean({"name": name, "kind": kind,
                          "log": kind in ("log_normal", "uniform_pow2"),
                          "choices": list(getattr(d, "choices", []) or []) or None}))
    return out


class Feed:
    """One study as the dashboard follows it (see the module docstring)."""

    def __init__(self, study: Any, run_dir: Path | None = None) -> None:
        self.study = study
        self.run_dir = run_dir
        self.rev = 0
        self.seen: dict[int, tuple[Any, int]] = {}
        self.trials: list[Any] = []
        self._lock = threading.Lock()
        self.rows: dict[int, dict[str, Any]] = {}  # each trial's row, made once per change
        self._importance: tuple[int, dict[str, float], str] = (-1, {}, "")
        self._fitting: threading.Thread | None = None

    def update(self) -> None:
        """Read the study again; trials that changed get the next revision."""
        with self._lock:
            trials = self.study.trials()
            changed = [t for t in trials if self.seen.get(t.trial_id, (None, 0))[0] is not t]
            if changed:
                self.rev += 1
                for t in changed:
                    self.seen[t.trial_id] = (t, self.rev)
                    self.rows.pop(t.trial_id, None)
            self.trials = trials

    def since(self, rev: int) -> dict[str, Any]:
        """The trials changed after revision ``rev`` (all for 0), and the summary now."""
        self.update()
        with self._lock:
            rows = []
            for i, (t, r) in self.seen.items():
                if r > rev:
                    if i not in self.rows:
                        self.rows[i] = trial_row(t)
                    rows.append(self.rows[i])
            trials = self.trials
        return {"rev": self.rev, "full": rev <= 0, "trials": rows,
                "summary": self.summary(trials)}

    def summary(self, trials: list) -> dict[str, Any]:
        study, cfg = self.study, self.study.config
        states: dict[str, int] = {}
        workers: dict[str, dict[str, int]] = {}
        for t in trials:
            states[t.state.value] = states.get(t.state.value, 0) + 1
            w = workers.setdefault(t.worker or "-", {})
            w[t.state.value] = w.get(t.state.value, 0) + 1
        best = study.best()
        finished = sorted(t.finished_at for t in trials if t.finished_at)
        total = self._run_record().get("max_trials") or cfg.max_trials
        done = sum(v for k, v in states.items() if k != "running")
        eta = None
        recent = finished[-ETA_WINDOW:]
        if total and done < total and len(recent) >= 2 and recent[-1] > recent[0]:
            rate = (len(recent) - 1) / (recent[-1] - recent[0])  # trials per second
            eta = (total - done) / rate
        complete = [t for t in trials if t.is_complete]
        return clean({
            "study": study.name, "metric": cfg.metric, "goal": cfg.goal,
            "objectives": [{"name": o.name, "goal": o.goal} for o in cfg.objectives],
            "method": cfg.method, "max_trials": total, "states": states,
            "workers": workers, "eta_s": eta, "updated": time.time(),
            "best": None if best is None else best.trial_id,
            "front": [t.trial_id for t in study.cost_front()],
            "pareto_set": ([t.trial_id for t in study.objective_front()]
                           if len(cfg.objectives) > 1 else []),
            "space": space_of(study), "importance": self.importance(complete),
            "storage": mask_url(study.storage.url),
        })

    def _run_record(self) -> dict[str, Any]:
        """The run folder's run.json (the sweep's own --max-trials), {} without one."""
        return {} if self.run_dir is None else read_run_record(self.run_dir)

    def importance(self, complete: list) -> dict[str, Any]:
        """Each parameter's share of the score's variance, refitted only when the count of
        complete trials changed; says when it is not yet meaningful."""
        if not importance_meaningful(self.study, complete):
            need = max(5, len(self.study.space.names) + 1)
            return {"shares": {}, "note": f"not yet meaningful: {len(complete)} complete "
                                          f"trials, needs {need}"}
        count, shares, failed = self._importance
        if count != len(complete) and (self._fitting is None or not self._fitting.is_alive()):
            # a GP fit takes a second or more: in the background, never in a refresh
            self._fitting = threading.Thread(target=self._fit_importance,
                                             args=(complete[-IMPORTANCE_MAX:], len(complete)),
                                             daemon=True)
            self._fitting.start()
        if count < 0:
            return {"shares": {}, "note": "being computed"}
        note = (f"from the last {IMPORTANCE_MAX} complete trials"
                if count > IMPORTANCE_MAX else "")
        if count != len(complete):
            note = ", ".join(filter(None, [note, f"of {count} complete trials; updating"]))
        return {"shares": shares, "note": failed or note}

    def _fit_importance(self, used: list, count: int) -> None:
        try:
            shares = importance(self.study.space, used, self.study.config.sign)
        except Exception as e:  # noqa: BLE001 - shown on the page, not a dead server thread
            self._importance = (count, {}, f"could not be computed ({type(e).__name__}: {e})")
            return
        self._importance = (count, shares, "")

    def trial_logs(self, trial_id: int) -> dict[str, Any]:
        """The tail of a trial's log files and its traceback. Only the fixed file names in
        the trial's own folder under the run folder are read."""
        t = self.study.trial(trial_id)  # TrialError for an id the study does not have
        out: dict[str, Any] = {"id": trial_id, "traceback": t.info.get("traceback")}
        if self.run_dir is None:
            return out
        d = self.run_dir / f"trial_{int(trial_id):04d}"
        for name in LOG_NAMES:
            p = d / name
            if p.is_symlink() or not p.is_file():
                continue
            with open(p, "rb") as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - LOG_TAIL))
                out[name] = f.read().decode(errors="replace")
        return out


def study_row(feed: Feed) -> dict[str, Any]:
    """One study of the storage's list: counts by state, best score, last activity."""
    feed.update()
    trials = feed.trials
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.value] = states.get(t.state.value, 0) + 1
    best = feed.study.best()
    last = max((t.finished_at or t.heartbeat_at or t.created_at or 0.0 for t in trials),
               default=None)
    return clean({"study": feed.study.name, "states": states,
                  "metric": feed.study.config.metric, "goal": feed.study.config.goal,
                  "best": None if best is None else best.score, "last_activity": last})
