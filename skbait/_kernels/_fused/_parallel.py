"""How a pass's rows are shared among threads: plain Python threads over contiguous runs
of tiles (the compiled code releases the GIL), handed out in small pieces so that a
thread preempted by another process delays at most one piece.

Pieces start at multiples of the tile, fixed by the row index alone, never by the number
of threads or the thread that runs them: the result does not depend on the number of
threads, bit for bit. While they run, the process's BLAS is held to one thread
(:class:`one_blas_thread`) so that each tile's ``dgemm`` runs on the thread that called
it.

A :class:`CoreWatch` follows one selection's passes: when their threads were on a core
for only part of the time they worked, other processes share the cores, and the passes
run on fewer threads (one, on two cores beside one busy process), trying the whole
budget again now and then.
"""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

from .._constants import PARALLEL_STATE_MIN

# Rows are handed out to the threads in pieces of about this many state entries (512 KB,
# 0.2 to 1 ms on one core): small enough that a thread preempted by another process holds
# up one piece rather than half of the pass, large enough that handing them out is free.
_PIECE_ENTRIES = 1 << 16
# A pass whose threads were on a core for less than this share of the time they worked
# shares the cores with another process. Measured inside 10k selects on two cores: quiet,
# 0.90 to 1.00 (median 0.997); beside one CPU-bound process, 0.30 to 0.98 (median 0.50:
# the scheduler leaves the competitor one core and the pass's two threads take turns on
# the other, so that a second thread only adds its waits; benchmarks/README.md). On a
# virtual machine the hypervisor's steal counts as off a core too: at the smallest
# parallel state (8 MB, ~1.5 ms passes) a quiet guest measured 0.45 to 0.65 in 5 to 10 %
# of passes, with no wait on the guest's run queue (/proc/.../schedstat), during bursts
# of steal in /proc/stat; two in a row then lower the threads until the next try.
_SHARED_BELOW = 0.75
# Passes of a watched sequence that run on the lowered threads before one tries the whole
# budget again, to see whether the other processes have gone
_RETRY_AFTER = 16
# thread_time() resolves a pass's time on a core only where its clock is this fine
# (1 ns on Linux; on some systems it advances in steps of a scheduler tick)
_CLOCK_RESOLUTION = 1e-6

_lock = threading.Lock()
_pool = None
_pool_size = 0


def choose_threads(n_rows, k, halves=2, *, max_threads=None):
    """Threads for one fused pass over ``n_rows`` candidates: 1 for small passes, else all.

    ``max_threads`` defaults to ``torch.get_num_threads()``, the caller's thread budget.
    Below ``PARALLEL_STATE_MIN`` entries of state (``n_rows·k·halves·k``, 8 MB) the pass
    takes a few milliseconds and one thread is about as fast; above, every
    thread helps, and since the rows are handed out in small pieces a thread preempted by
    another process only delays its current piece. A :class:`CoreWatch` passes a lower
    ``max_threads`` while another process keeps the cores busy.
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


class CoreWatch:
    """The threads of a sequence of passes (one selection's), lowered while other processes
    keep the cores busy.

    :func:`parallel_rows` reports to it the share of the time each pass's threads spent on
    a core. Two passes in a row below ``_SHARED_BELOW`` mean that the threads wait for
    each other's time slices more than they work side by side: the following passes get
    as many threads as the cores' worth of time those threads got (one, on two cores
    beside one CPU-bound process), and every ``_RETRY_AFTER``-th of them the whole budget
    again, which stays if that pass's threads were on a core. A pass's result does not
    depend on its number of threads, bit for bit, so neither do the picks.

    Parameters
    ----------
    budget : int
        The most threads a pass may use (the caller's thread budget).
    """

    def __init__(self, budget):
        self.budget = int(budget)
        self.lowered = None  # the threads while the cores are shared, else None
        self._low = 0  # passes in a row whose threads were on a core too little
        self._since = 0  # passes on the lowered threads since the last try of the budget

    @property
    def shared(self):
        """Whether the last passes found the cores shared with another process."""
        return self.lowered is not None

    def max_threads(self):
        """The most threads the next pass may use."""
        if self.lowered is not None and self._since < _RETRY_AFTER:
            return self.lowered
        return self.budget

    def record(self, threads, share):
        """A pass ran on ``threads`` threads, which were on a core for ``share`` of the
        time they worked (None: not measured). While the cores are shared, a pass on at
        most the lowered threads only counts towards the next try of the budget."""
        if share is None or threads <= (self.lowered or 1):
            self._since += self.lowered is not None
            return
        self._low = self._low + 1 if share < _SHARED_BELOW else 0
        if self._low >= (1 if self.lowered is not None else 2):
            self.lowered = max(1, int(share * threads + 0.5))  # the cores' worth they got
        else:
            self.lowered = None
        self._since = 0


def _clock_resolves_passes():
    return time.get_clock_info("thread_time").resolution <= _CLOCK_RESOLUTION


def parallel_rows(kernel, args, rows, threads, piece, unit=1, beside=None, watch=None):
    """Run ``kernel`` over rows ``0:rows``: this thread and ``threads − 1`` pool workers
    take contiguous pieces of at most ``piece`` rows from a shared counter until none is
    left. Pieces start at multiples of ``unit`` (the tiles), whatever ``threads`` is.

    ``beside`` (a callable, or None) is work independent of the rows that this thread
    does first, while the workers start on the pieces; it then joins them. Its error, or
    a worker's, is raised once every piece is done; on one thread ``beside`` runs before
    the rows, and its error leaves them untouched. ``watch`` (a :class:`CoreWatch`, or
    None) is told how many threads ran and, for more than one, the share of the time they
    worked that they spent on a core.
    """
    threads = max(1, min(threads, rows))
    if threads == 1:
        if beside is not None:
            beside()
        kernel(*args, 0, rows)
        if watch is not None:
            watch.record(1, None)
        return
    share = -(-rows // threads)  # fewer rows than threads · piece: one piece each
    piece = max(unit, min(-(-share // unit) * unit, piece))
    bounds = list(range(0, rows, piece)) + [rows]
    n_pieces = len(bounds) - 1
    counter = iter(range(n_pieces))
    lock = threading.Lock()
    measure = watch is not None and _clock_resolves_passes()
    times = []  # (on a core, elapsed) of each thread, from its start to its last piece

    def work(first=None):
        start, on_core = (time.perf_counter(), time.thread_time()) if measure else (0, 0)
        if first is not None:
            first()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            kernel(*args, bounds[i], bounds[i + 1])
        if measure:
            times.append((time.thread_time() - on_core, time.perf_counter() - start))

    pool = _executor(threads - 1)
    futures = [pool.submit(work) for _ in range(threads - 1)]
    try:
        work(beside)
    finally:  # the workers may still hold pieces of the caller's arrays
        wait(futures)
    for future in futures:
        future.result()
    if watch is not None:
        elapsed = sum(t for _, t in times)
        watch.record(threads, sum(c for c, _ in times) / elapsed if elapsed > 0 else None)


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
