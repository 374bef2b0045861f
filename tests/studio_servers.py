"""A throwaway PostgreSQL server and a local Ray cluster for the studio tests.

``postgres_server()`` runs the Debian package's ``initdb`` and ``pg_ctl`` into a temporary
folder, listening on a Unix socket in that folder only (no TCP port), and removes it all
afterwards. initdb refuses to run as root, so under root the server runs as the
``postgres`` user the package creates. ``unavailable(reason)`` skips a test on a developer
machine without the package, and fails it in CI (``CI=true``), where scripts/system-deps.sh
installs it: a studio test must never pass by not running.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"studio tests cannot run in CI: {reason}")
    pytest.skip(reason)


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@contextmanager
def postgres_server() -> Iterator[str]:
    """A running server; yields the folder holding its socket (``host=`` in a URL)."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        unavailable("PostgreSQL is not installed (apt-get install postgresql)")
    as_root = os.geteuid() == 0
    folder = tempfile.mkdtemp(prefix="soundalike-pg-")
    prefix: list[str] = []
    if as_root:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            unavailable("no postgres user to run the server as (the Debian package creates it)")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data = os.path.join(folder, "data")
    try:
        subprocess.run(
            [*prefix, initdb, "-D", data, "-U", "soundalike", "--auth=trust", "-E", "UTF8",
             "--no-sync", "--no-instructions"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        options = f"-k {folder} -c listen_addresses='' -c fsync=off -c max_connections=60"
        subprocess.run(
            [*prefix, pg_ctl, "-D", data, "-o", options, "-l", os.path.join(folder, "log"), "-w", "start"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        yield folder
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", data, "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def database_url(socket_folder: str, schema: str | None = None) -> str:
    """The server's ``soundalike`` database; with ``schema``, as a client whose tables live in
    that schema (``search_path``), which is how each test gets an empty catalog cheaply."""
    url = f"postgresql:///soundalike?host={socket_folder}&user=soundalike"
    return url if schema is None else f"{url}&options=-csearch_path%3D{schema}"


def create_database(socket_folder: str) -> None:
    import psycopg

    with psycopg.connect(f"postgresql:///postgres?host={socket_folder}&user=soundalike", autocommit=True) as admin:
        admin.execute("CREATE DATABASE soundalike")


def create_schema(socket_folder: str, name: str) -> str:
    """A new empty schema in the ``soundalike`` database; returns a URL that uses it."""
    import psycopg

    with psycopg.connect(database_url(socket_folder), autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{name}"')
    return database_url(socket_folder, name)
