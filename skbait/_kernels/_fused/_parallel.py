"""How a pass's rows are shared among threads: plain Python threads over contiguous runs
of tiles (the compiled code releases the GIL), handed out in small pieces so that a
thread preempted by another process delays at most one piece.

Pieces start at multiples of the tile, fixed by the row index alone, never by the number
of threads or the thread that runs them: the result does not depend on the number of
threads, bit for bit. While they run, the process's BLAS is held to one thread
(:class:`one_blas_thread`) so that each tile's ``dgemm`` runs on the thread that called
it.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

from .._constants import PARALLEL_STATE_MIN

# Rows are handed out to the threads in pieces of about this many state entries (512 KB,
# 0.2 to 1 ms on one core): small enough that a thread preempted by another process holds
# up one piece rather than half of the pass, large enough that handing them out is free.
_PIECE_ENTRIES = 1 << 16

_lock = threading.Lock()
_pool = None
_pool_size = 0


def choose_threads(n_rows, k, halves=2, *, max_threads=None):
    """Threads for one fused pass over ``n_rows`` candidates: 1 for small passes, else all.

    ``max_threads`` defaults to ``torch.get_num_threads()``, the caller's thread budget.
    Below ``PARALLEL_STATE_MIN`` entries of state (``n_rows·k·halves·k``, 8 MB) the pass
    takes a few milliseconds and one thread is about as fast; above, every
    thread helps, and since the rows are handed out in small pieces a thread preempted by
    another process only delays its current piece: with one CPU-bound competitor on two
    cores, two threads still take at most the quiet one-thread time (benchmarks/README.md).
    """
    if max_threads is None:
        try:
            import torch

            max_threads = torch.get_num_threads()
        except ImportError:  # pragma: no cover - torch is a dependency
            max_threads = os.cpu_count() or 1
    entries = n_rows * k * halves * k
    if entries < PARALLEL_STATE_MIN or max_threads <= 1:
        return 1
    pieces = -(-n_rows // piece_rows(k, halves, 1))
    return int(max(1, min(max_threads, pieces)))


def piece_rows(k, halves, tile):
    """Rows of one piece handed to a thread: about ``_PIECE_ENTRIES`` entries of state,
    in whole tiles."""
    rows = max(1, _PIECE_ENTRIES // (k * halves * k))
    return max(tile, rows // tile * tile)


def parallel_rows(kernel, args, rows, threads, piece, unit=1, beside=None):
    """Run ``kernel`` over rows ``0:rows``: this thread and ``threads − 1`` pool workers
    take contiguous pieces of at most ``piece`` rows from a shared counter until none is
    left. Pieces start at multiples of ``unit`` (the tiles), whatever ``threads`` is.

    ``beside`` (a callable, or None) is work independent of the rows that this thread
    does first, while the workers start on the pieces; it then joins them. Its error, or
    a worker's, is raised once every piece is done; on one thread ``beside`` runs before
    the rows, and its error leaves them untouched.
    """
    threads = max(1, min(threads, rows))
    if threads == 1:
        if beside is not None:
            beside()
        kernel(*args, 0, rows)
        return
    share = -(-rows // threads)  # fewer rows than threads · piece: one piece each
    piece = max(unit, min(-(-share // unit) * unit, piece))
    bounds = list(range(0, rows, piece)) + [rows]
    n_pieces = len(bounds) - 1
    counter = iter(range(n_pieces))
    lock = threading.Lock()

    def work():
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            kernel(*args, bounds[i], bounds[i + 1])

    pool = _executor(threads - 1)
    futures = [pool.submit(work) for _ in range(threads - 1)]
    try:
        if beside is not None:
            beside()
        work()
    finally:  # the workers may still hold pieces of the caller's arrays
        wait(futures)
    for future in futures:
        future.result()


def _forget_pool():  # in a forked child the pool's threads do not exist
    global _pool, _pool_size, _lock
    _pool, _pool_size, _lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _executor(workers):
    """The process's pool of worker threads (at least ``workers`` of them)."""
    global _pool, _pool_size
    if _pool_size < workers:
        with _lock:
            if _pool_size < workers:
                size = max(workers, (os.cpu_count() or 2) - 1)
                old, _pool = _pool, ThreadPoolExecutor(max_workers=size,
                                                       thread_name_prefix="skbait-fused")
                _pool_size = size
                if old is not None:
                    old.shutdown(wait=False)
    return _pool


class one_blas_thread:
    """Hold the process's BLAS (a threadpoolctl ``controller``, or None: nothing to hold)
    to one thread while the tiles' ``dgemm`` run: the threads are this module's, and a
    BLAS thread pool per call would fight them for the cores."""

    def __init__(self, controller):
        self._controller = controller
        self._limit = None

    def __enter__(self):
        if self._controller is not None:
            self._limit = self._controller.limit(limits=1, user_api="blas")
        return self

    def __exit__(self, *exc):
        if self._limit is not None:
            self._limit.restore_original_limits()
            self._limit = None
