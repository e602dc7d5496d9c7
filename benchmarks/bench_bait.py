"""Time and memory of ``BaitSampler.select`` against the direct formulation.

The direct formulation is the authors' reference computation: at every greedy step, for
every candidate, ``Ṽᵀ M⁻¹ Ṽ`` and ``Ṽᵀ M⁻¹ F M⁻¹ Ṽ`` from the dense ``n × k × D`` factor
tensor (chunked here so it fits in memory). It is timed for a few steps and extrapolated
to the ``2B`` forward steps of a batch. Each configuration runs in a fresh subprocess so
that its peak resident memory is its own.

Usage::

    python benchmarks/bench_bait.py            # the table of benchmarks/README.md
    python benchmarks/bench_bait.py --quick    # small sizes, a smoke test
"""

import argparse
import json
import platform
import resource
import subprocess
import sys
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from skbait import BaitSampler
from skbait._heads import last_layer

# (n_pool, d, k, B, time the direct formulation?)
CONFIGS = [
    (10_000, 64, 10, 50, True),
    (20_000, 128, 10, 100, True),
    (50_000, 128, 10, 100, False),
    (5_000, 64, 100, 20, False),
    (200_000, 64, 10, 50, False),
]
QUICK = [(2_000, 16, 5, 10, True), (3_000, 32, 10, 10, False)]


def _problem(n, d, k, seed=0):
    """A fitted multinomial LogisticRegression (``d - 1`` features plus its intercept)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, d - 1))
    y_lab = np.arange(20 * k) % k
    X_lab = centers[y_lab] + 2.0 * rng.normal(size=(len(y_lab), d - 1))
    X_pool = centers[rng.integers(k, size=n)] + 2.0 * rng.normal(size=(n, d - 1))
    return X_lab, y_lab, X_pool


def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def direct_step_seconds(sampler, X_lab, X_pool, n, steps=2, dtype=torch.float64):
    """Seconds per greedy step of the direct (reference) formulation."""
    lab = last_layer(sampler.estimator_, X_lab)
    pool = last_layer(sampler.estimator_, X_pool)
    n_lab, n_pool = len(X_lab), len(X_pool)

    def dense(layer):
        h = torch.as_tensor(layer.features, dtype=dtype)
        p = torch.as_tensor(layer.proba, dtype=dtype)
        c = torch.diag_embed(p.sqrt()) - p[:, :, None] * p.sqrt()[:, None, :]
        return (h[:, :, None, None] * c[:, None]).reshape(len(h), -1, c.shape[-1])

    V = dense(pool).transpose(1, 2)  # n × k × D, as the reference stores it
    V_lab = dense(lab).transpose(1, 2)
    D, k = V.shape[2], V.shape[1]
    rows_lab, rows = V_lab.reshape(-1, D), V.reshape(-1, D)
    labeled = rows_lab.T @ rows_lab
    fisher = (labeled + rows.T @ rows) / (n_lab + n_pool)
    minv = torch.linalg.inv(torch.eye(D, dtype=dtype) + labeled / (n_lab + n))
    V = V * (n / (n_lab + n)) ** 0.5
    eye = torch.eye(k, dtype=dtype)
    chunk = max(1, int(2**28 // (k * D * V.element_size())))
    start = time.perf_counter()
    for _ in range(steps):
        scores = []
        for s in range(0, n_pool, chunk):
            xt = V[s : s + chunk]
            inner = torch.inverse(eye + xt @ minv @ xt.transpose(1, 2))
            scores.append(torch.diagonal(
                xt @ minv @ fisher @ minv @ xt.transpose(1, 2) @ inner, dim1=-2, dim2=-1
            ).sum(-1))
        j = int(torch.argmax(torch.cat(scores)))
        u = V[j : j + 1]
        inner = torch.inverse(eye + u @ minv @ u.transpose(1, 2))
        minv = (minv - minv @ u.transpose(1, 2) @ inner @ u @ minv)[0]
    return (time.perf_counter() - start) / steps


def run_one(n, d, k, B, direct):
    torch.set_num_threads(torch.get_num_threads())
    X_lab, y_lab, X_pool = _problem(n, d, k)
    model = LogisticRegression(max_iter=300).fit(X_lab, y_lab)
    sampler = BaitSampler(model, prefit=True, device="cpu").fit(X_lab, y_lab)
    base = _rss_mb()
    start = time.perf_counter()
    picks = sampler.select(X_pool, B)
    seconds = time.perf_counter() - start
    out = dict(n=n, d=d, k=k, B=B, select_s=seconds, peak_added_mb=_rss_mb() - base,
               n_picks=len(picks))
    if direct:
        step = direct_step_seconds(sampler, X_lab, X_pool, B)
        out["direct_step_s"] = step
        out["direct_batch_s"] = step * 2 * B
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument("--one", nargs=5, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(*args.one[:4], bool(args.one[4]))))
        return
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, float64")
    header = ("n", "d", "k", "B", "select (s)", "peak added (MB)", "direct/step (s)",
              "direct 2B steps (s)", "speed-up")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for n, d, k, B, direct in QUICK if args.quick else CONFIGS:
        proc = subprocess.run(
            [sys.executable, __file__, "--one", str(n), str(d), str(k), str(B), str(int(direct))],
            capture_output=True, text=True, check=True,
        )
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        direct_cols = ("—", "—", "—")
        if "direct_step_s" in r:
            direct_cols = (f"{r['direct_step_s']:.2f}", f"{r['direct_batch_s']:.0f}",
                           f"{r['direct_batch_s'] / r['select_s']:.0f}×")
        print(f"| {n:,} | {d} | {k} | {B} | {r['select_s']:.2f} | {r['peak_added_mb']:.0f} | "
              + " | ".join(direct_cols) + " |", flush=True)


if __name__ == "__main__":
    main()
