"""Studies in SQL: one schema for SQLite (the embedded default) and PostgreSQL.

Schema (version 1), readable with ``sqlite3`` / ``psql``::

    protein_meta(key, value)                       -- schema_version
    studies(name, config, seed, lease_s, on_expire, created_at)
    trials(study, trial_id, state, params, score, cost, info, worker,
           created_at, finished_at, heartbeat_at)  -- params/info are JSON text
    intermediate(study, trial_id, step, value)

Concurrency: ``ask`` runs under a per-study lock (a file lock next to a SQLite file, a
PostgreSQL advisory lock), so every asker sees the running trials of the others and trial
ids never collide; every write is one short transaction, so tells never wait for a GP fit.
"""

from __future__ import annotations

import abc
import json
import math
import os
import socket
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from protein.errors import StorageError, TrialError
from protein.storage.rules import check_finish
from protein.trial import Trial, TrialState

SCHEMA_VERSION = 1
DEFAULT_LEASE_S = 24 * 3600.0
ON_EXPIRE = ("fail", "retry")


def worker_name() -> str:
    """``host:pid`` of this process: lets a study tell a dead local worker from a slow one."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class StudyRecord:
    name: str
    config: dict[str, Any]
    seed: int
    lease_s: float
    on_expire: str
    created_at: float


def _dumps(obj: Any) -> str:
    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return str(v)
        if isinstance(v, Mapping):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(obj), sort_keys=False)


class SQLStorage(abc.ABC):
    """Shared SQL; subclasses give the connection, the placeholder and the ask lock."""

    url: str
    ph = "?"
    real = "REAL"

    # -------------------------------------------------------------- dialect
    @abc.abstractmethod
    def _execute(self, sql: str, args: tuple = ()) -> list[tuple]:
        """Run one statement in its own transaction; return fetched rows (if any)."""

    @abc.abstractmethod
    def _transaction(self) -> AbstractContextManager[Any]:
        """A write transaction; yields a cursor-like ``execute(sql, args) -> rows``."""

    @abc.abstractmethod
    def ask_lock(self, study: str) -> AbstractContextManager[None]:
        """Serialise ``ask`` across processes for one study."""

    def close(self) -> None:
        pass

    def _sql(self, sql: str) -> str:
        return sql.replace("?", self.ph) if self.ph != "?" else sql

    # --------------------------------------------------------------- schema
    def _ensure_schema(self) -> None:
        r = self.real
        statements = [
            "CREATE TABLE IF NOT EXISTS protein_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            f"""CREATE TABLE IF NOT EXISTS studies (
                name TEXT PRIMARY KEY, config TEXT NOT NULL, seed INTEGER NOT NULL,
                lease_s {r} NOT NULL, on_expire TEXT NOT NULL, created_at {r} NOT NULL)""",
            f"""CREATE TABLE IF NOT EXISTS trials (
                study TEXT NOT NULL REFERENCES studies(name) ON DELETE CASCADE,
                trial_id INTEGER NOT NULL, state TEXT NOT NULL, params TEXT NOT NULL,
                score {r}, cost {r}, info TEXT NOT NULL, worker TEXT,
                created_at {r} NOT NULL, finished_at {r}, heartbeat_at {r},
                PRIMARY KEY (study, trial_id))""",
            f"""CREATE TABLE IF NOT EXISTS intermediate (
                study TEXT NOT NULL, trial_id INTEGER NOT NULL, step {r} NOT NULL,
                value {r}, PRIMARY KEY (study, trial_id, step),
                FOREIGN KEY (study, trial_id) REFERENCES trials(study, trial_id) ON DELETE CASCADE)""",
        ]
        with self._transaction() as tx:
            for s in statements:
                tx(s)
            rows = tx(self._sql("SELECT value FROM protein_meta WHERE key = ?"), ("schema_version",))
            if not rows:
                tx(self._sql("INSERT INTO protein_meta (key, value) VALUES (?, ?)"),
                   ("schema_version", str(SCHEMA_VERSION)))
            elif int(rows[0][0]) > SCHEMA_VERSION:
                raise StorageError(
                    f"{self.url}: schema version {rows[0][0]} is newer than this Protein "
                    f"understands ({SCHEMA_VERSION}); upgrade protein-hpo"
                )

    # -------------------------------------------------------------- studies
    def create_study(self, name: str, config: Mapping[str, Any], seed: int,
                     lease_s: float = DEFAULT_LEASE_S, on_expire: str = "fail",
                     replace: bool = False) -> StudyRecord:
        if on_expire not in ON_EXPIRE:
            raise StorageError(f"on_expire must be one of {ON_EXPIRE}, got {on_expire!r}")
        text = _dumps(config)
        with self._transaction() as tx:
            rows = tx(self._sql("SELECT config, seed FROM studies WHERE name = ?"), (name,))
            if rows:
                if json.loads(rows[0][0]) == json.loads(text) and int(rows[0][1]) == seed:
                    return self.get_study(name, tx)
                if not replace:
                    raise StorageError(
                        f"study {name!r} already exists in {self.url} with a different "
                        "config or seed; pick another --study name, or pass --force to "
                        "replace its config (its trials are kept)"
                    )
                tx(self._sql("UPDATE studies SET config = ?, seed = ?, lease_s = ?, on_expire = ? "
                             "WHERE name = ?"), (text, seed, lease_s, on_expire, name))
            else:
                tx(self._sql("INSERT INTO studies (name, config, seed, lease_s, on_expire, "
                             "created_at) VALUES (?, ?, ?, ?, ?, ?)"),
                   (name, text, seed, lease_s, on_expire, time.time()))
            return self.get_study(name, tx)

    def get_study(self, name: str, tx: Any = None) -> StudyRecord:
        q = self._sql("SELECT name, config, seed, lease_s, on_expire, created_at FROM studies "
                      "WHERE name = ?")
        rows = tx(q, (name,)) if tx else self._execute(q, (name,))
        if not rows:
            names = self.study_names()
            hint = f"; studies here: {', '.join(names)}" if names else "; create it with protein init"
            raise StorageError(f"no study {name!r} in {self.url}{hint}")
        n, cfg, seed, lease, on_exp, created = rows[0]
        try:
            config = json.loads(cfg)
            if not isinstance(config, dict):
                raise ValueError("the config must be a JSON object")
            return StudyRecord(n, config, int(seed), float(lease), on_exp, float(created))
        except (ValueError, TypeError) as e:
            raise StorageError(
                f"{self.url}: study {name!r}: the stored study row is damaged ({e}); it was "
                "changed outside Protein: restore it from a backup, or protein init --force "
                "with the sweep's config") from None

    def study_names(self) -> list[str]:
        return [r[0] for r in self._execute("SELECT name FROM studies ORDER BY created_at")]

    def delete_study(self, name: str) -> None:
        with self._transaction() as tx:
            tx(self._sql("DELETE FROM intermediate WHERE study = ?"), (name,))
            tx(self._sql("DELETE FROM trials WHERE study = ?"), (name,))
            tx(self._sql("DELETE FROM studies WHERE name = ?"), (name,))

    # --------------------------------------------------------------- trials
    _COLS = ("trial_id, state, params, score, cost, info, worker, created_at, finished_at, "
             "heartbeat_at")

    def _trial(self, row: tuple, inter: tuple = ()) -> Trial:
        tid, state, params, score, cost, info, worker, created, finished, hb = row
        try:
            p, i = json.loads(params), json.loads(info)
            if not isinstance(p, dict) or not isinstance(i, dict):
                raise ValueError("params and info must be JSON objects")
            return Trial(int(tid), p, TrialState(state), None if score is None else float(score),
                         None if cost is None else float(cost), i, inter, worker,
                         None if created is None else float(created),
                         None if finished is None else float(finished),
                         None if hb is None else float(hb))
        except (ValueError, TypeError) as e:
            raise StorageError(
                f"{self.url}: trial {tid}: the stored row is damaged ({e}); it was changed "
                "outside Protein: restore it from a backup, or delete that trial's row") from None

    def trials(self, study: str) -> list[Trial]:
        rows = self._execute(self._sql(f"SELECT {self._COLS} FROM trials WHERE study = ? "
                                       "ORDER BY trial_id"), (study,))
        inter: dict[int, list[tuple[float, float]]] = {}
        for tid, step, value in self._execute(
            self._sql("SELECT trial_id, step, value FROM intermediate WHERE study = ? "
                      "ORDER BY trial_id, step"), (study,)
        ):
            inter.setdefault(int(tid), []).append((float(step), _num(value)))
        return [self._trial(r, tuple(inter.get(int(r[0]), ()))) for r in rows]

    def get_trial(self, study: str, trial_id: int, tx: Any = None) -> Trial:
        q = self._sql(f"SELECT {self._COLS} FROM trials WHERE study = ? AND trial_id = ?")
        rows = tx(q, (study, trial_id)) if tx else self._execute(q, (study, trial_id))
        if not rows:
            n = (tx or (lambda s, a: self._execute(s, a)))(
                self._sql("SELECT COUNT(*) FROM trials WHERE study = ?"), (study,))[0][0]
            raise TrialError(
                f"trial {trial_id}: no such trial in study {study!r} "
                f"({'it has trials 0..' + str(n - 1) if n else 'it has no trials yet'})"
            )
        inter = tuple((float(s), _num(v)) for s, v in self._execute(
            self._sql("SELECT step, value FROM intermediate WHERE study = ? AND trial_id = ? "
                      "ORDER BY step"), (study, trial_id)))
        return self._trial(rows[0], inter)

    def create_trial(self, study: str, params: Mapping[str, Any], info: Mapping[str, Any],
                     worker: str | None) -> Trial:
        now = time.time()
        with self._transaction() as tx:
            rows = tx(self._sql("SELECT COALESCE(MAX(trial_id), -1) FROM trials WHERE study = ?"),
                      (study,))
            tid = int(rows[0][0]) + 1
            tx(self._sql(f"INSERT INTO trials (study, {self._COLS}) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
               (study, tid, TrialState.RUNNING.value, _dumps(params), None, None, _dumps(info),
                worker, now, None, now))
        return Trial(tid, dict(params), TrialState.RUNNING, info=dict(info), worker=worker,
                     created_at=now, heartbeat_at=now)

    def finish_trial(self, study: str, trial_id: int, state: TrialState, score: float | None,
                     cost: float | None, info: Mapping[str, Any]) -> Trial:
        with self._transaction() as tx:
            t = self.get_trial(study, trial_id, tx)
            if check_finish(t, state, score, cost):
                return t
            merged = {**t.info, **info}
            now = time.time()
            won = tx(self._sql("UPDATE trials SET state = ?, score = ?, cost = ?, info = ?, "
                               "finished_at = ? WHERE study = ? AND trial_id = ? AND state = ? "
                               "RETURNING trial_id"),
                     (state.value, score, cost, _dumps(merged), now, study, trial_id,
                      TrialState.RUNNING.value))
            after = self.get_trial(study, trial_id, tx)
            if not won:  # another writer finished it between our read and our write
                check_finish(after, state, score, cost)  # the same result is fine; else an error
            return after

    def add_intermediate(self, study: str, trial_id: int, step: float, value: float) -> None:
        value_ok = value if math.isfinite(value) else None  # NaN/inf stored as NULL
        with self._transaction() as tx:
            t = self.get_trial(study, trial_id, tx)
            if t.state is not TrialState.RUNNING:
                raise TrialError(
                    f"trial {trial_id}: already {t.state.value}; progress is only recorded "
                    "for running trials"
                )
            tx(self._sql("DELETE FROM intermediate WHERE study = ? AND trial_id = ? AND step = ?"),
               (study, trial_id, step))
            tx(self._sql("INSERT INTO intermediate (study, trial_id, step, value) "
                         "VALUES (?, ?, ?, ?)"), (study, trial_id, step, value_ok))
            tx(self._sql("UPDATE trials SET heartbeat_at = ? WHERE study = ? AND trial_id = ?"),
               (time.time(), study, trial_id))

    def heartbeat(self, study: str, trial_ids: list[int]) -> None:
        now = time.time()
        with self._transaction() as tx:
            for tid in trial_ids:
                tx(self._sql("UPDATE trials SET heartbeat_at = ? WHERE study = ? AND "
                             "trial_id = ? AND state = ?"),
                   (now, study, tid, TrialState.RUNNING.value))

    def expire(self, study: str, lease_s: float, on_expire: str) -> list[Trial]:
        """Running trials whose worker is gone: a dead local process, or no heartbeat for
        ``lease_s``. ``fail`` marks them failed; ``retry`` returns them for handing out."""
        now = time.time()
        host = socket.gethostname()
        stale: list[Trial] = []
        for t in self.trials(study):
            if t.state is not TrialState.RUNNING:
                continue
            dead = False
            if t.worker and ":" in t.worker:
                h, _, pid = t.worker.rpartition(":")
                if h == host and pid.isdigit() and not pid_alive(int(pid)):
                    dead = True
            if dead or (t.heartbeat_at is not None and now - t.heartbeat_at > lease_s):
                stale.append(t)
        if on_expire == "fail":
            for t in stale:
                why = (f"worker {t.worker} died" if t.worker else "worker lost") + \
                      f"; no heartbeat for {now - (t.heartbeat_at or now):.0f}s"
                try:
                    self.finish_trial(study, t.trial_id, TrialState.FAILED, None, None,
                                      {"failure": f"expired: {why}"})
                except TrialError:
                    pass
        return stale

    def reassign(self, study: str, trial_id: int, worker: str | None) -> Trial:
        """Hand a stale running trial to a new worker (``on_expire: retry``)."""
        with self._transaction() as tx:
            t = self.get_trial(study, trial_id, tx)
            info = {**t.info, "retries": int(t.info.get("retries", 0)) + 1}
            tx(self._sql("UPDATE trials SET worker = ?, heartbeat_at = ?, info = ? "
                         "WHERE study = ? AND trial_id = ?"),
               (worker, time.time(), _dumps(info), study, trial_id))
            return self.get_trial(study, trial_id, tx)

    def bound(self, study: str) -> BoundStorage:
        return BoundStorage(self, study)


def pid_alive(pid: int) -> bool:
    """Whether a process of this machine with that pid is alive (ours or not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class BoundStorage:
    """One study's view of a SQL storage: the ``Storage`` that ``Study`` uses."""

    def __init__(self, backend: SQLStorage, study: str) -> None:
        self.backend, self.study = backend, study

    @property
    def url(self) -> str:
        return self.backend.url

    def lock(self) -> AbstractContextManager[None]:
        return self.backend.ask_lock(self.study)

    def trials(self) -> list[Trial]:
        return self.backend.trials(self.study)

    def get_trial(self, trial_id: int) -> Trial:
        return self.backend.get_trial(self.study, trial_id)

    def create_trial(self, params: Mapping[str, Any], info: Mapping[str, Any],
                     worker: str | None = None) -> Trial:
        return self.backend.create_trial(self.study, params, info, worker)

    def finish_trial(self, trial_id: int, state: TrialState, score: float | None,
                     cost: float | None, info: Mapping[str, Any]) -> Trial:
        return self.backend.finish_trial(self.study, trial_id, state, score, cost, info)

    def add_intermediate(self, trial_id: int, step: float, value: float) -> None:
        self.backend.add_intermediate(self.study, trial_id, step, value)

    def heartbeat(self, trial_ids: list[int]) -> None:
        self.backend.heartbeat(self.study, trial_ids)

    def expire(self, lease_s: float, on_expire: str) -> list[Trial]:
        return self.backend.expire(self.study, lease_s, on_expire)

    def reassign(self, trial_id: int, worker: str | None) -> Trial:
        return self.backend.reassign(self.study, trial_id, worker)


def _num(v: Any) -> float:
    """A stored REAL, with NULL (a reported NaN or inf) read back as NaN."""
    return float("nan") if v is None else float(v)
