from tests.app.services.harness import no_dangling_threads, services  # noqa: F401 - fixtures
