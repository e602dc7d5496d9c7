"""numba, when it imports, and the one way every kernel of the fused path is compiled."""

try:  # numba is optional: without it the callers keep the eager torch path
    import numba
except Exception as exc:  # pragma: no cover - missing, or built for another numpy
    numba = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None

#: ``cache``: compiled once per machine, then loaded from numba's on-disk cache;
#: ``nogil``: the pass's threads are Python threads; ``error_model="numpy"``: a division by
#: zero gives inf or NaN, as in numpy, which the callers check, instead of raising inside
#: the loops (which would also keep them from being vectorised). No ``fastmath``: without
#: contraction into FMA and without reassociation, every entry gets the same IEEE
#: operations on every x86 machine.
OPTIONS = {"cache": True, "nogil": True, "boundscheck": False, "error_model": "numpy"}


def jit(function):
    """``function`` compiled by numba with :data:`OPTIONS` on its first call or
    ``compile()``; without numba, ``function`` itself (the fused path is then unavailable
    and it is never called)."""
    return function if numba is None else numba.njit(**OPTIONS)(function)
