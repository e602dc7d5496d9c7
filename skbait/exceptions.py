"""Exceptions skbait raises beyond the built-in ones."""

__all__ = ["DegenerateProblemError"]


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
