"""The conformance suite itself: it must catch deliberately broken samplers."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from skbait import BadgeSampler, RandomSampler
from skbait.base import BaseSampler, ModelSampler
from skbait.utils import estimator_checks as ec
from skbait.utils._validation import check_n


class FirstRows(BaseSampler):
    """A correct reference: the first ``n`` rows."""

    def _select(self, X_pool, n):
        return np.arange(n), np.zeros(n)


class FloatIndices(FirstRows):
    def select(self, X_pool, n):
        return super().select(X_pool, n).astype(float)


class RepeatsIndices(FirstRows):
    def select(self, X_pool, n):
        check_is_fitted(self)
        return np.zeros(n, dtype=np.intp)


class NaNScores(FirstRows):
    def _select(self, X_pool, n):
        return np.arange(n), np.full(n, np.nan)


class ClampsN(FirstRows):
    def select(self, X_pool, n):
        return super().select(X_pool, min(n, len(X_pool)))


class IgnoresNaN(FirstRows):
    def _validate_pool(self, X_pool):
        return validate_data(self, X_pool, reset=False, ensure_all_finite=False)


class MutatesPool(FirstRows):
    def _select(self, X_pool, n):
        X_pool[:, 0] = 0.0
        return super()._select(X_pool, n)


class Unseeded(RandomSampler):
    _rng = np.random.default_rng()  # its own generator, never seeded: not reproducible

    def _select(self, X_pool, n):
        return self._rng.permutation(X_pool.shape[0])[:n], np.zeros(n)


class FixedSeed(RandomSampler):
    def _select(self, X_pool, n):
        keys = check_random_state(0).uniform(size=X_pool.shape[0])
        order = np.argsort(-keys)[:n]
        return order, keys[order]


class FitsInPlace(BadgeSampler):
    def _fit(self, X, y):
        self.estimator.fit(X, y)
        super()._fit(X, y)


class IgnoresPrefit(BadgeSampler):
    def _fit(self, X, y):
        self.set_params(prefit=False)
        super()._fit(X, y)
        self.set_params(prefit=True)


class RegressionCrashes(ModelSampler):
    """Claims regression support, then needs probabilities."""

    _tasks = ("classification", "regression")

    def _select(self, X_pool, n):
        proba = self.estimator_.predict_proba(X_pool)
        return np.argsort(-proba.max(axis=1))[:n], np.zeros(n)


class DataFrameOrder(FirstRows):
    """Depends on the input type: columns reversed for DataFrames."""

    def _select(self, X_pool, n):
        return np.argsort(X_pool[:, 0], kind="stable")[:n], np.zeros(n)

    def _validate_pool(self, X_pool):
        is_frame = hasattr(X_pool, "columns")
        X_pool = super()._validate_pool(X_pool)
        return X_pool[:, ::-1] if is_frame else X_pool


class NoNFeatureCheck(FirstRows):
    def _validate_pool(self, X_pool):
        return validate_data(self, X_pool, reset=True)


BROKEN = [
    (FloatIndices(), ec.check_sampler_select),
    (RepeatsIndices(), ec.check_sampler_select),
    (NaNScores(), ec.check_sampler_select),
    (ClampsN(), ec.check_sampler_bad_n),
    (IgnoresNaN(), ec.check_sampler_non_finite),
    (MutatesPool(), ec.check_sampler_inputs_not_mutated),
    (Unseeded(random_state=0), ec.check_sampler_deterministic),
    (FixedSeed(random_state=0), ec.check_sampler_random_state),
    (FitsInPlace(LogisticRegression(), device="cpu"), ec.check_sampler_estimator_untouched),
    (IgnoresPrefit(LogisticRegression(), device="cpu"), ec.check_sampler_prefit),
    (RegressionCrashes(LogisticRegression(), device="cpu"), ec.check_sampler_regression),
    (DataFrameOrder(), ec.check_sampler_pandas),
    (NoNFeatureCheck(), ec.check_sampler_n_features),
]


@pytest.mark.parametrize("sampler, check", BROKEN,
                         ids=[f"{type(s).__name__}-{c.__name__}" for s, c in BROKEN])
def test_suite_catches_broken_sampler(sampler, check):
    with pytest.raises(AssertionError):
        check(type(sampler).__name__, sampler)


@pytest.mark.parametrize("check", sorted({c for _, c in BROKEN}, key=lambda c: c.__name__),
                         ids=lambda c: c.__name__)
def test_correct_sampler_passes_the_same_checks(check):
    # the failures above come from the breakage, not from the check rejecting everything
    sampler = (BadgeSampler(LogisticRegression(), random_state=0, device="cpu")
               if check in (ec.check_sampler_estimator_untouched, ec.check_sampler_prefit,
                            ec.check_sampler_random_state)
               else FirstRows())
    check(type(sampler).__name__, sampler)


def test_parametrize_picks_checks_by_parameters():
    def names(sampler):
        mark = ec.parametrize_with_checks([sampler], sklearn_checks=False)
        return {case[1].func.__name__ for case in mark.args[1]}

    random_checks = names(RandomSampler(random_state=0))
    model_checks = names(BadgeSampler(LogisticRegression()))
    assert "check_sampler_random_state" in random_checks
    assert "check_sampler_estimator_untouched" not in random_checks
    assert {"check_sampler_estimator_untouched", "check_sampler_prefit",
            "check_sampler_random_state"} <= model_checks
    assert "check_sampler_sklearn" in {
        case[1].func.__name__
        for case in ec.parametrize_with_checks([FirstRows()]).args[1]}


def test_check_sampler_runs_everything_and_stops_at_a_failure():
    ec.check_sampler(FirstRows(), sklearn_checks=False)
    with pytest.raises(AssertionError, match="modified X_pool"):
        ec.check_sampler(MutatesPool(), sklearn_checks=False)


def test_check_n_is_what_the_suite_expects():
    # the messages check_sampler_bad_n matches are those of the shared validator
    for n, error in [(0, ValueError), (99, ValueError), (2.5, TypeError)]:
        with pytest.raises(error):
            check_n(n, 10)
