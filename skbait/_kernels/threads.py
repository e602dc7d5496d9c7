"""How many CPU threads each part of a design selection runs on, as functions of its shapes.

On a CPU, a thread helps only an operation long enough to pay for its start and for the
wait at its end, and with another process on the machine that wait is for a preempted
thread: every parallel operation then lasts as long as its slowest thread's time slice.
So (benchmarks/README.md, "bench_cpu.py"):

- a whole selection whose per-candidate state and ``D × D × k`` products are both small
  (digits: 1197 candidates, ``D = 650``) runs on one thread, setup included: quiet, it is
  faster that way (0.33 against 0.55 s on two cores);
- so does torch in a selection whose per-candidate work the compiled pass does, when its
  products and its setup's GEMMs are small (10k × 64 × 10): the rest of its setup is
  then mostly element-wise passes over the pool, no faster on two threads and, beside
  another process, twice as slow (0.41 s on one thread, 0.44 s on two; beside a
  competitor 0.50 against 1.06 s); the pass keeps the caller's threads
  (:func:`thread_budget`), and so do the setup's two largest contractions, compiled and
  shared among the threads in pieces (:func:`setup_threads`);
- otherwise the setup keeps the caller's threads, and during the greedy loop torch is
  held to one thread when the compiled pass does the per-candidate work and the products
  left to torch are small (:func:`loop_threads`); the pass itself keeps the caller's
  threads (:func:`~skbait._kernels._fused.choose_threads`);
- and while other processes keep the cores busy, the pass runs on the cores' worth of
  threads it gets (one, on two cores beside one busy process: the selection's
  :class:`~skbait._kernels._fused.CoreWatch`, which sees its threads wait for their time
  slices and tries the whole budget again every few passes).
- a model's forward pass over a small input runs its BLAS on one thread
  (:func:`forward_threads`): a second thread gains nothing there, and its idle worker
  would spin on the other core into the selection.

Each returns a context manager that restores the caller's setting, also on an error.
"""

import contextlib
import contextvars
import functools

import numpy as np
import torch

from . import _fused
from ._constants import (
    FORWARD_ONE_THREAD_MAX,
    PARALLEL_PRODUCT_MIN,
    PARALLEL_SETUP_MIN,
    PARALLEL_STATE_MIN,
    SETUP_COMPILED_MAX_K,
)
from ._numerics import torch_threads

# torch's thread count when the running selection started (None outside one)
_budget = contextvars.ContextVar("skbait_thread_budget", default=None)


@contextlib.contextmanager
def selection_threads(pool, n_matrices):
    """The threads a whole selection on ``pool`` runs with: torch's own are held to one
    when the selection is small, or when the compiled pass will do its per-candidate
    work and what is left to torch is small (the module docstring); the caller's count
    stays the pass's :func:`thread_budget`.

    Parameters
    ----------
    pool : Factors
        The candidates (this shard's, when the pool is sharded).
    n_matrices : int
        ``k × k`` blocks kept per candidate: 2 for BAIT (``P_x, Q_x``), 1 for log-det.
    """
    n, d = pool.h.shape
    k = pool.s.shape[1]
    cpu = pool.h.device.type == "cpu"
    small_state = n * n_matrices * k * k < PARALLEL_STATE_MIN
    small_setup = n * d * d * k * k < PARALLEL_SETUP_MIN and _fused.applies_to(pool.h)
    one = cpu and _small_products(d * k, k) and (small_state or small_setup)
    token = _budget.set(thread_budget())  # the outer selection's, when one holds torch
    try:
        with torch_threads(1) if one else contextlib.nullcontext():
            yield
    finally:
        _budget.reset(token)


def setup_threads(pool, n_matrices, *, max_threads=None):
    """Threads for the compiled contractions of a selection's setup over ``pool`` (``F``
    and every candidate's first blocks), or None where torch does them, on its own
    threads (the compiled kernels do not apply to its rows, or ``k`` is over
    ``SETUP_COMPILED_MAX_K``): as many of ``max_threads`` (by default the caller's,
    :func:`thread_budget`; a refresh in the loop passes what its
    :class:`~skbait._kernels._fused.CoreWatch` allows) as a pass over these rows takes
    (:func:`~skbait._kernels._fused.choose_threads`: one for a small state)."""
    if pool.s.shape[1] > SETUP_COMPILED_MAX_K or not _fused.applies_to(pool.h):
        return None
    return _fused.choose_threads(pool.h.shape[0], pool.s.shape[1], n_matrices,
                                 max_threads=thread_budget() if max_threads is None
                                 else max_threads)


def forward_threads(X):
    """The BLAS threads a model's forward pass over ``X`` runs on: one when ``X`` has at
    most ``FORWARD_ONE_THREAD_MAX`` values (its stored entries, for a sparse matrix), else
    the caller's; restored afterwards, also on an error.

    A small forward gains nothing from a second BLAS thread, and OpenBLAS's worker then
    spins for about 0.1 s on the other core, into the selection that follows (beside
    another process, in its way). Inputs without a ``shape`` (a list of texts for a
    pipeline) keep the caller's threads: their cost is unknown.
    """
    shape = getattr(X, "shape", None)
    try:
        values = int(getattr(X, "nnz", None) or np.prod(shape)) if shape else None
    except (TypeError, ValueError):  # a shape that is not a tuple of sizes
        values = None
    if values is None or values > FORWARD_ONE_THREAD_MAX:
        return contextlib.nullcontext()
    return _fused.one_blas_thread(_forward_blas())


@functools.cache
def _forward_blas():
    # threadpoolctl's handle on the process's BLAS libraries, made on the first forward
    # pass (the model's BLAS is loaded by then): scanning for them costs about 4 ms a time
    return _fused.blas_controller()


def thread_budget():
    """The threads the compiled pass may use: torch's count when the running selection
    started (:func:`selection_threads`), or torch's count now outside one."""
    budget = _budget.get()
    return torch.get_num_threads() if budget is None else budget


def loop_threads(fused, d_params, k):
    """The threads torch runs the greedy loop with: one when the compiled pass does the
    per-candidate work (``fused``) and the ``D × D × k`` products left to torch are small.

    What is left to torch then is ``O(D² k)`` per step in products of a few megabytes: a
    second thread shortens each by a fraction of a millisecond, and with another process
    on the machine every one of them waits for a preempted thread.
    """
    return torch_threads(1) if loop_on_one_thread(fused, d_params, k) else \
        contextlib.nullcontext()


def loop_on_one_thread(fused, d_params, k):
    """Whether :func:`loop_threads` holds torch to one thread."""
    return bool(fused) and _small_products(d_params, k)


def _small_products(d_params, k):
    return d_params * d_params * k < PARALLEL_PRODUCT_MIN
