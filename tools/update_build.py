"""Writes BUILD from the tree: one py_library per qgcam_tf module, one py_test per test file.

Dependencies come from each file's imports (first-party modules become target labels,
third-party packages become ``requirement(...)`` entries), so BUILD stays true to the
code. ``tests/build_test.py`` fails when BUILD differs from what this script writes.

Usage: python tools/update_build.py [--check]
"""

from __future__ import annotations

import argparse
import ast
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# import name -> requirements.txt name
THIRD_PARTY = {
    "tensorflow": "tensorflow",
    "tensorflow_quantum": "tensorflow-quantum",
    "tensorflow_serving": "tensorflow-serving-api",
    "tf_keras": "tf-keras",
    "cirq": "cirq-core",
    "cirq_google": "cirq-google",
    "sympy": "sympy",
    "numpy": "numpy",
    "matplotlib": "matplotlib",
    "soundfile": "soundfile",
    "scipy": "scipy",
    "tqdm": "tqdm",
    "absl": "absl-py",
    "pytest": "pytest",
    "nbclient": "nbclient",
    "nbformat": "nbformat",
    "google": "protobuf",
    "grpc": "grpcio",
    "requests": "requests",
    "PIL": "pillow",
    "apache_beam": "apache-beam",
    "pyarrow": "pyarrow",
}
# Peer libraries of the benchmark, not in requirements.txt: qgcam_tf/bench/peers.py imports
# them inside its functions and runs in the peers' own virtualenv (made by
# benchmarks/setup_peers.sh), so they get no requirement(...) label. Any other module
# importing one is an error: the pinned stack does not have them.
PEER_ONLY = {"pennylane", "pennylane_lightning", "tensorcircuit", "jax", "qsimcirq"}
PEER_MODULES = {"qgcam_tf/bench/peers.py"}


def _files(folder: str, suffix: str = ".py") -> list[str]:
    out = []
    for base, dirs, names in os.walk(os.path.join(ROOT, folder)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        out += [
            os.path.relpath(os.path.join(base, n), ROOT)
            for n in sorted(names)
            if n.endswith(suffix)
        ]
    return out


def _module_of(path: str) -> str:
    mod = path[:-3].replace(os.sep, ".")
    return mod[: -len(".__init__")] if mod.endswith(".__init__") else mod


def _target(path: str) -> str:
    if path == "qgcam_tf/__init__.py":
        return "qgcam_tf"
    name = path[:-3].replace("/__init__", "").replace("/__main__", "/main")
    return name.replace(os.sep, "_").replace("qgcam_tf_", "", 1)


# Imports made by name at run time, which the AST walk cannot see.
def _dynamic(path: str, modules: dict[str, str]) -> set[str]:
    if path == "qgcam_tf/__init__.py":  # lazy re-exports: the module paths in _EXPORTS
        tree = ast.parse(open(os.path.join(ROOT, path)).read())
        found = {
            n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in modules
        }
        return {modules[m] for m in found}
    if path == "qgcam_tf/cli/main.py":  # subcommands imported by name from COMMANDS
        tree = ast.parse(open(os.path.join(ROOT, path)).read())
        # a command spelt with "-" (explain-batch) lives in a module spelt with "_"
        names = {
            str(n.value).replace("-", "_") for n in ast.walk(tree) if isinstance(n, ast.Constant)
        }
        return {
            t
            for m, t in modules.items()
            if m.startswith("qgcam_tf.cli.") and m.rpartition(".")[2] in names
        }
    if path == "qgcam_tf/data/registry.py":  # dataset modules imported by name
        return {
            t
            for m, t in modules.items()
            if m.startswith("qgcam_tf.data.") and m != "qgcam_tf.data.registry"
        }
    return set()


def _imports(path: str, modules: dict[str, str]) -> tuple[set[str], set[str]]:
    tree = ast.parse(open(os.path.join(ROOT, path)).read())
    local, external = set(), set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name.split(".")[0] == "qgcam_tf":
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                if name:
                    local.add(modules[name])
            elif name.split(".")[0] in PEER_ONLY:
                if path not in PEER_MODULES:
                    raise ValueError(
                        f"{path} imports {name!r}, a benchmark peer library that only the "
                        "peers' virtualenv has (see PEER_ONLY in tools/update_build.py)"
                    )
            elif name.split(".")[0] in THIRD_PARTY:
                external.add(THIRD_PARTY[name.split(".")[0]])
    return local, external


def _conftests(path: str) -> list[str]:
    """The conftest.py files pytest reads for a test: in its folder and every folder above,
    up to tests/."""
    found, folder = [], os.path.dirname(path)
    while folder and folder.startswith("tests"):
        candidate = os.path.join(folder, "conftest.py")
        if os.path.isfile(os.path.join(ROOT, candidate)):
            found.append(candidate)
        folder = os.path.dirname(folder)
    return sorted(found)


def _deps(local, external, own=None) -> str:
    items = sorted(f'":{t}"' for t in local if t != own) + sorted(
        f'requirement("{e}")' for e in external
    )
    if not items:
        return ""
    return "    deps = [\n" + "".join(f"        {i},\n" for i in items) + "    ],\n"


def render() -> str:
    libs = _files("qgcam_tf")
    modules = {_module_of(p): _target(p) for p in libs}
    out = [
        "# Generated by tools/update_build.py from the imports in the tree; do not edit by hand.",
        "# tests/build_test.py fails when this file is out of date.",
        'load("@rules_python//python:defs.bzl", "py_library", "py_test")',
        'load("@pypi//:requirements.bzl", "requirement")',
        "",
        'package(default_visibility = ["//visibility:public"])',
        "",
    ]
    for path in libs:
        local, external = _imports(path, modules)
        local |= _dynamic(path, modules)
        deps = _deps(local, external, _target(path))
        out.append(f'py_library(\n    name = "{_target(path)}",\n    srcs = ["{path}"],\n{deps})\n')
    for path in _files("tests"):
        if not path.endswith("_test.py"):
            continue
        local, external = _imports(path, modules)
        local.add("qgcam_tf")
        name = os.path.relpath(path, "tests")[:-3].replace(os.sep, "_")
        srcs = ", ".join(f'"{s}"' for s in [path, *_conftests(path)])
        # Test fixtures (a saved run) are data the test reads from the tree.
        uses_fixtures = "fixtures" in open(os.path.join(ROOT, path)).read()
        data = '    data = glob(["tests/fixtures/**"]),\n' if uses_fixtures else ""
        out.append(
            f'py_test(\n    name = "{name}",\n    size = "large",\n    srcs = [{srcs}],\n'
            f'    main = "{path}",\n{data}{_deps(local, external | {"pytest"})})\n'
        )
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if BUILD is out of date")
    args = parser.parse_args()
    text = render()
    path = os.path.join(ROOT, "BUILD")
    current = open(path).read() if os.path.exists(path) else ""
    if args.check:
        if current != text:
            print("BUILD is out of date: run python tools/update_build.py", file=sys.stderr)
            return 1
        return 0
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
