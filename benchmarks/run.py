"""Runs the benchmark suite (same as ``qgcam benchmark``): ``python benchmarks/run.py --out DIR``.

The measurement functions live in :mod:`qgcam_tf.bench.suite` (importable: ``vqc_fwd_bwd``,
``train_throughput``, ``explain_time``, ``export_latency``, ``peer``, ``run_benchmark``);
the peers run from ``benchmarks/peers.py`` in ``benchmarks/.venv-bench``.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from qgcam_tf.bench.suite import (  # noqa: E402,F401  (re-exported for scripts)
    BenchConfig,
    explain_time,
    export_latency,
    peer,
    run_benchmark,
    train_throughput,
    vqc_fwd_bwd,
)
from qgcam_tf.bench.timing import state_vector_lower_bound_ms  # noqa: E402,F401

if __name__ == "__main__":
    from qgcam_tf.cli.main import main

    sys.exit(main(["benchmark", *sys.argv[1:]]))
