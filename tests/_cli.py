"""Running the ``protein`` CLI as users do: in this process through ``protein.cli.main``
(fast: no interpreter start, no second torch import), or as a real ``python -m protein``
subprocess where the process itself matters (signals, concurrency, the entry point)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).parent.parent


@dataclass
class Result:
    """What ``subprocess.run(..., capture_output=True, text=True)`` gives."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str = field(repr=False)


def protein(*args: str, cwd: Path | str | None = None, env: dict | None = None,
            check: bool = True, timeout: float = 600, real: bool = False) -> Result:
    """``protein ARGS`` in ``cwd`` with ``env`` added; asserts success unless ``check=False``.

    In this process unless ``real``: stdout and stderr are captured, a user error's exit
    status is returned, and a crash comes back as exit status 1 with its traceback on
    stderr, as from a real process.
    """
    r = _subprocess(args, cwd, env, timeout) if real else _in_process(args, cwd, env)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def _in_process(args: tuple[str, ...], cwd: Path | str | None, env: dict | None) -> Result:
    from protein.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved_cwd, saved_env, saved_path = os.getcwd(), dict(os.environ), list(sys.path)
    # as `python -m protein` would: the working directory and $PYTHONPATH come first on the path
    extra = [str(Path(cwd or ".").resolve())] + [
        p for p in (env or {}).get("PYTHONPATH", "").split(os.pathsep) if p]
    before = set(sys.modules)
    try:
        if cwd is not None:
            os.chdir(cwd)
        os.environ.update(env or {})
        sys.path[:0] = extra
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as e:  # argparse: --help, --version, usage errors
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except Exception:  # noqa: BLE001 - a real process would exit 1 with the traceback
                traceback.print_exc()
                code = 1
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        sys.path[:] = saved_path
        for name in set(sys.modules) - before:  # a test's own train.py must not outlive it
            f = getattr(sys.modules[name], "__file__", None) or ""
            if any(f.startswith(p + os.sep) for p in extra if p != str(ROOT)):
                del sys.modules[name]
    return Result(["protein", *args], code, out.getvalue(), err.getvalue())


def _subprocess(args: tuple[str, ...], cwd: Path | str | None, env: dict | None,
                timeout: float) -> Result:
    r = subprocess.run([sys.executable, "-m", "protein", *args], capture_output=True, text=True,
                       cwd=cwd, timeout=timeout,
                       env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    return Result(list(r.args), r.returncode, r.stdout, r.stderr)
