"""Studies in SQL: one schema for SQLite (the embedded default) and PostgreSQL.

Schema (version 3), readable with ``sqlite3`` / ``psql``::

    protein_meta(key, value)                       -- schema_version
    studies(name, config, seed, lease_s, on_expire, created_at, version)
    trials(study, trial_id, state, params, score, cost, info, worker,
           created_at, finished_at, heartbeat_at,  -- params/info are JSON text
           version, lease_s)
    intermediate(study, trial_id, step, value, cost)   -- cost: spent so far, or NULL
    asks(study, request_id, requester, worker, count, max_trials, retry_stale,
         lease_s, created_at, answer)                       -- asks waiting for one batched fit

Older databases are upgraded in place when opened: version 1 (no ``version``/``lease_s``
columns, no ``asks``) and version 2 (intermediate values without the cost spent when each
was reported; their ``cost`` reads back as unknown).

Reads that do not grow with the study: every write to a trial (or its intermediate values)
takes the next ``studies.version`` and stamps the row with it, while holding the study row,
so versions are handed out in commit order. A process keeps the trials it has read and, on
each read, fetches only rows stamped after the newest version it holds: finished trials
never change, and a trial that expires and is handed out again is restamped.

Concurrency: ``ask`` runs under a per-study lock (a file lock next to a SQLite file, a
PostgreSQL advisory lock), so every asker sees the running trials of the others and trial
ids never collide; every write is one short transaction, so tells never wait for a GP fit.
"""

from __future__ import annotations

import abc
import json
import math
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from protein.errors import ConnectionLost, StorageError, TrialError
from protein.process import alive, gone
from protein.storage.base import AskAnswer, AskRequest
from protein.storage.rules import check_finish, finished_info, reassigned_info, released_info
from protein.trial import Report, Trial, TrialState

SCHEMA_VERSION = 4
DEFAULT_LEASE_S = 24 * 3600.0
ON_EXPIRE = ("fail", "retry")


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


