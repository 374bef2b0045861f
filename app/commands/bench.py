"""``soundalike bench NAME ...``: run a benchmark from ``app/benchmarks`` (encode, search, ...).

Benchmarks are discovered: dropping ``app/benchmarks/<name>.py`` (with ``HELP``,
``configure`` and ``run``) adds ``soundalike bench <name>`` without editing this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil

HELP = "measure throughput: `bench encode` (decode, front end, network, end to end), ..."


def available() -> list[str]:
    """Benchmark names, sorted (module names in app/benchmarks not starting with "_")."""
    import app.benchmarks

    return sorted(
        info.name for info in pkgutil.iter_modules(app.benchmarks.__path__)
        if not info.name.startswith("_")
    )  # fmt: skip


def configure(parser: argparse.ArgumentParser) -> None:
    subparsers = parser.add_subparsers(dest="benchmark", metavar="NAME", required=True)
    for name in available():
        module = importlib.import_module(f"app.benchmarks.{name}")
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(sub)
        sub.set_defaults(bench_run=module.run)


def run(args: argparse.Namespace) -> int:
    return int(args.bench_run(args) or 0)
