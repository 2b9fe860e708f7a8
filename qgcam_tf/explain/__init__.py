"""Explanation tier: the CAM base class, QGrad-CAM with its explicit weights, and the
CAM family."""

# The CAM family by name, known without importing TensorFlow (the CLI's choices); equal to
# the keys of qgcam_tf.explain.cams.CAM_METHODS (tests/cli).
METHOD_NAMES = (
    "qgradcam",
    "integrated",
    "gradcam++",
    "hirescam",
    "layercam",
    "scorecam",
    "random",
    "centre",
)
