"""The layering rules of docs/ARCHITECTURE.md, checked on the code itself.

- Only `aiops.airflow` and the DAG files import Airflow: domain code runs the same from the
  CLI, a test or a DAG (checked on the source and by importing every other module).
- Only `aiops.cli` (besides the tests and benchmarks) imports `aiops.dev`: a production
  image can leave the demo, the simulator and the local servers out.
- No import cycle among the modules' import-time imports, package `__init__`s included.
- No module imports another module's private (`_name`) names.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from aiops.traces.detect_graph import strongly_connected
from support.paths import REPO_ROOT

PLUGINS = REPO_ROOT / "plugins"
PACKAGE = PLUGINS / "aiops"
GENERATED = PACKAGE / "scaler" / "_generated"


def module_name(path: Path) -> str:
    parts = path.relative_to(PLUGINS).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {
        module_name(p): p
        for p in sorted(PACKAGE.rglob("*.py"))
        if GENERATED not in p.parents and p.name != "_preload.py"
    }


def imports(path: Path, *, top_level_only: bool) -> Iterator[tuple[int, str, list[str]]]:
    """(line, module imported, names taken from it) for each import in the file; with
    ``top_level_only``, only those that run when the module is imported (not inside a
    function, nor under ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(), str(path))
    package = ""  # what relative imports are relative to (only the package uses them)
    if PLUGINS in path.parents:
        name = module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(node: ast.AST) -> Iterator[tuple[int, str, list[str]]]:
        for child in ast.iter_child_nodes(node):
            if top_level_only and isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            ):
                continue
            if (
                top_level_only
                and isinstance(child, ast.If)
                and "TYPE_CHECKING" in ast.unparse(child.test)
            ):
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield child.lineno, alias.name, []
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                yield child.lineno, base, [a.name for a in child.names]
            else:
                yield from visit(child)

    yield from visit(tree)


def test_only_the_airflow_package_imports_airflow() -> None:
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{line}: imports {target}"
        for name, path in modules().items()
        if not (name == "aiops.airflow" or name.startswith("aiops.airflow."))
        for line, target, _ in imports(path, top_level_only=False)
        if target == "airflow" or target.startswith("airflow.")
    ]
    assert offenders == []


def test_importing_every_domain_module_loads_no_airflow() -> None:
    """Transitively too: a domain module that pulled Airflow in through a helper would make
    the CLI and the tests pay Airflow's import and configuration for nothing."""
    domain = [n for n in modules() if not n.startswith(("aiops.airflow", "aiops.dev", "aiops.cli"))]
    script = (
        "import importlib, json, sys\n"
        f"for name in {domain!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(PLUGINS)})  # fmt: skip
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_only_the_cli_imports_the_dev_tooling() -> None:
    allowed = ("aiops.cli", "aiops.dev")
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{line}: imports {target}"
        for name, path in modules().items()
        if not name.startswith(allowed)
        for line, target, names in imports(path, top_level_only=False)
        if target.startswith("aiops.dev") or (target == "aiops" and "dev" in names)
    ]
    for path in sorted((REPO_ROOT / "dags").glob("*.py")):
        offenders += [
            f"{path.relative_to(REPO_ROOT)}:{line}: imports {target}"
            for line, target, _ in imports(path, top_level_only=False)
            if target.startswith("aiops.dev")
        ]
    assert offenders == []


def import_graph() -> dict[str, set[str]]:
    """Module -> the aiops modules its import-time imports execute. Importing `a.b.c` from
    outside package `a.b` runs `a.b`'s `__init__` first, so that is an edge too."""
    known = modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        own_package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for _, target, names in imports(path, top_level_only=True):
            if not target.startswith("aiops"):
                continue
            submodules = {f"{target}.{n}" for n in names if f"{target}.{n}" in known}
            # `from package import submodule` needs the package's __init__ only when some
            # name is not a submodule (or the importer is outside the package)
            whole = len(submodules) < len(names) or not (
                own_package == target or own_package.startswith(target + ".")
            )
            targets = submodules | ({target} if whole or not names else set())
            for t in list(targets):
                parts = t.split(".")
                for i in range(2, len(parts)):
                    parent = ".".join(parts[:i])
                    inside = own_package == parent or own_package.startswith(parent + ".")
                    if not inside:
                        targets.add(parent)
            graph[name] |= {t for t in targets if t in known and t != name}
    return graph


class Arrow(NamedTuple):
    parent: str
    child: str


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Modules that import each other in a loop: the strongly connected components with more
    than one module, found by the dependency-cycle detector's own Tarjan."""
    return strongly_connected([Arrow(a, b) for a, targets in graph.items() for b in targets])


def test_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    """The check itself can fail: a two-module loop and a loop through a package's
    __init__ are both reported."""
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    assert cycles({"p": {"p.x"}, "p.x": {"q.y"}, "q.y": {"p"}, "q": set()}) == [["p", "p.x", "q.y"]]


@pytest.mark.parametrize("root", ["plugins", "dags", "bench"])
def test_no_module_imports_another_modules_private_names(root: str) -> None:
    """A name two modules need is public; `from aiops.x import _helper` hides a dependency."""
    offenders = []
    for path in sorted((REPO_ROOT / root).rglob("*.py")):
        if GENERATED in path.parents:
            continue
        for line, target, names in imports(path, top_level_only=False):
            if not target.startswith("aiops"):
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if (
                private
                or target.rpartition(".")[2].startswith("_")
                and target != "aiops.forecast._preload"
            ):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{line}: {target} {private}")
    assert offenders == []
