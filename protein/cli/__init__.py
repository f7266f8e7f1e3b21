"""The ``protein`` command line.

Results go to stdout (JSON by default, ``--format`` for others), messages to stderr. A
user mistake prints one line ``protein CMD: error: ...`` and exits 2; success exits 0.

Every command is in ``COMMANDS``, in the order ``protein --help`` lists them, with the
function that adds its parser; each group of commands has its module (``check``,
``study``, ``run``, ``cluster``, ``dashboard``, ``report``, ``migrate``) and what they share is in ``common``.
Heavy imports (torch, the optimizer, storage drivers) happen inside the commands.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from protein.cli import check, cluster, dashboard, migrate, report, run, study
from protein.config.settings import ProteinWarning
from protein.errors import ProteinError

COMMANDS: dict[str, Callable[[Any], None]] = {
    "check": check.add_check,
    "init": study.add_init,
    "ask": study.add_ask,
    "tell": study.add_tell,
    "progress": study.add_progress,
    "trials": study.add_trials,
    "best": study.add_best,
    "pareto": study.add_pareto,
    "studies": study.add_studies,
    "summary": study.add_summary,
    "rename": study.add_rename,
    "delete": study.add_delete,
    "run": run.add_run,
    "worker": cluster.add_worker,
    "slurm-script": cluster.add_slurm_script,
    "status": cluster.add_status,
    "dashboard": dashboard.add_dashboard,
    "report": report.add_report,
    "verify": report.add_verify,
    "compare": report.add_compare,
    "migrate": migrate.add_migrate,
}


def build_parser() -> argparse.ArgumentParser:
    from protein import __version__

    parser = argparse.ArgumentParser(
        prog="protein", description="Cost-aware Gaussian-process hyperparameter search."
    )
    parser.add_argument("--version", action="version", version=f"protein {__version__}")
    sub = parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")
    for add in COMMANDS.values():
        add(sub)
    return parser


def _show_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    print(f"protein: warning: {message}", file=sys.stderr)


NUMBER_OPTIONS = ("--score", "--value", "--cost", "--step")


def _join_negative_numbers(argv: Sequence[str]) -> list[str]:
    """``--score -inf`` as ``--score=-inf``: argparse takes ``-inf`` (and ``-1e-3``) for an
    option, so a number after a number-taking option is joined to it."""
    out: list[str] = []
    it = iter(argv)
    for a in it:
        if a in NUMBER_OPTIONS:
            nxt = next(it, None)
            if nxt is not None and nxt.startswith("-"):
                try:
                    float(nxt.split("=", 1)[-1])
                    out.append(f"{a}={nxt}")
                    continue
                except ValueError:
                    pass
            out.append(a)
            if nxt is not None:
                out.append(nxt)
            continue
        out.append(a)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_join_negative_numbers(sys.argv[1:] if argv is None else argv))
    saved = warnings.showwarning
    with warnings.catch_warnings():
        warnings.simplefilter("always", ProteinWarning)
        warnings.showwarning = _show_warning  # type: ignore[assignment]
        try:
            return int(args.func(args) or 0)
        except ProteinError as e:
            print(f"protein {args.subcommand}: error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"protein {args.subcommand}: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            return 0
        finally:
            warnings.showwarning = saved
