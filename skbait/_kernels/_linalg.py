"""Dense linear algebra of the design states: SPD inverses, checked Cholesky factors, and
the batched ``k × k`` solves that score every candidate.

On a CPU, LAPACK factors small matrices one call at a time (about 1 µs each for
``k = 10``, most of a BAIT step); :class:`SmallSolver` runs instead an elimination with the
batch as the innermost axis, ``O(k)`` vectorised operations for all candidates at once.
"""

import torch

from ..exceptions import DegenerateProblemError
from ._constants import CUDA_CHOLESKY_MIN_K, ELIMINATION_MAX_K, TRANSPOSE_ROWS


def symmetric(matrix):
    """The symmetric part of a matrix (or of each matrix in a batch)."""
    return (matrix + matrix.transpose(-2, -1)) / 2


def sym_matmul(sym, other):
    """``sym @ other`` for a symmetric ``sym`` (``D × D``) and a narrow ``other`` (``D × k``).

    Computed as ``(otherᵀ sym)ᵀ``, equal for a symmetric ``sym``: on a CPU, MKL runs the
    product with the wide operand on the right about twice as fast at ``D`` in the hundreds
    and ``k`` ≈ 10 (0.41 against 0.83 ms at ``D = 640``), and a BAIT step takes three of them.
    """
    return (other.transpose(-2, -1) @ sym).transpose(-2, -1)


def row_memory(sym):
    """A symmetric ``sym``'s memory as C-contiguous rows, for products that read it row by
    row: the columns of a column-major ``sym`` (LAPACK's inverse), so that ``xᵀ`` times
    them is ``(sym @ x)ᵀ`` exactly as stored; the rows of a row-major one (its columns, by
    symmetry); else a row-major copy."""
    return sym.T if sym.T.is_contiguous() else sym.contiguous()


def spd_inverse(matrix):
    """Inverse of a symmetric positive definite matrix through its Cholesky factor."""
    chol, info = torch.linalg.cholesky_ex(matrix)
    if int(info) != 0:
        raise DegenerateProblemError("M is not numerically positive definite.")
    return torch.cholesky_inverse(chol)


def checked_cholesky(matrix):
    """Lower Cholesky factor of a small symmetric positive definite matrix, checked."""
    chol, info = torch.linalg.cholesky_ex(symmetric(matrix))
    if int(info) != 0:
        raise DegenerateProblemError("Removing a point would make M singular.")
    return chol


def cholesky_of_inverse(matrix):
    """``G`` with ``G Gᵀ = matrix⁻¹`` for a small symmetric positive definite matrix.

    Only additions use it: their ``I + UᵀM⁻¹U`` has eigenvalues ≥ 1, so the factorization
    is not checked (a check would synchronise a GPU at every step).
    """
    chol = torch.linalg.cholesky_ex(symmetric(matrix))[0]
    eye = torch.eye(matrix.shape[0], dtype=matrix.dtype, device=matrix.device)
    # matrix⁻¹ = L⁻ᵀ L⁻¹, so G = L⁻ᵀ
    return torch.linalg.solve_triangular(chol, eye, upper=False).T


def gain_route(device, k):
    """How the ``k × k`` gains are computed on ``device``: the fastest exact route measured.

    ``"planes"``: the elimination across candidates (CPU, ``k ≤ 24``); ``"solve"``: batched
    LU solve (CPU, larger ``k``); ``"cholesky"`` or ``"inverse"``: batched Cholesky or LU
    inverse (CUDA, ``k > 16`` or not). See ``benchmarks/micro_gpu_solvers.py``.
    """
    if torch.device(device).type == "cpu":
        return "planes" if k <= ELIMINATION_MAX_K else "solve"
    return "cholesky" if k > CUDA_CHOLESKY_MIN_K else "inverse"


