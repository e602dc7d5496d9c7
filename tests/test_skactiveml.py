"""The scikit-activeml adapter against scikit-activeml's own strategies and skbait's samplers.

Needs the optional extra (``pip install scikit-activeml``); skipped, with the reason shown
by ``-ra``, without it. The import guard is checked in subprocesses that hide scikit-activeml.
"""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge

from skbait import (
    BadgeSampler,
    BaitSampler,
    CoresetSampler,
    DeterminantalSampler,
    RandomSampler,
    UncertaintySampler,
)

skactiveml = pytest.importorskip(
    "skactiveml", reason="scikit-activeml (the optional extra) is not installed"
)
from skactiveml.base import SingleAnnotatorPoolQueryStrategy  # noqa: E402
from skactiveml.classifier import ParzenWindowClassifier, SklearnClassifier  # noqa: E402
from skactiveml.pool import RandomSampling, UncertaintySampling  # noqa: E402
from skactiveml.regressor import SklearnRegressor  # noqa: E402
from skactiveml.utils import MISSING_LABEL, check_random_state  # noqa: E402

from skbait.integration.skactiveml import SkbaitQueryStrategy  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# skactiveml's names for skbait's uncertainty methods
METHODS = {"least_confident": "least_confident", "margin": "margin_sampling",
           "entropy": "entropy"}


def _problem(n=200, n_labeled=20, seed=0):
    """Continuous features (no two samples alike, so no ties) and a partly labeled y."""
    X, y_true = make_classification(n, 5, n_informative=4, n_redundant=0, n_classes=3,
                                    n_clusters_per_class=1, random_state=seed)
    y = np.full(n, MISSING_LABEL)
    y[:n_labeled] = y_true[:n_labeled]
    return X, y, y_true


def _clf(**params):
    return SklearnClassifier(LogisticRegression(**params), classes=[0, 1, 2])


def _lab(y):
    return ~np.isnan(y)


def _bait():
    return BaitSampler(LogisticRegression(), device="cpu")


def _run_python(code):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True)


# --- the optional import ---------------------------------------------------------------


def test_importing_skbait_does_not_import_skactiveml():
    done = _run_python(
        "import sys, skbait, skbait.integration\n"
        "assert 'skactiveml' not in sys.modules, 'skbait imported skactiveml'\n"
    )
    assert done.returncode == 0, done.stderr


def test_without_skactiveml_the_adapter_raises_import_error():
    done = _run_python(
        "import sys\n"
        "sys.modules['skactiveml'] = None  # import skactiveml now raises ImportError\n"
        "import skbait.integration.skactiveml  # the module itself imports\n"
        "try:\n"
        "    from skbait.integration.skactiveml import SkbaitQueryStrategy\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    raise SystemExit('no ImportError')\n"
    )
    assert done.returncode == 0, done.stderr
    assert "pip install scikit-activeml" in done.stdout


def test_is_a_scikit_activeml_pool_strategy():
    qs = SkbaitQueryStrategy(_bait(), random_state=3)
    assert isinstance(qs, SingleAnnotatorPoolQueryStrategy)
    assert qs.missing_label is MISSING_LABEL
    copy = clone(qs)
    assert copy.get_params()["random_state"] == 3
    assert copy.sampler is not qs.sampler and copy.sampler.get_params()["device"] == "cpu"


# --- against scikit-activeml's own strategies ------------------------------------------


@pytest.mark.parametrize("method", list(METHODS))
def test_uncertainty_picks_what_scikit_activeml_picks(method):
    X, y, _ = _problem()
    theirs, their_util = UncertaintySampling(method=METHODS[method], random_state=0).query(
        X, y, _clf(), batch_size=8, return_utilities=True)
    qs = SkbaitQueryStrategy(UncertaintySampler(LogisticRegression(), method=method,
                                                device="cpu"))
    ours, our_util = qs.query(X, y, _clf(), batch_size=8, return_utilities=True)
    np.testing.assert_array_equal(ours, theirs)
    # the utility of each pick is the same uncertainty score in both libraries
    rows = np.arange(8)
    np.testing.assert_allclose(our_util[rows, ours], their_util[rows, theirs], rtol=1e-10)


