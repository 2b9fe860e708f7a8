"""Noise robustness of a trained QGrad-CAM model: ``qgcam noise`` as a script.

Example:
    python scripts/noise_robustness.py --model runs/mnist --out runs/mnist-noise \
        --preset depolarizing rainbow --strengths 0 0.01 0.02 0.05 --count 100
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from qgcam_tf.cli.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["noise", *sys.argv[1:]]))
