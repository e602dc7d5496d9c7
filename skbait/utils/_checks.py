"""The checks of skbait's conformance suite, each a function ``check_*(name, sampler)``.

They are public through :mod:`skbait.utils.estimator_checks`, which chooses and runs them.
"""

import inspect
import unittest

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.utils.estimator_checks import check_estimator

from ._tags import get_tags

_N_LABELED, _N_POOL, _N_FEATURES, _N = 20, 40, 5, 7
_ASSERT = unittest.TestCase()  # assertRaisesRegex raises AssertionError on failure


def _params(sampler):
    return sampler.get_params(deep=False)


def _estimator(sampler):
    return _params(sampler).get("estimator")


def _sampler_tags(sampler):
    return get_tags(sampler).sampler_tags


def _task(sampler):
    """The task of the checks' data: classification unless the tags say regression only."""
    tasks = _sampler_tags(sampler).tasks
    if not tasks:
        raise ValueError(
            f"{type(sampler).__name__}'s tags say it supports neither classification nor "
            f"regression as configured ({_sampler_id(sampler)}): there is nothing to check."
        )
    return "classification" if "classification" in tasks else "regression"


def _sampler_id(sampler):
    return " ".join(repr(sampler).split())


def _seeded(sampler, seed=0):
    """An unfitted clone, with ``random_state=seed`` when its tags say it is random."""
    sampler = clone(sampler)
    if _sampler_tags(sampler).random:
        sampler.set_params(random_state=seed)
    return sampler


def _data(task, *, n_pool=_N_POOL, seed=0):
    """``(X_labeled, y_labeled, X_pool)``; classification labels cover 3 classes."""
    n = _N_LABELED + n_pool
    if task == "classification":
        X, y = make_classification(
            n_samples=n, n_features=_N_FEATURES, n_informative=3, n_redundant=0,
            n_classes=3, n_clusters_per_class=1, random_state=seed,
        )
    else:
        X, y = make_regression(n_samples=n, n_features=_N_FEATURES, noise=1.0,
                               random_state=seed)
    return X[:_N_LABELED], y[:_N_LABELED], X[_N_LABELED:]


def _fit_select(sampler, n=_N, **data):
    X_lab, y_lab, X_pool = _data(_task(sampler), **data)
    sampler = _seeded(sampler).fit(X_lab, y_lab)
    return sampler, sampler.select(X_pool, n)


def _assert_valid_indices(name, indices, n, n_pool):
    assert isinstance(indices, np.ndarray), (
        f"{name}.select returned {type(indices).__name__}, not a numpy array.")
    assert indices.dtype == np.intp, f"{name}.select returned dtype {indices.dtype}, not intp."
    assert indices.shape == (n,), f"{name}.select returned shape {indices.shape}, not ({n},)."
    assert np.all((indices >= 0) & (indices < n_pool)), (
        f"{name}.select returned indices outside [0, {n_pool}): {indices}.")
    assert len(np.unique(indices)) == n, f"{name}.select returned repeated indices {indices}."


def check_sampler_select(name, sampler):
    """``n`` distinct ``np.intp`` indices in range, and a finite ``scores_`` aligned to them."""
    fitted, indices = _fit_select(sampler)
    _assert_valid_indices(name, indices, _N, _N_POOL)
    scores = getattr(fitted, "scores_", None)
    assert isinstance(scores, np.ndarray) and scores.shape == (_N,), (
        f"{name}.scores_ must be an array of shape ({_N},) after select, got {scores!r}.")
    assert np.all(np.isfinite(scores)), f"{name}.scores_ is not finite: {scores}."


def check_sampler_whole_pool(name, sampler):
    """``n`` equal to the pool size returns a permutation of the pool."""
    _, indices = _fit_select(sampler, n=12, n_pool=12)
    _assert_valid_indices(name, indices, 12, 12)
    assert np.array_equal(np.sort(indices), np.arange(12))


def check_sampler_deterministic(name, sampler):
    """Two fits with the same ``random_state`` select the same, as do two selects."""
    X_lab, y_lab, X_pool = _data(_task(sampler))
    first = _seeded(sampler).fit(X_lab, y_lab)
    picks = first.select(X_pool, _N)
    scores = first.scores_.copy()
    again = first.select(X_pool, _N)
    assert np.array_equal(picks, again), (
        f"{name} selected {picks} then {again} from the same fitted sampler and pool.")
    second = _seeded(sampler).fit(X_lab, y_lab)
    other = second.select(X_pool, _N)
    assert np.array_equal(picks, other), (
        f"{name} selected {picks} then {other} after refitting with the same random_state.")
    assert np.array_equal(scores, second.scores_), f"{name}.scores_ differs between runs."