@pytest.mark.parametrize("as_samples", [False, True], ids=["indices", "samples"])
def test_uncertainty_with_candidates_picks_what_scikit_activeml_picks(as_samples):
    X, y, _ = _problem()
    candidates = np.arange(40, 200, 3)
    if as_samples:
        candidates = X[candidates] + 0.25  # samples that are not in X
    kwargs = dict(candidates=candidates, batch_size=5)
    theirs = UncertaintySampling(random_state=0).query(X, y, _clf(), **kwargs)
    qs = SkbaitQueryStrategy(UncertaintySampler(LogisticRegression(), device="cpu"))
    np.testing.assert_array_equal(qs.query(X, y, _clf(), **kwargs), theirs)


def test_own_estimator_when_clf_is_none_or_not_used():
    X, y, _ = _problem()
    theirs = UncertaintySampling(random_state=0).query(X, y, _clf(), batch_size=6)
    sampler = UncertaintySampler(LogisticRegression(), device="cpu")
    np.testing.assert_array_equal(SkbaitQueryStrategy(sampler).query(X, y, batch_size=6),
                                  theirs)
    # use_clf=False ignores a clf wrapping another model; use_clf=True follows it
    other = _clf(C=1e-3)
    ignored = SkbaitQueryStrategy(sampler, use_clf=False).query(X, y, other, batch_size=6)
    followed = SkbaitQueryStrategy(sampler).query(X, y, other, batch_size=6)
    np.testing.assert_array_equal(ignored, theirs)
    np.testing.assert_array_equal(
        followed, UncertaintySampling(random_state=0).query(X, y, other, batch_size=6))
    assert not np.array_equal(followed, theirs)


def test_random_sampler_returns_distinct_unlabeled_indices():
    X, y, _ = _problem()
    unlabeled = np.flatnonzero(~_lab(y))
    qs = SkbaitQueryStrategy(RandomSampler(), random_state=0)
    batch = qs.query(X, y, batch_size=10)
    assert batch.shape == (10,) and batch.dtype.kind == "i"
    assert len(set(batch)) == 10 and set(batch) <= set(unlabeled)
    # the same labeled set and seed give the same batch, as in skactiveml's RandomSampling
    np.testing.assert_array_equal(qs.query(X, y, batch_size=10), batch)
    assert set(RandomSampling(random_state=0).query(X, y, batch_size=10)) <= set(unlabeled)
    # candidates as indices: a subset of them
    candidates = unlabeled[::4]
    picked = qs.query(X, y, candidates=candidates, batch_size=7)
    assert len(set(picked)) == 7 and set(picked) <= set(candidates)


def test_random_sampler_starts_a_loop_with_nothing_labeled():
    X, _, y_true = _problem()
    y = np.full(len(X), MISSING_LABEL)
    batch = SkbaitQueryStrategy(RandomSampler(), random_state=0).query(X, y, batch_size=6)
    assert len(set(batch)) == 6
    y[batch] = y_true[batch]  # what the next cycle's BAIT fits on


def test_random_state_follows_scikit_activeml():
    X, y, _ = _problem()
    unlabeled = np.flatnonzero(~_lab(y))
    # an int is resolved as scikit-activeml resolves a strategy's random_state ...
    qs = SkbaitQueryStrategy(RandomSampler(random_state=99), random_state=0)
    state = check_random_state(0, len(unlabeled) + 1)
    expected = RandomSampler(random_state=state).fit(X[_lab(y)]).select(X[unlabeled], 5)
    np.testing.assert_array_equal(qs.query(X, y, batch_size=5), unlabeled[expected])
    assert qs.sampler.random_state == 99  # the sampler passed in is not modified
    # ... and the batch changes as the labeled set grows
    y2 = y.copy()
    y2[unlabeled[:30]] = 0
    assert not np.array_equal(qs.query(X, y2, batch_size=5), qs.query(X, y, batch_size=5))
    # None: the sampler's own random_state decides
    qs = SkbaitQueryStrategy(RandomSampler(random_state=99))
    expected = RandomSampler(random_state=99).fit(X[_lab(y)]).select(X[unlabeled], 5)
    np.testing.assert_array_equal(qs.query(X, y, batch_size=5), unlabeled[expected])


