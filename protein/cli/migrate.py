"""``protein migrate``: CARBS config -> Protein sweep YAML."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from protein.cli.common import write_output
from protein.errors import ConfigError
from protein.output import table


def _read(path: str) -> Any:
    """A YAML or JSON file, read as ``protein check`` reads configs (duplicate keys and alias
    bombs refused, one-line errors)."""
    from protein.config.load import parse_yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{path}: is a directory, not a config file" if p.is_dir() else
                          f"{path}: no such file")
    try:
        text = p.read_text()
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (expected YAML or JSON)") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read it: {e.strerror}") from None
    return parse_yaml(text, path, mapping=False)[0]


def _migrate(args: argparse.Namespace) -> int:
    import yaml

    from protein.config import load_config
    from protein.migrate import carbs_to_protein, check_rows

    doc = _read(args.input)
    base = None
    if args.base:
        base = _read(args.base)
        if not isinstance(base, dict):
            raise ConfigError(f"{args.base}: expected a config mapping for --base")
    new, warnings = carbs_to_protein(doc, base, source=args.input)
    for w in warnings:
        print(f"protein migrate: warning: {w}", file=sys.stderr)
    load_config(new)  # what we write must load
    if args.check:
        print(table(check_rows(doc, new),
                    ["path", "CARBS space", "Protein distribution", "min", "max", "center"]))
        return 0
    text = (f"# Migrated from {args.input} by protein migrate "
            f"({len(warnings)} warning{'s' if len(warnings) != 1 else ''}).\n"
            + yaml.safe_dump(new, sort_keys=False))
    if args.output:
        write_output(args.output, text, "-o")
        print(f"protein migrate: wrote {args.output}", file=sys.stderr)
    else:
        print(text, end="")
    return 0


def add_migrate(sub: Any) -> None:
    p = sub.add_parser("migrate", help="convert a CARBS sweep config to a Protein sweep config")
    p.add_argument("input", help="CARBS config: YAML with ${ss:...} or {space: ...} leaves, "
                                 "or a JSON/YAML list of CARBS params")
    p.add_argument("-o", "--output", help="write the Protein YAML here (default: stdout)")
    p.add_argument("--base", help="trainer config whose values give missing search centers")
    p.add_argument("--check", action="store_true",
                   help="print a side-by-side table and write nothing")
    p.set_defaults(func=_migrate)


