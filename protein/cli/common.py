"""What the CLI's commands share: output in the chosen format, the --study/--storage
options, finding the study to work on."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from collections.abc import Callable
from typing import Any

from protein.errors import ProteinError
from protein.masking import mask_url
from protein.output import to_json, to_yaml

STORAGE_HELP = "sqlite path or postgresql:// URL (default: $PROTEIN_STORAGE or ./protein.db)"
STUDY_HELP = "study name (default: the storage's only study)"


def emit(obj: Any, fmt: str, table_text: Callable[[], str] | None = None) -> None:
    if fmt == "json":
        print(to_json(obj))
    elif fmt == "yaml":
        print(to_yaml(obj))
    elif table_text is not None:
        print(table_text())
    else:
        print(to_yaml(obj))


def study_args(p: argparse.ArgumentParser, fmt: tuple[str, ...] = ("json", "table", "yaml"),
                study_help: str = STUDY_HELP) -> None:
    p.add_argument("--study", default=None, help=study_help)
    p.add_argument("--storage", default=None, help=STORAGE_HELP)
    if fmt:
        p.add_argument("--format", choices=fmt, default=fmt[0])


DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


MAX_TRIAL_ID = 2**63 - 1  # what both backends' integer columns hold


def trial_id(text: str) -> int:
    """A trial id: an integer from 0 (an argparse type)."""
    try:
        v = int(text)
    except ValueError:
        v = -1
    if not 0 <= v <= MAX_TRIAL_ID:
        raise argparse.ArgumentTypeError(
            f"expected a trial id (an integer from 0, as protein trials lists them), got {text[:30]!r}")
    return v


def add_stop_options(p: Any, defaults: bool) -> None:
    """The early-stopping options of ``protein run`` and ``protein progress``, in one place,
    with ``StopConfig``'s defaults (``defaults``: as the options' defaults; else None, so
    ``protein run`` can take them from the config and say where each came from)."""
    from protein.optimizer.early_stop import DEFAULT_GRACE, StopConfig

    d = StopConfig()
    own = (lambda v: v) if defaults else (lambda v: None)  # noqa: E731
    p.add_argument("--smooth", type=int, default=own(d.smooth),
                   help=f"judge the mean of the last K intermediate values (default {d.smooth})")
    p.add_argument("--grace", type=float, default=own(d.grace),
                   help="no stop before this step; below 1, that fraction of --max-resource "
                        f"(default {DEFAULT_GRACE}; the curve rule: 0.1 of the trial's own "
                        "predicted budget); ASHA's first rung")
    p.add_argument("--max-resource", type=float, default=own(d.max_resource),
                   help="the last step of a full trial (default: the furthest step a "
                        "complete trial reported)")
    p.add_argument("--reduction-factor", type=float, default=own(d.reduction_factor),
                   help=f"ASHA keeps the top 1/F at each rung (default {d.reduction_factor:g})")
    p.add_argument("--min-trials", type=int, default=own(d.min_trials),
                   help=f"complete trials before the median rule judges (default {d.min_trials})")
    p.add_argument("--min-probability", type=float, default=own(d.min_probability),
                   help="the curve rule stops a trial whose chance of reaching the front "
                        f"falls below this (default {d.min_probability})")


def write_output(path: str, text: str, option: str = "--output") -> None:
    """Write ``text`` to the file ``path`` given as ``option``; a one-line error for a
    folder, a missing folder, a full disk or a file that cannot be written."""
    import errno

    p = Path(path)
    if p.is_dir():
        raise ProteinError(f"{option} {path}: is a folder; give a file name (e.g. {p / 'sweep.yaml'})")
    if not p.parent.is_dir():
        raise ProteinError(f"{option} {path}: the folder {p.parent} does not exist; create it first")
    try:
        p.write_text(text)
    except OSError as e:
        full = e.errno in (errno.ENOSPC, errno.EDQUOT)
        raise ProteinError(f"{option} {path}: cannot write it ("
                           + ("the disk is full; free some space and run again" if full
                              else str(e.strerror)) + ")") from None


def duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``30m``, ``6h`` or ``2d`` (an argparse type)."""
    t = text.strip().lower()
    scale = DURATION_UNITS.get(t[-1:], None)
    try:
        value = float(t[:-1] if scale else t)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(
            f"expected a duration > 0: seconds, or a number with s, m, h or d (90, 30m, 6h, "
            f"2d), got {text!r}")
    return value * (scale or 1.0)


def open_study(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from protein.study import Study

    return Study.load(sole_study(args.study, args.storage), args.storage)


def existing_storage(storage: str | None) -> str:
    """The storage URL of a command that works on a stored study: a SQLite file that does not
    exist is an error (opening it would create an empty database where the user looked)."""
    from pathlib import Path

    from protein.storage import default_url

    url = storage or default_url()
    if "://" not in url or url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):] if url.startswith("sqlite:///") else url)
        if not path.exists():
            raise ProteinError(f"no study database at {path}; create a study with protein init "
                               "CONFIG (or protein run CONFIG), or give --storage (or "
                               "$PROTEIN_STORAGE) where your studies are")
    return url


def sole_study(name: str | None, storage: str | None) -> str:
    """``name``, or the storage's only study (printed); several or none is an error."""
    existing_storage(storage)
    if name is not None:
        return name
    from protein.storage import default_url, open_backend

    names = open_backend(storage).study_names()
    where = mask_url(storage or default_url())
    if len(names) == 1:
        print(f"protein: study {names[0]!r} (the only one in {where})", file=sys.stderr)
        return names[0]
    if not names:
        raise ProteinError(f"no study in {where}; create one with protein init CONFIG "
                           "(or protein run CONFIG), or give --storage")
    raise ProteinError(f"{where} holds {len(names)} studies ({', '.join(names)}); "
                       "choose one with --study NAME")


def study_name(cfg: Any, path: str) -> str:
    """The config's ``study:`` or its file name; printed so the user knows what to pass."""
    name = cfg.study_name(path)
    origin = "the config's study: key" if cfg.study else "the config file's name"
    print(f"protein: study {name!r} ({origin}; --study NAME to choose another)", file=sys.stderr)
    return name


def grid_size(cfg: Any) -> int:
    """How many distinct points the config's grid has."""
    from protein.optimizer.baselines import grid_points

    return len(grid_points(cfg.space, cfg.settings.grid_points))
