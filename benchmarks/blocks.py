"""Blocks that scripts other than ``benchmarks.run`` keep in ``benchmarks/RESULTS.md``.

Each lies between its own markers (``<!-- name: benchmarks/script.py -->`` ...
``<!-- /name -->``); ``write`` replaces a block in place (or appends it), and ``kept``
returns every block of a file so that ``benchmarks.run`` carries them over when it writes
the file anew.
"""

from __future__ import annotations

import re
from pathlib import Path

MARKERS = {
    "dashboard": ("<!-- dashboard: benchmarks/dashboard.py -->", "<!-- /dashboard -->"),
    "versus": ("<!-- versus: benchmarks/versus.py -->", "<!-- /versus -->"),
}


def _pattern(name: str) -> re.Pattern[str]:
    begin, end = MARKERS[name]
    return re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)


def write(path: Path, name: str, body: str) -> str:
    """Put ``body`` between the markers of ``name`` in ``path``; returns the block."""
    begin, end = MARKERS[name]
    block = f"{begin}\n{body.strip()}\n{end}"
    old = path.read_text() if path.exists() else ""
    pattern = _pattern(name)
    path.write_text(pattern.sub(lambda _: block, old) if pattern.search(old)
                    else old.rstrip() + "\n\n" + block + "\n")
    return block


def kept(path: Path) -> str:
    """Every marked block of ``path``, in ``MARKERS`` order, each after a blank line."""
    try:
        old = path.read_text()
    except OSError:
        return ""
    found = [m.group(0) for name in MARKERS if (m := _pattern(name).search(old))]
    return "".join("\n\n" + b for b in found)
