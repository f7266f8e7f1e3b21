"""Integer distributions: ``int_uniform`` and ``uniform_pow2``.

Both index their ``n`` values by ``k = 0 .. n-1`` and give value ``k`` the unit cell
``[k/n, (k+1)/n)``, encoding it at the center ``(k + 0.5)/n``; each value owns an equal
share of the interval, so uniform sampling hits each with probability ``1/n``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from distributions.base import (
    Distribution,
    DistributionError,
    cell_center,
    check_finite_number,
    finite_float,
    entry,
    is_number,
    resolve_scale,
)


def _as_int(x: Any) -> int | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, str):
        try:
            x = float(x)
        except ValueError:
            return None
    f = finite_float(x)
    if f is not None and f == int(f):
        return int(f)
    return None


@dataclass(frozen=True)
class _Indexed(Distribution):
    min: int
    max: int
    mean: float | None = None
    scale: float | str = "auto"


    @property
    def n_values(self) -> int:
        return self._k_max() + 1

    def _k_max(self) -> int:
        raise NotImplementedError

    def _k_of(self, value: int) -> int:
        raise NotImplementedError

    def _value_of(self, k: int) -> int:
        raise NotImplementedError

    def _k_real(self, mean: float) -> float:
        """Position of a (possibly non-representable) center on the k axis."""
        raise NotImplementedError

    def _check_mean(self) -> None:
        resolve_scale(self.kind, self.scale)
        if self.mean is None:
            return
        mean = check_finite_number(self.kind, "mean", self.mean)
        if not self.min <= mean <= self.max:
            raise DistributionError(
                f"{self.kind} needs min <= mean <= max, got mean={mean!r} outside "
                f"[{self.min}, {self.max}]; move mean inside or widen the range"
            )
        object.__setattr__(self, "mean", int(mean) if mean == int(mean) else mean)

    @property
    def center(self) -> float:
        if self.mean is None:
            return 0.5
        return cell_center(self._k_real(float(self.mean)), self.n_values)

    @property
    def norm_scale(self) -> float:
        return resolve_scale(self.kind, self.scale)

    def coerce(self, value: Any) -> Any:
        k = _as_int(value)
        return value if k is None else k

    def contains(self, value: Any) -> bool:
        v = _as_int(value)
        if v is None or not isinstance(value, (int, float)) or not self.min <= v <= self.max:
            return False
        try:
            self._k_of(v)
        except DistributionError:
            return False
        return True

    def to_unit(self, value: Any) -> float:
        if not self.contains(value):
            raise DistributionError(f"{self.kind} value {value!r} is not one of {self._describe()}")
        return cell_center(self._k_of(int(value)), self.n_values)

    def from_unit(self, u: float) -> int:
        n = self.n_values
        k = min(n - 1, max(0, int(math.floor(float(u) * n))))
        return self._value_of(k)

    def _describe(self) -> str:
        return f"the integers {self.min}..{self.max}"

    def to_dict(self) -> dict[str, Any]:
        return entry(
            self.kind,
            {"min": self.min, "max": self.max, "mean": self.resolved_mean, "scale": self.scale},
        )


@dataclass(frozen=True)
class IntUniform(_Indexed):
    """An integer searched on a linear scale (layers, epochs, counts)."""

    kind: ClassVar[str] = "int_uniform"

    def __post_init__(self) -> None:
        for key in ("min", "max"):
            raw = getattr(self, key)
            v = _as_int(raw)
            if v is None:
                near = finite_float(raw)
                shown = repr(raw) if len(repr(raw)) <= 40 else f"{repr(raw)[:20]}..."
                raise DistributionError(
                    f"int_uniform needs a finite integer {key}, got {key}={shown}; "
                    + (f"use {math.floor(near)} or {math.ceil(near)}" if near is not None
                       else "use an integer")
                )
            object.__setattr__(self, key, v)
        if not self.min < self.max:
            raise DistributionError(
                f"int_uniform needs min < max, got min={self.min}, max={self.max}; "
                "for a fixed value, move the key out of parameters into the fixed overrides"
            )
        self._check_mean()

    @property
    def resolved_mean(self) -> float:
        return self.mean if self.mean is not None else (self.min + self.max) / 2

    def _k_max(self) -> int:
        return self.max - self.min

    def _k_of(self, value: int) -> int:
        return value - self.min

    def _value_of(self, k: int) -> int:
        return self.min + k

    def _k_real(self, mean: float) -> float:
        return mean - self.min


def _is_pow2(v: int) -> bool:
    return v >= 1 and v & (v - 1) == 0


def _pow2_neighbours(x: Any) -> str:
    f = finite_float(x)
    if f is None or f <= 0:
        return "a power of two such as 32"
    e = math.log2(f)
    lo, hi = 2 ** max(0, math.floor(e)), 2 ** max(0, math.ceil(e))
    return f"{lo} or {hi}" if lo != hi else str(lo)


@dataclass(frozen=True)
class UniformPow2(_Indexed):
    """A power of two searched on a log2 scale (batch sizes, widths, horizons)."""

    kind: ClassVar[str] = "uniform_pow2"

    def __post_init__(self) -> None:
        for key in ("min", "max"):
            raw = getattr(self, key)
            v = _as_int(raw)
            if v is None or not _is_pow2(v):
                shown = repr(raw) if len(repr(raw)) <= 40 else f"{repr(raw)[:20]}..."
                raise DistributionError(
                    f"uniform_pow2 needs powers of two, got {key}={shown}; "
                    f"use {_pow2_neighbours(raw)}"
                )
            object.__setattr__(self, key, v)
        if not self.min < self.max:
            raise DistributionError(
                f"uniform_pow2 needs min < max, got min={self.min}, max={self.max}; "
                "for a fixed value, move the key out of parameters into the fixed overrides"
            )
        self._check_mean()

    @property
    def resolved_mean(self) -> float:
        if self.mean is not None:
            return self.mean
        return 2.0 ** ((math.log2(self.min) + math.log2(self.max)) / 2)

    def _k_max(self) -> int:
        return int(math.log2(self.max)) - int(math.log2(self.min))

    def _k_of(self, value: int) -> int:
        if not _is_pow2(value):
            raise DistributionError(f"{value} is not a power of two")
        return int(math.log2(value)) - int(math.log2(self.min))

    def _value_of(self, k: int) -> int:
        return self.min << k

    def _k_real(self, mean: float) -> float:
        return math.log2(mean) - math.log2(self.min)

    def _describe(self) -> str:
        return f"the powers of two {self.min}..{self.max}"
