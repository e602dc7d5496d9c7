"""The per-candidate part of one BAIT step: today's torch operations against the fused pass.

For each configuration ``(n, d, k)`` it times, over the whole pool in the chunks
``TraceState`` uses, what a forward step does to every candidate: the GEMM
``h_block @ right`` and then either the eager operations (``apply_c_``, one ``baddbmm``
on ``[P | Q]``, the gains by ``trace_solve_planes`` for k ≤ 24 or a batched LU solve
above, as ``TraceState._gain``) or ``_fused.update_and_gains``. The ``M⁻¹`` and member
updates (``O(D² k)``, the same on both paths) are not included.

Printed per configuration, in ms per step (median of ``--reps``, min in brackets), at 1
and 2 threads (``torch.set_num_threads`` for the GEMM and the eager operations, the
same count for the fused pass), then again with a competitor: a CPU-bound process
(a Python busy loop) started before and killed after the measurement. The FLOPs and
bytes are those of the step (GEMM, C-transform, rank-k update, elimination; ``h``,
``g`` written and read once, ``[P | Q]`` read and written once); the roofline bound is
``max(FLOPs / GEMM rate, bytes / copy bandwidth)`` with both rates measured in the same
run at the same thread count. The compile time of the fused kernel is measured in fresh
processes, with an empty numba cache (cold) and with the cache it left (warm).

    python benchmarks/micro_fused_step.py                 # the four configurations
    python benchmarks/micro_fused_step.py --configs 10000x64x10 --reps 5
    python benchmarks/micro_fused_step.py --no-competitor --no-compile
"""

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

from skbait._kernels import _fused
from skbait._kernels._numerics import chunk_rows
from skbait._kernels._constants import ELIMINATION_MAX_K as _LDL_MAX_K
from skbait._kernels._linalg import trace_solve_planes
from skbait._kernels.fisher import apply_c_

F64 = torch.float64
CONFIGS = [(10_000, 64, 10), (20_000, 128, 10), (5_000, 64, 100), (200_000, 64, 10)]


def _busy():  # the competitor: one core's worth of pure Python work
    x = 0
    while True:
        x += 1


class Competitor:
    """A CPU-bound process for the duration of a ``with`` block."""

    def __enter__(self):
        ctx = multiprocessing.get_context("spawn")
        self.proc = ctx.Process(target=_busy, daemon=True)
        self.proc.start()
        time.sleep(1.0)  # let it start and get scheduled
        BUSY[0] = 1
        return self

    def __exit__(self, *exc):
        BUSY[0] = 0
        self.proc.kill()  # the process started above, by its handle
        self.proc.join()


class Step:
    """A pool's per-candidate state and the GEMM operand of one step, chunked as TraceState."""

    def __init__(self, n, d, k, seed=0):
        gen = torch.Generator().manual_seed(seed)
        self.n, self.d, self.k = n, d, k
        self.h = torch.randn(n, d, generator=gen, dtype=F64)
        proba = torch.softmax(torch.randn(n, k, generator=gen, dtype=F64), 1)
        self.s, self.u = proba.sqrt(), proba
        self.right = torch.randn(d, 2 * k * k, generator=gen, dtype=F64) / (4 * d)
        # [P | Q] with P PSD: built chunk by chunk (the whole x would double the memory)
        self.pq = torch.empty(n, k, 2 * k, dtype=F64)
        for start in range(0, n, 4096):
            x = torch.randn(min(4096, n - start), k, 2 * k, generator=gen, dtype=F64)
            p = x[:, :, :k] @ x[:, :, :k].transpose(1, 2) / k
            q = x[:, :, k:] @ x[:, :, k:].transpose(1, 2) / k
            self.pq[start:start + x.shape[0]] = torch.cat([p, q], 2)
        self.step = chunk_rows(n, 6 * k * k + d, device="cpu", dtype=F64)
        self.g = torch.empty(self.step * 2 * k * k, dtype=F64)
        self.planes = torch.empty(k, 2 * k, self.step, dtype=F64) if k <= _LDL_MAX_K else None
        self.eye = torch.eye(k, dtype=F64)
        self.gains = torch.empty(n, dtype=F64)

    def _blocks(self):
        for start in range(0, self.n, self.step):
            yield slice(start, min(start + self.step, self.n))

    def _gemm(self, block):
        rows = block.stop - block.start
        g = self.g[: rows * 2 * self.k * self.k].view(rows, self.k, 2 * self.k)
        torch.matmul(self.h[block], self.right, out=g.view(rows, -1))
        return g

    def eager(self, sign):
        k = self.k
        for block in self._blocks():
            g = self._gemm(block)
            apply_c_(self.s[block], self.u[block], g.view(-1, 2 * k, k))
            rows = self.pq[block]
            rows.baddbmm_(g[:, :, :k].transpose(1, 2), g, alpha=-sign)
            if self.planes is not None:
                self.gains[block] = trace_solve_planes(rows, self.planes[:, :, : rows.shape[0]])
            else:
                solved = torch.linalg.solve_ex(torch.add(self.eye, rows[:, :, :k]),
                                               rows[:, :, k:])[0]
                self.gains[block] = solved.diagonal(dim1=1, dim2=2).sum(1)

    def fused(self, sign, threads):
        """The step with the fused pass; returns the seconds spent in the pass alone."""
        spent = 0.0
        for block in self._blocks():
            g = self._gemm(block)
            start = time.perf_counter()
            _fused.update_and_gains(self.pq[block], g, self.s[block], self.u[block], sign, 2,
                                    self.gains[block], "trace", threads=threads)
            spent += time.perf_counter() - start
        return spent

    def gemm_only(self):
        for block in self._blocks():
            self._gemm(block)

    def flops(self):
        n, d, k = self.n, self.d, self.k
        elim = (k - 1) * k * (2 * k - 1) // 6  # Σ (k − j − 1)²: trailing entries
        per_row = 2 * d * 2 * k * k + 4 * 2 * k * k + 2 * 2 * k**3 + 6 * elim
        return n * per_row

    def bytes(self):
        n, d, k = self.n, self.d, self.k
        return 8 * n * (d + 2 * 2 * k * k + 2 * 2 * k * k + 2 * k + 1)


