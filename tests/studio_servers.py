"""The studio tests' PostgreSQL server (app.benchmarks._postgres), and what happens when it
cannot run: ``unavailable(reason)`` skips on a developer machine without the package, and
fails in CI (``CI=true``), where scripts/system-deps.sh installs it: a studio test must never
pass by not running."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from app.benchmarks._postgres import postgres_server, server_url


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"studio tests cannot run in CI: {reason}")
    pytest.skip(reason)


@contextmanager
def studio_server() -> Iterator[str]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed (pip install -e '.[studio]')")
    try:
        with postgres_server() as folder:
            yield folder
    except RuntimeError as exc:
        unavailable(str(exc))


def create_schema(socket_folder: str, name: str) -> str:
    """A new empty schema in the server's database; returns a URL whose tables live there."""
    import psycopg

    with psycopg.connect(server_url(socket_folder), autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{name}"')
    return server_url(socket_folder, name)
