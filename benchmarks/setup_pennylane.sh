#!/usr/bin/env bash
# Creates the benchmark peers' own virtualenv (benchmarks/.venv-bench), apart from the pinned
# .venv: PennyLane 0.44.1 (the last release whose TF interface runs the broadcast workload)
# and tensorcircuit-ng, both on the same TensorFlow 2.18.1 as the main stack.
# Usage: bash benchmarks/setup_pennylane.sh   (PYTHON=python3.11 by default)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${PYTHON:-python3.11}"
VENV="${BENCH_VENV:-$HERE/.venv-bench}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "pennylane==0.44.1" "tensorflow==2.18.1" "tf_keras==2.18.0"
# tensorcircuit-ng is optional: its row is skipped when the install fails.
"$VENV/bin/python" -m pip install -q tensorcircuit-ng || echo "tensorcircuit-ng not installed: its row will be skipped" >&2
"$VENV/bin/python" -m pip check || true
touch "$VENV/.installed"
echo "benchmark peers installed in $VENV"
