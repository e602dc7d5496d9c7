"""DeterminantalSampler against the brute-force greedy log-det."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from reference import factors, gradient_factor, logdet_objective, logdet_reference
from skbait import DeterminantalSampler
from skbait._heads import last_layer
from skbait._kernels import _linalg
from test_bait import _problem


def _reference_factors(sampler, X):
    layer = last_layer(sampler.estimator_, X)
    if sampler.factor == "gradient":
        return [gradient_factor(h, p) for h, p in zip(layer.features, layer.proba)]
    return factors(layer.features, layer.proba, layer.kind)


CASES = {
    "multinomial": (dict(task="classification"), LogisticRegression(), {}),
    "multinomial-gradient": (dict(task="classification"), LogisticRegression(),
                             dict(factor="gradient")),
    "binary": (dict(task="classification", n_classes=2), LogisticRegression(), {}),
    "binary-gradient": (dict(task="classification", n_classes=2), LogisticRegression(),
                        dict(factor="gradient")),
    "no-intercept-alpha-0.1": (dict(task="classification"),
                               LogisticRegression(fit_intercept=False), dict(alpha=0.1)),
    "ridge": (dict(task="regression"), Ridge(), {}),
    "ridge-2-outputs": (dict(task="regression", n_outputs=2), LinearRegression(), {}),
    "pipeline-gradient": (dict(task="classification"),
                          make_pipeline(StandardScaler(), LogisticRegression()),
                          dict(factor="gradient")),
    "duplicate-rows": (dict(task="classification", dup=True), LogisticRegression(), {}),
    "duplicate-rows-gradient": (dict(task="classification", dup=True), LogisticRegression(),
                                dict(factor="gradient")),
    "chunked": (dict(task="classification"), LogisticRegression(), dict(chunk_size=7)),
    "ten-classes": (dict(task="classification", n_classes=10, n_lab=30, n_pool=40),
                    LogisticRegression(), {}),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("n", [1, 6])
def test_matches_brute_force(case, n):
    problem, estimator, params = CASES[case]
    X_lab, y_lab, X_pool = _problem(**problem)
    sampler = DeterminantalSampler(estimator, device="cpu", **params).fit(X_lab, y_lab)
    picks = sampler.select(X_pool, n)
    V_lab, V_pool = _reference_factors(sampler, X_lab), _reference_factors(sampler, X_pool)
    ref_idx, ref_obj = logdet_reference(V_lab, V_pool, n, alpha=sampler.alpha)
    ours = logdet_objective(V_lab, V_pool, picks, n, alpha=sampler.alpha)
    if not np.array_equal(picks, ref_idx):  # only ties may change the picks
        assert ours == pytest.approx(ref_obj, rel=1e-9)
    assert sampler.objective_ == pytest.approx(ours, rel=1e-9)
    # each score is the increase of log det M at its step
    steps = [logdet_objective(V_lab, V_pool, picks[:i], n, alpha=sampler.alpha)
             for i in range(n + 1)]
    np.testing.assert_allclose(sampler.scores_, np.diff(steps), rtol=1e-9, atol=1e-12)


def test_gradient_factor_is_the_badge_gradient():
    X_lab, y_lab, X_pool = _problem("classification")
    sampler = DeterminantalSampler(LogisticRegression(), factor="gradient",
                                   device="cpu").fit(X_lab, y_lab)
    layer = last_layer(sampler.estimator_, X_lab)
    grads = np.array([gradient_factor(h, p)[:, 0] for h, p in zip(layer.features, layer.proba)])
    np.testing.assert_allclose(sampler.labeled_fisher_, grads.T @ grads, rtol=1e-12, atol=1e-12)


def test_gradient_and_fisher_differ():
    X_lab, y_lab, X_pool = _problem("classification", n_pool=60)
    fisher = DeterminantalSampler(LogisticRegression(), device="cpu").fit(X_lab, y_lab)
    grad = DeterminantalSampler(LogisticRegression(), factor="gradient",
                                device="cpu").fit(X_lab, y_lab)
    assert not np.array_equal(fisher.select(X_pool, 8), grad.select(X_pool, 8))


def test_gradient_needs_a_classifier():
    X_lab, y_lab, _ = _problem("regression")
    with pytest.raises(ValueError, match="factor='gradient' needs a classifier"):
        DeterminantalSampler(Ridge(), factor="gradient").fit(X_lab, y_lab)


@pytest.mark.parametrize("params", [dict(alpha=0), dict(factor="rank1"), dict(chunk_size=0)])
def test_bad_parameters(params):
    X_lab, y_lab, _ = _problem("classification")
    with pytest.raises(ValueError, match="parameter"):
        DeterminantalSampler(LogisticRegression(), **params).fit(X_lab, y_lab)


@pytest.mark.parametrize("k", [2, 10, 24])
def test_logdet_planes_matches_slogdet(k):
    rng = np.random.default_rng(k)
    half = rng.normal(size=(6, k, k - 1)) * 30.0
    p = half @ half.transpose(0, 2, 1)
    planes = torch.full((k, k, 6), np.nan, dtype=torch.float64)
    got = _linalg.logdet_planes(torch.as_tensor(p), planes).numpy()
    want = np.linalg.slogdet(np.eye(k) + p)[1]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_cholesky_gain_path_picks_the_same_batch(monkeypatch):
    # CUDA (and k > 24) take the batched Cholesky path: force it
    X_lab, y_lab, X_pool = _problem("classification", n_classes=10, n_lab=30, n_pool=40)
    sampler = DeterminantalSampler(LogisticRegression(), device="cpu").fit(X_lab, y_lab)
    picks = sampler.select(X_pool, 6)
    scores = sampler.scores_
    monkeypatch.setattr(_linalg, "gain_route", lambda device, k: "cholesky")
    np.testing.assert_array_equal(sampler.select(X_pool, 6), picks)
    np.testing.assert_allclose(sampler.scores_, scores, rtol=1e-10)
