"""One fused pass per greedy step over the candidates' ``[P_x | Q_x]`` (numba, CPU), and
the step's global part in compiled code.

After a pick, :class:`~skbait._kernels.woodbury.TraceState` lowers every candidate's
state by a rank-``k`` term and recomputes its gain. In torch that is a GEMM over the
whole pool and then tens of small operations (``apply_c_``, ``baddbmm``, the transposing
copy and the ``O(k)`` whole-array operations of ``trace_solve_planes``), each a pass over
memory and, with two threads, a barrier that waits for the slowest thread. Here one
compiled call per tile of rows does the tile's GEMM and then, row by row, the
``C``-transform, the rank-``k`` update and the gain (:mod:`._pass`), so that the GEMM
output never goes to main memory. For ``k ≤ LANES_MAX_K`` the state is stored instead
``LANES`` candidates to a block, the candidate innermost (:mod:`._lanes`), and every
operation is a vector over a block's candidates: at small ``k`` a loop over ``k``
entries costs more in its start than in its arithmetic. The rows are shared among
threads in small pieces
(:mod:`._parallel`): a thread preempted by another process delays at most one piece, and
the result does not depend on the number of threads, bit for bit. (Exact copies of a
candidate share one row in :class:`~skbait._kernels.woodbury.CandidateRows`, so that they
get one score whatever BLAS does with a row's position in a tile.)

The setup's two contractions over the pool, every candidate's first blocks
(:func:`pair_contraction`) and ``F`` (:func:`pair_gram`), run compiled too
(:mod:`._setup`), shared among threads in pieces as the pass's rows are.

The step's global part has compiled kernels too (:mod:`._global`): its ``D × D × k``
products (``FR'``, ``M⁻¹FR'``, :func:`narrow_product`), for which at small
``k`` BLAS spends more time copying the ``D × D`` matrix into its packed layout than
multiplying, and the members' update (:func:`update_members`), about twenty batched
torch operations on ``(m, k, k)`` tensors, each costing more in its own overhead than
in arithmetic.

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

In the lanes layout ``pq`` is (blocks, k, halves·k, LANES), ``s`` and ``u`` (blocks, k,
LANES), with ``pq[b, i, j, l]`` entry ``(i, j)`` of row ``b·LANES + l`` (the same for
``s`` and ``u``; of ``P_x`` the updates keep only the lower triangle, all the gains
read), and ``out`` (blocks·LANES,); ``h`` and ``right`` are as above, ``h``
without the padding of the last block (``blocks = ⌈rows / LANES⌉``). The functions take
either layout, told apart by ``pq``'s dimensions.

Compilation happens once per process on first use (:func:`available`), from numba's
on-disk cache when one is there (``cache=True``: ``__pycache__`` next to these files, or
numba's user-wide cache directory when that is not writable, or ``NUMBA_CACHE_DIR``).
:func:`compile_info` reports what it cost. Without numba, :func:`available` is False and
the callers keep the torch operations, which pick the same batch.
"""

import os
import threading
import time

import numpy as np

from ._global import _members_kernel, _narrow_kernel
from ._jit import IMPORT_ERROR, numba
from ._lanes import LANES, LANES_MAX_K, _lanes_kernel
from ._parallel import CoreWatch, choose_threads, one_blas_thread, parallel_rows, piece_rows
from ._pass import _rows_kernel, _tile_kernel, tile_rows
from ._setup import GRAM_PAIRS, _gram_kernel, _pairs_kernel, block_rows

__all__ = ["LANES", "LANES_MAX_K", "CoreWatch", "applies_to", "available", "blas_controller",
           "choose_threads", "compile_info", "gains", "narrow_product", "one_blas_thread",
           "pair_contraction", "pair_gram", "tile_rows", "update_and_gains",
           "update_members"]

_KINDS = {None: 0, "none": 0, "trace": 1, "logdet": 2}

_lock = threading.Lock()
_state = {"kernel": None, "error": None, "info": None, "blas": None}


