"""
Selecting from a pool sharded across processes, GPUs and machines
=================================================================

With ``distributed=True``, every rank of a ``torch.distributed`` process group holds one
shard of the pool; together they choose the batch one process would choose from the
whole pool. Each rank calls ``fit`` with the same labeled set and ``select`` with its own
shard, and every rank gets the same indices, into the shards concatenated in rank order.
See :doc:`/user_guide/scaling` for what travels between the ranks.

This script is not run when the documentation is built: launch it with ``torchrun``.

Two processes on one machine's CPUs (gloo)::

    torchrun --nproc_per_node=2 examples/distributed_bait.py

Eight GPUs of one node (NCCL; each rank uses the GPU of its ``LOCAL_RANK``)::

    torchrun --nproc_per_node=8 examples/distributed_bait.py --backend nccl

Several machines, here two nodes of eight GPUs: the same command on every node, with its
``--node_rank`` and the address of node 0 (any free port)::

    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=8 \\
        --rdzv_backend=c10d --rdzv_endpoint=node0.example.org:29500 \\
        examples/distributed_bait.py --backend nccl --pool 10000000

``--check`` also selects from the whole pool in one process (on rank 0) and compares.
"""

import argparse
import datetime
import os
import time

import numpy as np
import torch
import torch.distributed as dist
from sklearn.linear_model import LogisticRegression

from skbait import BaitSampler


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--backend", choices=["gloo", "nccl"], default="gloo",
                        help="gloo for CPU processes, nccl between GPUs")
    parser.add_argument("--pool", type=int, default=20_000, help="rows of the whole pool")
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--check", action="store_true",
                        help="compare with one process selecting from the whole pool")
    return parser.parse_args()


def start(backend):
    """Join the process group torchrun describes (or make a group of one without it)."""
    if "RANK" not in os.environ:  # plain `python distributed_bait.py`: one rank
        os.environ.update(RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1",
                          MASTER_PORT=os.environ.get("MASTER_PORT", "29511"))
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend, timeout=datetime.timedelta(minutes=5))
    return dist.get_rank(), dist.get_world_size()


def problem(args):
    """The labeled set and the whole pool, the same on every rank (drawn from one seed).

    In practice each rank loads only its own shard (its files, its part of a dataset);
    only the labeled set must be the same everywhere.
    """
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=3.0, size=(args.classes, args.features))
    y = rng.integers(args.classes, size=args.pool + 10 * args.classes)
    X = centres[y] + rng.normal(size=(len(y), args.features))
    n_labeled = 10 * args.classes
    return X[:n_labeled], y[:n_labeled], X[n_labeled:]


def main():
    args = parse_args()
    rank, world_size = start(args.backend)
    device = "cuda" if args.backend == "nccl" else "cpu"
    X_labeled, y_labeled, X_pool = problem(args)
    # this rank's shard: uneven shards (and empty ones) are fine
    bounds = np.linspace(0, len(X_pool), world_size + 1).astype(int)
    shard = X_pool[bounds[rank] : bounds[rank + 1]]

    sampler = BaitSampler(LogisticRegression(max_iter=1000), device=device, distributed=True)
    sampler.fit(X_labeled, y_labeled)
    tic = time.perf_counter()
    batch = sampler.select(shard, args.batch)
    seconds = time.perf_counter() - tic

    # every rank holds the same batch; the rows this rank owns are the ones it labels
    mine = batch[(batch >= bounds[rank]) & (batch < bounds[rank + 1])] - bounds[rank]
    print(f"rank {rank}/{world_size}: {len(shard)} rows, labels {len(mine)} of the batch "
          f"(its rows {mine.tolist()})", flush=True)
    dist.barrier()
    if rank == 0:
        print(f"batch of {args.batch} from {len(X_pool)} rows on {world_size} ranks in "
              f"{seconds:.2f} s: {batch.tolist()}\ntr(M⁻¹F) = {sampler.objective_:.6g}")
        if args.check:
            alone = BaitSampler(LogisticRegression(max_iter=1000), device=device)
            same = alone.fit(X_labeled, y_labeled).select(X_pool, args.batch)
            relative = abs(alone.objective_ - sampler.objective_) / alone.objective_
            print(f"one process: {'the same batch' if np.array_equal(same, batch) else same}"
                  f", objective differs by {relative:.1e} (relative)")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