class SQLBackend(abc.ABC):
    """Shared SQL; subclasses give the connection, the placeholder and the ask lock."""

    def __init__(self) -> None:
        self._seen: dict[str, _Seen] = {}  # per study: the trials read so far
        self.locked = 0  # ask locks this process holds through this connection

    url: str
    ph = "?"
    real = "REAL"
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"

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
    def _schema_current(self) -> bool:
        """Whether the tables are there at this version: read without a write transaction,
        so opening a current database never waits behind another process's writes."""
        try:
            rows = self._execute(self._sql("SELECT value FROM protein_meta WHERE key = ?"),
                                 ("schema_version",))
        except StorageError:
            return False  # a new file: no table yet
        return bool(rows) and rows[0][0] == str(SCHEMA_VERSION)

    def _ensure_schema(self) -> None:
        """Create the tables of a new database, or upgrade an older one in place."""
        if self._schema_current():
            return
        r = self.real
        statements = [
            "CREATE TABLE IF NOT EXISTS protein_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            f"""CREATE TABLE IF NOT EXISTS studies (
                name TEXT PRIMARY KEY, config TEXT NOT NULL, seed INTEGER NOT NULL,
                lease_s {r} NOT NULL, on_expire TEXT NOT NULL, created_at {r} NOT NULL,
                version INTEGER NOT NULL DEFAULT 0)""",
            f"""CREATE TABLE IF NOT EXISTS trials (
                study TEXT NOT NULL REFERENCES studies(name) ON DELETE CASCADE,
                trial_id INTEGER NOT NULL, state TEXT NOT NULL, params TEXT NOT NULL,
                score {r}, cost {r}, info TEXT NOT NULL, worker TEXT,
                created_at {r} NOT NULL, finished_at {r}, heartbeat_at {r},
                version INTEGER NOT NULL DEFAULT 0, lease_s {r},
                PRIMARY KEY (study, trial_id))""",
            f"""CREATE TABLE IF NOT EXISTS intermediate (
                study TEXT NOT NULL, trial_id INTEGER NOT NULL, step {r} NOT NULL,
                value {r}, cost {r}, PRIMARY KEY (study, trial_id, step),
                FOREIGN KEY (study, trial_id) REFERENCES trials(study, trial_id) ON DELETE CASCADE)""",
        ]
        with self._transaction() as tx:
            for s in statements:
                tx(s)
            rows = tx(self._sql("SELECT value FROM protein_meta WHERE key = ?"), ("schema_version",))
            found = int(rows[0][0]) if rows else None
            if found is not None and found > SCHEMA_VERSION:
                raise StorageError(
                    f"{self.url}: schema version {found} is newer than this Protein "
                    f"understands ({SCHEMA_VERSION}); upgrade protein-hpo"
                )
            if found == 1:
                self._upgrade_v1(tx)
            if found is not None and found < 3:
                tx(f"ALTER TABLE intermediate ADD COLUMN cost {r}")  # version 2 -> 3
            if found in (2, 3):  # version 3 -> 4 (a version 1 file gains the table below)
                tx("ALTER TABLE asks ADD COLUMN held INTEGER NOT NULL DEFAULT 1")
            for s in self._version_2_tables():
                tx(s)
            if found is None:
                tx(self._sql("INSERT INTO protein_meta (key, value) VALUES (?, ?)"),
                   ("schema_version", str(SCHEMA_VERSION)))
            elif found < SCHEMA_VERSION:
                tx(self._sql("UPDATE protein_meta SET value = ? WHERE key = ?"),
                   (str(SCHEMA_VERSION), "schema_version"))

    def _upgrade_v1(self, tx: Any) -> None:
        """Version 1 -> 2: change stamps on studies and trials, a lease per trial. Existing
        rows get version 0, which every reader's first read includes."""
        tx("ALTER TABLE studies ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
        tx("ALTER TABLE trials ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
        tx(f"ALTER TABLE trials ADD COLUMN lease_s {self.real}")

    def _version_2_tables(self) -> list[str]:
        r = self.real
        return [
            "CREATE INDEX IF NOT EXISTS trials_by_version ON trials (study, version)",
            "CREATE INDEX IF NOT EXISTS trials_by_state ON trials (study, state)",
            f"""CREATE TABLE IF NOT EXISTS asks (
                study TEXT NOT NULL REFERENCES studies(name) ON DELETE CASCADE,
                request_id {self.serial}, requester TEXT NOT NULL, worker TEXT,
                count INTEGER NOT NULL, max_trials INTEGER, retry_stale INTEGER NOT NULL,
                lease_s {r}, created_at {r} NOT NULL, answer TEXT,
                held INTEGER NOT NULL DEFAULT 1)""",
        ]

    # -------------------------------------------------------------- studies
    def create_study(self, name: str, config: Mapping[str, Any], seed: int,
                     lease_s: float = DEFAULT_LEASE_S, on_expire: str = "fail",
                     replace: bool = False) -> StudyRecord:
        if on_expire not in ON_EXPIRE:
            raise StorageError(f"on_expire must be one of {ON_EXPIRE}, got {on_expire!r}")
        text = _dumps(config)
        with self._transaction() as tx:
            # create-or-open in one statement: processes creating the same study at once
            # (many workers started together) all get it, none a duplicate-key error
            created = tx(self._sql(
                "INSERT INTO studies (name, config, seed, lease_s, on_expire, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING name"),
                (name, text, seed, lease_s, on_expire, time.time()))
            if created:
                return self.get_study(name, tx)
            rows = tx(self._sql("SELECT config, seed FROM studies WHERE name = ?"), (name,))
            if json.loads(rows[0][0]) == json.loads(text) and int(rows[0][1]) == seed:
                return self.get_study(name, tx)
            if not replace:
                raise StorageError(
                    f"study {name!r} already exists in {self.url} with a different "
                    "config or seed; pick another --study name, or replace its config with "
                    f"protein init CONFIG --study {name} --force (its trials are kept)"
                )
            tx(self._sql("UPDATE studies SET config = ?, seed = ?, lease_s = ?, on_expire = ? "
                         "WHERE name = ?"), (text, seed, lease_s, on_expire, name))
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
            self._stamp(tx, name)  # first: no other writer of the study until commit
            for table in ("intermediate", "trials", "asks"):
                tx(self._sql(f"DELETE FROM {table} WHERE study = ?"), (name,))
            tx(self._sql("DELETE FROM studies WHERE name = ?"), (name,))
        self._seen.pop(name, None)

    def rename_study(self, name: str, new: str) -> None:
        """Give study ``name`` and its trials the name ``new`` (free), in one transaction."""
        with self._transaction() as tx:
            self._stamp(tx, name)
            if tx(self._sql("SELECT 1 FROM studies WHERE name = ?"), (new,)):
                raise StorageError(f"a study named {new!r} already exists in {self.url}; "
                                   "pick another name, or delete that one first")
            cols = ("trial_id, state, params, score, cost, info, worker, created_at, "
                    "finished_at, heartbeat_at, version, lease_s")
            tx(self._sql("INSERT INTO studies (name, config, seed, lease_s, on_expire, "
                         "created_at, version) SELECT ?, config, seed, lease_s, on_expire, "
                         "created_at, version FROM studies WHERE name = ?"), (new, name))
            tx(self._sql(f"INSERT INTO trials (study, {cols}) SELECT ?, {cols} FROM trials "
                         "WHERE study = ?"), (new, name))
            for table in ("intermediate", "asks"):
                tx(self._sql(f"UPDATE {table} SET study = ? WHERE study = ?"), (new, name))
            tx(self._sql("DELETE FROM trials WHERE study = ?"), (name,))
            tx(self._sql("DELETE FROM studies WHERE name = ?"), (name,))
        self._seen.pop(name, None)
        self._seen.pop(new, None)

    # --------------------------------------------------------------- trials
    _COLS = ("trial_id, state, params, score, cost, info, worker, created_at, finished_at, "
             "heartbeat_at, lease_s")

    def _trial(self, row: tuple, inter: tuple = ()) -> Trial:
        tid, state, params, score, cost, info, worker, created, finished, hb, lease = row
        try:
            p, i = json.loads(params), json.loads(info)
            if not isinstance(p, dict) or not isinstance(i, dict):
                raise ValueError("params and info must be JSON objects")
            return Trial(int(tid), p, TrialState(state), None if score is None else float(score),
                         None if cost is None else float(cost), i, inter, worker,
                         None if created is None else float(created),
                         None if finished is None else float(finished),
                         None if hb is None else float(hb),
                         None if lease is None else float(lease))
        except (ValueError, TypeError) as e:
            raise StorageError(
                f"{self.url}: trial {tid}: the stored row is damaged ({e}); it was changed "
                "outside Protein: restore it from a backup, or delete that trial's row") from None

    def trials(self, study: str) -> list[Trial]:
        """Every trial of ``study`` in id order, reading only the rows changed since this
        process last read them (see the module docstring)."""
        head = self._execute(self._sql("SELECT version, created_at FROM studies WHERE name = ?"),
                             (study,))
        if not head:
            self._seen.pop(study, None)
            return []
        version, created = int(head[0][0]), float(head[0][1])
        seen = self._seen.get(study)
        if seen is None or seen.created_at != created:  # new, or deleted and made again
            seen = self._seen[study] = _Seen(created)
        if version != seen.version:
            self._read_changed(study, seen)
            # every stamp up to ``version`` had committed when it was read: none is missed
            seen.version = max(seen.version, version)
        return list(seen.trials.values())

    def _read_changed(self, study: str, seen: _Seen) -> None:
        """Fold the rows stamped after ``seen.version`` into ``seen``: one statement (one
        snapshot) for the rows and their intermediate values."""
        cols = ", ".join(f"t.{c.strip()}" for c in self._COLS.split(","))
        rows = self._execute(self._sql(
            f"SELECT {cols}, t.version, i.step, i.value, i.cost FROM trials t "
            "LEFT JOIN intermediate i ON i.study = t.study AND i.trial_id = t.trial_id "
            "WHERE t.study = ? AND t.version > ? ORDER BY t.trial_id, i.step"),
            (study, seen.version))
        n = len(self._COLS.split(","))
        changed: dict[int, tuple[tuple, list[Report], int]] = {}
        for r in rows:
            tid = int(r[0])
            if tid not in changed:
                changed[tid] = (r[:n], [], int(r[n]))
            if r[n + 1] is not None:
                changed[tid][1].append(_report(r[n + 1], r[n + 2], r[n + 3]))
        append_only = not seen.trials or min(changed, default=0) > max(seen.trials)
        for tid, (row, inter, version) in changed.items():
            seen.trials[tid] = self._trial(row, tuple(inter))
            seen.version = max(seen.version, version)
        if not append_only:
            seen.trials = dict(sorted(seen.trials.items()))

    def count(self, study: str) -> int:
        """How many trials ``study`` has (any state)."""
        return int(self._execute(self._sql("SELECT COUNT(*) FROM trials WHERE study = ?"),
                                 (study,))[0][0])

    def running(self, study: str) -> list[Trial]:
        """The running trials, without their intermediate values."""
        rows = self._execute(self._sql(f"SELECT {self._COLS} FROM trials WHERE study = ? AND "
                                       "state = ? ORDER BY trial_id"),
                             (study, TrialState.RUNNING.value))
        return [self._trial(r) for r in rows]

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
        q = self._sql("SELECT step, value, cost FROM intermediate WHERE study = ? AND "
                      "trial_id = ? ORDER BY step")
        steps = tx(q, (study, trial_id)) if tx else self._execute(q, (study, trial_id))
        return self._trial(rows[0], tuple(_report(*r) for r in steps))

    def _stamp(self, tx: Any, study: str) -> int:
        """The next change stamp of ``study``; holds its row until the transaction ends, so
        stamps are handed out in commit order."""
        rows = tx(self._sql("UPDATE studies SET version = version + 1 WHERE name = ? "
                            "RETURNING version"), (study,))
        if not rows:
            raise StorageError(f"no study {study!r} in {self.url}; create it with protein init")
        return int(rows[0][0])

    def create_trial(self, study: str, params: Mapping[str, Any], info: Mapping[str, Any],
                     worker: str | None, lease_s: float | None = None) -> Trial:
        now = time.time()
        with self._transaction() as tx:
            version = self._stamp(tx, study)
            rows = tx(self._sql("SELECT COALESCE(MAX(trial_id), -1) FROM trials WHERE study = ?"),
                      (study,))
            tid = int(rows[0][0]) + 1
            tx(self._sql(f"INSERT INTO trials (study, {self._COLS}, version) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
               (study, tid, TrialState.RUNNING.value, _dumps(params), None, None, _dumps(info),
                worker, now, None, now, lease_s, version))
        return Trial(tid, dict(params), TrialState.RUNNING, info=dict(info), worker=worker,
                     created_at=now, heartbeat_at=now, lease_s=lease_s)

    def finish_trial(self, study: str, trial_id: int, state: TrialState, score: float | None,
                     cost: float | None, info: Mapping[str, Any]) -> Trial:
        with self._transaction() as tx:
            version = self._stamp(tx, study)  # first: no other writer of the study until commit
            t = self.get_trial(study, trial_id, tx)
            if check_finish(t, state, score, cost):
                return t
            merged = finished_info(t, info)
            won = tx(self._sql("UPDATE trials SET state = ?, score = ?, cost = ?, info = ?, "
                               "finished_at = ?, version = ? WHERE study = ? AND trial_id = ? "
                               "AND state = ? RETURNING trial_id"),
                     (state.value, score, cost, _dumps(merged), time.time(), version, study,
                      trial_id, t.state.value))
            after = self.get_trial(study, trial_id, tx)
            if not won:  # another writer finished it between our read and our write
                check_finish(after, state, score, cost)  # the same result is fine; else an error
            return after

    def add_intermediate(self, study: str, trial_id: int, step: float, value: float,
                         cost: float | None = None) -> None:
        value_ok = value if math.isfinite(value) else None  # NaN/inf stored as NULL
        with self._transaction() as tx:
            version = self._stamp(tx, study)
            t = self.get_trial(study, trial_id, tx)
            if t.state is not TrialState.RUNNING:
                raise TrialError(
                    f"trial {trial_id}: already {t.state.value}; progress is only recorded "
                    "for running trials"
                )
            tx(self._sql("DELETE FROM intermediate WHERE study = ? AND trial_id = ? AND step = ?"),
               (study, trial_id, step))
            tx(self._sql("INSERT INTO intermediate (study, trial_id, step, value, cost) "
                         "VALUES (?, ?, ?, ?, ?)"), (study, trial_id, step, value_ok, cost))
            tx(self._sql("UPDATE trials SET heartbeat_at = ?, version = ? WHERE study = ? AND "
                         "trial_id = ?"), (time.time(), version, study, trial_id))

    def heartbeat(self, study: str, trial_ids: list[int]) -> None:
        if not trial_ids:
            return
        now = time.time()
        with self._transaction() as tx:
            version = self._stamp(tx, study)
            for tid in trial_ids:
                tx(self._sql("UPDATE trials SET heartbeat_at = ?, version = ? WHERE study = ? "
                             "AND trial_id = ? AND state = ?"),
                   (now, version, study, tid, TrialState.RUNNING.value))

    def expire(self, study: str, lease_s: float, on_expire: str) -> list[Trial]:
        """Running trials whose worker is gone: its process (``info["process"]``, see
        ``protein.process``) a dead one of this machine, or no heartbeat for their lease (the
        trial's own, else ``lease_s``); never one whose process is alive on this machine.
        ``fail`` marks them failed; ``retry`` returns them for handing out. A trial its
        worker handed back (``release``) is returned at once and never failed here."""
        now = time.time()
        stale: list[tuple[Trial, str]] = []
        for t in self.running(study):
            lease = t.lease_s if t.lease_s is not None else lease_s
            silent = now - (t.heartbeat_at if t.heartbeat_at is not None else now)
            process = t.info.get("process")
            if t.info.get("released"):
                stale.append((t, f"handed back by {t.worker or 'its worker'}: "
                                 f"{t.info['released']}"))
                continue
            if alive(process):
                continue  # slow, or its heartbeat is late: the process itself still runs
            if gone(process):
                stale.append((t, f"worker {t.worker} died (its process is gone)"))
            elif silent > lease:
                stale.append((t, f"lease expired: no heartbeat from "
                                 f"{t.worker or 'its worker'} for {_duration(silent)} "
                                 f"(lease {_duration(lease)})"))
        if on_expire == "fail":
            for t, why in stale:
                if t.info.get("released"):
                    continue  # handed back, not lost: it waits for a worker that retries
                try:
                    self.finish_trial(study, t.trial_id, TrialState.FAILED, None, None,
                                      {"failure": f"expired: {why}"})
                except TrialError:
                    pass
        return [t for t, _ in stale]

    def reassign(self, study: str, trial_id: int, worker: str | None,
                 process: str | None = None) -> Trial:
        """Hand a stale running trial to a new worker (``on_expire: retry``) in process
        ``process`` (``info["process"]``; None: no process holds it)."""
        with self._transaction() as tx:
            version = self._stamp(tx, study)
            t = self.get_trial(study, trial_id, tx)
            info = reassigned_info(t.info)
            if process:
                info["process"] = process
            tx(self._sql("UPDATE trials SET worker = ?, heartbeat_at = ?, info = ?, version = ? "
                         "WHERE study = ? AND trial_id = ?"),
               (worker, time.time(), _dumps(info), version, study, trial_id))
            return self.get_trial(study, trial_id, tx)

    def release(self, study: str, trial_id: int, reason: str, wall: float = 0.0) -> Trial:
        with self._transaction() as tx:
            version = self._stamp(tx, study)
            t = self.get_trial(study, trial_id, tx)
            if t.state is not TrialState.RUNNING:
                raise TrialError(f"trial {trial_id}: already {t.state.value}; only a running "
                                 "trial can be handed back")
            tx(self._sql("UPDATE trials SET info = ?, version = ? WHERE study = ? AND "
                         "trial_id = ?"),
               (_dumps(released_info(t.info, reason, wall)), version, study, trial_id))
            return self.get_trial(study, trial_id, tx)

    # ------------------------------------------------------------ ask queue
    def enqueue(self, study: str, requester: str, worker: str | None, count: int,
                max_trials: int | None, retry_stale: bool, lease_s: float | None,
                held: bool = True) -> AskRequest:
        rows = self._execute(self._sql(
            "INSERT INTO asks (study, requester, worker, count, max_trials, retry_stale, "
            "lease_s, created_at, held) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING request_id"),
            (study, requester, worker, count, max_trials, int(retry_stale), lease_s, time.time(),
             int(held)))
        return AskRequest(int(rows[0][0]), requester, worker, count, max_trials, retry_stale,
                          lease_s, held)

    def waiting(self, study: str) -> list[AskRequest]:
        rows = self._execute(self._sql(
            "SELECT request_id, requester, worker, count, max_trials, retry_stale, lease_s, "
            "held FROM asks WHERE study = ? AND answer IS NULL ORDER BY request_id"), (study,))
        return [AskRequest(int(i), req, w, int(c), None if m is None else int(m), bool(r),
                           None if lease is None else float(lease), bool(h))
                for i, req, w, c, m, r, lease, h in rows]

    def answer(self, study: str, request_id: int, answer: AskAnswer) -> None:
        self._execute(self._sql("UPDATE asks SET answer = ? WHERE study = ? AND request_id = ?"),
                      (json.dumps({"trials": list(answer.trial_ids),
                                   "exhausted": answer.exhausted}), study, request_id))

    def answer_of(self, study: str, request_id: int) -> AskAnswer | None:
        rows = self._execute(self._sql("SELECT answer FROM asks WHERE study = ? AND "
                                       "request_id = ?"), (study, request_id))
        if not rows or rows[0][0] is None:
            return None
        a = json.loads(rows[0][0])
        return AskAnswer(tuple(int(i) for i in a["trials"]), a.get("exhausted"))

    def withdraw(self, study: str, request_id: int) -> None:
        self._execute(self._sql("DELETE FROM asks WHERE study = ? AND request_id = ?"),
                      (study, request_id))

    def bound(self, study: str) -> SQLStudyStorage:
        return SQLStudyStorage(self, study)


RETRIES = 3  # times a step is run again after the storage's connection dropped


class SQLStudyStorage:
    """One study's view of a SQL backend: the ``StudyStorage`` that ``Study`` uses.

    A step whose connection dropped (``ConnectionLost``: the backend has connected again)
    is run again, up to ``RETRIES`` times: reads, and writes that were rolled back with the
    connection (a finish told twice with the same result is accepted). Not while this
    process holds the ask lock, which went with the old connection: that error goes up to
    the ask, which withdraws and is asked again."""

    def __init__(self, backend: SQLBackend, study: str) -> None:
        self.backend, self.study = backend, study

    def _call(self, name: str, *args: Any) -> Any:
        for attempt in range(RETRIES + 1):
            try:
                return getattr(self.backend, name)(self.study, *args)
            except ConnectionLost:
                if self.backend.locked or attempt == RETRIES:
                    raise
        raise AssertionError("unreachable")

    @property
    def url(self) -> str:
        return self.backend.url

    def lock(self) -> AbstractContextManager[None]:
        return self.backend.ask_lock(self.study)

    def trials(self) -> list[Trial]:
        return self._call("trials")

    def count(self) -> int:
        return self._call("count")

    def running(self) -> list[Trial]:
        return self._call("running")

    def get_trial(self, trial_id: int) -> Trial:
        return self._call("get_trial", trial_id)

    def create_trial(self, params: Mapping[str, Any], info: Mapping[str, Any],
                     worker: str | None = None, lease_s: float | None = None) -> Trial:
        return self._call("create_trial", params, info, worker, lease_s)

    def finish_trial(self, trial_id: int, state: TrialState, score: float | None,
                     cost: float | None, info: Mapping[str, Any]) -> Trial:
        return self._call("finish_trial", trial_id, state, score, cost, info)

    def add_intermediate(self, trial_id: int, step: float, value: float,
                         cost: float | None = None) -> None:
        self._call("add_intermediate", trial_id, step, value, cost)

    def heartbeat(self, trial_ids: list[int]) -> None:
        self._call("heartbeat", trial_ids)

    def expire(self, lease_s: float, on_expire: str) -> list[Trial]:
        return self._call("expire", lease_s, on_expire)

    def reassign(self, trial_id: int, worker: str | None, process: str | None = None) -> Trial:
        return self._call("reassign", trial_id, worker, process)

    def release(self, trial_id: int, reason: str, wall: float = 0.0) -> Trial:
        return self._call("release", trial_id, reason, wall)

    def enqueue(self, requester: str, worker: str | None, count: int, max_trials: int | None,
                retry_stale: bool, lease_s: float | None, held: bool = True) -> AskRequest:
        return self._call("enqueue", requester, worker, count, max_trials,
                                    retry_stale, lease_s, held)

    def waiting(self) -> list[AskRequest]:
        return self._call("waiting")

    def answer(self, request_id: int, answer: AskAnswer) -> None:
        self._call("answer", request_id, answer)

    def answer_of(self, request_id: int) -> AskAnswer | None:
        return self._call("answer_of", request_id)

    def withdraw(self, request_id: int) -> None:
        self._call("withdraw", request_id)


def _duration(s: float) -> str:
    """``42s``, ``17m``, ``6.0h``: a span of seconds for a message."""
    if s < 120:
        return f"{s:.0f}s"
    if s < 7200:
        return f"{s / 60:.0f}m"
    return f"{s / 3600:.1f}h"


@dataclass
class _Seen:
    """The trials of one study this process has read, up to change stamp ``version``."""

    created_at: float
    version: int = -1
    trials: dict[int, Trial] = field(default_factory=dict)


def _num(v: Any) -> float:
    """A stored REAL, with NULL (a reported NaN or inf) read back as NaN."""
    return float("nan") if v is None else float(v)


def _report(step: Any, value: Any, cost: Any) -> Report:
    """A stored intermediate row; a NULL cost (unknown, or a version 2 row) stays None."""
    return Report(float(step), _num(value), None if cost is None else float(cost))
