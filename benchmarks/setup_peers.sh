#!/usr/bin/env bash
# Creates the benchmark peers' own virtualenv (benchmarks/.venv-bench), apart from the pinned
# .venv: the peers a user would pick today, each at the release recorded below.
#   - PennyLane (current release) with JAX: default.qubit + jax.jit (backprop), and
#     lightning.qubit (adjoint differentiation); no TensorFlow interface.
#   - qsimcirq (qsim's own Cirq simulator) with the Cirq release it accepts.
#   - tensorcircuit-ng with its JAX and TensorFlow backends (TensorFlow 2.18.1, as .venv).
# The pins are the versions found to co-install (pip check passes); PEERS_UNPINNED=1 installs
# the newest releases instead, to look for a newer set.
# Usage: bash benchmarks/setup_peers.sh   (PYTHON=python3.11 by default; BENCH_VENV=DIR)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${PYTHON:-python3.11}"
VENV="${BENCH_VENV:-$HERE/.venv-bench}"
PINS=(
  "pennylane==0.45.1"
  "pennylane-lightning==0.45.0"
  "jax[cpu]==0.10.2"
  "qsimcirq==0.22.1"
  "tensorcircuit-ng==1.10.0"
  "tensorflow==2.18.1"
  "tf_keras==2.18.0"
)
if [ "${PEERS_UNPINNED:-0}" = 1 ]; then
  PINS=(pennylane pennylane-lightning "jax[cpu]" qsimcirq tensorcircuit-ng "tensorflow==2.18.1" "tf_keras==2.18.0")
fi
start=$(date +%s)
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "${PINS[@]}"
"$VENV/bin/python" -m pip check
"$VENV/bin/python" -m pip freeze > "$VENV/freeze.txt"
touch "$VENV/.installed"
echo "benchmark peers installed in $VENV in $(( $(date +%s) - start )) s (pip freeze: $VENV/freeze.txt)"
