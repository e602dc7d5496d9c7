"""Uncertainty sampling: the points the model is least sure about."""

from ._heads import predict_proba
from ._kernels.uncertainty import top_n, uncertainty
from .base import ModelSampler
from .utils._docstring import fill_doc
from .utils._param_validation import StrOptions


@fill_doc
class UncertaintySampler(ModelSampler):
    """Choose the ``n`` points whose predicted class distribution is most uncertain.

    Uncertainty is measured on ``p_x = estimator_.predict_proba(x)``; ties go to the
    lowest index. Defined for classifiers only: any that has ``predict_proba``.

    Parameters
    ----------
    {proba_estimator}
    method : {{"least_confident", "margin", "entropy"}}, default="least_confident"
        ``"least_confident"`` scores ``1 − max_c p_c`` (the paper's "Confidence"
        baseline); ``"margin"`` scores ``1 − (p₍₁₎ − p₍₂₎)``, one minus the gap between
        the two most probable classes; ``"entropy"`` scores ``−Σ_c p_c log p_c``.
    {prefit}
    {device}
    {distributed}

    Attributes
    ----------
    {model_attributes}
    scores_ : ndarray of shape (n,)
        Set by ``select``: the uncertainty score of each returned index (larger is more
        uncertain), in decreasing order.

    See Also
    --------
    BadgeSampler : uncertainty and diversity through gradient embeddings.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skbait import UncertaintySampler
    >>> X, y = load_iris(return_X_y=True)
    >>> sampler = UncertaintySampler(LogisticRegression(), method="margin", device="cpu")
    >>> batch = sampler.fit(X[::10], y[::10]).select(X, 5)
    >>> bool(sampler.scores_[0] >= sampler.scores_[-1])
    True
    """

    _parameter_constraints: dict = {
        **ModelSampler._parameter_constraints,
        "method": [StrOptions({"least_confident", "margin", "entropy"})],
        "distributed": ["boolean"],
    }

    def __init__(self, estimator, *, method="least_confident", prefit=False, device="auto",
                 distributed=False):
        super().__init__(estimator, prefit=prefit, device=device)
        self.method = method
        self.distributed = distributed

    def _model_needs(self):
        return "proba"  # any classifier with predict_proba

    def _select(self, X_pool, n):
        proba = predict_proba(self.estimator_, X_pool)
        return top_n(uncertainty(self._tensor(proba), self.method), n)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.sampler_tags.tasks &= {"classification"}
        return tags
