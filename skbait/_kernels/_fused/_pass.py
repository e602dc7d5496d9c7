"""The per-candidate pass's compiled code: for each tile of rows its GEMM, then for each
row the ``C``-transform, the rank-``k`` update of ``[P_x | Q_x]`` and the gain.

One call of :func:`_tile_kernel` does, for each small block of rows (a *tile*, sized by
:func:`tile_rows` so that its GEMM output stays in the core's L2 cache):

0. the tile's GEMM ``G = h[tile] @ right`` (BLAS ``dgemm``, through numba's ``np.dot``,
   single-threaded: the parallelism is over tiles), into a buffer that is reused;

and then, in :func:`_rows_kernel`, for each candidate ``x`` of the tile, while its
``k × 2k`` block is in L1:

1. the ``C``-transform of its GEMM output (:func:`~skbait._kernels.fisher.apply_c_`),
   ``Y ← (Y − (Y u_x) 1ᵀ) diag(s_x)`` on each length-``k`` segment of ``G_x``;
2. the rank-``k`` update ``[P_x | Q_x] ← [P_x | Q_x] − sign · G_x[:, :k]ᵀ G_x``
   (the ``baddbmm``);
3. the gain from the updated state: ``tr((I + P_x)⁻¹ Q_x)`` from the pivot-free
   ``L D Lᵀ`` of ``I + P_x``, by row operations on whole rows up to k = 32 and by the
   congruence of :func:`~skbait._kernels._linalg.trace_solve_planes` on lower triangles
   above (or
   ``log det(I + P_x)``, the sum of the logs of its pivots, for the log-det objective).

From k = 32 on, each row's rank-``k`` update (a ``k × k × 2k`` product) is itself a BLAS
call.

The GEMM output never goes to main memory: a step reads ``h`` and reads and writes
``[P | Q]`` once, which is its whole memory traffic. Rows are independent: every row runs
the same instruction sequence, with no reduction across rows. The layouts are those of
:mod:`skbait._kernels._fused`.
"""

import math

import numpy as np

from ._jit import jit

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
# congruence on lower triangles (_congruence_gain), which does a third as many operations
# in shorter loops: per row (trace; log-det), on a Zen 3 core, 1.7 against 1.8 µs (0.8;
# 1.1) at k = 17, 3.3 against 3.7 (1.5; 1.9) at k = 24, 7.8 against 7.5 (4.0; 4.0) at
# k = 32; the congruence on whole blocks, before, 26 (14) against 19 (9) at k = 48 and
# 194 (93) against 128 (54) at k = 100 (benchmarks/README.md)
_WHOLE_ROWS_MAX_K = 32


@jit
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
    col = np.empty(k)
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
            out[x] = _congruence_gain(px, a, b, low, row, col, kind)


@jit
def _identity_plus(px, work):  # pragma: no cover - jitted
    """``work[:, :k] ← I + P`` (``P = px[:, :k]``), where both gains start."""
    k = px.shape[0]
    for i in range(k):
        wi = work[i]
        pi = px[i]
        for j in range(k):
            wi[j] = pi[j]
        wi[i] += 1.0


@jit
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


@jit
def _congruence_gain(px, a, b, low, row, col, kind):  # pragma: no cover - jitted
    """The gain by ``b ← L⁻¹ Q L⁻ᵀ`` on the trailing blocks, the steps of
    :func:`~skbait._kernels._linalg.trace_solve_planes`, on lower triangles only: both
    trailing blocks stay symmetric (``Q`` is symmetrised first; the gain sees only its
    symmetric part), so each step updates half of each, the fewest operations, for
    large k. ``low``, ``row``, ``col``: work vectors of length ``k``."""
    k = px.shape[0]
    _identity_plus(px, a)
    if kind == 1:
        for i in range(k):
            bi = b[i]
            pi = px[i]
            for j in range(i + 1):
                bi[j] = 0.5 * (pi[k + j] + px[j, k + i])
    for j in range(k - 1):
        nt = k - j - 1
        piv = a[j, j]
        lw = low[:nt]
        cw = row[:nt]  # column j of I + P's trailing block (its row, by symmetry)
        for i in range(nt):
            cw[i] = a[j + 1 + i, j]
        for i in range(nt):
            lw[i] = cw[i] / piv
        for i in range(nt):
            li = lw[i]
            ai = a[j + 1 + i, j + 1:j + 2 + i]
            for m in range(i + 1):
                ai[m] -= li * cw[m]
        if kind != 1:
            continue
        bjj = b[j, j]
        bc = col[:nt]
        for i in range(nt):
            bc[i] = b[j + 1 + i, j]
        rw = cw  # reused: I + P's column is no longer read
        for m in range(nt):
            rw[m] = bc[m] - lw[m] * bjj
        for i in range(nt):
            li = lw[i]
            bij = bc[i]
            bi = b[j + 1 + i, j + 1:j + 2 + i]
            for m in range(i + 1):
                bi[m] = (bi[m] - li * rw[m]) - bij * lw[m]
    total = 0.0
    if kind == 1:
        for j in range(k):
            total += b[j, j] / a[j, j]
    else:
        for j in range(k):
            total += math.log(a[j, j])
    return total


@jit
def _tile_kernel(h, right, pq, s, u, sign, kind, out, lo, hi, tile):  # pragma: no cover
    """Rows ``lo:hi`` (``lo`` a multiple of ``tile``) a tile at a time: the tile's GEMM
    ``h[tile] @ right`` into a reused buffer, then :func:`_rows_kernel` on its rows."""
    buffer = np.empty((max(0, min(tile, hi - lo)), right.shape[1]))
    start = lo
    while start < hi:
        stop = min(start + tile, hi)
        g = buffer[: stop - start]
        np.dot(h[start:stop], right, g)
        _rows_kernel(pq[start:stop], g, s[start:stop], u[start:stop], sign, kind, True,
                     out[start:stop], 0, stop - start)
        start = stop


def tile_rows(k, halves=2):
    """Rows of one tile of :func:`~skbait._kernels._fused.update_and_gains`: its GEMM
    output fits in L2."""
    fit = _TILE_BYTES // (8 * k * halves * k)
    return int(min(_TILE_MAX_ROWS, max(_TILE_MIN_ROWS, fit)))
