"""Command line interface ``qgcam`` (also ``python -m qgcam_tf``).

Each subcommand lives in its own module under :mod:`qgcam_tf.cli` and defines
``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``. Every bad argument
or input gets one clear error line and a non-zero exit, never a traceback (``--debug``
shows it).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

__all__ = ["main", "CLIError"]


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


def _quiet_tensorflow(debug: bool) -> None:
    """Loads TensorFlow with its C++ start-up chatter (CUDA probing on a CPU machine) muted.

    Those lines come from native code before logging is configured, so no environment
    variable silences them; stderr is redirected at the file-descriptor level while
    TensorFlow loads and probes devices, then restored. ``--debug`` keeps them.
    """
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if debug:
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)


COMMANDS = ("benchmark", "evaluate", "explain", "export", "noise", "predict", "train")


def _commands() -> dict:
    found = {}
    for name in COMMANDS:
        module = importlib.import_module(f"qgcam_tf.cli.{name}")
        found[module.NAME] = module
    return found


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default where it says something (not for flags or empty lists),
    and keeps epilogs as written."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or default == []
            or action.nargs == 0  # flags: their help says what they do
            or not action.option_strings
        ):
            return text
        if isinstance(default, list) and len(default) == 1 and isinstance(default[0], list):
            default = default[0]  # nargs="+" lists that hold one group
        if isinstance(default, list):
            default = " ".join(str(v) for v in default)
        return f"{text} (default: {default})"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage too; keep it short)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``qgcam`` parser. Building it and parsing with it import no TensorFlow."""
    from qgcam_tf import __version__

    parser = _Parser(prog="qgcam", description="Quantum Grad-CAM for hybrid CNN + VQC models.")
    parser.add_argument("--version", action="version", version=f"qgcam_tf {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, module in _commands().items():
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=module.HELP,
            formatter_class=_HelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(run_command=module.run)
    return parser


def main(argv=None) -> int:
    """Parses ``argv`` (a bad argument exits 2 before TensorFlow loads), then runs the command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    _quiet_tensorflow(args.debug)
    try:
        return int(args.run_command(args) or 0)
    except KeyboardInterrupt:
        print(f"qgcam {args.command}: interrupted", file=sys.stderr)
        return 130
    except (
        CLIError,
        ValueError,
        TypeError,
        FileNotFoundError,
        NotADirectoryError,
        IsADirectoryError,
        FileExistsError,
        PermissionError,
    ) as e:
        if args.debug:
            raise
        print(f"qgcam {args.command}: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # an unexpected failure still gets one line; --debug shows more
        if args.debug:
            raise
        print(f"qgcam {args.command}: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
