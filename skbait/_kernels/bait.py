"""BAIT: greedy forward/backward minimisation of ``tr(M⁻¹ F)``, exact and incremental.

The state is :class:`~skbait._kernels.woodbury.TraceState`; the loop is
:func:`~skbait._kernels.greedy.greedy`. This module puts them together and checks the end
result.
"""

from typing import NamedTuple

import numpy as np
import torch

from ._constants import RECOMPUTE_DROP
from ._numerics import exact_matmul
from .design import check_same_layer, pool_fisher, reference_start, refresh_interval
from .distributed import global_rows, local_part, sharded
from .greedy import greedy
from .threads import selection_threads, setup_threads
from .woodbury import TraceState


class BaitResult(NamedTuple):
    """Outcome of :func:`bait_greedy`.

    Attributes
    ----------
    indices : ndarray of int
        Chosen rows of the pool, in the order they were added.
    scores : ndarray of float
        Forward gain each returned row had when it was added.
    forward_gains : ndarray of float
        Decrease of ``tr(M⁻¹F)`` at each forward step.
    backward_losses : ndarray of float
        Increase of ``tr(M⁻¹F)`` at each backward (removal) step.
    objective : float
        ``tr(M⁻¹F)`` with the returned batch added.
    """

    indices: np.ndarray
    scores: np.ndarray
    forward_gains: np.ndarray
    backward_losses: np.ndarray
    objective: float


def bait_greedy(pool, fisher, m0, n_select, n_forward, *, chunk_size=None, refresh_every=None):
    """Choose ``n_select`` rows of ``pool`` minimising ``tr(M⁻¹ F)``: forward then backward.

    Parameters
    ----------
    pool : Factors
        Candidate factors ``Ṽ_x``, already scaled by the weight a pick adds to ``M``.
    fisher : torch.Tensor of shape (D, D)
        Target Fisher ``F`` (or the identity for the A-optimal variant).
    m0 : torch.Tensor of shape (D, D)
        ``M₀``: the regulariser plus what the labeled set contributes.
    n_select : int
        Rows to return.
    n_forward : int
        Forward steps (``≥ n_select``); the surplus is pruned greedily.
    chunk_size, refresh_every : see :class:`~skbait._kernels.woodbury.DesignState`.

    Returns
    -------
    BaitResult
        Ties go to the lowest index. A NaN or infinite score raises
        :class:`~skbait.exceptions.DegenerateProblemError`.
    """
    state = sharded(TraceState(local_part(pool), m0, fisher, chunk_size=chunk_size,
                               refresh_every=refresh_every, removals=n_forward > n_select))
    start = state.objective()
    result = greedy(state, n_select, n_forward)
    objective = state.objective()
    if objective * RECOMPUTE_DROP**0.5 < start:  # digits lost to cancellation: refactor M
        state.rebuild_minv()
        objective = state.objective()
    return BaitResult(*result, objective=objective)


def bait_select_factors(pool, labeled_sum, n_labeled, n_select, *, alpha=1.0, oversample=2,
                        backward=True, fisher="pool", chunk_size=None):
    """BAIT under the reference conventions: the one entry the sampler and
    :func:`skbait.bait_select` share.

    Parameters
    ----------
    pool : Factors
        The candidates' (unscaled) Fisher factors.
    labeled_sum : torch.Tensor of shape (D, D)
        ``Σ_L V_x V_xᵀ`` over the labeled set (zeros when nothing is labeled).
    n_labeled, n_select : int
    alpha, oversample, backward, fisher, chunk_size
        As for :class:`skbait.BaitSampler`.

    Returns
    -------
    BaitResult
    """
    check_same_layer(pool, labeled_sum)
    n_pool = global_rows(pool.h.shape[0])  # the whole pool's, when it is sharded
    n_forward = min(oversample * n_select, n_pool) if backward else n_select
    with exact_matmul(), selection_threads(local_part(pool), TraceState.n_matrices):
        m0, weight = reference_start(labeled_sum, n_labeled, n_select, alpha)
        if fisher == "identity":
            target = torch.eye(pool.n_params, dtype=m0.dtype, device=m0.device)
        else:
            target = pool_fisher(labeled_sum, pool, n_labeled, chunk_size=chunk_size,
                                 threads=setup_threads(local_part(pool), TraceState.n_matrices))
        return bait_greedy(pool.scaled(weight), target, m0, n_select, n_forward,
                           chunk_size=chunk_size, refresh_every=refresh_interval(m0.device))
