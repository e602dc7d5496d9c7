"""Time and peak memory of each sampler's ``select`` on one synthetic problem.

    PYTHONPATH=. python benchmarks/bench_siblings.py [--n 20000] [--d 128] [--k 10] [--B 100]
                                                      [--threads T]

Every sampler runs in a fresh subprocess on the same data: a prefit multinomial
LogisticRegression (no intercept, so ``h`` has exactly ``d`` entries and the last layer
``d·k`` parameters) fitted on 200 labeled points, then ``select(X_pool, B)`` on ``n``
candidates. ``select`` runs twice after a warm-up on ``2B`` points (so that one-time
library allocations are not counted): once timed, once for memory. Peak memory is the
growth of the process's peak resident set size during that second call (Linux
``/proc/self/status`` ``VmHWM``, reset through ``/proc/self/clear_refs``; where that
reset is refused, the ``resource`` module's ``ru_maxrss`` minus the resident size
before). For it, glibc's mmap threshold is set to 128 KiB (``mallopt``), so that freed
buffers leave the resident set at once and the peak reflects live memory rather than
allocator reuse; the timed call keeps the default allocator. tracemalloc is not used:
it does not see torch's allocations. Coreset also runs on 200,000 points.
"""

import argparse
import ctypes
import json
import os
import resource
import subprocess
import sys
import time

import skbait

N_LABELED = 200
SAMPLERS = {  # name -> sampler, given the prefit model
    "RandomSampler": lambda m: skbait.RandomSampler(random_state=0),
    "UncertaintySampler(least_confident)": lambda m: skbait.UncertaintySampler(
        m, prefit=True, device="cpu"),
    "UncertaintySampler(entropy)": lambda m: skbait.UncertaintySampler(
        m, method="entropy", prefit=True, device="cpu"),
    "CoresetSampler(raw X)": lambda m: skbait.CoresetSampler(device="cpu"),
    "BadgeSampler": lambda m: skbait.BadgeSampler(
        m, random_state=0, prefit=True, device="cpu"),
    "DeterminantalSampler(gradient)": lambda m: skbait.DeterminantalSampler(
        m, factor="gradient", prefit=True, device="cpu"),
    "DeterminantalSampler(fisher)": lambda m: skbait.DeterminantalSampler(
        m, prefit=True, device="cpu"),
    "BaitSampler (reference)": lambda m: skbait.BaitSampler(m, prefit=True, device="cpu"),
}


def _status_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _return_freed_memory_at_once():
    """glibc: serve buffers of 128 KiB or more by mmap, which free returns to the OS."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
    libc.malloc_trim(0)  # and give back what the timed call left in the heap


def _run_one(name, n, d, k, batch, threads):
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression

    if threads:
        torch.set_num_threads(threads)

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(k, d)) / np.sqrt(d) * 3
    y = rng.integers(k, size=n + N_LABELED)
    X = centres[y] + rng.normal(size=(n + N_LABELED, d)) / np.sqrt(d) * 4
    X_lab, y_lab, X_pool = X[:N_LABELED], y[:N_LABELED], X[N_LABELED:]
    model = LogisticRegression(fit_intercept=False, max_iter=500).fit(X_lab, y_lab)
    sampler = SAMPLERS[name](model).fit(X_lab, y_lab)
    sampler.select(X_pool[: 2 * batch], batch)  # first torch/BLAS calls: not the sampler's
    start = time.perf_counter()
    picks = sampler.select(X_pool, batch)
    seconds = time.perf_counter() - start
    _return_freed_memory_at_once()
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # reset VmHWM to the current resident size
        method = "VmHWM"
    except OSError:
        method = "ru_maxrss"
    before = _status_kib("VmRSS")
    sampler.select(X_pool, batch)
    if method == "VmHWM":
        peak = _status_kib("VmHWM")
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert len(set(picks.tolist())) == batch
    return {"seconds": seconds, "peak_mib": (peak - before) / 1024, "method": method,
            "threads": torch.get_num_threads()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--B", type=int, default=100)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own choice)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_run_one(args.one, args.n, args.d, args.k, args.B, args.threads)))
        return
    runs = [(name, args.n) for name in SAMPLERS] + [("CoresetSampler(raw X)", 200_000)]
    print(f"select on n candidates, d = {args.d}, k = {args.k}, B = {args.B}, "
          f"{N_LABELED} labeled; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at start")
    print(f"{'sampler':<36} {'n':>8} {'select (s)':>11} {'peak (MiB)':>11}")
    for name, n in runs:
        out = subprocess.run(
            [sys.executable, __file__, "--one", name, "--n", str(n), "--d", str(args.d),
             "--k", str(args.k), "--B", str(args.B)]
            + (["--threads", str(args.threads)] if args.threads else []),
            capture_output=True, text=True, check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{name:<36} {n:>8} {result['seconds']:>11.2f} {result['peak_mib']:>11.1f}",
              flush=True)
    print(f"peak = growth of {result['method']} during select; torch threads = "
          f"{result['threads']}; load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
