"""Uncertainty scores of predicted class probabilities, and the top-``n`` choice."""

import numpy as np
import torch

from ._numerics import check_finite
from .distributed import active, local_part


def uncertainty(proba, method):
    """Per-point uncertainty; larger means more uncertain.

    Parameters
    ----------
    proba : torch.Tensor of shape (n, k)
        Predicted class probabilities.
    method : {"least_confident", "margin", "entropy"}
        ``"least_confident"``: ``1 − max_c p_c``; ``"margin"``: ``1 − (p₍₁₎ − p₍₂₎)``,
        one minus the gap between the two most probable classes; ``"entropy"``:
        ``−Σ_c p_c log p_c`` (with ``0 log 0 = 0``).

    Returns
    -------
    scores : torch.Tensor of shape (n,)
    """
    if method == "least_confident":
        return 1.0 - proba.amax(dim=1)
    if method == "margin":
        top = proba.topk(2, dim=1).values
        return 1.0 - (top[:, 0] - top[:, 1])
    if method == "entropy":
        return -torch.special.xlogy(proba, proba).sum(dim=1)
    raise ValueError(f"Unknown uncertainty method {method!r}.")


def top_n(scores, n_select):
    """Indices of the ``n_select`` largest scores, largest first, ties to the lowest index.

    Returns
    -------
    indices : ndarray of shape (n_select,), dtype=np.intp
    scores : ndarray of shape (n_select,)
    """
    if active() is not None:  # a shard of the pool (skbait._kernels.distributed)
        from .sharded import sharded_top_n
        return sharded_top_n(active(), local_part(scores), n_select)
    check_finite(scores, torch.ones_like(scores, dtype=torch.bool), "Uncertainty")
    order = torch.sort(scores, descending=True, stable=True).indices[:n_select]
    return order.cpu().numpy().astype(np.intp), scores[order].cpu().numpy()
