"""Every kind of finding the code can emit is registered with its label and its why sentence,
and a process that only renders stored findings knows them all. A kind nobody registered is
an error naming it, never an issue with a label made up from its name and no reason."""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from aiops.findings.kinds import FindingKind, KindRegistry, UnknownKindError
from aiops.findings.model import kind_label
from aiops.sinks.render import render_issue
from support.findings import DAY, PRODUCTS
from support.paths import REPO_ROOT

PLUGINS = REPO_ROOT / "plugins"


def _emitted_kinds() -> dict[str, str]:
    """Kind -> where it is emitted: the kind of every `Finding(...)` built in the package, a
    string or the `.name` of a module-level FindingKind (anything else fails: it could not be
    checked)."""
    found: dict[str, str] = {}
    for path in sorted((PLUGINS / "aiops").rglob("*.py")):
        module = ".".join(path.relative_to(PLUGINS).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            func = getattr(node, "func", None)
            if (
                not isinstance(node, ast.Call)
                or getattr(func, "id", getattr(func, "attr", "")) != "Finding"
            ):
                continue
            where = f"{path.relative_to(REPO_ROOT)}:{node.lineno}"
            kind = next((k.value for k in node.keywords if k.arg == "kind"), None)
            kind = node.args[1] if kind is None and len(node.args) > 1 else kind
            if isinstance(kind, ast.Constant) and isinstance(kind.value, str):
                found[kind.value] = where
            elif (
                isinstance(kind, ast.Attribute)
                and kind.attr == "name"
                and isinstance(kind.value, ast.Name)
            ):
                declared = getattr(importlib.import_module(module), kind.value.id)
                assert isinstance(declared, FindingKind), (
                    f"{where}: {kind.value.id} is not a FindingKind"
                )
                found[declared.name] = where
            else:
                pytest.fail(f"{where}: Finding(kind=...) must be a string or a FindingKind's .name")
    return found


def test_a_process_that_only_renders_knows_every_kind_the_code_emits() -> None:
    """What the filing task sees: it imports the renderer, not the analyses."""
    script = (
        "import json; from aiops.findings.kinds import KINDS; "
        "print(json.dumps({k.name: [k.label, k.why] for k in KINDS.all()}))"
    )
    env = {**os.environ, "PYTHONPATH": str(PLUGINS)}
    done = subprocess.run([sys.executable, "-c", script], env=env, check=True,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    registered = json.loads(done.stdout)
    emitted = _emitted_kinds()
    missing = {kind: where for kind, where in emitted.items() if kind not in registered}
    assert not missing, f"kinds emitted without a FindingKind (label, why): {missing}"
    assert set(registered) == set(emitted), "a registered kind nothing emits"
    for label, why in registered.values():
        assert label.strip() and why.strip().endswith(".")


def test_each_kind_reads_as_it_always_has() -> None:
    """The labels people see in the dependency picture, the CLI's list and an issue's
    "Detector" line."""
    labels = {
        "n_plus_one": "N+1",
        "sequential_calls": "sequential calls",
        "critical_path_hotspot": "hotspot",
        "chatty_pair": "chatty",
        "fan_out": "fan-out",
        "single_point_of_failure": "single point of failure",
        "dependency_cycle": "cycle",
        "error_hotspot": "errors start here",
        "new_error_template": "new error template",
        "incident": "incident",
        "rightsizing": "right-sizing",
    }
    assert {kind: kind_label(kind) for kind in labels} == labels


def test_a_finding_of_an_unregistered_kind_is_refused_naming_it_not_rendered() -> None:
    made_up = replace(PRODUCTS, kind="slow_query")
    with pytest.raises(UnknownKindError) as refused:
        render_issue(made_up, repository="acme-shop/catalog", interval=DAY)
    message = str(refused.value)
    assert "finding kind 'slow_query' is not registered" in message
    assert "n_plus_one" in message and "FindingKind(name, label, why)" in message
    with pytest.raises(UnknownKindError, match="'slow_query'"):
        kind_label("slow_query")


def test_a_kind_is_declared_once() -> None:
    registry = KindRegistry()
    kind = registry.register(FindingKind("slow_query", label="slow query", why="It is slow."))
    assert registry.register(kind) is kind  # the same declaration again: harmless
    with pytest.raises(ValueError, match="'slow_query' is already registered"):
        registry.register(FindingKind("slow_query", label="slow SQL", why="It is slow."))
    assert registry.get("slow_query").label == "slow query"
    registry.unregister("slow_query")
    with pytest.raises(UnknownKindError, match="'slow_query' is not registered"):
        registry.get("slow_query")


def test_a_kind_may_say_when_a_finding_found_again_is_worth_telling_its_issue() -> None:
    """Most kinds tell every day (None); right-sizing tells only numbers that moved."""
    from aiops.findings.kinds import KINDS
    from aiops.rightsizing.findings import moved

    assert KINDS.get("n_plus_one").worth_telling is None
    assert KINDS.get("rightsizing").worth_telling is moved

    def changed(told: dict, today: dict) -> bool:
        return told["title"] != today["title"]

    registry = KindRegistry()
    kind = registry.register(
        FindingKind("slow_query", label="slow query", why="It is slow.", worth_telling=changed)
    )
    assert registry.register(kind) is kind
    assert kind == FindingKind("slow_query", label="slow query", why="It is slow.",
                               worth_telling=changed)  # fmt: skip
    assert hash(kind) == hash(replace(kind))
    with pytest.raises(ValueError, match="'slow_query' is already registered"):
        registry.register(replace(kind, worth_telling=None))
    with pytest.raises(ValueError, match="worth_telling must be a function"):
        FindingKind("slow_query", label="slow query", why="It is slow.", worth_telling="title")