def _cpu_times():
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return sum(values), values[3] + values[4]  # all, idle + iowait


def wait_idle(busy=0, max_wait=20.0):
    """Wait (up to ``max_wait`` s) until at most ``busy`` cores are in use, over 0.2 s.

    The machine may be shared: each repetition starts only once other processes leave
    the cores alone (``busy=1`` while the competitor runs). Returns whether it got
    there; the misses are counted in ``MISSED`` and printed at the end.
    """
    if not os.path.exists("/proc/stat"):
        return False
    cores = os.cpu_count() or 1
    idle_needed = (cores - busy - 0.15) / cores
    deadline = time.monotonic() + max_wait
    while True:
        total0, idle0 = _cpu_times()
        time.sleep(0.2)
        total1, idle1 = _cpu_times()
        if (idle1 - idle0) >= idle_needed * max(1, total1 - total0):
            return True
        if time.monotonic() > deadline:
            MISSED.append(time.strftime("%H:%M:%S"))
            return False


MISSED = []
BUSY = [0]  # cores the measurement expects in use by others (1 with the competitor)


def timed(fn, reps):
    """(median, min) seconds of ``fn()``, and the same of what it returns if it returns a time.

    Each repetition waits for the machine to be otherwise idle (:func:`wait_idle`), then
    makes one untimed call (a vCPU or thread that has gone idle takes milliseconds to wake
    up, which back-to-back greedy steps do not see), then the timed one.
    """
    times, inner = [], []
    for _ in range(reps):
        wait_idle(BUSY[0])
        fn()
        start = time.perf_counter()
        part = fn()
        times.append(time.perf_counter() - start)
        inner.append(part)
    whole = (statistics.median(times), min(times))
    if not isinstance(inner[0], float):
        return whole
    return whole, (statistics.median(inner), min(inner))


def machine_rates(threads):
    """float64 GEMM rate (GFLOP/s) and copy bandwidth (GB/s, read + write) at ``threads``."""
    torch.set_num_threads(threads)
    a = torch.randn(2048, 2048, dtype=F64)
    b = torch.randn(2048, 2048, dtype=F64)
    c = torch.empty(2048, 2048, dtype=F64)
    t_gemm, _ = timed(lambda: torch.matmul(a, b, out=c), 5)
    src = torch.randn(32 * 2**20, dtype=F64)  # 256 MB
    dst = torch.empty_like(src)
    t_copy, _ = timed(lambda: dst.copy_(src), 5)
    return 2 * 2048**3 / t_gemm / 1e9, 2 * src.numel() * 8 / t_copy / 1e9


def compile_times():
    """Seconds for ``_fused.available()`` in fresh processes: empty numba cache, then warm."""
    code = ("import time; t = time.perf_counter(); import numba; t1 = time.perf_counter(); "
            "from skbait._kernels import _fused; t2 = time.perf_counter(); "
            "ok = _fused.available(); t3 = time.perf_counter(); "
            "print(ok, t1 - t, t3 - t2, _fused.compile_info().get('source'))")
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for name in ("cold", "warm"):
            res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                 text=True, check=True)
            ok, t_import, t_ready, source = res.stdout.split()
            out[name] = (float(t_ready), source, float(t_import))
    return out


