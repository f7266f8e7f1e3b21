"""Printing results for people (tables) and programs (JSON, YAML)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from protein.tree import set_path


def fmt_value(v: Any) -> str:
    """A compact, faithful text form of a parameter value or score."""
    if isinstance(v, bool) or v is None:
        return str(v).lower() if v is not None else "-"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e6):
            return f"{v:.3g}"
        return f"{v:.4g}"
    return str(v)


def value_text(v: Any) -> str:
    """A value as a command line takes it: ``true``/``false``, the shortest float text that
    round-trips (``Space.decode`` already dropped exp/log noise), JSON for mappings."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, Mapping):
        return json.dumps(_plain(v))
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(value_text(x) for x in v) + "]"
    return str(v)


PASS_STYLES = ("flags", "hydra")


def param_args(flat: Mapping[str, Any], style: str) -> list[str]:
    """Command-line arguments for flat ``{dotted.key: value}``.

    ``flags``: ``--a.b=value``; a list or tuple value becomes ``--a.b v1 v2`` (what argparse's
    ``nargs`` reads). ``hydra``: ``a.b=value``, lists as ``a.b=[v1,v2]``.
    """
    out: list[str] = []
    for k, v in flat.items():
        if style == "flags":
            if isinstance(v, (list, tuple)):
                out += [f"--{k}", *(value_text(x) for x in v)]
            else:
                out.append(f"--{k}={value_text(v)}")
        elif style == "hydra":
            out.append(f"{k}={value_text(v)}")
        else:
            raise ValueError(f"unknown argument style {style!r}; expected one of {PASS_STYLES}")
    return out


def env_name(key: str) -> str:
    """``trainer.learning_rate`` -> ``TRAINER_LEARNING_RATE``."""
    return "".join(c if c.isalnum() else "_" for c in key).upper()


def env_vars(flat: Mapping[str, Any]) -> dict[str, str]:
    """``{dotted.key: value}`` -> ``{DOTTED_KEY: text}``, as ``--pass env`` and ``ask --format
    env`` export them."""
    return {env_name(k): value_text(v) for k, v in flat.items()}


def with_seed(nested: Mapping[str, Any], seed_key: str | None,
              trial_seed: int | None) -> dict[str, Any]:
    """A copy of the params tree with the trial's seed at ``seed_key`` (unchanged when either
    is None): every place that hands a trial to a command puts the seed in the same way."""
    import copy

    out = copy.deepcopy(dict(nested))
    if trial_seed is not None and seed_key:
        set_path(out, seed_key, trial_seed)
    return out


def metric_headers(reported: list[str], taken: list[str]) -> list[str]:
    """Column names for reported metrics beside the columns ``taken``: ``metrics.NAME``
    where NAME is taken already (a metric named ``seconds`` or ``epochs`` beside the column
    or parameter of that name), so no two columns share a name."""
    used = set(taken)
    return [f"metrics.{m}" if m in used else m for m in reported]


def iso_time(t: float | None) -> str | None:
    """An epoch timestamp as ISO 8601 in UTC (``2026-11-23T14:22:08Z``)."""
    if t is None:
        return None
    from datetime import datetime, timezone

    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def short_names(names: Sequence[str]) -> list[str]:
    """The shortest dotted suffix of each name that no other name shares
    (``policy.lr`` and ``value.lr`` stay whole; a lone ``trainer.batch_size`` is ``batch_size``)."""
    out = []
    for n in names:
        parts = n.split(".")
        for k in range(1, len(parts) + 1):
            tail = ".".join(parts[-k:])
            if sum(1 for m in names if m == tail or m.endswith("." + tail)) == 1:
                out.append(tail)
                break
        else:
            out.append(n)
    return out


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """A plain aligned text table."""
    cells = [[str(h) for h in header]] + [[fmt_value(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def to_json(obj: Any) -> str:
    return json.dumps(_plain(obj), indent=2)


def to_yaml(obj: Any) -> str:
    import yaml

    return yaml.safe_dump(_plain(obj), sort_keys=False, default_flow_style=False).rstrip()


def _plain(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    return obj
