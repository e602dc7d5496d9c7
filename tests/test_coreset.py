"""CoresetSampler against brute-force greedy k-center."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from reference import kcenter_reference
from skbait import CoresetSampler
from skbait._heads import representation
from skbait._kernels.kcenter import kcenter_greedy
from test_bait import _problem

CASES = {
    "raw": (dict(task="classification"), None, {}),
    "raw-cosine": (dict(task="classification"), None, dict(metric="cosine")),
    "raw-chunked": (dict(task="classification"), None, dict(chunk_size=4)),
    "raw-duplicates": (dict(task="classification", dup=True), None, {}),
    "logistic": (dict(task="classification"), LogisticRegression(), {}),
    "ridge": (dict(task="regression"), Ridge(), {}),
    "pipeline": (dict(task="classification"),
                 make_pipeline(StandardScaler(), LogisticRegression()), {}),
    "pipeline-cosine-duplicates": (dict(task="classification", dup=True),
                                   make_pipeline(StandardScaler(), LogisticRegression()),
                                   dict(metric="cosine")),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("n", [7, 30])
def test_matches_brute_force(case, n):
    problem, estimator, params = CASES[case]
    X_lab, y_lab, X_pool = _problem(**problem)
    sampler = CoresetSampler(estimator, device="cpu", **params).fit(X_lab, y_lab)
    picks = sampler.select(X_pool, n)
    if estimator is None:
        H_lab, H_pool = X_lab, X_pool
    else:
        H_lab = representation(sampler.estimator_, X_lab).features
        H_pool = representation(sampler.estimator_, X_pool).features
    ref_idx, ref_dist = kcenter_reference(H_lab, H_pool, n, metric=sampler.metric)
    np.testing.assert_array_equal(picks, ref_idx)
    np.testing.assert_allclose(sampler.scores_, ref_dist, rtol=1e-9, atol=1e-12)


def test_raw_x_needs_no_labels():
    X_lab, _, X_pool = _problem("classification")
    picks = CoresetSampler(device="cpu").fit(X_lab).select(X_pool, 5)
    np.testing.assert_array_equal(picks, kcenter_reference(X_lab, X_pool, 5)[0])


def test_ties_go_to_the_lowest_index():
    # rows 1 and 2 tie for farthest, then rows 0 and 3 tie (row 2 duplicates row 1)
    X_pool = np.array([[1.0, 0.0], [5.0, 0.0], [5.0, 0.0], [1.0, 0.0]])
    sampler = CoresetSampler(device="cpu").fit(np.zeros((1, 2)))
    np.testing.assert_array_equal(sampler.select(X_pool, 3), [1, 0, 2])
    np.testing.assert_allclose(sampler.scores_, [5.0, 1.0, 0.0])


def test_large_pool_in_small_chunks():
    # n = 200,000 in chunks of 16384 rows (the benchmark reports the memory at this size)
    rng = np.random.default_rng(0)
    pool = torch.as_tensor(rng.normal(size=(200_000, 4)))
    labeled = torch.as_tensor(rng.normal(size=(40, 4)))
    picks, sq_dist = kcenter_greedy(pool, labeled, 3, chunk_size=16384)
    nearest = torch.cdist(pool, labeled).amin(dim=1)
    for pick, sq in zip(picks, sq_dist):
        assert pick == int(torch.argmax(nearest))
        assert np.sqrt(sq) == pytest.approx(float(nearest.max()), rel=1e-9)
        nearest = torch.minimum(nearest, (pool - pool[pick]).norm(dim=1))


def test_cosine_refuses_zero_rows():
    X_lab, y_lab, X_pool = _problem("classification")
    X_pool[4] = 0.0
    sampler = CoresetSampler(metric="cosine", device="cpu").fit(X_lab)
    with pytest.raises(ValueError, match="row 4 of the representation is all zeros"):
        sampler.select(X_pool, 2)


def test_embedding_hook_defines_the_representation():
    X_lab, y_lab, X_pool = _problem("classification")
    first_two = lambda estimator, X: np.asarray(X)[:, :2]  # noqa: E731
    sampler = CoresetSampler(LogisticRegression(), embedding=first_two,
                             device="cpu").fit(X_lab, y_lab)
    np.testing.assert_array_equal(
        sampler.select(X_pool, 6), kcenter_reference(X_lab[:, :2], X_pool[:, :2], 6)[0])
