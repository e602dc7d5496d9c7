"""The Fisher contractions (``fisher_sum``, ``quad_forms``) against explicit ``V_x``.

Both have two routes, chosen by the shape: the ``i ≤ j`` feature pairs of ``h ⊗ h``
(half the multiply-adds) or ``h`` contracted twice (or ``h ⊗ g``); every shape below is
run through each route its size allows, in chunks that do not divide the pool.
"""

import numpy as np
import pytest
import torch

from reference import fisher_factor
from skbait._kernels import _fused
from skbait._kernels import fisher as fisher_module
from skbait._kernels.fisher import Factors, fisher_sum, quad_forms


def _pool(n, d, k, seed):
    rng = np.random.default_rng(seed)
    h = rng.normal(size=(n, d))
    if k == 1:  # a binary head
        proba = rng.uniform(0.05, 0.95, size=n)
        dense = [fisher_factor(h[i], [1 - proba[i], proba[i]], "binary") for i in range(n)]
        s = np.sqrt(proba * (1 - proba))[:, None]
        u = np.zeros((n, 1))
    else:
        logits = rng.normal(size=(n, k))
        proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        dense = [fisher_factor(h[i], proba[i], "softmax") for i in range(n)]
        s, u = np.sqrt(proba), proba
    factors = Factors(*(torch.from_numpy(np.ascontiguousarray(v)) for v in (h, s, u)))
    return factors, np.stack(dense)  # (n, D, k)


def _symmetric(rng, size):
    a = rng.normal(size=(size, size))
    return a + a.T


def _compiled_calls(monkeypatch, name):
    """The threads of each call of the compiled kernel ``_fused.<name>`` from now on (numba
    is needed: without it the test is skipped, and fails if numba cannot compile)."""
    pytest.importorskip("numba", reason="numba is not installed: the compiled route needs it")
    if not _fused.available():
        pytest.fail(f"numba is installed but its kernels are unavailable: "
                    f"{_fused.compile_info()}")
    calls, kernel = [], getattr(_fused, name)

    def spy(*args, **kwargs):
        calls.append(kwargs["threads"])
        return kernel(*args, **kwargs)

    monkeypatch.setattr(_fused, name, spy)
    return calls


SHAPES = [(23, 1, 3), (23, 2, 1), (17, 3, 2), (19, 5, 4), (13, 9, 2), (11, 12, 1),
          (9, 40, 2), (7, 4, 7)]


@pytest.mark.parametrize("n, d, k", SHAPES)
@pytest.mark.parametrize("n_matrices", [1, 2])
@pytest.mark.parametrize("rows_outside", [False, True])
def test_quad_forms_match_explicit_factors(monkeypatch, n, d, k, n_matrices, rows_outside):
    """Both orientations of the packed route's GEMM (the other route ignores it)."""
    monkeypatch.setattr(fisher_module, "_rows_outside", lambda rows, width: rows_outside)
    factors, dense = _pool(n, d, k, seed=d * k)
    rng = np.random.default_rng(n)
    mats = [_symmetric(rng, d * k) for _ in range(n_matrices)]
    got = quad_forms(factors, [torch.from_numpy(m) for m in mats], chunk_size=5).numpy()
    want = np.concatenate([np.einsum("xpa,pq,xqb->xab", dense, m, dense) for m in mats],
                          axis=2)
    scale = np.abs(want).max()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13 * scale)


@pytest.mark.parametrize("n, d, k", SHAPES)
def test_compiled_quad_forms_match_explicit_factors(monkeypatch, n, d, k):
    """The packed route's contraction in compiled code (``threads``), where the shape takes
    that route; the result does not depend on the threads, bit for bit."""
    calls = _compiled_calls(monkeypatch, "pair_contraction")
    factors, dense = _pool(n, d, k, seed=d * k + 1)
    rng = np.random.default_rng(n + 1)
    mats = [torch.from_numpy(_symmetric(rng, d * k)) for _ in range(2)]
    got = [quad_forms(factors, mats, chunk_size=5, threads=t) for t in (1, 2)]
    assert bool(calls) == fisher_module._packs_features(d, k * (k + 1))
    assert torch.equal(got[0], got[1])
    want = np.concatenate([np.einsum("xpa,pq,xqb->xab", dense, m.numpy(), dense)
                           for m in mats], axis=2)
    np.testing.assert_allclose(got[0].numpy(), want, rtol=0, atol=1e-13 * np.abs(want).max())


@pytest.mark.parametrize("n, d, k", SHAPES)
def test_fisher_sum_matches_explicit_factors(n, d, k):
    factors, dense = _pool(n, d, k, seed=d + k)
    got = fisher_sum(factors, chunk_size=4).numpy()
    want = np.einsum("xpa,xqa->pq", dense, dense)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13 * np.abs(want).max())


@pytest.mark.parametrize("n, d, k", SHAPES)
def test_compiled_fisher_sum_matches_explicit_factors(monkeypatch, n, d, k):
    """The packed route's GEMM in compiled code (``threads``), where the shape takes that
    route; the result does not depend on the threads, bit for bit."""
    calls = _compiled_calls(monkeypatch, "pair_gram")
    factors, dense = _pool(n, d, k, seed=d + k + 1)
    got = [fisher_sum(factors, chunk_size=4, threads=t) for t in (1, 2)]
    assert bool(calls) == (d < 5 * k * (k + 1) // 2)  # the compiled route's shapes
    assert torch.equal(got[0], got[1])
    want = np.einsum("xpa,xqa->pq", dense, dense)
    np.testing.assert_allclose(got[0].numpy(), want, rtol=0, atol=1e-13 * np.abs(want).max())


@pytest.mark.parametrize("n, d, k", SHAPES)
@pytest.mark.parametrize("layout", ["rows", "columns", "strided"])
def test_product_matches_explicit_factors(n, d, k, layout):
    """``sym @ Ṽ_x`` without ``Ṽ_x``, for a symmetric ``sym`` stored row-major, column-major
    (as LAPACK's inverse is) or neither; ``sym`` is not modified."""
    factors, dense = _pool(n, d, k, seed=d * k + 2)
    full = _symmetric(np.random.default_rng(n + 2), 2 * d * k)[: d * k, : d * k]
    sym = {"rows": torch.from_numpy(np.ascontiguousarray(full)),
           "columns": torch.from_numpy(np.asfortranarray(full)),
           "strided": torch.from_numpy(_symmetric(np.random.default_rng(n + 2),
                                                  2 * d * k))[::2, ::2]}[layout]
    before = sym.clone()
    for x in (0, n // 2, n - 1):
        want = sym.numpy() @ dense[x]
        got = factors.product(sym, x).numpy()
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-13 * np.abs(want).max())
    assert torch.equal(sym, before)


@pytest.mark.parametrize("d, k", [(5, 4), (12, 1), (40, 2)])
def test_both_routes_of_quad_forms_agree(monkeypatch, d, k):
    """Each shape forced through the other route gives the same blocks (to rounding)."""
    factors, _ = _pool(15, d, k, seed=3)
    mats = [torch.from_numpy(_symmetric(np.random.default_rng(d), d * k))]
    first = quad_forms(factors, mats, chunk_size=4)
    route = fisher_module._packs_features(d, k * (k + 1) // 2)
    monkeypatch.setattr(fisher_module, "_packs_features", lambda d, width: not route)
    second = quad_forms(factors, mats, chunk_size=4)
    scale = float(first.abs().max())
    assert float((first - second).abs().max()) <= 1e-13 * scale
