"""Noise robustness of a trained hybrid model: accuracy and QGrad-CAM maps under NISQ noise.

For each noise configuration (a :class:`~qgcam_tf.noise.model.NoiseModel` and a shot count) the
model runs with its quantum layer (:func:`quantum_target`) noisy in place of exact: the
network up to the layer computes its input, the noisy circuit gives the readouts ``f``
(estimated from ``shots`` measurements per Pauli term when shots are given), and the rest of
the network (the paper's trained scale and softmax, or whatever follows the layer) gives the
probabilities. The layer may run the paper's circuit (its ring placement and fast noisy
executor), another :class:`~qgcam_tf.quantum.circuits.VQCSpec` family, any circuit of
:meth:`~qgcam_tf.model.layers.VQCLayer.from_circuit`, or a converted
:class:`~qgcam_tf.model.layers.CircuitLayer`; circuits other than the paper's get their noise
from :class:`~qgcam_tf.noise.executors.NoisyExpectationProgram`, and hardware presets place
them on the device by their connectivity (:func:`~qgcam_tf.noise.hardware.place_circuit`;
a circuit that does not fit is a ValueError naming the pairs). The maps use
:meth:`~qgcam_tf.explain.qgradcam.QGradCAM.explicit_weights` with the same noise and shots (each
parameter-shift term measured on the noisy circuit), combined with the activations by
:meth:`~qgcam_tf.explain.base.BaseCAM.combine` /
:meth:`~qgcam_tf.explain.base.BaseCAM.upsample`,
and are compared with the noiseless maps of the same images and classes by Pearson
correlation, IoU of the top-20% pixels and SSIM.

Uncertainty: every stochastic configuration (trajectories or shots) is repeated with fresh
randomness; ``*_std`` is the standard deviation of the per-repeat means (the spread caused by
trajectories/shots) and ``*_ci95`` the half-width of the 95% confidence interval of the
mean over images (the spread across images).
"""

from __future__ import annotations

import csv
import dataclasses
import time
from collections.abc import Sequence

import cirq
import numpy as np
import tensorflow as tf
import tf_keras as keras

from qgcam_tf.evaluate.metrics import map_stability, mean_ci
from qgcam_tf.explain.base import default_score_layer
from qgcam_tf.explain.qgradcam import QGradCAM
from qgcam_tf.fileio import atomic_path
from qgcam_tf.model.convert import model_nodes, quantum_calls
from qgcam_tf.model.hybrid import CONV_LAYER
from qgcam_tf.model.layers import CircuitLayer, VQCLayer
from qgcam_tf.noise.executors import (
    DENSITY_MAX_QUBITS,
    EXACT_MAX_QUBITS,
    NoisyExpectationProgram,
    noisy_executor,
)
from qgcam_tf.noise.hardware import HARDWARE_PRESETS, hardware_noise
from qgcam_tf.noise.model import NoiseModel
from qgcam_tf.noise.presets import make_noise
from qgcam_tf.quantum.circuits import VQCSpec
from qgcam_tf.quantum.compiler import ExpectationProgram
from qgcam_tf.quantum.readout import as_pauli_sum
from qgcam_tf.quantum.shift import sample_expectations

__all__ = [
    "NoiseConfig",
    "MAP_METRICS",
    "QuantumTarget",
    "compare_maps",
    "noisy_maps",
    "noisy_predict",
    "is_random",
    "noise_configs",
    "quantum_target",
    "run_sweep",
    "write_csv",
]

MAP_METRICS = ("pearson", "iou", "ssim")
COLUMNS = (
    ["preset", "strength", "x", "shots", "method", "repetitions", "images", "repeats"]
    + [f"{m}_{s}" for m in ("accuracy",) + MAP_METRICS for s in ("mean", "std", "ci95")]
    + ["seconds"]
)


@dataclasses.dataclass(frozen=True)
class NoiseConfig:
    """One point of a sweep.

    Attributes:
        preset: label of the line it belongs to (a preset name).
        strength: the preset's strength (channel probability, or a hardware scale factor).
        x: position on the plot's strength axis (hardware presets: their mean two-qubit
            depolarizing probability, to compare them with the depolarizing line).
        model: the noise model (None: noiseless).
        shots: measurements per expectation (None: exact expectations).
    """

    preset: str
    strength: float
    x: float
    model: NoiseModel | None
    shots: int | None = None


