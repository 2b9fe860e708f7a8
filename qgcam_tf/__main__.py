"""``python -m qgcam_tf``: the ``qgcam`` command line."""

import sys

from qgcam_tf.cli import main

sys.exit(main())
