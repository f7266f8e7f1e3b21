"""The base class of every parameter distribution.

Notation used across the package:

* ``value`` -- a parameter value as the trainer sees it (``3e-4``, ``64``, ``"adam"``);
* ``u`` -- its unit coordinate, a float in ``[0, 1]``;
* ``scale`` -- the spread of local sampling in Protein's normalised units, where the
  whole range is 2 wide (so ``scale=0.5`` perturbs by up to a quarter of the range).

Discrete distributions give each of their ``n`` values the cell ``[k/n, (k+1)/n)`` of the
unit interval and encode value ``k`` at the cell's center ``(k + 0.5)/n``; every value owns
an equal share of the interval, the two ends included.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

AUTO_SCALE = 0.5


def cell_center(k: Any, n: Any) -> Any:
    """The unit coordinate of discrete value ``k`` of ``n``: the center of its cell
    ``[k/n, (k+1)/n)``. Scalars or arrays of the same shape (broadcast)."""
    return (k + 0.5) / n


class DistributionError(ValueError):
    """A distribution was defined with, or given, an invalid value.

    ``path`` is the parameter's dotted name when known; it prefixes the message.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        self.bare = message
        super().__init__(f"{path}: {message}" if path else message)

    def at(self, path: str) -> DistributionError:
        """The same error, located at parameter ``path``."""
        return DistributionError(self.bare, path)


def is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def finite_float(x: Any) -> float | None:
    """``x`` as a finite float, or None: not a number, infinite, NaN, or an integer too
    large for a float (``10**400``)."""
    if not is_number(x):
        return None
    try:
        f = float(x)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def check_finite_number(kind: str, key: str, x: Any) -> float:
    f = finite_float(x)
    if f is None:
        shown = repr(x) if len(repr(x)) <= 40 else f"{repr(x)[:20]}... ({len(repr(x))} digits)"
        raise DistributionError(f"{kind} needs a finite number for {key}, got {key}={shown}")
    return f


class Distribution(abc.ABC):
    """Domain of one hyperparameter and its bijection with the unit interval.

    Invariants (checked by property tests):
      * ``from_unit(u)`` lies in the domain for every ``u`` in [0, 1];
      * ``from_unit(to_unit(v)) == v`` for every valid ``v`` (exact for discrete kinds);
      * for discrete kinds, uniform ``u`` hits each value with probability ``1/n``.
    """

    kind: ClassVar[str]
    is_categorical: ClassVar[bool] = False

    @property
    def is_ordered(self) -> bool:
        """Whether nearby unit values mean nearby values (all but unordered categoricals)."""
        return True

    @abc.abstractmethod
    def to_unit(self, value: Any) -> float:
        """Encode a value of the domain as ``u`` in [0, 1]; raise DistributionError otherwise."""

    @abc.abstractmethod
    def from_unit(self, u: float) -> Any:
        """Decode ``u`` (clipped to [0, 1]) to a value of the domain."""

    @abc.abstractmethod
    def contains(self, value: Any) -> bool:
        """Whether ``value`` belongs to the domain."""

    @property
    @abc.abstractmethod
    def center(self) -> float:
        """The search center (``mean``) as a unit coordinate."""

    @property
    @abc.abstractmethod
    def norm_scale(self) -> float:
        """``scale`` resolved to a number, in Protein's normalised units (range width 2)."""

    @property
    def n_values(self) -> int | None:
        """Number of representable values for discrete kinds, None for continuous ones."""
        return None

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The config entry that rebuilds this distribution (``distribution`` key first)."""

    def coerce(self, value: Any) -> Any:
        """``value`` turned into the domain's type (``'64'`` from a shell becomes ``64``)."""
        return value

    def grid(self, points: int) -> list[Any]:
        """Values for grid search: every value if discrete, else ``points`` evenly spaced in u."""
        if self.n_values is not None:
            n = self.n_values
            return [self.from_unit(cell_center(k, n)) for k in range(n)]
        if points == 1:
            return [self.from_unit(self.center)]
        return [self.from_unit(k / (points - 1)) for k in range(points)]

    def snap_unit(self, u: np.ndarray) -> np.ndarray:
        """Round unit coordinates, shape ``(n,)``, to those of representable values."""
        u = np.clip(u, 0.0, 1.0)
        n = self.n_values
        if n is None:
            return u
        k = np.minimum(np.floor(u * n), n - 1)
        return cell_center(k, n)


def resolve_scale(kind: str, scale: Any, time_scale: float | None = None) -> float:
    """Turn a config ``scale`` (number, ``'auto'`` or ``'time'``) into a positive float."""
    if scale == "auto" or scale is None:
        return AUTO_SCALE
    if scale == "time":
        if time_scale is None:
            raise DistributionError(
                f"{kind} does not take scale='time' (only log_normal does); "
                "use a number or 'auto'"
            )
        return time_scale
    if not is_number(scale) or not math.isfinite(float(scale)) or float(scale) <= 0:
        raise DistributionError(
            f"{kind} needs scale > 0, 'auto' or 'time', got scale={scale!r}; "
            "use e.g. scale: auto (0.5)"
        )
    return float(scale)


def entry(kind: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    return {"distribution": kind, **{k: v for k, v in fields.items() if v is not None}}
