"""Last-layer Fisher factors in Kronecker form, and the quantities built from them.

Every head is reduced to a factor ``V_x = h_x ⊗ C_x`` of the pointwise Fisher
``I(x) = V_x V_xᵀ``, with ``h_x ∈ R^d`` the representation (a constant-1 entry for a
bias) and ``C_x = diag(s_x) − u_x s_xᵀ`` a ``k × k`` matrix. Parameter ``(i, a)`` (feature
``i``, output ``a``) sits at position ``i·k + a``. Keeping ``C_x`` as the two vectors
``s_x, u_x`` makes ``C_xᵀ Y`` cost ``O(k·m)`` instead of ``O(k²·m)``.

- softmax over ``k`` classes: ``s = √p``, ``u = p`` (``C_x C_xᵀ = diag p − p pᵀ``);
- binary logistic: ``k = 1``, ``s = √(p(1−p))``, ``u = 0``;
- squared loss (any number of outputs, paper eq. 6): ``k = 1``, ``s = 1``, ``u = 0``.
"""

from typing import NamedTuple

import torch

from . import _fused
from ._linalg import row_memory
from ._numerics import chunk_rows


class Factors(NamedTuple):
    """Pointwise Fisher factors ``V_x = h_x ⊗ (diag(s_x) − u_x s_xᵀ)`` of ``n`` points.

    Attributes
    ----------
    h : torch.Tensor of shape (n, d)
        Representations.
    s, u : torch.Tensor of shape (n, k)
        The two vectors of ``C_x``.
    """

    h: torch.Tensor
    s: torch.Tensor
    u: torch.Tensor

    @property
    def n_params(self):
        """``D = d·k``, the number of last-layer parameters."""
        return self.h.shape[1] * self.s.shape[1]

    def rows(self, index):
        """The factors of the rows selected by ``index`` (a slice or index tensor)."""
        return Factors(self.h[index], self.s[index], self.u[index])

    def scaled(self, factor):
        """Factors of ``√factor · V_x``: every Fisher contribution scaled by ``factor``."""
        return Factors(self.h, self.s * factor**0.5, self.u)

    def dense(self, index):
        """The explicit ``D × k`` factor of one point (for the rank-k updates)."""
        c = self.c_matrix(self.s[index : index + 1], self.u[index : index + 1])[0]
        return (self.h[index][:, None, None] * c[None]).reshape(self.n_params, -1)

    def product(self, sym, index):
        """``sym @ dense(index)`` for a symmetric ``sym`` (``D × D``), in ``O(D²)``.

        Row ``i·k + j`` of ``Ṽ_x`` is ``h_{x,i}`` times row ``j`` of ``C_x``, so
        ``sym Ṽ_x = Y C_x`` with ``Y[:, j] = Σ_i h_{x,i} sym[:, i·k + j]``: one
        matrix-vector product that reads ``sym`` once, in place, then the ``C``-transform.
        The dense product costs ``2·D²·k`` FLOPs; this one ``2·D²`` and ``sym``'s read
        (at ``D = 6400, k = 100``, one thread: 25 against 240 ms; at ``D = 640, k = 10``,
        ``sym`` cold from memory, 0.44 against 0.73 ms in compiled code).
        ``sym``'s memory is read as its rows (:func:`~skbait._kernels._linalg.row_memory`).
        """
        d, k = self.h.shape[1], self.s.shape[1]
        memory = row_memory(sym)
        # rows (i, j) of memory weighted by h_i and summed over i: Y as k × D
        y = (self.h[index] @ memory.view(d, k * memory.shape[1])).view(k, -1)
        return apply_c_(self.s[index : index + 1], self.u[index : index + 1],
                        y.T.contiguous()[None])[0]

    @staticmethod
    def c_matrix(s, u):
        """``C_x = diag(s_x) − u_x s_xᵀ`` for a batch, shape (n, k, k)."""
        return torch.diag_embed(s) - u[:, :, None] * s[:, None, :]


def softmax_factors(h, proba):
    """Factors of a softmax head with class probabilities ``proba`` (n, k)."""
    return Factors(h, proba.sqrt(), proba)


def rank_one_factors(h, weight=None):
    """Factors of a rank-1 head: ``V_x = weight_x · h_x`` (``weight = 1`` when None)."""
    n = h.shape[0]
    s = torch.ones((n, 1), dtype=h.dtype, device=h.device) if weight is None else weight[:, None]
    return Factors(h, s, torch.zeros_like(s))


def binary_factors(h, proba_positive):
    """Factors of a binary logistic head with one weight vector: ``√(p(1−p)) h``."""
    return rank_one_factors(h, (proba_positive * (1.0 - proba_positive)).sqrt())


