"""Stored benchmark runs: the source hash that keys Protein's, and reading and writing one.

Every benchmark stores each run as one JSON file under ``benchmarks/runs/`` as soon as it
finishes, and reuses it on the next invocation; the files are committed, so a fresh clone
rebuilds RESULTS.md without hours of recomputation. A peer's run depends only on the peer's
version; Protein's depends on its source, so its files carry ``source_hash()``: a change
to any file its suggestions can depend on runs them again.

Which files those are is found, not listed: the modules of the project (``protein``,
``distributions``) reachable by imports from a benchmark's entry points, function-local and
type-checking imports included (a superset is safe; a missed file is a stale result).
"""

from __future__ import annotations

import ast
import collections
import hashlib
import json
import os
import platform
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
RUNS = ROOT / "runs"
PROJECT = ROOT.parent
PACKAGES = ("protein", "distributions")

# what the benchmarks call: the library API and every model step (main, two objectives,
# versus), and for the training benchmark the Study and its in-memory storage as well
OPTIMIZER = ("protein.api", "protein.optimizer")
STUDY = OPTIMIZER + ("protein.study",)


def _file_of(module: str) -> Path | None:
    p = PROJECT.joinpath(*module.split("."))
    if (p / "__init__.py").exists():
        return p / "__init__.py"
    return p.with_suffix(".py") if p.with_suffix(".py").exists() else None


def _imports(path: Path) -> set[str]:
    """The project modules ``path`` imports anywhere in its text (relative ones resolved)."""
    rel = path.relative_to(PROJECT).with_suffix("").parts
    package = rel[:-1]  # a module's package; for an __init__.py, the package itself
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package[: len(package) - node.level + 1]
                base = ".".join([*up, *([base] if base else [])])
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}  # a name may be a submodule
    return {m for m in found if m.split(".")[0] in PACKAGES}


def source_files(entry: Iterable[str] = OPTIMIZER) -> list[Path]:
    """The project files reachable by imports from the modules ``entry`` (a package: every
    module in it), with the packages that hold them, sorted."""
    todo = list(entry)
    for module in entry:
        p = _file_of(module)
        if p is not None and p.name == "__init__.py":
            todo += [f"{module}.{f.stem}" for f in p.parent.glob("*.py") if f.stem != "__init__"]
    seen: dict[str, Path] = {}
    while todo:
        module = todo.pop()
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) not in seen]
        path = _file_of(module)
        if path is None or module in seen:
            continue
        seen[module] = path
        todo += sorted(_imports(path) - set(seen))
    return sorted(set(seen.values()))


def source_hash(entry: Iterable[str] = OPTIMIZER) -> str:
    """Ten hex digits over the paths and bytes of ``source_files(entry)``."""
    h = hashlib.sha256()
    for f in source_files(entry):
        h.update(str(f.relative_to(PROJECT)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:10]


def load(path: Path) -> dict[str, Any] | None:
    """A stored run, or None when there is none."""
    return json.loads(path.read_text()) if path.exists() else None


def save(path: Path, data: dict[str, Any]) -> None:
    """Store a run whole or not at all (a killed benchmark leaves no half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def most_stored(paths: Iterable[Path], tag_of: Any) -> dict[str, int]:
    """Source hash -> how many of ``paths`` carry it (``tag_of(path)``: its hash or None),
    most first."""
    counts = collections.Counter(t for p in paths if (t := tag_of(p)) is not None)
    return dict(counts.most_common())


# ------------------------------------------------ where each benchmark's runs live
def stored_tags() -> dict[str, int]:
    """Source hash -> how many single-objective Protein runs are stored under it."""
    def tag_of(p: Path) -> str | None:
        m = re.search(r"__s\d+__([0-9a-f]{10})\.json$", p.name)
        return m.group(1) if m else None

    return most_stored(RUNS.glob("protein__*__s*__*.json"), tag_of)


def task_path(opt: str, problem: str, seed: int, budget: int, tag: str) -> Path:
    if "@" in opt:  # "protein@TAG": Protein runs stored under another source hash
        opt, tag = opt.split("@", 1)
    suffix = f"__{tag}" if opt == "protein" else ""
    return RUNS / f"{opt}__{problem}__s{seed}{suffix}.json"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"torch {torch.__version__}, one torch thread per run")


# ------------------------------------------------------------ worker processes
def die_with_parent() -> None:
    """A pool worker's initializer: on Linux, the worker gets SIGTERM when the process
    that started it dies, so a benchmark killed part way leaves no worker running on (and
    storing runs) behind it. A run stores its file only when it ends (``save``), so a
    killed worker leaves nothing half written."""
    import signal
    import sys

    from protein.runner.execute import die_with_parent as on_parent_death

    if not sys.platform.startswith("linux"):
        return
    on_parent_death(signal.SIGTERM)
    if os.getppid() == 1:  # the parent died before the line above took effect
        os.kill(os.getpid(), signal.SIGTERM)
