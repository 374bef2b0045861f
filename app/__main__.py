"""Entry point of the ``soundalike`` script: a subcommand runs the CLI, none opens the app.

This is the only module that imports ``app.ui`` (house rule 5).
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Sequence

from app import cli


def main(argv: Sequence[str] | None = None) -> int:
    multiprocessing.freeze_support()  # frozen bundle: the indexer's forkserver workers re-enter here
    args = cli.parse_args(argv)
    if args.command is None:
        from app.services.bootstrap import build_services
        from app.ui.application import run_gui

        return run_gui(args, build_services)
    return cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
