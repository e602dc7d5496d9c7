"""What sharded BAIT sends per greedy step, and what its collectives cost against compute.

Spawns gloo process groups of 1 and 2 ranks on this machine (one thread per rank: a rank
stands for one device), shards a synthetic softmax pool (``H`` standard normal, the
softmax of standard normal logits, no labeled set) across them, and runs BAIT's kernels as
``BaitSampler(distributed=True)`` does: ``F`` summed over the shards, then ``2B`` forward
steps and ``B`` removals. Each forward step is split into

- *rows*: the per-candidate update and gains of the rank's shard
  (``CandidateRows.update``): the sharded part, ∝ rows per rank;
- *global*: ``M⁻¹``, the member state and the rest of ``add``: replicated, ∝ ``D²k``;
- *best*: the rank's own argmax and packing the winner;
- *collectives*: the exchange of (status, gain, index) and the owner's broadcast of the
  winner's factor and blocks, waiting for the slower rank included.

Then it projects from these measurements to more ranks, to 8 GPUs and to a pool of 10M
points (the GPU constants are stated below; they are the first session's H100 figures in
``benchmarks/README.md``, not measured by this script), and says which term dominates.

Run ``python benchmarks/bench_distributed.py`` (about a minute on 2 cores);
``--small`` for a quick run.
"""

import argparse
import datetime
import os
import pickle
import socket
import sys
import tempfile
import time

import numpy as np
import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from skbait._kernels import woodbury  # noqa: E402
from skbait._kernels._numerics import exact_matmul  # noqa: E402
from skbait._kernels.design import pool_fisher, reference_start  # noqa: E402
from skbait._kernels.distributed import (  # noqa: E402
    HEADER, Communicator, communicating, local_part, sharded)
from skbait._kernels.fisher import softmax_factors  # noqa: E402
from skbait._kernels.greedy import greedy  # noqa: E402
from skbait._kernels.memory import trace_state_bytes  # noqa: E402

# --- what the GPU projection assumes (not measured here) -----------------------------------
#: H100, float64, d = 512, k = 10: one greedy step over 1M candidates takes about 35 ms
#: (benchmarks/README.md, bench_gpu.py, first session): the per-row cost.
GPU_ROW_SECONDS = 35e-3 / 1e6
GPU_ROW_SHAPE = (512, 10)
#: The replicated global update reads and writes D × D float64 matrices about five times
#: a step (M⁻¹U, F R', M⁻¹ F R', the rank-k update of M⁻¹); memory-bound at ~3 TB/s.
GPU_BANDWIDTH = 3e12
GLOBAL_PASSES = 5
#: Latency of one small NCCL collective among 8 GPUs of a node (NVLink) and across nodes
#: (InfiniBand): typical published figures, assumed.
NCCL_LATENCY = {"node": 20e-6, "nodes": 50e-6}
GPU_MEMORY = 80 * 2**30


def pool(n, d, k, seed=0):
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(n, d, generator=gen, dtype=torch.float64)
    proba = torch.softmax(torch.randn(n, k, generator=gen, dtype=torch.float64), dim=1)
    return softmax_factors(h, proba)


class Timer:
    def __init__(self):
        self.seconds = {}

    def wrap(self, owner, name, key):
        original = getattr(owner, name)
        timer = self

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                timer.seconds[key] = timer.seconds.get(key, 0.0) + time.perf_counter() - start
        setattr(owner, name, timed)


TIMER = Timer()
IDLE_STEPS = 200


def instrument():
    """Time the per-candidate update, ``add`` and ``remove`` (once per process)."""
    TIMER.wrap(woodbury.CandidateRows, "update", "rows")
    TIMER.wrap(woodbury.DesignState, "add", "add")
    TIMER.wrap(woodbury.TraceState, "remove", "remove")


