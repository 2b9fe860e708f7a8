"""Tests for the public API in qgcam_tf/__init__.py."""

import importlib
import os
import subprocess
import sys

import pytest

import qgcam_tf as qg


def test_every_public_name_resolves_to_its_module():
    """Each name in __all__ is importable and is the object a qgcam_tf module defines."""
    for name in qg.__all__:
        obj = getattr(qg, name)
        home = getattr(obj, "__module__", None)
        if isinstance(home, str) and home.startswith("qgcam_tf."):
            assert getattr(importlib.import_module(home), name) is obj, name
        else:  # a constant (e.g. a dict): some package module holds this very object
            holders = [
                m
                for m, mod in sys.modules.items()
                if m.startswith("qgcam_tf.") and getattr(mod, name, None) is obj
            ]
            assert holders, name


def test_unknown_name_raises_attribute_error():
    """A name outside the API is an AttributeError that names it."""
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        qg.nope  # noqa: B018


def test_import_sets_legacy_keras_before_tensorflow():
    """Importing qgcam_tf in a clean process sets TF_USE_LEGACY_KERAS=1 and keeps TF unloaded."""
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = (
        "import os, sys, qgcam_tf; "
        "print(os.environ['TF_USE_LEGACY_KERAS'], 'tensorflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["1", "False"]


def test_dir_lists_the_api_once():
    """dir(qgcam_tf) is the public API and the version, each once, without os or importlib."""
    names = dir(qg)
    assert names == sorted(set(names))
    assert set(names) == {*qg.__all__, "__version__"}
    assert "os" not in names and "importlib" not in names


def test_noise_on_any_circuit_is_public():
    """add_noise and NoisyExpectationProgram (noise for any circuit) are qg names, the very
    objects of qgcam_tf.noise."""
    from qgcam_tf.noise.circuits import add_noise
    from qgcam_tf.noise.executors import NoisyExpectationProgram

    assert qg.add_noise is add_noise and qg.NoisyExpectationProgram is NoisyExpectationProgram
    assert {"add_noise", "NoisyExpectationProgram"} <= set(qg.__all__)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
