"""The VQC's executors: callables from symbol values to the readout expectations ``<Z_l>``.

``BACKENDS`` names them: ``"tfq"`` (TensorFlow Quantum) and ``"tf"`` (core TensorFlow ops).
Every executor is called with per-sample symbol values (``[B, S]`` float32, the column order
of the circuit's ``inputs + weights``; for a spec, those of
:func:`~qgcam_tf.quantum.circuits.symbol_values`) and returns the readouts ``[B, n_outputs]``
float32, differentiable with respect to the values.

* The paper's circuit has executors of its own: :class:`TFQExecutor` (its circuit in fewer
  gates) and :class:`TFExecutor` (its hand-written kernel on the layer's hot path).
* Any other circuit (the other families of :data:`~qgcam_tf.quantum.circuits.ANSATZE`, or a
  user's :class:`~qgcam_tf.quantum.ansatz.VariationalCircuit`) runs on
  :class:`TFQCircuitExecutor` or on the generic compiler's
  :class:`~qgcam_tf.quantum.compiler.ExpectationProgram`.

:func:`make_executor` builds one for a spec, :func:`make_circuit_executor` for a
``VariationalCircuit``; :class:`~qgcam_tf.model.layers.VQCLayer` holds one as
``VQCLayer.executor``.
"""

from __future__ import annotations

import tensorflow as tf

from qgcam_tf.quantum.ansatz import VariationalCircuit
from qgcam_tf.quantum.circuits import (
    VQCSpec,
    build_vqc,
    compact_vqc,
    readout_operators,
    variational_circuit,
    vqc_qubits,
)
from qgcam_tf.quantum.compiler import CompiledCircuit, ExpectationProgram
from qgcam_tf.quantum.paper_kernel import PaperKernel
from qgcam_tf.quantum.shards import run_in_shards, tfq_shards

__all__ = [
    "BACKENDS",
    "TFExecutor",
    "TFQCircuitExecutor",
    "TFQExecutor",
    "make_circuit_executor",
    "make_executor",
]

BACKENDS = ("tfq", "tf")


class TFExecutor:
    """The same circuit in core TensorFlow ops (exportable, XLA-compilable).

    Called with all symbol values ``[B, S]``, it runs the generic
    :class:`~qgcam_tf.quantum.compiler.CompiledCircuit` (every gate gets per-sample matrices;
    parameter-shift and noise code feed it shifted symbols). The layer's hot path,
    :meth:`forward`, keeps the weights apart and runs
    :class:`~qgcam_tf.quantum.paper_kernel.PaperKernel`, written for this circuit alone.
    """

    def __init__(self, spec: VQCSpec):
        circuit, inputs, weights = build_vqc(spec)
        self._compiled = CompiledCircuit(circuit, inputs + weights, qubits=vqc_qubits(spec))
        self._kernel = PaperKernel(spec)
        self._signs = self._compiled.z_signs([[l] for l in range(spec.n_outputs)])

    def __call__(self, symbol_values: tf.Tensor) -> tf.Tensor:
        return self._compiled.expectation_z(symbol_values, self._signs)

    def forward(self, x: tf.Tensor, theta: tf.Tensor) -> tf.Tensor:
        """``<Z_l>`` [B, n_outputs] for inputs ``x`` [B, n] and weights ``theta``."""
        return self._kernel(x, theta)


class TFQCircuitExecutor:
    """Any circuit's readouts on TensorFlow Quantum (qsim), with the Adjoint differentiator.

    The generic counterpart of :class:`TFQExecutor`: the circuit runs as it is, with the
    symbol values bound by name, and the batch runs as :func:`tfq_shards` independent ops.

    Args:
        circuit: a ``cirq.Circuit`` of gates TFQ simulates.
        symbols: the symbols, in the column order of the symbol values.
        readouts: ``cirq.PauliSum`` / ``cirq.PauliString`` operators, one output column each.
        shards: independent ops per call (default :func:`tfq_shards`); the attribute
            ``shards`` may be changed later.
    """

    def __init__(self, circuit, symbols, readouts, shards: int | None = None):
        import tensorflow_quantum as tfq  # imported lazily: the exported path must not need it

        self._circuit = tfq.convert_to_tensor([circuit])
        self._operators = tfq.convert_to_tensor([list(readouts)])
        self._names = tf.constant([str(s) for s in symbols])
        self._op = tfq.differentiators.Adjoint().generate_differentiable_op(
            analytic_op=tfq.get_expectation_op()
        )
        self.shards = tfq_shards() if shards is None else int(shards)

    def __call__(self, symbol_values: tf.Tensor) -> tf.Tensor:
        """The readouts ``[B, L]`` for the symbol values ``[B, S]``."""
        return run_in_shards(
            self._one_op, tf.convert_to_tensor(symbol_values, tf.float32), self.shards
        )

    def _one_op(self, values: tf.Tensor) -> tf.Tensor:
        batch = tf.shape(values)[0]
        return self._op(
            tf.tile(self._circuit, [batch]),
            self._names,
            values,
            tf.tile(self._operators, [batch, 1]),
        )


