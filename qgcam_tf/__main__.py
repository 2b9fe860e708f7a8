"""``python -m qgcam_tf``: the ``qgcam`` command line."""

import sys

from qgcam_tf.cli.main import main

sys.exit(main())
