"""``BaitSampler.select`` on the CPU: against its roofline, the direct formulation and the
eager path, quiet and with a competitor.

Every number comes from this run, each measurement in a fresh process (so that each pays
its own start-up, and numba's compile or cache load is counted where it happens):

- **select**: ``BaitSampler(LogisticRegression).select(X_pool, B)`` through the fused pass
  and through the eager torch path (``_fused.available`` forced False), at 1 and 2
  threads (``torch.set_num_threads``, the caller's setting), and whether they pick the
  same batch. A select of a few seconds or less runs ``REPEATS`` times in its process,
  as in an active-learning loop, and the median counts.
- **setup**: of the fused select, the time before the greedy loop starts (the model's
  outputs, ``F``, ``M⁻¹``, ``M⁻¹FM⁻¹`` and every candidate's first ``P_x, Q_x``).
- **step**: the median forward greedy step inside those selects (``DesignState.add``
  with an update, timed in place), and of it the per-candidate pass
  (``CandidateRows.update``, with the update of ``M⁻¹`` and the members' update where
  they run on the calling thread beside it); the rest is three ``D × D`` products (and
  those updates, where they run after the pass) and the step's small operations.
- **roofline**: the step's FLOPs and bytes (below), this machine's float64 GEMM rate
  (2048² ``matmul``, the better of torch's BLAS and numpy's) and copy bandwidth (256 MB
  ``copy_``) measured in the same run at the same thread count;
  ``bound = max(FLOPs / GEMM rate, bytes / bandwidth)``. Beside it, the
  pass's GEMM alone (:func:`tile_gemm_seconds`: the same tiles, threads and BLAS, nothing
  else), against that GEMM's FLOPs at the 2048² rate: BLAS runs an inner dimension of
  ``d = 64`` well below its large-matrix rate, and no fusion of the rest lowers that part.
  The last ratio puts the measured time of that GEMM in place of its share of the bound.
- **the pass's parts** (the lanes layout, ``k ≤ LANES_MAX_K``): one thread's pass over the
  pool stopped after each of its parts (:func:`lanes_parts_seconds`: the GEMM, the
  ``C``-transform, the rank-``k`` update, the gains, the library's own compiled parts),
  each against its own bound: where the step's time beyond its GEMM goes. The update's
  bytes are the state's, read and written once; where the state fits in the caches (the
  quick sizes) it runs below that bound.
- **direct**: the authors' direct formulation (``bench_bait.direct_step_seconds``: every
  candidate's ``k × D`` factor against ``M⁻¹`` and ``F`` at every step), timed for two
  steps and extrapolated to the ``2B`` forward steps of a batch, at 2 threads.
- **under load**: the same selects with one CPU-bound process (a Python busy loop)
  running beside them, against the quiet one-thread select.

A forward step's work, for ``n`` candidates, ``d`` features, ``k`` outputs, ``D = d·k``:
the GEMM ``2·n·d·2k²``, the C-transform ``8·n·k²``, the rank-k update of ``[P | Q]``
``4·n·k³``, the gains' ``L D Lᵀ`` and congruence on lower triangles ``(1/3 + 2/3)·n·k³``
(the kernels' count since both keep only the lower halves; on whole blocks it was
``(2/3 + 2)·n·k³``, counted so in the runs before 2026-12-03), three ``D × D × k``
products (``FR'``, ``M⁻¹FR'``, the update of ``M⁻¹``) ``6·D²·k`` FLOPs, and ``M⁻¹U``,
which the factor's Kronecker form makes a matrix-vector product (``Factors.product``:
``2·D²``, where the dense product costs ``2·D²·k``); it reads
``h``, ``s``, ``u`` and reads and writes ``[P | Q]`` once, and touches ``M⁻¹`` and ``F`` five
times (``8·(n·d + 2n·k + 2·n·2k² + 5·D²)`` bytes). Each part gets its own bound too; the
update of ``M⁻¹`` (``2·D²·k`` FLOPs, ``M⁻¹`` read and written) counts in the part it runs
in: the pass's where it runs beside the pass (``DesignState.global_beside``: the loop's
torch on one thread, small ``D × D`` products), else the rest's (``k = 100``; the runs
before 2026-12-03 counted it in the pass's there too).

Usage::

    python benchmarks/bench_cpu.py                       # the table of benchmarks/README.md
    python benchmarks/bench_cpu.py --configs 10000x64x10x50 --no-direct
    python benchmarks/bench_cpu.py --quick               # small sizes, a smoke test
"""

