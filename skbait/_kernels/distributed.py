"""Sharded selection over ``torch.distributed``: one pool across processes, GPUs, machines.

Each rank holds one shard of the pool, and so the per-candidate part of every state (the
rows of ``P_x, Q_x``, the distances to the nearest centre, the ``D²`` weights); the global
part (``M⁻¹``, ``F``, the members and their factors, the centres) is small and replicated.
A greedy step is: every rank finds its shard's best candidate; one exchange of a few
numbers per rank agrees on the best (gain, global index), ties going to the lowest global
index; the owner broadcasts what the others need to add it (:meth:`GreedyState.pack`:
its factor and blocks, or its row); every rank applies the same update to its global part
and its own rows. Nothing else travels. Global indices number the rows of the shards
concatenated in rank order.

Every rank must compute its global part bit-identically, or ranks would part ways: the
global part is therefore built only from what every rank holds alike (what was
broadcast, or reduced on one rank and broadcast), with the same operations in the same
order.

Failures. A rank whose own work fails (bad input on its shard, out of memory, a NaN on
its shard) must not leave the others waiting in a collective. Every collective that can
follow local work is therefore a *guarded exchange* (:meth:`Communicator.exchange`): an
all-gather of :data:`HEADER` numbers per rank whose first is the rank's status. A rank that
fails calls :meth:`Communicator.fail`, which takes part in that same exchange with a
failed status: every rank learns of it there, the failed ranks' messages are gathered,
and every rank raises (the failed one its own error, the others
:class:`~skbait.exceptions.DistributedError`). The few unguarded collectives (a broadcast
from the owner, the reduction of ``F``) come straight after a successful exchange, with
no local work in between that could fail. A collective that fails itself (a rank died,
the process group's timeout expired) raises :class:`DistributedError` at once.

How a kernel finds its shard: the sampler's ``select`` runs the kernels inside
:func:`communicating`; :func:`local_part`, :func:`global_rows`, :func:`reduce_sum` and
:func:`sharded` are no-ops outside it, so ``distributed=False`` runs exactly the
single-process code.
"""

import time
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import torch
import torch.distributed as dist

from ..exceptions import DistributedError
from ._numerics import checked_argmax
from .greedy import GreedyState

#: Numbers each rank contributes to a guarded exchange: its status, then up to three values.
HEADER = 4
_OK, _FAILED = 0.0, 1.0

_ACTIVE = ContextVar("skbait_communicator", default=None)


def _agreed(exc):
    """Mark ``exc`` as raised by every rank alike: :meth:`Communicator.fail` then only
    re-raises it (the other ranks know already)."""
    exc._skbait_agreed = True
    return exc


