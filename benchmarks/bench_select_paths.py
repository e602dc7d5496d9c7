"""``BaitSampler.select`` through the fused CPU pass and through the eager torch path.

Side by side in one run, each configuration in a fresh subprocess (so that each path pays
its own start-up, and numba's compile or cache load is counted where it happens), at the
given thread counts, quiet and, with ``--competitor``, with one CPU-bound process running
beside it. The picks of the two paths are compared.

Usage::

    python benchmarks/bench_select_paths.py
    python benchmarks/bench_select_paths.py --configs 10000x64x10x50 --threads 1 2 --competitor
"""

import argparse
import json
import multiprocessing
import subprocess
import sys
import time

CONFIGS = ["10000x64x10x50", "20000x128x10x100", "200000x64x10x50"]

_CHILD = r"""
import json, sys, time
import numpy as np, torch
from sklearn.linear_model import LogisticRegression
from skbait import BaitSampler
from skbait._kernels import _fused
n, d, k, B, threads, path = json.loads(sys.argv[1])
torch.set_num_threads(threads)
if path == "eager":
    _fused.available = lambda: False
rng = np.random.default_rng(0)
centers = rng.normal(size=(k, d - 1))
y_lab = np.arange(20 * k) % k
X_lab = centers[y_lab] + 2.0 * rng.normal(size=(len(y_lab), d - 1))
X_pool = centers[rng.integers(k, size=n)] + 2.0 * rng.normal(size=(n, d - 1))
sampler = BaitSampler(LogisticRegression(max_iter=300), device="cpu").fit(X_lab, y_lab)
start = time.perf_counter()
picks = sampler.select(X_pool, B)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "picks": picks.tolist(),
                  "compile": _fused.compile_info() if path == "fused" else {}}))
"""


def _busy():
    while True:
        pass


def _run(config, threads, path):
    n, d, k, B = (int(v) for v in config.split("x"))
    out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps([n, d, k, B, threads, path])],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=CONFIGS)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--competitor", action="store_true")
    args = parser.parse_args(argv)
    loads = ["quiet"] + (["competitor"] if args.competitor else [])
    print("| n x d x k x B | threads | load | eager s | fused s | eager / fused | same picks |"
          " fused compile or cache load |")
    print("|---|---|---|---|---|---|---|---|")
    for config in args.configs:
        for threads in args.threads:
            for load in loads:
                competitor = None
                if load == "competitor":
                    competitor = multiprocessing.Process(target=_busy, daemon=True)
                    competitor.start()
                    time.sleep(0.5)
                try:
                    eager = _run(config, threads, "eager")
                    fused = _run(config, threads, "fused")
                finally:
                    if competitor is not None:
                        competitor.terminate()
                        competitor.join()
                info = fused["compile"]
                note = f"{info.get('seconds', float('nan')):.2f} s ({info.get('source', '?')})"
                print(f"| {config} | {threads} | {load} | {eager['seconds']:.2f} | "
                      f"{fused['seconds']:.2f} | {eager['seconds'] / fused['seconds']:.2f} | "
                      f"{eager['picks'] == fused['picks']} | {note} |", flush=True)


if __name__ == "__main__":
    main()
