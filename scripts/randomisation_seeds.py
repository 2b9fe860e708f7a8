"""The per-part randomisation table over training seeds, from `qgcam evaluate` outputs.

Each argument is an ``--out`` folder of ``qgcam evaluate ... --randomisation parts`` on a
model of one training seed. Prints, for one similarity (default Spearman), a Markdown table
method x step: each seed's mean, then the mean over seeds and the spread (max - min of the
per-seed means).

Usage:
    python scripts/randomisation_seeds.py runs/eval18-parts runs/eval18-parts-seed1 \\
        runs/eval18-parts-seed2 --metric spearman
"""

from __future__ import annotations

import argparse
import csv
import os
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dirs", nargs="+", help="qgcam evaluate --out folders, one per seed")
    p.add_argument("--metric", default="spearman", choices=("spearman", "ssim", "topk_overlap"))
    p.add_argument("--steps", default="vqc,dense,conv,all", help="steps to show, in order")
    args = p.parse_args(argv)
    tables = []
    for d in args.dirs:
        with open(os.path.join(d, "randomisation_parts.csv")) as f:
            tables.append(
                {
                    (r["method"], r["step"]): float(r["mean"])
                    for r in csv.DictReader(f)
                    if r["metric"] == args.metric
                }
            )
    steps = args.steps.split(",")
    methods = [
        m
        for m in dict.fromkeys(m for m, _ in tables[0])
        if all((m, s) in t for t in tables for s in steps)
    ]
    print(f"{args.metric}, per seed ({', '.join(args.dirs)}); mean over seeds [max - min]:\n")
    print("| method | " + " | ".join(f"`{s}`" for s in steps) + " |")
    print("|---" * (len(steps) + 1) + "|")
    for m in methods:
        cells = []
        for s in steps:
            values = [t[(m, s)] for t in tables]
            each = " / ".join(f"{v:.2f}" for v in values)
            mean = sum(values) / len(values)
            cells.append(f"{each}; {mean:.2f} [{max(values) - min(values):.2f}]")
        print(f"| {m} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
