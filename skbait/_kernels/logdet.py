"""Greedy log-det maximisation (paper, Algorithms 2 and 3), exact and incremental.

It reuses BAIT's state: :class:`~skbait._kernels.bait.TraceState` without ``F`` tracks
``P_x = Ṽ_xᵀ M⁻¹ Ṽ_x`` for every candidate under rank-``k`` Woodbury updates, and
``log det(M + Ṽ_x Ṽ_xᵀ) − log det(M) = log det(I + P_x)`` is each candidate's gain.
A step costs ``O(n d k² + n k³ + D² k)``; the ``n × D × k`` tensor is never built.
"""

import numpy as np
import torch

from ._numerics import checked_argmax, chunk_rows
from .bait import TraceState, gain_route, logdet_planes


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
    chunk_size, refresh_every : see :class:`~skbait._kernels.bait.TraceState`.

    Returns
    -------
    indices : ndarray of shape (n_select,), dtype=np.intp
        Chosen rows in the order they were added; ties go to the lowest index.
    gains : ndarray of shape (n_select,)
        ``log det(I + P_x)`` of each row when it was added: the increase of ``log det M``.
    """
    state = TraceState(pool, m0, None, chunk_size=chunk_size, refresh_every=refresh_every,
                       removals=False)
    n, k = pool.h.shape[0], pool.s.shape[1]
    step = chunk_rows(n, 2 * k * k, device=m0.device, dtype=m0.dtype, chunk_size=chunk_size)
    planes = None
    if k > 1 and gain_route(m0.device, k) == "planes":  # as BAIT's gains
        planes = m0.new_empty((k, k, min(step, n)))
    chosen = torch.zeros(n, dtype=torch.bool, device=m0.device)
    indices, gains = [], []
    for i in range(n_select):
        gain = _logdet_gain(state.p, step, planes)
        j, value = checked_argmax(gain, ~chosen, "Log-det gain")
        indices.append(j)
        gains.append(value)
        chosen[j] = True
        if i + 1 < n_select:
            state.update(j, +1)
    return np.asarray(indices, dtype=np.intp), np.asarray(gains, dtype=float)


def _logdet_gain(p, step, planes=None):
    """``log det(I + P_x)`` for a batch of PSD ``P_x``; NaN where ``I + P_x`` is not PD.

    With ``planes`` (a (k, k, step) workspace) by elimination across the batch
    (:func:`~skbait._kernels.bait.logdet_planes`), otherwise by batched Cholesky.
    """
    if p.shape[1] == 1:
        return torch.log1p(p[:, 0, 0])
    out = torch.empty(p.shape[0], dtype=p.dtype, device=p.device)
    eye = torch.eye(p.shape[1], dtype=p.dtype, device=p.device)
    for start in range(0, p.shape[0], step):
        block = p[start : start + step]
        if planes is not None:
            out[start : start + step] = logdet_planes(block, planes[:, :, : block.shape[0]])
        else:
            chol, info = torch.linalg.cholesky_ex(eye + block)
            gain = 2 * chol.diagonal(dim1=1, dim2=2).log().sum(dim=1)
            out[start : start + step] = gain.masked_fill(info != 0, torch.nan)
    return out
