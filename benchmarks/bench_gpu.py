"""BAIT kernel against the direct formulation, on a GPU (or the CPU), on synthetic heads.

Each problem is a softmax last layer: ``H`` (n × d) standard normal, probabilities the
softmax of standard normal logits, no labeled set (``M₀ = I``), ``F`` the pool Fisher and
``B`` points chosen with ``2B`` forward steps and ``B`` removals, exactly as
:class:`skbait.BaitSampler` calls the kernels (``fisher_sum`` then ``bait_greedy``, TF32
off, ``M⁻¹`` refreshed every 50 updates on CUDA).

The direct formulation is the authors' reference: every candidate's
``xt M⁻¹ F M⁻¹ xtᵀ (I + xt M⁻¹ xtᵀ)⁻¹`` recomputed at every step from the dense
``n × k × dk`` factor tensor, in float32 with TF32 off, chunked over candidates. It is
timed for two greedy steps and extrapolated to the ``2B`` forward steps (a lower bound on
its batch time), and skipped when its factor tensor does not fit in memory.

Last, picks: the kernel in float64 on the device and on the CPU must choose the same batch
at a size the CPU handles.

Usage::

    python benchmarks/bench_gpu.py            # the issue's sizes, on CUDA when present
    python benchmarks/bench_gpu.py --small    # tiny sizes, runs on a laptop CPU
    python benchmarks/bench_gpu.py --dtypes float64,float32   # also the float32 kernel
    python benchmarks/bench_gpu.py --device cpu --problems cifar  # the CPU side

Time columns are seconds (wall clock, ``torch.cuda.synchronize`` around each phase);
peak memory is ``torch.cuda.max_memory_allocated`` over the run, inputs included (not
measured on the CPU).
"""

import argparse
import gc
import platform
import time

import numpy as np
import torch

from skbait._kernels._numerics import exact_matmul
from skbait._kernels.bait import bait_greedy
from skbait._kernels.fisher import Factors, fisher_sum, softmax_factors

SIZES = {  # (name, n, d, k, B)
    "full": [
        ("cifar", 50_000, 512, 10, 100),
        ("1M", 1_000_000, 512, 10, 100),
        ("k100", 50_000, 64, 100, 50),
    ],
    "small": [
        ("cifar", 2_000, 32, 5, 10),
        ("large-n", 8_000, 32, 5, 10),
        ("many-k", 1_000, 8, 20, 5),
    ],
}
COMPARE = {"full": ("compare", 20_000, 64, 10, 20), "small": ("compare", 1_000, 16, 4, 5)}
GIB = 2**30


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device):
    if device.type == "cuda":
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(device):
    return torch.cuda.max_memory_allocated(device) / GIB if device.type == "cuda" else None


def free_bytes(device):
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    with open("/proc/meminfo") as info:
        fields = dict(line.split(":", 1) for line in info)
    return int(fields["MemAvailable"].split()[0]) * 1024


def synthetic(n, d, k, *, device, seed):
    """``(H, P)`` in float64: standard normal features, softmax of standard normal logits."""
    generator = torch.Generator(device=device).manual_seed(seed)
    h = torch.randn(n, d, generator=generator, device=device, dtype=torch.float64)
    logits = torch.randn(n, k, generator=generator, device=device, dtype=torch.float64)
    return h, torch.softmax(logits, dim=1)


def run_kernel(h, proba, B, *, dtype, chunk_size=None):
    """Time ``fisher_sum`` + ``bait_greedy`` as BaitSampler runs them (no labeled set)."""
    device = h.device
    factors = softmax_factors(h.to(dtype), proba.to(dtype))
    n, dk = h.shape[0], factors.n_params
    synchronize(device)
    reset_peak(device)
    start = time.perf_counter()
    with exact_matmul():
        fisher = fisher_sum(factors, chunk_size=chunk_size) / n
        synchronize(device)
        mid = time.perf_counter()
        m0 = torch.eye(dk, dtype=dtype, device=device)
        result = bait_greedy(
            factors, fisher, m0, B, 2 * B, chunk_size=chunk_size,
            refresh_every=50 if device.type == "cuda" else None,
        )
        synchronize(device)
    end = time.perf_counter()
    return dict(fisher_s=mid - start, greedy_s=end - mid, total_s=end - start,
                peak_gib=peak_gib(device), indices=result.indices,
                objective=result.objective, fisher=fisher.double())