# --- BAIT in a scikit-activeml loop -----------------------------------------------------


@pytest.mark.parametrize("fit_clf", [True, False])
def test_bait_in_a_scikit_activeml_loop_picks_what_bait_sampler_picks(fit_clf):
    X, y_true = load_iris(return_X_y=True)
    y = np.full(len(X), MISSING_LABEL)
    y[[0, 1, 50, 51, 100, 101]] = y_true[[0, 1, 50, 51, 100, 101]]
    clf = SklearnClassifier(LogisticRegression(), classes=np.unique(y_true))
    clf.fit(X, y)
    qs = SkbaitQueryStrategy(_bait())
    for cycle in range(4):
        labeled = _lab(y)
        unlabeled = np.flatnonzero(~labeled)
        query_idx = qs.query(X, y, clf, fit_clf=fit_clf, batch_size=5)
        reference = _bait().fit(X[labeled], y[labeled])
        expected = reference.select(X[unlabeled], 5)
        np.testing.assert_array_equal(query_idx, unlabeled[expected])
        np.testing.assert_allclose(qs.sampler_.scores_, reference.scores_)
        assert np.isnan(y[query_idx]).all()
        y[query_idx] = y_true[query_idx]
        clf.fit(X, y)
    assert _lab(y).sum() == 6 + 4 * 5
    assert clf.score(X, y_true) > 0.8


def test_bait_with_candidates_as_indices_and_as_samples():
    X, y_true = load_iris(return_X_y=True)
    y = np.full(len(X), MISSING_LABEL)
    y[::10] = y_true[::10]
    labeled = _lab(y)
    qs = SkbaitQueryStrategy(_bait())
    reference = _bait().fit(X[labeled], y[labeled])
    indices = np.flatnonzero(~labeled)[::2]
    np.testing.assert_array_equal(qs.query(X, y, _clf(), candidates=indices, batch_size=4),
                                  indices[reference.select(X[indices], 4)])
    samples = X[indices] + 0.1
    picks, utilities = qs.query(X, y, _clf(), candidates=samples, batch_size=4,
                                return_utilities=True)
    np.testing.assert_array_equal(picks, reference.select(samples, 4))
    assert utilities.shape == (4, len(samples))


def test_utilities_hold_each_picks_score():
    X, y, _ = _problem()
    qs = SkbaitQueryStrategy(_bait())
    picks, utilities = qs.query(X, y, _clf(), batch_size=6, return_utilities=True)
    assert utilities.shape == (6, len(X))
    np.testing.assert_array_equal(utilities[np.arange(6), picks], qs.sampler_.scores_)
    assert np.isnan(utilities).sum() == 6 * (len(X) - 1)
    np.testing.assert_array_equal(np.nanargmax(utilities, axis=1), picks)
    assert np.isnan(utilities[:, _lab(y)]).all()


def test_regression_with_sklearn_regressor():
    X, y_true = make_regression(120, 4, noise=0.5, random_state=0)
    y = np.full(len(X), MISSING_LABEL)
    y[:15] = y_true[:15]
    labeled, unlabeled = _lab(y), np.flatnonzero(~_lab(y))
    qs = SkbaitQueryStrategy(BaitSampler(Ridge(), device="cpu"))
    picks = qs.query(X, y, SklearnRegressor(Ridge()), batch_size=5)
    expected = BaitSampler(Ridge(), device="cpu").fit(X[labeled], y[labeled]).select(
        X[unlabeled], 5)
    np.testing.assert_array_equal(picks, unlabeled[expected])


