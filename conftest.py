"""pytest set-up shared by the tests (``tests/``) and the docstring examples (``skbait/``)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _torch_threads():
    # The tests' problems are tiny: one thread is as fast, and two threads on a busy
    # 2-core machine slow small torch calls down 10-30x. The setting is restored after.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
