"""A throwaway PostgreSQL server (the Debian package's initdb and pg_ctl) for benchmarks and
tests: a temporary folder, a Unix socket in it (no TCP port), everything removed afterwards.

Public API::

    with postgres_server() as socket_folder:            # RuntimeError when it cannot start
        url = server_url(socket_folder)                 # its "soundalike" database
    fresh_schema(url, "bench_x") -> url                 # an emptied schema in it

initdb refuses to run as root, so under root the server runs as the ``postgres`` user the
package creates (the folder is handed to it). fsync is off: nothing here must survive a crash.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@contextmanager
def postgres_server(max_connections: int = 60) -> Iterator[str]:
    """A running server with an empty ``soundalike`` database; yields its socket folder."""
    import pwd

    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    folder = tempfile.mkdtemp(prefix="soundalike-pg-")
    prefix: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("no postgres user to run the server as (the Debian package makes it)") from None
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data = os.path.join(folder, "data")
    try:
        subprocess.run(
            [*prefix, initdb, "-D", data, "-U", "soundalike", "--auth=trust", "-E", "UTF8",
             "--no-sync", "--no-instructions"],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        options = f"-k {folder} -c listen_addresses='' -c fsync=off -c max_connections={max_connections}"
        subprocess.run(
            [*prefix, pg_ctl, "-D", data, "-o", options, "-l", os.path.join(folder, "log"), "-w", "start"],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        import psycopg

        with psycopg.connect(f"postgresql:///postgres?host={folder}&user=soundalike", autocommit=True) as admin:
            admin.execute("CREATE DATABASE soundalike")
        yield folder
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr.decode(errors='replace').strip()[-300:]}") from None
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def server_url(socket_folder: str, schema: str | None = None) -> str:
    """The server's ``soundalike`` database; with ``schema``, as a client whose tables live in
    that schema (``search_path``): an empty catalog per test, in milliseconds."""
    url = f"postgresql:///soundalike?host={socket_folder}&user=soundalike"
    return url if schema is None else with_schema(url, schema)


def with_schema(url: str, schema: str) -> str:
    """``url`` as a client whose tables live in ``schema`` (its ``search_path``)."""
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def fresh_schema(url: str, schema: str) -> str:
    """``url`` as a client whose tables live in ``schema``, emptied first (benchmark runs)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.execute(f'CREATE SCHEMA "{schema}"')
    return with_schema(url, schema)
