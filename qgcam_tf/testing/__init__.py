"""Test support that other code can build on, as ``cirq.testing`` is for Cirq.

* :mod:`qgcam_tf.testing.kernels`: reference checks of executors and kernels against the
  generic compiler (outputs, gradients, XLA with a dynamic batch).
* :mod:`qgcam_tf.testing.exports`: a tiny run directory and its export, made once per test
  session.
* :mod:`qgcam_tf.testing.data`: the real sample data beside the checkout (``../shared/data``).
* :mod:`qgcam_tf.testing.one_output`: a one-output hybrid (one ``<Z>``, sigmoid) trained on
  two MNIST digits.

It sits above every other tier and nothing in the library imports it.
"""
