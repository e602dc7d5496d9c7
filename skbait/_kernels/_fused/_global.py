"""The greedy step's global part in compiled code: its narrow ``D × D × k`` products.

For small ``k`` BLAS spends more time copying the ``D × D`` matrix into its packed layout
than multiplying, since the pass has just pushed that matrix out of the caches
(:data:`~skbait._kernels._constants.NARROW_MAX_K`).
"""

from ._jit import jit


@jit
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

