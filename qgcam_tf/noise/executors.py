"""Noisy executors: the noisy circuit run exactly (density matrices) or by TFQ trajectories.

:func:`noisy_executor` returns a callable with the contract of the noiseless executors of
:mod:`qgcam_tf.quantum.executors` (symbol values in, ``<Z_l>`` out) for the circuit of
:func:`~qgcam_tf.noise.circuits.noisy_circuit`. ``"density"`` runs
:class:`~qgcam_tf.quantum.density.DensityCircuit` (exact, memory ``16 * 4**n`` bytes per
row, so ``"auto"`` uses it up to :data:`DENSITY_MAX_QUBITS`); ``"trajectories"`` averages
TensorFlow Quantum's Monte-Carlo trajectories.
"""

from __future__ import annotations

import functools

import cirq

from qgcam_tf.noise.circuits import noisy_circuit, noisy_readout_operators
from qgcam_tf.noise.model import NoiseModel, check_execution
from qgcam_tf.noise.presets import make_noise
from qgcam_tf.quantum.circuits import VQCSpec
from qgcam_tf.quantum.shards import run_in_shards, tfq_shards

__all__ = [
    "DENSITY_MAX_QUBITS",
    "noisy_executor",
]

DENSITY_MAX_QUBITS = 8  # the largest circuit "auto" simulates with density matrices


class _TrajectoryExecutor:
    """TFQ's noisy backend: ``repetitions`` Monte-Carlo trajectories per row, averaged."""

    max_batch = 1024

    def __init__(self, spec: VQCSpec, noise: NoiseModel, repetitions: int):
        import tensorflow as tf
        import tensorflow_quantum as tfq

        circuit, symbols, _ = noisy_circuit(spec, noise)
        self._tf = tf
        self._circuit = tfq.convert_to_tensor([circuit])
        self._operators = tfq.convert_to_tensor([noisy_readout_operators(spec, noise)])
        self._names = tf.constant([str(s) for s in symbols])
        # without channels every trajectory is the same state: one is exact
        noisy = any(
            not cirq.is_parameterized(op) and not cirq.has_unitary(op)
            for op in circuit.all_operations()
        )
        self._repetitions = int(repetitions) if noisy else 1
        self._n_outputs = spec.n_outputs
        self._op = tfq.differentiators.ParameterShift().generate_differentiable_op(
            sampled_op=tfq.noise.expectation
        )

    def __call__(self, symbol_values):
        tf = self._tf
        values = tf.convert_to_tensor(symbol_values, tf.float32)
        rows = values.shape[0]
        if rows is not None and rows > self.max_batch:  # bounds the tiled circuit strings
            parts = [self(values[i : i + self.max_batch]) for i in range(0, rows, self.max_batch)]
            return tf.concat(parts, axis=0)
        # independent ops on row blocks use all cores, as in the noiseless tfq executor
        return run_in_shards(self._one_op, values, tfq_shards())

    def _one_op(self, values):
        tf = self._tf
        batch = tf.shape(values)[0]
        return self._op(
            tf.tile(self._circuit, [batch]),
            self._names,
            values,
            tf.tile(self._operators, [batch, 1]),
            tf.fill([batch, self._n_outputs], self._repetitions),
        )


class _DensityExecutor:
    """Exact density-matrix simulation in plain TensorFlow (:mod:`qgcam_tf.quantum.density`)."""

    def __init__(self, spec: VQCSpec, noise: NoiseModel, max_batch: int | None):
        from qgcam_tf.quantum.density import DensityCircuit

        circuit, symbols, qubits = noisy_circuit(spec, noise)
        self._circuit = DensityCircuit(circuit, symbols, qubits=qubits)
        self._signs = self._circuit.z_signs([[l] for l in range(spec.n_outputs)])
        self._max_batch = max_batch or max(1, 2**26 // 4**spec.n_qubits)

    def __call__(self, symbol_values):
        import tensorflow as tf

        values = tf.convert_to_tensor(symbol_values, tf.float32)
        total = int(values.shape[0])
        if total <= self._max_batch:
            return self._circuit.expectation_z(values, self._signs)
        parts = [
            self._circuit.expectation_z(values[i : i + self._max_batch], self._signs)
            for i in range(0, total, self._max_batch)
        ]
        return tf.concat(parts, axis=0)


def noisy_executor(
    spec: VQCSpec,
    noise: NoiseModel | str,
    *,
    method: str | None = None,
    repetitions: int | None = None,
    max_batch: int | None = None,
):
    """A callable ``symbol_values [N, S] -> <Z_l> [N, n_outputs]`` (float32) on the noisy circuit.

    Args:
        spec: the circuit.
        noise: a :class:`~qgcam_tf.noise.model.NoiseModel`, or a hardware preset name
            (``"rainbow"``, ``"weber"``).
        method: ``"density"`` (exact, plain TensorFlow, differentiable by backprop),
            ``"trajectories"`` (TFQ's noisy backend, Monte-Carlo, parameter-shift gradients),
            or ``"auto"``: density up to :data:`DENSITY_MAX_QUBITS` qubits, trajectories
            above. Default: the model's ``method``.
        repetitions: trajectories per row for ``"trajectories"`` (default: the model's).
        max_batch: rows per density-matrix pass (default: as many as fit 512 MiB).

    Raises:
        ValueError: unknown method or preset, ``repetitions < 1``, or a bad noise model.
    """
    if isinstance(noise, str):
        noise = make_noise(noise, spec=spec)
    if not isinstance(noise, NoiseModel):
        raise ValueError(f"noise must be a NoiseModel or a preset name, got {noise!r}")
    method = noise.method if method is None else method
    repetitions = noise.repetitions if repetitions is None else repetitions
    check_execution(method, repetitions)
    if method == "auto":
        method = "density" if spec.n_qubits <= DENSITY_MAX_QUBITS else "trajectories"
    return _cached_executor(spec, noise, method, int(repetitions), max_batch)


@functools.lru_cache(maxsize=16)
def _cached_executor(spec, noise, method, repetitions, max_batch):
    if method == "density":
        return _DensityExecutor(spec, noise, max_batch)
    return _TrajectoryExecutor(spec, noise, repetitions)
