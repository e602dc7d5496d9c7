import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tests/reference.py


@pytest.fixture(autouse=True)
def _torch_threads():
    # keep CPU runs predictable on small CI machines
    yield