def test_prefit_sampler_is_used_as_is():
    X, y, y_true = _problem()
    trained = LogisticRegression(C=0.05).fit(X, y_true)  # not the labeled set's model
    sampler = UncertaintySampler(trained, prefit=True, device="cpu")
    picks = SkbaitQueryStrategy(sampler).query(X, y, batch_size=5)
    unlabeled = np.flatnonzero(~_lab(y))
    expected = UncertaintySampler(trained, prefit=True, device="cpu").fit(
        X[_lab(y)], y[_lab(y)]).select(X[unlabeled], 5)
    np.testing.assert_array_equal(picks, unlabeled[expected])


@pytest.mark.parametrize("sampler", [
    BadgeSampler(LogisticRegression(), random_state=0, device="cpu"),
    CoresetSampler(device="cpu"),
    CoresetSampler(LogisticRegression(), device="cpu"),
    DeterminantalSampler(LogisticRegression(), device="cpu"),
], ids=lambda s: type(s).__name__ + ("" if getattr(s, "estimator", 1) else "(None)"))
def test_every_sampler_queries_distinct_unlabeled_indices(sampler):
    X, y, _ = _problem()
    batch = SkbaitQueryStrategy(sampler, random_state=1).query(X, y, _clf(), batch_size=7)
    assert len(set(batch)) == 7 and not _lab(y)[batch].any()


def test_missing_label_other_than_nan():
    X, y, y_true = _problem()
    y_int = np.where(_lab(y), y, -1).astype(int)
    clf = SklearnClassifier(LogisticRegression(), classes=[0, 1, 2], missing_label=-1)
    qs = SkbaitQueryStrategy(_bait(), missing_label=-1)
    np.testing.assert_array_equal(qs.query(X, y_int, clf, batch_size=4),
                                  SkbaitQueryStrategy(_bait()).query(X, y, _clf(),
                                                                     batch_size=4))


def test_inputs_are_not_modified():
    X, y, _ = _problem()
    candidates = np.arange(30, 150)
    clf, sampler = _clf(), _bait()
    copies = X.copy(), y.copy(), candidates.copy()
    qs = SkbaitQueryStrategy(sampler)
    qs.query(X, y, clf, candidates=candidates, batch_size=5)
    for before, after in zip(copies, (X, y, candidates)):
        np.testing.assert_array_equal(before, after)
    assert not hasattr(clf, "estimator_") and not hasattr(sampler, "estimator_")
    assert qs.sampler is sampler and qs.sampler_ is not sampler
    # a fitted clf with fit_clf=False is read, not changed
    fitted = _clf().fit(X, y)
    state = dict(vars(fitted))
    qs.query(X, y, fitted, fit_clf=False, batch_size=5)
    assert vars(fitted).keys() == state.keys()
    assert all(vars(fitted)[key] is value for key, value in state.items())


# --- bad inputs ------------------------------------------------------------------------


def _unfitted_wrapper():
    return _clf()