class TFQExecutor(TFQCircuitExecutor):
    """TensorFlow Quantum (qsim) expectations with the Adjoint differentiator.

    TFQ simulates gate by gate, so it runs :func:`~qgcam_tf.quantum.circuits.compact_vqc`, the
    same circuit in 60 gates instead of 110 (n = 10, depth 2), fed an affine map of the
    usual symbol values. The batch runs as :func:`tfq_shards` independent ops (see
    :func:`run_in_shards`), so both cores work; results and gradients are those of one
    op on :func:`~qgcam_tf.quantum.circuits.build_vqc`'s circuit.

    Args:
        spec: the circuit.
        shards: independent ops per call (default :func:`tfq_shards`); the attribute
            ``shards`` may be changed later.
    """

    def __init__(self, spec: VQCSpec, shards: int | None = None):
        compact = compact_vqc(spec)
        super().__init__(compact.circuit, compact.symbols, readout_operators(spec), shards)
        self._matrix = tf.constant(compact.matrix, tf.float32)
        self._offset = tf.constant(compact.offset, tf.float32)

    def __call__(self, symbol_values: tf.Tensor) -> tf.Tensor:
        """``<Z_l>`` [B, n_outputs] for the symbol values [B, S] of ``build_vqc``."""
        values = tf.convert_to_tensor(symbol_values, tf.float32)
        return super().__call__(tf.matmul(values, self._matrix) + self._offset)


def make_circuit_executor(
    circuit: VariationalCircuit, backend: str
) -> TFQCircuitExecutor | ExpectationProgram:
    """The generic executor of ``backend`` for ``circuit``: ``symbol_values [B, S] ->
    readouts [B, L]``, ``S`` in the order of ``circuit.symbols``.

    Args:
        circuit: the circuit, its symbols and readouts.
        backend: ``"tfq"`` (:class:`TFQCircuitExecutor`) or ``"tf"``
            (:class:`~qgcam_tf.quantum.compiler.ExpectationProgram`).

    Raises:
        TypeError: ``circuit`` is not a ``VariationalCircuit``.
        ValueError: ``backend`` is not one of :data:`BACKENDS` (the message names it).
    """
    if not isinstance(circuit, VariationalCircuit):
        raise TypeError(f"circuit must be a VariationalCircuit, got {type(circuit).__name__}")
    if backend == "tfq":
        return TFQCircuitExecutor(circuit.circuit, circuit.symbols, circuit.readouts)
    if backend == "tf":
        return ExpectationProgram(
            circuit.circuit, circuit.symbols, circuit.readouts, qubits=circuit.qubits
        )
    raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def make_executor(
    spec: VQCSpec, backend: str
) -> TFQExecutor | TFExecutor | TFQCircuitExecutor | ExpectationProgram:
    """The executor of ``backend`` for ``spec``: ``symbol_values [B, S] -> <Z_l> [B, n_outputs]``.

    The paper's ansatz gets its own executors (:class:`TFQExecutor`, :class:`TFExecutor`);
    the other families the generic ones of :func:`make_circuit_executor`.

    Args:
        spec: the circuit.
        backend: one of :data:`BACKENDS`.

    Raises:
        TypeError: ``spec`` is not a :class:`~qgcam_tf.quantum.circuits.VQCSpec`.
        ValueError: ``backend`` is not one of :data:`BACKENDS` (the message names it).
    """
    if not isinstance(spec, VQCSpec):
        raise TypeError(f"spec must be a VQCSpec, got {type(spec).__name__}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if spec.ansatz != "paper":
        return make_circuit_executor(variational_circuit(spec), backend)
    if backend == "tfq":
        return TFQExecutor(spec)
    return TFExecutor(spec)
