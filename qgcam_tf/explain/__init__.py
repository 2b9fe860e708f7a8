"""Explanation tier: the CAM base class, QGrad-CAM with its explicit weights, and the
CAM family."""
