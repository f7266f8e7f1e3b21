"""Build a distribution from one config entry, with errors that name the parameter."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any

from distributions.base import Distribution, DistributionError
from distributions.categorical import Categorical
from distributions.continuous import LogitNormal, LogNormal, Uniform
from distributions.discrete import IntUniform, UniformPow2

KINDS: dict[str, type[Distribution]] = {
    "uniform": Uniform,
    "int_uniform": IntUniform,
    "uniform_pow2": UniformPow2,
    "log_normal": LogNormal,
    "logit_normal": LogitNormal,
    "categorical": Categorical,
}

# Keys that a config entry may carry besides the distribution's own fields.
ENTRY_KEYS = frozenset({"distribution", "when"})


def from_config(path: str, spec: Mapping[str, Any]) -> Distribution:
    """Build the distribution of parameter ``path`` from its config entry ``spec``.

    ``spec`` holds ``distribution`` and that kind's fields (``min``, ``max``, ``mean``,
    ``scale``; ``choices`` or ``values`` for categorical). A ``values`` list without a
    ``distribution`` is a categorical. Raises DistributionError naming ``path``.
    """
    if not isinstance(spec, Mapping):
        raise DistributionError(
            f"expected a mapping with distribution/min/max, got {spec!r}", path
        )
    spec = dict(spec)
    if "values" in spec:
        if "choices" in spec:
            raise DistributionError("give either values or choices, not both", path)
        spec["choices"] = spec.pop("values")
        spec.setdefault("distribution", "categorical")
    kind = spec.get("distribution")
    if kind is None:
        raise DistributionError(
            f"missing 'distribution'; expected one of: {', '.join(KINDS)}", path
        )
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        close = difflib.get_close_matches(str(kind), KINDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise DistributionError(
            f"unknown distribution {kind!r}{hint}; expected one of: {', '.join(KINDS)}", path
        )
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(map(str, set(spec) - fields - ENTRY_KEYS))
    if unknown:
        hints = [
            f"{u!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(u, fields, 1))
            else repr(u)
            for u in unknown
        ]
        raise DistributionError(
            f"unknown key(s) {', '.join(hints)} for {kind}; allowed: {', '.join(sorted(fields))}",
            path,
        )
    required = {"choices"} if cls is Categorical else {"min", "max"}
    missing = sorted(required - set(spec))
    if missing:
        raise DistributionError(f"{kind} needs {' and '.join(missing)}", path)
    kwargs = {k: v for k, v in spec.items() if k in fields}
    try:
        return cls(**kwargs)
    except DistributionError as e:
        raise e.at(path) from None
