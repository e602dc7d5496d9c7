"""Scenarios of sharded selection, run by every rank of one spawned gloo process group.

``run_job`` starts the ranks once (``torch.multiprocessing``, a free local port, a timeout
on the process group and on the whole job); each rank runs every scenario in turn and
writes what happened (the indices, ``scores_`` and diagnostics, or the error) to a file
per rank, which ``run_job`` reads back. ``tests/test_distributed.py`` asserts on them,
one test per scenario, against ``reference``: one process selecting from the whole pool.

A scenario is ``(sampler, data, shard sizes, n)`` plus, for the failure scenarios, what
goes wrong on which rank. Failures come first in no particular order: each is followed by
further scenarios on the same process group, so none may leave a rank waiting.
"""

import datetime
import os
import pickle
import socket
import time
import traceback

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression, Ridge

import skbait
from skbait import random as random_module
from skbait._kernels import kcenter, sharded, woodbury

WORLD_SIZE = 2
GROUP_TIMEOUT_S = 20  # a collective that waits longer raises: no test hangs for ever
N = 8


def _data(kind):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    if kind == "regression":
        return X[:30], X[:30, 0] + 0.1 * rng.normal(size=30), X[30:]
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.8)
    if kind == "stressed":  # huge binary features, tiny alpha: BAIT recomputes its state
        y = (X[:, 0] + X[:, 1] > 0).astype(int)
        return X[:30] * 1e4, y[:30], X[30:] * 1e4
    if kind == "duplicates":  # every pool row twice: its copy is on the other shard
        return X[:30], y[:30], np.vstack([X[30:115], X[30:115]])
    return X[:30], y[:30], X[30:]


def _sampler(name, distributed):
    model = {"device": "cpu", "distributed": distributed}
    return {
        "bait": lambda: skbait.BaitSampler(LogisticRegression(), **model),
        "bait_forward": lambda: skbait.BaitSampler(LogisticRegression(), backward=False,
                                                   fisher="identity", **model),
        "bait_stressed": lambda: skbait.BaitSampler(LogisticRegression(), alpha=1e-4,
                                                    **model),
        "bait_ridge": lambda: skbait.BaitSampler(Ridge(), **model),
        "logdet": lambda: skbait.DeterminantalSampler(LogisticRegression(), **model),
        "logdet_gradient": lambda: skbait.DeterminantalSampler(
            LogisticRegression(), factor="gradient", **model),
        "badge": lambda: skbait.BadgeSampler(LogisticRegression(), random_state=3, **model),
        "coreset": lambda: skbait.CoresetSampler(**model),
        "coreset_model": lambda: skbait.CoresetSampler(Ridge(), metric="cosine", **model),
        "uncertainty": lambda: skbait.UncertaintySampler(LogisticRegression(),
                                                         method="entropy", **model),
        "random": lambda: skbait.RandomSampler(random_state=5, distributed=distributed),
    }[name]()


def _data_of(name):
    if name.endswith("ridge") or name == "coreset_model":
        return "regression"
    return "duplicates" if name.endswith("ties") else "classification"


#: name: (sampler, data, size of rank 0's shard, n); rank 1 holds the rest of the pool
EQUAL = {}
for _name in ["bait", "logdet", "badge", "coreset", "uncertainty", "random"]:
    EQUAL[f"{_name}_even"] = (_name, "classification", 85, N)
    EQUAL[f"{_name}_uneven"] = (_name, "classification", 3, N)  # n > rank 0's rows
    EQUAL[f"{_name}_empty_first"] = (_name, "classification", 0, N)
    EQUAL[f"{_name}_empty_last"] = (_name, "classification", 170, N)