def run_rank(rank, world, n, d, k, batch):
    """One rank's measurements for a pool of ``n`` rows split evenly over ``world`` ranks."""
    bounds = np.linspace(0, n, world + 1).astype(int)
    factors = pool(n, d, k).rows(slice(bounds[rank], bounds[rank + 1]))
    TIMER.seconds = {}
    comm = Communicator()
    dim = d * k
    labeled = torch.zeros(dim, dim, dtype=torch.float64)
    m0, weight = reference_start(labeled, 0, batch, 1.0)
    with exact_matmul(), communicating(comm):
        comm.set_shard(factors.h.shape[0])
        start = time.perf_counter()
        fisher = pool_fisher(labeled, factors, 0)
        t_fisher = time.perf_counter() - start
        start = time.perf_counter()
        state = sharded(woodbury.TraceState(local_part(factors.scaled(weight)), m0, fisher,
                                            removals=True))
        t_init = time.perf_counter() - start
        TIMER.wrap(state, "best", "best")  # the rank's argmax and the collectives
        stats_before = {key: list(v) for key, v in comm.stats.items()}
        start = time.perf_counter()
        result = greedy(state, batch, 2 * batch)
        t_loop = time.perf_counter() - start
    stats = {key: [v[i] - stats_before.get(key, [0, 0, 0.0])[i] for i in range(3)]
             for key, v in comm.stats.items()}
    # the same two collectives with no compute between them: their latency alone
    payload = torch.zeros(d + 2 * k + 2 * k * k, dtype=torch.float64)
    dist.barrier()
    start = time.perf_counter()
    for _ in range(IDLE_STEPS):
        comm.exchange(0.0, 0.0)
        comm.broadcast(payload, 0)
    idle = (time.perf_counter() - start) / IDLE_STEPS
    return dict(rank=rank, rows=int(factors.h.shape[0]), fisher=t_fisher, init=t_init,
                loop=t_loop, seconds=dict(TIMER.seconds), stats=stats,
                fisher_stats=stats_before, indices=result.indices, idle=idle)


def _worker(rank, world, port, out, configs):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world, timeout=datetime.timedelta(minutes=5))
    instrument()
    results = [run_rank(rank, world, *config) for config in configs]
    dist.destroy_process_group()
    with open(os.path.join(out, f"{world}-{rank}.pkl"), "wb") as f:
        pickle.dump(results, f)


def measure(world, configs):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as out:
        torch.multiprocessing.spawn(_worker, args=(world, port, out, configs), nprocs=world)
        ranks = []
        for rank in range(world):
            with open(os.path.join(out, f"{world}-{rank}.pkl"), "rb") as f:
                ranks.append(pickle.load(f))
    return [[ranks[r][i] for r in range(world)] for i in range(len(configs))]


def per_step(result, batch):
    """ms per forward step of one rank: rows, global, best, collectives (and idle, the
    same collectives without compute); bytes sent."""
    steps = 2 * batch
    s = result["seconds"]
    stats = result["stats"]
    collective = sum(v[2] for key, v in stats.items() if key in ("exchange", "broadcast"))
    sent = sum(v[1] for key, v in stats.items() if key in ("exchange", "broadcast"))
    rows = s.get("rows", 0.0)
    return dict(rows=1e3 * rows / steps, glob=1e3 * (s["add"] - rows) / steps,
                best=1e3 * (s["best"] - collective) / steps, coll=1e3 * collective / steps,
                calls=sum(v[0] for key, v in stats.items() if key in ("exchange", "broadcast"))
                / steps, sent=sent / steps, remove=1e3 * s.get("remove", 0.0) / batch,
                idle=1e3 * result["idle"])


