"""Runs the benchmark suite from a checkout, as ``qgcam benchmark`` does: ``python
benchmarks/run.py --out DIR [options]`` (the options are those of ``qgcam benchmark``).

The suite is :mod:`qgcam_tf.bench.suite` (its timing helpers in :mod:`qgcam_tf.bench.timing`,
its report in :mod:`qgcam_tf.bench.report`); the peers run as ``python -m
qgcam_tf.bench.peers`` in the virtualenv that ``bash benchmarks/setup_peers.sh`` makes
(``benchmarks/.venv-bench``).
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from qgcam_tf.cli.main import main

    sys.exit(main(["benchmark", *sys.argv[1:]]))
