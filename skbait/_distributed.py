"""What ``distributed=True`` does to a sampler's ``fit`` and ``select``.

``fit`` runs the ordinary fit on every rank, then checks that the ranks agree (the same
number of labeled points and features, and fitted states equal up to the rounding of
different machines) and gives every rank rank 0's fitted arrays, so that every rank's
global state starts bit-identical. ``select`` validates its own shard, agrees with the
others on the shards' sizes and on ``n`` (validated against the whole pool), and runs the
sampler's ``_select`` with its kernels on the shard
(:func:`~skbait._kernels.distributed.communicating`). A failure on any rank makes every
rank raise, and leaves every sampler as it was. The machinery is in
:mod:`skbait._kernels.distributed`.
"""

from contextvars import ContextVar

import numpy as np
import torch
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_is_fitted

from ._kernels.distributed import Communicator, _agreed, communicating
from .exceptions import DistributedError
from .utils._validation import check_n, num_rows

#: Largest difference, relative to the largest entry, between a rank's fitted arrays and
#: rank 0's that still counts as one labeled set: fits on different machines round
#: differently, different labeled sets differ at the first digit.
SAME_FIT_RTOL = 1e-6

_LOCAL = ContextVar("skbait_local_fit", default=False)


def wants(sampler):
    """Whether ``sampler``'s ``fit`` / ``select`` are to run distributed here."""
    return bool(getattr(sampler, "distributed", False)) and not _LOCAL.get()


def fit(sampler, X, y):
    """``sampler.fit(X, y)`` on every rank, then the ranks' agreement on the result."""
    sampler._validate_params()  # a bad `distributed` is refused like any parameter
    comm = Communicator()
    with comm.guard():
        token = _LOCAL.set(True)
        try:
            sampler.fit(X, y)
        finally:
            _LOCAL.reset(token)
        template = _first_row(X)
        fingerprint = _fingerprint(X) + _fingerprint(y)[1:]
    try:
        _agree_on_fit(sampler, comm, fingerprint)
    except BaseException:
        _unfit(sampler)
        raise
    # an empty shard evaluates the model on this row (then drops it), to learn the shapes
    sampler._shard_template = template
    return sampler


def select(sampler, X_pool, n):
    """``sampler.select`` on this rank's shard ``X_pool`` of the pool."""
    comm = Communicator()
    before = _fitted_attributes(sampler)
    try:
        with comm.guard():
            check_is_fitted(sampler)
            n = check_n(n, np.iinfo(np.int64).max)  # its type and sign; its size below
            if _is_empty(X_pool):
                n_local, X_eval = 0, _stand_in(sampler, X_pool)
            else:
                X_eval = sampler._validate_pool(X_pool)
                n_local = num_rows(X_eval)
        requested = comm.set_shard(n_local, n)[:, 0]
        if not (requested == n).all():
            raise DistributedError(
                f"The ranks asked for different batch sizes (n = "
                f"{requested.astype(int).tolist()} by rank); pass the same n on every rank."
            )
        n = check_n(n, comm.n_total)  # the same decision on every rank
        with comm.guard():
            with communicating(comm):
                indices, scores = sampler._select(X_eval, n)
            indices = np.asarray(indices, dtype=np.intp)
            if indices.shape != (n,) or len(np.unique(indices)) != n:
                raise RuntimeError(
                    f"{type(sampler).__name__} produced invalid indices {indices}.")
            scores = np.asarray(scores, dtype=float)
        comm.exchange()  # every rank finished: none returns while another raises
    except BaseException:
        _restore(sampler, before)
        raise
    sampler.scores_ = scores
    return indices


