"""Base classes: the public ``fit``/``select`` validate, subclasses fill in ``_fit``/``_select``."""

import copy
from abc import abstractmethod

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from . import _distributed
from ._heads import final_step, head_task, is_net, last_layer
from ._heads._models import _unwrap
from ._kernels.fisher import binary_factors, rank_one_factors, softmax_factors
from ._kernels.memory import representation_bytes
from .utils._device import resolve_device
from .utils._docstring import fill_doc
from .utils._memory import MEMORY_ADVICE, check_memory
from .utils._param_validation import HasMethods, StrOptions
from .utils._tags import get_tags, with_sampler_tags
from .utils._validation import check_finite_input, check_n, num_rows


class BaseSampler(BaseEstimator):
    """Base class of all samplers.

    ``fit(X_labeled, y_labeled)`` validates its inputs and calls ``_fit``;
    ``select(X_pool, n)`` checks the sampler is fitted, validates the pool and ``n``, and
    calls ``_select(X_pool, n)``, which returns the chosen indices and their scores.
    Subclasses implement ``_select`` and, when they need the labeled set, ``_fit``.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during ``fit``.
    n_labeled_ : int
        Size of the labeled set seen during ``fit``.
    scores_ : ndarray of shape (n,)
        Set by ``select``: the score each returned index had when it was chosen.

    Examples
    --------
    A sampler that needs no model writes only ``_select``; ``fit`` and ``select`` check
    the inputs and the result:

    >>> import numpy as np
    >>> from skbait.base import BaseSampler
    >>> class FirstN(BaseSampler):
    ...     def _select(self, X_pool, n):
    ...         return np.arange(n), np.zeros(n)
    >>> FirstN().fit(np.zeros((3, 2))).select(np.ones((5, 2)), 2)
    array([0, 1])
    """

    _parameter_constraints: dict = {}

    def fit(self, X, y=None):
        """Record the labeled set (and fit the model, for model-based samplers).

        Parameters
        ----------
        X : array-like of shape (n_labeled, n_features)
            Labeled inputs.
        y : array-like of shape (n_labeled,) or (n_labeled, n_outputs), default=None
            Their labels.

        Returns
        -------
        self : object
            The fitted sampler.
        """
        if _distributed.wants(self):  # distributed=True: skbait/_distributed.py
            return _distributed.fit(self, X, y)
        try:
            self._validate_params()
            X, y = self._validate_fit_data(X, y)
            self.n_labeled_ = num_rows(X)
            self._fit(X, y)
        except BaseException:
            # an error or interrupt half-way (a refused allocation, Ctrl-C) must not leave a
            # sampler that looks fitted with part of its state, or a previous fit's state
            # mixed with this one's: it is left unfitted instead
            for name in [name for name in vars(self) if name.endswith("_")
                         and not name.startswith("_")]:
                delattr(self, name)
            raise
        return self

    def select(self, X_pool, n):
        """Choose ``n`` points of ``X_pool`` to label next.

        Parameters
        ----------
        X_pool : array-like of shape (n_pool, n_features)
            Unlabeled candidates. Never modified.
        n : int
            Number of points to choose, ``1 <= n <= n_pool``.

        Returns
        -------
        indices : ndarray of shape (n,), dtype=np.intp
            Distinct row indices into ``X_pool``, in the order they were chosen (with
            ``distributed=True``: into the concatenation of every rank's ``X_pool``).
        """
        if _distributed.wants(self):  # distributed=True: skbait/_distributed.py
            return _distributed.select(self, X_pool, n)
        check_is_fitted(self)
        X_pool = self._validate_pool(X_pool)
        n = check_n(n, num_rows(X_pool))
        indices, scores = self._select(X_pool, n)
        indices = np.asarray(indices, dtype=np.intp)
        if indices.shape != (n,) or len(np.unique(indices)) != n:
            raise RuntimeError(f"{type(self).__name__} produced invalid indices {indices}.")
        self.scores_ = np.asarray(scores, dtype=float)
        return indices

    def _fit(self, X, y):
        """Hook for what a sampler learns from the labeled set; nothing by default."""

    @abstractmethod
    def _select(self, X_pool, n):
        """Return ``(indices, scores)`` for a validated pool and batch size."""

    def _validate_fit_data(self, X, y):
        X = validate_data(self, X, accept_sparse=("csr", "csc"), reset=True)
        if y is not None:
            check_consistent_length(X, y)
        return X, y

    def _validate_pool(self, X_pool):
        return validate_data(self, X_pool, accept_sparse=("csr", "csc"), reset=False)

    def __sklearn_tags__(self):
        tags = with_sampler_tags(super().__sklearn_tags__())
        tags.input_tags.sparse = True
        return tags


