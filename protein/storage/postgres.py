"""PostgreSQL backend, for workers on several machines; asks serialised by an advisory lock."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from protein.errors import ConnectionLost, StorageError, require
from protein.masking import mask_url, scrub
from protein.storage.sql import SQLBackend


SCHEMA_LOCK = int.from_bytes(hashlib.sha256(b"protein:schema").digest()[:8], "big", signed=True)
RECONNECT_WAITS_S = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)  # a restart or a failover: half a minute


class PostgresBackend(SQLBackend):
    real = "DOUBLE PRECISION"
    ph = "%s"
    serial = "BIGSERIAL PRIMARY KEY"

    def __init__(self, url: str) -> None:
        super().__init__()
        psycopg = require("psycopg", "postgres", "a postgresql:// storage")
        self._psycopg = psycopg
        self._dsn = url
        self.url = mask_url(url)  # what every message and file shows: never the password
        try:
            self.conn = psycopg.connect(url, autocommit=True)
        except psycopg.Error as e:
            raise StorageError(f"{self.url}: cannot connect ({self._first_line(e)}); check "
                               "the URL and that the server is running") from None
        self._ensure_schema()

    def _first_line(self, e: Exception) -> str:
        text = str(e).strip()
        return scrub(text.splitlines()[0] if text else type(e).__name__, self._dsn)

    def _lost(self, e: Exception) -> bool:
        """Whether ``e`` means the connection itself is gone (a server restart, a network
        blip, ``pg_terminate_backend``), not that a statement failed."""
        return (isinstance(e, (self._psycopg.OperationalError, self._psycopg.InterfaceError))
                or self.conn.closed or bool(getattr(self.conn, "broken", False)))

    def _reconnect(self, e: Exception) -> ConnectionLost:
        """Connect again, waiting longer between tries (``RECONNECT_WAITS_S``); the error to
        raise for the step in flight, or a ``StorageError`` when the server stays away."""
        why = self._first_line(e)
        try:
            self.conn.close()
        except self._psycopg.Error:
            pass
        last = why
        for wait in RECONNECT_WAITS_S:
            time.sleep(wait)
            try:
                self.conn = self._psycopg.connect(self._dsn, autocommit=True)
            except self._psycopg.Error as again:
                last = self._first_line(again)
                continue
            return ConnectionLost(f"{self.url}: the connection to the server dropped ({why}); "
                                  "connected again, the step in flight was not committed")
        raise StorageError(
            f"{self.url}: the connection to the server dropped ({why}) and "
            f"{len(RECONNECT_WAITS_S)} tries over {sum(RECONNECT_WAITS_S):.0f}s to connect "
            f"again failed (last: {last}). Every finished trial is stored; run the same "
            "command again once the server is back") from None

    def _ensure_schema(self) -> None:
        """Create the tables once, even when many workers open a fresh database at once
        (concurrent CREATE TABLE IF NOT EXISTS races in PostgreSQL's catalog)."""
        if self._schema_current():
            return
        self._execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        try:
            super()._ensure_schema()
        finally:
            self._execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))

    def close(self) -> None:
        self.conn.close()

    def _execute(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            cur = self.conn.execute(sql, args)
            return cur.fetchall() if cur.description else []
        except self._psycopg.Error as e:
            if self._lost(e):
                raise self._reconnect(e) from None
            raise StorageError(f"{self.url}: {scrub(str(e), self._dsn)}") from None

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        def run(sql: str, args: tuple = ()) -> list[tuple]:
            cur = self.conn.execute(sql, args)
            return cur.fetchall() if cur.description else []

        try:
            with self.conn.transaction():
                yield run
        except self._psycopg.errors.UniqueViolation as e:
            raise StorageError(f"{self.url}: concurrent write conflict ({scrub(str(e), self._dsn)})") from None
        except self._psycopg.Error as e:
            if self._lost(e):  # rolled back with the connection: safe to run again
                raise self._reconnect(e) from None
            raise StorageError(f"{self.url}: {scrub(str(e), self._dsn)}") from None

    @contextmanager
    def ask_lock(self, study: str) -> Iterator[None]:
        key = int.from_bytes(hashlib.sha256(f"protein:{study}".encode()).digest()[:8], "big",
                             signed=True)
        self._execute("SELECT pg_advisory_lock(%s)", (key,))
        self.locked += 1
        try:
            yield
        finally:
            self.locked -= 1
            try:
                self._execute("SELECT pg_advisory_unlock(%s)", (key,))
            except ConnectionLost:
                pass  # the server released the lock with the old connection
