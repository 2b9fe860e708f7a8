"""BUILD stays true to the tree: a target for every module and test file, valid labels."""

import ast
import glob
import importlib.util
import os
import re
import subprocess
import sys

import pytest

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
                except ValueError:  # deps mix labels and requirement(...); data = glob([...])
                    value = kw.value
                    if isinstance(value, ast.Call):  # glob(["pattern"]): keep the patterns
                        kwargs[kw.arg] = [f"glob:{p}" for p in ast.literal_eval(value.args[0])]
                        continue
                    kwargs[kw.arg] = [
                        ast.literal_eval(e) for e in value.elts if isinstance(e, ast.Constant)
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
        for pattern in kw.get("data", []):
            assert glob.glob(os.path.join(ROOT, pattern.removeprefix("glob:")), recursive=True), (
                f"{kw['name']}: data {pattern} matches no file"
            )
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


GUARD = 'if __name__ == "__main__":\n    sys.exit(pytest.main([__file__, *sys.argv[1:]]))\n'


def _test_files():
    pattern = os.path.join(ROOT, "tests", "**", "*_test.py")
    return sorted(glob.glob(pattern, recursive=True))


def test_every_test_file_runs_its_tests_as_a_program():
    """Each test file ends in the pytest guard, so its Bazel py_test (main = the file) runs it."""
    missing = [
        os.path.relpath(p, ROOT) for p in _test_files() if not open(p).read().endswith(GUARD)
    ]
    assert missing == [], "test files that run nothing when executed"


def test_a_test_file_run_as_a_program_reports_its_results(tmp_path):
    """Run as a program, a test file runs its tests: exit 0 when they pass, 1 when one fails."""
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1")
    real = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tests", "quantum", "basis_test.py"), "-q"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert real.returncode == 0, real.stdout + real.stderr
    assert re.search(r"^\d+ passed", real.stdout, re.M), real.stdout
    failing = tmp_path / "failing_test.py"
    failing.write_text(
        "import sys\n\nimport pytest\n\n\ndef test_fails():\n    assert 1 == 2\n\n\n" + GUARD
    )
    run = subprocess.run(
        [sys.executable, str(failing), "-q", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 failed" in run.stdout


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