def apply_ct(s, u, y):
    """``C_xᵀ Y_x`` for a batch: ``diag(s) Y − s (uᵀ Y)``, with ``y`` of shape (n, k, m)."""
    return s[:, :, None] * (y - torch.einsum("na,nam->nm", u, y)[:, None, :])


def apply_ct_(s, u, y):
    """In-place :func:`apply_ct`: overwrite ``y`` with ``C_xᵀ Y_x``; returns ``y``."""
    t = torch.einsum("na,nam->nm", u, y)
    return y.sub_(t[:, None, :]).mul_(s[:, :, None])


def apply_c_(s, u, y):
    """In-place ``Y_x C_x = (Y_x − (Y_x u) 1ᵀ) diag(s)``, with ``y`` of shape (n, m, k)."""
    t = torch.bmm(y, u[:, :, None])
    return y.sub_(t).mul_(s[:, None, :])


def _sandwich(s, u, y):
    """``C_xᵀ Y_x C_x`` for a batch of symmetric ``Y_x``."""
    left = apply_ct(s, u, y)  # Cᵀ Y
    return apply_ct(s, u, left.transpose(1, 2))  # Cᵀ (Cᵀ Y)ᵀ = Cᵀ Y C


def _pairs(k, device):
    """Indices ``(a, b)`` with ``a ≤ b``: the entries a symmetric ``k × k`` matrix needs."""
    return torch.triu_indices(k, k, device=device).unbind(0)


def _unpack_symmetric(packed, k, a, b):
    """(..., n_pairs) upper-triangle entries -> (..., k, k) symmetric matrices."""
    full = packed.new_empty(packed.shape[:-1] + (k, k))
    full[..., a, b] = packed
    full[..., b, a] = packed
    return full


def fisher_sum(factors, *, chunk_size=None, threads=None):
    """``Σ_x I(x) = Σ_x (h hᵀ) ⊗ (C_x C_xᵀ)`` as a ``D × D`` matrix.

    Costs ``O(n d² k²/4)`` in one GEMM per chunk: both factors of the Kronecker product
    are symmetric, so only the ``i ≤ j`` feature pairs and the ``a ≤ b`` output pairs
    are summed. The ``n × D × k`` tensor is never built. With ``threads`` (as for
    :func:`quad_forms`), the pairs' GEMM runs as
    :func:`~skbait._kernels._fused.pair_gram` on that many threads; the result does not
    depend on ``threads``.
    """
    h, s, u = factors
    n, d = h.shape
    k = s.shape[1]
    a, b = _pairs(k, h.device)
    m = a.shape[0]
    # Σ_x h_i h_j g_x is one GEMM whichever way round; its wide operand is per row either
    # the i ≤ j pairs of h ⊗ h (d(d + 1)/2 entries) or h ⊗ g (d·m). The second GEMM also
    # sums the j < i pairs, but its wide output runs at a better rate: measured on two
    # threads, the first is faster up to d ≈ 2m (10k × 64 × 10: 0.20 against 0.27 s;
    # 20k × 128 × 10: 1.00 against 0.91 s; benchmarks/README.md). Compiled on two threads
    # (pair_gram), the first against torch's second on two threads, 20k rows: d/m = 2.3
    # (d = 128, k = 10) 0.57 against 0.95 s, 4.7 (256, 10) 2.4 against 3.3 s, 6.1 (128, 6)
    # 0.31 against 0.35 s, 6.4 (64, 4) 0.078 against 0.057 s: up to d ≈ 5m
    compiled = threads is not None and d < 5 * m
    packed = compiled or d < 2 * m
    if packed:  # [(a ≤ b), (i ≤ j)], or its transpose on the compiled route
        fa, fb = _pairs(d, h.device)
        total = torch.zeros((fa.shape[0], m) if compiled else (m, fa.shape[0]),
                            dtype=h.dtype, device=h.device)
    else:
        total = torch.zeros((d, d * m), dtype=h.dtype, device=h.device)
    width = fa.shape[0] + d if packed else d * m  # with the copy of hᵀ, when packed
    # C_x and C_x C_xᵀ (k² each) and the pairs of the latter come on top, per row; chunks
    # sized as in quad_forms_chunk
    step = chunk_rows(n, width + 2 * k * k + m, device=h.device, dtype=h.dtype,
                      chunk_size=chunk_size, cached=not packed)
    # one buffer for every chunk: a fresh multi-megabyte tensor per chunk costs page faults
    # (the compiled route keeps its pairs in its own small buffers)
    buffer = None if compiled else h.new_empty((fa.shape[0], min(step, n)) if packed
                                               else (min(step, n), width))
    for start in range(0, n, step):
        part = factors.rows(slice(start, start + step))
        c = Factors.c_matrix(part.s, part.u)
        g = (c @ c.transpose(1, 2))[:, a, b]
        if compiled:  # [(i ≤ j), (a ≤ b)]
            _fused.pair_gram(part.h.contiguous(), g.contiguous(), total, threads=threads)
        elif packed:  # [(a ≤ b), (i ≤ j)]: the pairs' rows along the GEMM's inner axis
            total.addmm_(g.T, _pair_products(part.h, buffer[:, : part.h.shape[0]]).T)
        else:
            rows = buffer[: part.h.shape[0]]
            _outer(part.h, g, rows)
            total.addmm_(part.h.T, rows)
    if packed:  # [(a ≤ b), (i ≤ j)] -> [i, j, (a ≤ b)]
        total = _unpack_symmetric(total.T if compiled else total, d, fa, fb).permute(1, 2, 0)
    full = _unpack_symmetric(total.reshape(d, d, m), k, a, b)  # [i, j, a, b]
    return full.permute(0, 2, 1, 3).reshape(d * k, d * k)


