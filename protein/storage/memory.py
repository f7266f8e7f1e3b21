"""An in-process trial log (the library default when no storage is given)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from protein.errors import TrialError
from protein.storage.base import AskAnswer, AskRequest
from protein.storage.rules import check_finish, finished_info, reassigned_info, released_info
from protein.trial import Report, Trial, TrialState


class MemoryStudyStorage:
    """Trials of one study in a list (a ``StudyStorage``); thread-safe, lost with the process."""

    url = "memory"

    def __init__(self) -> None:
        self._trials: list[Trial] = []
        self._lock = threading.RLock()
        self._asks: dict[int, tuple[AskRequest, AskAnswer | None]] = {}
        self._next_ask = 0

    def lock(self) -> AbstractContextManager[Any]:
        return self._lock

    def trials(self) -> list[Trial]:
        with self._lock:
            return list(self._trials)

    def get_trial(self, trial_id: int) -> Trial:
        with self._lock:
            if not 0 <= trial_id < len(self._trials):
                raise TrialError(
                    f"trial {trial_id}: no such trial; the study has trials 0..{len(self._trials) - 1}"
                )
            return self._trials[trial_id]

    def count(self) -> int:
        return len(self._trials)

    def running(self) -> list[Trial]:
        with self._lock:
            return [t for t in self._trials if t.state is TrialState.RUNNING]

    def create_trial(self, params: Mapping[str, Any], info: Mapping[str, Any],
                     worker: str | None = None, lease_s: float | None = None) -> Trial:
        with self._lock:
            now = time.time()
            t = Trial(len(self._trials), dict(params), TrialState.RUNNING, info=dict(info),
                      worker=worker, created_at=now, heartbeat_at=now, lease_s=lease_s)
            self._trials.append(t)
            return t

    def finish_trial(self, trial_id: int, state: TrialState, score: float | None,
                     cost: float | None, info: Mapping[str, Any]) -> Trial:
        with self._lock:
            t = self.get_trial(trial_id)
            same = check_finish(t, state, score, cost)
            if same:
                return t
            new = dataclasses.replace(
                t, state=state, score=score, cost=cost, info=finished_info(t, info),
                finished_at=time.time(),
            )
            self._trials[trial_id] = new
            return new

    def add_intermediate(self, trial_id: int, step: float, value: float,
                         cost: float | None = None) -> None:
        with self._lock:
            t = self.get_trial(trial_id)
            if t.state is not TrialState.RUNNING:
                raise TrialError(f"trial {trial_id}: already {t.state.value}; progress is only "
                                 "recorded for running trials")
            kept = tuple(r for r in t.intermediate if r.step != step)  # a step reported again
            reports = sorted(kept + (Report(step, value, cost),), key=lambda r: r.step)
            self._trials[trial_id] = dataclasses.replace(
                t, intermediate=tuple(reports),
                heartbeat_at=time.time())

    def heartbeat(self, trial_ids: list[int]) -> None:
        now = time.time()
        with self._lock:
            for i in trial_ids:
                t = self.get_trial(i)
                if t.state is TrialState.RUNNING:
                    self._trials[i] = dataclasses.replace(t, heartbeat_at=now)

    def expire(self, lease_s: float, on_expire: str) -> list[Trial]:
        """Only trials handed back expire: the others live and die with this process."""
        with self._lock:
            return [t for t in self._trials.values()
                    if t.state is TrialState.RUNNING and t.info.get("released")]

    def reassign(self, trial_id: int, worker: str | None, process: str | None = None) -> Trial:
        with self._lock:
            t = self.get_trial(trial_id)
            info = reassigned_info(t.info)
            info = {**info, "process": process} if process else info
            t = dataclasses.replace(t, worker=worker, info=info, heartbeat_at=time.time())
            self._trials[trial_id] = t
            return t

    def release(self, trial_id: int, reason: str, wall: float = 0.0) -> Trial:
        with self._lock:
            t = self.get_trial(trial_id)
            if t.state is not TrialState.RUNNING:
                raise TrialError(f"trial {trial_id}: already {t.state.value}; only a running "
                                 "trial can be handed back")
            t = dataclasses.replace(t, info=released_info(t.info, reason, wall))
            self._trials[trial_id] = t
            return t

    def enqueue(self, requester: str, worker: str | None, count: int, max_trials: int | None,
                retry_stale: bool, lease_s: float | None, held: bool = True) -> AskRequest:
        with self._lock:
            r = AskRequest(self._next_ask, requester, worker, count, max_trials, retry_stale,
                           lease_s, held)
            self._next_ask += 1
            self._asks[r.request_id] = (r, None)
            return r

    def waiting(self) -> list[AskRequest]:
        with self._lock:
            return [r for r, a in self._asks.values() if a is None]

    def answer(self, request_id: int, answer: AskAnswer) -> None:
        with self._lock:
            if request_id in self._asks:
                self._asks[request_id] = (self._asks[request_id][0], answer)

    def answer_of(self, request_id: int) -> AskAnswer | None:
        with self._lock:
            return self._asks[request_id][1] if request_id in self._asks else None

    def withdraw(self, request_id: int) -> None:
        with self._lock:
            self._asks.pop(request_id, None)
