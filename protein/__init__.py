"""Protein: a cost-aware Gaussian-process hyperparameter optimizer.

Library entry points (imported lazily so that ``protein check`` and friends stay fast):

* ``protein.load_config(path_or_dict)`` -> ``SweepConfig``
* ``protein.Protein(config, seed=0)`` with ``suggest`` / ``observe`` (PufferLib-style)
* ``protein.Study`` with ``ask`` / ``tell`` / ``best`` / ``pareto`` / ``trials``
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load_config": "protein.config",
    "SweepConfig": "protein.config",
    "Settings": "protein.config.settings",
    "Space": "protein.space",
    "Protein": "protein.api",
    "Study": "protein.study",
    "Trial": "protein.trial",
    "TrialState": "protein.trial",
    "ProteinError": "protein.errors",
    "ConfigError": "protein.errors",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'protein' has no attribute {name!r}")
