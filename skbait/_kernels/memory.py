"""Memory a selection needs, memory the device has, and the check made before allocating.

The estimates follow what the kernels allocate (``fisher.py``, ``bait.py``): ``D × D``
matrices with ``D = d·k``, per-candidate ``k × k`` state, and chunk intermediates bounded by
:func:`~skbait._kernels._numerics.chunk_rows`. They are pure functions of the shapes, so a
problem that cannot fit is refused in microseconds, before anything large exists.
"""

import os

import torch

from ._numerics import chunk_rows
from .fisher import quad_forms_row_elements

#: What a user can do when a selection does not fit (completes the MemoryError message).
MEMORY_ADVICE = (
    "Use a smaller representation (e.g. a Pipeline with TruncatedSVD, for sparse X, or PCA "
    "before the model), fewer classes, a smaller pool, or a device with more memory "
    "(device='cuda'); chunk_size bounds only the per-chunk intermediates, not the D × D "
    "matrices."
)

#: Environment variable that overrides the detected memory limit, in bytes (``"inf"``
#: switches the check off). For machines whose free memory the check cannot see (swap,
#: memory freed by other processes later) or for tests.
LIMIT_ENV = "SKBAIT_MEMORY_LIMIT"


def _item(dtype):
    return torch.empty((), dtype=dtype).element_size()


def representation_bytes(n_rows, d, *, dtype=torch.float64):
    """Bytes of a dense ``n_rows × d`` representation."""
    return n_rows * d * _item(dtype)


def trace_state_bytes(n_rows, d, k, *, device="cpu", dtype=torch.float64, chunk_size=None,
                      fisher=True, refresh=False):
    """Peak bytes of a greedy ``tr(M⁻¹F)`` (or log-det) selection over ``n_rows`` candidates.

    Counts what is alive at the peak, which is the start of the selection (building ``F``,
    ``M₀``, ``M⁻¹`` and the first ``P_x, Q_x``), and grows no further afterwards:

    - ``D × D`` matrices, ``D = d·k``: the labeled Fisher, ``I``, ``F``, ``M₀``, ``M⁻¹``,
      ``M⁻¹FM⁻¹`` and its symmetrised copy (7), plus the pair-packed ``d × d × k(k+1)/2``
      copies :func:`~skbait._kernels.fisher.quad_forms` stacks for two matrices (4 of
      them, about ``2·D²``); ``M`` itself when it is kept for refreshes;
    - per candidate: ``h`` (``d``), ``s``, ``u`` and the rescaled ``s`` (``3k``), ``P_x``
      and ``Q_x`` (``2k²``);
    - two chunk intermediates of the size :func:`chunk_rows` allows.

    Against the measured peak of live memory on the CPU it is 1.17 to 1.28 times larger
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
    refresh : bool, default=False
        Whether ``M`` is kept to refresh ``M⁻¹`` (the sampler does so on CUDA).

    Returns
    -------
    int
    """
    item = _item(dtype)
    n_dd = d * d * (k * (k + 1) // 2)  # one pair-packed D × D matrix
    matrices = (7 if fisher else 4) + int(refresh)
    dense = matrices * (d * k) ** 2 + (4 if fisher else 2) * n_dd
    rows = n_rows * (d + 3 * k + (2 if fisher else 1) * k * k)
    per_row = quad_forms_row_elements(d, k, 2 if fisher else 1)
    step = chunk_rows(n_rows, per_row, device=device, dtype=dtype, chunk_size=chunk_size,
                      cached=True)
    chunk = 2 * step * per_row
    return (dense + rows + chunk) * item


def available_bytes(device="cpu"):
    """Bytes a new allocation can take on ``device``, or None when it cannot be told.

    CPU: ``MemAvailable`` of ``/proc/meminfo`` (else ``os.sysconf``), capped by the cgroup
    (container) limit. CUDA: the driver's free memory plus what torch's caching allocator
    holds unused. The environment variable ``SKBAIT_MEMORY_LIMIT`` (bytes, or ``inf``)
    overrides both.
    """
    override = os.environ.get(LIMIT_ENV)
    if override:
        try:
            return float(override) if override.strip().lower() == "inf" else int(float(override))
        except ValueError as exc:
            raise ValueError(
                f"{LIMIT_ENV}={override!r} must be a number of bytes or 'inf'."
            ) from exc
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return _host_available()


def _host_available():
    found = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
                    break
    except OSError:
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            pass
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),  # cgroup v2
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
         "/sys/fs/cgroup/memory/memory.usage_in_bytes"),  # cgroup v1
    ):
        try:
            with open(limit_file) as f_limit, open(usage_file) as f_usage:
                limit, usage = f_limit.read().strip(), f_usage.read().strip()
        except OSError:
            continue
        if limit.isdigit() and int(limit) < 2**60:  # "max" or a huge number: no limit
            found.append(max(int(limit) - int(usage), 0))
        break
    return min(found) if found else None


def format_bytes(n_bytes):
    """``n_bytes`` in the largest unit that keeps it at least 1, e.g. ``'28.8 GB'``."""
    value = float(n_bytes)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.3g} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1000
    raise AssertionError("unreachable")


def check_memory(needed, device, what, advice):
    """Raise MemoryError if ``needed`` bytes exceed what ``device`` has available.

    Parameters
    ----------
    needed : int
        Estimated peak bytes.
    device : torch.device
    what : str
        What needs the memory, for the message (e.g. ``"BaitSampler's selection state
        (d=3001, k=20, ...)"``).
    advice : str
        What the user can do about it.
    """
    limit = available_bytes(device)
    if limit is None or needed <= limit:
        return
    raise MemoryError(
        f"{what} needs about {format_bytes(needed)} but {torch.device(device).type} has "
        f"{format_bytes(limit)} available; refusing before allocating it. {advice} "
        f"(Set the environment variable {LIMIT_ENV} to a number of bytes to override the "
        "detected limit.)"
    )
