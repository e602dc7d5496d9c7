"""The design arithmetic of the authors' reference code (design note, section 2).

With ``n_L`` labeled points and a batch of ``n``: ``M₀ = αI + Σ_L I(x) / (n_L + n)``,
each pick adds ``n/(n_L + n) · I(x)`` to ``M``, and the pool Fisher
``F = (Σ_L I(x) + Σ_U I(x)) / (n_L + n_U)`` averages over labeled and pool points.
"""

import torch

from ._constants import CUDA_REFRESH_EVERY
from .distributed import global_rows, local_part, reduce_sum
from .fisher import fisher_sum


def reference_start(labeled_sum, n_labeled, n_select, alpha):
    """``(M₀, weight)``: the starting matrix and the weight a pick adds to ``M``.

    Parameters
    ----------
    labeled_sum : torch.Tensor of shape (D, D)
        ``Σ_L V_x V_xᵀ`` over the labeled set.
    n_labeled, n_select : int
        ``n_L`` and the batch size ``n``.
    alpha : float
        The regulariser λ.

    Returns
    -------
    m0 : torch.Tensor of shape (D, D)
    weight : float
        ``n / (n_L + n)``; the candidates' factors are scaled by its square root.
    """
    weight = n_select / (n_labeled + n_select)
    eye = torch.eye(labeled_sum.shape[0], dtype=labeled_sum.dtype, device=labeled_sum.device)
    return alpha * eye + labeled_sum * (weight / n_select), weight


def pool_fisher(labeled_sum, pool, n_labeled, *, chunk_size=None, threads=None):
    """``F``: the mean pointwise Fisher over the labeled set and the pool ``Factors``.

    On a shard of the pool (:mod:`skbait._kernels.distributed`) the sum runs over every
    shard. ``threads``: as for :func:`~skbait._kernels.fisher.fisher_sum`.
    """
    pool = local_part(pool)
    local = fisher_sum(pool, chunk_size=chunk_size, threads=threads)
    return (labeled_sum + reduce_sum(local)) / (
        n_labeled + global_rows(pool.h.shape[0])
    )


def refresh_interval(device):
    """Updates between exact recomputations of ``M⁻¹``: on CUDA only (see
    :data:`~skbait._kernels._constants.CUDA_REFRESH_EVERY`); None elsewhere."""
    return CUDA_REFRESH_EVERY if torch.device(device).type == "cuda" else None


def check_same_layer(pool, labeled_sum):
    """Raise ValueError unless the pool's factors and the labeled Fisher share a layer."""
    if labeled_sum.shape != (pool.n_params, pool.n_params):
        raise ValueError(
            f"The pool's last layer has {pool.n_params} parameters but the labeled set's "
            f"has {labeled_sum.shape[0]}: both must come from the same model and "
            "representation (refit the sampler on this model's labeled set)."
        )
