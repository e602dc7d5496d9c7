"""Host policy for memory: what the host or device has, and the refusal made before
allocating a selection that cannot fit.

The kernels estimate what a selection needs (:mod:`skbait._kernels.memory`); this module
reads the machine (``/proc/meminfo``, cgroups, the CUDA driver, an environment variable)
and words the advice. Nothing in the math layer reads the environment.
"""

import os

import torch

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

#: Largest dense copy of a sparse representation the samplers make (1 GB). Past that the
#: representation is almost always a wide text vectorizer (HashingVectorizer's 2²⁰
#: columns: 585 documents make 5 GB and a minute of work), and a smaller representation is
#: the fix.
DENSIFY_MAX_BYTES = 10**9


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


def describe_design(what, d, k):
    """``what`` with the size of its ``D × D`` matrices, for a MemoryError's message."""
    return (f"{what} (D = d·k = {d * k}; one D × D float64 matrix takes "
            f"{format_bytes((d * k) ** 2 * 8)})")


def check_memory(needed, device, what, advice, *, limit=None):
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
    limit : int, default=None
        A cap of skbait's own below what the device has (e.g. :data:`DENSIFY_MAX_BYTES`).
    """
    if limit is not None and needed > limit:
        raise MemoryError(
            f"{what} needs about {format_bytes(needed)}, more than the {format_bytes(limit)} "
            f"skbait allows it; refusing before allocating it. {advice}"
        )
    available = available_bytes(device)
    if available is None or needed <= available:
        return
    raise MemoryError(
        f"{what} needs about {format_bytes(needed)} but {torch.device(device).type} has "
        f"{format_bytes(available)} available; refusing before allocating it. {advice} "
        f"(Set the environment variable {LIMIT_ENV} to a number of bytes to override the "
        "detected limit.)"
    )
