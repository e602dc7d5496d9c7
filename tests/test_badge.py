"""BadgeSampler: the factored k-means++ seeding against explicit gradients."""

import numpy as np
import pytest
import torch
from scipy.stats import chisquare
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from reference import badge_gradient, kmeanspp_probabilities
from skbait import BadgeSampler
from skbait._heads import last_layer
from skbait._kernels.gradient import residual
from skbait._kernels.kmeanspp import kmeanspp_seeding
from test_bait import _problem

# Statistical tests use fixed seeds, so they are deterministic; the tolerance is the
# p-value a correct sampler must exceed, and a wrong distribution must fall below.
P_VALUE_TOLERANCE = 1e-3


def _gradients(sampler, X):
    layer = last_layer(sampler.estimator_, X)
    return np.array([badge_gradient(h, p) for h, p in zip(layer.features, layer.proba)])


def _factors(seed, n=8, d=3, k=4):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k))
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    h = rng.normal(size=(n, d))
    G = np.array([badge_gradient(hi, pi) for hi, pi in zip(h, proba)])
    a = residual(torch.as_tensor(proba))
    return a, torch.as_tensor(h), G


@pytest.mark.parametrize("case", ["multinomial", "binary", "pipeline", "duplicates"])
def test_draws_and_scores_match_explicit_gradients(case):
    problem = dict(task="classification", n_classes=2 if case == "binary" else 3,
                   dup=case == "duplicates")
    estimator = (make_pipeline(StandardScaler(), LogisticRegression()) if case == "pipeline"
                 else LogisticRegression())
    X_lab, y_lab, X_pool = _problem(**problem)
    sampler = BadgeSampler(estimator, random_state=3, device="cpu").fit(X_lab, y_lab)
    picks = sampler.select(X_pool, 8)
    G = _gradients(sampler, X_pool)
    norms = np.sum(G**2, axis=1)
    assert picks[0] == np.argmax(norms)  # first centre: largest gradient norm
    assert sampler.scores_[0] == pytest.approx(norms[picks[0]], rel=1e-12)
    for i in range(1, len(picks)):
        d2 = [min(np.sum((G[j] - G[c]) ** 2) for c in picks[:i]) for j in range(len(G))]
        assert sampler.scores_[i] == pytest.approx(d2[picks[i]], rel=1e-9, abs=1e-12)
        assert d2[picks[i]] > 0  # never a point already covered, while others remain
    # the same draws as the kernel fed with the explicit factors and the same seed
    layer = last_layer(sampler.estimator_, X_pool)
    expected, _ = kmeanspp_seeding(residual(torch.as_tensor(layer.proba)),
                                   torch.as_tensor(layer.features), 8,
                                   np.random.RandomState(3))
    np.testing.assert_array_equal(picks, expected)


def test_second_draw_follows_d2_distribution():
    a, h, G = _factors(seed=0)
    first = int(np.argmax(np.sum(G**2, axis=1)))
    probs = kmeanspp_probabilities(G, [first])
    rng = np.random.RandomState(0)
    n_draws = 4000
    seconds = [kmeanspp_seeding(a, h, 2, rng)[0] for _ in range(n_draws)]
    assert all(s[0] == first for s in seconds)
    counts = np.bincount([s[1] for s in seconds], minlength=len(G))
    assert counts[first] == 0
    keep = probs > 0
    assert chisquare(counts[keep], probs[keep] * n_draws).pvalue > P_VALUE_TOLERANCE
    # the test has power: the same counts are far from uniform over the other points
    uniform = np.full(keep.sum(), n_draws / keep.sum())
    assert chisquare(counts[keep], uniform).pvalue < P_VALUE_TOLERANCE


def test_third_draw_follows_d2_to_the_nearest_of_two_centres():
    a, h, G = _factors(seed=1)
    first = int(np.argmax(np.sum(G**2, axis=1)))
    rng = np.random.RandomState(1)
    runs = [kmeanspp_seeding(a, h, 3, rng)[0] for _ in range(4000)]
    second = np.bincount([r[1] for r in runs]).argmax()  # the most frequent second draw
    thirds = [r[2] for r in runs if r[1] == second]
    probs = kmeanspp_probabilities(G, [first, second])
    counts = np.bincount(thirds, minlength=len(G))
    keep = probs > 0
    assert counts[~keep].sum() == 0
    assert chisquare(counts[keep], probs[keep] * len(thirds)).pvalue > P_VALUE_TOLERANCE


def test_distinct_points_when_the_pool_repeats():
    # 4 distinct gradients repeated 5 times: after 4 picks only duplicates remain
    a, h, _ = _factors(seed=2, n=4)
    a, h = a.repeat(5, 1), h.repeat(5, 1)
    picks, d2 = kmeanspp_seeding(a, h, 20, np.random.RandomState(0))
    assert sorted(picks) == list(range(20))
    assert np.all(d2[:4] > 0) and np.all(d2[4:] == 0)
    assert sorted(picks[:4] % 4) == [0, 1, 2, 3]  # every distinct gradient first


def test_seeds_change_the_draws_but_not_the_first_pick():
    X_lab, y_lab, X_pool = _problem("classification", n_pool=60)
    picks = [BadgeSampler(LogisticRegression(), random_state=seed, device="cpu")
             .fit(X_lab, y_lab).select(X_pool, 5) for seed in range(4)]
    assert len({p[0] for p in picks}) == 1
    assert len({tuple(p) for p in picks}) > 1


def test_regression_is_refused_with_the_alternatives():
    X_lab, y_lab, _ = _problem("regression")
    with pytest.raises(TypeError, match="BadgeSampler is not defined for regression.*"
                                        "BaitSampler, DeterminantalSampler, CoresetSampler"):
        BadgeSampler(Ridge()).fit(X_lab, y_lab)
