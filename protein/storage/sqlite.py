"""SQLite backend: one file, WAL journal, full sync; asks serialised by a file lock."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from protein.errors import StorageError
from protein.storage.sql import SQLBackend

BUSY_TIMEOUT_S = 600.0


def _storage_error(path: Path, e: sqlite3.Error) -> StorageError:
    msg = str(e)
    if "full" in msg:
        return StorageError(f"{path}: the disk is full ({msg}); nothing was written, free "
                            "space and retry")
    if "readonly" in msg or "read-only" in msg:
        return StorageError(f"{path}: cannot write ({msg}); check the file's permissions")
    if "locked" in msg:
        return StorageError(f"{path}: another process has held the database's write lock for "
                            f"over {BUSY_TIMEOUT_S:.0f}s ({msg}); see which protein process is "
                            "stuck (or a program holding the file open), stop it and retry")
    if "not a database" in msg:
        return StorageError(f"{path}: not a SQLite database ({msg}); give a .db file that "
                            "Protein created, or a new path")
    return StorageError(f"{path}: {msg}")


class SQLiteBackend(SQLBackend):
    real = "REAL"
    ph = "?"

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        if self.path.parent and not self.path.parent.exists():
            raise StorageError(f"{self.path}: directory {self.path.parent} does not exist")
        if self.path.exists() and not self.path.is_file():
            raise StorageError(f"{self.path}: not a regular file; give the path of a .db file "
                               "(a new one is created)")
        try:
            if not self.path.exists():  # it holds the configs: readable by its owner only
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as e:
            raise StorageError(f"{self.path}: cannot create it ({e.strerror})") from None
        self.conn = self._connect()
        self._lock_file = Path(str(self.path) + ".lock")
        self._ensure_schema()

    def _connect(self) -> sqlite3.Connection:
        """A connection in WAL mode. Turning a new file to WAL takes an exclusive lock for
        which SQLite does not wait: when many processes open a new file at once, some are
        told "database is locked" at once (one process of 12 in 2 of 15 tries here), so they
        retry, as long as the busy timeout would have waited."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            conn = None
            try:
                conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S,
                                       isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA foreign_keys=ON")
                return conn
            except sqlite3.Error as e:
                if conn is not None:
                    conn.close()
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise _storage_error(self.path, e) from None
                time.sleep(0.05)

    def close(self) -> None:
        self.conn.close()

    def _execute(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.Error as e:
            raise _storage_error(self.path, e) from None

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise _storage_error(self.path, e) from None
        try:
            yield lambda sql, args=(): self.conn.execute(sql, args).fetchall()
            self.conn.execute("COMMIT")
        except sqlite3.Error as e:
            self._rollback()
            raise _storage_error(self.path, e) from None
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        """Undo the open transaction, if SQLite has not already (it does on a full disk):
        the error that caused it is the one to report."""
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    @contextmanager
    def ask_lock(self, study: str) -> Iterator[None]:
        try:
            f = open(self._lock_file, "a+")  # noqa: SIM115 - held for the with block below
        except OSError as e:
            raise StorageError(f"{self._lock_file}: cannot open the ask lock ({e.strerror}); "
                               "the study's folder must be writable") from None
        with f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
