"""The thread policy of a whole selection (skbait/_kernels/threads.py): a small problem
runs on one thread from its setup on, a large one keeps the caller's threads, and the
caller's setting comes back afterwards, also after an error.

The loop's own policy (torch on one thread beside the compiled pass) is tested with the
pass, in tests/test_fused.py.
"""

import pytest
import torch

from skbait._kernels import bait as bait_kernel
from skbait._kernels import logdet as logdet_kernel
from skbait._kernels._constants import PARALLEL_STATE_MIN
from skbait._kernels._numerics import torch_threads
from skbait._kernels.fisher import rank_one_factors, softmax_factors
from skbait._kernels.threads import selection_threads

F64 = torch.float64


class _Seen(Exception):
    """Raised by the spies once they have seen the thread count: the rest is not needed."""


def _softmax_pool(n, d, k, seed=0):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(n, d, dtype=F64, generator=g)
    return softmax_factors(h, torch.softmax(torch.randn(n, k, dtype=F64, generator=g), 1))


def _spy(monkeypatch, module, name, seen):
    def record(*args, **kwargs):
        seen.append(torch.get_num_threads())
        raise _Seen

    monkeypatch.setattr(module, name, record)


@pytest.mark.parametrize("module, spied, entry", [
    (bait_kernel, "pool_fisher", "bait_select_factors"),  # the setup's first step
    (logdet_kernel, "logdet_greedy", "logdet_select_factors"),
])
def test_small_selection_runs_on_one_thread_from_its_setup(monkeypatch, module, spied, entry):
    seen = []
    _spy(monkeypatch, module, spied, seen)
    pool = _softmax_pool(50, 4, 3)
    with torch_threads(2):
        with pytest.raises(_Seen):
            getattr(module, entry)(pool, torch.zeros(12, 12, dtype=F64), 5, 3)
        assert torch.get_num_threads() == 2  # restored after the error
    assert seen == [1]


def test_large_state_keeps_the_callers_threads(monkeypatch):
    # BAIT's state at the one-thread limit (two 1 × 1 blocks per candidate), then one
    # candidate below it
    n = PARALLEL_STATE_MIN // 2
    pool = rank_one_factors(torch.ones(n, 1, dtype=F64))
    with torch_threads(2):
        with selection_threads(pool, 2):
            assert torch.get_num_threads() == 2
        with selection_threads(pool.rows(slice(0, n - 1)), 2):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2


def test_large_products_keep_the_callers_threads():
    # D = 960, k = 320: D²k ≥ 2^27, however few the candidates
    pool = _softmax_pool(3, 3, 320)
    with torch_threads(2):
        with selection_threads(pool, 2):
            assert torch.get_num_threads() == 2
