"""qgcam_tf.evaluate.robustness: the noise sweep at strength 0 reproduces the model."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from qgcam_tf.noise.presets import make_noise  # noqa: E402
from qgcam_tf.quantum.circuits import VQCSpec  # noqa: E402


def test_run_sweep_zero_noise_reproduces_the_model(tiny_images, tiny_noisy_cam):
    """At strength 0 the sweep gives the model's own accuracy and maps; noise moves them."""
    from qgcam_tf.evaluate import robustness as rb
    from qgcam_tf.explain.qgradcam import QGradCAM

    model, _ = tiny_noisy_cam
    images = np.concatenate([tiny_images, tiny_images[:, ::-1]])
    labels = np.arange(len(images)) % 3
    configs = [
        rb.NoiseConfig("depolarizing", s, s, make_noise("depolarizing", s, method="density"))
        for s in (0.0, 0.3)
    ] + [rb.NoiseConfig("depolarizing", 0.0, 0.0, make_noise("depolarizing", 0.0), shots=50)]
    rows, example = rb.run_sweep(model, images, labels, configs, repeats=2, seed=1)
    clean = np.argmax(model.predict(images, verbose=0), -1)
    assert rows[0]["accuracy_mean"] == pytest.approx(np.mean(clean == labels))
    for m in rb.MAP_METRICS:
        assert rows[0][f"{m}_mean"] == pytest.approx(1.0, abs=1e-4)
        assert rows[1][f"{m}_mean"] < 0.999
    assert rows[0]["repeats"] == 1 and rows[2]["repeats"] == 2 and rows[2]["pearson_std"] > 0
    np.testing.assert_allclose(example["reference"], QGradCAM(model)(images[:1]).maps[0], atol=1e-5)


def test_is_random_for_shots_and_noisy_trajectories_only(tiny_noisy_cam):
    """Shots and noisy trajectories vary between runs; exact, density and channel-free
    trajectories do not; "auto" follows the qubit count (density up to 8 qubits)."""
    from qgcam_tf.evaluate.robustness import NoiseConfig, is_random
    from qgcam_tf.model.hybrid import build_hybrid_model

    small, _ = tiny_noisy_cam  # 3 qubits
    tf.keras.utils.set_random_seed(0)
    large = build_hybrid_model((8, 8, 1), 3, vqc=VQCSpec(9, 1, 3), backend="tf", conv_filters=(4,))

    def config(noise, shots=None):
        return NoiseConfig("depolarizing", 0.05, 0.05, noise, shots)

    depolarizing = lambda method: make_noise("depolarizing", 0.05, method=method)  # noqa: E731
    assert not is_random(config(None), small)
    assert is_random(config(None, shots=100), small)
    assert is_random(config(depolarizing("density"), shots=100), small)
    assert not is_random(config(depolarizing("density")), large)
    assert is_random(config(depolarizing("trajectories")), small)
    assert not is_random(config(make_noise("depolarizing", 0.0, method="trajectories")), small)
    assert not is_random(config(depolarizing("auto")), small)
    assert is_random(config(depolarizing("auto")), large)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
