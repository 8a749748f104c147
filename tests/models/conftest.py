"""Fixtures of the architecture tests."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """Small-tensor training runs fastest on one thread, and is not slowed down by a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
