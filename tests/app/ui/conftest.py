import pytest

from app.services.app_services import Services
from app.ui.main_window import MainWindow
from tests.app.services.harness import no_dangling_threads, services  # noqa: F401 - fixtures


@pytest.fixture
def window(qtbot, services: Services) -> MainWindow:  # noqa: F811 - pytest injects the imported fixture
    w = MainWindow(services)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w
