"""Shared fixtures: every storage test body runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid

import pytest

PG_URL = os.environ.get("PROTEIN_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")


def _pg_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3):
            return None
    except Exception as e:  # noqa: BLE001
        return f"PostgreSQL not reachable at {PG_URL}: {e}"


@pytest.fixture(params=["sqlite", "postgres"])
def storage_url(request, tmp_path):
    """A fresh, empty storage URL of each backend."""
    if request.param == "sqlite":
        yield str(tmp_path / "study.db")
        return
    yield from pg_schema()


def need(ok: bool, why: str) -> None:
    """Skip a test without what it needs (a server, a program); under CI, fail it."""
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


def pg_schema():
    """A fresh PostgreSQL schema's URL for one test (dropped after it)."""
    why = _pg_available()
    need(why is None, str(why))
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return "Z" not in open(f"/proc/{pid}/stat").read().split(")")[1].split()[0]
    except OSError:
        return False
