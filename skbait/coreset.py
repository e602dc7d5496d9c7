"""Coreset: greedy k-center on a representation, starting from the labeled set."""

from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_array

from ._heads import densify, representation
from ._kernels.kcenter import kcenter_greedy, unit_rows
from .base import LastLayerSampler
from .utils._docstring import fill_doc
from .utils._param_validation import HasMethods, Interval, StrOptions


@fill_doc
class CoresetSampler(LastLayerSampler):
    """Greedy k-center on a representation (Coreset, Sener and Savarese, ICLR 2018).

    Each step takes the pool point farthest from its nearest centre, the centres being
    the labeled points and the points chosen so far; ties go to the lowest index. The
    representation is ``X`` itself when ``estimator`` is None (``fit`` then needs no
    ``y``), and otherwise the model's representation ``h(x)``, taken through the same
    ``embedding`` hook and with the same defaults as every sampler (``X`` for a linear
    model; an MLP's last hidden layer; for a Pipeline, its last step's on what precedes
    it; a skorch net's input to its last ``torch.nn.Linear``), without a bias column. A
    model without one (a random forest) needs a callable ``embedding``. A sparse
    representation is made dense if that takes at most 1 GB, and refused otherwise.
    Distances are computed chunk by chunk, so beyond the representation itself the memory
    is ``O(n)`` plus one chunk of bounded size.

    Parameters
    ----------
    {representation_estimator}
    metric : {{"euclidean", "cosine"}}, default="euclidean"
        Distance between representations; ``"cosine"`` is ``1 − cos(h_i, h_j)`` and
        needs nonzero rows.
    {embedding}
    {prefit}
    {device}
    {chunk_size}
    {distributed}

    Attributes
    ----------
    estimator_ : estimator object or None
        The fitted model (a fitted clone of ``estimator``, or a copy of it when
        ``prefit=True``); None when ``estimator`` is None.
    n_features_in_ : int
        Number of features seen during ``fit``.
    n_labeled_ : int
        Size of the labeled set seen during ``fit``.
    device_ : torch.device
        Device the kernels run on.
    labeled_representation_ : ndarray of shape (n_labeled, d)
        The labeled set's representation, the first centres.
    scores_ : ndarray of shape (n,)
        Set by ``select``: the distance (in ``metric``) of each returned index to its
        nearest centre when it was chosen; non-increasing.

    Examples
    --------
    >>> import numpy as np
    >>> from skbait import CoresetSampler
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 0.0], [0.0, 3.0], [4.0, 4.0]])
    >>> sampler = CoresetSampler(device="cpu").fit(X[:1])
    >>> sampler.select(X, 2)
    array([4, 2])
    """

    _parameter_constraints: dict = {
        **LastLayerSampler._parameter_constraints,
        "estimator": [HasMethods(["fit"]), None],
        "metric": [StrOptions({"euclidean", "cosine"})],
        "chunk_size": [Interval(Integral, 1, None, closed="left"), None],
        "distributed": ["boolean"],
    }

    def __init__(self, estimator=None, *, metric="euclidean", embedding=None, prefit=False,
                 device="auto", chunk_size=None, distributed=False):
        super().__init__(estimator, embedding=embedding, prefit=prefit, device=device)
        self.metric = metric
        self.chunk_size = chunk_size
        self.distributed = distributed

    def _model_needs(self):
        # a callable embedding computes h(x) from any model; otherwise the model gives it
        return "model" if callable(self.embedding) else "representation"

    def _fit(self, X, y):
        super()._fit(X, y)
        self.labeled_representation_ = self._representation(X).cpu().numpy()

    def _select(self, X_pool, n):
        pool = self._representation(X_pool)
        labeled = self._tensor(self.labeled_representation_)
        if pool.shape[1] != labeled.shape[1]:
            raise ValueError(
                f"The pool's representation has {pool.shape[1]} dimensions but the "
                f"labeled set's had {labeled.shape[1]}; refit the sampler."
            )
        indices, sq_distances = kcenter_greedy(pool, labeled, n, chunk_size=self.chunk_size)
        if self.metric == "cosine":
            return indices, sq_distances / 2  # ‖x̂ − ĉ‖² / 2 = 1 − cos(x, c)
        return indices, np.sqrt(sq_distances)

    def _representation(self, X):
        """The representation as a tensor on ``device_``, unit rows for ``"cosine"``."""
        h = X if self.estimator_ is None else representation(
            self.estimator_, X, self.embedding).features
        h = self._tensor(check_array(densify(h), dtype=np.float64, input_name="representation"))
        return unit_rows(h) if self.metric == "cosine" else h
