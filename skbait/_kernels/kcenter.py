"""Greedy k-center (the Coreset baseline), chunked so memory stays bounded in ``n``."""

import numpy as np
import torch

from ._constants import LABELED_BLOCK
from ._numerics import chunk_rows, duplicate_groups
from .distributed import local_part, sharded
from .greedy import GreedyState, greedy


class KCenterState(GreedyState):
    """Squared distance of every candidate to its nearest centre, under added centres.

    Distances to the labeled set come from one GEMM per ``chunk × 1024`` block, those to
    each new centre from explicit differences, so the extra memory is ``O(n)`` plus one
    bounded block. Identical candidates share one distance
    (:func:`~skbait._kernels._numerics.duplicate_groups`): a GEMM's rounding can differ
    between rows, and ties must not be decided by it.

    Parameters
    ----------
    pool : torch.Tensor of shape (n, d)
    labeled : torch.Tensor of shape (n_labeled, d)
        At least one row: the first centres.
    chunk_size : int, default=None
        Pool rows processed at once; by default sized from ``d`` and the device.
    """

    score_name = "Distance to the nearest centre"

    def __init__(self, pool, labeled, *, chunk_size=None):
        if labeled.shape[0] == 0:
            raise ValueError("Greedy k-center needs at least one labeled point.")
        self.pool = pool
        self.n_candidates = pool.shape[0]
        self.device = pool.device
        groups = duplicate_groups(pool) if pool.shape[0] > 1 else None
        self.inverse = None if groups is None else groups[1]
        self.rows = pool if groups is None else pool[groups[0]]
        self.block = min(labeled.shape[0], LABELED_BLOCK)
        self.step = chunk_rows(self.rows.shape[0], self.block + pool.shape[1],
                               device=pool.device, dtype=pool.dtype, chunk_size=chunk_size)
        self.nearest = _nearest_labeled(self.rows, labeled, self.block, self.step)

    def gains(self):
        return self.nearest if self.inverse is None else self.nearest[self.inverse]

    def add(self, index, *, last=False, packed=None):
        if last:
            return None
        centre = self.pool[index] if packed is None else packed
        for start in range(0, self.rows.shape[0], self.step):
            rows = slice(start, start + self.step)
            sq = (self.rows[rows] - centre).square_().sum(dim=1)
            torch.minimum(self.nearest[rows], sq, out=self.nearest[rows])
        return self.gains()

    def pack(self, row):
        return self.pool[row]

    def pack_size(self):
        return self.pool.shape[1]


def kcenter_greedy(pool, labeled, n_select, *, chunk_size=None):
    """Choose ``n_select`` rows of ``pool`` by greedy k-center, starting from ``labeled``.

    Each step takes the pool point farthest (Euclidean) from its nearest centre, the
    centres being the labeled points and the points chosen so far; ties go to the lowest
    index (see :class:`KCenterState`).

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
    state = sharded(KCenterState(local_part(pool), labeled, chunk_size=chunk_size))
    result = greedy(state, n_select)
    return result.indices, np.asarray(result.scores, dtype=float)


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


def unit_rows(x, name="the representation"):
    """Rows scaled to unit norm, for the cosine metric (``‖x̂ − ĉ‖² / 2 = 1 − cos``)."""
    norms = x.norm(dim=1, keepdim=True)
    if bool((norms == 0).any()):
        raise ValueError(
            f"metric='cosine' needs nonzero rows, but row "
            f"{int(torch.nonzero(norms[:, 0] == 0)[0, 0])} of {name} is all zeros."
        )
    return x / norms
