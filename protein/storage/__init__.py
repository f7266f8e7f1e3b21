"""Where a study's trials live: in memory, SQLite (default) or PostgreSQL.

``open_backend(url)`` takes ``sqlite:///path.db``, a plain path, or ``postgresql://...``;
with no URL it uses ``$PROTEIN_STORAGE``, else ``./protein.db``.
"""

from __future__ import annotations

import os
from pathlib import Path

from protein.errors import StorageError
from protein.masking import mask_url
from protein.storage.postgres import PostgresBackend
from protein.storage.sql import SQLBackend
from protein.storage.sqlite import SQLiteBackend

DEFAULT_PATH = "protein.db"


def default_url() -> str:
    return os.environ.get("PROTEIN_STORAGE") or DEFAULT_PATH


def open_backend(url: str | None = None) -> SQLBackend:
    """The SQL backend (every study of one database) for ``url`` (see module docstring)."""
    url = url or default_url()
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresBackend(url)
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
    elif "://" in url:
        raise StorageError(
            f"unsupported storage URL {mask_url(url)!r}; use a file path, sqlite:///path.db or "
            "postgresql://user@host/db"
        )
    else:
        path = url

    return SQLiteBackend(Path(path))