@dataclasses.dataclass(frozen=True)
class QuantumTarget:
    """The quantum layer of a model that a sweep runs with noise (:func:`quantum_target`).

    Attributes:
        layer: the :class:`~qgcam_tf.model.layers.VQCLayer` or
            :class:`~qgcam_tf.model.layers.CircuitLayer`.
        spec: the paper circuit's :class:`~qgcam_tf.quantum.circuits.VQCSpec` (its ring
            placement and noisy executor, :func:`~qgcam_tf.noise.executors.noisy_executor`);
            None for every other circuit.
        circuit: the circuit the layer runs (``cirq.Circuit``).
        symbols: its symbols, in the column order of :meth:`symbol_values`.
        readouts: ``tuple[cirq.PauliSum, ...]``, one per output of the layer.
        qubits: the circuit-qubit order (the sorted qubits of the circuit and the readouts):
            the order of per-qubit noise strengths and of a hardware placement.
    """

    layer: keras.layers.Layer
    spec: VQCSpec | None
    circuit: cirq.Circuit
    symbols: tuple
    readouts: tuple
    qubits: tuple

    @property
    def n_qubits(self) -> int:
        """The number of circuit qubits."""
        return len(self.qubits)

    @property
    def placed(self) -> VQCSpec | cirq.Circuit:
        """What a hardware preset places: the paper's ``spec``, else ``circuit``."""
        return self.circuit if self.spec is None else self.spec

    def symbol_values(self, x) -> tf.Tensor:
        """The circuit's symbol values ``[B, S]`` for the layer's input ``x``."""
        if isinstance(self.layer, VQCLayer):
            return self.layer.symbol_values(tf.convert_to_tensor(x, tf.float32))
        return tf.convert_to_tensor(x, tf.float32)


def quantum_target(model, score_layer: str | None = None) -> QuantumTarget:
    """The quantum layer of ``model`` that a sweep makes noisy.

    Args:
        model: a functional tf_keras model.
        score_layer: the quantum layer's name (default: the model's one quantum layer,
            :func:`~qgcam_tf.explain.base.default_score_layer`).

    Raises:
        ValueError: no such layer, a layer that is not a ``VQCLayer`` / ``CircuitLayer``
            (a model built with TensorFlow Quantum's layers is converted first with
            :func:`~qgcam_tf.model.convert.convert_to_tf`), or a layer called more than once.
    """
    name = default_score_layer(model) if score_layer is None else score_layer
    names = [layer.name for layer in model.layers]
    if name not in names:
        raise ValueError(f"score_layer {name!r} is not in the model; it has {names}")
    layer = model.get_layer(name)
    if any(call.layer is layer for call in quantum_calls(model)):
        raise ValueError(
            f"layer {name!r} is TensorFlow Quantum's {type(layer).__name__}: convert the model "
            f"first with qgcam_tf.convert_to_tf(model, circuits=...) to sweep its noise"
        )
    if isinstance(layer, VQCLayer):
        spec = layer.spec if layer.spec is not None and layer.spec.ansatz == "paper" else None
        vqc = layer.vqc
        circuit, symbols, readouts = vqc.circuit, tuple(vqc.symbols), tuple(vqc.readouts)
    elif isinstance(layer, CircuitLayer):
        program = layer.program
        spec, circuit = None, program.circuit
        symbols, readouts = tuple(program.symbols), tuple(program.readouts)
    else:
        raise ValueError(
            f"score_layer {name!r} is a {type(layer).__name__}, not a quantum layer (VQCLayer "
            f"or CircuitLayer): the noise sweep needs one"
        )
    calls = [node for node in model_nodes(model) if node.layer is layer]
    if len(calls) != 1:
        raise ValueError(
            f"quantum layer {name!r} is called {len(calls)} times; the sweep needs one"
        )
    readouts = tuple(as_pauli_sum(r, f"readouts[{l}]") for l, r in enumerate(readouts))
    qubits = tuple(sorted(set(circuit.all_qubits()).union(*(r.qubits for r in readouts))))
    return QuantumTarget(layer, spec, circuit, symbols, readouts, qubits)


def _hardware_x(model: NoiseModel, n: int) -> float:
    """A hardware model's x: its mean two-qubit depolarizing probability (the mean
    single-qubit one for a circuit without two-qubit gates)."""
    if model.edges == ():
        return float(np.mean(model.per_qubit("depolarizing", n)))
    return model.mean_two_qubit_depolarizing(n)


