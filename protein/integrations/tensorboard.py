"""TensorBoard scalars per trial under ``DIR/<study>/<trial>`` (``--tensorboard DIR``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from protein.errors import require


def writer(root: str, study: str, trial_id: int) -> Any:
    require("tensorboard", "tensorboard", "TensorBoard logging (--tensorboard)")
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(Path(root) / study / f"trial_{trial_id:04d}"))
