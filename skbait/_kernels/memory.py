"""Memory a selection needs, as pure functions of the problem's shapes.

The estimates follow what the kernels allocate (``fisher.py``, ``bait.py``): ``D × D``
matrices with ``D = d·k``, per-candidate ``k × k`` state, and chunk intermediates bounded by
:func:`~skbait._kernels._numerics.chunk_rows`. They are pure functions of the shapes, so a
problem that cannot fit is refused in microseconds, before anything large exists (the
check against what the host or the device has is host policy: :mod:`skbait.utils._memory`).
"""

import torch

from .design import refresh_interval
from .fisher import quad_forms_chunk


def _item(dtype):
    return torch.empty((), dtype=dtype).element_size()


def representation_bytes(n_rows, d, *, dtype=torch.float64):
    """Bytes of a dense ``n_rows × d`` representation."""
    return n_rows * d * _item(dtype)


def trace_state_bytes(n_rows, d, k, *, device="cpu", dtype=torch.float64, chunk_size=None,
                      fisher=True, refresh=None):
    """Peak bytes of a greedy ``tr(M⁻¹F)`` (or log-det) selection over ``n_rows`` candidates.

    Counts what is alive at the peak, which is the start of the selection (building ``F``,
    ``M₀``, ``M⁻¹`` and the first ``P_x, Q_x``), and grows no further afterwards:

    - ``D × D`` matrices, ``D = d·k``: the labeled Fisher, ``I``, ``F``, ``M₀``, ``M⁻¹``,
      ``M⁻¹FM⁻¹`` and its symmetrised copy (7), plus the pair-packed ``d × d × k(k+1)/2``
      copies :func:`~skbait._kernels.fisher.quad_forms` stacks for two matrices (4 of
      them, about ``2·D²``); ``M`` itself when it is kept for refreshes;
    - per candidate: ``h`` (``d``), ``s``, ``u`` and the rescaled ``s`` (``3k``), ``P_x``
      and ``Q_x`` (``2k²``), and the compiled pass's copy of ``s`` and ``u`` in its lanes
      layout (``2k``; counted for every ``k``, though only ``k ≤ 16`` has it);
    - two chunk intermediates of the size :func:`chunk_rows` allows.

    Against the measured peak of live memory on the CPU it is 1.10 to 1.47 times larger
    (``benchmarks/memory_estimate.py``): a margin, not a bound.

    Parameters
    ----------
    n_rows, d, k : int
        Candidates, representation size (with the bias column) and Fisher factor width.
    device : str or torch.device, default="cpu"
    dtype : torch.dtype, default=torch.float64
    chunk_size : int, default=None
        The sampler's ``chunk_size`` (None: sized from the device's chunk budget).
    fisher : bool, default=True
        Whether ``Q_x`` and ``F`` are tracked (False for log-det objectives).
    refresh : bool, default=None
        Whether ``M`` is kept to refresh ``M⁻¹``; None: as the kernels decide for
        ``device`` (:func:`~skbait._kernels.design.refresh_interval`: on CUDA).

    Returns
    -------
    int
    """
    item = _item(dtype)
    n_dd = d * d * (k * (k + 1) // 2)  # one pair-packed D × D matrix
    if refresh is None:
        refresh = refresh_interval(device) is not None
    matrices = (7 if fisher else 4) + int(refresh)
    dense = matrices * (d * k) ** 2 + (4 if fisher else 2) * n_dd
    rows = n_rows * (d + 5 * k + (2 if fisher else 1) * k * k)
    step, per_row = quad_forms_chunk(n_rows, d, k, 2 if fisher else 1, device=device,
                                     dtype=dtype, chunk_size=chunk_size)
    chunk = 2 * step * per_row
    return (dense + rows + chunk) * item
