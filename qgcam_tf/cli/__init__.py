"""Command line tier: ``qgcam`` (:mod:`qgcam_tf.cli.main`) and one module per subcommand."""