@pytest.mark.parametrize("make, kwargs, error, match", [
    (lambda: SkbaitQueryStrategy(LogisticRegression()), {}, TypeError, "skbait sampler"),
    (lambda: SkbaitQueryStrategy(_bait()), dict(clf=LogisticRegression()), TypeError,
     "SklearnClassifier"),
    (lambda: SkbaitQueryStrategy(_bait()), dict(clf=ParzenWindowClassifier()), TypeError,
     "wraps no scikit-learn estimator"),
    (lambda: SkbaitQueryStrategy(_bait(), use_clf="yes"), {}, TypeError, "use_clf"),
    (lambda: SkbaitQueryStrategy(_bait()), dict(clf=_clf(), fit_clf="yes"), TypeError,
     "fit_clf"),
    (lambda: SkbaitQueryStrategy(_bait()), dict(clf=_clf(), batch_size=0), ValueError,
     "batch_size"),
    (lambda: SkbaitQueryStrategy(_bait()), dict(clf=_clf(), batch_size=2.0), TypeError,
     "batch_size"),
    (lambda: SkbaitQueryStrategy(_bait()),
     dict(clf=SklearnClassifier(LogisticRegression(), missing_label=-1)), ValueError,
     "must be equal"),
    (lambda: SkbaitQueryStrategy(_bait()), dict(sample_weight=np.ones(200)), ValueError,
     "sample_weight"),
    (lambda: SkbaitQueryStrategy(_bait()),
     dict(clf=_clf(), fit_clf=False, sample_weight=np.ones(200)), ValueError, "sample_weight"),
    (lambda: SkbaitQueryStrategy(_bait()), dict(clf=_unfitted_wrapper(), fit_clf=False),
     NotFittedError, "fit_clf=False"),
    (lambda: SkbaitQueryStrategy(_bait()), dict(candidates=np.zeros((3, 4))), ValueError,
     "features"),
    (lambda: SkbaitQueryStrategy(_bait()), dict(candidates=[0, 500]), ValueError,
     "less than 200"),
    (lambda: SkbaitQueryStrategy(_bait()), dict(candidates=[30, -1]), ValueError,
     "non-negative"),
    (lambda: SkbaitQueryStrategy(_bait()), dict(candidates=[30.0, 40.5]), TypeError,
     "must be integers"),
], ids=["sampler", "clf-not-wrapped", "clf-without-estimator", "use_clf", "fit_clf",
        "batch_size-0", "batch_size-float", "missing_label", "sample_weight-no-clf",
        "sample_weight-no-fit", "clf-not-fitted", "candidates-width", "candidates-index",
        "candidates-negative", "candidates-float"])
def test_bad_inputs_raise(make, kwargs, error, match):
    X, y, _ = _problem()
    with pytest.raises(error, match=match):
        make().query(X, y, **kwargs)


def test_no_labeled_samples_raises_for_samplers_that_need_them():
    X, _, _ = _problem()
    y = np.full(len(X), MISSING_LABEL)
    for clf in (None, _clf()):
        with pytest.raises(ValueError, match="needs labeled samples.*RandomSampler"):
            SkbaitQueryStrategy(_bait()).query(X, y, clf, batch_size=3)
    with pytest.raises(ValueError, match="needs labeled samples"):
        SkbaitQueryStrategy(CoresetSampler(device="cpu")).query(X, y, batch_size=3)


def test_one_labeled_class_raises():
    X, _, _ = _problem()
    y = np.full(len(X), MISSING_LABEL)
    y[:4] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # skactiveml's own, on the failed fit
        with pytest.raises(ValueError, match="could not fit its estimator.*two classes"):
            SkbaitQueryStrategy(_bait()).query(X, y, _clf(), batch_size=3)
    with pytest.raises(ValueError, match="only one class"):  # skbait's own fit says it
        SkbaitQueryStrategy(_bait()).query(X, y, batch_size=3)


def test_no_candidates_raises():
    X, _, y_true = _problem()
    with pytest.warns(UserWarning, match="larger than number of candidates"):
        with pytest.raises(ValueError, match="every sample of X is labeled"):
            SkbaitQueryStrategy(_bait()).query(X, y_true.astype(float), _clf())


def test_batch_size_larger_than_candidates_is_reduced_with_a_warning():
    X, y, _ = _problem()
    candidates = np.flatnonzero(~_lab(y))[:4]
    qs = SkbaitQueryStrategy(_bait())
    with pytest.warns(UserWarning, match="'batch_size=4' was set"):
        picks, utilities = qs.query(X, y, _clf(), candidates=candidates, batch_size=9,
                                    return_utilities=True)
    assert sorted(picks) == sorted(candidates) and utilities.shape == (4, len(X))
