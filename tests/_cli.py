"""Running the ``protein`` CLI in a subprocess, as users do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def protein(*args: str, cwd: Path | str, env: dict | None = None, check: bool = True,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m protein ARGS`` in ``cwd``; asserts success unless ``check=False``."""
    r = subprocess.run([sys.executable, "-m", "protein", *args], capture_output=True, text=True,
                       cwd=cwd, timeout=timeout,
                       env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    if check:
        assert r.returncode == 0, r.stderr
    return r
