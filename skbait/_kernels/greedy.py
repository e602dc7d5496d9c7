"""The greedy loop every greedy sampler runs: pick the best candidate, add it, repeat;
then, for BAIT, remove the chosen points whose removal costs least.

The loop knows nothing of what it optimises. A state answers five questions (what the
candidates score, add one, whether its scores are stale, and for a backward pass what
removing each chosen point costs, remove one), and says how the host should be set up
while the loop runs (:meth:`GreedyState.running`); BAIT's, log-det's and k-center's states
answer them, and so will a fused or a sharded state, without the loop changing. Which
candidate is best is also the state's to say (:meth:`GreedyState.best`): a sharded state
(:class:`~skbait._kernels.distributed.ShardedState`) reduces it across ranks.
"""

import contextlib
from typing import NamedTuple

import numpy as np
import torch

from ._numerics import checked_argmax


class GreedyState:
    """What the greedy loop needs from a state; subclasses fill it in.

    Attributes
    ----------
    score_name : str
        Name of the forward score, for error messages.
    n_candidates : int
        Rows of the pool.
    """

    score_name = "Gain"
    removal_name = "Removal cost"

    def gains(self):
        """Score of every candidate (larger is better), a tensor of shape (n,)."""
        raise NotImplementedError

    def add(self, index, *, last=False, packed=None):
        """Add candidate ``index``; return the new :meth:`gains` (None when ``last``).

        ``packed`` is the candidate as :meth:`pack` gave it on the shard that holds it,
        for a state that holds another shard of the pool (sharded selection).
        """
        raise NotImplementedError

    def best(self, scores, valid):
        """``(index, value)`` of the best valid score; ties to the lowest index.

        A sharded state (:mod:`skbait._kernels.distributed`) reduces it across ranks and
        returns a global index.
        """
        return checked_argmax(scores, valid, self.score_name)

    def local_row(self, index):
        """The row of :meth:`gains` that candidate ``index`` is (None: another shard's)."""
        return index

    def pack(self, row):
        """What another shard needs to add pool row ``row``: one flat tensor."""
        raise NotImplementedError

    def pack_size(self):
        """Length of what :meth:`pack` returns."""
        raise NotImplementedError

    def stale(self, best):
        """Whether scores whose best is ``best`` have lost too many digits to be used."""
        return False

    def refresh(self):
        """Recompute the state exactly; return the new :meth:`gains`."""
        raise NotImplementedError

    def running(self):
        """A context manager the whole loop runs in (how the state wants the host set up
        while it works, e.g. its threads); by default nothing."""
        return contextlib.nullcontext()

    def removal_costs(self):
        """``(members, costs)``: the added rows (ascending) and what removing each costs."""
        raise NotImplementedError

    def remove(self, index, *, cost):
        """Remove added row ``index``, whose removal was scored ``cost``."""
        raise NotImplementedError


class GreedyResult(NamedTuple):
    """Outcome of :func:`greedy`.

    Attributes
    ----------
    indices : ndarray of int
        Returned rows, in the order they were added.
    scores : ndarray of float
        Forward score each returned row had when it was added.
    forward_gains : ndarray of float
        Best score at each forward step.
    backward_losses : ndarray of float
        Cost of each backward removal.
    """

    indices: np.ndarray
    scores: np.ndarray
    forward_gains: np.ndarray
    backward_losses: np.ndarray


def greedy(state, n_select, n_forward=None):
    """Run ``n_forward`` greedy additions, then remove the cheapest down to ``n_select``.

    Parameters
    ----------
    state : GreedyState
    n_select : int
        Rows to return.
    n_forward : int, default=None
        Forward steps (``≥ n_select``; None: ``n_select``, no backward pass).

    Returns
    -------
    GreedyResult
        Ties go to the lowest index. A NaN or infinite score that could be picked raises
        :class:`~skbait.exceptions.DegenerateProblemError`.
    """
    with state.running():
        return _greedy(state, n_select, n_select if n_forward is None else n_forward)


def _greedy(state, n_select, n_forward):
    chosen = torch.zeros(state.n_candidates, dtype=torch.bool, device=state.device)
    order, gains = [], []
    scores = state.gains()
    for step in range(n_forward):
        j, gain = state.best(scores, ~chosen)
        while state.stale(gain):
            scores = state.refresh()
            j, gain = state.best(scores, ~chosen)
        order.append(j)
        gains.append(gain)
        row = state.local_row(j)
        if row is not None:
            chosen[row] = True
        scores = state.add(j, last=step + 1 == n_forward)
    kept = dict(zip(order, gains))
    losses = []
    for _ in range(n_forward - n_select):
        members, costs = state.removal_costs()
        # the cheapest removal is the argmax of the negated costs (ties to the lowest row)
        pos, loss = checked_argmax(-costs, torch.ones_like(members, dtype=torch.bool),
                                   state.removal_name)
        removed = int(members[pos])
        losses.append(-loss)
        del kept[removed]
        state.remove(removed, cost=-loss)
    indices = np.array([j for j in order if j in kept], dtype=np.intp)
    return GreedyResult(
        indices=indices,
        scores=np.array([kept[j] for j in indices], dtype=float),
        forward_gains=np.array(gains, dtype=float),
        backward_losses=np.array(losses, dtype=float),
    )