class SmallSolver:
    """The per-candidate gains of a design state, for ``k × k`` blocks on one device.

    It chooses its route once (:func:`gain_route`) and keeps the elimination's workspace
    between calls, since a fresh multi-megabyte buffer per step costs page faults.

    Parameters
    ----------
    k : int
        Size of the blocks.
    device : torch.device
    dtype : torch.dtype
    """

    def __init__(self, k, device, dtype):
        self.k = k
        self.route = gain_route(device, k)
        self.eye = torch.eye(k, dtype=dtype, device=device)
        self._planes = None

    def _workspace(self, n, width):
        if self._planes is None or self._planes.shape[1] != width or self._planes.shape[2] < n:
            self._planes = self.eye.new_empty((self.k, width, n))
        return self._planes[:, :, :n]

    def trace(self, pq):
        """``tr((I + P)⁻¹ Q)`` for a batch ``[P | Q]`` (n, k, 2k), ``P`` symmetric PSD.

        Only the symmetric part of ``Q`` counts, since ``(I + P)⁻¹`` is symmetric.
        """
        k = self.k
        if k == 1:
            return pq[:, 0, 1] / (1.0 + pq[:, 0, 0])
        p, q = pq[:, :, :k], pq[:, :, k:]
        if self.route == "planes":
            return trace_solve_planes(pq, self._workspace(pq.shape[0], 2 * k))
        if self.route == "solve":
            solved = torch.linalg.solve_ex(torch.add(self.eye, p), q)[0]
            return solved.diagonal(dim1=1, dim2=2).sum(1)
        if self.route == "cholesky":  # I + P is positive definite
            inv = torch.cholesky_inverse(torch.linalg.cholesky_ex(torch.add(self.eye, p))[0])
        else:
            inv = torch.linalg.inv_ex(torch.add(self.eye, p))[0]
        return (inv * q).sum((1, 2))

    def logdet(self, p):
        """``log det(I + P)`` for a batch of PSD ``P`` (n, k, k); NaN where not PD."""
        if self.k == 1:
            return torch.log1p(p[:, 0, 0])
        if self.route == "planes":
            return logdet_planes(p, self._workspace(p.shape[0], self.k))
        chol, info = torch.linalg.cholesky_ex(self.eye + p)
        gain = 2 * chol.diagonal(dim1=1, dim2=2).log().sum(dim=1)
        return gain.masked_fill(info != 0, torch.nan)


def trace_solve_planes(pq, planes):
    """``tr((I + P_x)⁻¹ Q_x)`` for every ``x`` by a symmetric elimination, batch innermost.

    Writing ``I + P = L D Lᵀ`` (``L`` unit lower triangular),
    ``tr((I + P)⁻¹ Q) = Σ_j (L⁻¹ Q L⁻ᵀ)_jj / D_j``: both matrices are reduced by the same
    congruence. The pivots ``D_j`` are Schur complements of ``I + P ⪰ I``, so they are ≥ 1
    and no pivoting is needed.

    Parameters
    ----------
    pq : torch.Tensor of shape (n, k, 2k)
        ``[P_x | Q_x]``, with ``P_x`` symmetric positive semi-definite.
    planes : torch.Tensor of shape (k, 2k, n)
        Workspace, overwritten.

    Returns
    -------
    torch.Tensor of shape (n,)
    """
    k = pq.shape[1]
    a, b = planes[:, :k], planes[:, k:]
    _to_planes(pq, planes)
    _eliminate_(a, b)
    return (b.diagonal(dim1=0, dim2=1) / a.diagonal(dim1=0, dim2=1)).sum(1)


def logdet_planes(p, planes):
    """``log det(I + P_x)`` for every ``x``: the log of the pivots of the same elimination.

    A non-positive pivot (``I + P_x`` not positive definite, which a PSD ``P_x`` rules
    out) gives NaN or ``-inf``.

    Parameters
    ----------
    p : torch.Tensor of shape (n, k, k)
        Symmetric positive semi-definite.
    planes : torch.Tensor of shape (k, k, n)
        Workspace, overwritten.

    Returns
    -------
    torch.Tensor of shape (n,)
    """
    _to_planes(p, planes)
    _eliminate_(planes)
    return planes.diagonal(dim1=0, dim2=1).log().sum(1)


def _to_planes(batch, planes):
    """Copy ``batch`` (n, k, m) to ``planes`` (k, m, n), then add I to its first k columns."""
    for start in range(0, batch.shape[0], TRANSPOSE_ROWS):
        rows = slice(start, start + TRANSPOSE_ROWS)
        planes[:, :, rows].copy_(batch[rows].permute(1, 2, 0))
    planes.diagonal(dim1=0, dim2=1).add_(1.0)


def _eliminate_(a, b=None):
    """In place, ``a ← D`` of ``a = L D Lᵀ`` and ``b ← L⁻¹ b L⁻ᵀ`` on the diagonals.

    ``a`` and ``b`` are (k, k, n) planes; below and right of the diagonal they are left as
    workspace. ``a`` must not need pivoting (its Schur complements stay away from 0).
    """
    k = a.shape[0]
    for j in range(k - 1):
        low = a[j + 1 :, j] / a[j, j]
        a[j + 1 :, j + 1 :].addcmul_(low[:, None], a[j, None, j + 1 :], value=-1)
        if b is None:
            continue
        # b ← T b Tᵀ with T = I − low e_jᵀ, on the trailing block (row and column j of the
        # result are not needed any more)
        row = torch.addcmul(b[j, j + 1 :], low, b[j, j], value=-1)
        trailing = b[j + 1 :, j + 1 :]
        trailing.addcmul_(low[:, None], row[None], value=-1)
        trailing.addcmul_(b[j + 1 :, j, None], low[None], value=-1)
