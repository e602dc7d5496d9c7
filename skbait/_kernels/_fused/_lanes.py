"""The per-candidate pass in the lanes layout: ``LANES`` candidates side by side, each
operation a vector over them.

For small ``k`` the row-by-row pass (:mod:`._pass`) spends as much on starting its loops
over ``k`` or ``2k`` entries as on their arithmetic. Here the state of ``LANES``
candidates is stored together, the candidate innermost (the *lanes layout*):

- ``pq``: (blocks, k, halves·k, LANES), ``pq[b, i, j, l]`` is entry ``(i, j)`` of
  ``[P_x | Q_x]`` for candidate ``x = b·LANES + l``, where for ``P_x`` only its lower
  triangle (``j ≤ i``) is kept up to date: the updates leave the upper one as it was;
- ``s``, ``u``: (blocks, k, LANES);
- ``h``: (rows, d) as in the row pass, not copied: ``rows`` is ``blocks·LANES`` less the
  padding of the last block (its rows are taken as zeros);
- ``right_t``: (k·halves·k, d), the transpose of the row pass's ``right``;
- ``out``: (blocks·LANES,).

so that every loop is ``LANES`` long, whatever ``k`` is. For each block:

0. its GEMM ``right_t @ h[block]ᵀ`` (BLAS, single-threaded, reading the block's rows of
   ``h`` in place), whose ``(k·halves·k, LANES)`` output is already ``Y`` laid out
   ``(k, halves·k, LANES)``;
1. the ``C``-transform of each length-``k`` segment of ``Y``, in place;
2. the rank-``k`` update ``[P | Q] −= sign · Y[:, :k]ᵀ Y``, four terms at a time, on
   ``P``'s lower triangle and the whole of ``Q``;
3. the gain: ``tr((I + P)⁻¹ Q)`` by the congruence ``L⁻¹ Q L⁻ᵀ`` of the pivot-free
   ``L D Lᵀ`` of ``I + P``, on lower triangles (the fewest operations, all of them
   ``LANES`` long), or
   ``log det(I + P)``, the sum of the logs of its pivots.

Each candidate's arithmetic is the same sequence of IEEE operations in every lane (64 is
a multiple of every vector width), so a candidate's result depends neither on its lane
nor on its block, nor on how blocks are shared among threads. From ``LANES_MAX_K`` on, a
block's state outgrows L2 and the row pass is faster.
"""

import math

import numpy as np

from ._jit import jit

#: Candidates per block: a multiple of every x86 vector width; at k = 10 a block's
#: [P | Q] (100 KB) and Y stay in L2. The kernels read it as a compile-time constant, and
#: numba's cache is keyed on the file that defines them: so it is defined here.
LANES = 64
#: Largest k for the lanes layout. A pass over 10k candidates (d = 64, one thread, min and
#: median): k = 4 5.0 and 5.7 ms against 7.5 and 7.8 row by row, k = 10 17.8 and 22.6
#: against 20.4 and 35.3, k = 16 50 and 62 against 52 and 70; from k = 17 a block's state
#: outgrows L2 (benchmarks/README.md, "The lanes layout").
LANES_MAX_K = 16


@jit
def _lanes_kernel(h, right_t, pq, s, u, sign, kind, update, out, lo, hi):  # pragma: no cover
    """Blocks ``lo:hi``: GEMM, ``C``-transform and rank-``k`` update when ``update``, then
    the gains (``kind``: 0 none, 1 trace, 2 log-det) into ``out``."""
    k = pq.shape[1]
    hk = pq.shape[2]
    y_rows = k * hk if update else 0
    z_cols = hk if kind == 1 else k
    # the work arrays in one allocation, from a 64-byte boundary: numba aligns to 32 bytes,
    # and a 64-byte vector load that straddles two cache lines costs two (the update and
    # the gains took up to 1.5 times as long, by where the allocator put them)
    work = np.empty((y_rows + 2 * k + 1 + k * z_cols) * LANES + 7)
    offset = (64 - work.ctypes.data % 64) % 64 // 8
    y = work[offset:offset + y_rows * LANES].reshape((y_rows, LANES))
    offset += y_rows * LANES
    scaled = work[offset:offset + k * LANES].reshape((k, LANES))
    offset += k * LANES
    t = work[offset:offset + LANES]
    offset += LANES
    z = work[offset:offset + k * z_cols * LANES].reshape((k, z_cols, LANES))
    offset += k * z_cols * LANES
    rw = work[offset:offset + k * LANES].reshape((k, LANES))
    for b in range(lo, hi):
        pb = pq[b]
        if update:
            start = b * LANES
            stop = min(start + LANES, h.shape[0])
            if stop - start == LANES:
                np.dot(right_t, h[start:stop].T, y)
            else:  # the last block: its padding's Y is zero, not whatever memory held
                part = np.empty((y.shape[0], stop - start))
                np.dot(right_t, h[start:stop].T, part)
                for r in range(y.shape[0]):
                    for v in range(LANES):
                        y[r, v] = part[r, v] if v < stop - start else 0.0
            _transform(y, s[b], u[b], t)
            _update(pb, y.reshape((k, hk, LANES)), sign, scaled)
        if kind == 0:
            continue
        ob = out[b * LANES:(b + 1) * LANES]
        if k == 1 and kind == 2:  # as the row pass does
            p0 = pb[0, 0]
            for v in range(LANES):
                ob[v] = math.log1p(p0[v])
            continue
        _gain(pb, z, kind, t, scaled, rw, ob)


