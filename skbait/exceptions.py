"""Exceptions skbait raises beyond the built-in ones."""

__all__ = ["DegenerateProblemError", "DistributedError"]


class DegenerateProblemError(FloatingPointError):
    """A selection problem too ill-conditioned for its result to be trusted.

    Raised instead of returning a batch when the exact computation has lost its accuracy:
    a matrix that must be positive definite is not numerically, a score is NaN or
    infinite, or two computations of the same quantity disagree. The usual causes are
    saturated probabilities or features of very large scale together with a tiny
    ``alpha``; the message ends with :attr:`ADVICE`. A subclass of
    :class:`FloatingPointError`, so existing ``except FloatingPointError`` clauses still
    catch it.

    Parameters
    ----------
    what : str
        What went wrong, in a sentence; the advice is appended.

    Examples
    --------
    >>> from skbait.exceptions import DegenerateProblemError
    >>> raise DegenerateProblemError("M is not numerically positive definite.")
    Traceback (most recent call last):
    ...
    skbait.exceptions.DegenerateProblemError: M is not numerically positive definite. The ...
    """

    #: What a user can do about it, appended to every message once.
    ADVICE = (
        "The problem is numerically degenerate (saturated probabilities or features of "
        "very large scale, with a tiny alpha): increase alpha or standardize the features."
    )

    def __init__(self, what):
        super().__init__(f"{what} {self.ADVICE}")
        self.what = what


class DistributedError(RuntimeError):
    """Another rank of a distributed selection failed, or the ranks could not talk.

    With ``distributed=True``, a rank whose own work fails (bad input on its shard, out
    of memory, a numerically degenerate shard) raises that error; every other rank raises
    this one at its next exchange with the others, naming the rank and its error, so
    that no rank waits for ever. It is also raised when a collective itself fails (a rank
    died, the process group's timeout expired) and when the ranks disagree on what must be
    the same everywhere (the labeled set, ``n``).

    Parameters
    ----------
    what : str
        What went wrong, in a sentence.
    failures : dict of int to str, default=None
        For each rank that failed, its error (``"ValueError: ..."``).

    Examples
    --------
    >>> from skbait.exceptions import DistributedError
    >>> raise DistributedError("rank 1 of 2 failed.", {1: "ValueError: NaN in X_pool"})
    Traceback (most recent call last):
    ...
    skbait.exceptions.DistributedError: rank 1 of 2 failed.
    """

    def __init__(self, what, failures=None):
        super().__init__(what)
        self.what = what
        self.failures = dict(failures or {})
