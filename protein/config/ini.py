"""Read PufferLib-style INI files into a nested dict, remembering each key's line."""

from __future__ import annotations

import ast
import configparser
import re
from typing import Any

from protein.errors import ConfigError


def _value(raw: str) -> Any:
    text = raw.strip()
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_ini(text: str, name: str) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    """INI text -> (nested dict, ``{key path: line}``); ``[a.b]`` nests as ``{a: {b: ...}}``."""
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text, source=name)
    except configparser.Error as e:
        line = getattr(e, "lineno", None)
        loc = f"{name}:{line}" if line else name
        raise ConfigError(f"{loc}: not a valid INI file: {e.message.splitlines()[0]}") from None
    lines: dict[tuple[str, ...], int] = {}
    section: tuple[str, ...] = ()
    for i, line in enumerate(text.splitlines(), start=1):
        m = re.match(r"\s*\[([^\]]+)\]", line)
        if m:
            section = tuple(m.group(1).strip().split("."))
            lines[section] = i
            continue
        m = re.match(r"\s*([^#;=\s][^=]*?)\s*=", line)
        if m and section:
            lines[section + (m.group(1),)] = i
    doc: dict[str, Any] = {}
    for sec in parser.sections():
        node = doc
        for part in sec.split("."):
            node = node.setdefault(part, {})
        for key, raw in parser.items(sec):
            node[key] = _value(raw)
    return doc, lines