def fmt_bytes(x):
    for unit in ("B", "kB", "MB", "GB"):
        if x < 1000 or unit == "GB":
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="tiny sizes, seconds")
    args = parser.parse_args()
    configs = ([(4000, 16, 4, 10), (16000, 16, 4, 10)] if args.small
               else [(20000, 64, 10, 50), (80000, 64, 10, 50)])
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, gloo over loopback TCP, "
          f"1 thread per rank, float64; load average before {os.getloadavg()[0]:.1f}")
    measured = {world: measure(world, configs) for world in (1, 2)}
    print(f"load average after {os.getloadavg()[0]:.1f}\n")

    print("## Measured: per forward step (rank 0 / rank 1)\n")
    print("| n | d | k | B | ranks | rows per rank | rows ms | global ms | own best ms | "
          "collectives ms | same, idle ms | collectives per step | bytes sent per step "
          "(all ranks) | removal ms | F: reduce + broadcast, once | same batch as 1 rank |")
    print("|" + "---|" * 16)
    for i, (n, d, k, batch) in enumerate(configs):
        for world in (1, 2):
            ranks = measured[world][i]
            steps = [per_step(r, batch) for r in ranks]
            both = lambda key, f="{:.2f}": " / ".join(f.format(s[key]) for s in steps)  # noqa
            fisher = ranks[0]["fisher_stats"]
            f_bytes = sum(v[1] for key, v in fisher.items() if key in ("reduce", "broadcast"))
            f_secs = sum(v[2] for key, v in fisher.items() if key in ("reduce", "broadcast"))
            same = np.array_equal(ranks[0]["indices"], measured[1][i][0]["indices"])
            print(f"| {n:,} | {d} | {k} | {batch} | {world} | {ranks[0]['rows']:,} | "
                  f"{both('rows')} | {both('glob')} | {both('best')} | {both('coll', '{:.3f}')}"
                  f" | {both('idle', '{:.3f}')} | {steps[0]['calls']:.0f} | "
                  f"{fmt_bytes(sum(s['sent'] for s in steps))} | {both('remove')} | "
                  f"{fmt_bytes(f_bytes)} in {1e3 * f_secs:.1f} ms | "
                  f"{'yes' if same else 'NO'} |")

    # --- constants of the projection, from the measurements ------------------------------
    (n1, d, k, batch), (n2, *_) = configs[0], configs[1]
    one = [per_step(measured[1][i][0], batch) for i in (0, 1)]
    row_s = (one[1]["rows"] - one[0]["rows"]) / (n2 - n1) * 1e-3  # seconds per row
    global_s = 1e-3 * (one[0]["glob"] + one[1]["glob"]) / 2
    two = [per_step(r, batch) for r in measured[2][1]]
    latency = 1e-3 * max(s["idle"] for s in two) / 2  # per collective, no compute around
    print(f"\nFrom these: a row costs {1e9 * row_s:.0f} ns per step on one core (d = {d}, "
          f"k = {k}); the replicated global part {1e3 * global_s:.2f} ms per step "
          f"(D = {d * k}); a gloo collective between two processes over loopback "
          f"{1e6 * latency:.0f} µs when idle. In a step, the collectives also wait for the "
          "slower rank.\n")

    print("## Projected: per forward step\n")
    print("| where | n | d | k | devices | rows per device | rows ms | global ms | "
          "collectives ms | bytes per step | per-device memory | dominant term |")
    print("|" + "---|" * 12)

    def row(where, n, d, k, devices, row_cost, glob, lat, memory_limit=None):
        local = -(-n // devices)
        t_rows = 1e3 * row_cost * local
        # two collectives a step; a small one takes ⌈log₂ P⌉ hops of latency (tree)
        t_coll = 1e3 * 2 * lat * int(np.ceil(np.log2(devices))) if devices > 1 else 0.0
        terms = {"rows": t_rows, "global": glob * 1e3, "collectives": t_coll}
        dominant = max(terms, key=terms.get)
        # every rank's exchange, then the owner's broadcast of the winner
        sent = devices * HEADER * 8 + (d + 2 * k + 2 * k * k) * 8 if devices > 1 else 0
        memory = trace_state_bytes(local, d, k, device="cuda" if "GPU" in where else "cpu")
        fits = "" if memory_limit is None or memory <= memory_limit else " (does not fit)"
        print(f"| {where} | {n:,} | {d} | {k} | {devices} | {local:,} | {t_rows:.2f} | "
              f"{1e3 * glob:.3f} | {t_coll:.3f} | {fmt_bytes(sent)} | "
              f"{fmt_bytes(memory)}{fits} | {dominant} |")

    for n, devices in [(n2, 2), (10_000_000, 1), (10_000_000, 8), (10_000_000, 64),
                       (100_000, 64)]:
        row("CPU cores, gloo", n, d, k, devices, row_s, global_s, latency)
    gd, gk = GPU_ROW_SHAPE
    gpu_global = GLOBAL_PASSES * (gd * gk) ** 2 * 8 / GPU_BANDWIDTH
    for n, devices, link in [(1_000_000, 1, "node"), (10_000_000, 1, "node"),
                             (10_000_000, 8, "node"), (10_000_000, 16, "nodes"),
                             (50_000, 8, "node")]:
        where = ("GPU (H100), NCCL" + (" 2 nodes" if link == "nodes" else "")) \
            if devices > 1 else "GPU (H100)"
        # the assumed NCCL figures are per collective among those devices: one "hop"
        row(where, n, gd, gk, devices, GPU_ROW_SECONDS, gpu_global,
            NCCL_LATENCY[link] / int(np.ceil(np.log2(devices))) if devices > 1 else 0.0,
            GPU_MEMORY)
    crossover = global_s / row_s
    print(f"\nThe rows term falls as 1/devices, the global term does not: on these CPU "
          f"cores it dominates below ~{crossover:,.0f} rows per rank (d = {d}, k = {k}); on "
          f"an H100 below ~{gpu_global / GPU_ROW_SECONDS:,.0f} rows per GPU (d = {gd}, "
          f"k = {gk}). Once per select, F (D² = {(gd * gk) ** 2 * 8 / 1e6:.0f} MB at "
          f"D = {gd * gk}) is reduced and broadcast.")


if __name__ == "__main__":
    main()