def quad_forms(factors, matrices, *, chunk_size=None, threads=None):
    """``V_xᵀ A V_x`` for every point and every symmetric ``D × D`` matrix in ``matrices``.

    Returns one tensor of shape (n, k, len(matrices)·k): the ``k × k`` results side by
    side, that of ``matrices[i]`` in columns ``i·k`` to ``(i + 1)·k``. Costs
    ``O(n d² k²/4)`` per matrix: ``Σ_ij h_i h_j A[i, a, j, b]`` runs over the ``i ≤ j``
    feature pairs (the ``(i, j)`` and ``(j, i)`` terms of ``A`` added first) and keeps
    only the ``a ≤ b`` entries of the symmetric result.

    With ``threads`` (an int: the rows are float64 on the CPU and the compiled kernels
    are available), the pairs' contraction runs as
    :func:`~skbait._kernels._fused.pair_contraction` on that many threads, in pieces (a
    thread preempted by another process holds up one piece), and the result does not
    depend on ``threads``. Otherwise it is torch's, on torch's threads.
    """
    h, s, u = factors
    n, d = h.shape
    k = s.shape[1]
    a, b = _pairs(k, h.device)
    m = a.shape[0]
    width = len(matrices) * m
    packed = _packs_features(d, width)
    if packed:  # index arrays that gather [(i ≤ j), (a ≤ b)] in one step
        fa, fb = _pairs(d, h.device)
        fa, fb = fa[:, None], fb[:, None]
        diagonal = (fa == fb)[:, 0]
    blocks = []
    for mat in matrices:
        four = mat.reshape(d, k, d, k).permute(0, 2, 1, 3)  # [i, j, a, b]
        if packed:
            # h_i h_j (A[i, a, j, b] + A[j, a, i, b]) for i < j, h_i² A[i, a, i, b]: the
            # two gathers are (pairs × pairs), never a D × D temporary
            block = four[fa, fb, a, b] + four[fb, fa, a, b]
            block[diagonal] *= 0.5
            blocks.append(block)
        else:
            blocks.append(four[:, :, a, b])
    stacked = torch.cat(blocks, dim=-1)  # [(i ≤ j), (matrix, pair)] or [i, j, (...)]
    if not packed:
        stacked = stacked.reshape(d, -1)  # [i, (j, matrix, pair)]
    out = torch.empty((n, k, len(matrices) * k), dtype=h.dtype, device=h.device)
    compiled = packed and threads is not None
    row_width = width if compiled else stacked.shape[0] if packed else d * width
    step, _ = quad_forms_chunk(n, d, k, len(matrices), device=h.device, dtype=h.dtype,
                               chunk_size=chunk_size)
    # one orientation for every chunk, so that a row's blocks do not depend on its chunk
    rows_outside = _rows_outside(min(step, n), width)
    # reused, as in fisher_sum (the compiled route's pairs stay in its own small buffers)
    buffer = h.new_empty((row_width, min(step, n)) if packed and not compiled
                         else (min(step, n), row_width))
    for start in range(0, n, step):
        rows = slice(start, start + step)
        hc = h[rows]
        if compiled:  # [row, (matrix, pair)]
            inner = _fused.pair_contraction(hc.contiguous(), stacked, buffer[: hc.shape[0]],
                                            threads=threads)
            parts = inner.view(-1, len(matrices), m).transpose(0, 1)
        elif packed and rows_outside:  # [(matrix, pair), row]
            inner = stacked.T @ _pair_products(hc, buffer[:, : hc.shape[0]])
            parts = inner.view(len(matrices), m, -1).transpose(1, 2)
        elif packed:  # [row, (matrix, pair)]
            inner = _pair_products(hc, buffer[:, : hc.shape[0]]).T @ stacked
            parts = inner.view(-1, len(matrices), m).transpose(0, 1)
        else:
            t = buffer[: hc.shape[0]]
            torch.matmul(hc, stacked, out=t)
            t = t.view(-1, d, width)  # Σ_i h_i A[i, a, j, b]
            inner = hc[:, None, :] @ t  # then Σ_j h_j
            parts = inner.view(-1, len(matrices), m).transpose(0, 1)
        for j in range(len(matrices)):  # parts[j]: (rows, pairs), a view
            sym = _unpack_symmetric(parts[j], k, a, b)
            out[rows, :, j * k : (j + 1) * k] = _sandwich(s[rows], u[rows], sym)
    return out


