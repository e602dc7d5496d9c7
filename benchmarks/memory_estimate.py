"""Peak memory of BaitSampler.select against the estimate the memory guard uses.

Each case runs in a fresh subprocess. On the CPU the peak is the growth of the process's
maximum resident set size during ``select``, with glibc's mmap threshold fixed at 128 KiB
(``MALLOC_MMAP_THRESHOLD_``) so that freed buffers leave the resident set at once and the
peak is that of live memory; on CUDA it is the growth of ``torch.cuda.max_memory_allocated``.

    PYTHONPATH=. python benchmarks/memory_estimate.py [--device cuda]
"""

import argparse
import json
import os
import subprocess
import sys

CASES = [  # n_pool, d (without bias), k (classes)
    (2000, 511, 4),
    (4000, 255, 10),
    (1000, 99, 30),
    (3000, 1999, 2),
]
CUDA_CASES = CASES + [(200_000, 511, 10), (20_000, 63, 100)]

CHILD = r"""
import json, resource, sys
import numpy as np
from sklearn.linear_model import LogisticRegression
from skbait import BaitSampler
from skbait._kernels.memory import trace_state_bytes

n_pool, d, k = map(int, sys.argv[1:4])
device = sys.argv[4]
rng = np.random.default_rng(0)
X = rng.normal(size=(n_pool + 4 * k, d))
y = np.arange(len(X)) % k
model = LogisticRegression(max_iter=5).fit(X[: 4 * k], y[: 4 * k])
sampler = BaitSampler(model, prefit=True, device=device).fit(X[: 4 * k], y[: 4 * k])
pool = X[4 * k:]

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()

if device == "cuda":
    import torch
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    sampler.select(pool, 10)
    peak = torch.cuda.max_memory_allocated() - before
else:
    before = rss()
    sampler.select(pool, 10)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
width = 1 if k == 2 else k
estimate = trace_state_bytes(n_pool, d + 1, width, device=device, refresh=device == "cuda")
print(json.dumps(dict(measured=peak, estimate=estimate)))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    device = parser.parse_args().device
    print(f"{'n':>6} {'d':>5} {'k':>3} {'D':>6} {'measured MB':>12} {'estimate MB':>12} "
          f"{'ratio':>6}")
    for n_pool, d, k in CUDA_CASES if device == "cuda" else CASES:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(n_pool), str(d), str(k), device],
            capture_output=True, text=True, check=True,
            env={**os.environ, "MALLOC_MMAP_THRESHOLD_": str(128 * 1024)},
        ).stdout
        res = json.loads(out.strip().splitlines()[-1])
        width = 1 if k == 2 else k
        print(f"{n_pool:>6} {d:>5} {k:>3} {(d + 1) * width:>6} {res['measured'] / 1e6:>12.1f} "
              f"{res['estimate'] / 1e6:>12.1f} {res['estimate'] / res['measured']:>6.2f}")


if __name__ == "__main__":
    main()
