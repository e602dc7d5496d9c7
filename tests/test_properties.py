"""Property-based tests: random shapes, scales, classes, regularisers and batch sizes.

Hypothesis draws small problems (so that the brute-force reference can judge them) and
checks what must hold for every one of them. ``derandomize=True`` keeps the suite
reproducible; the examples are few and cheap so that the file runs in seconds.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression, Ridge

from reference import bait_objective, bait_reference, factors
from skbait import BaitSampler
from skbait._heads import last_layer

SETTINGS = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw):
    """(estimator, X_lab, y_lab, X_pool, n, alpha) of a random small problem."""
    head = draw(st.sampled_from(["softmax", "binary", "regression"]))
    k = {"softmax": draw(st.integers(3, 4)), "binary": 2, "regression": 1}[head]
    d = draw(st.integers(1, 5))
    n_lab = draw(st.integers(max(2 * k, 3), 14))
    n_pool = draw(st.integers(2, 20))
    n = draw(st.integers(1, n_pool))
    scale = 10 ** draw(st.floats(-2, 2))
    alpha = 10 ** draw(st.floats(-3, 1))
    duplicates = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    X_lab = rng.normal(size=(n_lab, d)) * scale
    X_pool = rng.normal(size=(n_pool, d)) * scale
    if duplicates:  # every pool row repeated from a handful: exact ties everywhere
        X_pool = X_pool[rng.integers(0, max(1, n_pool // 3), n_pool)]
    if head == "regression":
        return Ridge(), X_lab, X_lab @ rng.normal(size=d), X_pool, n, alpha
    y_lab = np.r_[np.arange(k), rng.integers(0, k, n_lab - k)]
    return LogisticRegression(), X_lab, y_lab, X_pool, n, alpha


@SETTINGS
@given(problems())
def test_bait_properties(problem):
    estimator, X_lab, y_lab, X_pool, n, alpha = problem
    sampler = BaitSampler(estimator, alpha=alpha, device="cpu").fit(X_lab, y_lab)
    picks = sampler.select(X_pool, n)
    # distinct, in range, deterministic (same sampler, and a fresh one)
    assert picks.dtype == np.intp and picks.shape == (n,) and len(set(picks)) == n
    assert 0 <= picks.min() and picks.max() < len(X_pool)
    assert np.all(np.isfinite(sampler.scores_))
    np.testing.assert_array_equal(sampler.select(X_pool, n), picks)
    fresh = BaitSampler(estimator, alpha=alpha, device="cpu").fit(X_lab, y_lab)
    np.testing.assert_array_equal(fresh.select(X_pool, n), picks)
    # the objective reported is the batch's, and the batch is as good as the brute-force
    # greedy's up to rounding (the same batch, or a tie)
    lab = last_layer(sampler.estimator_, X_lab)
    pool = last_layer(sampler.estimator_, X_pool)
    V_lab = factors(lab.features, lab.proba, lab.kind)
    V_pool = factors(pool.features, pool.proba, pool.kind)
    ours = bait_objective(V_lab, V_pool, picks, n, alpha=alpha)
    _, ref = bait_reference(V_lab, V_pool, n, alpha=alpha)
    assert sampler.objective_ == pytest.approx(ours, rel=1e-6)
    assert ours <= ref * (1 + 1e-6)


@SETTINGS
@given(problems())
def test_forward_only_is_the_greedy_prefix(problem):
    # backward pruning may end above the first n forward picks (see test_reliability), but
    # forward-only BAIT is exactly the reference's greedy prefix, up to rounding
    estimator, X_lab, y_lab, X_pool, n, alpha = problem
    sampler = BaitSampler(estimator, alpha=alpha, backward=False, device="cpu")
    picks = sampler.fit(X_lab, y_lab).select(X_pool, n)
    lab = last_layer(sampler.estimator_, X_lab)
    pool = last_layer(sampler.estimator_, X_pool)
    V_lab = factors(lab.features, lab.proba, lab.kind)
    V_pool = factors(pool.features, pool.proba, pool.kind)
    ours = bait_objective(V_lab, V_pool, picks, n, alpha=alpha)
    _, ref = bait_reference(V_lab, V_pool, n, alpha=alpha, backward=False)
    assert ours <= ref * (1 + 1e-6)
    assert np.all(sampler.forward_gains_ >= -1e-9 * abs(sampler.forward_gains_).max())
