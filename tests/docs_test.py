"""The docs stay true: every module is named, the architecture's snippets run, links resolve,
and nothing cites a file outside the repository."""

import glob
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARCHITECTURE = os.path.join(ROOT, "docs", "architecture.md")
README = os.path.join(ROOT, "README.md")
TFQ_MODELS = os.path.join(ROOT, "docs", "tfq_models.md")
PAPER = os.path.join(ROOT, "docs", "paper.md")


def _modules() -> list[str]:
    paths = glob.glob(os.path.join(ROOT, "qgcam_tf", "**", "*.py"), recursive=True)
    return sorted(os.path.relpath(p, ROOT) for p in paths if not p.endswith("__init__.py"))


def _section(path: str, begin: str, end: str) -> str:
    text = open(path).read()
    return text[text.index(begin) : text.index(end)]


def _named_modules(text: str) -> set[str]:
    """Module paths a Markdown table names as `qgcam_tf/tier/module.py`."""
    return set(re.findall(r"`(qgcam_tf/[\w/]+\.py)`", text))


@pytest.mark.parametrize(
    "path,begin,end",
    [
        (ARCHITECTURE, "<!-- modules:begin -->", "<!-- modules:end -->"),
        (README, "<!-- layout:begin -->", "<!-- layout:end -->"),
    ],
)
def test_every_module_is_named_and_every_name_is_a_module(path, begin, end):
    """The module lists of docs/architecture.md and the README match the package exactly."""
    named = _named_modules(_section(path, begin, end))
    assert sorted(set(_modules()) - named) == [], "modules the list does not name"
    assert sorted(named - set(_modules())) == [], "names that are no module"


def _python_blocks(path: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", open(path).read(), re.S)


@pytest.mark.parametrize("doc", [ARCHITECTURE, README, TFQ_MODELS, PAPER], ids=os.path.basename)
def test_the_python_snippets_run(doc, tmp_path):
    """Each ```python block of the architecture, the README, the TFQ-model walkthrough and
    the paper page (commutator == shift) runs to its end in a fresh process (in a temporary
    folder, so nothing tracked is written)."""
    blocks = _python_blocks(doc)
    assert blocks, "the doc shows the API in at least one snippet"
    for i, code in enumerate(blocks):
        env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=600,
        )
        assert proc.returncode == 0, f"block {i}:\n{code}\n{proc.stderr[-3000:]}"


def _docs() -> list[str]:
    return [README] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))


@pytest.mark.parametrize("path", _docs(), ids=os.path.basename)
def test_relative_links_resolve(path):
    """Every relative Markdown link and image of the doc points at a file of the repository."""
    text = re.sub(r"```.*?```|`[^`\n]*`", "", open(path).read(), flags=re.S)  # not code
    missing = []
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target or target.startswith("mailto:"):
            continue
        if not os.path.exists(os.path.join(os.path.dirname(path), target)):
            missing.append(target)
    assert missing == []


EXPERIMENTS = os.path.join(ROOT, "docs", "experiments.md")
# options through which a documented command writes files
WRITE_OPTIONS = ("--out", "--figure", "--output", "--output-dir", "--update-doc")


def _tracked_files() -> list[str]:
    return subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()


def _touches_tracked(path: str, tracked: list[str]) -> bool:
    path = os.path.normpath(path)
    return any(f == path or f.startswith(path.rstrip("/") + "/") for f in tracked)


def test_experiment_commands_write_under_runs():
    """The commands of docs/experiments.md write no tracked file: their outputs go to runs/ (or
    a folder the reader names), and a tracked figure is replaced only by a separate `cp` step
    that names it, from a file under runs/."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", open(EXPERIMENTS).read(), re.S)
    tracked = _tracked_files()
    writes, copies = [], []
    for block in blocks:
        words = block.replace("\\\n", " ").replace("#", " ").split()
        writes += [words[i + 1] for i, w in enumerate(words[:-1]) if w in WRITE_OPTIONS]
        writes += [w.partition("=")[2] for w in words if w.partition("=")[0] in WRITE_OPTIONS]
        writes = [w for w in writes if w]
        copies += [line.split() for line in block.splitlines() if line.startswith("cp ")]
    assert writes, "the page shows its commands"
    assert [w for w in writes if _touches_tracked(w, tracked)] == []
    assert copies, "the tracked figures are refreshed by an explicit step"
    for _, source, target in copies:
        assert source.startswith("runs/") and target in tracked and target.startswith("docs/img/")


def test_nothing_cites_a_file_outside_the_repository():
    """No tracked file names DESIGN.md, which lives outside the repository."""
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    citing = [
        f
        for f in files
        if f.endswith((".py", ".md", ".ipynb", ".toml", ".txt", "Makefile"))
        and f != "tests/docs_test.py"
        and "DESIGN.md" in open(os.path.join(ROOT, f), errors="replace").read()
    ]
    assert citing == []


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
