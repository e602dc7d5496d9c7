"""Numerical context shared by the kernels: exact float matmuls and chunk sizing."""

from contextlib import contextmanager

import torch

# Bytes one chunk's largest intermediate may take. A chunk is sized from the number of
# elements a row needs (which grows with d·k², not only with n), so k = 100 stays bounded.
_CHUNK_BYTES = {"cpu": 64 * 2**20, "cuda": 1024 * 2**20}
# The one-pass contractions over the pool (Σ I(x), the first P_x and Q_x) write a wide
# intermediate and read it back at once: on a CPU they run about a third faster when it
# stays in cache (benchmarks/README.md), as long as a chunk keeps a few dozen rows.
_CACHE_BYTES = {"cpu": 8 * 2**20}
_CACHE_MIN_ROWS = 32


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
    budget = _CHUNK_BYTES.get(kind, _CHUNK_BYTES["cpu"])
    row_bytes = max(1, elements_per_row * torch.empty((), dtype=dtype).element_size())
    rows = budget // row_bytes
    if cached and kind in _CACHE_BYTES:
        rows = min(rows, max(_CACHE_BYTES[kind] // row_bytes, _CACHE_MIN_ROWS))
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
        raise FloatingPointError(
            f"{what} of candidate {first} is {float(scores[first])}; the problem is "
            "numerically degenerate (saturated probabilities with a tiny alpha, or "
            "features of huge scale). Increase alpha or rescale the features."
        )


def checked_argmax(scores, valid, what):
    """Index and value of the largest valid score, with one device synchronisation.

    Ties go to the lowest index. Raises FloatingPointError (through
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
    index, value, any_bad = torch.stack([j.to(scores.dtype), masked[j], bad.to(scores.dtype)]).tolist()
    if any_bad:
        check_finite(scores, valid, what)
    return int(index), value