def _agree_on_fit(sampler, comm, fingerprint):
    """Check the ranks fitted alike; give every rank rank 0's fitted arrays."""
    prints = comm.exchange(*fingerprint)
    known = np.isfinite(prints).all(axis=0)
    spread = np.abs(prints[:, known] - prints[0, known]).max(initial=0.0)
    if spread > SAME_FIT_RTOL * max(1.0, np.abs(prints[:, known]).max(initial=0.0)):
        raise _agreed(DistributedError(
            "The ranks were given different labeled sets (sums of X and y by rank: "
            f"{prints.tolist()}). Call fit with the same labeled set on every rank."
        ))
    shared = {name: value for name, value in sorted(vars(sampler).items())
              if name.endswith("_") and not name.startswith("_")
              and isinstance(value, np.ndarray) and value.dtype.kind == "f"}
    flat = np.concatenate([value.ravel() for value in shared.values()]) if shared \
        else np.zeros(0)
    table = comm.exchange(sampler.n_labeled_, getattr(sampler, "n_features_in_", -1),
                          flat.size)
    if not (table == table[0]).all():
        raise _agreed(DistributedError(
            "The ranks were fitted on different labeled sets: (labeled points, features, "
            f"size of the fitted state) by rank are {table.astype(int).tolist()}. Call fit "
            "with the same labeled set on every rank."
        ))
    if not flat.size:
        return
    reference = comm.broadcast(torch.from_numpy(flat), 0).numpy()
    scale = max(1.0, float(np.abs(reference).max()))
    differences = comm.exchange(float(np.abs(flat - reference).max()) / scale)[:, 0]
    if (differences > SAME_FIT_RTOL).any():
        raise _agreed(DistributedError(
            "The ranks were fitted on different labeled sets or models: relative "
            f"difference from rank 0's fitted state by rank {differences.tolist()}. Call "
            "fit with the same labeled set, model and random_state on every rank."
        ))
    start = 0
    for name, value in shared.items():
        part = reference[start : start + value.size].reshape(value.shape)
        setattr(sampler, name, part.astype(value.dtype, copy=True))
        start += value.size


def _fingerprint(X):
    """``(Σ x, Σ_i i·x_i)`` of a numeric input (NaN for others): equal inputs, equal sums."""
    try:
        if X is None:
            return (0.0, 0.0)
        if hasattr(X, "tocsr"):  # scipy.sparse
            rows = np.asarray(X.sum(axis=1), dtype=np.float64).ravel()
        else:
            values = np.asarray(X)
            if values.dtype.kind not in "biuf":
                return (np.nan, np.nan)
            values = values.astype(np.float64).reshape(values.shape[0], -1)
            rows = values.sum(axis=1)
        return (float(rows.sum()), float(rows @ np.arange(1, rows.shape[0] + 1)))
    except Exception:  # text, dicts, datasets: not compared
        return (np.nan, np.nan)


def _first_row(X):
    try:
        return _safe_indexing(X, [0])
    except Exception:  # an input scikit-learn cannot index: no stand-in for empty shards
        return None


def _is_empty(X_pool):
    return (hasattr(X_pool, "shape") or hasattr(X_pool, "__len__")) and num_rows(X_pool) == 0


def _stand_in(sampler, X_pool):
    """What an empty shard evaluates its model on: one labeled row (the kernels drop it)."""
    width = getattr(sampler, "n_features_in_", None)
    shape = getattr(X_pool, "shape", None)
    if width is not None and shape is not None and len(shape) == 2 and shape[1] != width:
        raise ValueError(f"X_pool has {shape[1]} features, but {type(sampler).__name__} is "
                         f"expecting {width} features as input.")
    template = getattr(sampler, "_shard_template", None)
    if template is None:
        raise ValueError(
            "This rank's shard of the pool is empty, and the sampler has no labeled row to "
            "learn the model's shapes from: fit it with distributed=True on every rank, "
            "on an input scikit-learn can index."
        )
    return sampler._validate_pool(template)


def _fitted_attributes(sampler):
    return {name: value for name, value in vars(sampler).items()
            if name.endswith("_") and not name.startswith("_")}


def _restore(sampler, before):
    for name in [name for name in _fitted_attributes(sampler) if name not in before]:
        delattr(sampler, name)
    for name, value in before.items():
        setattr(sampler, name, value)


def _unfit(sampler):
    _restore(sampler, {})
    vars(sampler).pop("_shard_template", None)
