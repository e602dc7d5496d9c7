"""Input checks shared by every sampler."""

import numbers

import numpy as np
import torch
from sklearn.utils import assert_all_finite


def check_n(n, n_pool):
    """Validate the batch size against the pool size.

    Parameters
    ----------
    n : int
        Requested number of points.
    n_pool : int
        Number of candidates in the pool.

    Returns
    -------
    n : int
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be an int, got {type(n).__name__} ({n!r}).")
    if n <= 0:
        raise ValueError(f"n={n} must be a positive number of points to select.")
    if n > n_pool:
        raise ValueError(f"n={n} is larger than the pool, which holds {n_pool} points.")
    return int(n)


def check_finite_input(X):
    """Refuse NaN or infinity in a numeric array or torch tensor given to a model as is.

    Other inputs (DataFrames, dicts, Datasets) are left to the model; what it makes of
    them is checked afterwards.

    Parameters
    ----------
    X : object
        Input about to be passed to the model.
    """
    if isinstance(X, torch.Tensor):
        if X.is_floating_point() and not bool(torch.isfinite(X).all()):
            raise ValueError("Input X contains NaN or infinity.")
    elif isinstance(X, np.ndarray) and X.dtype.kind in "fc":
        assert_all_finite(X, input_name="X")


def num_rows(X):
    """Number of rows of an array, a sparse matrix, a DataFrame, a list or a tensor."""
    return X.shape[0] if hasattr(X, "shape") else len(X)


#: How far a row of predicted probabilities may be from summing to 1 (float32 nets round).
PROBA_TOLERANCE = 1e-4


def check_probabilities(proba, hint):
    """Raise ValueError unless ``proba`` (n, k), a numpy array or a torch tensor on any
    device, holds rows of class probabilities: finite, non-negative, summing to 1.

    Anything else (logits, log-probabilities) would give meaningless picks. ``hint`` says
    what is likely wrong where it came from. Returns ``proba``.
    """
    if isinstance(proba, np.ndarray):  # numpy's reductions: no thread pool to wait for
        finite, sums, lows = np.isfinite(proba).all(), proba.sum(axis=1, dtype=np.float64), \
            proba.min(axis=1)
    else:
        values = torch.as_tensor(proba)
        finite = torch.isfinite(values).all()
        sums, lows = values.sum(dim=1, dtype=torch.float64), values.amin(dim=1)
    if not bool(finite):
        raise ValueError("The predicted probabilities of X contain NaN or infinity.")
    bad = (lows < 0) | (abs(sums - 1) > PROBA_TOLERANCE)
    if not bool(bad.any()):
        return proba
    bad, sums, lows = (np.asarray(torch.as_tensor(v).cpu()) for v in (bad, sums, lows))
    row = int(np.flatnonzero(bad)[0])
    raise ValueError(
        f"The probabilities are not probabilities: row {row} sums to {float(sums[row]):.6g} "
        f"(min {float(lows[row]):.6g}), so they look like logits or "
        f"log-probabilities. {hint}"
    )
