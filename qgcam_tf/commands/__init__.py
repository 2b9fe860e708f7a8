"""Subcommands of ``qgcam``: one module each (``NAME``, ``HELP``, ``add_arguments``, ``run``)."""
