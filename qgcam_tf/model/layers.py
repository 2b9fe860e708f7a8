"""Quantum circuits as tf_keras layers.

* :class:`VQCLayer`: a variational quantum circuit with trained weights (the paper's, another
  family of :class:`~qgcam_tf.VQCSpec`, or any Cirq circuit), on either executor.
* :class:`CircuitLayer`: any Cirq circuit whose symbols the network computes, with
  Pauli-sum readouts, in core TensorFlow ops (what :func:`~qgcam_tf.model.convert.convert_to_tf`
  puts in place of a TensorFlow Quantum layer).
"""

from __future__ import annotations

import math

import cirq
import tensorflow as tf
import tf_keras as keras

from qgcam_tf.quantum.ansatz import VariationalCircuit
from qgcam_tf.quantum.circuits import VQCSpec, symbol_values, variational_circuit
from qgcam_tf.quantum.compiler import ExpectationProgram
from qgcam_tf.quantum.executors import BACKENDS, make_circuit_executor, make_executor

__all__ = ["BACKENDS", "CircuitLayer", "VQCLayer"]


@keras.utils.register_keras_serializable(package="qgcam_tf")
class VQCLayer(keras.layers.Layer):
    """A variational quantum circuit with trained weights; inputs are fed as symbol values.

    The circuit is either named by a :class:`~qgcam_tf.VQCSpec` (``spec``: the paper's
    ansatz or another family of :data:`~qgcam_tf.quantum.circuits.ANSATZE`) or given as any
    Cirq circuit (``circuit`` with ``input_symbols``, ``weight_symbols``, ``readouts`` and
    ``encoding``; see :meth:`from_circuit`). The inputs ``x`` become the encoding angles
    in TensorFlow (the paper's: ``atan(x)`` and ``atan(x**2)``), so gradients flow to ``x``
    (and further back to the CNN) as well as to the weights ``theta``.

    The paper's ansatz runs on its own executors (a circuit in fewer gates on TFQ, a
    hand-written kernel on ``tf``); every other circuit runs on TFQ as it is
    (:class:`~qgcam_tf.quantum.executors.TFQCircuitExecutor`) or on the generic compiler
    (:class:`~qgcam_tf.quantum.compiler.ExpectationProgram`).

    Args:
        spec: circuit shape (:class:`~qgcam_tf.VQCSpec`) or its dict form; None when
            ``circuit`` is given.
        backend: ``"tfq"`` (TensorFlow Quantum, adjoint gradients; training default) or
            ``"tf"`` (the circuit compiled to core TensorFlow ops; exportable).
        jit_compile: compile the ``tf`` executor with XLA.
        circuit: a ``cirq.Circuit`` (or its ``cirq.to_json`` text) instead of ``spec``.
        input_symbols: with ``circuit``: the symbols fed the encoding angles, in the column
            order of :func:`~qgcam_tf.quantum.ansatz.encode` (``width * n`` of them for
            inputs of width ``n``; a symbol may appear in several gates).
        weight_symbols: with ``circuit``: the trained symbols, ``theta`` ``[len]`` in order.
        readouts: with ``circuit``: ``cirq.PauliSum`` / ``cirq.PauliString`` operators (or
            their ``cirq.to_json`` text), one output column each.
        encoding: with ``circuit``: one of :data:`~qgcam_tf.quantum.circuits.ENCODINGS`
            (default ``"identity"``: the input is the angle); a spec carries its own.
        **kwargs: passed to ``tf_keras.layers.Layer``.

    Attributes:
        spec: the :class:`~qgcam_tf.VQCSpec`, or None for a layer built from a circuit.
        vqc: the :class:`~qgcam_tf.quantum.ansatz.VariationalCircuit` the layer runs
            (circuit, input and weight symbols, readouts, encoding, ``theta_shape``).

    Input shape:
        ``[batch, n]`` float32 (``n = n_qubits`` for a spec, ``vqc.n_inputs`` otherwise).

    Output shape:
        ``[batch, n_outputs]`` float32, the readouts' expectations (``<Z_l>`` for a spec).

    Raises:
        ValueError: unknown backend, XLA asked for the ``tfq`` backend, both or neither of
            ``spec`` and ``circuit``, or a circuit that
            :class:`~qgcam_tf.quantum.ansatz.VariationalCircuit` refuses (an unsupported
            gate, a symbol that is neither input nor weight, ...).
        TypeError: a circuit argument has the wrong type.
    """

    def __init__(
        self,
        spec=None,
        backend: str = "tfq",
        *,
        jit_compile: bool = False,
        circuit=None,
        input_symbols=None,
        weight_symbols=None,
        readouts=None,
        encoding: str = "identity",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if jit_compile and backend != "tf":
            raise ValueError(f"jit_compile=True needs backend='tf', got backend={backend!r}")
        if (spec is None) == (circuit is None):
            raise ValueError(
                "VQCLayer needs exactly one of spec (a VQCSpec) and circuit (with input_symbols, "
                f"weight_symbols, readouts); got spec={spec!r}, circuit={circuit!r}"
            )
        self.backend = backend
        self.jit_compile = bool(jit_compile)
        if spec is not None:
            self.spec = spec if isinstance(spec, VQCSpec) else VQCSpec.from_dict(spec)
            self.vqc = variational_circuit(self.spec)
            self._executor = make_executor(self.spec, backend)
        else:
            self.spec = None
            self.vqc = _variational(circuit, input_symbols, weight_symbols, readouts, encoding)
            self._executor = make_circuit_executor(self.vqc, backend)
        # The paper's tf executor has its own forward that shares the weight rotations
        # across the batch; the other executors take per-sample symbol values.
        forward = getattr(self._executor, "forward", self._forward)
        self._run = tf.function(forward, jit_compile=True) if self.jit_compile else forward

    @classmethod
    def from_circuit(
        cls,
        circuit,
        input_symbols,
        weight_symbols,
        readouts,
        *,
        encoding: str = "identity",
        backend: str = "tfq",
        jit_compile: bool = False,
        **kwargs,
    ) -> VQCLayer:
        """A layer running any Cirq circuit: ``VQCLayer(circuit=..., ...)`` spelt out.

        Example:
            >>> q = cirq.LineQubit.range(2)
            >>> x0, x1, w = sympy.symbols("x0 x1 w")
            >>> circuit = cirq.Circuit(cirq.ry(x0)(q[0]), cirq.ry(x1)(q[1]),
            ...                        cirq.CZ(*q), cirq.rx(w)(q[0]))
            >>> layer = VQCLayer.from_circuit(circuit, [x0, x1], [w],
            ...                               [cirq.Z(q[0]), cirq.X(q[0]) * cirq.X(q[1])])

        Args: as the class (``encoding`` default ``"identity"``).
        """
        return cls(
            None,
            backend,
            jit_compile=jit_compile,
            circuit=circuit,
            input_symbols=input_symbols,
            weight_symbols=weight_symbols,
            readouts=readouts,
            encoding=encoding,
            **kwargs,
        )

    @property
    def executor(self):
        """The executor of ``backend`` (read-only): ``symbol_values [B, S] -> readouts [B, L]``.

        For the paper's ansatz a :class:`~qgcam_tf.quantum.executors.TFQExecutor` or
        :class:`~qgcam_tf.quantum.executors.TFExecutor`, else a
        :class:`~qgcam_tf.quantum.executors.TFQCircuitExecutor` or an
        :class:`~qgcam_tf.quantum.compiler.ExpectationProgram`; called with the per-sample
        symbol values of :meth:`symbol_values` (unlike the layer's own call);
        parameter-shift and noise code run it on shifted values.
        """
        return self._executor

    def symbol_values(self, x, theta=None) -> tf.Tensor:
        """The per-sample symbol values ``[B, S]`` for inputs ``x`` ``[B, n]``, in the order
        of ``vqc.symbols``: the encoding angles, then ``theta`` (default the layer's)."""
        theta = self.theta if theta is None else theta
        if self.spec is not None and self.spec.ansatz == "paper":
            return symbol_values(x, theta)
        return self.vqc.symbol_values(x, theta)

    def build(self, input_shape):
        n = input_shape[-1]
        if n is not None and n != self.vqc.n_inputs:
            if self.spec is not None:
                raise ValueError(
                    f"VQCLayer expects inputs of width n_qubits={self.spec.n_qubits}, got {n}"
                )
            raise ValueError(
                f"VQCLayer expects inputs of width {self.vqc.n_inputs} "
                f"({len(self.vqc.input_symbols)} input symbols, encoding "
                f"{self.vqc.encoding!r}), got {n}"
            )
        self.theta = self.add_weight(
            name="theta",
            shape=self.vqc.theta_shape,
            initializer=keras.initializers.RandomUniform(0.0, 2.0 * math.pi),
            trainable=True,
        )
        super().build(input_shape)

    def _forward(self, x, theta):
        return self._executor(self.symbol_values(x, theta))

    def call(self, inputs):
        return self._run(tf.cast(inputs, tf.float32), self.theta)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape)[:-1].concatenate([self.vqc.n_outputs])

    def get_config(self):
        config = super().get_config()
        if self.spec is not None:  # the keys (and their order) of configs before circuits
            config.update(
                spec=self.spec.to_dict(), backend=self.backend, jit_compile=self.jit_compile
            )
        else:
            config.update(
                backend=self.backend,
                jit_compile=self.jit_compile,
                circuit=cirq.to_json(self.vqc.circuit),
                input_symbols=[str(s) for s in self.vqc.input_symbols],
                weight_symbols=[str(s) for s in self.vqc.weight_symbols],
                readouts=[cirq.to_json(r) for r in self.vqc.readouts],
                encoding=self.vqc.encoding,
            )
        return config


