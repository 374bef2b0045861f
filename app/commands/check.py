"""``soundalike check [--db PATH|URL] [--json]``: check a library's catalog for damage.

One line per problem on stdout (``CATALOG: PROBLEM``), or one line saying it is healthy;
exit status 0 when healthy, 1 when problems were found, 2 when the catalog cannot be opened
or read. ``--json``: ``{"catalog", "tracks", "ok", "problems": [...]}``. What is checked,
on SQLite and on a studio's PostgreSQL: app.core.catalog_check (the app's Library ▸ Check
catalog… runs the same check).
"""

from __future__ import annotations

import argparse
import json
import sys

from app.cli import CliError
from app.commands._library import add_db_option

HELP = "check a library's catalog (SQLite file or PostgreSQL) for damage"


def configure(parser: argparse.ArgumentParser) -> None:
    add_db_option(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")


def run(args: argparse.Namespace) -> int:
    from app.core.catalog_check import check_catalog
    from app.core.catalog_io import CatalogError

    try:
        report = check_catalog(args.db)
    except CatalogError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        doc = {"catalog": report.catalog, "tracks": report.tracks, "ok": report.ok,
               "problems": list(report.problems)}  # fmt: skip
        json.dump(doc, sys.stdout, indent=2)
        print()
    else:
        print("\n".join(report.lines()))
    return 0 if report.ok else 1
