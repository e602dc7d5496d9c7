"""Base classes: the public ``fit``/``select`` validate, subclasses fill in ``_fit``/``_select``."""

from abc import abstractmethod
import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from sklearn.pipeline import Pipeline

from ._heads import _unwrap, final_step, head_task, is_net, last_layer
from ._kernels._numerics import exact_matmul
from ._kernels.fisher import (
    binary_factors,
    fisher_sum,
    rank_one_factors,
    softmax_factors,
)
from ._kernels.memory import (
    MEMORY_ADVICE,
    check_memory,
    format_bytes,
    representation_bytes,
    trace_state_bytes,
)
from .utils._device import resolve_device
from .utils._docstring import fill_doc
from .utils._param_validation import HasMethods, StrOptions
from .utils._validation import check_finite_input, check_n


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
        try:
            self._validate_params()
            X, y = self._validate_fit_data(X, y)
            self.n_labeled_ = _num_rows(X)
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
            Distinct row indices into ``X_pool``, in the order they were chosen.
        """
        check_is_fitted(self)
        X_pool = self._validate_pool(X_pool)
        n = check_n(n, _num_rows(X_pool))
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
        from .utils._tags import with_sampler_tags  # here, to keep the change in this method

        tags = with_sampler_tags(super().__sklearn_tags__())
        tags.input_tags.sparse = True
        return tags


@fill_doc
class ModelSampler(BaseSampler):
    """Base class of samplers that query a model's last layer.

    It fits (a clone of) ``estimator`` on the labeled set, or checks it is fitted when
    ``prefit=True``, resolves the torch device, and turns the model's last layer on any
    ``X`` into tensors for the kernels. Subclasses implement ``_select`` and may override
    ``_fit_labeled(layer)`` to cache what the labeled set contributes.

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
    >>> from skbait.base import ModelSampler
    >>> class LargestNorm(ModelSampler):
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
        "estimator": [HasMethods(["fit"])],
        "prefit": ["boolean"],
        "device": [StrOptions({"auto", "cpu", "cuda"}), torch.device, str],
        "embedding": [None, callable, str],
    }

    #: Whether the selection holds ``D × D`` matrices over the last layer's parameters
    #: (named in the message when memory is short).
    _parameter_matrices = False

    #: Tasks a sampler is defined for; others get a clear error at ``fit``.
    _tasks = ("classification", "regression")

    def __init__(self, estimator, *, embedding=None, prefit=False, device="auto"):
        self.estimator = estimator
        self.embedding = embedding
        self.prefit = prefit
        self.device = device

    def _validate_fit_data(self, X, y):
        task = head_task(self.estimator)
        if task not in self._tasks:
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
        return self._check_X(X_pool, reset=False)

    def _check_X(self, X, reset):
        if _takes_raw_arrays(self.estimator):
            return validate_data(self, X, accept_sparse=("csr", "csc"), reset=reset)
        # A Pipeline's first step decides what input it takes (text, DataFrames...), and a
        # net takes float32 arrays or tensors as they are; the representation they produce
        # is checked in `_last_layer`.
        if is_net(_unwrap(self.estimator)):
            check_finite_input(X)
        return validate_data(self, X, reset=reset, skip_check_array=True)

    def _fit(self, X, y):
        if self.prefit:
            try:
                check_is_fitted(self.estimator)
            except NotFittedError as exc:
                raise NotFittedError(
                    f"prefit=True but the {type(self.estimator).__name__} passed as "
                    "estimator is not fitted. Fit it first, or use prefit=False."
                ) from exc
            self.estimator_ = self.estimator
        else:
            self.estimator_ = clone(self.estimator).fit(X, y)
        self.device_ = resolve_device(self.device, final_step(self.estimator_))
        if type(self)._fit_labeled is not ModelSampler._fit_labeled:
            # only samplers that use the labeled set pay for its last layer
            self._fit_labeled(self._last_layer(X))

    def _fit_labeled(self, layer):
        """Hook: cache what the labeled set contributes (``layer`` is its LastLayer)."""

    def _last_layer(self, X):
        layer = last_layer(self.estimator_, X, self.embedding, check=self._check_memory)
        if not np.all(np.isfinite(layer.features)):
            raise ValueError("The representation of X contains NaN or infinity.")
        return layer

    def _memory_bytes(self, n_rows, d, k):
        """Hook: peak bytes the sampler needs for a last layer of shape ``(n_rows, d, k)``.

        The default counts the dense representation; samplers with a larger state override
        it with an estimate from :mod:`skbait._kernels.memory`.
        """
        return representation_bytes(n_rows, d)

    def _check_memory(self, n_rows, d, k):
        """Refuse, before allocating, a last layer whose selection cannot fit on device_."""
        what = f"{type(self).__name__} on {n_rows} rows with d={d}, k={k}"
        if self._parameter_matrices:
            what += (f" (D = d·k = {d * k}; one D × D float64 matrix takes "
                     f"{format_bytes((d * k) ** 2 * 8)})")
        check_memory(self._memory_bytes(n_rows, d, k), self.device_, what, MEMORY_ADVICE)

    def _tensor(self, array):
        array = np.asarray(array)
        if not array.flags.writeable:  # torch only wraps writeable memory without a warning
            array = array.copy()
        return torch.as_tensor(array, dtype=torch.float64, device=self.device_)

    def _factors(self, layer):
        """Kernel factors ``V_x = h_x ⊗ C_x`` of a LastLayer, as tensors on ``device_``."""
        h = self._tensor(layer.features)
        if layer.kind == "softmax":
            return softmax_factors(h, self._tensor(layer.proba))
        if layer.kind == "binary":
            return binary_factors(h, self._tensor(layer.proba[:, 1]))
        return rank_one_factors(h)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.sparse = _takes_raw_arrays(self.estimator)
        tags.sampler_tags.requires_model = True
        try:
            tags.sampler_tags.tasks &= {head_task(self.estimator)}
        except TypeError:
            pass  # a model skbait does not support: fit says so, and names those it does
        return tags


