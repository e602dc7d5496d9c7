"""The conformance suite itself: it must catch deliberately broken samplers."""

import textwrap
import unittest

import numpy as np
import pytest
from sklearn.exceptions import SkipTestWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from skbait import BadgeSampler, RandomSampler
from skbait.base import BaseSampler, ModelSampler
from skbait.utils import estimator_checks as ec
from skbait.utils._validation import check_n

pytest_plugins = ["pytester"]  # runs a test file in a pytest of its own


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
    """Claims regression support (ModelSampler's default tags), then needs probabilities."""

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


class TagsExcludeRegression(FirstRows):
    """Tagged as classification only, but accepts a continuous y."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.sampler_tags.tasks = frozenset({"classification"})
        return tags


# (broken sampler, the check it breaks, a fragment of that check's message)
BROKEN = [
    (FloatIndices(), ec.check_sampler_select, "dtype float64, not intp"),
    (RepeatsIndices(), ec.check_sampler_select, "repeated indices"),
    (NaNScores(), ec.check_sampler_select, "scores_ is not finite"),
    (ClampsN(), ec.check_sampler_bad_n, r"not raised : ClampsN.select\(X_pool, 41\)"),
    (IgnoresNaN(), ec.check_sampler_non_finite, "not raised : IgnoresNaN.select with nan"),
    (MutatesPool(), ec.check_sampler_inputs_not_mutated, "modified X_pool"),
    (Unseeded(random_state=0), ec.check_sampler_deterministic,
     "from the same fitted sampler and pool"),
    (FixedSeed(random_state=0), ec.check_sampler_random_state,
     "for five different random_state"),
    (FitsInPlace(LogisticRegression(), device="cpu"), ec.check_sampler_estimator_untouched,
     "modified the estimator passed in"),
    (IgnoresPrefit(LogisticRegression(), device="cpu"), ec.check_sampler_prefit,
     "prefit=True did not use the given model"),
    (RegressionCrashes(LogisticRegression(), device="cpu"), ec.check_sampler_regression,
     "tags say it supports regression, but it failed on it: AttributeError"),
    (TagsExcludeRegression(), ec.check_sampler_regression,
     "not raised : TagsExcludeRegression, whose tags exclude regression"),
    (DataFrameOrder(), ec.check_sampler_pandas, "from a DataFrame but"),
    (NoNFeatureCheck(), ec.check_sampler_n_features, "not raised : .* pool of 4 features"),
]


@pytest.mark.parametrize("sampler, check, message", BROKEN,
                         ids=[f"{type(s).__name__}-{c.__name__}" for s, c, _ in BROKEN])
def test_suite_catches_broken_sampler(sampler, check, message):
    with pytest.raises(AssertionError, match=message):
        check(type(sampler).__name__, sampler)


@pytest.mark.parametrize("check", sorted({c for _, c, _ in BROKEN}, key=lambda c: c.__name__),
                         ids=lambda c: c.__name__)
def test_correct_sampler_passes_the_same_checks(check):
    # the failures above come from the breakage, not from the check rejecting everything
    sampler = (BadgeSampler(LogisticRegression(), random_state=0, device="cpu")
               if check in (ec.check_sampler_estimator_untouched, ec.check_sampler_prefit,
                            ec.check_sampler_random_state)
               else FirstRows())
    check(type(sampler).__name__, sampler)


def test_a_refusal_the_tags_announce_passes_the_regression_check():
    # BadgeSampler is classification only: its tags say so, and fit says so with Ridge
    badge = BadgeSampler(LogisticRegression(), random_state=0, device="cpu")
    ec.check_sampler_regression("BadgeSampler", badge)


def _check_names(sampler, **kwargs):
    mark = ec.parametrize_with_checks([sampler], **kwargs)
    return {param.values[1].func.__name__ for param in mark.args[1]}


class SeededFirstRows(FirstRows):
    """A random_state parameter, but tagged as not random: the tag decides."""

    def __init__(self, random_state=None):
        self.random_state = random_state


class Unrepeatable(FirstRows):
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True
        tags.input_tags.allow_nan = True
        return tags


def test_parametrize_picks_checks_by_tags():
    random_checks = _check_names(RandomSampler(random_state=0), sklearn_checks=False)
    model_checks = _check_names(BadgeSampler(LogisticRegression()), sklearn_checks=False)
    assert "check_sampler_random_state" in random_checks
    assert "check_sampler_estimator_untouched" not in random_checks
    assert {"check_sampler_estimator_untouched", "check_sampler_prefit",
            "check_sampler_random_state"} <= model_checks
    assert "check_sampler_random_state" not in _check_names(SeededFirstRows(),
                                                            sklearn_checks=False)
    unrepeatable = _check_names(Unrepeatable(), sklearn_checks=False)
    assert not {"check_sampler_deterministic", "check_sampler_non_finite"} & unrepeatable
    assert "check_sampler_select" in unrepeatable
    assert "check_sampler_sklearn" in _check_names(FirstRows())
    assert "check_sampler_sklearn" not in _check_names(FirstRows(), sklearn_checks=False)


def test_the_suite_refuses_what_is_not_a_sampler():
    with pytest.raises(TypeError, match="LogisticRegression's tags have no sampler_tags"):
        ec.check_sampler(LogisticRegression())
    with pytest.raises(ValueError, match="supports neither classification nor regression"):
        ec.check_sampler_select("BadgeSampler", BadgeSampler(Ridge()))


def test_check_sampler_runs_everything_and_stops_at_a_failure():
    results = ec.check_sampler(FirstRows(), sklearn_checks=False)
    assert set(results) == _check_names(FirstRows(), sklearn_checks=False)
    assert set(results.values()) == {"passed"}
    with pytest.raises(AssertionError, match="modified X_pool"):
        ec.check_sampler(MutatesPool(), sklearn_checks=False)


def test_check_sampler_expected_failures():
    reason = {"check_sampler_bad_n": "clamps n to the pool size, to be fixed"}
    results = ec.check_sampler(ClampsN(), sklearn_checks=False, expected_failed_checks=reason)
    assert results["check_sampler_bad_n"] == "xfail"
    assert results["check_sampler_n_features"] == "passed"  # the later checks still ran
    with pytest.raises(AssertionError, match="check_sampler_bad_n passed for FirstRows, but "
                       "expected_failed_checks lists it as failing "
                       r"\(clamps n to the pool size, to be fixed\)"):
        ec.check_sampler(FirstRows(), sklearn_checks=False, expected_failed_checks=reason)
    with pytest.raises(ValueError, match=r"names \['check_sampler_typo'\]"):
        ec.check_sampler(FirstRows(), expected_failed_checks={"check_sampler_typo": "?"})


def test_check_sampler_skips_with_a_warning(monkeypatch):
    def check_sampler_pandas(name, sampler):  # as the check does without pandas
        raise unittest.SkipTest("pandas is not installed.")

    monkeypatch.setattr(ec, "check_sampler_pandas", check_sampler_pandas)
    with pytest.warns(SkipTestWarning, match="check_sampler_pandas for FirstRows: pandas"):
        results = ec.check_sampler(FirstRows(), sklearn_checks=False)
    assert results["check_sampler_pandas"] == "skipped"


def test_parametrize_marks_expected_failures():
    def expected(sampler):
        return {"check_sampler_select": "the reason"} if type(sampler) is FirstRows else {}

    mark = ec.parametrize_with_checks([FirstRows(), RandomSampler()], sklearn_checks=False,
                                      expected_failed_checks=expected)
    marked = {param.id: param.marks for param in mark.args[1] if param.marks}
    assert list(marked) == ["FirstRows()-check_sampler_select"]
    (xfail,) = marked["FirstRows()-check_sampler_select"]
    assert xfail.name == "xfail" and xfail.kwargs == {"reason": "the reason", "strict": True}
    with pytest.raises(TypeError, match="must be None or a callable"):
        ec.parametrize_with_checks([FirstRows()], expected_failed_checks={"a": "b"})
    with pytest.raises(ValueError, match="not checks of this suite"):
        ec.parametrize_with_checks([FirstRows()], expected_failed_checks=lambda s: {"a": "b"})


def test_parametrize_expected_failures_under_pytest(pytester):
    # A broken sampler with its failing check listed passes the suite; a listed check that
    # passes fails its test (strict xfail), so that a stale entry is reported.
    pytester.makepyfile(textwrap.dedent("""
        from skbait.base import BaseSampler
        from skbait.utils.estimator_checks import parametrize_with_checks
        import numpy as np

        class FirstRows(BaseSampler):
            def _select(self, X_pool, n):
                return np.arange(n), np.zeros(n)

        class ClampsN(FirstRows):
            def select(self, X_pool, n):
                return super().select(X_pool, min(n, len(X_pool)))

        def expected(sampler):
            return {"check_sampler_bad_n": "clamps n to the pool size"}

        @parametrize_with_checks([ClampsN()], sklearn_checks=False,
                                 expected_failed_checks=expected)
        def test_broken(sampler, check):
            check(sampler)

        @parametrize_with_checks([FirstRows()], sklearn_checks=False,
                                 expected_failed_checks=expected)
        def test_fixed(sampler, check):
            check(sampler)
    """))
    # (hypothesis's plugin takes seconds to write its summary: not loaded in there)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest",
                                          "-ra", "-k", "bad_n or n_features")
    result.assert_outcomes(passed=2, xfailed=1, failed=1, deselected=2 * (
        len(_check_names(FirstRows(), sklearn_checks=False)) - 2))
    result.stdout.fnmatch_lines([
        "XFAIL *test_broken*ClampsN()-check_sampler_bad_n* - clamps n to the pool size",
        "FAILED *test_fixed*FirstRows()-check_sampler_bad_n*",
    ])


def test_check_n_is_what_the_suite_expects():
    # check_sampler_bad_n expects these messages: they must be those of the shared validator
    for n, error, message in ec._BAD_N:
        with pytest.raises(error, match=message):
            check_n(n, ec._N_POOL)
