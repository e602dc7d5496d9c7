"""k-means++ seeding on BADGE's gradient embedding, without forming the embedding.

The points are ``g_x = a_x ⊗ h_x`` (``a_x ∈ R^k``, ``h_x ∈ R^d``). Their squared distances
factor, ``‖g_i − g_j‖² = ‖a_i‖²‖h_i‖² + ‖a_j‖²‖h_j‖² − 2 (a_i·a_j)(h_i·h_j)``, so a new
centre costs ``O(n (d + k))`` and memory stays ``O(n (d + k))``: the ``n × dk`` matrix of
gradients is never built.
"""

import numpy as np
import torch

from ._constants import ROUNDING_ULPS
from ._numerics import check_finite
from .distributed import active, local_part


def kmeanspp_seeding(a, h, n_select, random_state):
    """Choose ``n_select`` distinct rows by k-means++ seeding on ``g_x = a_x ⊗ h_x``.

    The first centre is the point of largest ``‖g_x‖`` (ties to the lowest index). Each
    next centre is drawn among the points not yet chosen with probability proportional to
    ``D²(x)``, the squared distance to the nearest centre so far. If every remaining point
    coincides with a centre (all ``D² = 0``), the next one is drawn uniformly among them.

    Parameters
    ----------
    a : torch.Tensor of shape (n, k)
        Output-side factor (BADGE: ``e_ŷ − p``).
    h : torch.Tensor of shape (n, d)
        Representation.
    n_select : int
        Number of centres, ``1 <= n_select <= n``.
    random_state : numpy.random.RandomState
        Source of the draws. They are made on the CPU from ``D²`` in float64, so a seed
        gives the same draws whatever the device.

    Returns
    -------
    indices : ndarray of shape (n_select,), dtype=np.intp
        The centres in the order they were chosen.
    sq_distances : ndarray of shape (n_select,)
        ``D²`` of each centre when it was chosen; for the first, its squared norm.
    """
    if active() is not None:  # a shard of the pool (skbait._kernels.distributed)
        from .sharded import sharded_seeding
        return sharded_seeding(active(), local_part(a), local_part(h), n_select,
                               random_state)
    n = h.shape[0]
    sq_a = (a * a).sum(dim=1)
    sq_h = (h * h).sum(dim=1)
    sq_norm = sq_a * sq_h
    check_finite(sq_norm, torch.ones(n, dtype=torch.bool, device=h.device),
                 "Squared gradient norm")
    tiny = ROUNDING_ULPS * torch.finfo(sq_norm.dtype).eps
    first = int(torch.argmax(sq_norm))
    indices, scores = [first], [float(sq_norm[first])]
    nearest = torch.full_like(sq_norm, torch.inf)
    chosen = np.zeros(n, dtype=bool)
    chosen[first] = True
    centre = first
    for _ in range(n_select - 1):
        sq_dist = sq_norm + sq_norm[centre] - 2 * _dots(a, centre) * _dots(h, centre)
        noise = tiny * (sq_norm + sq_norm[centre])
        nearest = torch.minimum(nearest, sq_dist.masked_fill(sq_dist <= noise, 0.0))
        weights = nearest.cpu().numpy().copy()
        weights[chosen] = 0.0
        centre = _draw(weights, chosen, random_state)
        indices.append(centre)
        scores.append(float(weights[centre]))
        chosen[centre] = True
    return np.asarray(indices, dtype=np.intp), np.asarray(scores, dtype=float)


def _dots(x, row):
    """``x @ x[row]`` computed row by row, the same way for every row.

    A matrix-vector product (BLAS gemv) may round a row differently depending on where it
    sits; an elementwise product summed along each row does not, so identical points get
    identical distances on every machine.
    """
    return (x * x[row]).sum(dim=1)


def _draw(weights, chosen, random_state):
    """One index with probability ∝ ``weights`` (uniform over unchosen if they are all 0)."""
    total = weights.sum()
    if not total > 0:
        return int(random_state.choice(np.flatnonzero(~chosen)))
    cumulative = np.cumsum(weights)
    # the first index whose cumulative weight exceeds the draw has a positive weight
    pick = int(np.searchsorted(cumulative, random_state.uniform() * cumulative[-1],
                               side="right"))
    return min(pick, int(np.flatnonzero(weights)[-1]))