def noise_configs(
    circuit,
    *,
    presets: Sequence[str],
    strengths: Sequence[float] = (0.0,),
    scales: Sequence[float] = (1.0,),
    shots: Sequence[int | None] = (None,),
    method: str = "auto",
    repetitions: int = 100,
) -> list[NoiseConfig]:
    """The points of a sweep: every preset at each of its strengths, times each shot count.

    Channel presets are swept over ``strengths`` (probabilities); hardware presets
    (``rainbow``, ``weber``) over ``scales`` (factors on their calibrated error rates), with
    the mean two-qubit depolarizing probability of the placed circuit as their x value.
    Repeated values are swept once.

    Args:
        circuit: what hardware presets place: a :class:`QuantumTarget` (its ``placed``, in
            its qubit order), the paper circuit's :class:`~qgcam_tf.quantum.circuits.VQCSpec`
            (its ring), or any ``cirq.Circuit`` (placed by its connectivity, qubits sorted).
        presets / strengths / scales / shots: the sweep.
        method / repetitions: how each model is simulated
            (:class:`~qgcam_tf.noise.model.NoiseModel`).

    Raises:
        ValueError: an unknown preset or a bad strength; a hardware preset on a circuit
            that does not fit the device (the message names the device and the pairs).
        TypeError: ``circuit`` is none of the three.
    """
    if isinstance(circuit, QuantumTarget):
        placed, qubits, n = circuit.placed, circuit.qubits, circuit.n_qubits
    elif isinstance(circuit, VQCSpec):
        placed, qubits, n = circuit, None, circuit.n_qubits
    elif isinstance(circuit, cirq.AbstractCircuit):
        placed, qubits = circuit, tuple(sorted(circuit.all_qubits()))
        n = len(qubits)
    else:
        raise TypeError(
            f"circuit must be a QuantumTarget, VQCSpec or cirq.Circuit, got {circuit!r}"
        )
    options = dict(method=method, repetitions=repetitions)
    configs = []
    for preset in dict.fromkeys(presets):
        hardware = preset in HARDWARE_PRESETS
        for strength in dict.fromkeys(scales if hardware else strengths):
            if hardware and not isinstance(placed, VQCSpec):
                model = hardware_noise(preset, placed, qubits=qubits).scaled(strength)
                model = dataclasses.replace(model, **options)
            else:
                model = make_noise(preset, strength, spec=placed if hardware else None, **options)
            x = _hardware_x(model, n) if hardware else strength
            for n_shots in dict.fromkeys(shots):
                configs.append(NoiseConfig(preset, strength, x, model, n_shots))
    return configs


def compare_maps(reference: np.ndarray, maps: np.ndarray) -> dict[str, np.ndarray]:
    """Per-image Pearson, top-20% IoU and SSIM of ``maps`` against ``reference`` [B, H, W]."""
    out = map_stability(reference, maps, top_fraction=0.2)
    ssim = tf.image.ssim(
        tf.constant(reference[..., None], tf.float32),
        tf.constant(maps[..., None], tf.float32),
        max_val=1.0,
        filter_size=min(11, *reference.shape[1:]),
    )
    return {"pearson": out["pearson"], "iou": out["iou"], "ssim": ssim.numpy()}


class _Readouts:
    """The target's readouts with a noise model: ``symbol values -> f [B, L]``, each Pauli
    term estimated from ``shots`` measurements when shots are given."""

    def __init__(self, target: QuantumTarget, noise: NoiseModel | None):
        self._constants = np.zeros(len(target.readouts))
        if target.spec is not None:  # the paper's <Z_l>: one term each
            self._run = (
                target.layer.executor if noise is None else noisy_executor(target.spec, noise)
            )
            self._weights = None
            return
        terms, weights = {}, []
        for l, total in enumerate(target.readouts):
            for term in total:
                c = float(np.real(term.coefficient))
                if not term.qubits:  # the identity is not measured
                    self._constants[l] += c
                    continue
                unit = term.with_coefficient(1)
                k = terms.setdefault(unit, len(terms))
                weights.append((k, l, c))
        self._weights = np.zeros((len(terms), len(target.readouts)))
        for k, l, c in weights:
            self._weights[k, l] += c
        units = list(terms)
        if not units:
            self._run = None
        elif noise is None:
            self._run = ExpectationProgram(
                target.circuit, target.symbols, units, qubits=target.qubits
            )
        else:
            self._run = NoisyExpectationProgram(
                target.circuit, target.symbols, units, noise, qubits=target.qubits
            )

    def __call__(self, values, shots, rng) -> np.ndarray:
        if self._run is None:
            return np.broadcast_to(self._constants, (len(values), len(self._constants))).copy()
        f = self._run(values).numpy().astype(np.float64)
        if shots is not None:
            f = sample_expectations(f, shots, rng)
        return f if self._weights is None else self._constants + f @ self._weights


