"""One fused pass per greedy step over the candidates' ``[P_x | Q_x]`` (numba, CPU), and
the step's narrow ``D × D × k`` products.

After a pick, :class:`~skbait._kernels.woodbury.TraceState` lowers every candidate's
state by a rank-``k`` term and recomputes its gain. In torch that is a GEMM over the
whole pool and then tens of small operations (``apply_c_``, ``baddbmm``, the transposing
copy and the ``O(k)`` whole-array operations of ``trace_solve_planes``), each a pass over
memory and, with two threads, a barrier that waits for the slowest thread. Here one
compiled call does, for each small block of rows (a *tile*, sized so that its GEMM
output stays in the core's L2 cache):

0. the tile's GEMM ``G = h[tile] @ right`` (BLAS ``dgemm``, through numba's ``np.dot``,
   single-threaded: the parallelism is over tiles), into a buffer that is reused;

and then for each candidate ``x`` of the tile, while its ``k × 2k`` block is in L1:

1. the ``C``-transform of its GEMM output (:func:`~skbait._kernels.fisher.apply_c_`),
   ``Y ← (Y − (Y u_x) 1ᵀ) diag(s_x)`` on each length-``k`` segment of ``G_x``;
2. the rank-``k`` update ``[P_x | Q_x] ← [P_x | Q_x] − sign · G_x[:, :k]ᵀ G_x``
   (the ``baddbmm``);
3. the gain from the updated state: ``tr((I + P_x)⁻¹ Q_x)`` from the pivot-free
   ``L D Lᵀ`` of ``I + P_x``, by row operations on whole rows up to k = 32 and by the
   congruence of :func:`~skbait._kernels._linalg.trace_solve_planes` above (or
   ``log det(I + P_x)``, the sum of the logs of its pivots, for the log-det objective).

From k = 32 on, each row's rank-``k`` update (a ``k × k × 2k`` product) is itself a BLAS
call.

The GEMM output never goes to main memory: a step reads ``h`` and reads and writes
``[P | Q]`` once, which is its whole memory traffic.

Rows are independent: every row runs the same instruction sequence, with no reduction
across rows, and the tiles are fixed by the row index alone (multiples of
:func:`tile_rows` from the first row of the call), never by the number of threads or
the thread that runs them, so the result does not depend on the number of threads, bit
for bit. (Exact copies of a candidate share one row in
:class:`~skbait._kernels.woodbury.CandidateRows`, so that they get one score whatever
BLAS does with a row's position in a tile.) Threads are plain Python threads over
contiguous runs of tiles (the compiled code releases the GIL), handed out in small
pieces so that a thread preempted by another process delays at most one piece (see
:func:`choose_threads`); while they run, the process's BLAS is held to one thread so that
each tile's ``dgemm`` runs on the thread that called it.

The step's other part, its ``D × D × k`` products (``M⁻¹U``, ``FR'``, ``M⁻¹FR'``), has a
compiled kernel too, :func:`narrow_product`: for small ``k`` BLAS spends more time copying
the ``D × D`` matrix into its packed layout than multiplying, since the pass has just
pushed that matrix out of the caches.

Layout (all float64, C-contiguous, CPU; numpy arrays or CPU torch tensors, which are
used through zero-copy ``.numpy()`` views):

- ``pq``: (rows, k, halves·k), updated in place. ``pq[x, :, :k]`` is ``P_x`` (symmetric
  PSD), ``pq[x, :, k:]`` is ``Q_x`` (only its symmetric part matters) when ``halves == 2``.
- ``h``: (rows, d), the candidates' features; ``right``: (d, k·halves·k), the step's
  directions, laid out so that ``(h @ right)[x, c·halves·k + half·k + a]`` is output
  ``a`` of column ``c`` of ``R'`` (``half = 0``) or of ``2E`` (``half = 1``)
  (``CandidateRows.update`` builds it). Read only. The flat row of ``h @ right`` splits
  into ``halves·k`` segments of length ``k``, each ``C``-transformed with ``s_x, u_x``.
- ``s``, ``u``: (rows, k), the two vectors of ``C_x``.
- ``out``: (rows,), written.

Compilation happens once per process on first use (:func:`available`), from numba's
on-disk cache when one is there (``cache=True``: ``__pycache__`` next to this file, or
numba's user-wide cache directory when that is not writable, or ``NUMBA_CACHE_DIR``).
:func:`compile_info` reports what it cost. Without numba, :func:`available` is False and
the callers keep the torch operations, which pick the same batch.
"""

