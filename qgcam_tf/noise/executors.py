"""Noisy executors: the noisy circuit run exactly (density matrices) or by TFQ trajectories.

:func:`noisy_executor` returns a callable with the contract of the noiseless executors of
:mod:`qgcam_tf.quantum.executors` (symbol values in, ``<Z_l>`` out) for the circuit of
:func:`~qgcam_tf.noise.circuits.noisy_circuit`. ``"density"`` runs
:class:`~qgcam_tf.quantum.density.DensityCircuit` (exact, memory ``16 * 4**n`` bytes per
row, so ``"auto"`` uses it up to :data:`DENSITY_MAX_QUBITS`); ``"trajectories"`` averages
TensorFlow Quantum's Monte-Carlo trajectories.

Both exact paths first try :class:`~qgcam_tf.quantum.density.HeisenbergExpectation`: when
every row agrees on the symbols used after the first multi-qubit gate (the trained weights;
the encoding comes before), the noisy channel of the rest of the circuit is evolved once
in the Heisenberg picture and each row is a contraction with its qubits' Bloch vectors,
which is what makes the noise sweep's parameter-shift maps cheap. Its memory does not
grow with the batch, so the paper circuit's ``"auto"`` stays exact up to
:data:`EXACT_MAX_QUBITS`. Gradients of those calls run the density-matrix path (autodiff
through the evolution), so the results and their gradients are those of the density method.

:class:`NoisyExpectationProgram` does the same for any circuit and Pauli-sum readouts: the
noisy counterpart of :class:`~qgcam_tf.quantum.compiler.ExpectationProgram`, with the
channels and readout error of :func:`~qgcam_tf.noise.circuits.add_noise`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import cirq

from qgcam_tf.noise.circuits import add_noise, noisy_circuit, noisy_readout_operators
from qgcam_tf.noise.model import NoiseModel, check_execution
from qgcam_tf.noise.presets import make_noise
from qgcam_tf.quantum.circuits import VQCSpec
from qgcam_tf.quantum.compiler import (
    UnsupportedGateError,
    circuit_symbol_names,
    symbol_values_tensor,
)
from qgcam_tf.quantum.shards import run_in_shards, tfq_shards

__all__ = [
    "DENSITY_MAX_QUBITS",
    "EXACT_MAX_QUBITS",
    "NoisyExpectationProgram",
    "noisy_executor",
]

DENSITY_MAX_QUBITS = 8  # the largest circuit "auto" simulates with density matrices
# The largest paper circuit "auto" simulates exactly: its Heisenberg coefficients take
# 8 * L * 4**n bytes (n = 10: 80 MiB), its density fallback 8 * 4**n bytes per row.
EXACT_MAX_QUBITS = 10


def _exact(fast, slow, values):
    """``fast(values)`` when it applies (eager, rows agreeing on its fixed columns), with the
    gradient of ``slow``; else ``slow(values)``."""
    import tensorflow as tf

    if fast is None or not tf.executing_eagerly() or not fast.applies(values.numpy()):
        return slow(values)

    @tf.custom_gradient
    def run(v):
        def grad(dy):
            with tf.GradientTape() as tape:
                tape.watch(v)
                y = slow(v)
            return tape.gradient(y, v, output_gradients=dy)

        return fast(v.numpy()), grad

    return run(values)


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
        from qgcam_tf.quantum.density import DensityCircuit, HeisenbergExpectation

        circuit, symbols, qubits = noisy_circuit(spec, noise)
        self._circuit = DensityCircuit(circuit, symbols, qubits=qubits)
        self._signs = self._circuit.z_signs([[l] for l in range(spec.n_outputs)])
        self._max_batch = max_batch or max(1, 2**26 // 4**spec.n_qubits)
        self._fast = HeisenbergExpectation(
            circuit, symbols, noisy_readout_operators(spec, noise), qubits=qubits
        )

    def __call__(self, symbol_values):
        import tensorflow as tf

        values = tf.convert_to_tensor(symbol_values, tf.float32)
        return _exact(self._fast, self._density, values)

    def _density(self, values):
        import tensorflow as tf

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
            or ``"auto"``: density up to :data:`EXACT_MAX_QUBITS` qubits, trajectories
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
        method = "density" if spec.n_qubits <= EXACT_MAX_QUBITS else "trajectories"
    return _cached_executor(spec, noise, method, int(repetitions), max_batch)


@functools.lru_cache(maxsize=16)
def _cached_executor(spec, noise, method, repetitions, max_batch):
    if method == "density":
        return _DensityExecutor(spec, noise, max_batch)
    return _TrajectoryExecutor(spec, noise, repetitions)


def _has_channels(circuit: cirq.AbstractCircuit) -> bool:
    return any(
        not cirq.is_parameterized(op) and not cirq.has_unitary(op)
        for op in circuit.all_operations()
    )


class NoisyExpectationProgram:
    """Expectation values of Pauli sums after any circuit run with a noise model.

    The noisy counterpart of :class:`~qgcam_tf.quantum.compiler.ExpectationProgram`, with
    the same call (symbol values ``[B, S]`` in, ``[B, n_outputs]`` float32 out): the
    circuit gets the model's channels after every gate and the readouts its readout error
    (:func:`~qgcam_tf.noise.circuits.add_noise`), placed on the model's device qubits.

    Args:
        circuit: unitary gates (any family :func:`~qgcam_tf.quantum.compiler.parse_operations`
            compiles; for trajectories, any gate TensorFlow Quantum takes).
        symbols: the symbols (``sympy.Symbol`` or names), in the column order of the values.
        readouts: ``cirq.PauliSum`` / ``cirq.PauliString`` operators with real coefficients.
        noise: a :class:`~qgcam_tf.noise.model.NoiseModel`, or a preset name of
            :func:`~qgcam_tf.noise.presets.make_noise` (hardware presets place ``circuit``).
        method: ``"density"`` (exact density matrices in plain TensorFlow, differentiable by
            backpropagation), ``"trajectories"`` (TensorFlow Quantum's Monte-Carlo
            trajectories, parameter-shift gradients) or ``"auto"`` (density up to
            :data:`DENSITY_MAX_QUBITS` qubits). Default: the model's ``method``.
        repetitions: trajectories per row (default: the model's); one when the noisy
            circuit has no channel (every trajectory is then the same state).
        qubits: the circuit-qubit order of the model's per-qubit strengths and placement
            (default: the sorted qubits of the circuit and the readouts).
        max_batch: rows per density-matrix pass (default: as many as fit 512 MiB).

    Attributes:
        symbols: ``tuple[str, ...]``, the names of the symbol value columns.
        n_outputs: the number of readouts.
        method: ``"density"`` or ``"trajectories"`` (``"auto"`` resolved).
        repetitions: trajectories per row (trajectories only).
        noisy: the :class:`~qgcam_tf.noise.circuits.NoisyCircuit` that is simulated.

    Raises:
        TypeError: ``circuit``, ``noise``, a symbol or a readout has the wrong type.
        ValueError: a symbol of the circuit is missing from ``symbols`` or repeated, an
            unknown method or preset, ``repetitions < 1``, or the model does not fit the
            circuit (see :func:`~qgcam_tf.noise.circuits.add_noise`).
        UnsupportedGateError: the density method cannot compile a gate.
    """

    def __init__(
        self,
        circuit: cirq.AbstractCircuit,
        symbols: Sequence,
        readouts: Sequence,
        noise: NoiseModel | str,
        *,
        method: str | None = None,
        repetitions: int | None = None,
        qubits: Sequence[cirq.Qid] | None = None,
        max_batch: int | None = None,
    ):
        names = circuit_symbol_names(circuit, symbols)
        if isinstance(noise, str):
            noise = make_noise(noise, circuit=circuit)
        if not isinstance(noise, NoiseModel):
            raise TypeError(f"noise must be a NoiseModel or a preset name, got {noise!r}")
        method = noise.method if method is None else method
        repetitions = noise.repetitions if repetitions is None else repetitions
        check_execution(method, repetitions)
        self.noisy = add_noise(circuit, noise, readouts, qubits=qubits)
        n = len(self.noisy.qubits)
        if method == "auto":
            method = "density" if n <= DENSITY_MAX_QUBITS else "trajectories"
        self.symbols = tuple(names)
        self.n_outputs = len(self.noisy.readouts)
        self.method = method
        self.repetitions = int(repetitions) if _has_channels(self.noisy.circuit) else 1
        if method == "density":
            from qgcam_tf.quantum.density import (
                DensityCircuit,
                DensityReadout,
                HeisenbergExpectation,
            )

            self._density = DensityCircuit(self.noisy.circuit, names, qubits=self.noisy.qubits)
            self._readout = DensityReadout(self.noisy.readouts, self.noisy.qubits)
            self._max_batch = max_batch or max(1, 2**26 // 4**n)
            try:
                self._fast = HeisenbergExpectation(
                    self.noisy.circuit, names, self.noisy.readouts, qubits=self.noisy.qubits
                )
            except UnsupportedGateError:  # a gate on more than 3 qubits: density matrices
                self._fast = None
        else:
            import tensorflow as tf
            import tensorflow_quantum as tfq

            self._programs = tfq.convert_to_tensor([self.noisy.circuit])
            self._operators = tfq.convert_to_tensor([list(self.noisy.readouts)])
            self._names = tf.constant(list(names))
            self._op = tfq.differentiators.ParameterShift().generate_differentiable_op(
                sampled_op=tfq.noise.expectation
            )

    def __call__(self, symbol_values):
        """Noisy expectations ``[B, n_outputs]`` float32 for ``symbol_values`` ``[B, S]``."""
        import tensorflow as tf

        values = symbol_values_tensor(symbol_values, self.symbols)
        if self.method == "density":
            return _exact(self._fast, self._density_rows, values)
        rows = values.shape[0]
        limit = _TrajectoryExecutor.max_batch
        if rows is not None and rows > limit:
            parts = [self(values[i : i + limit]) for i in range(0, rows, limit)]
            return tf.concat(parts, axis=0)
        return run_in_shards(self._trajectories, values, tfq_shards())

    def _density_rows(self, values):
        import tensorflow as tf

        rows = values.shape[0]
        if rows is None or rows <= self._max_batch:
            return self._readout(self._density.density_matrix(values))
        parts = [
            self._readout(self._density.density_matrix(values[i : i + self._max_batch]))
            for i in range(0, rows, self._max_batch)
        ]
        return tf.concat(parts, axis=0)

    def _trajectories(self, values):
        import tensorflow as tf

        batch = tf.shape(values)[0]
        return self._op(
            tf.tile(self._programs, [batch]),
            self._names,
            values,
            tf.tile(self._operators, [batch, 1]),
            tf.fill([batch, self.n_outputs], self.repetitions),
        )