def _replay(model, images, node, quantum) -> tf.Tensor:
    """``model``'s output for ``images`` (inference mode), layer by layer, with the output
    of ``node`` replaced by ``quantum(its input)``."""
    values = {id(model.inputs[0]): images}
    for current in model_nodes(model):
        layer = current.layer
        if isinstance(layer, keras.layers.InputLayer):
            continue
        args, kwargs = tf.nest.map_structure(
            lambda v: values[id(v)] if keras.backend.is_keras_tensor(v) else v,
            (tuple(current.call_args), dict(current.call_kwargs)),
        )
        if current is node:
            outputs = quantum(args[0] if args else kwargs["inputs"])
        else:
            kwargs.setdefault("training", False)
            outputs = layer(*args, **kwargs)
        for old, new in zip(tf.nest.flatten(current.outputs), tf.nest.flatten(outputs)):
            values[id(old)] = new
    return values[id(model.outputs[0])]


def noisy_predict(
    model,
    images: np.ndarray,
    noise: NoiseModel | None,
    *,
    shots: int | None = None,
    rng: np.random.Generator | None = None,
    batch_size: int = 256,
    score_layer: str | None = None,
) -> np.ndarray:
    """The model's outputs (class probabilities ``[B, C]``) with its quantum layer run on
    the noisy circuit, each readout estimated from ``shots`` measurements when given.

    Args:
        model: a functional model of one image input with a quantum layer
            (:func:`quantum_target`).
        images: ``[B, H, W, C]``.
        noise: the noise model (None: exact).
        shots: measurements per expectation (per Pauli term of a Pauli-sum readout).
        rng: the generator of the shots.
        batch_size: images per pass.
        score_layer: the quantum layer (default: the model's one quantum layer).

    Raises:
        ValueError: as :func:`quantum_target`; a model with more than one input; a noise
            model that does not fit the circuit.
    """
    target = quantum_target(model, score_layer)
    if len(model.inputs) != 1:
        raise ValueError(
            f"noisy_predict needs a model of one image input, got {len(model.inputs)} inputs"
        )
    node = next(n for n in model_nodes(model) if n.layer is target.layer)
    readouts = _Readouts(target, noise)
    rng = rng or np.random.default_rng()

    def quantum(x):
        f = readouts(target.symbol_values(x), shots, rng)
        return tf.constant(f, tf.float32)

    out = []
    for start in range(0, len(images), batch_size):
        batch = tf.constant(images[start : start + batch_size])
        out.append(np.asarray(_replay(model, batch, node, quantum)))
    return np.concatenate(out)


def noisy_maps(
    cam: QGradCAM, images: np.ndarray, class_index, config: NoiseConfig, seed: int = 0
) -> np.ndarray:
    """The QGrad-CAM maps ``[B, H, W]`` of ``images`` with ``config``'s noise and shots: the
    parameter-shift weights of :meth:`~qgcam_tf.explain.qgradcam.QGradCAM.explicit_weights`
    (each shifted circuit run noisy) combined with the activations, as :func:`run_sweep`
    computes them for each configuration and repeat.

    Args:
        cam: the QGrad-CAM of the model.
        images: ``[B, H, W, C]``.
        class_index: the classes explained (as ``explicit_weights`` takes them).
        config: the noise configuration.
        seed: seed of the shot sampler.
    """
    weights = cam.explicit_weights(
        images, class_index, shots=config.shots, noise=config.model, seed=seed
    )
    maps = []
    for start in range(0, len(images), cam.batch_size):
        batch = tf.constant(images[start : start + cam.batch_size])
        acts = cam.probe_outputs(batch)[0]
        cams = cam.combine(acts, tf.constant(weights[start : start + cam.batch_size]))
        maps.append(cam.upsample(cams, tf.shape(batch)[1:3]).numpy())
    return np.concatenate(maps)