def _variational(circuit, input_symbols, weight_symbols, readouts, encoding) -> VariationalCircuit:
    """The layer's circuit arguments (JSON text allowed, as ``get_config`` writes them)."""
    if isinstance(circuit, str):
        circuit = cirq.read_json(json_text=circuit)
    if isinstance(circuit, cirq.FrozenCircuit):
        circuit = circuit.unfreeze()
    for name, value in (
        ("input_symbols", input_symbols),
        ("weight_symbols", weight_symbols),
        ("readouts", readouts),
    ):
        if value is None:
            raise ValueError(f"VQCLayer with a circuit needs {name}, got None")
    if isinstance(readouts, (list, tuple)):
        readouts = [cirq.read_json(json_text=r) if isinstance(r, str) else r for r in readouts]
    return VariationalCircuit(circuit, input_symbols, weight_symbols, readouts, encoding)


@keras.utils.register_keras_serializable(package="qgcam_tf")
class CircuitLayer(keras.layers.Layer):
    """Expectations of Pauli-sum readouts after any Cirq circuit, in core TensorFlow ops.

    Column ``i`` of the input is the value of ``symbols[i]`` for each sample; output
    ``l`` is the exact expectation of ``readouts[l]`` in the circuit's final state (a
    :class:`~qgcam_tf.quantum.compiler.ExpectationProgram`). It has no weights: the
    network supplies every symbol value, as with TFQ's ``ControlledPQC``. Gradients flow
    to the inputs; the layer saves with ``model.to_json()`` / ``model.save`` (the
    circuit and readouts as ``cirq.to_json`` text) and holds no TensorFlow Quantum op.

    Args:
        circuit: a ``cirq.Circuit`` (or its ``cirq.to_json`` text) of the gates
            :class:`~qgcam_tf.quantum.compiler.ExpectationProgram` compiles.
        symbols: ``sympy.Symbol`` s or names, in input column order.
        readouts: ``cirq.PauliSum`` / ``cirq.PauliString`` operators (or their
            ``cirq.to_json`` text), one per output column.
        **kwargs: passed to ``tf_keras.layers.Layer``.

    Input shape:
        ``[batch, len(symbols)]`` float32.

    Output shape:
        ``[batch, len(readouts)]`` float32.

    Raises:
        ValueError / TypeError: as :class:`~qgcam_tf.quantum.compiler.ExpectationProgram`
            (an unsupported gate, a circuit symbol missing from ``symbols``, a bad
            readout); at build, an input width other than ``len(symbols)``.
    """

    def __init__(self, circuit, symbols, readouts, **kwargs):
        super().__init__(**kwargs)
        if isinstance(circuit, str):
            circuit = cirq.read_json(json_text=circuit)
        if isinstance(readouts, (str, cirq.PauliSum, cirq.PauliString)):
            raise TypeError(f"readouts must be a list of Pauli sums, got {readouts!r}")
        readouts = [cirq.read_json(json_text=r) if isinstance(r, str) else r for r in readouts]
        self.program = ExpectationProgram(circuit, symbols, readouts)

    def build(self, input_shape):
        n = input_shape[-1]
        if n is not None and n != len(self.program.symbols):
            raise ValueError(
                f"CircuitLayer {self.name!r} binds {len(self.program.symbols)} symbols "
                f"{list(self.program.symbols)}; its input has width {n}"
            )
        super().build(input_shape)

    def call(self, inputs):
        return self.program(tf.cast(inputs, tf.float32))

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape)[:-1].concatenate([self.program.n_outputs])

    def get_config(self):
        config = super().get_config()
        config.update(
            circuit=cirq.to_json(self.program.circuit),
            symbols=list(self.program.symbols),
            readouts=[cirq.to_json(r) for r in self.program.readouts],
        )
        return config