def run_config(n, d, k, reps, competitor):
    step = Step(n, d, k)
    flops, nbytes = step.flops(), step.bytes()
    rows = []
    for threads in (1, 2):
        wait_idle()
        gemm_rate, bandwidth = machine_rates(threads)
        torch.set_num_threads(threads)
        bound = max(flops / (gemm_rate * 1e9), nbytes / (bandwidth * 1e9))
        sign = [1.0]

        def flip():  # alternate additions and removals: the state stays bounded
            sign[0] = -sign[0]
            return sign[0]

        eager = timed(lambda: step.eager(flip()), reps)
        fused, kernel = timed(lambda: step.fused(flip(), threads), reps)
        gemm = timed(step.gemm_only, reps)
        row = dict(threads=threads, gemm_rate=gemm_rate, bandwidth=bandwidth, bound=bound,
                   eager=eager, fused=fused, kernel=kernel, gemm=gemm)
        if competitor:
            wait_idle()
            with Competitor():
                row["eager_loaded"] = timed(lambda: step.eager(flip()), reps)
                row["fused_loaded"], row["kernel_loaded"] = timed(
                    lambda: step.fused(flip(), threads), reps)
        rows.append(row)
    return flops, nbytes, rows


def _ms(pair):
    if pair is None:
        return "—"
    median, best = pair
    return f"{median * 1e3:.1f} ({best * 1e3:.1f})"


def _print_quiet(results, header=True):
    if header:
        cols = ["n", "d", "k", "threads", "GFLOP", "MB", "GEMM GFLOP/s", "copy GB/s",
                "bound ms", "GEMM alone ms", "eager ms", "fused ms", "fused pass ms",
                "eager/bound", "fused/bound", "eager/fused"]
        print("Quiet (no competitor). ms per step: median (min).")
        print("| " + " | ".join(cols) + " |")
        print("|" + "---|" * len(cols))
    for (n, d, k), flops, nbytes, rows in results:
        for r in rows:
            print(f"| {n:,} | {d} | {k} | {r['threads']} | {flops / 1e9:.2f} | "
                  f"{nbytes / 1e6:.0f} | {r['gemm_rate']:.0f} | {r['bandwidth']:.1f} | "
                  f"{r['bound'] * 1e3:.1f} | {_ms(r['gemm'])} | {_ms(r['eager'])} | "
                  f"{_ms(r['fused'])} | {_ms(r['kernel'])} | "
                  f"{r['eager'][0] / r['bound']:.1f} | {r['fused'][0] / r['bound']:.1f} | "
                  f"{r['eager'][0] / r['fused'][0]:.1f} |", flush=True)


def _print_loaded(results):
    cols = ["n", "d", "k", "threads", "eager ms", "fused ms", "fused pass ms",
            "eager / quiet", "fused / quiet 1-thread fused", "fused pass / quiet 1-thread pass"]
    print("With a competitor (one CPU-bound process). ms per step: median (min); ratios of "
          "medians.")
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for (n, d, k), flops, nbytes, rows in results:
        quiet = rows[0]
        for r in rows:
            print(f"| {n:,} | {d} | {k} | {r['threads']} | {_ms(r['eager_loaded'])} | "
                  f"{_ms(r['fused_loaded'])} | {_ms(r['kernel_loaded'])} | "
                  f"{r['eager_loaded'][0] / r['eager'][0]:.2f} | "
                  f"{r['fused_loaded'][0] / quiet['fused'][0]:.2f} | "
                  f"{r['kernel_loaded'][0] / quiet['kernel'][0]:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default=",".join(f"{n}x{d}x{k}" for n, d, k in CONFIGS),
                        help="comma-separated n x d x k")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--no-competitor", action="store_true")
    parser.add_argument("--no-compile", action="store_true")
    args = parser.parse_args()
    configs = [tuple(int(v) for v in c.split("x")) for c in args.configs.split(",")]

    print(f"torch {torch.__version__}, numba {_fused.numba.__version__ if _fused.numba else '—'}, "
          f"{os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.2f}")
    if not args.no_compile:
        times = compile_times()
        print("fused kernel ready in a fresh process (`_fused.available()`): "
              f"cold {times['cold'][0]:.2f} s ({times['cold'][1]}), "
              f"warm {times['warm'][0]:.2f} s ({times['warm'][1]}); `import numba` "
              f"{times['warm'][2]:.2f} s")
    if not _fused.available():
        sys.exit(f"fused path unavailable: {_fused.compile_info()}")
    print()
    results = []
    for n, d, k in configs:
        results.append(((n, d, k),) + run_config(n, d, k, args.reps, not args.no_competitor))
        _print_quiet(results[-1:], header=len(results) == 1)
    if not args.no_competitor:
        print()
        _print_loaded(results)
    print(f"\nload average at end {os.getloadavg()[0]:.2f}; repetitions that started while "
          f"other processes kept the cores busy (20 s wait given up): {len(MISSED)}")


if __name__ == "__main__":
    main()
