"""skbait's samplers as scikit-activeml pool query strategies.

:class:`SkbaitQueryStrategy` wraps any skbait sampler (``BaitSampler``, ``BadgeSampler``,
...) as a :class:`skactiveml.base.SingleAnnotatorPoolQueryStrategy`, so that it drops into
a scikit-activeml pool loop next to ``UncertaintySampling`` or ``RandomSampling``.

scikit-activeml is an optional extra (``pip install scikit-activeml``). This module imports
without it, so that importing skbait never needs it; ``SkbaitQueryStrategy`` is then not
defined and importing it raises an :class:`ImportError` that says what to install.
"""

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ..utils._tags import get_tags

__all__ = ["SkbaitQueryStrategy"]

_INSTALL = (
    "SkbaitQueryStrategy needs scikit-activeml, an optional dependency of skbait: "
    "pip install scikit-activeml"
)

try:
    from skactiveml.base import (
        SingleAnnotatorPoolQueryStrategy,
        SkactivemlClassifier,
        SkactivemlRegressor,
    )
    from skactiveml.utils import MISSING_LABEL, check_scalar, is_labeled, is_unlabeled
except ImportError as exc:  # the extra is not installed
    _IMPORT_ERROR = exc
else:
    _IMPORT_ERROR = None


def __getattr__(name):
    if name == "SkbaitQueryStrategy" and _IMPORT_ERROR is not None:
        raise ImportError(_INSTALL) from _IMPORT_ERROR
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _uses_model(sampler):
    """Whether the sampler queries a model (its tags say so)."""
    return get_tags(sampler).sampler_tags.requires_model


def _needs_labels(sampler):
    """Whether ``fit`` needs at least one labeled sample.

    Model-based samplers fit (or read) a model on the labeled set, and Coreset starts from
    it; a sampler that reads only the pool's length (RandomSampler) learns nothing from it.
    """
    return get_tags(sampler).sampler_tags.reads_features


def _copy(sampler):
    """A new, unfitted sampler with the same parameters, the objects themselves shared.

    Unlike :func:`~sklearn.base.clone`, it keeps a fitted ``estimator`` (``prefit=True``)
    fitted, and a ``RandomState`` passed as ``random_state`` advances from one query to
    the next as it would in a loop over ``select``. skbait's samplers never modify their
    parameters: ``fit`` clones ``estimator`` unless ``prefit=True``.
    """
    return type(sampler)(**sampler.get_params(deep=False))


def _check_candidate_indices(candidates):
    """Refuse what scikit-activeml would silently misread as indices.

    It casts indices to int (``1.5`` becomes ``1``) and takes negative ones from the end.
    """
    if candidates is None:
        return
    candidates = np.asarray(candidates)
    if candidates.ndim != 1 or candidates.size == 0:
        return
    if candidates.dtype.kind not in "iu":
        raise TypeError(
            "candidates of shape (n_candidates,) are indices into X and must be integers; "
            f"got dtype {candidates.dtype}. Pass candidate samples as an array of shape "
            "(n_candidates, n_features)."
        )
    if candidates.min() < 0:
        raise ValueError(
            f"candidates are indices into X and must be non-negative; got {candidates.min()}."
        )


