"""The search space: named parameters, fixed overrides and conditional parameters.

Notation: ``params`` is a flat ``{dotted.name: value}`` dict of *active* parameters; ``u``
is one encoded point, shape ``(d,)``, in [0, 1]; ``U`` is a batch, shape ``(n, d)``.
Column ``j`` of ``U`` belongs to ``space.names[j]``. A conditional parameter whose
condition does not hold is *inactive*: absent from ``params`` and encoded at a constant.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from distributions import Distribution, DistributionError
from distributions.base import cell_center
from distributions.categorical import _same
from protein.errors import SpaceError
from protein.tree import flatten, merge_into, set_path


@dataclass(frozen=True)
class Condition:
    """Parameter ``child`` is active only when ``parent`` takes one of ``values``."""

    parent: str
    values: tuple[Any, ...]


MAX_ENUMERATED = 200_000
MAX_ENCODED = 100_000  # points ``Space.encode`` remembers


def _clean(v: Any) -> Any:
    """A float without the noise below 15 significant digits that exp/log leave
    (``0.001``, not ``0.0010000000000000002``), so its shortest text is short and exact."""
    if isinstance(v, float) and math.isfinite(v):
        return float(f"{v:.15g}")
    return v


@dataclass(frozen=True)
class Space:
    """Ordered parameters, their activation conditions and the fixed overrides."""

    dists: Mapping[str, Distribution]
    conditions: Mapping[str, tuple[Condition, ...]] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.dists:
            raise SpaceError("the search space is empty; add at least one parameter")
        names = list(self.dists)
        for child, conds in self.conditions.items():
            if child not in self.dists:
                raise SpaceError(f"{child}: condition given for a parameter that is not searched")
            for c in conds:
                if c.parent not in self.dists:
                    raise SpaceError(
                        f"{child}.when: {c.parent!r} is not a searched parameter; "
                        f"expected one of {names}"
                    )
                parent = self.dists[c.parent]
                if parent.n_values is None:
                    raise SpaceError(
                        f"{child}.when: {c.parent} is continuous ({parent.kind}); conditions "
                        "need a categorical, int_uniform or uniform_pow2 parent"
                    )
                for v in c.values:
                    if not parent.contains(v):
                        raise SpaceError(
                            f"{child}.when: {v!r} is not a value of {c.parent} "
                            f"({parent.to_dict()})"
                        )
        order = self._activation_order()
        object.__setattr__(self, "_order", order)
        inactive = np.array([d.snap_unit(np.array([d.center]))[0] for d in self.dists.values()])
        object.__setattr__(self, "_inactive_u", inactive)
        object.__setattr__(self, "_encoded", {})  # params key -> u; see ``encode``

    def _activation_order(self) -> list[int]:
        """Column indices with every parent before its children (raises on cycles)."""
        names = list(self.dists)
        column = {n: j for j, n in enumerate(names)}
        done: dict[str, None] = {}  # insertion-ordered, O(1) membership
        visiting: set[str] = set()

        def visit(n: str) -> None:
            if n in done:
                return
            if n in visiting:
                raise SpaceError(f"{n}.when: conditions form a cycle through {sorted(visiting)}")
            visiting.add(n)
            for c in self.conditions.get(n, ()):
                visit(c.parent)
            visiting.discard(n)
            done[n] = None

        for n in names:
            visit(n)
        return [column[n] for n in done]

    # ------------------------------------------------------------------ shape
    @property
    def names(self) -> list[str]:
        return list(self.dists)

    @property
    def dim(self) -> int:
        return len(self.dists)

    @property
    def unordered(self) -> np.ndarray:
        """Shape ``(d,)`` bool: columns whose values are unordered choices (categoricals
        without an order): the model treats any two different choices as equally far."""
        return np.array([not d.is_ordered for d in self.dists.values()])

    @property
    def n_values(self) -> np.ndarray:
        """Shape ``(d,)``: each column's number of values (0 for continuous ones)."""
        return np.array([d.n_values or 0 for d in self.dists.values()])

    @property
    def is_discrete(self) -> np.ndarray:
        """Shape ``(d,)`` bool: whether each column takes finitely many values."""
        return np.array([d.n_values is not None for d in self.dists.values()])

    @property
    def center(self) -> np.ndarray:
        """Shape ``(d,)``: the search center (``mean`` of each parameter), snapped."""
        c = np.array([d.center for d in self.dists.values()])
        return self.snap(c[None, :])[0]

    @property
    def local_radius(self) -> np.ndarray:
        """Shape ``(d,)``: each parameter's ``scale`` as a half-width in unit coordinates."""
        return np.array([d.norm_scale / 2.0 for d in self.dists.values()])

    @property
    def grid_size(self) -> int | None:
        """Number of points of an exhaustive grid, or None if a parameter is continuous."""
        size = 1
        for d in self.dists.values():
            if d.n_values is None:
                return None
            size *= d.n_values
        return size

    @property
    def n_points(self) -> int | None:
        """Number of distinct points (active parameters only), or None if a parameter is
        continuous. Above ``MAX_ENUMERATED`` combinations, their count (an upper bound)."""
        size = self.grid_size
        if size is None or not self.conditions or size > MAX_ENUMERATED:
            return size
        import itertools

        seen = set()
        for combo in itertools.product(*[range(d.n_values) for d in self.dists.values()]):
            u = np.array([cell_center(i, d.n_values) for i, d in zip(combo, self.dists.values())])
            seen.add(tuple(np.round(self.snap(u[None, :])[0], 9)))
        return len(seen)

    # ------------------------------------------------------------- activation
    def is_active(self, name: str, params: Mapping[str, Any]) -> bool:
        """Whether ``name`` is active given the (flat) values of its parents in ``params``."""
        for c in self.conditions.get(name, ()):
            if c.parent not in params or not self.is_active(c.parent, params):
                return False
            if not any(_same(params[c.parent], v) for v in c.values):
                return False
        return True

    # --------------------------------------------------------- encode / decode
    def encode(self, params: Mapping[str, Any], *, where: str = "params") -> np.ndarray:
        """Flat ``params`` -> ``u``, shape ``(d,)``. Raises SpaceError naming the bad key.

        Every suggestion encodes every stored trial again, so results are remembered, keyed
        by the names, types and values of ``params`` (``1``, ``1.0`` and ``True`` apart)."""
        try:
            memo = tuple((k, type(v), v) for k, v in params.items())
            u = self._encoded.get(memo)
        except TypeError:  # an unhashable value (a list choice): encoded each time
            memo = u = None
        if u is None:
            u = self._encode(params, where)
            if memo is not None:
                if len(self._encoded) >= MAX_ENCODED:
                    self._encoded.clear()
                self._encoded[memo] = u
        return u.copy()

    def _encode(self, params: Mapping[str, Any], where: str) -> np.ndarray:
        unexpected = sorted(set(params) - set(self.dists))
        if unexpected:
            raise SpaceError(
                f"{where}: unknown parameter(s) {unexpected}; the space has {self.names}"
            )
        u = self._inactive_u.copy()
        for j, (name, dist) in enumerate(self.dists.items()):
            active = self.is_active(name, params)
            if name not in params:
                if active:
                    raise SpaceError(f"{where}: missing parameter {name!r} ({dist.kind})")
                continue
            if not active:
                raise SpaceError(
                    f"{where}: {name} is given but inactive "
                    f"(it needs {self._describe_conditions(name)})"
                )
            try:
                u[j] = dist.to_unit(dist.coerce(params[name]))
            except DistributionError as e:
                raise SpaceError(f"{where}: {e.at(name)}") from None
        return u

    def encode_many(self, params_list: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """A list of flat params -> ``U``, shape ``(n, d)``."""
        if not params_list:
            return np.empty((0, self.dim))
        return np.stack([self.encode(p) for p in params_list])

    def decode(self, u: np.ndarray) -> dict[str, Any]:
        """``u``, shape ``(d,)``, -> flat params of the active parameters, in space order."""
        u = np.asarray(u, dtype=float)
        if u.shape != (self.dim,):
            raise SpaceError(f"expected a point of shape ({self.dim},), got {u.shape}")
        values: dict[str, Any] = {}
        dists = list(self.dists.items())
        for j in self._order:
            name, dist = dists[j]
            if self.is_active(name, values):
                values[name] = _clean(dist.from_unit(float(u[j])))
        return {name: values[name] for name in self.dists if name in values}

    def decode_many(self, U: np.ndarray) -> list[dict[str, Any]]:
        return [self.decode(u) for u in np.asarray(U, dtype=float)]

    def snap(self, U: np.ndarray) -> np.ndarray:
        """Round each row of ``U``, shape ``(n, d)``, to a representable point.

        Discrete columns move to their cell centers; inactive columns to their constant.
        """
        U = np.clip(np.asarray(U, dtype=float), 0.0, 1.0).copy()
        for j, dist in enumerate(self.dists.values()):
            U[:, j] = dist.snap_unit(U[:, j])
        if self.conditions:
            U[~self.active_mask(U)] = np.broadcast_to(self._inactive_u, U.shape)[
                ~self.active_mask(U)
            ]
        return U

    def active_mask(self, U: np.ndarray) -> np.ndarray:
        """Shape ``(n, d)`` bool: which columns of each row are active."""
        U = np.atleast_2d(U)
        mask = np.ones(U.shape, dtype=bool)
        if not self.conditions:
            return mask
        names = self.names
        dists = list(self.dists.values())
        for j in self._order:
            for c in self.conditions.get(names[j], ()):
                p = names.index(c.parent)
                codes = np.array([dists[p].to_unit(v) for v in c.values])
                hit = np.isclose(dists[p].snap_unit(U[:, p])[:, None], codes[None, :]).any(axis=1)
                mask[:, j] &= hit & mask[:, p]
        return mask

    def _describe_conditions(self, name: str) -> str:
        return " and ".join(
            f"{c.parent} in {list(c.values)!r}" for c in self.conditions.get(name, ())
        )

    # ------------------------------------------------------------ nest / flat
    def nest(self, params: Mapping[str, Any], fill: Mapping[str, Any] | None = None) -> dict:
        """Flat params -> nested dict, on top of the fixed overrides (and ``fill`` if given).

        ``trainer.learning_rate`` becomes ``{"trainer": {"learning_rate": ...}}``. A name
        without a dot stays flat.
        """
        out: dict[str, Any] = copy.deepcopy(dict(fill)) if fill is not None else {}
        merge_into(out, copy.deepcopy(dict(self.fixed)))
        for name, value in params.items():
            set_path(out, name, value)
        return out

    def flatten(self, nested: Mapping[str, Any]) -> dict[str, Any]:
        """Nested (or flat) params -> flat params of the searched names found in them."""
        flat = flatten(nested)
        out: dict[str, Any] = {}
        for name in self.dists:
            if name in nested:
                out[name] = nested[name]
            elif name in flat:
                out[name] = flat[name]
        return out

    def to_dict(self) -> dict[str, Any]:
        """Parameters as config entries (with ``when`` for conditional ones)."""
        out: dict[str, Any] = {}
        for name, dist in self.dists.items():
            entry = dist.to_dict()
            if name in self.conditions:
                entry["when"] = {
                    c.parent: (list(c.values) if len(c.values) > 1 else c.values[0])
                    for c in self.conditions[name]
                }
            out[name] = entry
        return out


def conditions_from(when: Mapping[str, Mapping[str, Any]]) -> dict:
    """``{child: {parent: value | [values]}}`` -> ``{child: (Condition, ...)}``."""
    out: dict[str, tuple[Condition, ...]] = {}
    for child, spec in when.items():
        conds = []
        for parent, vals in spec.items():
            vals = tuple(vals) if isinstance(vals, (list, tuple)) else (vals,)
            conds.append(Condition(parent, vals))
        out[child] = tuple(conds)
    return out
