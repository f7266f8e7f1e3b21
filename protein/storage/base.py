"""What a study needs from its storage: the ``StudyStorage`` protocol.

Two classes implement it: ``MemoryStudyStorage`` (in-process, the library default) and
``SQLStudyStorage``, one study's view of a SQL backend (``SQLiteBackend`` or
``PostgresBackend``: every study of one database, ``open_backend``). An implementation with
nothing to do for a call (no leases in memory) makes it a no-op.

Words: a *backend* holds many studies; a *study storage* is one study's trials.

Rules every study storage keeps (``rules.check_finish``): a finished trial never changes; telling
it the same result again returns it unchanged, a different one is a ``TrialError``. The one
exception: a trial failed because its lease expired takes a late result (nothing is lost).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from protein.trial import Trial, TrialState


@dataclass(frozen=True)
class AskRequest:
    """An ask waiting for a suggestion: whoever holds the ask lock serves every waiting
    request with one model fit (``Study.ask``). ``requester`` is the asking process
    (``protein.process.identity``), ``worker`` the name stored with its trials; ``held``:
    the asking process runs the trials itself, so they are its (``info["process"]``) and
    expire when it dies (a command-line ask hands them to another process: not held)."""

    request_id: int
    requester: str
    worker: str | None
    count: int
    max_trials: int | None = None
    retry_stale: bool = False
    lease_s: float | None = None
    held: bool = True


@dataclass(frozen=True)
class AskAnswer:
    """The trials handed to a request (and why there were fewer than asked, if so)."""

    trial_ids: tuple[int, ...]
    exhausted: str | None = None


@runtime_checkable
class StudyStorage(Protocol):
    """One study's trials, shared by every process that opens the same study."""

    @property
    def url(self) -> str:
        """Where the trials live (``memory``, a SQLite path or a PostgreSQL URL)."""

    def lock(self) -> AbstractContextManager[Any]:
        """Held while a suggestion is computed and stored, so concurrent asks see each other."""

    def trials(self) -> list[Trial]:
        """Every trial, in creation order."""

    def count(self) -> int:
        """How many trials there are (any state): all a random/sobol/grid ask needs."""

    def running(self) -> list[Trial]:
        """The running trials (their intermediate values may be left out)."""

    def get_trial(self, trial_id: int) -> Trial:
        """One trial; ``TrialError`` naming the valid ids when there is no such trial."""

    def create_trial(self, params: Mapping[str, Any], info: Mapping[str, Any],
                     worker: str | None = None, lease_s: float | None = None) -> Trial:
        """A new running trial with the next id (and its own lease, if ``lease_s``)."""

    def finish_trial(self, trial_id: int, state: TrialState, score: float | None,
                     cost: float | None, info: Mapping[str, Any]) -> Trial:
        """Record how a running trial ended (``info`` is merged into its info)."""

    def add_intermediate(self, trial_id: int, step: float, value: float,
                         cost: float | None = None) -> None:
        """Record a value reported while running, with the cost spent so far when known (and
        refresh its heartbeat)."""

    def heartbeat(self, trial_ids: list[int]) -> None:
        """Mark running trials as alive now."""

    def expire(self, lease_s: float, on_expire: str) -> list[Trial]:
        """Running trials silent for ``lease_s`` seconds: failed (``fail``) or returned to be
        handed out again (``retry``); returns the expired ones."""

    def reassign(self, trial_id: int, worker: str | None, process: str | None = None) -> Trial:
        """Hand a running trial to ``worker`` in process ``process`` (``info["process"]``;
        None: no process holds it), and refresh its heartbeat."""

    def release(self, trial_id: int, reason: str, wall: float = 0.0) -> Trial:
        """A running trial given back by its worker (told to stop: preempted, out of time)
        after ``wall`` seconds: no process holds it, and the next ``expire`` returns it at
        once, whatever its lease, for another worker to run; its intermediate values are
        kept."""

    def enqueue(self, requester: str, worker: str | None, count: int, max_trials: int | None,
                retry_stale: bool, lease_s: float | None, held: bool = True) -> AskRequest:
        """Queue an ask (before taking the ask lock)."""

    def waiting(self) -> list[AskRequest]:
        """Queued asks not answered yet, oldest first."""

    def answer(self, request_id: int, answer: AskAnswer) -> None:
        """Record the trials handed to a queued ask."""

    def answer_of(self, request_id: int) -> AskAnswer | None:
        """The answer to a queued ask, once some ask-lock holder has served it."""

    def withdraw(self, request_id: int) -> None:
        """Remove a queued ask (answered or given up)."""
