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

# How figures name each CAM method (qgcam_tf.viz.explanations and the photo figure).
METHOD_TITLES = {
    "qgradcam": "QGrad-CAM",
    "integrated": "Integrated QGrad-CAM",
    "gradcam++": "Grad-CAM++",
    "hirescam": "HiResCAM",
    "layercam": "LayerCAM",
    "scorecam": "Score-CAM",
    "random": "random map",
    "centre": "centre map",
}