import argparse
import functools
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time

import torch

CONFIGS = ["digits", "10000x64x10x50", "20000x128x10x100", "5000x64x100x20"]
QUICK = ["digits", "2000x16x5x10"]
# the direct formulation at k = 100 (a 5000 × 100 × 6400 factor tensor per step) would
# take hours: only the configurations of the targets time it
DIRECT = {"10000x64x10x50", "20000x128x10x100", "2000x16x5x10"}
# the eager path at k = 100 takes minutes a select: there it runs once, quiet, at 2 threads
EAGER_ONCE = {"5000x64x100x20"}
# selects of a few seconds or less are repeated in their process (the median counts):
# one select of digits varied by 1.5× from process to process on this host
REPEATS = {"digits": 7, "10000x64x10x50": 3, "2000x16x5x10": 3}

_CHILD = r"""
import json, statistics, sys, time
import numpy as np, torch
config, threads, path, direct, reps = json.loads(sys.argv[1])
torch.set_num_threads(threads)
sys.path.insert(0, sys.argv[2])
from bench_bait import _problem, direct_step_seconds
from sklearn.linear_model import LogisticRegression
from skbait import BaitSampler
from skbait._kernels import _fused, bait as bait_kernel, woodbury
if path == "eager":
    _fused.available = lambda: False
else:  # paid once per process (reported in its own column), not by every select
    _fused.available()
if config == "digits":  # the quickstart's problem: 600 labeled, the rest the pool
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_lab, y_lab, X_pool, B = X[:600], y[:600], X[600:], 10
else:
    n, d, k, B = (int(v) for v in config.split("x"))
    X_lab, y_lab, X_pool = _problem(n, d, k)
model = LogisticRegression(max_iter=300).fit(X_lab, y_lab)
sampler = BaitSampler(model, prefit=True, device="cpu").fit(X_lab, y_lab)
steps, passes = [], []
add, update = woodbury.DesignState.add, woodbury.CandidateRows.update
def timed_add(self, index, *, last=False, packed=None):
    start = time.perf_counter()
    out = add(self, index, last=last, packed=packed)
    if not last:
        steps.append(time.perf_counter() - start)
    return out
def timed_update(self, *args, **kwargs):
    start = time.perf_counter()
    out = update(self, *args, **kwargs)
    passes.append(time.perf_counter() - start)
    return out
loop_start = []
greedy = bait_kernel.greedy
def timed_greedy(*args, **kwargs):
    loop_start.append(time.perf_counter())
    return greedy(*args, **kwargs)
woodbury.DesignState.add = timed_add
woodbury.CandidateRows.update = timed_update
bait_kernel.greedy = timed_greedy
seconds, setups, picks = [], [], set()
for _ in range(reps):
    start = time.perf_counter()
    picks.add(tuple(sampler.select(X_pool, B).tolist()))
    seconds.append(time.perf_counter() - start)
    setups.append(loop_start[-1] - start)
out = {"seconds": statistics.median(seconds), "all_seconds": seconds,
       "setup": statistics.median(setups),
       "picks": sorted(picks) if len(picks) > 1 else list(picks.pop()),
       "step": statistics.median(steps),
       "pass": statistics.median(passes),
       "compile": _fused.compile_info() if path == "fused" else {},
       "threads_after": torch.get_num_threads()}
if direct:
    out["direct_step"] = direct_step_seconds(sampler, X_lab, X_pool, B)
    out["direct_steps"] = 2 * B
print(json.dumps(out))
"""


def _busy():  # the competitor: one core's worth of pure Python work
    while True:
        pass


class Competitor:
    """A CPU-bound process for the duration of a ``with`` block (none when ``on`` is False)."""

    def __init__(self, on):
        self.on = on

    def __enter__(self):
        if self.on:
            self.proc = multiprocessing.get_context("spawn").Process(target=_busy, daemon=True)
            self.proc.start()
            time.sleep(1.0)  # let it start and get scheduled
        return self

    def __exit__(self, *exc):
        if self.on:
            self.proc.kill()
            self.proc.join()