import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._constants import PARALLEL_STATE_MIN

try:  # numba is optional: without it the callers keep the eager torch path
    import numba
except Exception as exc:  # pragma: no cover - missing, or built for another numpy
    numba = None
    _IMPORT_ERROR = exc
else:
    _IMPORT_ERROR = None

__all__ = ["available", "choose_threads", "compile_info", "gains", "narrow_product",
           "tile_rows", "update_and_gains"]

_KINDS = {None: 0, "none": 0, "trace": 1, "logdet": 2}
# Rows are handed out to the threads in pieces of about this many state entries (512 KB,
# 0.2 to 1 ms on one core): small enough that a thread preempted by another process holds
# up one piece rather than half of the pass, large enough that handing them out is free.
_PIECE_ENTRIES = 1 << 16
# A tile's GEMM output takes at most this much (half of a 512 KB L2, the other half for
# the tile's rows of h and [P | Q]), within 64 to 256 rows: single-threaded dgemm with
# d = 64 runs at 75 to 95 % of its large-matrix rate from 64 rows on, and at 50 to 70 %
# at 16 (benchmarks/README.md, "The pass as it is now"); at large k a tile overflows L2
# into L3.
_TILE_BYTES = 1 << 18
_TILE_MIN_ROWS, _TILE_MAX_ROWS = 64, 256
# From this k on, each row's rank-k update is a BLAS product (see _rows_kernel)
_BLAS_UPDATE_K = 32
# Up to this k the gains come from whole-row operations (_whole_rows_gain), above from the
# congruence (_congruence_gain), which does a third fewer operations in shorter loops: per
# row, 2.5 against 3.0 µs at k = 16, 8.3 against 9.2 at k = 32, then 36 against 27 at
# k = 48 and about 250 against 215 at k = 100 (benchmarks/README.md)
_WHOLE_ROWS_MAX_K = 32

_lock = threading.Lock()
_state = {"kernel": None, "error": None, "info": None, "blas": None}
_pool = None
_pool_size = 0