def _takes_raw_arrays(estimator):
    """Whether X goes straight into a linear model (so numeric checks apply to it)."""
    estimator = _unwrap(estimator)
    return not isinstance(estimator, Pipeline) and not is_net(estimator)


def _num_rows(X):
    return X.shape[0] if hasattr(X, "shape") else len(X)


@fill_doc
class FisherSampler(ModelSampler):
    """Base class of samplers that design on last-layer Fisher factors (BAIT, log-det).

    ``fit`` caches ``labeled_fisher_ = Σ_L V_x V_xᵀ``; ``_design`` builds what both
    objectives share under the reference conventions: ``M₀ = αI + Σ_L I(x)/(n_L + n)``
    and the candidate factors scaled by ``√(n/(n_L + n))``. Subclasses define ``alpha``
    and ``chunk_size`` parameters and may override ``_point_factors``.

    Parameters
    ----------
    {estimator}
    {embedding}
    {prefit}
    {device}

    Attributes
    ----------
    {fitted_attributes}
    labeled_fisher_ : ndarray of shape (D, D)
        ``Σ_L V_x V_xᵀ`` over the labeled set, ``D`` the number of last-layer parameters.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skbait import BaitSampler
    >>> from skbait.base import FisherSampler
    >>> X, y = load_iris(return_X_y=True)
    >>> sampler = BaitSampler(LogisticRegression(), device="cpu").fit(X[::10], y[::10])
    >>> isinstance(sampler, FisherSampler), sampler.labeled_fisher_.shape  # D = (4 + 1)·3
    (True, (15, 15))
    """

    #: Whether the kernel tracks ``Q_x = Ṽᵀ M⁻¹ F M⁻¹ Ṽ`` besides ``P_x`` (BAIT does)
    _tracks_fisher = True

    def _memory_bytes(self, n_rows, d, k):
        return trace_state_bytes(
            n_rows, d, k, device=self.device_, chunk_size=self.chunk_size,
            fisher=self._tracks_fisher, refresh=self.device_.type == "cuda",
        )

    def _point_factors(self, layer):
        """The factors ``V_x`` the design is made of (the Fisher factors by default)."""
        return self._factors(layer)

    def _fit_labeled(self, layer):
        with exact_matmul():
            total = fisher_sum(self._point_factors(layer), chunk_size=self.chunk_size)
        self.labeled_fisher_ = total.cpu().numpy()

    def _design(self, X_pool, n):
        """``(pool, labeled, m0, scaled)`` for a batch of ``n`` from ``X_pool``.

        ``pool`` holds the unscaled candidate factors, ``labeled`` is ``Σ_L V_x V_xᵀ`` on
        ``device_``, ``scaled`` the factors a pick adds to ``M``.
        """
        pool = self._point_factors(self._last_layer(X_pool))
        labeled = self._tensor(self.labeled_fisher_)
        if labeled.shape[0] != pool.n_params:
            raise ValueError(
                f"The pool's last layer has {pool.n_params} parameters but the labeled "
                f"set's had {labeled.shape[0]}; refit the sampler."
            )
        weight = n / (self.n_labeled_ + n)
        eye = torch.eye(pool.n_params, dtype=torch.float64, device=self.device_)
        m0 = self.alpha * eye + labeled * (weight / n)
        return pool, labeled, m0, pool.scaled(weight)

    def _refresh_every(self):
        """Updates between exact recomputations of ``M⁻¹`` (only on CUDA, see kernels)."""
        return 50 if self.device_.type == "cuda" else None
