"""Continuous distributions: ``uniform``, ``log_normal`` and ``logit_normal``.

Each maps its range to the unit interval through a monotone transform ``T``:
``u = (T(v) - T(min)) / (T(max) - T(min))``. The names follow Protein configs; no normal
sampling happens -- ``mean`` is the center of local search and ``scale`` its spread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from distributions.base import (
    Distribution,
    DistributionError,
    check_finite_number,
    entry,
    is_number,
    resolve_scale,
)


@dataclass(frozen=True)
class _Continuous(Distribution):
    min: float
    max: float
    mean: float | None = None
    scale: float | str = "auto"
    integer: bool = False  # values are whole numbers (a step budget searched on a log scale)

    def __post_init__(self) -> None:
        if not isinstance(self.integer, bool):
            raise DistributionError(f"{self.kind} needs integer: true or false, got "
                                    f"integer={self.integer!r}")
        lo = check_finite_number(self.kind, "min", self.min)
        hi = check_finite_number(self.kind, "max", self.max)
        object.__setattr__(self, "min", lo)
        object.__setattr__(self, "max", hi)
        if not lo < hi:
            raise DistributionError(
                f"{self.kind} needs min < max, got min={lo!r}, max={hi!r}; swap or widen them"
            )
        self._check_domain()
        if self.integer and math.ceil(lo) > math.floor(hi):
            raise DistributionError(f"{self.kind} with integer: true needs a whole number "
                                    f"between min={lo!r} and max={hi!r}; widen the range")
        if self.mean is not None:
            mean = check_finite_number(self.kind, "mean", self.mean)
            if not lo <= mean <= hi:
                raise DistributionError(
                    f"{self.kind} needs min <= mean <= max, got mean={mean!r} outside "
                    f"[{lo!r}, {hi!r}]; move mean inside or widen the range"
                )
            object.__setattr__(self, "mean", mean)
        resolve_scale(self.kind, self.scale, self._time_scale())

    def _check_domain(self) -> None:
        pass

    def _time_scale(self) -> float | None:
        return None

    def _t(self, v: float) -> float:
        return v

    def _t_inv(self, t: float) -> float:
        return t

    @property
    def center(self) -> float:
        if self.mean is None:
            return 0.5
        return self.to_unit(self.mean)

    @property
    def resolved_mean(self) -> float:
        """``mean``, or the midpoint of the range in the transformed scale."""
        if self.mean is not None:
            return self.mean
        return self.from_unit(0.5)

    @property
    def norm_scale(self) -> float:
        return resolve_scale(self.kind, self.scale, self._time_scale())

    def contains(self, value: Any) -> bool:
        ok = is_number(value) and self.min <= float(value) <= self.max
        return ok and (not self.integer or float(value) == int(float(value)))

    def coerce(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                return value
        if is_number(value):
            v = float(value)
            return int(v) if self.integer and v == int(v) else v
        return value

    def to_unit(self, value: Any) -> float:
        if not self.contains(value):
            raise DistributionError(
                f"{self.kind} value {value!r} is outside [{self.min!r}, {self.max!r}]"
            )
        lo, hi = self._t(self.min), self._t(self.max)
        return min(1.0, max(0.0, (self._t(float(value)) - lo) / (hi - lo)))

    def from_unit(self, u: float) -> float:
        u = float(u)
        if u <= 0.0:
            return self._out(self.min)
        if u >= 1.0:
            return self._out(self.max)
        lo, hi = self._t(self.min), self._t(self.max)
        return self._out(min(self.max, max(self.min, self._t_inv(lo + u * (hi - lo)))))

    def _out(self, v: float) -> Any:
        """``v`` as the value handed out: the nearest whole number in range when
        ``integer``."""
        if not self.integer:
            return v
        return int(min(math.floor(self.max), max(math.ceil(self.min), round(v))))

    def to_dict(self) -> dict[str, Any]:
        return entry(
            self.kind,
            {"min": self.min, "max": self.max, "mean": self.resolved_mean, "scale": self.scale,
             **({"integer": True} if self.integer else {})},
        )


@dataclass(frozen=True)
class Uniform(_Continuous):
    """A float searched on a linear scale (dropout, momentum, coefficients)."""

    kind: ClassVar[str] = "uniform"


@dataclass(frozen=True)
class LogNormal(_Continuous):
    """A positive float searched on a log scale (learning rates, weight decay).

    ``scale: time`` gives ``1 / (log2 max - log2 min)``: about half a doubling either way.
    """

    kind: ClassVar[str] = "log_normal"

    def _check_domain(self) -> None:
        if self.min <= 0:
            raise DistributionError(
                f"log_normal needs 0 < min, got min={self.min!r}; use a small positive "
                f"bound such as {self.max * 1e-4:.3g}, or distribution: uniform"
            )

    def _time_scale(self) -> float | None:
        return 1.0 / (math.log2(self.max) - math.log2(self.min))

    def _t(self, v: float) -> float:
        return math.log(v)

    def _t_inv(self, t: float) -> float:
        return math.exp(t)


@dataclass(frozen=True)
class LogitNormal(_Continuous):
    """A probability-like float in (0, 1) searched on a logit scale (gamma, GAE lambda, clip).

    Unlike PufferLib's ``logit_normal``, which uses ``log10(1 - v)`` (fine near 1, almost
    linear near 0), this is a true logit: resolution is fine near both 0 and 1.
    """

    kind: ClassVar[str] = "logit_normal"

    def _check_domain(self) -> None:
        if not 0.0 < self.min or not self.max < 1.0:
            raise DistributionError(
                f"logit_normal needs 0 < min < max < 1, got min={self.min!r}, max={self.max!r}; "
                "move the bounds inside (0, 1), e.g. min: 0.001, max: 0.999"
            )

    def _t(self, v: float) -> float:
        return math.log(v) - math.log1p(-v)

    def _t_inv(self, t: float) -> float:
        if t >= 0:
            return 1.0 / (1.0 + math.exp(-t))
        e = math.exp(t)
        return e / (1.0 + e)