def _rows_kernel(pq, g, s, u, sign, kind, update, out, lo, hi):  # pragma: no cover - jitted
    """Rows ``lo:hi``: C-transform of ``g``, rank-``k`` update of ``pq``, then the gains.

    ``g`` is (rows, k·hk) here. ``kind``: 0 no gain, 1 trace, 2 log-det. Loops run over
    views from index 0 so that numba proves the indices non-negative and vectorises them.
    """
    k = pq.shape[1]
    hk = pq.shape[2]
    y = np.empty((k, hk))
    yf = y.reshape(k * hk)
    big = k >= _BLAS_UPDATE_K
    yt = np.empty((k, k) if big else (0, 0))
    prod = np.empty((k, hk) if big else (0, 0))
    # the elimination's work space: whole rows [I + P | Q | I] (trace) or [I + P]
    # (log-det) at small k, the two k × k blocks and two vectors at large k
    whole = k <= _WHOLE_ROWS_MAX_K
    z = np.empty((k, 3 * k if kind == 1 else k) if whole else (0, 0))
    a = np.empty((0, 0) if whole else (k, k))
    b = np.empty((0, 0) if whole else (k, k))
    low = np.empty(k)
    row = np.empty(k)
    for x in range(lo, hi):
        px = pq[x]
        if update:
            gf = g[x]
            sx = s[x]
            ux = u[x]
            # 1. Y C_x on each length-k segment: (y − (y·u) 1ᵀ) diag(s), as apply_c_;
            # two segments at a time so that their dot products overlap
            for pair in range(hk // 2):
                lo0 = 2 * pair * k
                src0 = gf[lo0:lo0 + k]
                src1 = gf[lo0 + k:lo0 + 2 * k]
                t0 = 0.0
                t1 = 0.0
                for m in range(k):
                    t0 += src0[m] * ux[m]
                    t1 += src1[m] * ux[m]
                dst0 = yf[lo0:lo0 + k]
                dst1 = yf[lo0 + k:lo0 + 2 * k]
                for m in range(k):
                    dst0[m] = (src0[m] - t0) * sx[m]
                    dst1[m] = (src1[m] - t1) * sx[m]
            if hk % 2:
                lo0 = (hk - 1) * k
                src0 = gf[lo0:lo0 + k]
                t0 = 0.0
                for m in range(k):
                    t0 += src0[m] * ux[m]
                dst0 = yf[lo0:lo0 + k]
                for m in range(k):
                    dst0[m] = (src0[m] - t0) * sx[m]
            # 2. [P | Q] −= sign · Y[:, :k]ᵀ Y. From k = _BLAS_UPDATE_K on, a k × k × 2k
            # product is large enough for BLAS (2 to 3 times the loops' rate at k = 100)
            if k >= _BLAS_UPDATE_K:
                for c in range(k):
                    for i in range(k):
                        yt[i, c] = y[c, i]
                np.dot(yt, y, prod)
                for i in range(k):
                    pr = px[i]
                    qr = prod[i]
                    for j in range(hk):
                        pr[j] -= sign * qr[j]
                # P is symmetric up to BLAS's rounding: make it exact, as the loops keep it
                for i in range(k):
                    for j in range(i):
                        px[j, i] = px[i, j]
            else:
                # four rows of Y at a time. Entry (i, j) of P gets the same terms in the
                # same order as entry (j, i), so P stays exactly symmetric (sign = ±1)
                for i in range(k):
                    pr = px[i]
                    c = 0
                    while c + 3 < k:
                        w0 = sign * y[c, i]
                        w1 = sign * y[c + 1, i]
                        w2 = sign * y[c + 2, i]
                        w3 = sign * y[c + 3, i]
                        y0 = y[c]
                        y1 = y[c + 1]
                        y2 = y[c + 2]
                        y3 = y[c + 3]
                        for j in range(hk):
                            pr[j] -= (w0 * y0[j] + w1 * y1[j]) + (w2 * y2[j] + w3 * y3[j])
                        c += 4
                    while c < k:
                        w0 = sign * y[c, i]
                        y0 = y[c]
                        for j in range(hk):
                            pr[j] -= w0 * y0[j]
                        c += 1
        if kind == 0:
            continue
        # 3. the gain, as TraceState._score / DesignState._score
        if k == 1:
            if kind == 1:
                out[x] = px[0, 1] / (1.0 + px[0, 0])
            else:
                out[x] = math.log1p(px[0, 0])
            continue
        # I + P = L D Lᵀ without pivoting (its Schur complements are ≥ 1)
        if k <= _WHOLE_ROWS_MAX_K:
            out[x] = _whole_rows_gain(px, z, kind)
        else:
            out[x] = _congruence_gain(px, a, b, low, row, kind)


def _identity_plus(px, work):  # pragma: no cover - jitted
    """``work[:, :k] ← I + P`` (``P = px[:, :k]``), where both gains start."""
    k = px.shape[0]
    for i in range(k):
        wi = work[i]
        pi = px[i]
        for j in range(k):
            wi[j] = pi[j]
        wi[i] += 1.0


def _whole_rows_gain(px, z, kind):  # pragma: no cover - jitted
    """The gain by row operations on the whole of ``[I + P | Q | I]`` (``z``), which turn
    it into ``[D Lᵀ | L⁻¹Q | L⁻¹]``: ``tr((I + P)⁻¹ Q) = tr(D⁻¹ (L⁻¹Q) L⁻ᵀ)`` ``= Σ_j
    (Σ_{m ≤ j} (L⁻¹Q)_jm (L⁻¹)_jm) / D_j``. Whole rows (entries left of the pivot are never
    read again) keep every loop the same length: faster at small k than
    :func:`_congruence_gain`, for half as many operations again."""
    k = px.shape[0]
    width = z.shape[1]
    _identity_plus(px, z)
    if kind == 1:
        for i in range(k):
            zi = z[i]
            pi = px[i]
            for j in range(k, 2 * k):
                zi[j] = pi[j]
            for j in range(2 * k, 3 * k):
                zi[j] = 0.0
            zi[2 * k + i] = 1.0
    for j in range(k - 1):
        zj = z[j]
        inv = 1.0 / zj[j]
        for i in range(j + 1, k):
            zi = z[i]
            li = zi[j] * inv
            for m in range(width):
                zi[m] -= li * zj[m]
    total = 0.0
    if kind == 1:
        for j in range(k):
            zj = z[j]
            acc = 0.0
            for m in range(j + 1):
                acc += zj[k + m] * zj[2 * k + m]
            total += acc / zj[j]
    else:
        for j in range(k):
            total += math.log(z[j, j])
    return total


def _congruence_gain(px, a, b, low, row, kind):  # pragma: no cover - jitted
    """The gain by ``b ← L⁻¹ Q L⁻ᵀ`` on the trailing blocks, the steps of
    :func:`~skbait._kernels._linalg.trace_solve_planes`: fewest operations, for large k."""
    k = px.shape[0]
    _identity_plus(px, a)
    if kind == 1:
        for i in range(k):
            bi = b[i]
            qi = px[i, k:]
            for j in range(k):
                bi[j] = qi[j]
    for j in range(k - 1):
        nt = k - j - 1
        piv = a[j, j]
        lw = low[:nt]
        for i in range(nt):
            lw[i] = a[j + 1 + i, j] / piv
        aj = a[j, j + 1:]
        for i in range(nt):
            li = lw[i]
            ai = a[j + 1 + i, j + 1:]
            for m in range(nt):
                ai[m] -= li * aj[m]
        if kind != 1:
            continue
        bjj = b[j, j]
        bj = b[j, j + 1:]
        rw = row[:nt]
        for m in range(nt):
            rw[m] = bj[m] - lw[m] * bjj
        for i in range(nt):
            li = lw[i]
            bij = b[j + 1 + i, j]
            bi = b[j + 1 + i, j + 1:]
            for m in range(nt):
                bi[m] = (bi[m] - li * rw[m]) - bij * lw[m]
    total = 0.0
    if kind == 1:
        for j in range(k):
            total += b[j, j] / a[j, j]
    else:
        for j in range(k):
            total += math.log(a[j, j])
    return total


def _tile_kernel(h, right, pq, s, u, sign, kind, out, lo, hi, tile):  # pragma: no cover
    """Rows ``lo:hi`` (``lo`` a multiple of ``tile``) a tile at a time: the tile's GEMM
    ``h[tile] @ right`` into a reused buffer, then :func:`_rows_kernel` on its rows."""
    buffer = np.empty((max(0, min(tile, hi - lo)), right.shape[1]))
    start = lo
    while start < hi:
        stop = min(start + tile, hi)
        g = buffer[: stop - start]
        np.dot(h[start:stop], right, g)
        _rows_jit(pq[start:stop], g, s[start:stop], u[start:stop], sign, kind, True,
                  out[start:stop], 0, stop - start)
        start = stop


def _narrow_kernel(x, a, out):  # pragma: no cover - jitted
    """``out ← xᵀ a`` (``x``: D × k, ``a``: D × W, ``out``: k × W), ``a`` read once, four
    rows at a time: each output row gains ``x[j, c] · a[j]`` over those rows while they
    are in L1. A fixed order of operations for every output entry, whatever the vector
    width: the same bits on every x86 machine."""
    n_rows, k = x.shape
    width = a.shape[1]
    for c in range(k):
        oc = out[c]
        for m in range(width):
            oc[m] = 0.0
    j = 0
    while j + 3 < n_rows:
        a0 = a[j]
        a1 = a[j + 1]
        a2 = a[j + 2]
        a3 = a[j + 3]
        for c in range(k):
            x0 = x[j, c]
            x1 = x[j + 1, c]
            x2 = x[j + 2, c]
            x3 = x[j + 3, c]
            oc = out[c]
            for m in range(width):
                oc[m] += (x0 * a0[m] + x1 * a1[m]) + (x2 * a2[m] + x3 * a3[m])
        j += 4
    while j < n_rows:
        a0 = a[j]
        for c in range(k):
            x0 = x[j, c]
            oc = out[c]
            for m in range(width):
                oc[m] += x0 * a0[m]
        j += 1


if numba is not None:  # compiled lazily, on the first call of available()
    _JIT = {"cache": True, "nogil": True, "boundscheck": False, "error_model": "numpy"}
    _identity_plus = numba.njit(**_JIT)(_identity_plus)
    _whole_rows_gain = numba.njit(**_JIT)(_whole_rows_gain)
    _congruence_gain = numba.njit(**_JIT)(_congruence_gain)
    _rows_jit = numba.njit(**_JIT)(_rows_kernel)
    _tile_jit = numba.njit(**_JIT)(_tile_kernel)
    _narrow_jit = numba.njit(**_JIT)(_narrow_kernel)


def _signatures():
    f8, i8 = numba.float64, numba.int64
    rows = numba.void(f8[:, :, ::1], f8[:, ::1], f8[:, ::1], f8[:, ::1], f8, i8,
                      numba.boolean, f8[::1], i8, i8)
    tile = numba.void(f8[:, ::1], f8[:, ::1], f8[:, :, ::1], f8[:, ::1], f8[:, ::1], f8, i8,
                      f8[::1], i8, i8, i8)
    narrow = numba.void(f8[:, ::1], f8[:, ::1], f8[:, ::1])
    return rows, tile, narrow


def _compile():
    """Compile (or load from numba's cache) and self-check the kernels; once per process."""
    if numba is None:
        raise ImportError(f"numba cannot be imported: {_IMPORT_ERROR!r}")
    start = time.perf_counter()
    dispatchers = (_rows_jit, _tile_jit, _narrow_jit)
    for dispatcher, signature in zip(dispatchers, _signatures()):
        dispatcher.compile(signature)
    seconds = time.perf_counter() - start
    hits = sum(sum(d.stats.cache_hits.values()) for d in dispatchers)
    for dispatcher in dispatchers:
        dispatcher.disable_compile()  # a call with other types is a TypeError, not a compile
    kernels = {"rows": _rows_jit, "tile": _tile_jit, "narrow": _narrow_jit}
    _self_check(kernels)
    return kernels, {
        "seconds": seconds,
        "source": "cache" if hits == len(dispatchers) else "compiled",
        "cache_dir": _rows_jit.stats.cache_path,
        "numba": numba.__version__,
    }


def _blas_controller():
    """threadpoolctl's handle on the BLAS that the tiles' ``dgemm`` calls (loaded by now)."""
    try:
        import threadpoolctl

        return threadpoolctl.ThreadpoolController()
    except Exception:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return None


def _self_check(kernels):
    """A 2 × 2 case worked by hand: the compiled code must reproduce it."""
    pq = np.array([[[1.0, 0.0, 2.0, 0.0], [0.0, 1.0, 0.0, 4.0]]])
    one = np.ones((1, 2))
    out = np.empty(1)
    # P = I, Q = diag(2, 4) and a zero update: tr((2I)⁻¹ Q) = 3
    kernels["tile"](np.ones((1, 1)), np.zeros((1, 8)), pq, one, np.zeros((1, 2)), 1.0, 1,
                    out, 0, 1, 1)
    if out[0] != 3.0:
        raise RuntimeError(f"the fused kernel's self-check gave {out[0]!r} instead of 3")
    # [1 2 3 4 5]ᵀ [1 … 5]ᵀ = 55: both loops of the narrow product
    column = np.arange(1.0, 6.0).reshape(5, 1)
    kernels["narrow"](column, column.copy(), out.reshape(1, 1))
    if out[0] != 55.0:
        raise RuntimeError(f"the narrow product's self-check gave {out[0]!r} instead of 55")


def _kernels():
    if _state["kernel"] is None and _state["error"] is None:
        with _lock:
            if _state["kernel"] is None and _state["error"] is None:
                try:
                    _state["kernel"], _state["info"] = _compile()
                    _state["blas"] = _blas_controller()
                except Exception as exc:  # no numba, or it cannot compile here
                    _state["error"] = exc
    return _state["kernel"]


def _ready_kernels():
    """The compiled kernels, or RuntimeError saying why there are none."""
    kernels = _kernels()
    if kernels is None:
        raise RuntimeError(f"the fused path is not available: {compile_info() or 'disabled'}")
    return kernels


def available():
    """Whether the fused path can be used: numba imports and the kernels compile here.

    The first call compiles the kernels (or loads them from numba's cache) and checks them
    on a small case; later calls are free. False when numba is missing or when compiling
    failed (:func:`compile_info` says why).
    """
    return _kernels() is not None


def compile_info():
    """What making the kernels ready cost in this process, or why they are unavailable.

    Returns
    -------
    dict
        ``seconds`` (compile or cache load, including numba's import of the cached code),
        ``source`` (``"compiled"`` or ``"cache"``), ``cache_dir`` and ``numba`` version;
        or ``{"error": ...}``; or ``{}`` before the first use.
    """
    if _state["error"] is not None:
        return {"error": repr(_state["error"])}
    return dict(_state["info"] or {})


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
    pieces = -(-n_rows // _piece_rows(k, halves, 1))
    return int(max(1, min(max_threads, pieces)))


def tile_rows(k, halves=2):
    """Rows of one tile of :func:`update_and_gains`: its GEMM output fits in L2."""
    fit = _TILE_BYTES // (8 * k * halves * k)
    return int(min(_TILE_MAX_ROWS, max(_TILE_MIN_ROWS, fit)))


def _piece_rows(k, halves, tile):
    """Rows of one piece handed to a thread: about ``_PIECE_ENTRIES`` entries of state,
    in whole tiles."""
    rows = max(1, _PIECE_ENTRIES // (k * halves * k))
    return max(tile, rows // tile * tile)


def update_and_gains(pq, h, right, s, u, sign, halves, out_gains, kind="trace", *,
                     threads=None):
    """Fused per-candidate part of one greedy step, in place on a block of rows.

    For every row ``x``: ``G_x ← C``-transform of ``(h @ right)[x]`` (as ``apply_c_(s, u,
    (h @ right).view(-1, halves·k, k))``), ``pq[x] −= sign · G_x[:, :k]ᵀ G_x`` (as
    ``pq.baddbmm_(G[:, :, :k].transpose(1, 2), G, alpha=-sign)``), then
    ``out_gains[x] =`` ``tr((I + P_x)⁻¹ Q_x)`` (``kind="trace"``, needs ``halves == 2``),
    ``log det(I + P_x)`` (``kind="logdet"``, reads only ``P_x``) or nothing
    (``kind=None``). Equals the eager torch computation to rounding (about 1e-15
    relative on well-conditioned ``I + P_x``).

    Parameters
    ----------
    pq : ndarray or torch.Tensor of shape (rows, k, halves·k)
        ``[P_x | Q_x]`` (or ``P_x``), float64, C-contiguous; updated in place.
    h : ndarray or torch.Tensor of shape (rows, d)
        The rows' features. Read only.
    right : ndarray or torch.Tensor of shape (d, k·halves·k)
        The step's directions (see the module docstring for their layout). Read only.
    s, u : ndarray or torch.Tensor of shape (rows, k)
        The vectors of ``C_x = diag(s_x) − u_x s_xᵀ``.
    sign : float
        +1 for an addition to ``M``, -1 for a removal.
    halves : {1, 2}
        2 when ``pq`` holds ``[P | Q]`` (BAIT), 1 when it holds ``P`` only (log-det).
    out_gains : ndarray or torch.Tensor of shape (rows,), or None
        Receives the gains (float64, contiguous); None only with ``kind=None``.
    kind : {"trace", "logdet", None}, default="trace"
    threads : int, default=None
        Threads for the pass; None asks :func:`choose_threads`. The result does not
        depend on it, bit for bit.

    Returns
    -------
    out_gains
        The array passed in (None with ``kind=None``).

    Raises
    ------
    RuntimeError
        If the fused path is not :func:`available`.
    ValueError
        On shapes, dtypes or memory layouts other than the above.
    """
    return _run(pq, (h, right, s, u), float(sign), halves, out_gains, kind, threads)


def gains(pq, halves, out_gains, kind="trace", *, threads=None):
    """The gains of :func:`update_and_gains` without an update (``CandidateRows.scores``).

    ``out_gains[x] = tr((I + P_x)⁻¹ Q_x)`` (``kind="trace"``, ``halves == 2``) or
    ``log det(I + P_x)`` (``kind="logdet"``) for every row of ``pq`` (not modified).
    """
    if kind is None or kind == "none":
        raise ValueError("gains() needs kind='trace' or 'logdet'")
    return _run(pq, None, 0.0, halves, out_gains, kind, threads)


def narrow_product(x, a, out):
    """``out ← xᵀ a`` for a narrow ``x`` (``D × k``) and a wide ``a`` (``D × W``), on this
    thread.

    For the greedy loop's ``D × D × k`` products with small ``k``: BLAS copies ``a`` into
    its packed layout at every call, and that copy costs more than the product when ``a``
    comes cold from memory, as the state's matrices do after each pass over the
    candidates (benchmarks/README.md). Here ``a`` is read once, in place. The result does
    not depend on the machine, bit for bit.

    Parameters
    ----------
    x : ndarray or torch.Tensor of shape (D, k)
    a : ndarray or torch.Tensor of shape (D, W)
        Both float64, C-contiguous, on the CPU. Read only.
    out : ndarray or torch.Tensor of shape (k, W)
        Written (float64, C-contiguous).

    Returns
    -------
    out
        The array passed in.
    """
    kernels = _ready_kernels()
    x_np, a_np = _array(x, "x"), _array(a, "a")
    out_np = _array(out, "out", writable=True)
    if x_np.ndim != 2 or a_np.ndim != 2 or x_np.shape[0] != a_np.shape[0]:
        raise ValueError(f"x and a must be (D, k) and (D, W), got {x_np.shape} and "
                         f"{a_np.shape}")
    if out_np.shape != (x_np.shape[1], a_np.shape[1]):
        raise ValueError(f"out must have shape {(x_np.shape[1], a_np.shape[1])}, got "
                         f"{out_np.shape}")
    kernels["narrow"](x_np, a_np, out_np)
    return out


def _run(pq, update, sign, halves, out_gains, kind, threads):
    kernels = _ready_kernels()
    if kind not in _KINDS:
        raise ValueError(f"kind must be 'trace', 'logdet' or None, got {kind!r}")
    code = _KINDS[kind]
    pq_np = _array(pq, "pq", writable=True)
    if pq_np.ndim != 3:
        raise ValueError(f"pq must have shape (rows, k, halves*k), got {pq_np.shape}")
    rows, k, hk = pq_np.shape
    if halves not in (1, 2) or hk != halves * k:
        raise ValueError(f"pq of shape {pq_np.shape} does not hold {halves} k × k halves")
    if code == 1 and halves != 2:
        raise ValueError("kind='trace' needs [P | Q] (halves=2)")
    if code:
        out_np = _array(out_gains, "out_gains", writable=True)
        if out_np.shape != (rows,):
            raise ValueError(f"out_gains must have shape {(rows,)}, got {out_np.shape}")
    else:  # only an update without gains (gains() refuses kind=None): sliced per tile,
        out_np = np.empty(rows)  # never written
    if threads is None:
        threads = choose_threads(rows, k, halves)
    if update is None:
        args = (pq_np, np.empty((rows, 0)), np.empty((rows, 0)), np.empty((rows, 0)), sign,
                code, False, out_np)
        _parallel_rows(kernels["rows"], args, rows, int(threads), _piece_rows(k, halves, 1))
        return out_gains
    h_np, right_np, s_np, u_np = (_array(v, name) for v, name in
                                  zip(update, ("h", "right", "s", "u")))
    if h_np.ndim != 2 or h_np.shape[0] != rows:
        raise ValueError(f"h must have shape (rows, d) = ({rows}, d), got {h_np.shape}")
    if right_np.shape != (h_np.shape[1], k * hk):
        raise ValueError(f"right must have shape (d, k·halves·k) = "
                         f"{(h_np.shape[1], k * hk)}, got {right_np.shape}")
    if s_np.shape != (rows, k) or u_np.shape != (rows, k):
        raise ValueError(f"s and u must have shape {(rows, k)}, got {s_np.shape} and "
                         f"{u_np.shape}")
    tile = tile_rows(k, halves)
    args = (h_np, right_np, pq_np, s_np, u_np, sign, code, out_np)
    with _one_blas_thread():
        _parallel_rows(lambda *a: kernels["tile"](*a, tile), args, rows, int(threads),
                       _piece_rows(k, halves, tile), tile)
    return out_gains


class _one_blas_thread:
    """Hold the process's BLAS to one thread while the tiles' ``dgemm`` run: the threads
    are this module's, and a BLAS thread pool per call would fight them for the cores."""

    def __enter__(self):
        controller = _state["blas"]
        self._limit = None if controller is None else controller.limit(limits=1,
                                                                       user_api="blas")
        return self

    def __exit__(self, *exc):
        if self._limit is not None:
            self._limit.restore_original_limits()


def _array(value, name, writable=False):
    """A C-contiguous float64 numpy view of ``value`` (no copy), or ValueError."""
    if value is None:
        raise ValueError(f"{name} is required")
    if not isinstance(value, np.ndarray):
        if getattr(value, "device", None) is not None and str(value.device) != "cpu":
            raise ValueError(f"{name} must be on the CPU, got {value.device}")
        value = value.detach().numpy()  # a torch tensor: zero-copy view
    if value.dtype != np.float64:
        raise ValueError(f"{name} must be float64, got {value.dtype}")
    if not value.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if writable and not value.flags.writeable:
        raise ValueError(f"{name} must be writable")
    return value


def _parallel_rows(kernel, args, rows, threads, piece, unit=1):
    """Run ``kernel`` over rows ``0:rows``: this thread and ``threads − 1`` pool workers
    take contiguous pieces of at most ``piece`` rows from a shared counter until none is
    left. Pieces start at multiples of ``unit`` (the tiles), whatever ``threads`` is."""
    threads = max(1, min(threads, rows))
    if threads == 1:
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
    work()
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
