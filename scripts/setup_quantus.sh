#!/usr/bin/env bash
# Creates Quantus's own virtualenv (/work/quantus-venv by default), apart from the pinned
# .venv, which must not get Quantus: Quantus 0.6.0 with its NumPy / SciPy / scikit-image
# paths. No TensorFlow or torch: scripts/quantus_compare.py hands Quantus a NumPy model
# behind its ModelInterface.
# Usage: bash scripts/setup_quantus.sh   (PYTHON=python3.11, QUANTUS_VENV=/work/quantus-venv)
set -euo pipefail
PYTHON="${PYTHON:-python3.11}"
VENV="${QUANTUS_VENV:-/work/quantus-venv}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
# numpy < 2.4: Quantus 0.6.0 calls np.trapz, which NumPy 2.4 removed
"$VENV/bin/python" -m pip install -q "quantus==0.6.0" "numpy<2.4"
"$VENV/bin/python" -m pip check || true
"$VENV/bin/python" -c "import quantus; print('quantus', quantus.__version__, 'in $VENV')"