def check_sampler_random_state(name, sampler):
    """Different ``random_state`` give different selections (for samplers tagged random)."""
    X_lab, y_lab, X_pool = _data(_task(sampler))
    picks = {tuple(_seeded(sampler, seed).fit(X_lab, y_lab).select(X_pool, _N))
             for seed in range(5)}
    assert len(picks) > 1, f"{name} selected {picks.pop()} for five different random_state."


def check_sampler_inputs_not_mutated(name, sampler):
    """``fit`` and ``select`` leave ``X``, ``y`` and the pool untouched, and read-only works."""
    arrays = _data(_task(sampler))
    copies = [a.copy() for a in arrays]
    X_lab, y_lab, X_pool = arrays
    picks = _seeded(sampler).fit(X_lab, y_lab).select(X_pool, _N)
    for what, a, b in zip(("X", "y", "X_pool"), arrays, copies):
        assert np.array_equal(a, b), f"{name} modified {what}."
    for a in copies:
        a.setflags(write=False)
    try:
        read_only = _seeded(sampler).fit(*copies[:2]).select(copies[2], _N)
    except ValueError as exc:
        raise AssertionError(f"{name} fails on read-only input: {exc}") from exc
    assert np.array_equal(picks, read_only), f"{name} selects differently from read-only input."


def check_sampler_estimator_untouched(name, sampler):
    """The estimator passed in is neither fitted nor modified (unless ``prefit=True``)."""
    sampler = _seeded(sampler)
    estimator = _estimator(sampler)
    before = joblib.hash(estimator)
    X_lab, y_lab, X_pool = _data(_task(sampler))
    sampler.fit(X_lab, y_lab).select(X_pool, _N)
    assert sampler.estimator is estimator, f"{name} replaced its estimator parameter."
    assert joblib.hash(estimator) == before, f"{name} modified the estimator passed in."
    if not _params(sampler).get("prefit", False):
        assert sampler.estimator_ is not estimator, f"{name} fitted the estimator passed in."


def check_sampler_prefit(name, sampler):
    """``prefit=True`` uses a copy of a fitted model as is, and refuses an unfitted one."""
    X_lab, y_lab, X_pool = _data(_task(sampler))
    X_other, y_other, _ = _data(_task(sampler), seed=1)  # so that a refit would show
    model = clone(_estimator(sampler)).fit(X_other, y_other)
    before = joblib.hash(model)
    fitted = _seeded(sampler).set_params(estimator=model, prefit=True).fit(X_lab, y_lab)
    assert fitted.estimator_ is not model, (
        f"{name} with prefit=True shares the given model instead of keeping a copy.")
    assert joblib.hash(fitted.estimator_) == before, (
        f"{name} with prefit=True did not use the given model as it is.")
    _assert_valid_indices(name, fitted.select(X_pool, _N), _N, _N_POOL)
    assert joblib.hash(model) == before, f"{name} with prefit=True refitted the model."
    with _ASSERT.assertRaisesRegex(NotFittedError, "prefit=True"):
        _seeded(sampler).set_params(prefit=True).fit(X_lab, y_lab)


def check_sampler_dtypes(name, sampler):
    """float32 and float64 inputs both give valid selections."""
    X_lab, y_lab, X_pool = _data(_task(sampler))
    for dtype in (np.float32, np.float64):
        fitted = _seeded(sampler).fit(X_lab.astype(dtype), y_lab)
        _assert_valid_indices(name, fitted.select(X_pool.astype(dtype), _N), _N, _N_POOL)


