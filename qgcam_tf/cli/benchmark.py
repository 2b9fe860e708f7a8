"""``qgcam benchmark``: VQC, training, QGrad-CAM and serving speed beside the peers."""

from __future__ import annotations

from qgcam_tf.cli.args import bounded_int, output_dir, qubit_list

NAME = "benchmark"
HELP = "measure executors, training, explanations and serving; write benchmark.json + .md"


def add_arguments(p) -> None:
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        type=output_dir,
        help="output directory (benchmark.json, benchmark.md; checked before any work)",
    )
    p.add_argument(
        "--quick", action="store_true", help="small subset (4 qubits, 8x8 images, no peers)"
    )
    p.add_argument(
        "--ns",
        type=qubit_list(2, 24),
        default=None,
        metavar="N,N,...",
        help="qubit counts of the VQC rows (default 4,6,8,10,12,16,20)",
    )
    p.add_argument(
        "--repeats",
        type=bounded_int(1, 1000),
        default=None,
        help="timed calls per row (median reported)",
    )
    p.add_argument(
        "--no-peers", action="store_true", help="skip the peers (PennyLane, qsim, tensorcircuit-ng)"
    )
    p.add_argument(
        "--peers-venv",
        default=None,
        metavar="DIR",
        help="the peers' virtualenv (default benchmarks/.venv-bench under the working "
        "directory; its rows are skipped when that one is missing)",
    )
    p.add_argument(
        "--update-doc",
        nargs="+",
        default=[],
        metavar="FILE",
        help="also write the tables between the benchmark markers of these Markdown files",
    )


def validate(args) -> None:
    """The documents and the peers' interpreter, checked before TensorFlow loads: a long
    run must not end in a bad path.

    Raises:
        FileNotFoundError: an ``--update-doc`` file, or ``--peers-venv``'s ``bin/python``,
            is missing.
        ValueError: an ``--update-doc`` file has no benchmark markers.
    """
    import os

    from qgcam_tf.bench.report import DOC_BEGIN

    for doc in args.update_doc:
        if not os.path.isfile(doc):
            raise FileNotFoundError(f"--update-doc {doc!r} not found")
        with open(doc, encoding="utf-8") as f:
            if DOC_BEGIN not in f.read():
                raise ValueError(f"--update-doc {doc!r} has no line '{DOC_BEGIN}'")
    if args.peers_venv is not None:
        python = os.path.join(args.peers_venv, "bin", "python")
        if not os.path.isfile(python):
            raise FileNotFoundError(f"--peers-venv {args.peers_venv!r} has no bin/python")


def run(args) -> int:
    import dataclasses
    import os

    from qgcam_tf.bench.report import render_markdown, update_doc
    from qgcam_tf.bench.suite import BenchConfig, run_benchmark

    cfg = BenchConfig.quick() if args.quick else BenchConfig()
    changes = {}
    if args.ns is not None:
        changes["ns"] = args.ns
    if args.repeats is not None:
        changes["repeats"] = args.repeats
    if args.no_peers:
        changes["peers"] = False
    if args.peers_venv is not None:
        changes["peer_python"] = os.path.join(args.peers_venv, "bin", "python")
    cfg = dataclasses.replace(cfg, **changes)
    results = run_benchmark(args.out, quick=args.quick, config=cfg)
    print(f"wrote {os.path.join(args.out, 'benchmark.json')} and benchmark.md")
    for doc in args.update_doc:
        update_doc(doc, render_markdown(results))
        print(f"updated the benchmark tables in {doc}")
    for name, t in results["targets"].items():
        met = "n/a" if t["met"] is None else ("met" if t["met"] else "NOT met")
        value = "n/a" if t["value"] is None else f"{t['value']:.2f}"
        print(f"  {name}: {value} (goal {t['goal']}): {met}")
    return 0
