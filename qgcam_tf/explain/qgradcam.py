"""QGrad-CAM: class activation maps for hybrid CNN + VQC classifiers.

The importance of conv map :math:`A^k` for class :math:`l` is
:math:`w_k^l = \\frac{1}{WH}\\sum_{ij} \\partial f^l / \\partial A^k_{ij}`, where
:math:`f^l = \\langle O_l \\rangle` is the quantum layer's score for class :math:`l` (the
paper's :math:`\\langle Z_l \\rangle`, before the scale and the softmax); the map is
:math:`L^l = \\mathrm{ReLU}(\\sum_k w_k^l A^k)`, upsampled bilinearly to the input and
min-max scaled to [0, 1].

:class:`QGradCAM` is a :class:`~qgcam_tf.explain.base.BaseCAM` that supplies these weights;
:meth:`QGradCAM.explicit_weights` computes them without autodiff through the circuit,
for the paper's circuit and for any circuit of a :class:`~qgcam_tf.model.layers.VQCLayer`,
a converted :class:`~qgcam_tf.model.layers.CircuitLayer` or a TensorFlow Quantum layer:
by the parameter-shift rule, the way quantum hardware can (``method="shift"``), or as the
paper derives them, each derivative the expectation of a commutator
(``method="commutator"``, :mod:`qgcam_tf.quantum.commutator`; docs/paper.md relates the
two).

References:
    Lin, Tseng, Chen, Yoo. Quantum Gradient Class Activation Map for Model
    Interpretability. arXiv 2408.05899.
    Selvaraju et al. Grad-CAM. arXiv 1610.02391.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import cirq
import numpy as np
import tensorflow as tf
import tf_keras as keras

from qgcam_tf.explain.base import (
    BaseCAM,
    check_images,
    images_only,
    resolve_class_index,
    target_class_index,
)
from qgcam_tf.model.convert import quantum_calls
from qgcam_tf.model.layers import CircuitLayer, VQCLayer
from qgcam_tf.quantum.circuits import symbol_values
from qgcam_tf.quantum.commutator import CommutatorRule
from qgcam_tf.quantum.readout import as_pauli_sum
from qgcam_tf.quantum.shift import ShiftRule, check_shots, sample_expectations

__all__ = ["EXPLICIT_METHODS", "QGradCAM"]

EXPLICIT_METHODS = ("shift", "commutator")
"""How :meth:`QGradCAM.explicit_weights` differentiates the circuit: ``"shift"`` (the
parameter-shift rule, shifted expectations, with shots and noise) or ``"commutator"`` (the
paper's Lie-bracket form, exact state vectors in complex128)."""


@dataclasses.dataclass(frozen=True)
class _Target:
    """How explicit weights read the score layer.

    ``probe`` maps the images to ``[conv activations, the score layer's input,
    probabilities]``; ``to_values`` turns the layer's input into the circuit's symbol values
    (None: the input is the symbol values); ``circuit``, ``symbols``, ``readouts`` are what
    the layer evaluates (``circuit`` None for the paper's closed form); ``wrt`` the symbol
    columns that depend on the input (None: all; a VQCLayer's weights do not).
    """

    layer: keras.layers.Layer
    probe: keras.Model
    to_values: Callable | None
    circuit: cirq.Circuit | None
    symbols: tuple
    readouts: tuple
    wrt: tuple | None = None


class QGradCAM(BaseCAM):
    """Quantum Grad-CAM: weights are the spatial means of ``d f^l / d A^k``.

    ``f^l`` is the quantum layer's output ``l``, the expectation of its readout ``l``
    (``<Z_l>`` for the paper's circuit, before the trainable scale and the softmax).
    :meth:`explicit_weights` computes the same weights the way quantum hardware can: the
    derivative through the circuit by the parameter-shift rule, optionally with finite
    shots and noise, and the chain rule through the classical layers.

    Example:
        >>> cam = QGradCAM(model)
        >>> res = cam(images)            # res.maps [B, H, W] in [0, 1]
    """

    def get_cam_weights(self, activations, grads, images, class_index):
        return tf.reduce_mean(grads, axis=[1, 2])

    def _target(self) -> _Target:
        """The score layer as explicit weights read it (built once, reused by every call)."""
        if getattr(self, "_explicit_target", None) is not None:
            return self._explicit_target
        layer = self.model.get_layer(self.score_layer)
        to_values, circuit, symbols, readouts, wrt = None, None, (), (), None
        if isinstance(layer, VQCLayer):
            spec = getattr(layer, "spec", None)
            vqc = getattr(layer, "vqc", None)
            if spec is None or spec.ansatz != "paper":
                if vqc is None:
                    raise ValueError(
                        f"explicit weights: VQCLayer {layer.name!r} has no circuit to shift"
                    )
                circuit, symbols, readouts = vqc.circuit, tuple(vqc.symbols), vqc.readouts
                to_values = layer.symbol_values
                wrt = tuple(range(len(vqc.input_symbols)))  # vqc.symbols: inputs, then weights
            tensor = layer.input
        elif isinstance(layer, CircuitLayer):
            program = layer.program
            circuit, symbols, readouts = program.circuit, program.symbols, program.readouts
            tensor = layer.input
        else:
            calls = [c for c in quantum_calls(self.model) if c.layer is layer]
            if len(calls) != 1:
                raise ValueError(
                    f"explicit weights need score_layer {self.score_layer!r} to be a quantum "
                    f"layer called once (a VQCLayer, CircuitLayer or one of TFQ's "
                    f"ControlledPQC / NoisyControlledPQC / Expectation / SampledExpectation); "
                    f"it is a {type(layer).__name__} called {len(calls)} times as such"
                )
            call = calls[0]
            circuit, symbols, readouts = call.circuit, tuple(call.symbols), call.readouts
            if call.circuits_input is not None:
                circuit = self.circuits + circuit
            tensor = call.symbol_values
        probe = keras.Model(
            self.model.inputs,
            [self.model.get_layer(self.layer).output, tensor, self.class_model.output],
        )
        readouts = tuple(as_pauli_sum(r, f"readouts[{l}]") for l, r in enumerate(readouts))
        self._explicit_target = _Target(
            layer, images_only(probe, self.circuits), to_values, circuit, symbols, readouts, wrt
        )
        return self._explicit_target

    def shift_rule(self, noise=None) -> ShiftRule:
        """The :class:`~qgcam_tf.quantum.shift.ShiftRule` of the score layer's circuit, as
        :meth:`explicit_weights` runs it (for any quantum layer but the paper's
        ``VQCLayer``, whose rule is in closed form).

        With ``noise`` (a :class:`~qgcam_tf.noise.model.NoiseModel`) the circuit gets the
        model's channels after every gate and its placement
        (:func:`~qgcam_tf.noise.circuits.add_noise`), and the readouts its readout error as
        flips of the measured outcomes; it then runs on exact density matrices, whatever the
        model's ``method``.

        Raises:
            ValueError: the score layer is the paper's ``VQCLayer``, not a quantum layer, or
                its circuit cannot be compiled; a noise model that does not fit the circuit.
            TypeError: ``noise`` is not a ``NoiseModel``.
        """
        target = self._target()
        if target.circuit is None:
            raise ValueError(
                f"score layer {target.layer.name!r} runs the paper's circuit: its shift rule "
                "is in closed form (explicit_weights), not a ShiftRule"
            )
        if noise is None:
            if getattr(self, "_clean_rule", None) is None:
                self._clean_rule = ShiftRule(target.circuit, target.symbols, target.readouts)
            return self._clean_rule
        from qgcam_tf.noise.circuits import add_noise

        qubits = sorted(
            set(target.circuit.all_qubits()).union(*(r.qubits for r in target.readouts))
        )
        noisy = add_noise(target.circuit, noise, target.readouts, qubits=qubits)
        move = dict(zip(qubits, noisy.qubits))
        moved = [
            cirq.PauliSum.from_pauli_strings([t.transform_qubits(move.get) for t in total])
            for total in target.readouts
        ]
        flips = noise.per_qubit("readout", len(qubits))
        return ShiftRule(
            noisy.circuit, target.symbols, moved, qubits=noisy.qubits, readout_error=flips
        )

    def commutator_rule(self) -> CommutatorRule:
        """The :class:`~qgcam_tf.quantum.commutator.CommutatorRule` of the score layer's
        circuit (the paper's too), as :meth:`explicit_weights` runs it with
        ``method="commutator"``; built once.

        Raises:
            ValueError: the score layer is not a quantum layer called once, or its circuit
                cannot be compiled.
        """
        if getattr(self, "_commutator_rule", None) is None:
            target = self._target()
            if target.circuit is None:  # the paper's VQCLayer: its Cirq circuit
                vqc = target.layer.vqc
                circuit, symbols, readouts = vqc.circuit, vqc.symbols, vqc.readouts
            else:
                circuit, symbols, readouts = target.circuit, target.symbols, target.readouts
            self._commutator_rule = CommutatorRule(circuit, symbols, readouts)
        return self._commutator_rule

    def explicit_weights(
        self,
        images,
        class_index=None,
        *,
        method: str = "shift",
        shots: int | None = None,
        noise=None,
        seed: int | None = None,
    ) -> np.ndarray:
        """QGrad-CAM weights with the quantum derivative by the parameter-shift rule or,
        with ``method="commutator"``, as expectations of commutators (no autodiff through
        the circuit either way).

        The paper's ``VQCLayer``: for an encoding gate :math:`e^{-i a P / 2}`,
        :math:`\\partial f / \\partial a = (f(a + \\pi/2) - f(a - \\pi/2)) / 2` exactly.
        Each input :math:`x_m` enters through :math:`a_m = \\arctan x_m` and
        :math:`b_m = \\arctan x_m^2`, so
        :math:`\\partial f / \\partial x_m = \\partial_a f / (1 + x_m^2) +
        \\partial_b f \\, 2 x_m / (1 + x_m^4)`.

        Any other circuit (a ``VQCLayer`` of another family or circuit, a converted
        ``CircuitLayer``, TFQ's ``ControlledPQC`` / ``NoisyControlledPQC`` /
        ``Expectation`` / ``SampledExpectation``): :math:`\\partial f^l / \\partial v_i` for
        every symbol value the network supplies, by :meth:`shift_rule` (the two-term rule on
        each Pauli-power factor of each gate, summed over a symbol's occurrences; see
        :mod:`qgcam_tf.quantum.shift`). A circuits input counts as the circuit given to the
        CAM (``circuits=``), prepended. ``SampledExpectation`` and ``NoisyControlledPQC``
        are differentiated as their exact expectations (their own sampling is not
        reproduced; ask for ``shots`` instead).

        ``method="commutator"`` (the paper's derivation): every derivative of a readout
        by a gate angle is :math:`\\partial_a \\langle O \\rangle = \\tfrac{i}{2}
        \\langle [P, O'] \\rangle` for a gate :math:`e^{-i a P/2}`, with :math:`O'` the
        readout moved back to the gate (:meth:`commutator_rule`, exact state vectors in
        complex128), summed over a symbol's gates like the shift rule; for the paper's
        circuit the same chain rule through the arctangents follows. Equal to the
        shift rule up to rounding (docs/paper.md); it is exact only, so ``shots`` and
        ``noise`` need ``method="shift"``.

        Both: the classical layers from :math:`A` to the symbol values (GAP, BatchNorm,
        Dense, the layer's encoding) contribute a vector-Jacobian product.

        Args:
            images: ``[B, H, W, C]`` images.
            class_index: as in :meth:`__call__`.
            method: one of :data:`EXPLICIT_METHODS`, ``"shift"`` (default) or
                ``"commutator"``.
            shots: measure each shifted expectation with this many shots (None: exact);
                for Pauli sums, each Pauli term gets ``shots`` of its own.
            noise: a :class:`~qgcam_tf.noise.model.NoiseModel`; each shifted circuit then
                runs with its channels and readout error.
            seed: seed of the shot sampler.

        Returns:
            ``[B, K]`` float32 weights.

        Raises:
            ValueError: bad images, class index, ``method`` or ``shots``; ``shots`` or
                ``noise`` with ``method="commutator"``; a score layer that is not a quantum
                layer called once; a noise model that does not fit the circuit.
        """
        if not isinstance(method, str) or method not in EXPLICIT_METHODS:
            raise ValueError(f"method must be one of {EXPLICIT_METHODS}, got {method!r}")
        shots = check_shots(shots)
        if method == "commutator" and (shots is not None or noise is not None):
            raise ValueError(
                f"method='commutator' is exact and noiseless; shots={shots!r} and "
                f"noise={noise!r} need method='shift'"
            )
        target = self._target()
        images = check_images(images, self.image_model.input_shape)
        ci = resolve_class_index(class_index, len(images), int(self.image_model.output_shape[-1]))
        rng = np.random.default_rng(seed)
        if method == "commutator":
            bracket = self.commutator_rule()
        elif target.circuit is None:
            if noise is None:
                run = target.layer.executor
            else:
                from qgcam_tf.noise.executors import noisy_executor

                run = noisy_executor(target.layer.spec, noise)
        else:
            rule = self.shift_rule(noise)
        forward, pullback = self._explicit_graphs(target)
        out = []
        for start in range(0, len(images), self.batch_size):
            batch = tf.constant(images[start : start + self.batch_size])
            x, values, probs = forward(batch)
            cls = target_class_index(ci[start : start + len(batch)], probs).numpy()
            # A one-output model: readout 0 for both classes, negated for class 0.
            if self.one_output:
                readout, sign = np.zeros_like(cls), 2.0 * cls - 1.0
            else:
                readout, sign = cls, np.ones(len(cls))
            if target.circuit is None:
                if method == "commutator":
                    dangle = _commutator_angle_gradients(bracket, x, target.layer.theta)
                else:
                    dangle = _shift_rule_angle_gradients(run, x, target.layer.theta, shots, rng)
                dfdx = tf.constant(_paper_chain_rule(dangle, x).astype(np.float32))
                g = tf.gather(dfdx, readout, axis=2, batch_dims=1)  # [B, n]
                g = g * tf.constant(sign[:, None], g.dtype)
            else:
                columns = list(range(len(target.symbols))) if target.wrt is None else target.wrt
                if method == "commutator":
                    jac = bracket.jacobian(values.numpy(), wrt=columns)
                else:
                    jac = rule.jacobian(values.numpy(), wrt=columns, shots=shots, rng=rng)
                g = np.zeros(values.shape, np.float64)  # [B, S]; 0 for the trained weights
                g[:, columns] = jac[np.arange(len(jac)), :, readout] * sign[:, None]
                g = tf.constant(g, values.dtype)
            out.append(pullback(batch, g).numpy())
        return np.concatenate(out)

    def _explicit_graphs(self, target: _Target) -> tuple[Callable, Callable]:
        """The classical parts of :meth:`explicit_weights` as ``tf.function`` s, built once:
        ``forward(batch) -> (x, symbol values, probabilities)`` and ``pullback(batch, g) ->
        [B, K]``, the spatial means of the vector-Jacobian product of ``g`` (d score / d
        symbol values) through the classical layers to the conv activations. The pullback
        runs the probe again under its own tape, so neither keeps an eager tape alive while
        the circuit is differentiated outside TensorFlow; eager, the Keras model would run op
        by op, which for a small batch costs more than the ops themselves."""
        graphs = getattr(self, "_explicit_graph_fns", None)
        if graphs is not None:
            return graphs

        def symbol_values_of(x):
            return x if target.to_values is None else target.to_values(x)

        def forward(batch):
            _, x, probs = target.probe(batch, training=False)
            return x, symbol_values_of(x), probs

        def pullback(batch, g):
            with tf.GradientTape() as tape:
                acts, x, _ = target.probe(batch, training=False)
                values = symbol_values_of(x)
            grads = tape.gradient(values, acts, output_gradients=g)
            return tf.reduce_mean(grads, axis=[1, 2])

        graphs = (
            tf.function(forward, reduce_retracing=True),
            tf.function(pullback, reduce_retracing=True),
        )
        self._explicit_graph_fns = graphs
        return graphs


def _shift_rule_angle_gradients(run, x, theta, shots, rng) -> np.ndarray:
    """``d<Z_l>/d(a_m, b_m)`` [B, 2n, L] by the parameter-shift rule on the 2n encoding
    angles of the paper's circuit (``a = atan x`` columns first, then ``b = atan x^2``)."""
    x = tf.convert_to_tensor(x, tf.float32)
    batch, n = x.shape[0], x.shape[1]
    values = symbol_values(x, theta).numpy()  # [B, S]
    shifted = np.repeat(values[None, None], 2 * n, axis=1).repeat(2, axis=0)  # [2, 2n, B, S]
    for j in range(2 * n):
        shifted[0, j, :, j] += math.pi / 2
        shifted[1, j, :, j] -= math.pi / 2
    flat = shifted.reshape(-1, values.shape[1])
    f = run(tf.constant(flat)).numpy()  # [4nB, L]
    if shots is not None:
        f = sample_expectations(f, shots, rng)
    f = f.reshape(2, 2 * n, batch, -1)
    return ((f[0] - f[1]) / 2.0).transpose(1, 0, 2)  # [B, 2n, L]


def _commutator_angle_gradients(bracket: CommutatorRule, x, theta) -> np.ndarray:
    """``d<Z_l>/d(a_m, b_m)`` [B, 2n, L] of the paper's circuit as commutator expectations,
    the symbol values (``atan x``, ``atan x^2``, theta) computed in float64."""
    xv = np.asarray(x, np.float64)
    flat = np.asarray(theta, np.float64).reshape(1, -1)
    values = np.concatenate(
        [np.arctan(xv), np.arctan(xv**2), np.repeat(flat, len(xv), axis=0)], axis=1
    )
    return bracket.jacobian(values, wrt=list(range(2 * xv.shape[1])))


def _paper_chain_rule(dangle: np.ndarray, x) -> np.ndarray:
    """``d<Z_l>/dx_m`` [B, n, L] from the angle derivatives [B, 2n, L]:
    ``d/da / (1 + x^2) + d/db 2x / (1 + x^4)``."""
    xv = np.asarray(x, np.float64)[..., None]
    n = xv.shape[1]
    da, db = dangle[:, :n], dangle[:, n:]
    return da / (1.0 + xv**2) + db * 2.0 * xv / (1.0 + xv**4)