EQUAL["bait_ties"] = ("bait", "duplicates", 85, N)
EQUAL["logdet_ties"] = ("logdet", "duplicates", 85, N)
EQUAL["bait_forward_uneven"] = ("bait_forward", "classification", 40, N)
EQUAL["bait_stressed_uneven"] = ("bait_stressed", "stressed", 60, N)
EQUAL["bait_ridge_uneven"] = ("bait_ridge", "regression", 100, N)
EQUAL["logdet_gradient_uneven"] = ("logdet_gradient", "classification", 120, N)
EQUAL["coreset_model_uneven"] = ("coreset_model", "regression", 60, N)
EQUAL["badge_whole_pool"] = ("badge", "classification", 100, 170)  # to the uniform draws

#: where a simulated crash strikes on one rank: (owner, attribute, on which call)
CRASHES = {
    "update": (woodbury.CandidateRows, "update", 3),  # BAIT, log-det: mid-greedy
    "kcenter": (kcenter.KCenterState, "add", 3),  # Coreset: mid-greedy
    "check": (sharded, "check_finite", 1),  # BADGE, uncertainty: in their sharded kernel
    "draw": (random_module, "check_random_state", 1),  # Random: at its draw
}

#: name: (sampler, size of rank 0's shard, n, what goes wrong, on which rank)
FAILURES = {
    "bait_bad_shard": ("bait", 85, N, "nan", 1),
    "logdet_bad_shard": ("logdet", 85, N, "nan", 0),
    "badge_bad_shard": ("badge", 3, N, "nan", 0),
    "coreset_bad_shard": ("coreset", 85, N, "nan", 1),
    "uncertainty_bad_shard": ("uncertainty", 85, N, "nan", 1),
    "random_bad_shard": ("random", 85, N, "unsized", 0),
    "bait_out_of_memory": ("bait", 85, N, "memory", 1),
    "bait_crash": ("bait", 85, N, "update", 1),
    "logdet_crash": ("logdet", 85, N, "update", 0),
    "coreset_crash": ("coreset", 85, N, "kcenter", 0),
    "badge_crash": ("badge", 85, N, "check", 1),
    "uncertainty_crash": ("uncertainty", 0, N, "check", 1),
    "random_crash": ("random", 85, N, "draw", 1),
    "fit_fails_on_one_rank": ("logdet", 85, N, "fit_nan", 0),
    "different_labeled_sets": ("badge", 85, N, "other_labels", 1),
    "n_larger_than_the_pool": ("uncertainty", 85, 171, None, None),
    "different_n": ("random", 85, N, "other_n", 1),
}
#: what the failing rank itself raises
OWN_ERROR = {"nan": "ValueError", "unsized": "TypeError", "memory": "MemoryError",
             **{crash: "RuntimeError" for crash in CRASHES}}


def reference(name):
    """What one process selecting from the whole pool returns for scenario ``name``."""
    sampler_name, kind, _, n = EQUAL[name]
    X_lab, y_lab, X_pool = _data(kind)
    sampler = _sampler(sampler_name, False).fit(X_lab, y_lab)
    return _outcome(sampler, sampler.select(X_pool, n))


def _outcome(sampler, indices):
    return {"ok": True, "indices": indices, "scores": sampler.scores_,
            **{key: getattr(sampler, key) for key in
               ("objective_", "forward_gains_", "backward_losses_") if hasattr(sampler, key)}}


def _error(exc):
    return {"ok": False, "type": type(exc).__name__, "message": str(exc),
            "traceback": traceback.format_exc()}


def _equal(rank, name):
    sampler_name, kind, split, n = EQUAL[name]
    X_lab, y_lab, X_pool = _data(kind)
    shard = X_pool[:split] if rank == 0 else X_pool[split:]
    sampler = _sampler(sampler_name, True).fit(X_lab, y_lab)
    return _outcome(sampler, sampler.select(shard, n))


