"""Executes every notebook in notebooks/ top to bottom (each at its small size)."""

from __future__ import annotations

import os
import sys

import pytest

from qgcam_tf.testing.data import shared_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK_DIR = os.path.join(ROOT, "notebooks")
NOTEBOOKS = sorted(f for f in os.listdir(NOTEBOOK_DIR) if f.endswith(".ipynb"))
# shared test data each notebook reads (the test is skipped where it is absent)
NEEDS = {
    "02_dogs_vs_cats.ipynb": ("dogs-vs-cats-mini",),
    "03_speech_noise.ipynb": ("speech-mini", "noise-mini"),
}
TIMEOUT_S = 240  # per cell; each notebook takes about a minute on two cores


def _read(name: str):
    import nbformat

    return nbformat.read(os.path.join(NOTEBOOK_DIR, name), as_version=4)


def test_notebooks_exist():
    """The experiment notebooks are all there."""
    assert {"01_mnist.ipynb", "02_dogs_vs_cats.ipynb", "03_speech_noise.ipynb"} <= set(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_stored_clean(name):
    """Stored without outputs, and the first code cell selects Keras 2 before TensorFlow loads."""
    book = _read(name)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert 'os.environ["TF_USE_LEGACY_KERAS"] = "1"' in code[0].source
    assert code[0].source.index("TF_USE_LEGACY_KERAS") < code[0].source.find("qgcam_tf")


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name):
    """The notebook executes top to bottom without an error."""
    from nbclient import NotebookClient

    data = os.environ.get("QGCAM_DATA")
    for part in NEEDS.get(name, ()):
        if data:
            if not os.path.isdir(os.path.join(data, part)):
                pytest.skip(f"{part} not in QGCAM_DATA={data}")
        else:
            shared_data(part)
    book = _read(name)
    client = NotebookClient(
        book,
        timeout=TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": NOTEBOOK_DIR}},
    )
    client.execute()
    errors = [
        o
        for c in book.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert not errors


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