def check_sampler_pandas(name, sampler):
    """A DataFrame (and a Series ``y``) selects as the equivalent array does."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise unittest.SkipTest("pandas is not installed.") from exc
    X_lab, y_lab, X_pool = _data(_task(sampler))
    columns = [f"x{i}" for i in range(X_lab.shape[1])]
    frames = _seeded(sampler).fit(pd.DataFrame(X_lab, columns=columns), pd.Series(y_lab))
    picks = frames.select(pd.DataFrame(X_pool, columns=columns), _N)
    arrays = _seeded(sampler).fit(X_lab, y_lab).select(X_pool, _N)
    assert np.array_equal(picks, arrays), (
        f"{name} selected {picks} from a DataFrame but {arrays} from the same array.")


def check_sampler_not_fitted(name, sampler):
    """``select`` before ``fit`` raises NotFittedError."""
    with _ASSERT.assertRaises(NotFittedError):
        clone(sampler).select(_data(_task(sampler))[2], _N)


# (n, error, message) for the batch sizes check_sampler_bad_n passes to select, with a
# pool of _N_POOL rows: the messages of skbait.utils._validation.check_n.
_BAD_N = [
    (0, ValueError, "positive"), (-1, ValueError, "positive"),
    (_N_POOL + 1, ValueError, "larger than the pool"),
    (2.5, TypeError, "must be an int"), (2.0, TypeError, "must be an int"),
    (True, TypeError, "must be an int"),
]


def check_sampler_bad_n(name, sampler):
    """A batch size that is not a positive int at most the pool size is refused clearly."""
    fitted, _ = _fit_select(sampler)
    X_pool = _data(_task(sampler))[2]
    for n, error, message in _BAD_N:
        with _ASSERT.assertRaisesRegex(error, message, msg=f"{name}.select(X_pool, {n!r})"):
            fitted.select(X_pool, n)


def check_sampler_non_finite(name, sampler):
    """NaN or infinity in the labeled set or the pool is refused with a ValueError."""
    X_lab, y_lab, X_pool = _data(_task(sampler))
    fitted = _seeded(sampler).fit(X_lab, y_lab)
    for value in (np.nan, np.inf):
        bad = X_pool.copy()
        bad[3, 1] = value
        with _ASSERT.assertRaisesRegex(ValueError, "NaN|nan|infinity|inf",
                                       msg=f"{name}.select with {value} in the pool"):
            fitted.select(bad, _N)
    bad = X_lab.copy()
    bad[0, 0] = np.nan
    with _ASSERT.assertRaisesRegex(ValueError, "NaN", msg=f"{name}.fit with NaN in X"):
        _seeded(sampler).fit(bad, y_lab)


def check_sampler_n_features(name, sampler):
    """A pool with another number of features than the labeled set is refused."""
    fitted, _ = _fit_select(sampler)
    X_pool = _data(_task(sampler))[2]
    with _ASSERT.assertRaisesRegex(ValueError, "features",
                                   msg=f"{name}.select on a pool of {_N_FEATURES - 1} features"):
        fitted.select(X_pool[:, :-1], _N)


def check_sampler_regression(name, sampler):
    """With a regressor (a continuous ``y`` without a model): what the tags say.

    A sampler with a model is checked with ``estimator=Ridge()``. If its tags then list
    "regression" among its ``tasks``, it must select validly; if not, ``fit`` must raise
    a TypeError or ValueError that says "regression".
    """
    X_lab, y_lab, X_pool = _data("regression")
    sampler = _seeded(sampler)
    if _sampler_tags(sampler).requires_model:
        sampler.set_params(estimator=Ridge())
    if "regression" not in _sampler_tags(sampler).tasks:
        with _ASSERT.assertRaisesRegex((TypeError, ValueError), "regression",
                                       msg=f"{name}, whose tags exclude regression, fit"):
            sampler.fit(X_lab, y_lab)
        return
    try:
        indices = sampler.fit(X_lab, y_lab).select(X_pool, _N)
    except Exception as exc:
        raise AssertionError(
            f"{name}'s tags say it supports regression, but it failed on it: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    _assert_valid_indices(name, indices, _N, _N_POOL)


def check_sampler_sklearn(name, sampler):
    """scikit-learn's own ``check_estimator`` passes."""
    check_estimator(_seeded(sampler))


_CHECK_SECTIONS = """

Parameters
----------
name : str
    Name of the sampler, used in the messages.
sampler : sampler instance
    Unfitted, configured as it will be used (it is cloned, never modified).

Raises
------
AssertionError
    Saying what is wrong, when the sampler fails the check.

See Also
--------
check_sampler : run every applicable check.

Examples
--------
>>> from skbait.utils.estimator_checks import {check}
{example}"""
# The examples check a cheap sampler, or a cheap one with a model where the check needs it.
_RANDOM_EXAMPLE = """>>> from skbait import RandomSampler
>>> {check}("RandomSampler", RandomSampler(random_state=0))
"""
_MODEL_EXAMPLE = """>>> from sklearn.linear_model import LogisticRegression
>>> from skbait import UncertaintySampler
>>> sampler = UncertaintySampler(LogisticRegression(), device="cpu")
>>> {check}("UncertaintySampler", sampler)
"""
_ALL_CHECKS = {name: check for name, check in globals().items()
               if name.startswith("check_sampler_")}
for _name, _check in _ALL_CHECKS.items():
    # the model checks, and those of a pool's features (RandomSampler reads only its length)
    _example = (_MODEL_EXAMPLE if _name in ("check_sampler_estimator_untouched",
                                            "check_sampler_prefit", "check_sampler_n_features",
                                            "check_sampler_non_finite") else _RANDOM_EXAMPLE)
    _check.__doc__ = inspect.cleandoc(_check.__doc__) + _CHECK_SECTIONS.format(
        check=_name, example=_example.format(check=_name))
del _name, _check, _example
