"""pytest set-up for the docstring examples (the doctests of ``skbait/``)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _torch_threads():
    # as in tests/conftest.py: tiny problems gain nothing from threads, and on a busy
    # 2-core machine two threads slow small torch calls down 10-30x; restored after
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
