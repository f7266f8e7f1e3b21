"""The layering: every import (module level or inside a function) goes down the layers.

    distributions -> errors/tree/output/trial/process -> space, config -> pareto -> optimizer
    -> storage, study, api, integrations -> runner | report | migrate -> cli

and ``trainers`` never import ``protein``. Within the layer of runner, report and migrate,
no one of them imports another.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

LAYERS = [
    ("distributions",),
    ("protein.errors", "protein.tree", "protein.output", "protein.trial", "protein.process",
     "protein.invocation", "protein.masking"),
    ("protein.space", "protein.config"),
    ("protein.pareto",),  # fronts on arrays and trials: below the optimizer, which uses them
    ("protein.optimizer",),
    ("protein.storage", "protein.study", "protein.api", "protein.integrations",
     "protein.dataframe", "protein.ask_queue", "protein.results"),
    ("protein.runner", "protein.report", "protein.migrate"),
    ("protein.dashboard",),  # reads runs (runner) and report's rules, serves them
    ("protein.cli", "protein.__main__"),
]
SIBLINGS = ("protein.runner", "protein.report", "protein.migrate")  # must not import each other


def _owner(module: str, groups: tuple[str, ...]) -> str | None:
    return next((g for g in groups if module == g or module.startswith(g + ".")), None)


def layer_of(module: str) -> tuple[int, str] | None:
    for rank, groups in enumerate(LAYERS):
        g = _owner(module, groups)
        if g is not None:
            return rank, g
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, at any depth."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # "from protein.optimizer import candidates" imports protein.optimizer.candidates
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def sources(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", sources("protein", "distributions"),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_only_go_down_the_layers(path):
    me = module_name(path)
    mine = layer_of(me)
    if mine is None:
        assert me == "protein", f"{me} is in no layer: add it to LAYERS in {__file__}"
        return
    bad = []
    for line, target in imports(path):
        if not (target.startswith("protein") or target.startswith("distributions")):
            continue
        theirs = layer_of(target)
        if theirs is None:  # the lazy package root: "from protein import __version__"
            continue
        if theirs[0] > mine[0]:
            bad.append(f"{path.relative_to(ROOT)}:{line}: {me} (layer {mine[0]}) imports "
                       f"{target} (layer {theirs[0]})")
        elif theirs[0] == mine[0] and mine[1] in SIBLINGS and theirs[1] in SIBLINGS \
                and theirs[1] != mine[1]:
            bad.append(f"{path.relative_to(ROOT)}:{line}: {mine[1]} imports its sibling {target}")
    assert not bad, "\n".join(bad)


def test_trainers_never_import_protein():
    for path in sources("trainers"):
        for line, target in imports(path):
            assert not (target == "protein" or target.startswith("protein.")), \
                f"{path.relative_to(ROOT)}:{line} imports {target}"


def test_the_rule_catches_an_upward_import(tmp_path):
    # the checker itself: an optimizer module importing the study would be reported
    assert layer_of("protein.optimizer.single")[0] < layer_of("protein.study")[0]
    assert layer_of("protein.cli.run") == (8, "protein.cli")
    assert layer_of("protein.optimizer") == (4, "protein.optimizer")
    assert layer_of("protein.pareto")[0] < layer_of("protein.optimizer")[0]
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from protein.study import Study\n")
    assert imports(f) == [(2, "protein.study.Study")]


# modules whose import loads torch (BoTorch, GPyTorch): the one reason a module may import
# a project module inside a function instead of at its top
LOADS_TORCH = ("protein.optimizer.surrogate", "protein.optimizer.models",
               "protein.optimizer.acquisition", "protein.optimizer.phases")


@pytest.mark.parametrize("path", [p for p in sources("protein", "distributions")
                                  if "cli" not in p.relative_to(ROOT).parts],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_project_imports_stand_at_the_top_of_each_file(path):
    # the CLI keeps its imports inside each command, so that `protein tell` loads only
    # what it uses (tests/test_cli_study.py checks that nothing heavy comes in)
    hidden = []
    for fn in ast.walk(ast.parse(path.read_text())):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                        and node.module.split(".")[0] in ("protein", "distributions") \
                        and node.module not in LOADS_TORCH \
                        and not all(f"{node.module}.{a.name}" in LOADS_TORCH for a in node.names):
                    hidden.append(f"{path.name}:{node.lineno} from {node.module}")
    assert not hidden, f"import these at the top of the file: {hidden}"