def run_sweep(
    model,
    images: np.ndarray,
    labels: np.ndarray,
    configs: list[NoiseConfig],
    *,
    repeats: int = 3,
    seed: int = 0,
    progress=None,
    layer: str = CONV_LAYER,
    score_layer: str | None = None,
) -> tuple[list[dict], dict]:
    """Evaluates every configuration; returns the table rows and the maps of image 0.

    Args:
        model: a hybrid model (``load_model``): any functional model of one image input
            whose quantum layer is a ``VQCLayer`` (the paper's circuit, another family,
            any circuit) or a converted ``CircuitLayer`` (:func:`quantum_target`).
        images: ``[B, H, W, C]`` test images; labels: ``[B]`` their classes.
        configs: the sweep (noise models placed for this model's circuit).
        repeats: repeats of each stochastic configuration (deterministic ones run once).
        seed: seed of the shot sampler (trajectories are not seedable in TFQ).
        progress: a tqdm bar, advanced once per (configuration, repeat).
        layer: the conv layer the maps explain.
        score_layer: the quantum layer (default: the model's one quantum layer).

    Returns:
        ``(rows, example)``: one dict per configuration with the columns of :data:`COLUMNS`,
        and ``{"image", "reference", "maps": [(config, map)]}`` for the first image.

    Raises:
        ValueError: ``repeats < 1``; as :func:`quantum_target`; a configuration's noise
            model that does not fit the circuit.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    target = quantum_target(model, score_layer)
    cam = QGradCAM(model, layer, score_layer=target.layer.name)
    ref = cam(images)
    class_index = ref.class_index  # explain the noiseless prediction at every noise level
    rows, example = [], {"image": images[0], "reference": ref.maps[0], "maps": []}
    for i, config in enumerate(configs):
        start = time.time()
        reps = repeats if is_random(config, target) else 1
        acc, metric = [], {m: [] for m in MAP_METRICS}
        for r in range(reps):
            rng = np.random.default_rng([seed, i, r])
            probs = noisy_predict(
                model,
                images,
                config.model,
                shots=config.shots,
                rng=rng,
                score_layer=target.layer.name,
            )
            acc.append(np.argmax(probs, -1) == labels)
            maps = noisy_maps(cam, images, class_index, config, seed=int(rng.integers(2**31)))
            for m, v in compare_maps(ref.maps, maps).items():
                metric[m].append(v)
            if r == 0:
                example["maps"].append((config, maps[0]))
            if progress is not None:
                progress.update(1)
        row = {
            "preset": config.preset,
            "strength": config.strength,
            "x": config.x,
            "shots": config.shots or "",
            "method": _method(config, target),
            "repetitions": config.model.repetitions if config.model else "",
            "images": len(images),
            "repeats": reps,
        }
        for name, values in [("accuracy", acc)] + list(metric.items()):
            values = np.asarray(values, np.float64)  # [reps, B]
            std = float(values.mean(axis=1).std(ddof=1)) if reps > 1 else 0.0
            row[f"{name}_mean"] = round(float(values.mean()), 6)
            row[f"{name}_std"] = round(std, 6)
            row[f"{name}_ci95"] = round(mean_ci(values.mean(axis=0))[1], 6)
        row["seconds"] = round(time.time() - start, 1)
        rows.append(row)
    return rows, example


def _method(config: NoiseConfig, model) -> str:
    if config.model is None:
        return "exact"
    if config.model.method != "auto":
        return config.model.method
    target = model if isinstance(model, QuantumTarget) else quantum_target(model)
    limit = DENSITY_MAX_QUBITS if target.spec is None else EXACT_MAX_QUBITS
    return "density" if target.n_qubits <= limit else "trajectories"


def is_random(config: NoiseConfig, model) -> bool:
    """Whether ``config``'s results vary from run to run, so that repeats are worth it.

    Shots do, and so do the trajectories of a noise model with any non-zero channel; the
    exact model and the density-matrix method do not. :func:`run_sweep` repeats only
    random configurations (``qgcam noise`` sizes its progress bar with this).

    Args:
        config: one point of a sweep.
        model: the hybrid model, or its :class:`QuantumTarget` (its qubit count decides
            what method ``"auto"`` picks).
    """
    if config.shots is not None:
        return True
    if config.model is None or _method(config, model) != "trajectories":
        return False
    values = [getattr(config.model, f.name) for f in config.model.strength_fields()]
    return any(np.any(np.asarray(v, np.float64)) for v in values if v is not None)


def write_csv(rows: list[dict], path: str) -> None:
    """Writes the sweep table atomically."""
    with atomic_path(path, suffix=".csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