def _child(config, threads, path, direct=False, competitor=False):
    here = os.path.dirname(os.path.abspath(__file__))
    reps = REPEATS.get(config, 1)
    with Competitor(competitor):
        res = subprocess.run([sys.executable, "-c", _CHILD,
                              json.dumps([config, threads, path, direct, reps]), here],
                             capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def machine_rates(threads, reps=5):
    """float64 GEMM rate (GFLOP/s) and copy bandwidth (GB/s, read + write) at ``threads``,
    and the GEMM rates of torch's BLAS and numpy's: the rate is the better of the two
    (on AMD, MKL takes its AVX2 kernels; an OpenBLAS told ``OPENBLAS_CORETYPE`` may take
    AVX-512 ones)."""
    import numpy as np
    import threadpoolctl

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a = torch.randn(2048, 2048, dtype=torch.float64)
        b = torch.randn(2048, 2048, dtype=torch.float64)
        c = torch.empty(2048, 2048, dtype=torch.float64)
        a_np, b_np, c_np = a.numpy(), b.numpy(), c.numpy()
        src = torch.randn(32 * 2**20, dtype=torch.float64)  # 256 MB
        dst = torch.empty_like(src)
        flops = 2 * 2048**3
        with threadpoolctl.threadpool_limits(threads, user_api="blas"):
            rates = (flops / _best(lambda: torch.matmul(a, b, out=c), reps) / 1e9,
                     flops / _best(lambda: np.matmul(a_np, b_np, out=c_np), reps) / 1e9)
        return (max(rates), 2 * src.numel() * 8 / _best(lambda: dst.copy_(src), reps) / 1e9,
                rates)
    finally:
        torch.set_num_threads(before)


def blas_kernels():
    """The BLAS libraries that the compiled pass finds loaded (``_fused.compile_info``),
    and the CPU kernels each chose."""
    from skbait._kernels import _fused

    _fused.available()  # loads the kernels, and with them the BLAS that np.dot calls
    return ", ".join(f"{os.path.basename(lib['filepath'])} {lib['version']}: "
                     f"{lib['architecture']}"
                     for lib in _fused.compile_info().get("blas", []))


@functools.cache
def _compiled():
    """The pass's pieces as the benchmark runs them alone, compiled here (numba, not
    cached), releasing the GIL as the pass does: the GEMM of the lanes layout's blocks or
    of the row pass's tiles, and the lanes pass up to and including one of its parts."""
    import numba
    import numpy as np

    from skbait._kernels._fused import _lanes

    lanes = _lanes.LANES
    transform, update, gain = _lanes._transform, _lanes._update, _lanes._gain

    @numba.njit(nogil=True)
    def blocks_gemm(h, right_t, lo, hi):
        out = np.empty((right_t.shape[0], lanes))
        for block in range(lo, hi):
            np.dot(right_t, h[block * lanes:(block + 1) * lanes].T, out)

    @numba.njit(nogil=True)
    def tiles_gemm(h, right, tile, lo, hi):
        buffer = np.empty((tile, right.shape[1]))
        for start in range(lo, hi, tile):
            stop = min(start + tile, hi)
            np.dot(h[start:stop], right, buffer[:stop - start])

    @numba.njit(nogil=True)
    def lanes_parts(h, right_t, pq, s, u, out, parts):
        # _lanes._lanes_kernel's loop over blocks (trace gains), stopped after `parts` of
        # its four parts: the GEMM, the C-transform, the update, the gains
        k, hk = pq.shape[1], pq.shape[2]
        y = np.empty((k * hk, lanes))
        scaled, t, rw = np.empty((k, lanes)), np.empty(lanes), np.empty((k, lanes))
        z = np.empty((k, hk, lanes))
        for b in range(pq.shape[0]):
            np.dot(right_t, h[b * lanes:(b + 1) * lanes].T, y)
            if parts >= 2:
                transform(y, s[b], u[b], t)
            if parts >= 3:
                update(pq[b], y.reshape((k, hk, lanes)), -1.0, scaled)  # keeps I + P > 0
            if parts >= 4:
                gain(pq[b], z, 1, t, scaled, rw, out[b * lanes:(b + 1) * lanes])

    return blocks_gemm, tiles_gemm, lanes_parts


def tile_gemm_seconds(n, d, k, threads, reps=5):
    """The pass's GEMM alone: the pool's tiles ``h[tile] @ right`` (``d × 2k²``), or in the
    lanes layout (``k ≤ LANES_MAX_K``) its blocks ``rightᵀ @ h[block]ᵀ``, one ``np.dot``
    per tile or block on one BLAS thread, in compiled code that releases the GIL, handed
    to ``threads`` threads as the pass hands them out. Its rate is BLAS's rate at that
    shape (inner dimension ``d``), not at 2048²: a floor under the pass that no fusion can
    lower."""
    import numpy as np
    import threadpoolctl

    from skbait._kernels import _fused

    blocks_gemm, tiles_gemm, _ = _compiled()
    rng = np.random.default_rng(0)
    width = 2 * k * k
    if k <= _fused.LANES_MAX_K:
        lanes = _fused.LANES
        blocks = -(-n // lanes)
        h, right_t = rng.normal(size=(blocks * lanes, d)), rng.normal(size=(width, d))
        kernel, args, count, unit = blocks_gemm, (h, right_t), blocks, 1
        piece = -(-_fused._parallel.piece_rows(k, 2, 1) // lanes)  # in whole blocks
    else:
        tile = _fused.tile_rows(k)
        h, right = rng.normal(size=(n, d)), rng.normal(size=(d, width))
        kernel, args, count, unit = tiles_gemm, (h, right, tile), n, tile
        piece = _fused._parallel.piece_rows(k, 2, tile)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        return _best(lambda: _fused._parallel.parallel_rows(kernel, args, count, threads,
                                                            piece, unit), reps)


def lanes_parts_seconds(n, d, k, reps=5):
    """One thread's lanes pass over ``n`` candidates, part by part: the seconds of its GEMM,
    ``C``-transform, rank-``k`` update and gains, each the difference between the pass
    stopped after that part and before it (the same compiled parts as the pass's, on a
    state whose ``I + P_x`` are well conditioned, as a selection's are)."""
    import numpy as np
    import threadpoolctl

    from skbait._kernels import _fused

    _, _, lanes_parts = _compiled()
    lanes, hk = _fused.LANES, 2 * k
    blocks = -(-n // lanes)
    rng = np.random.default_rng(0)
    h = rng.normal(size=(blocks * lanes, d)) / np.sqrt(d)
    right_t = rng.normal(size=(k * hk, d)) * 0.1
    a = rng.normal(size=(blocks, k, k, lanes)) / np.sqrt(k)
    pq = np.empty((blocks, k, hk, lanes))
    pq[:, :, :k] = np.einsum("bicl,bjcl->bijl", a, a)
    pq[:, :, k:] = pq[:, :, :k]
    s = rng.uniform(0.1, 0.5, size=(blocks, k, lanes))
    u = rng.uniform(0.0, 0.2, size=(blocks, k, lanes))
    out = np.empty(blocks * lanes)
    work = pq.copy()
    cumulative = []
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        for parts in range(1, 5):
            def run():
                np.copyto(work, pq)  # every run lowers the same state
                start = time.perf_counter()
                lanes_parts(h, right_t, work, s, u, out, parts)
                return time.perf_counter() - start

            run()
            cumulative.append(min(run() for _ in range(reps)))
    return [b - a for a, b in zip([0.0] + cumulative[:-1], cumulative)]


def part_work(n, d, k):
    """(FLOPs, bytes) of the pass's four parts, whose FLOPs :func:`step_work` sums: the GEMM
    ``2·n·d·2k²``, the C-transform ``8·n·k²``, the rank-k update ``4·n·k³``, the gains
    ``(1/3 + 2/3)·n·k³``; the GEMM reads ``h``, the update reads and writes ``[P | Q]``
    (the other parts work on what is in the core's caches)."""
    state = 8 * n * 2 * k * k
    return [(2 * n * d * 2 * k * k, 8 * n * d), (8 * n * k * k, 0),
            (4 * n * k**3, 2 * state), ((1 / 3 + 2 / 3) * n * k**3, 0)]


def _best(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def step_work(n, d, k):
    """(FLOPs, bytes) of one forward step's two parts, the per-candidate pass and the
    three ``D × D`` products (``M⁻¹U`` one of them, a matrix-vector product), with the
    update of ``M⁻¹`` in the part it runs in: see the module docstring."""
    from skbait._kernels.threads import loop_on_one_thread

    D = d * k
    flops = sum(part[0] for part in part_work(n, d, k))
    candidates = flops, 8 * (n * d + 2 * n * k + 2 * n * 2 * k * k)
    products = 4 * D * D * k + 2 * D * D, 8 * 3 * D * D
    update = 2 * D * D * k, 8 * 2 * D * D
    if loop_on_one_thread(True, D, k):  # DesignState.global_beside, with the compiled pass
        candidates = tuple(a + b for a, b in zip(candidates, update))
    else:
        products = tuple(a + b for a, b in zip(products, update))
    return candidates, products


def _bound(work, rates):
    (flops, nbytes), (gemm, bandwidth) = work, rates
    return max(flops / (gemm * 1e9), nbytes / (bandwidth * 1e9))


def _shape(config):
    if config == "digits":
        return 1197, 65, 10, 10
    return tuple(int(v) for v in config.split("x"))


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


def _table(header, rows):
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=None,
                        help="n x d x k x B, or 'digits'")
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument("--no-direct", action="store_true")
    parser.add_argument("--no-eager", action="store_true")
    parser.add_argument("--no-compile", action="store_true")
    args = parser.parse_args(argv)
    configs = args.configs or (QUICK if args.quick else CONFIGS)
    from skbait._kernels import _fused

    print(f"# {os.cpu_count()} CPUs, torch {torch.__version__}, load average at start "
          f"{os.getloadavg()[0]:.2f}, {time.strftime('%Y-%m-%d %H:%M')}")
    if not args.no_compile:
        times = compile_times()
        print(f"fused kernels ready in a fresh process: cold {times['cold'][0]:.2f} s "
              f"({times['cold'][1]}), warm {times['warm'][0]:.2f} s ({times['warm'][1]}); "
              f"`import numba` {times['warm'][2]:.2f} s")
    measured = {t: machine_rates(t) for t in (1, 2)}
    rates = {t: (gemm, copy) for t, (gemm, copy, _) in measured.items()}
    print("machine: " + "; ".join(
        f"{t} thread{'s' if t > 1 else ''}: GEMM {g:.1f} GFLOP/s (torch {each[0]:.1f}, "
        f"numpy {each[1]:.1f}), copy {b:.1f} GB/s" for t, (g, b, each) in measured.items()))
    print(f"BLAS: {blas_kernels()}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}")
    print()
    ends, roofs, parts, loads = [], [], [], []
    for config in configs:
        n, d, k, B = _shape(config)
        runs = {}
        eager_all = not args.no_eager and config not in EAGER_ONCE
        for threads in (2, 1):
            runs["fused", threads] = _child(config, threads, "fused",
                                            direct=threads == 2 and config in DIRECT
                                            and not args.no_direct)
            if eager_all or (not args.no_eager and threads == 2):
                runs["eager", threads] = _child(config, threads, "eager")
        for threads in (2, 1):
            runs["fused", threads, "load"] = _child(config, threads, "fused", competitor=True)
        if eager_all:
            runs["eager", 2, "load"] = _child(config, 2, "eager", competitor=True)

        fused = runs["fused", 2]
        eager = runs.get(("eager", 2))
        same = all(r["picks"] == fused["picks"] for key, r in runs.items())
        direct = "—", "—"
        if "direct_step" in fused:
            batch = fused["direct_step"] * fused["direct_steps"]
            direct = f"{batch:.0f}", f"{batch / fused['seconds']:.0f}×"
        ends.append([config, f"{fused['seconds']:.2f}", f"{fused['setup']:.2f}",
                     "—" if eager is None else f"{eager['seconds']:.2f}",
                     "—" if eager is None else f"{eager['seconds'] / fused['seconds']:.2f}",
                     str(same), *direct,
                     f"{fused['compile'].get('seconds', float('nan')):.2f} s "
                     f"({fused['compile'].get('source', '?')})"])
        candidates, products = step_work(n, d, k)
        flops, nbytes = candidates[0] + products[0], candidates[1] + products[1]
        tile_flops = 2 * n * d * 2 * k * k
        for threads in (1, 2):
            gemm, bandwidth = rates[threads]
            tile_gemm = tile_gemm_seconds(n, d, k, threads)
            bound = _bound((flops, nbytes), rates[threads])
            pass_bound = _bound(candidates, rates[threads])
            rest_bound = _bound(products, rates[threads])
            step, pass_ = runs["fused", threads]["step"], runs["fused", threads]["pass"]
            eager_step = runs.get(("eager", threads), {}).get("step")
            # the bound with the pass's GEMM at the rate BLAS reaches for its shape
            shape_bound = max(tile_gemm + (flops - tile_flops) / (gemm * 1e9),
                              nbytes / (bandwidth * 1e9))
            roofs.append([config, str(threads), f"{flops / 1e9:.3f}", f"{nbytes / 1e6:.0f}",
                          f"{gemm:.1f}", f"{bandwidth:.1f}", f"{bound * 1e3:.2f}",
                          f"{step * 1e3:.2f}", f"{step / bound:.2f}",
                          f"{pass_ * 1e3:.2f} / {pass_bound * 1e3:.2f}",
                          f"{tile_gemm * 1e3:.2f} / {tile_flops / (gemm * 1e9) * 1e3:.2f}",
                          f"{tile_flops / tile_gemm / 1e9:.1f}",
                          f"{step / shape_bound:.2f}",
                          f"{(step - pass_) * 1e3:.2f} / {rest_bound * 1e3:.2f}",
                          "—" if eager_step is None else f"{eager_step * 1e3:.2f}",
                          "—" if eager_step is None else f"{eager_step / bound:.2f}"])
        if k <= _fused.LANES_MAX_K:
            times = lanes_parts_seconds(n, d, k)
            works = part_work(n, d, k)
            bounds = [_bound(work, rates[1]) for work in works]
            cells = [f"{t * 1e3:.2f} ms, {w[0] / t / 1e9:.1f} GFLOP/s, {t / b:.1f}×"
                     for t, w, b in zip(times, works, bounds)]
            parts.append([config, *cells, f"{sum(times) * 1e3:.2f} / {sum(bounds) * 1e3:.2f}",
                          f"{sum(times[1:]) * 1e3:.2f} / {sum(bounds[1:]) * 1e3:.2f}"])
        quiet1 = runs["fused", 1]["seconds"]
        loads.append([config, f"{quiet1:.2f}", f"{fused['seconds']:.2f}",
                      f"{runs['fused', 2, 'load']['seconds']:.2f}",
                      f"{runs['fused', 2, 'load']['seconds'] / quiet1:.2f}",
                      f"{runs['fused', 1, 'load']['seconds']:.2f}",
                      f"{runs['fused', 1, 'load']['seconds'] / quiet1:.2f}",
                      "—" if not eager_all else f"{runs['eager', 2, 'load']['seconds']:.2f}",
                      "—" if not eager_all else
                      f"{runs['eager', 2, 'load']['seconds'] / runs['eager', 1]['seconds']:.2f}",
                      str(all(r["threads_after"] == key[1] for key, r in runs.items()))])
        print(f"{config}: done", file=sys.stderr, flush=True)

    print("End to end, 2 threads, quiet (s). Direct: its step timed twice, times 2B steps.")
    _table(["config", "fused select", "its setup", "eager select", "eager / fused",
            "same picks (all runs)",
            "direct 2B steps", "direct / fused", "fused compile or cache load"], ends)
    print("\nForward step against its roofline (ms; the median step inside the quiet selects).")
    _table(["config", "threads", "GFLOP", "MB", "GEMM GFLOP/s", "copy GB/s", "bound",
            "fused step", "fused / bound", "its pass (and beside it) / bound",
            "the pass's GEMM alone / at the GEMM rate", "that GEMM's GFLOP/s",
            "fused / bound with that GEMM",
            "its D×D part / part bound", "eager step", "eager / bound"], roofs)
    if parts:
        print("\nThe lanes pass's parts on one thread (each: time, its rate, its time against "
              "its own bound at the one-thread rates above).")
        _table(["config", "GEMM", "C-transform", "rank-k update", "gains",
                "the four / their bounds (ms)", "the three after the GEMM / their bounds"],
               parts)
    print("\nUnder load: one CPU-bound competitor (s; ratios to the quiet one-thread select of "
          "the same path).")
    _table(["config", "quiet 1 thread", "quiet 2 threads", "competitor, 2 threads",
            "/ quiet 1 thread", "competitor, 1 thread", "/ quiet 1 thread",
            "eager: competitor, 2 threads", "/ eager quiet 1 thread",
            "caller's threads restored"], loads)
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
