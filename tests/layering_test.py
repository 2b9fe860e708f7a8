"""The package's shape: tiers import only downwards, no import cycles, no private seams.

The tiers are the folders of ``qgcam_tf`` (docs/architecture.md). Every import counts,
including those inside functions and modules imported by name with ``importlib``.
"""

from __future__ import annotations

import ast
import glob
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Lowest first. A module may import from its own tier and the tiers before it.
TIERS = (
    "fileio",
    "quantum",
    "noise",
    "data",
    "model",
    "explain",
    "evaluate",
    "viz",
    "serving",
    "bench",
    "cli",
    "testing",
    "__main__",
    "__init__",
)
RANK = {name: i for i, name in enumerate(TIERS)}


def _module_name(path: str) -> str:
    rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
    return rel[: -len(".__init__")] if rel.endswith(".__init__") else rel


def _modules() -> dict[str, str]:
    paths = glob.glob(os.path.join(ROOT, "qgcam_tf", "**", "*.py"), recursive=True)
    return {_module_name(p): p for p in sorted(paths)}


MODULES = _modules()


def tier_of(module: str) -> str:
    """The tier of a ``qgcam_tf`` module: its first folder, or the top-level module itself."""
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def _resolve(name: str) -> str | None:
    """The deepest module of the package that ``name`` (a dotted import) refers to."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(path: str) -> set[str]:
    """Every package module that the file at ``path`` imports, anywhere in it."""
    tree = ast.parse(open(path).read(), path)
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
        ):
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                names = [arg.value]
            elif isinstance(arg, ast.JoinedStr) and isinstance(arg.values[0], ast.Constant):
                names = [arg.values[0].value.rstrip(".")]  # f"qgcam_tf.cli.{name}": the package
        for name in names:
            if name.split(".")[0] == "qgcam_tf":
                module = _resolve(name)
                if module:
                    found.add(module)
    return found


GRAPH = {m: imports_of(p) - {m} for m, p in MODULES.items()}


def test_every_folder_of_the_package_is_a_known_tier():
    """A new folder must be placed among the tiers before it can hold code."""
    assert sorted({tier_of(m) for m in MODULES} - set(RANK)) == []


def test_no_module_imports_from_a_tier_above_its_own():
    """Each import goes to the same tier or one below (lazy and importlib imports included)."""
    upward = sorted(
        f"{m} ({tier_of(m)}) imports {d} ({tier_of(d)})"
        for m, deps in GRAPH.items()
        for d in deps
        if RANK[tier_of(d)] > RANK[tier_of(m)]
        and not (tier_of(m) == "__init__" or tier_of(d) == "__init__")
    )
    assert upward == []


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a list of modules (first repeated last), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_find_cycle_finds_one_and_only_real_ones():
    """The cycle finder reports a three-module loop and stays quiet on a diamond."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": set()}) is None


def test_the_package_has_no_import_cycle():
    """No chain of imports, lazy ones included, leads from a module back to itself."""
    graph = {m: {d for d in deps if d != "qgcam_tf"} for m, deps in GRAPH.items()}
    assert find_cycle(graph) is None


def _private_names() -> set[str]:
    """Names with one leading underscore that some package module defines."""
    names = set()
    for path in MODULES.values():
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def private_uses(path: str, private: set[str]) -> list[str]:
    """Places in ``path`` that import a private name of the package or reach into an
    object's private attribute (anything but ``self``/``cls``)."""
    tree = ast.parse(open(path).read(), path)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("qgcam_tf"):
            out += [
                f"{node.lineno}: from {node.module} import {a.name}"
                for a in node.names
                if a.name.startswith("_") and not a.name.startswith("__")
            ]
        elif isinstance(node, ast.Attribute) and node.attr in private:
            base = node.value
            if not (isinstance(base, ast.Name) and base.id in ("self", "cls")):
                out.append(f"{node.lineno}: .{node.attr}")
    return out


@pytest.mark.parametrize("folder", ["qgcam_tf", "tests", "scripts"])
def test_no_module_uses_another_modules_private_names(folder):
    """A leading underscore means 'this module only', tests included."""
    private = _private_names()
    found = []
    for path in sorted(glob.glob(os.path.join(ROOT, folder, "**", "*.py"), recursive=True)):
        found += [f"{os.path.relpath(path, ROOT)}:{u}" for u in private_uses(path, private)]
    assert found == []


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
