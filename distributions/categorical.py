"""``categorical``: one of a list of choices (str, int, float or bool, or a list of those:
``[[64, 64], [128, 128, 128]]`` for layer sizes)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from distributions.base import (Distribution, DistributionError, entry, finite_float,
                                is_number, resolve_scale)


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps ``True`` apart from ``1`` and ``1.0``."""
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b)))
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        return a == b  # exact, also for integers too large for a float
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class Categorical(Distribution):
    """One of ``choices``; each owns an equal cell of the unit interval, in list order.

    ``mean`` names the choice to search around (default: the middle of the list).
    ``ordered``: whether the list order means something (nearby choices behave alike), so
    the optimizer may treat the choices as ordinal cells. Default: ordered when every choice
    is a number (``[16, 32, 64]``), unordered otherwise (``[adam, sgd, rmsprop]``), where any
    two different choices are equally far apart.
    """

    kind: ClassVar[str] = "categorical"
    is_categorical: ClassVar[bool] = True

    choices: tuple[Any, ...]
    mean: Any = None
    scale: float | str = "auto"
    ordered: bool | None = None

    def __post_init__(self) -> None:
        choices = self.choices
        if isinstance(choices, (str, bytes)) or not hasattr(choices, "__iter__"):
            raise DistributionError(
                f"categorical needs a list of choices, got choices={choices!r}; "
                "write e.g. values: [32, 64, 128]"
            )
        choices = tuple(choices)
        if len(choices) < 1:
            raise DistributionError("categorical needs at least one choice, got an empty list")
        def scalar(c: Any) -> bool:
            return isinstance(c, (str, bool)) or finite_float(c) is not None

        for c in choices:
            ok = scalar(c) or (isinstance(c, (list, tuple)) and bool(c) and all(map(scalar, c)))
            if not ok:
                raise DistributionError(
                    f"categorical choices must be str, int, float or bool, or non-empty lists "
                    f"of those, got {c!r} ({type(c).__name__})"
                )
        choices = tuple(tuple(c) if isinstance(c, list) else c for c in choices)
        for i, a in enumerate(choices):
            for b in choices[:i]:
                if _same(a, b):
                    raise DistributionError(
                        f"categorical choices must be distinct, {a!r} appears twice in "
                        f"{list(choices)!r}"
                    )
        object.__setattr__(
            self, "choices", tuple(c.item() if hasattr(c, "item") else c for c in choices)
        )
        if self.mean is not None and self._index(self.mean) is None:
            raise DistributionError(
                f"categorical mean must be one of the choices {list(choices)!r}, "
                f"got mean={self.mean!r}"
            )
        resolve_scale(self.kind, self.scale)
        if self.ordered is not None and not isinstance(self.ordered, bool):
            raise DistributionError(f"categorical ordered must be true or false, got "
                                    f"ordered={self.ordered!r}")

    @property
    def is_ordered(self) -> bool:
        """Whether the choices are ordinal cells (see ``ordered``)."""
        if self.ordered is not None:
            return self.ordered
        return all(is_number(c) and not isinstance(c, bool) for c in self.choices)

    @property
    def n_values(self) -> int:
        return len(self.choices)

    def _index(self, value: Any) -> int | None:
        for i, c in enumerate(self.choices):
            if _same(c, value):
                return i
        return None

    @property
    def center(self) -> float:
        i = (self.n_values - 1) // 2 if self.mean is None else self._index(self.mean)
        return (i + 0.5) / self.n_values  # type: ignore[operator]

    @property
    def norm_scale(self) -> float:
        return resolve_scale(self.kind, self.scale)

    def contains(self, value: Any) -> bool:
        return self._index(value) is not None

    def coerce(self, value: Any) -> Any:
        if not isinstance(value, str) or self.contains(value):
            return value
        low = value.strip().lower()
        for c in self.choices:
            if isinstance(c, bool) and low == str(c).lower():
                return c
            if is_number(c):
                try:
                    if float(low) == float(c):
                        return c
                except ValueError:
                    pass
        return value

    def to_unit(self, value: Any) -> float:
        i = self._index(value)
        if i is None:
            raise DistributionError(
                f"categorical value {value!r} is not one of {list(self.choices)!r}"
            )
        return (i + 0.5) / self.n_values

    def from_unit(self, u: float) -> Any:
        n = self.n_values
        c = self.choices[min(n - 1, max(0, int(math.floor(float(u) * n))))]
        return list(c) if isinstance(c, tuple) else c

    def to_dict(self) -> dict[str, Any]:
        mean = self.mean if self.mean is not None else self.choices[(self.n_values - 1) // 2]
        plain = [list(c) if isinstance(c, tuple) else c for c in self.choices]
        fields = {"choices": plain, "mean": list(mean) if isinstance(mean, tuple) else mean,
                  "scale": self.scale}
        if self.ordered is not None:
            fields["ordered"] = self.ordered
        return entry(self.kind, fields)
