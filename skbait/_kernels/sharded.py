"""The sharded forms of the selections that are not greedy states: BADGE's k-means++
seeding and the top-``n`` of uncertainty sampling.

Both run on a :class:`~skbait._kernels.distributed.Communicator` whose shard is set, and
return what the single-process kernel returns, with global indices.
"""

import numpy as np
import torch

from ._constants import ROUNDING_ULPS
from ._numerics import check_finite


def sharded_top_n(comm, scores, n_select):
    """:func:`~skbait._kernels.uncertainty.top_n` over every rank's shard.

    Each rank sorts its own scores; one all-gather of ``n_select`` (score, global index)
    pairs per rank, and every rank merges them alike: largest first, ties to the lowest
    global index, as one stable sort of the whole pool would order them.
    """
    check_finite(scores, torch.ones_like(scores, dtype=torch.bool), "Uncertainty")
    m = min(n_select, scores.shape[0])
    order = torch.sort(scores, descending=True, stable=True).indices[:m]
    mine = torch.full((n_select, 2), np.inf, dtype=torch.float64)
    mine[:, 0] = -np.inf
    mine[:m, 0] = scores[order].to(torch.float64).cpu()
    mine[:m, 1] = (order.cpu() + comm.offset).to(torch.float64)
    comm.exchange()  # every rank's candidates are ready
    table = comm.all_gather(mine).reshape(-1, 2).numpy()
    best = np.lexsort((table[:, 1], -table[:, 0]))[:n_select]
    return table[best, 1].astype(np.intp), table[best, 0]


def sharded_seeding(comm, a, h, n_select, random_state):
    """:func:`~skbait._kernels.kmeanspp.kmeanspp_seeding` over every rank's shard.

    The draws are made identically on every rank from ``random_state``: at each step the
    ranks exchange their shards' sums of ``D²``; the same uniform draw then picks the shard
    (by the cumulative sums of the shards, in rank order) and, on that shard's rank, the
    row (by the cumulative sum of its ``D²``); the owner broadcasts the new centre
    (``a_x``, ``h_x``, ``‖g_x‖²``) and its weight. This draws from the same distribution
    as one process would and, up to the rounding of the cumulative sums at the boundary a
    draw falls on, the same rows.

    Parameters
    ----------
    comm : Communicator
    a, h : torch.Tensor of shape (n_local, k), (n_local, d)
        This shard's rows.
    n_select : int
    random_state : numpy.random.RandomState

    Returns
    -------
    indices, sq_distances : ndarray
        As :func:`~skbait._kernels.kmeanspp.kmeanspp_seeding`, with global indices.
    """
    n, k, d = h.shape[0], a.shape[1], h.shape[1]
    sq_norm = (a * a).sum(dim=1) * (h * h).sum(dim=1)
    check_finite(sq_norm, torch.ones(n, dtype=torch.bool, device=h.device),
                 "Squared gradient norm")
    tiny = ROUNDING_ULPS * torch.finfo(sq_norm.dtype).eps
    template = torch.empty(3 + k + d, dtype=torch.float64, device=h.device)

    def pack(row, weight):
        head = torch.tensor([comm.offset + row, weight], dtype=torch.float64, device=h.device)
        return torch.cat([head, sq_norm[row : row + 1], a[row], h[row]]).to(torch.float64)

    # the first centre: the largest norm, ties to the lowest global index
    row = int(torch.argmax(sq_norm)) if n else None
    first, value, owner = comm.reduce_best(float(sq_norm[row]) if n else -np.inf, row)
    centre = comm.broadcast(pack(row, value) if owner == comm.rank else template, owner)
    indices, scores = [first], [value]
    chosen = np.zeros(n, dtype=bool)
    if comm.local_row(first) is not None:
        chosen[comm.local_row(first)] = True
    nearest = torch.full_like(sq_norm, torch.inf)
    for _ in range(n_select - 1):
        sq_c, a_c, h_c = centre[2:3], centre[3 : 3 + k], centre[3 + k :]
        sq_dist = sq_norm + sq_c - 2 * (a * a_c).sum(dim=1) * (h * h_c).sum(dim=1)
        noise = tiny * (sq_norm + sq_c)
        nearest = torch.minimum(nearest, sq_dist.masked_fill(sq_dist <= noise, 0.0))
        weights = nearest.cpu().numpy().copy()
        weights[chosen] = 0.0
        cumulative = np.cumsum(weights)
        totals = comm.exchange(float(cumulative[-1]) if n else 0.0)[:, 0]
        if not totals.sum() > 0:  # every remaining point is a centre: uniform
            pick = int(random_state.choice(np.setdiff1d(np.arange(comm.n_total), indices)))
            owner, row = comm.owner(pick), comm.local_row(pick)
        else:
            shard_ends = np.cumsum(totals)
            target = random_state.uniform() * shard_ends[-1]
            owner = int(np.searchsorted(shard_ends, target, side="right"))
            owner = min(owner, int(np.flatnonzero(totals > 0)[-1]))
            row = None
            if owner == comm.rank:
                local_target = target - (shard_ends[owner - 1] if owner else 0.0)
                row = int(np.searchsorted(cumulative, local_target, side="right"))
                row = min(row, int(np.flatnonzero(weights)[-1]))
        centre = comm.broadcast(
            pack(row, float(weights[row])) if owner == comm.rank else template, owner)
        indices.append(int(centre[0]))
        scores.append(float(centre[1]))
        if owner == comm.rank:
            chosen[row] = True
    return np.asarray(indices, dtype=np.intp), np.asarray(scores, dtype=float)
