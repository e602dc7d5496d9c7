"""BADGE: k-means++ seeding on hallucinated last-layer gradients."""

from sklearn.utils import check_random_state

from ._kernels.gradient import residual
from ._kernels.kmeanspp import kmeanspp_seeding
from .base import LastLayerSampler
from .utils._docstring import fill_doc


@fill_doc
class BadgeSampler(LastLayerSampler):
    """Batch active learning by diverse gradient embeddings (BADGE, Ash et al., ICLR 2020).

    Each candidate is embedded as the gradient of the loss with respect to the last
    layer, had its label been the model's prediction: ``g_x = (e_ŷ − p_x) ⊗ h_x`` with
    ``ŷ = argmax p_x``. The batch is the k-means++ seeding of these gradients: the first
    point has the largest ``‖g_x‖``, each next one is drawn among the points not chosen
    yet with probability proportional to its squared distance to the nearest point
    chosen so far. The distances factor through ``h`` and ``e_ŷ − p``, so the ``n × dk``
    matrix of gradients is never built. Defined for classifiers only.

    Parameters
    ----------
    {estimator}
    {embedding}
    {random_state}
    {prefit}
    {device}
    {distributed}

    Attributes
    ----------
    {model_attributes}
    scores_ : ndarray of shape (n,)
        Set by ``select``: for each returned index, its squared gradient distance to the
        nearest earlier pick when it was drawn (its squared gradient norm for the first),
        i.e. the ``D²`` weight it was drawn with.

    See Also
    --------
    DeterminantalSampler : greedy log-det on the same gradients (``factor="gradient"``).
    BaitSampler : the Fisher-based objective BADGE approximates.

    References
    ----------
    .. [1] J. T. Ash, C. Zhang, A. Krishnamurthy, J. Langford, A. Agarwal. "Deep Batch
       Active Learning by Diverse, Uncertain Gradient Lower Bounds." ICLR 2020.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skbait import BadgeSampler
    >>> X, y = load_iris(return_X_y=True)
    >>> sampler = BadgeSampler(LogisticRegression(), random_state=0, device="cpu")
    >>> batch = sampler.fit(X[::10], y[::10]).select(X, 5)
    >>> batch.shape
    (5,)
    """

    _parameter_constraints: dict = {
        **LastLayerSampler._parameter_constraints,
        "random_state": ["random_state"],
        "distributed": ["boolean"],
    }

    def __init__(self, estimator, *, embedding=None, random_state=None, prefit=False,
                 device="auto", distributed=False):
        super().__init__(estimator, embedding=embedding, prefit=prefit, device=device)
        self.random_state = random_state
        self.distributed = distributed

    def _select(self, X_pool, n):
        layer = self._last_layer(X_pool)
        a = residual(self._tensor(layer.proba))
        return kmeanspp_seeding(a, self._tensor(layer.features), n,
                                check_random_state(self.random_state))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.sampler_tags.random = True
        tags.sampler_tags.tasks &= {"classification"}
        return tags
