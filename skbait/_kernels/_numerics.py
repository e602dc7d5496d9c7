"""Numerical context shared by the kernels: exact float matmuls, chunk sizing, checked
argmax, and the grouping of identical candidates."""

from contextlib import contextmanager

import torch

from ..exceptions import DegenerateProblemError
from ._constants import CACHE_BYTES, CACHE_MIN_ROWS, CHUNK_BYTES


@contextmanager
def exact_matmul():
    """Disable TF32 (and reduced-precision float32 matmuls) for the duration of a block.

    TF32 would silently round float32 products to 10 mantissa bits on Ampere and later
    GPUs. The previous global settings are restored whatever happens inside the block.
    """
    cuda_tf32 = torch.backends.cuda.matmul.allow_tf32
    cudnn_tf32 = torch.backends.cudnn.allow_tf32
    precision = torch.get_float32_matmul_precision()
    try:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = cuda_tf32
        torch.backends.cudnn.allow_tf32 = cudnn_tf32
        torch.set_float32_matmul_precision(precision)


@contextmanager
def torch_threads(n_threads):
    """Run a block with torch's intra-op thread count at ``n_threads``; the caller's
    setting is restored whatever happens inside it."""
    before = torch.get_num_threads()
    if n_threads == before:
        yield
        return
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def chunk_rows(n_rows, elements_per_row, *, device, dtype=torch.float64, chunk_size=None,
               cached=False):
    """Number of rows per chunk so that one intermediate stays under the byte budget.

    Parameters
    ----------
    n_rows : int
        Rows to process.
    elements_per_row : int
        Elements the largest per-row intermediate holds (e.g. ``d * k**2``).
    device : torch.device
    dtype : torch.dtype, default=torch.float64
    chunk_size : int, default=None
        Explicit number of rows; overrides the budget.
    cached : bool, default=False
        Size the chunk for an intermediate that is written and read back at once: on a
        CPU, to fit in cache, but not below a few dozen rows (nor above the usual budget).

    Returns
    -------
    rows : int
        At least 1 and at most ``n_rows`` (or 1 when ``n_rows`` is 0).
    """
    if chunk_size is not None:
        return max(1, min(int(chunk_size), max(n_rows, 1)))
    kind = torch.device(device).type
    budget = CHUNK_BYTES.get(kind, CHUNK_BYTES["cpu"])
    row_bytes = max(1, elements_per_row * torch.empty((), dtype=dtype).element_size())
    rows = budget // row_bytes
    if cached and kind in CACHE_BYTES:
        rows = min(rows, max(CACHE_BYTES[kind] // row_bytes, CACHE_MIN_ROWS))
    return max(1, min(int(rows), max(n_rows, 1)))


def check_finite(scores, valid, what):
    """Raise if a score that may be picked is NaN or infinite.

    Parameters
    ----------
    scores : torch.Tensor of shape (n,)
    valid : torch.Tensor of bool, shape (n,)
        Candidates still eligible; masked ones are not checked.
    what : str
        Name of the score, for the message.
    """
    bad = valid & ~torch.isfinite(scores)
    if bool(bad.any()):
        first = int(torch.nonzero(bad)[0, 0])
        raise DegenerateProblemError(f"{what} of candidate {first} is {float(scores[first])}.")


def checked_argmax(scores, valid, what):
    """Index and value of the largest valid score, with one device synchronisation.

    Ties go to the lowest index. Raises DegenerateProblemError (through
    :func:`check_finite`) when a valid score is NaN or infinite.

    Parameters
    ----------
    scores : torch.Tensor of shape (n,)
    valid : torch.Tensor of bool, shape (n,)
    what : str
        Name of the score, for the message.

    Returns
    -------
    index : int
    value : float
    """
    masked = scores.masked_fill(~valid, -torch.inf)
    j = torch.argmax(masked)
    bad = (valid & ~torch.isfinite(scores)).any()
    found = torch.stack([j.to(scores.dtype), masked[j], bad.to(scores.dtype)])
    index, value, any_bad = found.tolist()
    if any_bad:
        check_finite(scores, valid, what)
    return int(index), value


def duplicate_groups(rows):
    """Group identical rows: ``(first, inverse)``, or None when all rows differ.

    Identical candidates must get identical scores, on every machine. A GEMM does not
    promise that: how a row is rounded can depend on where it sits in the matrix (MKL's
    code path differs between CPUs), and a tie would then be decided by rounding noise.
    The kernels score each distinct row once instead and give its score to its copies.

    Parameters
    ----------
    rows : torch.Tensor of shape (n, m)
        One row per candidate: everything its score depends on.

    Returns
    -------
    first : torch.Tensor of int64, shape (n_distinct,)
        The first row of each group, ascending: the distinct rows in pool order.
    inverse : torch.Tensor of int64, shape (n,)
        The group of each row, an index into ``first``.
    """
    n = rows.shape[0]
    # Sorting whole rows (torch.unique(dim=0)) is most of the cost, and most rows have no
    # copy: only rows whose fingerprint is shared can be equal, so only they are sorted
    _, by_key, key_counts = torch.unique(_fingerprint(rows), return_inverse=True,
                                         return_counts=True)
    maybe = torch.nonzero(key_counts[by_key] > 1).squeeze(1)
    if maybe.shape[0] == 0:
        return None
    distinct, inverse = torch.unique(rows[maybe], dim=0, return_inverse=True)
    if distinct.shape[0] == maybe.shape[0]:
        return None
    # each row's label: the first row equal to it (its own index when it has no copy)
    first_of = torch.full((distinct.shape[0],), n, dtype=torch.long, device=rows.device)
    first_of.scatter_reduce_(0, inverse, maybe, "amin")
    labels = torch.arange(n, device=rows.device)
    labels[maybe] = first_of[inverse]
    return torch.unique(labels, return_inverse=True)


def _fingerprint(rows):
    """One integer per row, equal for rows whose values are equal: the XOR of the bit
    patterns of its entries (``-0.0`` counted as ``0.0``). Exact, unlike any sum of the
    values, whose rounding could depend on where a row sits in memory; different rows
    may share one, which costs only time."""
    width = {8: torch.int64, 4: torch.int32, 2: torch.int16}[rows.element_size()]
    bits = (rows + 0.0).view(width)  # IEEE: -0.0 + 0.0 = +0.0
    while bits.shape[1] > 1:
        half = bits.shape[1] // 2
        folded = bits[:, :half] ^ bits[:, half : 2 * half]
        bits = torch.cat([folded, bits[:, 2 * half :]], dim=1) if bits.shape[1] % 2 else folded
    return bits[:, 0] if bits.shape[1] else torch.zeros(rows.shape[0], dtype=width,
                                                        device=rows.device)