@jit
def _transform(y, s, u, t):  # pragma: no cover - jitted
    """``y ← (y − (y·u) 1ᵀ) diag(s)`` on each length-``k`` segment of ``y``'s rows, lane by
    lane: the row pass's step 1."""
    k = s.shape[0]
    for base in range(0, y.shape[0], k):
        for v in range(LANES):
            t[v] = 0.0
        for m in range(k):
            ym = y[base + m]
            um = u[m]
            for v in range(LANES):
                t[v] += ym[v] * um[v]
        for m in range(k):
            ym = y[base + m]
            sm = s[m]
            for v in range(LANES):
                ym[v] = (ym[v] - t[v]) * sm[v]


@jit
def _update(pq, y, sign, scaled):  # pragma: no cover - jitted
    """``pq[i, j] −= Σ_c (sign · y[c, i]) y[c, j]``, four ``c`` at a time, on ``P``'s lower
    triangle (``j ≤ i``) and the whole of ``Q``: the gains read only that triangle of
    ``P`` (and in this layout its upper triangle is never written, a fifth fewer
    operations and state written at ``k = 10``). Each entry gets the same products in
    the same order as when the whole of ``P`` was updated."""
    k = pq.shape[0]
    hk = pq.shape[1]
    for i in range(k):
        for c in range(k):
            sc = scaled[c]
            yc = y[c, i]
            for v in range(LANES):
                sc[v] = sign * yc[v]
        pi = pq[i]
        c = 0
        while c + 3 < k:
            w0 = scaled[c]
            w1 = scaled[c + 1]
            w2 = scaled[c + 2]
            w3 = scaled[c + 3]
            for j in range(hk):
                if i < j < k:  # P's upper triangle
                    continue
                pij = pi[j]
                y0 = y[c, j]
                y1 = y[c + 1, j]
                y2 = y[c + 2, j]
                y3 = y[c + 3, j]
                for v in range(LANES):
                    pij[v] -= (w0[v] * y0[v] + w1[v] * y1[v]) + (w2[v] * y2[v] + w3[v] * y3[v])
            c += 4
        while c < k:
            w0 = scaled[c]
            for j in range(hk):
                if i < j < k:
                    continue
                pij = pi[j]
                y0 = y[c, j]
                for v in range(LANES):
                    pij[v] -= w0[v] * y0[v]
            c += 1


@jit
def _gain(pq, z, kind, inverse, low, rw, out):  # pragma: no cover - jitted
    """``out ← tr((I + P)⁻¹ Q)`` (``kind`` 1) or ``log det(I + P)`` (2) of every lane.

    ``z ← [I + P | (Q + Qᵀ)/2]``, lower triangles only (the gain sees only ``Q``'s
    symmetric part). Each step ``j`` of the pivot-free ``L D Lᵀ`` of ``I + P`` lowers the
    trailing lower triangle of ``I + P`` by the multipliers ``low`` and turns that of
    ``Q`` into the trailing block of ``L⁻¹ Q L⁻ᵀ``: both stay symmetric, so their lower
    halves are all that is read, half the operations of whole blocks. Then ``tr((I +
    P)⁻¹ Q) = Σ_j (L⁻¹ Q L⁻ᵀ)_jj / D_j``. The Schur complements of ``I + P`` are ≥ 1, so
    no pivot vanishes. ``inverse``: one lane vector; ``low``, ``rw``: ``k`` of them."""
    k = pq.shape[0]
    for i in range(k):
        zi = z[i]
        pi = pq[i]
        for j in range(i + 1):
            zij = zi[j]
            pij = pi[j]
            for v in range(LANES):
                zij[v] = pij[v]
        zii = zi[i]
        for v in range(LANES):
            zii[v] += 1.0
        if kind != 1:
            continue
        for j in range(i + 1):
            zb = zi[k + j]
            qij = pi[k + j]
            qji = pq[j, k + i]
            for v in range(LANES):
                zb[v] = 0.5 * (qij[v] + qji[v])
    for j in range(k - 1):
        zj = z[j]
        pivot = zj[j]
        for v in range(LANES):
            inverse[v] = 1.0 / pivot[v]
        for i in range(j + 1, k):
            li = low[i]
            zij = z[i, j]
            for v in range(LANES):
                li[v] = zij[v] * inverse[v]
        for i in range(j + 1, k):  # column j (below the pivot) is not written in step j
            zi = z[i]
            li = low[i]
            for m in range(j + 1, i + 1):
                zim = zi[m]
                cm = z[m, j]
                for v in range(LANES):
                    zim[v] -= li[v] * cm[v]
        if kind != 1:
            continue
        bjj = zj[k + j]
        for m in range(j + 1, k):
            rm = rw[m]
            bm = z[m, k + j]
            lm = low[m]
            for v in range(LANES):
                rm[v] = bm[v] - lm[v] * bjj[v]
        for i in range(j + 1, k):
            zi = z[i]
            li = low[i]
            bij = zi[k + j]
            for m in range(j + 1, i + 1):
                zim = zi[k + m]
                rm = rw[m]
                lm = low[m]
                for v in range(LANES):
                    zim[v] = (zim[v] - li[v] * rm[v]) - bij[v] * lm[v]
    for v in range(LANES):
        out[v] = 0.0
    for j in range(k):
        pivot = z[j, j]
        if kind == 1:
            diagonal = z[j, k + j]
            for v in range(LANES):
                out[v] += diagonal[v] / pivot[v]
        else:
            for v in range(LANES):
                out[v] += math.log(pivot[v])