def direct_factors(h, proba, rows):
    """The reference's per-candidate ``xt`` (k × dk, row ``c`` is column ``c`` of V_x)."""
    hc = h[rows].float()
    ct = Factors.c_matrix(proba[rows].sqrt().float(), proba[rows].float()).transpose(1, 2)
    return (hc[:, None, :, None] * ct[:, :, None, :]).reshape(hc.shape[0], ct.shape[1], -1)


def direct_bytes(n, d, k, chunk):
    dk = d * k
    return 4 * (n * k * dk + 4 * chunk * k * dk + 6 * dk * dk)


def direct_chunk(d, k, device):
    budget = GIB if device.type == "cuda" else 64 * 2**20
    return max(1, budget // (4 * k * d * k))


def run_direct(h, proba, fisher, steps=2):
    """Time ``steps`` greedy steps of the authors' formulation (float32, TF32 off).

    Returns the seconds per step (mean) and the picks.
    """
    device = h.device
    n, d = h.shape
    k = proba.shape[1]
    dk = d * k
    chunk = direct_chunk(d, k, device)
    X = torch.empty((n, k, dk), device=device)  # filled in place: no second copy
    for s in range(0, n, chunk):
        X[s : s + chunk] = direct_factors(h, proba, slice(s, s + chunk))
    F = fisher.float()
    eye = torch.eye(k, device=device)
    minv = torch.eye(dk, device=device)  # M₀ = λI with λ = 1 and no labeled set
    chosen, times = [], []
    with exact_matmul():
        for _ in range(steps):
            synchronize(device)
            start = time.perf_counter()
            trace = torch.empty(n, device=device)
            for s in range(0, n, chunk):
                xt = X[s : s + chunk]
                # written as the reference writes it: 4 products with M⁻¹ or F per step
                inner = torch.linalg.inv(eye + xt @ minv @ xt.transpose(1, 2))
                est = xt @ minv @ F @ minv @ xt.transpose(1, 2) @ inner
                trace[s : s + chunk] = torch.diagonal(est, dim1=-2, dim2=-1).sum(-1)
            trace[chosen] = -torch.inf
            j = int(torch.argmax(trace))
            chosen.append(j)
            xt = X[j]
            inner = torch.linalg.inv(eye + xt @ minv @ xt.T)
            minv = minv - minv @ xt.T @ inner @ xt @ minv
            synchronize(device)
            times.append(time.perf_counter() - start)
    return float(np.mean(times)), chosen


def first_forward_picks(h, proba, fisher, steps=2):
    """The kernel's first ``steps`` forward picks (float64), to compare with the direct."""
    factors = softmax_factors(h, proba)
    with exact_matmul():
        m0 = torch.eye(factors.n_params, dtype=h.dtype, device=h.device)
        return [int(i) for i in bait_greedy(factors, fisher, m0, steps, steps).indices]


def fmt(value, spec=".3g"):
    return "-" if value is None else format(value, spec)


def row(cells, widths):
    return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"


HEADER = ["problem", "n", "d", "k", "B", "device", "dtype", "F s", "greedy s", "total s",
          "peak GiB", "direct s/step", "direct batch s", "speedup", "note"]
WIDTHS = [8, 9, 4, 4, 4, 6, 7, 7, 8, 7, 8, 13, 14, 7, 40]


def emit(rows, cells):
    rows.append(cells)
    print(row(cells, WIDTHS), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="tiny sizes (CPU friendly)")
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda")
    parser.add_argument("--dtypes", default="float64",
                        help="kernel dtypes, comma separated (float64 first is the reference)")
    parser.add_argument("--no-direct", action="store_true", help="skip the direct formulation")
    parser.add_argument("--chunk-size", type=int, default=None, help="kernel rows per chunk")
    parser.add_argument("--problems", default=None,
                        help="comma separated problem names to time (default: all); the "
                             "CPU/device pick comparison always runs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    dtypes = [getattr(torch, name.strip()) for name in args.dtypes.split(",")]
    scale = "small" if args.small else "full"
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(f"# bench_gpu ({scale}) on {device} ({name or 'cpu'}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads")

    # first calls pay for CUDA context, cuBLAS/cuSOLVER handles and kernel compilation
    h, proba = synthetic(256, 8, 4, device=device, seed=args.seed)
    for dtype in dtypes:
        warm = run_kernel(h, proba, 4, dtype=dtype)
    if not args.no_direct:
        run_direct(h, proba, warm["fisher"], steps=1)

    rows = []
    print(row(HEADER, WIDTHS))
    print(row(["-" * w for w in WIDTHS], WIDTHS))
    wanted = None if args.problems is None else set(args.problems.split(","))
    for problem, n, d, k, B in SIZES[scale]:
        if wanted is not None and problem not in wanted:
            continue
        h, proba = synthetic(n, d, k, device=device, seed=args.seed)
        reference = None
        for dtype in dtypes:
            note = ""
            try:
                res = run_kernel(h, proba, B, dtype=dtype, chunk_size=args.chunk_size)
            except torch.cuda.OutOfMemoryError as exc:
                emit(rows, [problem, n, d, k, B, device.type, str(dtype)[6:]] + ["-"] * 7
                     + [f"out of memory: {str(exc).splitlines()[0][:30]}"])
                continue
            if reference is None:
                reference = res
            else:
                same = np.array_equal(res["indices"], reference["indices"])
                overlap = len(set(res["indices"]) & set(reference["indices"]))
                note = "same picks as float64" if same else f"{overlap}/{B} picks as float64"
            direct_step = direct_batch = speedup = None
            if dtype == dtypes[0] and not args.no_direct:
                fisher = res["fisher"]
                del res["fisher"]
                reset_peak(device)
                need = direct_bytes(n, d, k, direct_chunk(d, k, device))
                if need > 0.9 * free_bytes(device):
                    note = f"direct skipped: needs {need / GIB:.0f} GiB"
                else:
                    try:
                        direct_step, picks = run_direct(h, proba, fisher)
                    except torch.cuda.OutOfMemoryError:
                        note = f"direct ran out of memory (estimated {need / GIB:.0f} GiB)"
                    else:
                        direct_batch = direct_step * 2 * B
                        speedup = direct_batch / res["total_s"]
                        agree = picks == first_forward_picks(h, proba, fisher)
                        note = "direct: 2 first picks " + ("agree" if agree else "DIFFER")
                del fisher
            emit(rows, [problem, n, d, k, B, device.type, str(dtype)[6:],
                        fmt(res["fisher_s"]), fmt(res["greedy_s"]), fmt(res["total_s"]),
                        fmt(res["peak_gib"], ".2f"), fmt(direct_step), fmt(direct_batch, ".4g"),
                        fmt(speedup, ".3g"), note])
            res.pop("fisher", None)
        del h, proba, reference
        reset_peak(device)

    problem, n, d, k, B = COMPARE[scale]
    h, proba = synthetic(n, d, k, device=torch.device("cpu"), seed=args.seed)
    on_cpu = run_kernel(h, proba, B, dtype=torch.float64)
    on_device = run_kernel(h.to(device), proba.to(device), B, dtype=torch.float64)
    same = np.array_equal(on_cpu["indices"], on_device["indices"])
    rel = abs(on_cpu["objective"] - on_device["objective"]) / abs(on_cpu["objective"])
    note = (f"{'SAME' if same else 'DIFFERENT'} picks as the CPU, objective rel. diff "
            f"{rel:.1e}" + ("" if device.type == "cuda" else " (no GPU: cpu vs cpu)"))
    for where, res, says in (("cpu", on_cpu, "reference for the picks"),
                             (device.type, on_device, note)):
        emit(rows, [problem, n, d, k, B, where, "float64", fmt(res["fisher_s"]),
                    fmt(res["greedy_s"]), fmt(res["total_s"]), fmt(res["peak_gib"], ".2f"),
                    "-", "-", "-", says])

    print("\n# summary")
    print(row(HEADER, WIDTHS))
    print(row(["-" * w for w in WIDTHS], WIDTHS))
    for cells in rows:
        print(row(cells, WIDTHS))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
