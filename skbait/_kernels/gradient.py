"""The hallucinated last-layer gradient of BADGE, ``g_x = (e_ŷ − p_x) ⊗ h_x``.

``ŷ = argmax p_x`` (ties to the lowest class), so ``e_ŷ − p_x`` is the gradient of the
cross-entropy loss with respect to the logits, up to sign, had the label been the model's
own prediction. Its norm is small for confident points and grows with ``‖h_x‖``.
"""

import torch

from .fisher import Factors, rank_one_factors


def residual(proba):
    """``a_x = e_ŷ − p_x`` for a batch of class probabilities ``proba`` (n, k)."""
    return _predicted(proba) - proba


def _predicted(proba):
    """One-hot ``e_ŷ`` of the most probable class (ties to the lowest class)."""
    onehot = torch.zeros_like(proba)
    return onehot.scatter_(1, proba.argmax(dim=1, keepdim=True), 1.0)


def gradient_factors(h, proba):
    """Rank-1 :class:`Factors` with ``V_x V_xᵀ = g_x g_xᵀ``, in the head's parameter space.

    For ``k > 2`` classes the parameters are those of a softmax head (``D = d·k``) and
    ``V_x = h_x ⊗ C_x`` with ``C_x = diag(e_ŷ) − p_x e_ŷᵀ``: column ŷ of ``V_x`` is
    ``g_x`` and the other ``k − 1`` columns are zero. For two classes the head is
    sklearn's binary logistic model with one weight vector (``D = d``), whose gradient is
    ``(p₁ − 1[ŷ = 1]) h_x``, as in :func:`~skbait._kernels.fisher.binary_factors`.

    Parameters
    ----------
    h : torch.Tensor of shape (n, d)
    proba : torch.Tensor of shape (n, k)

    Returns
    -------
    Factors
    """
    if proba.shape[1] == 2:
        return rank_one_factors(h, residual(proba)[:, 1])
    return Factors(h, _predicted(proba), proba)
