"""Model tests run torch on one intra-op thread: two OpenMP threads on a shared 2-core
machine thrash (5x slower); one keeps the tests fast and repeatable."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
