"""Checks every skbait sampler must pass, and helpers to run them.

Each ``check_*`` function takes ``(name, sampler)``, where ``sampler`` is an unfitted
instance configured as the user would use it (it is cloned, never changed), and raises
an ``AssertionError`` saying what is wrong. The data are small numeric arrays: a
classification or a regression problem, whichever the sampler's tags say it supports.

Which checks apply is read from the sampler's tags (``__sklearn_tags__``): its
``sampler_tags`` (``SamplerTags`` in ``skbait/utils/_tags.py``: ``requires_model``,
``random``, ``tasks``) and scikit-learn's ``non_deterministic``, ``requires_fit`` and
``input_tags.allow_nan``.

Run them all with :func:`check_sampler`, or one test per check with pytest::

    from skbait.utils.estimator_checks import parametrize_with_checks

    @parametrize_with_checks([BadgeSampler(LogisticRegression(), random_state=0)])
    def test_sampler(sampler, check):
        check(sampler)

Both take ``expected_failed_checks``, as scikit-learn's do: the checks it names still
run, and are reported as expected failures when they fail and as errors when they pass.
"""

import functools
import unittest
import warnings

from sklearn.exceptions import SkipTestWarning

from ._checks import (
    check_sampler_select,
    check_sampler_whole_pool,
    check_sampler_deterministic,
    check_sampler_random_state,
    check_sampler_inputs_not_mutated,
    check_sampler_estimator_untouched,
    check_sampler_prefit,
    check_sampler_dtypes,
    check_sampler_pandas,
    check_sampler_not_fitted,
    check_sampler_bad_n,
    check_sampler_non_finite,
    check_sampler_n_features,
    check_sampler_regression,
    check_sampler_sklearn,
)
from ._checks import _ALL_CHECKS, _BAD_N, _N_POOL, _sampler_id  # noqa: F401 (tests read them)
from ._tags import get_tags

__all__ = [
    "check_sampler",
    "parametrize_with_checks",
    "check_sampler_select",
    "check_sampler_whole_pool",
    "check_sampler_deterministic",
    "check_sampler_random_state",
    "check_sampler_inputs_not_mutated",
    "check_sampler_estimator_untouched",
    "check_sampler_prefit",
    "check_sampler_dtypes",
    "check_sampler_pandas",
    "check_sampler_not_fitted",
    "check_sampler_bad_n",
    "check_sampler_non_finite",
    "check_sampler_n_features",
    "check_sampler_regression",
    "check_sampler_sklearn",
]


def _yield_sampler_checks(sampler, *, sklearn_checks=True):
    """The checks that apply to ``sampler``, chosen from its tags."""
    tags = get_tags(sampler)
    sampler_tags = tags.sampler_tags
    yield check_sampler_select
    yield check_sampler_whole_pool
    if not tags.non_deterministic:
        yield check_sampler_deterministic
    if sampler_tags.random:
        yield check_sampler_random_state
    yield check_sampler_inputs_not_mutated
    if sampler_tags.requires_model:
        yield check_sampler_estimator_untouched
        yield check_sampler_prefit
    yield check_sampler_dtypes
    yield check_sampler_pandas
    if tags.requires_fit:
        yield check_sampler_not_fitted
    yield check_sampler_bad_n
    if sampler_tags.reads_features and not tags.input_tags.allow_nan:
        yield check_sampler_non_finite
    if sampler_tags.reads_features:
        yield check_sampler_n_features
    yield check_sampler_regression
    if sklearn_checks:
        yield check_sampler_sklearn


def _expected_failures(sampler, expected_failed_checks):
    """``expected_failed_checks`` as a dict, refusing names of no check of the suite."""
    expected = dict(expected_failed_checks or {})
    unknown = sorted(set(expected) - set(_ALL_CHECKS))
    if unknown:
        raise ValueError(
            f"expected_failed_checks for {_sampler_id(sampler)} names {unknown}, which are "
            f"not checks of this suite; they are {sorted(_ALL_CHECKS)}."
        )
    return expected


