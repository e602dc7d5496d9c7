"""Input checks shared by every sampler."""

import numbers


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
