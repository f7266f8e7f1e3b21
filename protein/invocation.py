"""How a trial reaches a command: its arguments and environment, per ``--pass`` mode.

One builder for every place that hands a trial to a command (``protein run``, the report's
"reproduce" line, ``protein ask``), so they cannot drift apart: the params and fixed
overrides (``nested``), with the trial's seed at ``seed_key`` and always as
``$PROTEIN_SEED``, as flags (``--a.b=v``), hydra overrides (``a.b=v``), a JSON file (its path
as the last argument and as ``$PROTEIN_PARAMS_FILE``) or variables (``A_B=v``).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from protein.errors import ProteinError
from protein.output import env_vars, param_args, with_seed
from protein.tree import flatten

PASS_MODES = ("flags", "hydra", "json", "env")


def trial_invocation(command: str | None, pass_mode: str, nested: Mapping[str, Any],
                     trial_seed: int | None, seed_key: str | None,
                     params_file: str | Path | None = None) -> tuple[list[str], dict[str, str]]:
    """``(argv, env)`` for one trial: ``command`` split as a shell would, then the params per
    ``pass_mode``; ``params_file`` is where the JSON of the params lies (``json`` mode)."""
    full = with_seed(nested, seed_key, trial_seed)
    flat = flatten(full)
    argv = shlex.split(command or "")
    env: dict[str, str] = {} if trial_seed is None else {"PROTEIN_SEED": str(trial_seed)}
    if pass_mode in ("flags", "hydra"):
        argv += param_args(flat, pass_mode)
    elif pass_mode == "json":
        if params_file is None:
            raise ProteinError("--pass json: the params file's path is needed")
        argv.append(str(params_file))
        env["PROTEIN_PARAMS_FILE"] = str(params_file)
    elif pass_mode == "env":
        env.update(env_vars(flat))
    else:
        raise ProteinError(f"--pass: unknown mode {pass_mode!r}; use {', '.join(PASS_MODES)}")
    return argv, env


def shell_line(argv: list[str], env: Mapping[str, str]) -> str:
    """``argv`` with ``env`` as ``NAME=value`` assignments before it, quoted for a shell."""
    return " ".join([*(f"{k}={shlex.quote(v)}" for k, v in env.items()),
                     *(shlex.quote(a) for a in argv)])