@fill_doc
class ModelSampler(BaseSampler):
    """Base class of samplers that query a model.

    It fits a clone of ``estimator`` on the labeled set, or, when ``prefit=True``, checks
    it is fitted and keeps a copy of it, so that nothing the sampler does can change the
    object passed in; it resolves the torch device. A subclass whose constraints allow
    ``estimator=None`` works on ``X`` itself: ``fit`` then validates ``X`` as
    :class:`BaseSampler` does and needs no ``y``. Subclasses implement ``_select``.

    Parameters
    ----------
    {estimator}
    {prefit}
    {device}

    Attributes
    ----------
    {fitted_attributes}

    Examples
    --------
    A sampler that picks the points the fitted model predicts largest:

    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skbait.base import ModelSampler
    >>> class LargestPrediction(ModelSampler):
    ...     def _select(self, X_pool, n):
    ...         predicted = self.estimator_.predict(X_pool)
    ...         order = np.argsort(-predicted, kind="stable")[:n]
    ...         return order, predicted[order]
    >>> X = np.arange(10.0).reshape(-1, 1)
    >>> LargestPrediction(Ridge(), device="cpu").fit(X[:5], 2 * X[:5, 0]).select(X, 2)
    array([9, 8])
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"])],
        "prefit": ["boolean"],
        "device": [StrOptions({"auto", "cpu", "cuda"}), torch.device, str],
    }

    def __init__(self, estimator, *, prefit=False, device="auto"):
        self.estimator = estimator
        self.prefit = prefit
        self.device = device

    def _model_needs(self):
        """What the sampler reads from its model: one of ``skbait._heads.NEEDS``.

        ``"last_layer"`` (``h(x)``, ``p(x)`` and a head with a Fisher information) unless
        a subclass needs less; :func:`~skbait._heads.head_task` checks the model for it.
        """
        return "last_layer"

    def _validate_fit_data(self, X, y):
        if self.estimator is None:
            return super()._validate_fit_data(X, y)
        # a TypeError naming the supported models, or saying what the model lacks
        task = head_task(self.estimator, self._model_needs())
        if task not in get_tags(self).sampler_tags.tasks:
            raise TypeError(
                f"{type(self).__name__} is not defined for {task}; for regression use "
                "BaitSampler, DeterminantalSampler, CoresetSampler or RandomSampler."
            )
        X = self._check_X(X, reset=True)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        if task == "classification":
            y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
            check_classification_targets(y)
            if not self.prefit and len(np.unique(y)) < 2:
                raise ValueError(
                    f"The labeled set has only one class ({np.unique(y)[0]}); fitting "
                    f"{type(final_step(self.estimator)).__name__} needs at least two "
                    "classes. Label points of another class first."
                )
        else:
            y = check_array(y, ensure_2d=False, dtype="numeric", input_name="y")
        check_consistent_length(X, y)
        return X, y

    def _validate_pool(self, X_pool):
        if self.estimator is None:
            return super()._validate_pool(X_pool)
        return self._check_X(X_pool, reset=False)

    def _check_X(self, X, reset):
        if _takes_raw_arrays(self.estimator):
            checked = validate_data(self, X, accept_sparse=("csr", "csc"), reset=reset)
            # a DataFrame goes on to the model as it is, so that the model, fitted with its
            # feature names, predicts on it without warnings (and estimator_.score(df, y)
            # works); the representation is converted where it is computed
            return X if hasattr(X, "columns") else checked
        # A net takes float32 arrays or tensors as they are (their width is checked here:
        # a net's own error would be a bare shape mismatch), and a Pipeline's first step
        # decides what input it takes (text, DataFrames with extra or reordered
        # columns...). The representation they produce is checked where it is computed.
        if is_net(_unwrap(self.estimator)):
            check_finite_input(X)
        elif not reset:
            return X
        validate_data(self, X, reset=reset, skip_check_array=True)
        return X

    def _fit(self, X, y):
        if self.estimator is None:
            self.estimator_ = None
        elif self.prefit:
            try:
                check_is_fitted(self.estimator)
            except NotFittedError as exc:
                raise NotFittedError(
                    f"prefit=True but the {type(self.estimator).__name__} passed as "
                    "estimator is not fitted. Fit it first, or use prefit=False."
                ) from exc
            # a copy, as scikit-learn's SelectFromModel keeps: the user's model is never
            # touched (to share it instead, pass FrozenEstimator(model) with prefit=False)
            self.estimator_ = copy.deepcopy(self.estimator)
        else:
            self.estimator_ = clone(self.estimator).fit(X, y)
        if self.estimator_ is not None:  # what it was fitted on (a multiclass SGD...)
            head_task(self.estimator_, self._model_needs())
        self.device_ = resolve_device(
            self.device, None if self.estimator_ is None else final_step(self.estimator_))

    def _tensor(self, array):
        array = np.asarray(array)
        if not array.flags.writeable:  # torch only wraps writeable memory without a warning
            array = array.copy()
        return torch.as_tensor(array, dtype=torch.float64, device=self.device_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = _takes_raw_arrays(self.estimator)
        if self.estimator is None:  # the subclass works on X itself
            return tags
        tags.target_tags.required = True
        tags.sampler_tags.requires_model = True
        try:
            tags.sampler_tags.tasks &= {head_task(self.estimator, self._model_needs())}
        except TypeError:
            pass  # a model skbait does not support: fit says so, and names those it does
        return tags


@fill_doc
class LastLayerSampler(ModelSampler):
    """Base class of samplers that read a model's last layer: ``h(x)`` and ``p(x)``.

    Every such sampler takes its representation through one hook, ``embedding``, with
    the same defaults (see below); ``_last_layer(X)`` evaluates it with the model's
    probabilities, and checks both before any kernel sees them.

    Parameters
    ----------
    {estimator}
    {embedding}
    {prefit}
    {device}

    Attributes
    ----------
    {fitted_attributes}

    Examples
    --------
    A sampler that picks the points whose representation ``h(x)`` has the largest norm
    (the intercept's constant feature included):

    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skbait.base import LastLayerSampler
    >>> class LargestNorm(LastLayerSampler):
    ...     def _select(self, X_pool, n):
    ...         norms = np.linalg.norm(self._last_layer(X_pool).features, axis=1)
    ...         order = np.argsort(-norms, kind="stable")[:n]
    ...         return order, norms[order]
    >>> X, y = load_iris(return_X_y=True)
    >>> sampler = LargestNorm(LogisticRegression(), device="cpu").fit(X[::10], y[::10])
    >>> sampler.select(X, 3)
    array([117, 131, 118])
    """

    _parameter_constraints: dict = {
        **ModelSampler._parameter_constraints,
        "embedding": [None, callable, str],
    }

    def __init__(self, estimator, *, embedding=None, prefit=False, device="auto"):
        super().__init__(estimator, prefit=prefit, device=device)
        self.embedding = embedding

    def _last_layer(self, X):
        layer = last_layer(self.estimator_, X, self.embedding, check=self._check_memory)
        if not np.all(np.isfinite(layer.features)):
            raise ValueError("The representation of X contains NaN or infinity.")
        return layer

    def _memory_need(self, n_rows, d, k):
        """Hook: ``(bytes, what)`` a selection on a last layer ``(n_rows, d, k)`` needs.

        The default counts the dense representation; samplers with a larger state
        override it with an estimate from :mod:`skbait._kernels.memory`.
        """
        return (representation_bytes(n_rows, d),
                f"{type(self).__name__} on {n_rows} rows with d={d}, k={k}")

    def _check_memory(self, n_rows, d, k):
        """Refuse, before allocating, a last layer whose selection cannot fit on device_."""
        needed, what = self._memory_need(n_rows, d, k)
        check_memory(needed, self.device_, what, MEMORY_ADVICE)

    def _factors(self, layer):
        """Kernel factors ``V_x = h_x ⊗ C_x`` of a LastLayer, as tensors on ``device_``."""
        h = self._tensor(layer.features)
        if layer.kind == "softmax":
            return softmax_factors(h, self._tensor(layer.proba))
        if layer.kind == "binary":
            return binary_factors(h, self._tensor(layer.proba[:, 1]))
        return rank_one_factors(h)


def _takes_raw_arrays(estimator):
    """Whether X goes straight into a linear model (so numeric checks apply to it)."""
    estimator = _unwrap(estimator)
    return not isinstance(estimator, Pipeline) and not is_net(estimator)
