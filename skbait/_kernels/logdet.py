"""Greedy log-det maximisation (paper, Algorithms 2 and 3), exact and incremental.

The state is :class:`~skbait._kernels.woodbury.DesignState`, which tracks
``P_x = Ṽ_xᵀ M⁻¹ Ṽ_x`` for every candidate; ``log det(M + Ṽ_x Ṽ_xᵀ) − log det(M) =
log det(I + P_x)`` is each candidate's gain. A step costs ``O(n d k² + n k³ + D² k)``; the
``n × D × k`` tensor is never built.
"""

import numpy as np
import torch

from ._numerics import exact_matmul
from .design import check_same_layer, reference_start, refresh_interval
from .distributed import local_part, sharded
from .greedy import greedy
from .threads import selection_threads
from .woodbury import DesignState


def logdet_greedy(pool, m0, n_select, *, chunk_size=None, refresh_every=None):
    """Choose ``n_select`` rows of ``pool`` greedily maximising ``log det M`` (forward only).

    Parameters
    ----------
    pool : Factors
        Candidate factors ``Ṽ_x``, already scaled by the weight a pick adds to ``M``.
    m0 : torch.Tensor of shape (D, D)
        ``M₀`` (symmetric positive definite).
    n_select : int
        Rows to return.
    chunk_size, refresh_every : see :class:`~skbait._kernels.woodbury.DesignState`.

    Returns
    -------
    indices : ndarray of shape (n_select,), dtype=np.intp
        Chosen rows in the order they were added; ties go to the lowest index.
    gains : ndarray of shape (n_select,)
        ``log det(I + P_x)`` of each row when it was added: the increase of ``log det M``.
    """
    state = sharded(DesignState(local_part(pool), m0, chunk_size=chunk_size,
                                refresh_every=refresh_every))
    result = greedy(state, n_select)
    return result.indices, np.asarray(result.scores, dtype=float)


def logdet_select_factors(pool, labeled_sum, n_labeled, n_select, *, alpha=1.0,
                          chunk_size=None):
    """Greedy log-det under the reference conventions: the one entry
    :class:`skbait.DeterminantalSampler` and :func:`skbait.determinantal_select` share.

    Parameters
    ----------
    pool : Factors
        The candidates' (unscaled) factors.
    labeled_sum : torch.Tensor of shape (D, D)
        ``Σ_L V_x V_xᵀ`` over the labeled set (zeros when nothing is labeled).
    n_labeled, n_select : int
    alpha, chunk_size
        As for :class:`skbait.DeterminantalSampler`.

    Returns
    -------
    indices : ndarray of shape (n_select,), dtype=np.intp
    gains : ndarray of shape (n_select,)
    objective : float
        ``log det M`` with the batch added.
    """
    check_same_layer(pool, labeled_sum)
    with exact_matmul(), selection_threads(local_part(pool), DesignState.n_matrices):
        m0, weight = reference_start(labeled_sum, n_labeled, n_select, alpha)
        indices, gains = logdet_greedy(pool.scaled(weight), m0, n_select,
                                       chunk_size=chunk_size,
                                       refresh_every=refresh_interval(m0.device))
        objective = float(torch.logdet(m0)) + float(gains.sum())
    return indices, gains, objective
