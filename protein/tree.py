"""Dotted paths in nested dicts: ``{"trainer": {"lr": 1}}`` <-> ``{"trainer.lr": 1}``."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


def set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``tree[a][b][c] = value`` for ``dotted = 'a.b.c'``, creating dicts on the way."""
    keys = dotted.split(".")
    node = tree
    for k in keys[:-1]:
        nxt = node.get(k)
        if not isinstance(nxt, dict):
            nxt = node[k] = {}
        node = nxt
    node[keys[-1]] = value


def merge_into(dst: dict[str, Any], src: Mapping[str, Any]) -> None:
    """Deep-merge ``src`` into ``dst`` (``src`` wins on leaves)."""
    for k, v in src.items():
        if isinstance(v, Mapping) and isinstance(dst.get(k), dict):
            merge_into(dst[k], v)
        else:
            dst[k] = copy.deepcopy(v)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> ``{dotted.path: leaf}``."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        path = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, path + "."))
        else:
            out[path] = v
    return out


def has_path(tree: Mapping[str, Any], dotted: str) -> bool:
    """Whether ``tree`` holds ``dotted`` (nested, or as one dotted key)."""
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return dotted in tree
        node = node[part]
    return True