def check_sampler(sampler, *, sklearn_checks=True, expected_failed_checks=None):
    """Run every check that applies to ``sampler``; the first unexpected failure raises.

    The checks are chosen from the sampler's tags. A check that raises
    :class:`unittest.SkipTest` (one that needs pandas, without it) is skipped with a
    :class:`~sklearn.exceptions.SkipTestWarning`.

    Parameters
    ----------
    sampler : sampler instance
        Unfitted, configured as it will be used (it is cloned, never modified).
    sklearn_checks : bool, default=True
        Also run :func:`sklearn.utils.estimator_checks.check_estimator`.
    expected_failed_checks : dict of str to str, default=None
        ``{check_name: reason}`` for checks known to fail on ``sampler``, as in
        scikit-learn's ``check_estimator``. They still run: a failure is recorded as
        ``"xfail"``, and a pass raises, so that the entry is removed once it is fixed.

    Returns
    -------
    results : dict of str to str
        The status of each check run, by name: ``"passed"``, ``"xfail"`` (failed, as
        expected) or ``"skipped"``.

    Raises
    ------
    AssertionError
        Saying which check failed and how, or which expected failure passed.
    ValueError
        If ``expected_failed_checks`` names a check that is not in this suite.

    See Also
    --------
    parametrize_with_checks : the same checks, one pytest test each.

    Examples
    --------
    >>> from skbait import CoresetSampler
    >>> from skbait.utils.estimator_checks import check_sampler
    >>> results = check_sampler(CoresetSampler(device="cpu"), sklearn_checks=False)
    >>> results["check_sampler_select"], "check_sampler_prefit" in results  # no model
    ('passed', False)

    A check known to fail runs, and is reported as an expected failure:

    >>> from skbait import RandomSampler
    >>> class AlwaysFirst(RandomSampler):
    ...     def _select(self, X_pool, n):  # ignores random_state
    ...         return list(range(n)), [0.0] * n
    >>> results = check_sampler(
    ...     AlwaysFirst(), sklearn_checks=False,
    ...     expected_failed_checks={"check_sampler_random_state": "not random yet"})
    >>> results["check_sampler_random_state"]
    'xfail'
    """
    name = type(sampler).__name__
    expected = _expected_failures(sampler, expected_failed_checks)
    results = {}
    for check in _yield_sampler_checks(sampler, sklearn_checks=sklearn_checks):
        check_name = check.__name__
        try:
            check(name, sampler)
        except unittest.SkipTest as exc:
            warnings.warn(f"Skipping {check_name} for {name}: {exc}", SkipTestWarning)
            results[check_name] = "skipped"
            continue
        except Exception:
            if check_name not in expected:
                raise
            results[check_name] = "xfail"
            continue
        if check_name in expected:
            raise AssertionError(
                f"{check_name} passed for {name}, but expected_failed_checks lists it as "
                f"failing ({expected[check_name]}): remove it from the list."
            )
        results[check_name] = "passed"
    return results


def parametrize_with_checks(samplers, *, sklearn_checks=True, expected_failed_checks=None,
                            xfail_strict=True):
    """A ``pytest.mark.parametrize`` decorator over every (sampler, check) pair.

    The decorated test receives ``sampler`` and ``check`` and calls ``check(sampler)``.
    The checks of each sampler are chosen from its tags.

    Parameters
    ----------
    samplers : list of sampler instances
        Unfitted, each configured as it will be used.
    sklearn_checks : bool, default=True
        Include scikit-learn's ``check_estimator`` as one check per sampler.
    expected_failed_checks : callable, default=None
        Called with each sampler, returns ``{check_name: reason}`` for the checks known
        to fail on it, as in scikit-learn's ``parametrize_with_checks``. Those tests are
        marked ``pytest.mark.xfail(reason=reason, strict=xfail_strict)``.
    xfail_strict : bool or None, default=True
        The ``strict`` of those marks: with True, an expected failure that passes fails
        its test, so that the entry is removed once it is fixed; with False it is
        reported as XPASS; with None pytest's ``xfail_strict`` setting decides.
        (scikit-learn's default is None.)

    Returns
    -------
    decorator : pytest.mark.parametrize
        Parametrizes ``sampler`` and ``check``, with one readable id per pair.

    Raises
    ------
    TypeError
        If ``expected_failed_checks`` is neither None nor callable.
    ValueError
        If ``expected_failed_checks`` names a check that is not in this suite.

    See Also
    --------
    check_sampler : run the same checks in one call.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skbait import BaitSampler, RandomSampler
    >>> from skbait.utils.estimator_checks import parametrize_with_checks
    >>> @parametrize_with_checks([BaitSampler(LogisticRegression()), RandomSampler()])
    ... def test_sampler(sampler, check):
    ...     check(sampler)
    """
    import pytest

    if expected_failed_checks is not None and not callable(expected_failed_checks):
        raise TypeError(
            "expected_failed_checks must be None or a callable that takes a sampler and "
            f"returns a dict {{check_name: reason}}, not {expected_failed_checks!r}."
        )
    cases = []
    for sampler in samplers:
        expected = _expected_failures(
            sampler, expected_failed_checks and expected_failed_checks(sampler))
        for check in _yield_sampler_checks(sampler, sklearn_checks=sklearn_checks):
            marks = ()
            if check.__name__ in expected:
                xfail = (dict(reason=expected[check.__name__]) if xfail_strict is None else
                         dict(reason=expected[check.__name__], strict=xfail_strict))
                marks = pytest.mark.xfail(**xfail)
            cases.append(pytest.param(
                sampler, functools.partial(check, type(sampler).__name__), marks=marks,
                id=f"{_sampler_id(sampler)}-{check.__name__}"))
    return pytest.mark.parametrize("sampler, check", cases)


# Every check_sampler_* takes the same arguments and fails the same way: their shared
# docstring sections are written once here, with an example that runs as a doctest.