if _IMPORT_ERROR is None:

    class SkbaitQueryStrategy(SingleAnnotatorPoolQueryStrategy):
        """A skbait sampler as a scikit-activeml pool query strategy.

        ``query(X, y, clf)`` follows scikit-activeml's conventions: the labeled samples
        are those with ``y != missing_label``, the candidates are the unlabeled ones
        unless ``candidates`` says otherwise, and the returned indices point into ``X``
        (into ``candidates`` when it holds samples). At each query, a copy of ``sampler``
        is fitted on the labeled samples and selects ``batch_size`` candidates; ``sampler``
        itself is never modified, and the fitted copy is kept as ``sampler_``.

        Which model the sampler queries:

        - ``clf`` passed to ``query`` (and ``use_clf=True``): the scikit-learn estimator
          wrapped by ``clf`` (a :class:`~skactiveml.classifier.SklearnClassifier` or
          :class:`~skactiveml.regressor.SklearnRegressor`) replaces the sampler's own
          ``estimator``. With ``fit_clf=True`` a clone of ``clf`` is first fitted on
          ``(X, y)``, as scikit-activeml's strategies do; the sampler then uses the
          fitted ``clf.estimator_`` as is (``prefit=True``).
        - ``clf=None`` (or ``use_clf=False``): the sampler's own ``estimator`` is used as
          for ``sampler.fit(X_labeled, y_labeled)``: a clone fitted on the labeled
          samples, or a copy of the fitted estimator when the sampler has ``prefit=True``.
        - Samplers without a model (:class:`~skbait.RandomSampler`,
          :class:`~skbait.CoresetSampler` with ``estimator=None``) ignore ``clf``.

        Parameters
        ----------
        sampler : skbait sampler
            The sampler that chooses the batch, e.g.
            ``BaitSampler(LogisticRegression())``. Any :class:`~skbait.base.BaseSampler`.
        use_clf : bool, default=True
            Whether a ``clf`` passed to ``query`` replaces the sampler's estimator. If
            False, ``clf`` is ignored and the sampler always uses its own estimator
            (useful when a loop passes ``clf`` to every strategy).
        missing_label : scalar or string or np.nan or None, default=np.nan
            Value that marks an unlabeled sample in ``y``.
        random_state : int, RandomState instance or None, default=None
            Seed of the sampler's randomness (``RandomSampler``, ``BadgeSampler``). If not
            None, at each query it is resolved as scikit-activeml resolves a strategy's
            ``random_state`` (an int gives the same batch for the same labeled set and
            different batches as the labeled set grows) and replaces the sampler's own
            ``random_state``. If None, the sampler's ``random_state`` is used unchanged.
            Samplers without randomness ignore it; ties go to the lowest index.

        Attributes
        ----------
        sampler_ : skbait sampler
            Set by ``query``: the fitted copy of ``sampler`` that chose the last batch,
            with its ``scores_`` and the sampler's other diagnostics (``objective_``...).
        n_features_in_ : int
            Number of features of ``X`` in the last query.
        missing_label_ : scalar or string or np.nan or None
            The validated ``missing_label``.
        random_state_ : RandomState instance
            The random state resolved by the last query.

        See Also
        --------
        skbait.BaitSampler : the sampler most users wrap.
        skactiveml.pool.UncertaintySampling : scikit-activeml's uncertainty strategy.

        Notes
        -----
        The utilities returned with ``return_utilities=True`` have scikit-activeml's shape
        ``(batch_size, n_samples)`` (``(batch_size, n_candidates)`` when ``candidates``
        holds samples), but skbait's samplers score a point only when they choose it:
        BAIT, for one, picks ``2·batch_size`` points greedily and prunes them back, so no
        row of per-candidate scores leads to its batch. Row ``i`` therefore holds
        ``sampler_.scores_[i]``, the score the ``i``-th pick had when it was chosen
        (larger is better; see each sampler's ``scores_``), at ``query_indices[i]``, and
        NaN everywhere else, so that ``np.nanargmax(utilities[i]) == query_indices[i]``.

        As in scikit-activeml, a ``batch_size`` larger than the number of candidates is
        reduced to it with a warning.

        Examples
        --------
        scikit-activeml's pool loop with BAIT, starting from one labeled sample per
        class:

        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.linear_model import LogisticRegression
        >>> from skactiveml.classifier import SklearnClassifier
        >>> from skactiveml.utils import MISSING_LABEL
        >>> from skbait import BaitSampler
        >>> from skbait.integration.skactiveml import SkbaitQueryStrategy
        >>> X, y_true = load_iris(return_X_y=True)
        >>> y = np.full(len(X), MISSING_LABEL)
        >>> y[[0, 50, 100]] = y_true[[0, 50, 100]]
        >>> clf = SklearnClassifier(LogisticRegression(), classes=np.unique(y_true))
        >>> qs = SkbaitQueryStrategy(BaitSampler(LogisticRegression(), device="cpu"))
        >>> for cycle in range(3):
        ...     query_idx = qs.query(X, y, clf, batch_size=5)
        ...     y[query_idx] = y_true[query_idx]
        ...     clf = clf.fit(X, y)
        >>> int(np.sum(~np.isnan(y)))
        18
        """

        def __init__(
            self, sampler, *, use_clf=True, missing_label=MISSING_LABEL, random_state=None
        ):
            super().__init__(missing_label=missing_label, random_state=random_state)
            self.sampler = sampler
            self.use_clf = use_clf

        def query(
            self,
            X,
            y,
            clf=None,
            fit_clf=True,
            sample_weight=None,
            candidates=None,
            batch_size=1,
            return_utilities=False,
        ):
            """Choose the candidates whose labels to query next.

            Parameters
            ----------
            X : array-like of shape (n_samples, n_features)
                Training data set, usually complete, i.e. including the labeled and the
                unlabeled samples. Never modified.
            y : array-like of shape (n_samples,)
                Labels of ``X``; unlabeled samples are marked by ``missing_label``.
            clf : SklearnClassifier, SklearnRegressor or None, default=None
                The model of the loop, a scikit-activeml wrapper of a scikit-learn
                estimator. If given (and ``use_clf=True``), the sampler queries its
                estimator instead of its own; see the class description. Never modified.
            fit_clf : bool, default=True
                Whether a clone of ``clf`` is fitted on ``(X, y, sample_weight)`` first.
                If False, ``clf`` must be fitted. Only used when ``clf`` is.
            sample_weight : array-like of shape (n_samples,), default=None
                Weights of the samples, used to fit ``clf`` (only with ``clf`` and
                ``fit_clf=True``; skbait's samplers fit their own estimator without
                weights).
            candidates : None or array-like of shape (n_candidates,), dtype=int or \
                    array-like of shape (n_candidates, n_features), default=None
                - None: the unlabeled samples of ``(X, y)`` are the candidates.
                - Of shape ``(n_candidates,)`` and of type int: indices of the
                  candidates in ``X``.
                - Of shape ``(n_candidates, n_features)``: the candidate samples
                  themselves (not necessarily in ``X``).
            batch_size : int, default=1
                Number of samples to query. If larger than the number of candidates, it
                is reduced to it with a warning.
            return_utilities : bool, default=False
                Whether to return the utilities too.

            Returns
            -------
            query_indices : numpy.ndarray of shape (batch_size,)
                Distinct indices of the chosen candidates, in the order the sampler chose
                them: indices into ``X``, or into ``candidates`` when it holds samples.
            utilities : numpy.ndarray of shape (batch_size, n_samples) or \
                    (batch_size, n_candidates)
                Only if ``return_utilities=True``. Row ``i`` holds
                ``sampler_.scores_[i]`` at ``query_indices[i]`` and NaN elsewhere (see
                Notes of the class); columns index ``X``, or ``candidates`` when it holds
                samples.
            """
            _check_candidate_indices(candidates)
            X, y, candidates, batch_size, return_utilities = self._validate_data(
                X, y, candidates, batch_size, return_utilities, reset=True
            )
            X_cand, mapping = self._transform_candidates(candidates, X, y)
            check_scalar(self.use_clf, "use_clf", bool)
            check_scalar(fit_clf, "fit_clf", bool)
            sampler = self._check_sampler()
            if batch_size == 0:
                raise ValueError(
                    "There are no candidates to query: "
                    + ("every sample of X is labeled." if candidates is None
                       else "candidates is empty.")
                )
            labeled = is_labeled(y, missing_label=self.missing_label_)
            if not labeled.any() and _needs_labels(sampler):
                raise ValueError(
                    f"{type(sampler).__name__} needs labeled samples, but every sample of y "
                    f"is missing_label={self.missing_label_!r}. Label an initial batch "
                    "first, e.g. with SkbaitQueryStrategy(RandomSampler()) or "
                    "skactiveml.pool.RandomSampling."
                )

            sampler_ = _copy(sampler)
            if clf is not None and self.use_clf and _uses_model(sampler):
                estimator = self._clf_estimator(clf, X, y, fit_clf, sample_weight)
                sampler_.set_params(estimator=estimator, prefit=True)
            elif sample_weight is not None:
                raise ValueError(
                    "sample_weight is only used to fit clf, but "
                    + ("no clf was passed." if clf is None else
                       "clf is not used (use_clf=False, or the sampler has no model).")
                )
            if self.random_state is not None and "random_state" in sampler.get_params(deep=False):
                sampler_.set_params(random_state=self.random_state_)

            if labeled.any():
                sampler_.fit(X[labeled], y[labeled])
            else:  # a sampler that learns nothing from labels: fit only records X's width
                sampler_.fit(X)
            picks = sampler_.select(X_cand, batch_size)
            self.sampler_ = sampler_
            query_indices = np.asarray(picks if mapping is None else mapping[picks],
                                       dtype=int)
            if not return_utilities:
                return query_indices
            utilities = np.full((batch_size, len(X if mapping is not None else X_cand)),
                                np.nan)
            utilities[np.arange(batch_size), query_indices] = sampler_.scores_
            return query_indices, utilities

        def _check_sampler(self):
            sampler = self.sampler
            if not all(hasattr(sampler, name) for name in ("fit", "select", "get_params")):
                raise TypeError(
                    "sampler must be a skbait sampler (with fit, select and get_params), "
                    f"e.g. BaitSampler(LogisticRegression()); got {sampler!r}."
                )
            return sampler

        def _clf_estimator(self, clf, X, y, fit_clf, sample_weight):
            """The fitted scikit-learn estimator wrapped by ``clf``."""
            if not isinstance(clf, (SkactivemlClassifier, SkactivemlRegressor)):
                raise TypeError(
                    "clf must be a scikit-activeml model wrapping a scikit-learn "
                    "estimator, e.g. SklearnClassifier(LogisticRegression(), classes=...); "
                    f"got {type(clf).__name__}. To use a scikit-learn estimator directly, "
                    "give it to the sampler and pass clf=None."
                )
            if "estimator" not in clf.get_params(deep=False):
                raise TypeError(
                    f"clf is a {type(clf).__name__}, which wraps no scikit-learn estimator "
                    "for the sampler to query. Pass a SklearnClassifier or SklearnRegressor, "
                    "or set use_clf=False to use the sampler's own estimator."
                )
            if not is_unlabeled([clf.missing_label], missing_label=self.missing_label_)[0]:
                raise ValueError(
                    f"clf.missing_label={clf.missing_label!r} differs from the strategy's "
                    f"missing_label={self.missing_label_!r}; they must be equal."
                )
            if fit_clf:
                clf = clone(clf)
                if sample_weight is None:
                    clf.fit(X, y)
                else:
                    clf.fit(X, y, sample_weight)
            elif sample_weight is not None:
                raise ValueError("sample_weight is only used to fit clf, but fit_clf=False.")
            state = vars(clf)  # read, never set: check_is_fitted(clf) would set attributes
            if state.get("is_fitted_") is False:
                raise ValueError(
                    f"clf ({type(clf).__name__}) could not fit its estimator on the labeled "
                    "samples (see scikit-activeml's warning), and the sampler needs a "
                    "fitted model. A classifier needs labeled samples of two classes at "
                    "least: label an initial batch with SkbaitQueryStrategy(RandomSampler()) "
                    "or skactiveml.pool.RandomSampling first."
                )
            if "estimator_" in state:
                return state["estimator_"]
            try:  # scikit-activeml takes a wrapper around a fitted estimator as fitted
                check_is_fitted(clf.estimator)
            except NotFittedError as exc:
                raise NotFittedError(
                    f"fit_clf=False but clf ({type(clf).__name__}) is not fitted. Fit it "
                    "first, or pass fit_clf=True."
                ) from exc
            return clf.estimator
