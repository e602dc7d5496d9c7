"""Uniform random sampling: the baseline every strategy must beat."""

import numpy as np
from sklearn.utils import check_random_state

from .base import BaseSampler
from .utils._docstring import fill_doc


@fill_doc
class RandomSampler(BaseSampler):
    """Choose ``n`` points of the pool uniformly at random, without replacement.

    Each candidate gets an independent uniform key in ``[0, 1)`` and the ``n`` largest
    keys are chosen, which is a uniform draw without replacement. ``fit`` only records
    the number of features (so a pool of another width is rejected); ``y`` is optional.

    Parameters
    ----------
    {random_state}

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during ``fit``.
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

    _parameter_constraints: dict = {"random_state": ["random_state"]}

    def __init__(self, *, random_state=None):
        self.random_state = random_state

    def _select(self, X_pool, n):
        keys = check_random_state(self.random_state).uniform(size=X_pool.shape[0])
        order = np.argsort(-keys, kind="stable")[:n]
        return order, keys[order]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.sampler_tags.random = True
        return tags
