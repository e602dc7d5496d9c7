"""The Fisher family's shared base: samplers that design on last-layer Fisher factors."""

from numbers import Integral, Real

from ._kernels._numerics import exact_matmul
from ._kernels.fisher import fisher_sum
from .base import LastLayerSampler
from .utils._docstring import fill_doc
from .utils._memory import describe_design
from .utils._param_validation import Interval


@fill_doc
class FisherSampler(LastLayerSampler):
    """Base class of samplers that design on last-layer Fisher factors (BAIT, log-det).

    ``fit`` caches ``labeled_fisher_ = Σ_L V_x V_xᵀ``; ``select`` starts, under the
    reference conventions (:mod:`skbait._kernels.design`), from ``M₀ = αI + Σ_L I(x)/(n_L
    + n)`` with the candidate factors scaled by ``√(n/(n_L + n))``: the same kernel entry
    as the array-level function. Subclasses implement ``_select`` and ``_memory_need``,
    and may override ``_point_factors``.

    Parameters
    ----------
    {estimator}
    {embedding}
    alpha : float, default=1.0
        The regulariser λ of ``M₀ = λI + ...``.
    {prefit}
    {device}
    {chunk_size}

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
    >>> from skbait._fisher import FisherSampler
    >>> X, y = load_iris(return_X_y=True)
    >>> sampler = BaitSampler(LogisticRegression(), device="cpu").fit(X[::10], y[::10])
    >>> isinstance(sampler, FisherSampler), sampler.labeled_fisher_.shape  # D = (4 + 1)·3
    (True, (15, 15))
    """

    _parameter_constraints: dict = {
        **LastLayerSampler._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "chunk_size": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, estimator, *, embedding=None, alpha=1.0, prefit=False, device="auto",
                 chunk_size=None):
        super().__init__(estimator, embedding=embedding, prefit=prefit, device=device)
        self.alpha = alpha
        self.chunk_size = chunk_size

    def _memory_need(self, n_rows, d, k):
        needed, what = super()._memory_need(n_rows, d, k)
        return needed, describe_design(what, d, k)

    def _point_factors(self, layer):
        """The factors ``V_x`` the design is made of (the Fisher factors by default)."""
        return self._factors(layer)

    def _fit(self, X, y):
        super()._fit(X, y)
        with exact_matmul():
            total = fisher_sum(self._point_factors(self._last_layer(X)),
                               chunk_size=self.chunk_size)
        self.labeled_fisher_ = total.cpu().numpy()