def quad_forms_row_elements(d, k, n_matrices):
    """Elements :func:`quad_forms` holds per pool row at once (what its chunks are sized by).

    It either contracts ``h`` twice (an intermediate of ``d·w`` per row, ``w`` the packed
    pairs of all matrices) or the ``i ≤ j`` pairs of ``h ⊗ h`` once (``d(d + 1)/2``, built
    from a copy of ``hᵀ``), whichever is narrower; the contracted pairs and the ``k × k``
    matrices built from them come on top.
    """
    width = n_matrices * (k * (k + 1) // 2)
    features = d * (d + 1) // 2 + d if _packs_features(d, width) else d * width
    return features + width + 4 * k * k


def quad_forms_chunk(n_rows, d, k, n_matrices, *, device, dtype, chunk_size=None):
    """``(rows, elements)``: the rows per chunk of :func:`quad_forms` and the elements each
    row holds (:func:`quad_forms_row_elements`), as it and the memory estimates size them.

    The ``i ≤ j`` pairs of ``h ⊗ h`` are built by ``d`` operations per chunk: small chunks
    would spend their time there (at 20k × 128 × 10, 2.9 s in chunks of 60 rows against
    1.3 s in chunks of 1024), so only the other route's intermediate, written and read
    back at once, is sized to stay in cache.
    """
    elements = quad_forms_row_elements(d, k, n_matrices)
    packed = _packs_features(d, n_matrices * (k * (k + 1) // 2))
    rows = chunk_rows(n_rows, elements, device=device, dtype=dtype, chunk_size=chunk_size,
                      cached=not packed)
    return rows, elements


def _packs_features(d, width):
    """Whether the ``i ≤ j`` pairs of ``h ⊗ h`` (``d(d + 1)/2`` per row) are narrower than
    ``h`` times ``width`` (``d·width``): then the contraction runs over them, at half the
    multiply-adds of contracting ``h`` twice."""
    return d + 1 <= 2 * width


def _rows_outside(rows, width):
    """Whether :func:`quad_forms`' packed GEMM puts a chunk's ``rows`` along its output's
    columns (``[(matrix, pair), row]``) rather than along its rows.

    MKL runs it fastest with the output's contiguous axis the longer one: for chunks many
    times longer than the ``width`` entries kept per row (k = 10: 943 to 3227 rows
    against 110), 1.4 to 1.8× faster with the rows along the columns; at k = 100 (160
    rows against 10100), 1.6× slower (two threads, benchmarks/README.md).
    """
    return rows >= 8 * width


def _pair_products(h, out):
    """``out[(i, j), r] = h[r, i] h[r, j]`` for the feature pairs ``i ≤ j`` in the order of
    :func:`_pairs`: the packed ``h ⊗ h``, one pair per row of ``out`` (pairs, rows).

    One product per feature ``i`` over contiguous rows of ``hᵀ``: a gather along the
    features (``h[:, first] * h[:, second]``) is four times slower on a CPU.
    """
    d = h.shape[1]
    ht = h.T.contiguous()
    offset = 0
    for i in range(d):
        torch.mul(ht[i : i + 1], ht[i:], out=out[offset : offset + d - i])
        offset += d - i
    return out


def _outer(x, y, out):
    """Row-wise outer products ``x_r ⊗ y_r`` written flat into ``out`` (rows, p·q)."""
    torch.mul(x[:, :, None], y[:, None, :], out=out.view(x.shape[0], x.shape[1], -1))
    return out
