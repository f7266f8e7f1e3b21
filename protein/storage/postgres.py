"""PostgreSQL backend, for workers on several machines; asks serialised by an advisory lock."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from protein.errors import StorageError, require
from protein.output import mask_url, scrub
from protein.storage.sql import SQLStorage


SCHEMA_LOCK = int.from_bytes(hashlib.sha256(b"protein:schema").digest()[:8], "big", signed=True)


class PostgresStorage(SQLStorage):
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
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise StorageError(f"{self.url}: cannot connect ({scrub(first, url)}); check the "
                               "URL and that the server is running") from None
        self._ensure_schema()

    def _ensure_schema(self) -> None:
        """Create the tables once, even when many workers open a fresh database at once
        (concurrent CREATE TABLE IF NOT EXISTS races in PostgreSQL's catalog)."""
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
            raise StorageError(f"{self.url}: {scrub(str(e), self._dsn)}") from None

    @contextmanager
    def ask_lock(self, study: str) -> Iterator[None]:
        key = int.from_bytes(hashlib.sha256(f"protein:{study}".encode()).digest()[:8], "big",
                             signed=True)
        self._execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            self._execute("SELECT pg_advisory_unlock(%s)", (key,))
