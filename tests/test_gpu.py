"""The CUDA path picks what the CPU path picks; TF32 is off during selection, then restored.

Tests that need a GPU are marked ``gpu`` and skip, with the reason shown by ``-ra``, when
torch sees no CUDA device. Run them alone with ``python -m pytest -m gpu tests``.
"""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from skbait._kernels import bait as bait_kernel
from skbait import BaitSampler
from test_bait import CASES, _problem

CUDA_MARKS = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason="needs a CUDA device: torch.cuda.is_available() is False",
    ),
]


def needs_cuda(test):
    for mark in CUDA_MARKS:
        test = mark(test)
    return test


def _same_selection(make, X_lab, y_lab, X_pool, n):
    cpu = make("cpu").fit(X_lab, y_lab)
    cuda = make("cuda").fit(X_lab, y_lab)
    assert cuda.device_.type == "cuda"
    picks = cpu.select(X_pool, n)
    cuda_picks = cuda.select(X_pool, n)
    assert cuda.objective_ == pytest.approx(cpu.objective_, rel=1e-9)
    if not np.array_equal(cuda_picks, picks):
        # duplicate rows tie exactly; other rounding may break the tie the other way
        # (and keep another copy's forward gain in scores_), but the batch must hold
        # the same points
        rows = np.asarray(X_pool)
        assert sorted(map(tuple, rows[cuda_picks])) == sorted(map(tuple, rows[picks]))
    else:
        np.testing.assert_allclose(cuda.scores_, cpu.scores_, rtol=1e-9)
    return picks


@needs_cuda
@pytest.mark.parametrize("n", [1, 5])
@pytest.mark.parametrize("case", sorted(CASES))
def test_cuda_picks_match_cpu(case, n):
    problem, estimator, params = CASES[case]
    X_lab, y_lab, X_pool = _problem(**problem)
    _same_selection(lambda device: BaitSampler(estimator, device=device, **params),
                    X_lab, y_lab, X_pool, n)


@needs_cuda
def test_cuda_refresh_of_the_inverse_matches_cpu():
    # 80 forward steps: on CUDA M⁻¹ is recomputed exactly after 50 updates
    X_lab, y_lab, X_pool = _problem("classification", n_pool=300, seed=1)
    _same_selection(lambda device: BaitSampler(LogisticRegression(), device=device),
                    X_lab, y_lab, X_pool, 40)


@needs_cuda
def test_skorch_net_on_cuda():
    pytest.importorskip("skorch", reason="skorch (the optional extra) is not installed")
    from test_skorch import _data, _net

    X_lab, y_lab, X_pool = _data("classification")
    net = _net(device="cuda").fit(X_lab, y_lab)
    follows = BaitSampler(net, prefit=True).fit(X_lab, y_lab)
    assert follows.device_.type == "cuda"  # "auto" follows net.device
    picks = _same_selection(lambda device: BaitSampler(net, prefit=True, device=device),
                            X_lab, y_lab, X_pool, 5)
    np.testing.assert_array_equal(follows.select(X_pool, 5), picks)
    on_gpu = torch.as_tensor(X_pool, device="cuda")
    np.testing.assert_array_equal(follows.select(on_gpu, 5), picks)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA_MARKS)])
def test_tf32_off_during_selection_and_restored(device, monkeypatch):
    seen = []

    def spy(*args, **kwargs):
        seen.append((torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
                     torch.get_float32_matmul_precision()))
        return greedy(*args, **kwargs)

    greedy = bait_kernel.bait_greedy
    monkeypatch.setattr(bait_kernel, "bait_greedy", spy)
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
             torch.get_float32_matmul_precision())
    try:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.set_float32_matmul_precision("high")
        X_lab, y_lab, X_pool = _problem("classification")
        BaitSampler(LogisticRegression(), device=device).fit(X_lab, y_lab).select(X_pool, 3)
        after = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
                 torch.get_float32_matmul_precision())
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[:2]
        torch.set_float32_matmul_precision(saved[2])
    assert seen == [(False, False, "highest")]
    assert after == (True, True, "high")
