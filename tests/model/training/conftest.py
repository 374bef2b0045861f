"""The teacher's tests need the musicnn wheel (its weights) and resampy: `make teacher`.

`make test` (and so CI) installs both, and there a missing one fails the tests. In a
developer's venv set up with `make lint` only, the teacher tests skip with the command to run.
"""

import importlib.util
import os

import pytest


@pytest.fixture
def teacher_installed() -> None:
    missing = [name for name in ("musicnn", "resampy") if importlib.util.find_spec(name) is None]
    if not missing:
        return
    message = f"{', '.join(missing)} not installed: run `make teacher`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
