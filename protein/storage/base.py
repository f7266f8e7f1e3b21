"""What a study needs from its storage: the ``Storage`` protocol.

Three backends implement it: ``MemoryStorage`` (in-process, the library default), and one
study's view (``BoundStorage``) of ``SQLiteStorage`` or ``PostgresStorage``. A backend with
nothing to do for a call (no leases in memory) implements it as a no-op.

Rules every backend keeps (``rules.check_finish``): a finished trial never changes; telling
it the same result again returns it unchanged, a different one is a ``TrialError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from protein.trial import Trial, TrialState


@runtime_checkable
class Storage(Protocol):
    """One study's trials, shared by every process that opens the same study."""

    @property
    def url(self) -> str:
        """Where the trials live (``memory``, a SQLite path or a PostgreSQL URL)."""

    def lock(self) -> AbstractContextManager[Any]:
        """Held while a suggestion is computed and stored, so concurrent asks see each other."""

    def trials(self) -> list[Trial]:
        """Every trial, in creation order."""

    def get_trial(self, trial_id: int) -> Trial:
        """One trial; ``TrialError`` naming the valid ids when there is no such trial."""

    def create_trial(self, params: Mapping[str, Any], info: Mapping[str, Any],
                     worker: str | None = None) -> Trial:
        """A new running trial with the next id."""

    def finish_trial(self, trial_id: int, state: TrialState, score: float | None,
                     cost: float | None, info: Mapping[str, Any]) -> Trial:
        """Record how a running trial ended (``info`` is merged into its info)."""

    def add_intermediate(self, trial_id: int, step: float, value: float) -> None:
        """Record a value reported while running (and refresh its heartbeat)."""

    def heartbeat(self, trial_ids: list[int]) -> None:
        """Mark running trials as alive now."""

    def expire(self, lease_s: float, on_expire: str) -> list[Trial]:
        """Running trials silent for ``lease_s`` seconds: failed (``fail``) or returned to be
        handed out again (``retry``); returns the expired ones."""

    def reassign(self, trial_id: int, worker: str | None) -> Trial:
        """Hand a running trial to ``worker`` (and refresh its heartbeat)."""