class Communicator:
    """The ranks of a process group, as a sharded selection talks to them.

    Parameters
    ----------
    group : torch.distributed.ProcessGroup, default=None
        The group whose ranks hold the shards; None for the default group.

    Attributes
    ----------
    rank, world_size : int
        This rank and the number of ranks, in ``group``.
    device : torch.device
        Where the collectives' tensors live: the current CUDA device for NCCL, else the CPU.
    sizes : ndarray of int or None
        Rows of each rank's shard, once :meth:`set_shard` ran.
    stats : dict
        For each kind of collective, ``[calls, payload bytes, seconds]`` on this rank
        (payload: the tensor this rank contributes, or sends when it broadcasts).
    """

    def __init__(self, group=None):
        if not dist.is_available():
            raise RuntimeError(
                "distributed=True needs torch.distributed, which this build of torch "
                "lacks; use distributed=False."
            )
        if not dist.is_initialized():
            raise RuntimeError(
                "distributed=True needs torch.distributed's default process group: call "
                "torch.distributed.init_process_group(...) on every rank first (torchrun "
                "sets up the environment it reads), or use distributed=False."
            )
        self.group = group
        self.rank = dist.get_rank(group)
        self.world_size = dist.get_world_size(group)
        backend = str(dist.get_backend(group))
        self.device = (torch.device("cuda", torch.cuda.current_device())
                       if backend == "nccl" else torch.device("cpu"))
        self.sizes = None
        self.ends = None
        self.offset = 0
        self.n_local = None
        self.n_total = None
        self.broken = False
        self.stats = {}

    # -- the guarded exchange and the failure protocol -----------------------------------
    def exchange(self, *values):
        """Every rank's ``values`` (at most ``HEADER - 1`` floats): a (world_size, m) array.

        Raises :class:`~skbait.exceptions.DistributedError` when another rank reported a
        failure instead (:meth:`fail`).
        """
        header = np.zeros(HEADER)
        header[0] = _OK
        header[1 : 1 + len(values)] = values
        table = self._gather_header(header)
        failed = np.flatnonzero(table[:, 0] != _OK)
        if failed.size:
            messages = self._gather_messages(None)
            raise _agreed(DistributedError(
                "; ".join(f"rank {r} of {self.world_size} failed with {messages[r]}"
                          for r in failed)
                + ". Every rank of the distributed selection raises; fix that rank's input "
                "or resources and call again on every rank.",
                {int(r): messages[r] for r in failed},
            ))
        return table[:, 1 : 1 + len(values)]

    def fail(self, exc):
        """Report ``exc`` to every rank at their next exchange, then raise it here.

        An error every rank raised alike (from an exchange), or one after which the ranks
        cannot talk any more, is only re-raised.
        """
        if getattr(exc, "_skbait_agreed", False) or self.broken:
            raise exc
        header = np.zeros(HEADER)
        header[0] = _FAILED
        try:
            self._gather_header(header)
            self._gather_messages(f"{type(exc).__name__}: {exc}")
        except DistributedError:
            pass  # the ranks cannot talk any more: this rank's own error is the news
        if hasattr(exc, "add_note"):
            exc.add_note(f"Raised on rank {self.rank} of {self.world_size} of a distributed "
                         "selection (indices in it are rows of this rank's shard); the "
                         "other ranks raise DistributedError.")
        raise _agreed(exc)

    @contextmanager
    def guard(self):
        """Run a block of local work; if it raises, every rank learns it (:meth:`fail`)."""
        try:
            yield self
        except BaseException as exc:  # an interrupt too: the others must not wait
            self.fail(exc)

    # -- the shard ---------------------------------------------------------------------
    def set_shard(self, n_local, *values):
        """Agree on every shard's size (this one's is ``n_local``); return every rank's
        ``values`` (at most two floats) as :meth:`exchange` does."""
        table = self.exchange(n_local, *values)
        sizes = table[:, 0].astype(np.int64)
        self.sizes = sizes
        self.ends = np.cumsum(sizes)
        self.offset = int(self.ends[self.rank] - sizes[self.rank])
        self.n_local = int(n_local)
        self.n_total = int(self.ends[-1])
        return table[:, 1:]

    def owner(self, index):
        """The rank whose shard holds global row ``index``."""
        return int(np.searchsorted(self.ends, index, side="right"))

    def local_row(self, index):
        """This shard's row for global row ``index``, or None when another rank holds it."""
        row = int(index) - self.offset
        return row if 0 <= row < self.n_local else None

    def reduce_best(self, value, row):
        """Agree on the best candidate: ``(global index, value, owner rank)``.

        ``value`` is this shard's best score and ``row`` its row (None when the shard has
        no candidate left). The largest value wins, ties go to the lowest global index.
        """
        index = np.inf if row is None else float(self.offset + row)
        table = self.exchange(-np.inf if row is None else value, index)
        values, indices = table[:, 0], table[:, 1]
        best = values.max()
        if not np.isfinite(indices[values == best]).any():
            raise _agreed(RuntimeError("No candidate is left on any rank."))
        winner = int(indices[values == best].min())
        return winner, float(best), self.owner(winner)

    # -- the collectives -----------------------------------------------------------------
    def broadcast(self, tensor, src):
        """Rank ``src``'s ``tensor`` on every rank (same shape and dtype everywhere; the
        others' ``tensor`` is only a template). Call it straight after an exchange."""
        buf = tensor.to(self.device, copy=True).contiguous()
        root = src if self.group is None else dist.get_global_rank(self.group, src)
        self._run("broadcast", buf.numel() * buf.element_size() if src == self.rank else 0,
                  dist.broadcast, buf, src=root, group=self.group)
        return buf.to(tensor.device)

    def all_gather(self, tensor):
        """Every rank's ``tensor`` (same shape everywhere), stacked: (world_size, ...)."""
        buf = tensor.to(self.device).contiguous()
        out = [torch.empty_like(buf) for _ in range(self.world_size)]
        self._run("all_gather", buf.numel() * buf.element_size(), dist.all_gather, out, buf,
                  group=self.group)
        return torch.stack(out).to(tensor.device)

    def reduce_sum(self, tensor):
        """The sum of every rank's ``tensor``, bit-identical on every rank: reduced on rank
        0, then broadcast (an all-reduce does not promise every rank the same bits)."""
        self.exchange()  # every rank's part is ready
        buf = tensor.to(self.device, copy=True).contiguous()
        root = 0 if self.group is None else dist.get_global_rank(self.group, 0)
        self._run("reduce", buf.numel() * buf.element_size(), dist.reduce, buf, dst=root,
                  group=self.group)
        self._run("broadcast", buf.numel() * buf.element_size() if self.rank == 0 else 0,
                  dist.broadcast, buf, src=root, group=self.group)
        return buf.to(tensor.device)

    def _gather_header(self, header):
        piece = torch.as_tensor(header, dtype=torch.float64).to(self.device)
        out = [torch.empty_like(piece) for _ in range(self.world_size)]
        self._run("exchange", piece.numel() * 8, dist.all_gather, out, piece,
                  group=self.group, sync=True)
        return torch.stack(out).cpu().numpy()

    def _gather_messages(self, message):
        out = [None] * self.world_size
        self._run("messages", 0, dist.all_gather_object, out, message, group=self.group)
        return out

    def _run(self, name, nbytes, collective, *args, sync=False, **kwargs):
        if self.broken:
            raise _agreed(DistributedError(
                "The ranks of this distributed selection cannot talk any more (an earlier "
                "collective failed)."))
        start = time.perf_counter()
        try:
            collective(*args, **kwargs)
            if sync and self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
        except Exception as exc:  # DistBackendError, a timeout, a closed connection
            self.broken = True
            raise _agreed(DistributedError(
                f"A {name} among the {self.world_size} ranks failed ({exc}): a rank died, "
                "hung, or called select on a different sampler; every rank of the "
                "selection raises. Raise the process group's timeout if a rank is only "
                "slow.")) from exc
        entry = self.stats.setdefault(name, [0, 0, 0.0])
        entry[0] += 1
        entry[1] += nbytes
        entry[2] += time.perf_counter() - start


