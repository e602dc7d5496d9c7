"""Uniform random sampling: the baseline every strategy must beat."""

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_consistent_length, validate_data

from ._kernels.distributed import global_rows
from .base import BaseSampler
from .utils._docstring import fill_doc
from .utils._validation import num_rows


@fill_doc
class RandomSampler(BaseSampler):
    """Choose ``n`` points of the pool uniformly at random, without replacement.

    Each candidate gets an independent uniform key in ``[0, 1)`` and the ``n`` largest
    keys are chosen, which is a uniform draw without replacement. Only the pool's length
    is read, so any input with one works as it does in a Pipeline: arrays, sparse
    matrices, DataFrames with text or categories, lists of documents. ``y`` is optional.

    Parameters
    ----------
    {random_state}
    {distributed}

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during ``fit``, where ``X`` has a width (not for a list
        of documents).
    n_labeled_ : int
        Size of the labeled set seen during ``fit``.
    scores_ : ndarray of shape (n,)
        Set by ``select``: the random key of each returned index, in decreasing order.

    Examples
    --------
    >>> import numpy as np
    >>> from skbait import RandomSampler
    >>> X = np.arange(20.0).reshape(10, 2)
    >>> sampler = RandomSampler(random_state=0).fit(X[:3])
    >>> batch = sampler.select(X, 4)
    >>> len(set(batch))
    4
    """

    _parameter_constraints: dict = {"random_state": ["random_state"], "distributed": ["boolean"]}

    def __init__(self, *, random_state=None, distributed=False):
        self.random_state = random_state
        self.distributed = distributed

    def _validate_fit_data(self, X, y):
        _check_sized(X, "X")
        validate_data(self, X, reset=True, skip_check_array=True)  # n_features_in_, if any
        if y is not None:
            check_consistent_length(X, y)
        return X, y

    def _validate_pool(self, X_pool):
        _check_sized(X_pool, "X_pool")
        return X_pool

    def _select(self, X_pool, n):
        # sharded: every rank draws the keys of the whole pool alike
        keys = check_random_state(self.random_state).uniform(size=global_rows(num_rows(X_pool)))
        order = np.argsort(-keys, kind="stable")[:n]
        return order, keys[order]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.sampler_tags.random = True
        tags.sampler_tags.reads_features = False
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags


def _check_sized(X, name):
    """Refuse what has no rows; a numeric ndarray as scikit-learn would (2-D, real)."""
    if not hasattr(X, "shape") and not hasattr(X, "__len__"):
        raise TypeError(f"{name} must have a length (an array, a DataFrame, a list), got "
                        f"{type(X).__name__}.")
    if isinstance(X, np.ndarray) and X.dtype.kind in "biufc":
        check_array(X, input_name=name, ensure_all_finite=False)
    elif num_rows(X) == 0:
        raise ValueError(f"{name} is empty: it has 0 samples.")
