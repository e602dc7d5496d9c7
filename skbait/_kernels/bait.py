"""BAIT: greedy forward/backward minimisation of ``tr(M⁻¹ F)``, exact and incremental.

The state is :class:`~skbait._kernels.woodbury.TraceState`; the loop is
:func:`~skbait._kernels.greedy.greedy`. This module puts them together and checks the end
result.
"""

from typing import NamedTuple

import numpy as np

from ._constants import RECOMPUTE_DROP
from .distributed import local_part, sharded
from .greedy import greedy
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