def _signatures():
    """Each kernel and the one signature it is compiled for."""
    f8, i8 = numba.float64, numba.int64
    return {
        "rows": (_rows_kernel, numba.void(f8[:, :, ::1], f8[:, ::1], f8[:, ::1], f8[:, ::1],
                                          f8, i8, numba.boolean, f8[::1], i8, i8)),
        "tile": (_tile_kernel, numba.void(f8[:, ::1], f8[:, ::1], f8[:, :, ::1], f8[:, ::1],
                                          f8[:, ::1], f8, i8, f8[::1], i8, i8, i8)),
        "lanes": (_lanes_kernel, numba.void(f8[:, ::1], f8[:, ::1], f8[:, :, :, ::1],
                                            f8[:, :, ::1], f8[:, :, ::1], f8, i8,
                                            numba.boolean, f8[::1], i8, i8)),
        "narrow": (_narrow_kernel, numba.void(f8[:, ::1], f8[:, ::1], f8[:, ::1])),
        "members": (_members_kernel, numba.void(f8[:, :, ::1], f8[:, ::1], f8[:, ::1],
                                                f8[:, :, ::1], f8[:, :, ::1], f8[:, ::1], f8)),
        "pairs": (_pairs_kernel, numba.void(f8[:, ::1], f8[:, ::1], f8[:, ::1], i8, i8, i8)),
        "gram": (_gram_kernel, numba.void(f8[:, ::1], f8[:, ::1], i8[::1], i8[::1], f8[:, ::1],
                                          i8, i8)),
    }


def _compile():
    """Compile (or load from numba's cache) and self-check the kernels; once per process."""
    if numba is None:
        raise ImportError(f"numba cannot be imported: {IMPORT_ERROR!r}")
    start = time.perf_counter()
    kernels = {}
    for name, (dispatcher, signature) in _signatures().items():
        dispatcher.compile(signature)
        kernels[name] = dispatcher
    seconds = time.perf_counter() - start
    hits = sum(sum(d.stats.cache_hits.values()) for d in kernels.values())
    for dispatcher in kernels.values():
        dispatcher.disable_compile()  # a call with other types is a TypeError, not a compile
    _self_check(kernels)
    return kernels, {
        "seconds": seconds,
        "source": "cache" if hits == len(kernels) else "compiled",
        "cache_dir": kernels["rows"].stats.cache_path,
        "numba": numba.__version__,
    }


def _blas_info(controller):
    """The BLAS libraries loaded in this process, as threadpoolctl sees them: which one,
    its version and the CPU kernels it chose (OpenBLAS's ``architecture``)."""
    if controller is None:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return []
    keys = ("internal_api", "version", "architecture", "filepath")
    return [{key: info.get(key) for key in keys}
            for info in controller.info() if info.get("user_api") == "blas"]


def blas_controller():
    """threadpoolctl's handle on the BLAS libraries loaded in this process now (None
    without threadpoolctl); at compile time it includes the one the tiles' ``dgemm``
    calls."""
    try:
        import threadpoolctl

        return threadpoolctl.ThreadpoolController()
    except Exception:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return None


