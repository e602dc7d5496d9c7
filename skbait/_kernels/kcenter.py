"""Greedy k-center (the Coreset baseline), chunked so memory stays bounded in ``n``."""

import numpy as np
import torch

from ._numerics import checked_argmax, chunk_rows

# Labeled rows compared with a chunk of the pool at once.
_LABELED_BLOCK = 1024


def kcenter_greedy(pool, labeled, n_select, *, chunk_size=None):
    """Choose ``n_select`` rows of ``pool`` by greedy k-center, starting from ``labeled``.

    Each step takes the pool point farthest (Euclidean) from its nearest centre, the
    centres being the labeled points and the points chosen so far; ties go to the lowest
    index. The state is the squared distance of every candidate to its nearest centre:
    distances to the labeled set come from one GEMM per ``chunk × 1024`` block, those to
    each new centre from explicit differences, so the extra memory is ``O(n)`` plus one
    bounded block.

    Parameters
    ----------
    pool : torch.Tensor of shape (n, d)
        Candidates.
    labeled : torch.Tensor of shape (n_labeled, d)
        Points already labeled, at least one.
    n_select : int
        Number of points to choose, ``1 <= n_select <= n``.
    chunk_size : int, default=None
        Pool rows processed at once; by default sized from ``d`` and the device.

    Returns
    -------
    indices : ndarray of shape (n_select,), dtype=np.intp
        The chosen rows, in the order they were chosen.
    sq_distances : ndarray of shape (n_select,)
        Squared distance of each chosen row to its nearest centre when it was chosen.
    """
    n, d = pool.shape
    if labeled.shape[0] == 0:
        raise ValueError("Greedy k-center needs at least one labeled point.")
    block = min(labeled.shape[0], _LABELED_BLOCK)
    step = chunk_rows(n, block + d, device=pool.device, dtype=pool.dtype,
                      chunk_size=chunk_size)
    nearest = _nearest_labeled(pool, labeled, block, step)
    chosen = torch.zeros(n, dtype=torch.bool, device=pool.device)
    indices, sq_distances = [], []
    for i in range(n_select):
        j, sq_distance = checked_argmax(nearest, ~chosen, "Distance to the nearest centre")
        indices.append(j)
        sq_distances.append(sq_distance)
        chosen[j] = True
        if i + 1 < n_select:
            centre = pool[j]
            for start in range(0, n, step):
                rows = slice(start, start + step)
                sq = (pool[rows] - centre).square_().sum(dim=1)
                torch.minimum(nearest[rows], sq, out=nearest[rows])
    return np.asarray(indices, dtype=np.intp), np.asarray(sq_distances, dtype=float)


def _nearest_labeled(pool, labeled, block, step):
    """Squared distance of each pool row to its nearest labeled row.

    ``‖x − l‖² = ‖x‖² + ‖l‖² − 2 x·l``: the GEMM term and ``‖l‖²`` are minimised over
    ``l`` before ``‖x‖²`` is added, so each block costs one ``addmm`` and one ``amin``.
    """
    sq_labeled = labeled.square().sum(dim=1)
    nearest = torch.empty(pool.shape[0], dtype=pool.dtype, device=pool.device)
    for start in range(0, pool.shape[0], step):
        rows = pool[start : start + step]
        best = torch.full((rows.shape[0],), torch.inf, dtype=pool.dtype, device=pool.device)
        for lab in range(0, labeled.shape[0], block):
            part = torch.addmm(sq_labeled[lab : lab + block], rows,
                               labeled[lab : lab + block].T, alpha=-2)
            torch.minimum(best, part.amin(dim=1), out=best)
        nearest[start : start + step] = (best + rows.square().sum(dim=1)).clamp_(min=0)
    return nearest
