"""Entry point of the ``soundalike`` script: a subcommand runs the CLI, none opens the app.

``soundalike FILE`` (a file, not a command: what a file manager's "Open with…" runs) opens
the app with FILE as the query.

This is the only module that imports ``app.ui`` (house rule 5).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Sequence

from app import cli


def main(argv: Sequence[str] | None = None) -> int:
    multiprocessing.freeze_support()  # frozen bundle: the indexer's forkserver workers re-enter here
    argv = list(sys.argv[1:] if argv is None else argv)
    clip = None
    if argv and argv[0] not in cli.COMMANDS and not argv[0].startswith("-") and os.path.isfile(argv[0]):
        clip, argv = os.path.abspath(argv[0]), argv[1:]
    args = cli.parse_args(argv)
    if args.command is None:
        from app.services.bootstrap import build_services
        from app.ui.application import run_gui

        return run_gui(args, build_services, clip)
    return cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
