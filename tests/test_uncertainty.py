"""UncertaintySampler against the brute-force ranking."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from reference import uncertainty_reference
from skbait import UncertaintySampler
from test_bait import _problem

METHODS = ["least_confident", "margin", "entropy"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", ["multinomial", "binary", "pipeline", "duplicates"])
@pytest.mark.parametrize("n", [4, 30])
def test_matches_brute_force(method, case, n):
    problem = dict(task="classification", n_classes=2 if case == "binary" else 3,
                   dup=case == "duplicates")
    estimator = (make_pipeline(StandardScaler(), LogisticRegression()) if case == "pipeline"
                 else LogisticRegression())
    X_lab, y_lab, X_pool = _problem(**problem)
    sampler = UncertaintySampler(estimator, method=method, device="cpu").fit(X_lab, y_lab)
    picks = sampler.select(X_pool, n)
    ref_idx, ref_scores = uncertainty_reference(sampler.estimator_.predict_proba(X_pool), n,
                                                method)
    np.testing.assert_array_equal(picks, ref_idx)
    np.testing.assert_allclose(sampler.scores_, ref_scores, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("method", METHODS)
def test_exact_ties_go_to_the_lowest_index(method):
    class Fixed(LogisticRegression):
        """A classifier whose probabilities are given: rows 1, 3 and 4 tie."""

        def predict_proba(self, X):
            table = np.array([[0.9, 0.05, 0.05], [0.4, 0.3, 0.3], [0.8, 0.1, 0.1],
                              [0.4, 0.3, 0.3], [0.4, 0.3, 0.3], [0.6, 0.2, 0.2]])
            return table[np.asarray(X[:, 0], dtype=int)]

    X = np.arange(6.0)[:, None]
    model = Fixed().fit(X, [0, 1, 2, 0, 1, 2])
    sampler = UncertaintySampler(model, method=method, prefit=True, device="cpu").fit(X, [0] * 6)
    np.testing.assert_array_equal(sampler.select(X, 3), [1, 3, 4])


def test_regression_is_refused_with_the_alternatives():
    X_lab, y_lab, _ = _problem("regression")
    with pytest.raises(TypeError, match="UncertaintySampler is not defined for regression.*"
                                        "BaitSampler, DeterminantalSampler, CoresetSampler"):
        UncertaintySampler(Ridge()).fit(X_lab, y_lab)


def test_methods_rank_differently():
    X_lab, y_lab, X_pool = _problem("classification", n_pool=80, seed=2)
    picks = {method: tuple(UncertaintySampler(LogisticRegression(), method=method,
                                              device="cpu").fit(X_lab, y_lab)
                           .select(X_pool, 10)) for method in METHODS}
    assert len(set(picks.values())) > 1
