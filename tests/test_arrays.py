"""The array-level functions: the same picks as the classes on the model the arrays came
from (one path to test), numpy and torch inputs alike, and the classes' checks."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression, Ridge

from reference import bait_reference, factors
from skbait import (
    BadgeSampler,
    BaitSampler,
    CoresetSampler,
    DeterminantalSampler,
    UncertaintySampler,
    badge_select,
    bait_select,
    coreset_select,
    determinantal_select,
    uncertainty_select,
)


def _classification(n_classes=3, seed=0):
    X, y = make_classification(90, 5, n_informative=4, n_redundant=0, n_classes=n_classes,
                               n_clusters_per_class=1, random_state=seed)
    return X[:30], y[:30], X[30:]


def _numpy(a):
    return a.numpy() if isinstance(a, torch.Tensor) else a


def _with_bias(X):
    return np.hstack([X, np.ones((len(X), 1))])


def _arrays(model, X_lab, X_pool, binary=False):
    """What a user without a scikit-learn model would compute: h (with bias) and p."""
    if isinstance(model, Ridge):
        return _with_bias(X_pool), None, _with_bias(X_lab), None
    p_pool, p_lab = model.predict_proba(X_pool), model.predict_proba(X_lab)
    if binary:  # a sigmoid head: the positive class's probability
        p_pool, p_lab = p_pool[:, 1], p_lab[:, 1]
    return _with_bias(X_pool), p_pool, _with_bias(X_lab), p_lab


CASES = {
    "softmax": (3, LogisticRegression, False),
    "sigmoid": (2, LogisticRegression, True),
    "regression": (None, Ridge, False),
}


def _case(name):
    n_classes, cls, binary = CASES[name]
    if n_classes is None:
        X, y = make_regression(90, 5, noise=1.0, random_state=0)
        X_lab, y_lab, X_pool = X[:30], y[:30], X[30:]
    else:
        X_lab, y_lab, X_pool = _classification(n_classes)
    return X_lab, y_lab, X_pool, cls, binary


@pytest.mark.parametrize("as_tensor", [False, True], ids=["numpy", "torch"])
@pytest.mark.parametrize("params", [
    {}, {"backward": False}, {"fisher": "identity", "alpha": 0.1, "oversample": 3}])
@pytest.mark.parametrize("name", sorted(CASES))
def test_bait_select_equals_the_sampler(name, params, as_tensor):
    X_lab, y_lab, X_pool, cls, binary = _case(name)
    sampler = BaitSampler(cls(), device="cpu", **params).fit(X_lab, y_lab)
    picks = sampler.select(X_pool, 6)
    H, P, H_lab, P_lab = _arrays(sampler.estimator_, X_lab, X_pool, binary)
    if as_tensor:
        H, H_lab = torch.as_tensor(H), torch.as_tensor(H_lab)
        P, P_lab = (None, None) if P is None else (torch.as_tensor(P), torch.as_tensor(P_lab))
    before = [None if a is None else _numpy(a).copy() for a in (H, P, H_lab, P_lab)]
    got, scores = bait_select(H, P, 6, labeled_features=H_lab, labeled_proba=P_lab,
                              device="cpu", return_scores=True, **params)
    np.testing.assert_array_equal(got, picks)
    np.testing.assert_array_equal(scores, sampler.scores_)
    for a, b in zip((H, P, H_lab, P_lab), before):  # inputs untouched
        if a is not None:
            np.testing.assert_array_equal(_numpy(a), b)


def test_bait_select_without_labels_matches_brute_force():
    rng = np.random.default_rng(0)
    H = rng.normal(size=(12, 3))
    P = rng.dirichlet(np.ones(3), size=12)
    got = bait_select(H, P, 3, device="cpu")
    want, _ = bait_reference([], factors(H, P, "softmax"), 3)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("factor", ["fisher", "gradient"])
def test_determinantal_select_equals_the_sampler(factor):
    X_lab, y_lab, X_pool = _classification(4)
    sampler = DeterminantalSampler(LogisticRegression(), factor=factor, device="cpu")
    picks = sampler.fit(X_lab, y_lab).select(X_pool, 5)
    H, P, H_lab, P_lab = _arrays(sampler.estimator_, X_lab, X_pool)
    got = determinantal_select(H, P, 5, labeled_features=H_lab, labeled_proba=P_lab,
                               factor=factor, device="cpu")
    np.testing.assert_array_equal(got, picks)


@pytest.mark.parametrize("binary", [False, True])
def test_badge_select_equals_the_sampler(binary):
    X_lab, y_lab, X_pool = _classification(2 if binary else 3)
    sampler = BadgeSampler(LogisticRegression(), random_state=3, device="cpu")
    picks = sampler.fit(X_lab, y_lab).select(X_pool, 7)
    H, P, _, _ = _arrays(sampler.estimator_, X_lab, X_pool, binary)
    np.testing.assert_array_equal(badge_select(H, P, 7, random_state=3, device="cpu"), picks)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_coreset_select_equals_the_sampler(metric):
    X_lab, _, X_pool = _classification()
    picks = CoresetSampler(metric=metric, device="cpu").fit(X_lab).select(X_pool, 6)
    got = coreset_select(torch.as_tensor(X_pool), 6, labeled_features=X_lab, metric=metric,
                         device="cpu")
    np.testing.assert_array_equal(got, picks)


@pytest.mark.parametrize("method", ["least_confident", "margin", "entropy"])
def test_uncertainty_select_equals_the_sampler(method):
    X_lab, y_lab, X_pool = _classification()
    sampler = UncertaintySampler(LogisticRegression(), method=method, device="cpu")
    picks = sampler.fit(X_lab, y_lab).select(X_pool, 5)
    got = uncertainty_select(sampler.estimator_.predict_proba(X_pool), 5, method=method)
    np.testing.assert_array_equal(got, picks)


def test_a_tensor_stays_on_its_device_and_auto_follows_it(monkeypatch):
    seen = []
    from skbait.utils import _array_checks as checks

    original = checks.as_tensor
    monkeypatch.setattr(checks, "as_tensor", lambda values, name, device: (
        seen.append(torch.device(device)) or original(values, name, device)))
    H = torch.randn(20, 3, dtype=torch.float64)
    bait_select(H, torch.softmax(torch.randn(20, 3), 1), 2)
    assert seen and all(device == H.device for device in seen)


@pytest.mark.parametrize("call, error, match", [
    (lambda H, P: bait_select(H, P + 1.0, 2), ValueError, "logits.*softmax"),
    (lambda H, P: bait_select(H[:, 0], P, 2), ValueError, "2-D"),
    (lambda H, P: bait_select(H, P[:10], 2), ValueError, r"shape \(10, 3\)"),
    (lambda H, P: bait_select(H, P, 41), ValueError, "larger than the pool"),
    (lambda H, P: bait_select(H, P, 2, alpha=0), ValueError, "alpha"),
    (lambda H, P: bait_select(H, P, 2, labeled_features=H[:5, :2], labeled_proba=P[:5]),
     ValueError, "columns"),
    (lambda H, P: bait_select(H, P, 2, labeled_features=H[:5]), ValueError, "labeled_proba"),
    (lambda H, P: bait_select(np.where(H > 1, np.nan, H), P, 2), ValueError, "NaN"),
    (lambda H, P: bait_select(H.astype(str), P, 2), TypeError, "numeric"),
    (lambda H, P: determinantal_select(H, None, 2, factor="gradient"), ValueError,
     "factor='gradient' needs class probabilities"),
    (lambda H, P: coreset_select(H, 2, labeled_features=H[:0]), ValueError, "at least one"),
    (lambda H, P: uncertainty_select(-P, 2), ValueError, "logits"),
])
def test_bad_arrays_get_clear_errors(call, error, match):
    rng = np.random.default_rng(0)
    H, P = rng.normal(size=(40, 4)), rng.dirichlet(np.ones(3), size=40)
    with pytest.raises(error, match=match):
        call(H, P)
