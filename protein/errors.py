"""The errors Protein raises for user mistakes; each message says where, what and how to fix.

The CLI prints these as one line and exits non-zero; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations


class ProteinError(Exception):
    """Base of every user-facing error."""


class ConfigError(ProteinError, ValueError):
    """A sweep config is invalid. The message starts with ``file: key.path:``."""


class SpaceError(ProteinError, ValueError):
    """Params do not fit the search space."""


class TrialError(ProteinError, ValueError):
    """A tell or lookup names an unknown trial or contradicts a finished one."""


class SearchExhausted(ProteinError):
    """No new point is left to hand out (a grid, or a small discrete space, is done)."""


class StorageError(ProteinError):
    """A study cannot be opened, created or written."""


class ConnectionLost(StorageError):
    """The connection to the storage server dropped during a step, and was made again: the
    step was not committed (or is safe to repeat), so it can be run again."""


class MissingDependencyError(ProteinError, ImportError):
    """An optional dependency is not installed; the message gives the pip command."""


def require(module: str, extra: str, purpose: str):  # type: ignore[no-untyped-def]
    """Import ``module`` or raise MissingDependencyError naming the extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(
            f"{purpose} needs the '{module}' package, which is not installed: "
            f"pip install 'protein-hpo[{extra}]'"
        ) from e
