"""Greedy log-det (determinantal) selection on the Fisher factors or BADGE gradients."""

from ._fisher import FisherSampler
from ._heads import head_task
from ._kernels.gradient import gradient_factors
from ._kernels.logdet import logdet_select_factors
from ._kernels.memory import trace_state_bytes
from .utils._docstring import fill_doc
from .utils._param_validation import StrOptions


@fill_doc
class DeterminantalSampler(FisherSampler):
    """Greedy maximisation of ``log det M`` on last-layer factors (paper, Algorithms 2, 3).

    ``M`` starts, as in :class:`BaitSampler`, at ``M₀ = αI + Σ_L V_x V_xᵀ / (n_L + n)``,
    and each pick adds ``n/(n_L + n) · V_x V_xᵀ``. Each of ``n`` forward steps takes the
    candidate maximising ``log det(I + Ṽ_xᵀ M⁻¹ Ṽ_x)``, computed exactly with BAIT's
    incremental rank-``k`` updates; ties go to the lowest index. No backward pruning.

    Parameters
    ----------
    {estimator}
    {embedding}
    factor : {{"fisher", "gradient"}}, default="fisher"
        What each point contributes to ``M``. ``"fisher"``: the full rank-``k`` factor of
        its Fisher information, ``V_x V_xᵀ = I(x)`` (Algorithm 3). ``"gradient"``: the
        rank-1 BADGE gradient ``g_x = (e_ŷ − p_x) ⊗ h_x`` (Algorithm 2), for classifiers
        only.
    alpha : float, default=1.0
        The regulariser λ of ``M₀ = λI + ...``.
    {prefit}
    {device}
    {chunk_size}
    {distributed}

    Attributes
    ----------
    {model_attributes}
    labeled_fisher_ : ndarray of shape (D, D)
        ``Σ_L V_x V_xᵀ`` over the labeled set, ``D`` the number of last-layer parameters
        (with ``factor="gradient"``, ``Σ_L g_x g_xᵀ``).
    objective_ : float
        Set by ``select``: ``log det M`` with the chosen batch added.
    scores_ : ndarray of shape (n,)
        Set by ``select``: the increase of ``log det M`` at each greedy step, aligned with
        the returned indices.

    See Also
    --------
    BaitSampler : minimises ``tr(M⁻¹ F)`` on the same factors.
    BadgeSampler : k-means++ seeding on the gradients of ``factor="gradient"``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skbait import DeterminantalSampler
    >>> X, y = load_iris(return_X_y=True)
    >>> sampler = DeterminantalSampler(LogisticRegression(), device="cpu")
    >>> batch = sampler.fit(X[::10], y[::10]).select(X, 5)
    >>> bool(sampler.scores_.min() > 0)
    True
    """

    _parameter_constraints: dict = {
        **FisherSampler._parameter_constraints,
        "factor": [StrOptions({"fisher", "gradient"})],
        "distributed": ["boolean"],
    }

    def __init__(self, estimator, *, embedding=None, factor="fisher", alpha=1.0,
                 prefit=False, device="auto", chunk_size=None, distributed=False):
        super().__init__(estimator, embedding=embedding, alpha=alpha, prefit=prefit,
                         device=device, chunk_size=chunk_size)
        self.factor = factor
        self.distributed = distributed

    def _validate_fit_data(self, X, y):
        # before the generic refusal of a task the tags exclude: this one says why
        if self.factor == "gradient" and head_task(self.estimator) == "regression":
            raise ValueError(
                "factor='gradient' needs a classifier (the hallucinated gradient of a "
                "regressor is zero); use factor='fisher' for regression."
            )
        return super()._validate_fit_data(X, y)

    def _memory_need(self, n_rows, d, k):
        _, what = super()._memory_need(n_rows, d, k)
        # log-det tracks P_x only: no F, no Q_x
        return trace_state_bytes(
            n_rows, d, k, device=self.device_, chunk_size=self.chunk_size, fisher=False,
        ), what

    def _point_factors(self, layer):
        if self.factor == "gradient":
            return gradient_factors(self._tensor(layer.features), self._tensor(layer.proba))
        return self._factors(layer)

    def _select(self, X_pool, n):
        indices, gains, self.objective_ = logdet_select_factors(
            self._point_factors(self._last_layer(X_pool)), self._tensor(self.labeled_fisher_),
            self.n_labeled_, n, alpha=self.alpha, chunk_size=self.chunk_size,
        )
        return indices, gains

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.factor == "gradient":  # the hallucinated gradient of a regressor is zero
            tags.sampler_tags.tasks &= {"classification"}
        return tags
