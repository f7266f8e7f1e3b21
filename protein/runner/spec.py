"""What a sweep's workers share: the run's settings (picklable) and where trial files go."""

from __future__ import annotations

import errno
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protein.optimizer.early_stop import StopConfig


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs, picklable."""

    study: str
    storage: str
    trainer: str | None = None
    command: str | None = None
    pass_mode: str = "flags"
    timeout: float | None = None
    max_trials: int | None = None
    stop: Mapping[str, Any] = field(default_factory=dict)  # StopConfig's fields but quantile
    out_dir: str = "runs"
    device: str | None = None
    threads: int = 1
    env: Mapping[str, str] = field(default_factory=dict)
    tensorboard: str | None = None
    wandb_project: str | None = None
    wandb_entity: str | None = None
    since: float = 0.0  # when this run started: earlier start-up crashes do not stop it

    def stop_config(self, quantile: float = 0.3) -> Any:
        """The early-stopping settings of this run."""
        return StopConfig(**{**self.stop, "quantile": quantile})


def trial_dir(spec: RunSpec, trial_id: int) -> Path:
    """The trial's folder under the run folder, made if missing; a symbolic link there (or
    at the study's folder) is refused, so no trial file lands outside the run folder."""
    study = Path(spec.out_dir) / spec.study
    d = study / f"trial_{trial_id:04d}"
    for p in (study, d):
        if p.is_symlink():
            raise OSError(errno.ELOOP, f"{p} is a symbolic link; trial files are not written "
                                       "through one (remove it)", str(p))
    d.mkdir(parents=True, exist_ok=True)
    return d