# -- how the kernels find their shard ------------------------------------------------------
def active():
    """The :class:`Communicator` of the sharded selection running here, or None."""
    return _ACTIVE.get()


@contextmanager
def communicating(comm):
    """Run the kernels called in this block on ``comm``'s shard of the pool."""
    token = _ACTIVE.set(comm)
    try:
        yield comm
    finally:
        _ACTIVE.reset(token)


def local_part(rows):
    """The rows of ``rows`` (a tensor or a :class:`~skbait._kernels.fisher.Factors`) that
    this rank's shard owns: all of them, except on a rank with an empty shard, whose
    sampler evaluated its model on one stand-in row so that every shape is known."""
    comm = active()
    if comm is None:
        return rows
    factors = isinstance(rows, tuple)
    n_rows = rows[0].shape[0] if factors else rows.shape[0]
    if n_rows == comm.n_local:
        return rows
    if comm.n_local == 0 and n_rows == 1:
        return rows.rows(slice(0, 0)) if factors else rows[:0]
    raise RuntimeError(f"A kernel was given {n_rows} rows but this rank's shard has "
                       f"{comm.n_local}.")


def global_rows(n_rows):
    """The size of the whole pool, of which ``n_rows`` are this rank's (or all of it)."""
    comm = active()
    return n_rows if comm is None else comm.n_total


def reduce_sum(tensor):
    """The sum of ``tensor`` over the shards (``tensor`` itself without shards)."""
    comm = active()
    return tensor if comm is None else comm.reduce_sum(tensor)


def sharded(state):
    """``state`` (over this rank's shard) as a :class:`ShardedState`, or as is."""
    comm = active()
    return state if comm is None else ShardedState(state, comm)


class ShardedState(GreedyState):
    """A greedy state over one shard of the pool, made to choose over all shards.

    :meth:`best` reduces the shards' best candidates (:meth:`Communicator.reduce_best`)
    and the owner broadcasts the winner's :meth:`~GreedyState.pack`; :meth:`add` applies
    it on every rank alike (``add(index, packed=...)``, the owner too, so that every
    rank's global part sees the same numbers). Removals only touch the global part and
    run unchanged. Other attributes are the wrapped state's.

    Parameters
    ----------
    state : GreedyState
        The state over this rank's shard; it must implement ``pack``.
    comm : Communicator
        With its shard set (:meth:`Communicator.set_shard`).
    """

    def __init__(self, state, comm):
        if state.n_candidates != comm.n_local:
            raise RuntimeError(f"The state has {state.n_candidates} rows but this rank's "
                               f"shard has {comm.n_local}.")
        self.state = state
        self.comm = comm
        self.n_candidates = state.n_candidates
        self.device = state.device
        self.score_name = state.score_name
        self.removal_name = state.removal_name
        self._template = torch.empty(state.pack_size(), dtype=torch.float64,
                                     device=state.device)
        self._chosen = None

    def __getattr__(self, name):  # objective(), rebuild_minv(), ... of the wrapped state
        if name == "state":
            raise AttributeError(name)
        return getattr(self.state, name)

    def gains(self):
        return self.state.gains()

    def running(self):
        return self.state.running()

    def best(self, scores, valid):
        row, value = None, -np.inf
        if self.n_candidates:
            row, value = checked_argmax(scores, valid, self.score_name)
            if value == -np.inf:  # nothing valid left (a valid -inf would have raised)
                row = None
        packed = self.state.pack(row).to(torch.float64) if row is not None else self._template
        winner, value, owner = self.comm.reduce_best(value, row)
        self._chosen = (winner, self.comm.broadcast(packed, owner))
        return winner, value

    def local_row(self, index):
        return self.comm.local_row(index)

    def add(self, index, *, last=False, packed=None):
        winner, packed = self._chosen
        if winner != index:
            raise RuntimeError(f"add({index}) after best() chose {winner}.")
        return self.state.add(index, last=last, packed=packed.to(self._template.dtype))

    def stale(self, best):
        return self.state.stale(best)

    def refresh(self):
        return self.state.refresh()

    def removal_costs(self):
        return self.state.removal_costs()

    def remove(self, index, *, cost):
        return self.state.remove(index, cost=cost)

    def pack(self, row):
        return self.state.pack(row)

    def pack_size(self):
        return self.state.pack_size()
