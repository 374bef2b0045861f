"""The ``soundalike`` command line: argument parsing and dispatch to ``app.commands``.

Each subcommand lives in ``app/commands/<name>.py`` and exposes ``HELP``,
``configure(parser)`` and ``run(args) -> int``. Those modules import heavy libraries
(torch, faiss) inside ``run`` only, so ``soundalike --version`` and the GUI start fast.
With no subcommand, ``app.__main__`` starts the GUI (the only place that imports app.ui).

Errors: a one-line reason on stderr and a non-zero exit, never a traceback for user
mistakes (``CliError``); details of unexpected failures go to the log.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from app import APP_NAME, __version__
from app.core.types import display_path

# Subcommands in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = (
    "index", "search", "cues", "conform", "check", "embed", "bench", "train", "evaluate",
)

log = logging.getLogger(__name__)


class CliError(Exception):
    """A user-facing failure: its message is printed as ``soundalike: <message>``."""


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the ``chosen`` subcommand gets its options (all of them when None).

    Configuring a subcommand can import what it needs to describe itself (``bench``
    imports every benchmark module); a search should not pay for that on every call.
    """
    parser = argparse.ArgumentParser(
        prog=APP_NAME,
        description="Find replacement music by example. With no command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"app.commands.{name}")
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        if chosen in (None, name):
            module.configure(sub)
        sub.set_defaults(run=module.run)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The first word that is not an option names the command (the top-level options take no value).
    command = next((word for word in argv if not word.startswith("-")), None)
    return build_parser(command if command in COMMANDS else None).parse_args(argv)


def run(args: argparse.Namespace) -> int:
    """Run the parsed subcommand and turn failures into a one-line message and exit code."""
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.run(args) or 0)
    except CliError as exc:
        print(f"{APP_NAME}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{APP_NAME}: interrupted", file=sys.stderr)
        return 130
    except _io_errors() as exc:
        # A full disk, a read-only or vanished catalog, a file we may not read, a model file
        # that is not there: the catalog rolled back (it stays intact) and the next run
        # resumes; say why in one line.
        log.debug("I/O failure", exc_info=True)
        print(f"{APP_NAME}: {_one_line(exc)}", file=sys.stderr)
        return 1


def _io_errors() -> tuple[type[BaseException], ...]:
    """Evaluated only when an exception propagates, so ``--version`` never imports the core."""
    from app.core.catalog import CatalogError
    from app.core.model_registry import ModelChoiceError

    return (CatalogError, ModelChoiceError, OSError)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {display_path(os.fsdecode(exc.filename))}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return str(exc).splitlines()[0]


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry without the GUI (used by tests and scripts)."""
    args = parse_args(argv)
    if args.command is None:
        build_parser().print_help(sys.stderr)
        return 2
    return run(args)