def _failure(rank, name):
    sampler_name, split, n, what, where = FAILURES[name]
    here = rank == where
    X_lab, y_lab, X_pool = _data(_data_of(sampler_name))
    shard = (X_pool[:split] if rank == 0 else X_pool[split:]).copy()
    if what == "fit_nan" and here:
        X_lab = X_lab.copy()
        X_lab[3, 1] = np.nan
    if what == "other_labels" and here:
        X_lab, y_lab = X_lab[::-1] * 2, y_lab[::-1]
    if what == "nan" and here:
        shard[1, 2] = np.nan
    if what == "unsized" and here:
        shard = object()
    if what == "other_n" and here:
        n += 1
    sampler = _sampler(sampler_name, True)
    result = {}
    try:
        sampler.fit(X_lab, y_lab)
        with _fault(what if here else None):
            indices = sampler.select(shard, n)
        result = _outcome(sampler, indices)
    except Exception as exc:
        result = _error(exc)
    result["fitted"] = hasattr(sampler, "n_labeled_")
    result["attributes"] = sorted(k for k in vars(sampler) if k.endswith("_"))
    if result["fitted"] and what in OWN_ERROR:
        # the sampler is left as it was: a second call on good input gives the batch
        clean = X_pool[:split] if rank == 0 else X_pool[split:]
        result["second"] = _outcome(sampler, sampler.select(clean, n))
    return result


class _fault:
    """Make this rank fail in the middle of its work: out of memory, or a crash."""

    def __init__(self, what):
        self.what = what
        self.saved = None

    def __enter__(self):
        if self.what == "memory":
            os.environ["SKBAIT_MEMORY_LIMIT"] = "1000"
        elif self.what in CRASHES:
            owner, name, when = CRASHES[self.what]
            original = getattr(owner, name)
            calls = {"n": 0}

            def crash(*args, **kwargs):
                calls["n"] += 1
                if calls["n"] == when:
                    raise RuntimeError(f"simulated crash in call {when} of {name}")
                return original(*args, **kwargs)

            self.saved = (owner, name, original)
            setattr(owner, name, crash)
        return self

    def __exit__(self, *exc):
        if self.what == "memory":
            del os.environ["SKBAIT_MEMORY_LIMIT"]
        elif self.saved is not None:
            setattr(*self.saved)
        return False


def _worker(rank, world_size, port, directory, names):
    torch.set_num_threads(1)
    torch.distributed.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size,
        timeout=datetime.timedelta(seconds=GROUP_TIMEOUT_S))
    results = {}
    try:
        for name in names:
            start = time.perf_counter()
            if name in FAILURES:
                results[name] = _failure(rank, name)
            else:
                try:
                    results[name] = _equal(rank, name)
                except Exception as exc:
                    results[name] = _error(exc)
            results[name]["seconds"] = time.perf_counter() - start
    finally:
        with open(os.path.join(directory, f"rank{rank}.pkl"), "wb") as f:
            pickle.dump(results, f)
        torch.distributed.destroy_process_group()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_job(directory, names, world_size=WORLD_SIZE, timeout=150):
    """Run ``names`` on ``world_size`` spawned ranks; return one dict of results per rank."""
    ctx = torch.multiprocessing.get_context("spawn")
    port = free_port()
    ranks = [ctx.Process(target=_worker, args=(rank, world_size, port, str(directory), names))
             for rank in range(world_size)]
    for process in ranks:
        process.start()
    deadline = time.monotonic() + timeout
    for process in ranks:
        process.join(max(0.0, deadline - time.monotonic()))
    hung = [rank for rank, process in enumerate(ranks) if process.is_alive()]
    for process in ranks:
        if process.is_alive():
            process.kill()
            process.join()
    if hung:
        raise TimeoutError(f"ranks {hung} were still running after {timeout} s")
    codes = [process.exitcode for process in ranks]
    if any(codes):
        raise RuntimeError(f"the ranks exited with {codes}")
    out = []
    for rank in range(world_size):
        with open(os.path.join(directory, f"rank{rank}.pkl"), "rb") as f:
            out.append(pickle.load(f))
    return out