def _self_check(kernels):
    """Small cases worked by hand, one per kernel: the compiled code must reproduce them."""
    pq = np.array([[[1.0, 0.0, 2.0, 0.0], [0.0, 1.0, 0.0, 4.0]]])
    one = np.ones((1, 2))
    out = np.empty(1)
    # P = I, Q = diag(2, 4) and a zero update: tr((2I)⁻¹ Q) = 3
    kernels["tile"](np.ones((1, 1)), np.zeros((1, 8)), pq, one, np.zeros((1, 2)), 1.0, 1,
                    out, 0, 1, 1)
    if out[0] != 3.0:
        raise RuntimeError(f"the fused kernel's self-check gave {out[0]!r} instead of 3")
    # the same case in every lane of one block of the lanes layout
    lanes = np.empty(LANES)
    kernels["lanes"](np.ones((LANES, 1)), np.zeros((8, 1)),
                     np.repeat(pq[:, :, :, None], LANES, axis=3), np.ones((1, 2, LANES)),
                     np.zeros((1, 2, LANES)), 1.0, 1, True, lanes, 0, 1)
    if not (lanes == 3.0).all():
        raise RuntimeError(f"the lanes kernel's self-check gave {lanes!r} instead of 3")
    # [1 2 3 4 5]ᵀ [1 … 5]ᵀ = 55: both loops of the narrow product
    column = np.arange(1.0, 6.0).reshape(5, 1)
    kernels["narrow"](column, column.copy(), out.reshape(1, 1))
    if out[0] != 55.0:
        raise RuntimeError(f"the narrow product's self-check gave {out[0]!r} instead of 55")
    # k = 1, P̂ = Q̂ = W = 0, a = e = 1 (C = 1): Â = 2, b̂ = ½, so P̂ and Q̂ become -½
    members = np.zeros((1, 1, 1)), np.zeros((1, 1, 1))
    kernels["members"](np.ones((1, 1, 2)), np.ones((1, 1)), np.zeros((1, 1)), *members,
                       np.zeros((1, 1)), 1.0)
    if members[0][0, 0, 0] != -0.5 or members[1][0, 0, 0] != -0.5:
        raise RuntimeError(f"the member update's self-check gave {members!r} instead of -0.5")
    # h = [1, 2]: pairs [1, 2, 4], their sum 7 (two rows, one per GEMM call)
    sums = np.empty((2, 1))
    kernels["pairs"](np.array([[1.0, 2.0], [1.0, 2.0]]), np.ones((3, 1)), sums, 1, 0, 2)
    if not (sums == 7.0).all():
        raise RuntimeError(f"the pair contraction's self-check gave {sums!r} instead of 7")
    # the same two rows (as hᵀ), g = 1 each: Σ pairs = [2, 4, 8], added to 1
    gram = np.ones((3, 1))
    kernels["gram"](np.array([[1.0, 1.0], [2.0, 2.0]]), np.ones((2, 1)),
                    np.array([0, 0, 1]), np.array([0, 1, 1]), gram, 0, 3)
    if not (gram[:, 0] == [3.0, 5.0, 9.0]).all():
        raise RuntimeError(f"the pair Gram's self-check gave {gram!r} instead of [3, 5, 9]")


def _kernels():
    if _state["kernel"] is None and _state["error"] is None:
        with _lock:
            if _state["kernel"] is None and _state["error"] is None:
                try:
                    _state["kernel"], _state["info"] = _compile()
                    _state["blas"] = blas_controller()
                    _state["info"]["blas"] = _blas_info(_state["blas"])
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


def applies_to(h):
    """Whether the fused path does the per-candidate work for rows with features ``h`` (a
    torch tensor): float64 on the CPU, and :func:`available`."""
    import torch

    return h.device.type == "cpu" and h.dtype == torch.float64 and available()


def compile_info():
    """What making the kernels ready cost in this process, or why they are unavailable.

    Returns
    -------
    dict
        ``seconds`` (compile or cache load, including numba's import of the cached code),
        ``source`` (``"compiled"`` or ``"cache"``), ``cache_dir``, ``numba`` version and
        ``blas``: the BLAS libraries loaded (``internal_api``, ``version``,
        ``architecture``, ``filepath``), among them the one the pass's tiles call. An
        OpenBLAS's ``architecture`` is the CPU kernels it took when it loaded, which the
        environment's ``OPENBLAS_CORETYPE`` overrides: held to ``"Haswell"`` (AVX2) on a
        CPU with AVX-512, its GEMM runs at about half its rate (:doc:`/user_guide/cpu`);
        or ``{"error": ...}``; or ``{}`` before the first use.
    """
    if _state["error"] is not None:
        return {"error": repr(_state["error"])}
    return dict(_state["info"] or {})


