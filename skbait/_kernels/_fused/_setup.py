"""The setup's contractions over the pool in compiled code: the ``i ≤ j`` feature pairs
of every row's ``h ⊗ h`` against the stacked ``D × D`` matrices, for every candidate's
first blocks (:func:`~skbait._kernels.fisher.quad_forms`, :func:`_pairs_kernel`), and
against the rows' ``C_x C_xᵀ`` summed over the pool, for ``F``
(:func:`~skbait._kernels.fisher.fisher_sum`, :func:`_gram_kernel`).

Torch builds the pairs of a chunk with one operation per feature and multiplies them in
one GEMM on torch's threads, which a selection with a small state holds to one
(:mod:`~skbait._kernels.threads`): a second thread would make each of those operations
wait for its slowest thread beside another process. Here each piece builds its pairs in
a buffer that stays in cache and multiplies them by BLAS on the thread that runs it, and
the pieces are shared among threads as the pass's rows are (:mod:`._parallel`). The
pieces are whole blocks of fixed size, so the BLAS calls made, and the result, do not
depend on the number of threads; the sum over the pool adds its blocks in row order.
"""

import numpy as np

from ._jit import jit

#: Rows per GEMM call: its pairs (``block · d(d + 1)/2`` entries) take at most this many
#: bytes, and a call multiplies at most ``_BLOCK_MAX_ROWS`` of them. Each call packs the
#: whole stacked operand again, so a block must be long enough to pay for that: at 20k ×
#: 128 × 10 (8256 pairs, two threads) blocks of 128 rows took 0.91 s, of 256 rows 0.78 s.
_BLOCK_BYTES = 1 << 24
_BLOCK_MIN_ROWS, _BLOCK_MAX_ROWS = 8, 256


def block_rows(d):
    """Rows per GEMM call of :func:`_pairs_kernel` for ``d`` features (the pieces handed
    to threads are whole blocks, so that the calls do not depend on the thread count)."""
    rows = _BLOCK_BYTES // (8 * (d * (d + 1) // 2))
    return int(max(_BLOCK_MIN_ROWS, min(_BLOCK_MAX_ROWS, rows)))


@jit
def _pairs_kernel(h, stacked, out, block, lo, hi):  # pragma: no cover - jitted
    """Rows ``lo:hi`` of ``out ← pairs(h) @ stacked``, ``block`` rows per GEMM call, the
    pairs ``h_i h_j`` (``i ≤ j``) in the order of ``torch.triu_indices(d, d)``: the same
    products as :func:`~skbait._kernels.fisher._pair_products`."""
    d = h.shape[1]
    pairs = np.empty((min(block, hi - lo), stacked.shape[0]))
    for start in range(lo, hi, block):
        stop = min(start + block, hi)
        part = pairs[: stop - start]
        for r in range(stop - start):
            row = h[start + r]
            dst = part[r]
            offset = 0
            for i in range(d):
                hi_ = row[i]
                seg = dst[offset:offset + d - i]
                tail = row[i:]
                for j in range(d - i):
                    seg[j] = hi_ * tail[j]
                offset += d - i
        np.dot(part, stacked, out[start:stop])


#: Pairs per GEMM call of :func:`_gram_kernel` (and per piece handed to a thread), and
#: rows per call: the calls, and so the result, are the same whatever the number of
#: threads. At 10k × 64 × 10 (2080 pairs, 55 outputs) on two threads, 52 to 56 ms for the
#: whole sum with the pairs laid out (pairs, rows) from a copy of ``hᵀ``, against 73 to 90
#: ms laid out (rows, pairs) from ``h``, whatever the rows per call from 256 to 1024.
GRAM_PAIRS = 256
GRAM_ROWS = 512


@jit
def _gram_kernel(h_t, g, first, second, total, lo, hi):  # pragma: no cover - jitted
    """Pairs ``lo:hi`` (rows of ``total``) of ``total += pairs(h)ᵀ g``: for each range of
    ``GRAM_PAIRS`` pairs and each block of ``GRAM_ROWS`` rows, in order, the products
    ``h_i h_j`` of those pairs (``i = first[p]``, ``j = second[p]``) over the block's
    rows (contiguous in ``h_t = hᵀ``), one GEMM, then its result added to ``total``."""
    n = h_t.shape[1]
    m = g.shape[1]
    width = min(GRAM_PAIRS, hi - lo)
    part = np.empty(width * min(GRAM_ROWS, n))
    prod = np.empty(width * m)
    for p0 in range(lo, hi, GRAM_PAIRS):
        w = min(GRAM_PAIRS, hi - p0)
        for start in range(0, n, GRAM_ROWS):
            stop = min(start + GRAM_ROWS, n)
            rows = stop - start
            pairs = part[: w * rows].reshape((w, rows))
            for p in range(w):
                left = h_t[first[p0 + p], start:stop]
                right = h_t[second[p0 + p], start:stop]
                dst = pairs[p]
                for r in range(rows):
                    dst[r] = left[r] * right[r]
            out = prod[: w * m].reshape((w, m))
            np.dot(pairs, g[start:stop], out)
            for p in range(w):
                tp = total[p0 + p]
                op = out[p]
                for a in range(m):
                    tp[a] += op[a]
