"""One PostgreSQL server and one local Ray cluster for the whole session (each costs seconds
to start); every test gets a catalog of its own on the shared server."""

from __future__ import annotations

import uuid

import pytest

from tests.studio_servers import create_schema, studio_server, unavailable


@pytest.fixture(scope="session")
def pg_socket():
    with studio_server() as folder:
        yield folder


@pytest.fixture
def pg_url(pg_socket) -> str:
    """An empty catalog of its own on the session's server (a schema: milliseconds to make)."""
    return create_schema(pg_socket, f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="session")
def ray_cluster():
    """Ray on this machine with 2 CPUs (2 workers); ClusterIndexer runs reuse it."""
    try:
        import ray
    except ImportError:
        unavailable("Ray is not installed (pip install -e '.[studio]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    """Clients' vector caches of studio catalogs go to the per-user data dir: a temporary one."""
    monkeypatch.setenv("SOUNDALIKE_DATA_DIR", str(tmp_path / "user-data"))