def update_and_gains(pq, h, right, s, u, sign, halves, out_gains, kind="trace", *,
                     threads=None, beside=None, watch=None):
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
    pq : ndarray or torch.Tensor of shape (rows, k, halves·k) or (blocks, k, halves·k, LANES)
        ``[P_x | Q_x]`` (or ``P_x``), float64, C-contiguous; updated in place. Of four
        dimensions: the lanes layout (module docstring), which ``s`` and ``u`` then share,
        and ``rows`` below is ``blocks·LANES`` (``h`` may lack the last block's padding).
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
    beside : callable, default=None
        Work that does not touch these arrays, which the calling thread does while the
        other threads start on the rows (the design state's update of ``M⁻¹`` and of its
        members), then joins them; on one thread, before the rows.
    watch : CoreWatch, default=None
        Told how many threads the pass ran on and how much of their time they were on a
        core (the selection's :class:`CoreWatch`, which lowers ``threads`` while another
        process shares the cores).

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
    return _run(pq, (h, right, s, u), float(sign), halves, out_gains, kind, threads, beside,
                watch)


def gains(pq, halves, out_gains, kind="trace", *, threads=None, watch=None):
    """The gains of :func:`update_and_gains` without an update (``CandidateRows.scores``).

    ``out_gains[x] = tr((I + P_x)⁻¹ Q_x)`` (``kind="trace"``, ``halves == 2``) or
    ``log det(I + P_x)`` (``kind="logdet"``) for every row of ``pq`` (not modified), in
    either layout. ``threads`` and ``watch`` as there.
    """
    if kind is None or kind == "none":
        raise ValueError("gains() needs kind='trace' or 'logdet'")
    return _run(pq, None, 0.0, halves, out_gains, kind, threads, None, watch)


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


def pair_contraction(h, stacked, out, *, threads=1):
    """``out ← pairs(h) @ stacked``: every row's ``i ≤ j`` feature pairs ``h_i h_j`` (in
    the order of ``torch.triu_indices(d, d)``) contracted with ``stacked``.

    The GEMM of :func:`~skbait._kernels.fisher.quad_forms`' packed route (its docstring),
    on ``threads`` threads in pieces of whole blocks of :func:`block_rows` rows, each
    multiplied by one single-threaded BLAS call: which calls are made does not depend on
    ``threads``, and neither does the result, bit for bit.

    Parameters
    ----------
    h : ndarray or torch.Tensor of shape (n, d)
        Read only.
    stacked : ndarray or torch.Tensor of shape (d(d + 1)/2, W)
        Read only.
    out : ndarray or torch.Tensor of shape (n, W)
        Written. All three float64, C-contiguous, on the CPU.
    threads : int, default=1

    Returns
    -------
    out
        The array passed in.
    """
    h_np, st_np, out_np, n, d = _pair_arrays(h, stacked, "stacked", out, "out")
    if (st_np.ndim != 2 or st_np.shape[0] != d * (d + 1) // 2
            or out_np.shape != (n, st_np.shape[1])):
        raise ValueError(f"h, stacked and out must be (n, d), (d(d + 1)/2, W) and (n, W), "
                         f"got {h_np.shape}, {st_np.shape} and {out_np.shape}")
    block = block_rows(d)
    _in_pieces("pairs", (h_np, st_np, out_np, block), n, threads, block)
    return out


def pair_gram(h, g, total, *, threads=1):
    """``total += pairs(h)ᵀ g``: the rows' ``i ≤ j`` feature pairs ``h_i h_j`` (in the
    order of ``torch.triu_indices(d, d)``) against their ``g``, summed over the rows.

    The GEMM of :func:`~skbait._kernels.fisher.fisher_sum`'s packed route, on ``threads``
    threads that take ranges of ``GRAM_PAIRS`` pairs (rows of ``total``): each range sums
    its rows in blocks of ``GRAM_ROWS``, in order, so that neither the calls nor the
    result depend on ``threads``, bit for bit.

    Parameters
    ----------
    h : ndarray or torch.Tensor of shape (n, d)
    g : ndarray or torch.Tensor of shape (n, m)
        Both read only.
    total : ndarray or torch.Tensor of shape (d(d + 1)/2, m)
        Added to in place. All three float64, C-contiguous, on the CPU.
    threads : int, default=1

    Returns
    -------
    total
        The array passed in.
    """
    h_np, g_np, total_np, n, d = _pair_arrays(h, g, "g", total, "total")
    pairs = d * (d + 1) // 2
    if g_np.ndim != 2 or g_np.shape[0] != n or total_np.shape != (pairs, g_np.shape[1]):
        raise ValueError(f"h, g and total must be (n, d), (n, m) and (d(d + 1)/2, m), got "
                         f"{h_np.shape}, {g_np.shape} and {total_np.shape}")
    first, second = (index.astype(np.int64) for index in np.triu_indices(d))
    _in_pieces("gram", (np.ascontiguousarray(h_np.T), g_np, first, second, total_np), pairs,
               threads, GRAM_PAIRS)
    return total


def _pair_arrays(h, other, other_name, out, out_name):
    """``h``, ``other`` and ``out`` (writable) as arrays, and ``h``'s ``(n, d)`` (-1 each
    unless it is two-dimensional): the operands of the pair contractions."""
    h_np, other_np = _array(h, "h"), _array(other, other_name)
    out_np = _array(out, out_name, writable=True)
    n, d = h_np.shape if h_np.ndim == 2 else (-1, -1)
    return h_np, other_np, out_np, n, d


def _in_pieces(name, args, count, threads, piece):
    """Kernel ``name`` over units ``0:count`` on ``threads`` threads, in pieces of
    ``piece`` units that start at its multiples, each BLAS call on one thread."""
    kernels = _ready_kernels()
    with one_blas_thread(_state["blas"]):
        parallel_rows(kernels[name], args, count, int(threads), piece, piece)


def update_members(products, s, u, p_hat, q_hat=None, w_mat=None, *, sign):
    """The member state's rank-``k`` update, in place, on this thread.

    The members' ``P̂_x`` (and, for BAIT, ``Q̂_x``) relative to ``M₋ₓ`` follow a pick or a
    removal as :meth:`~skbait._kernels.woodbury.DesignState._update_members` and
    :meth:`~skbait._kernels.woodbury.TraceState._update_members` say, in one compiled
    call over all members at once (the members innermost) instead of about twenty
    batched torch operations on ``(m, k, k)`` tensors. Equal to them to rounding.

    Parameters
    ----------
    products : ndarray or torch.Tensor of shape (m, k, halves·k)
        ``h_x @ both`` for each member before its ``C``-transform (``both`` being ``R'``
        or ``[R' | E]`` laid out as ``(d, k·halves·k)``). Read only.
    s, u : ndarray or torch.Tensor of shape (m, k)
        The members' vectors of ``C_x``.
    p_hat : ndarray or torch.Tensor of shape (m, k, k)
        Updated in place.
    q_hat : ndarray or torch.Tensor of shape (m, k, k), or None
        Updated in place; required when ``halves == 2`` (BAIT), None for log-det.
    w_mat : ndarray or torch.Tensor of shape (k, k), or None
        ``W = R'ᵀFR'``, with ``q_hat``.
    sign : float
        +1 after an addition to ``M``, -1 after a removal.

    All float64, C-contiguous, on the CPU.
    """
    kernels = _ready_kernels()
    g = _array(products, "products")
    if g.ndim != 3 or g.shape[2] not in (g.shape[1], 2 * g.shape[1]):
        raise ValueError(f"products must have shape (m, k, halves*k), got {g.shape}")
    m, k, hk = g.shape
    s_np, u_np = _array(s, "s"), _array(u, "u")
    p_np = _array(p_hat, "p_hat", writable=True)
    if s_np.shape != (m, k) or u_np.shape != (m, k) or p_np.shape != (m, k, k):
        raise ValueError(f"s, u and p_hat must have shapes {(m, k)} and {(m, k, k)}, got "
                         f"{s_np.shape}, {u_np.shape} and {p_np.shape}")
    if (hk == 2 * k) != (q_hat is not None) or (q_hat is None) != (w_mat is None):
        raise ValueError("q_hat and w_mat go with products of 2k columns (BAIT), and only "
                         "with them")
    if q_hat is None:
        q_np, w_np = np.empty((0, k, k)), np.empty((k, k))
    else:
        q_np, w_np = _array(q_hat, "q_hat", writable=True), _array(w_mat, "w_mat")
        if q_np.shape != (m, k, k) or w_np.shape != (k, k):
            raise ValueError(f"q_hat and w_mat must have shapes {(m, k, k)} and {(k, k)}, "
                             f"got {q_np.shape} and {w_np.shape}")
    kernels["members"](g, s_np, u_np, p_np, q_np, w_np, float(sign))


def _run(pq, update, sign, halves, out_gains, kind, threads, beside, watch):
    kernels = _ready_kernels()
    if kind not in _KINDS:
        raise ValueError(f"kind must be 'trace', 'logdet' or None, got {kind!r}")
    code = _KINDS[kind]
    pq_np = _array(pq, "pq", writable=True)
    lanes = pq_np.ndim == 4
    if pq_np.ndim not in (3, 4) or (lanes and pq_np.shape[3] != LANES):
        raise ValueError(f"pq must have shape (rows, k, halves*k), or (blocks, k, halves*k, "
                         f"{LANES}) in the lanes layout, got {pq_np.shape}")
    k, hk = pq_np.shape[1:3]
    units = pq_np.shape[0]  # rows, or blocks of LANES rows
    rows = units * LANES if lanes else units
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
    piece = piece_rows(k, halves, 1)
    if lanes:  # in whole blocks
        piece = -(-piece // LANES)
    if update is None:
        if lanes:
            none = np.empty((0, 0, LANES))
            args = (np.empty((0, 0)), np.empty((0, 0)), pq_np, none, none, sign, code, False,
                    out_np)
            parallel_rows(kernels["lanes"], args, units, int(threads), piece, watch=watch)
        else:
            none = np.empty((rows, 0))
            args = (pq_np, none, none, none, sign, code, False, out_np)
            parallel_rows(kernels["rows"], args, rows, int(threads), piece, watch=watch)
        return out_gains
    h_np, right_np, s_np, u_np = _update_operands(update, pq_np.shape, lanes)
    with one_blas_thread(_state["blas"]):
        if lanes:
            args = (h_np, np.ascontiguousarray(right_np.T), pq_np, s_np, u_np, sign, code,
                    True, out_np)
            parallel_rows(kernels["lanes"], args, units, int(threads), piece,
                          beside=beside, watch=watch)
        else:
            tile = tile_rows(k, halves)
            args = (h_np, right_np, pq_np, s_np, u_np, sign, code, out_np)
            parallel_rows(lambda *a: kernels["tile"](*a, tile), args, rows, int(threads),
                          piece_rows(k, halves, tile), tile, beside=beside, watch=watch)
    return out_gains


def _update_operands(update, shape, lanes):
    """``(h, right, s, u)`` as arrays, checked against ``pq``'s ``shape``: ``h`` (rows, d),
    without the last block's padding in the lanes layout; ``right`` (d, k·halves·k);
    ``s`` and ``u`` (rows, k), or (blocks, k, LANES)."""
    h, right, s, u = (_array(v, name) for v, name in zip(update, ("h", "right", "s", "u")))
    units, k, hk = shape[:3]
    rows = units * LANES if lanes else units
    if h.ndim != 2 or (-(-h.shape[0] // LANES) if lanes else h.shape[0]) != units:
        raise ValueError(f"h must have shape (rows, d) with {rows} rows"
                         + (f" less the last block's padding (up to {LANES - 1})" if lanes
                            else "") + f", got {h.shape}")
    if right.shape != (h.shape[1], k * hk):
        raise ValueError(f"right must have shape (d, k·halves·k) = {(h.shape[1], k * hk)}, "
                         f"got {right.shape}")
    vector = (units, k, LANES) if lanes else (rows, k)
    if s.shape != vector or u.shape != vector:
        raise ValueError(f"s and u must have shape {vector}, got {s.shape} and {u.shape}")
    return h, right, s, u


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


def _forget_lock():  # in a forked child, a lock held by another thread would stay held
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_lock)
