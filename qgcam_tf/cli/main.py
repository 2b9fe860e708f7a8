"""Command line interface ``qgcam`` (also ``python -m qgcam_tf``).

Each subcommand lives in its own module under :mod:`qgcam_tf.cli` and defines
``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``; it may define
``validate(args)``, the checks that span several arguments (an output that can be written,
the size of a sweep), which runs after parsing and before TensorFlow loads. Every bad
argument or input gets one clear error line and exit status 2, never a traceback
(``--debug`` shows it); an unexpected failure gets one line and exit status 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

__all__ = ["COMMANDS", "CLIError", "build_parser", "main", "one_line"]


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


# In workflow order, as `qgcam --help` lists them.
COMMANDS = (
    "train",
    "predict",
    "explain",
    "export",
    "explain-batch",
    "evaluate",
    "noise",
    "benchmark",
)


def _commands() -> dict:
    found = {}
    for name in COMMANDS:
        module = importlib.import_module(f"qgcam_tf.cli.{name.replace('-', '_')}")
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
        p.set_defaults(run_command=module.run, validate_command=getattr(module, "validate", None))
    return parser


def one_line(message: object) -> str:
    """``message`` as one line: its lines joined by ``"; "`` (a TensorFlow error spans many)."""
    return "; ".join(line.strip() for line in str(message).splitlines() if line.strip())


def _run(args) -> int:
    if args.validate_command is not None:  # cheap checks, before TensorFlow loads
        args.validate_command(args)
    _quiet_tensorflow(args.debug)
    return int(args.run_command(args) or 0)


def main(argv=None) -> int:
    """Parses ``argv`` and runs the command: 0 on success, 2 for a bad argument or input (one
    line on stderr), 1 for an unexpected failure (one line), 130 when interrupted.

    A bad argument makes argparse exit with status 2 (``SystemExit``) before TensorFlow loads.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        print(f"qgcam {args.command}: interrupted", file=sys.stderr)
        return 130
    except (CLIError, ValueError, TypeError, OSError) as e:  # OSError: files, permissions
        if args.debug:
            raise
        print(f"qgcam {args.command}: error: {one_line(e)}", file=sys.stderr)
        return 2
    except Exception as e:  # an unexpected failure still gets one line; --debug shows more
        if args.debug:
            raise
        print(f"qgcam {args.command}: error: {type(e).__name__}: {one_line(e)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
