"""BUILD stays true to the tree: a target for every module and test file, valid labels."""

import ast
import glob
import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _targets():
    """(rule, kwargs) for each call in BUILD, parsed as the Python subset Starlark shares."""
    tree = ast.parse(open(os.path.join(ROOT, "BUILD")).read())
    out = []
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            call = node.value
            kwargs = {}
            for kw in call.keywords:
                try:
                    kwargs[kw.arg] = ast.literal_eval(kw.value)
                except ValueError:  # deps mix labels and requirement(...) calls
                    kwargs[kw.arg] = [
                        ast.literal_eval(e) for e in kw.value.elts if isinstance(e, ast.Constant)
                    ]
            out.append((call.func.id, kwargs))
    return out


def test_every_module_and_test_file_has_a_target():
    """Each qgcam_tf/**/*.py has a py_library and each tests/**/*_test.py a py_test."""
    targets = _targets()
    lib_srcs = {s for rule, kw in targets if rule == "py_library" for s in kw["srcs"]}
    test_srcs = {kw["srcs"][0] for rule, kw in targets if rule == "py_test"}
    modules = {
        os.path.relpath(p, ROOT)
        for p in glob.glob(os.path.join(ROOT, "qgcam_tf", "**", "*.py"), recursive=True)
    }
    tests = {
        os.path.relpath(p, ROOT)
        for p in glob.glob(os.path.join(ROOT, "tests", "**", "*_test.py"), recursive=True)
    }
    assert sorted(modules - lib_srcs) == [], "modules without a py_library"
    assert sorted(tests - test_srcs) == [], "test files without a py_test"


def test_labels_and_sources_exist():
    """Every src exists, every ':dep' names a target, and target names are unique."""
    targets = _targets()
    names = [kw["name"] for rule, kw in targets if "name" in kw]
    assert len(names) == len(set(names))
    for rule, kw in targets:
        for src in kw.get("srcs", []):
            assert os.path.isfile(os.path.join(ROOT, src)), src
        for dep in kw.get("deps", []):
            assert dep.startswith(":") and dep[1:] in names, f"{kw['name']}: unknown dep {dep}"


def test_build_is_regenerated():
    """BUILD equals what tools/update_build.py derives from the imports (deps are current)."""
    spec = importlib.util.spec_from_file_location(
        "update_build", os.path.join(ROOT, "tools", "update_build.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert open(os.path.join(ROOT, "BUILD")).read() == module.render(), (
        "run python tools/update_build.py"
    )
