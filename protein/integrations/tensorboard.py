"""TensorBoard scalars per trial under ``DIR/<study>/<trial>`` (``--tensorboard DIR``), and
the trial's params with its final figures in the HParams tab."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from protein.errors import require


def writer(root: str, study: str, trial_id: int) -> Any:
    require("tensorboard", "tensorboard", "TensorBoard logging (--tensorboard)")
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(Path(root) / study / f"trial_{trial_id:04d}"))


def add_hparams(tb: Any, params: Mapping[str, Any], finals: Mapping[str, Any],
                state: str) -> None:
    """The trial's params (flat, dotted) and final figures (``hparams/<name>``) for
    TensorBoard's HParams tab, in the trial's own run folder; values TensorBoard cannot
    show (lists) as text, and the trial's state (complete, pruned) as one more column."""
    shown = {k: v if isinstance(v, (bool, int, float, str)) else str(v)
             for k, v in params.items()}
    tb.add_hparams({**shown, "state": state},
                   {f"hparams/{k}": float(v) for k, v in finals.items() if v is not None},
                   run_name=".")
