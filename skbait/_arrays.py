"""Arrays in, indices out: each model-based sampler as a function of precomputed arrays.

For users whose model is not a scikit-learn estimator (a plain PyTorch, Lightning, Hugging
Face or JAX model): they compute the penultimate embeddings and the softmax outputs
themselves, and pass them here. Each function takes the keyword parameters of its class
and calls the same kernel entry, so the two pick the same batch; the inputs are checked
the same way.
"""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_random_state

from ._kernels._numerics import exact_matmul
from ._kernels.bait import bait_select_factors
from ._kernels.fisher import binary_factors, fisher_sum, rank_one_factors, softmax_factors
from ._kernels.gradient import gradient_factors, residual
from ._kernels.kcenter import kcenter_greedy, unit_rows
from ._kernels.kmeanspp import kmeanspp_seeding
from ._kernels.logdet import logdet_select_factors
from ._kernels.memory import representation_bytes, trace_state_bytes
from ._kernels.uncertainty import top_n, uncertainty
from .utils._array_checks import (
    array_device,
    as_two_classes,
    check_class_proba,
    check_features,
    check_proba,
)
from .utils._memory import MEMORY_ADVICE, check_memory, describe_design
from .utils._param_validation import Interval, StrOptions, validate_params
from .utils._validation import check_n

_ARRAY = ["array-like", torch.Tensor]
_DEVICE = [StrOptions({"auto", "cpu", "cuda"}), torch.device, str]
_CHUNK = [Interval(Integral, 1, None, closed="left"), None]


@validate_params(
    {
        "features": _ARRAY, "proba": _ARRAY + [None], "n": [Integral],
        "labeled_features": _ARRAY + [None], "labeled_proba": _ARRAY + [None],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "oversample": [Interval(Integral, 1, None, closed="left")],
        "backward": ["boolean"], "fisher": [StrOptions({"pool", "identity"})],
        "device": _DEVICE, "chunk_size": _CHUNK, "return_scores": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def bait_select(features, proba, n, *, labeled_features=None, labeled_proba=None, alpha=1.0,
                oversample=2, backward=True, fisher="pool", device="auto", chunk_size=None,
                return_scores=False):
    """BAIT on arrays: the batch of ``n`` that most reduces ``tr(M⁻¹F)``.

    The same selection as :class:`BaitSampler` on the model the arrays came from, under
    the same (reference) conventions; ties go to the lowest index.

    Parameters
    ----------
    features : array-like or torch.Tensor of shape (n_pool, d)
        The pool's representation ``h(x)``: the input of the model's last linear layer. If
        that layer has a bias, append a constant-1 column (the bias is a last-layer
        parameter); none is added here.
    proba : array-like or torch.Tensor of shape (n_pool, k), (n_pool,) or None
        The model's outputs on the pool, which say which head it has. ``(n_pool, k)``:
        softmax probabilities over ``k`` classes (a last layer of ``k`` rows). ``(n_pool,)``:
        the probability of the positive class of a binary sigmoid head (one weight
        vector, as scikit-learn's binary LogisticRegression). None: a regression head
        (squared loss, any number of outputs; the Fisher is rank one).
    n : int
        Batch size, ``1 <= n <= n_pool``.
    labeled_features : array-like or torch.Tensor of shape (n_labeled, d), default=None
        The labeled set's representation, with the same columns; None when nothing is
        labeled yet.
    labeled_proba : array-like or torch.Tensor, default=None
        The model's outputs on the labeled set, of the same kind as ``proba``.
    alpha : float, default=1.0
        The regulariser λ of ``M₀ = λI + ...``.
    oversample : int, default=2
        Forward picks per returned point before backward pruning.
    backward : bool, default=True
        Prune the forward picks back to ``n``; False returns the first ``n``.
    fisher : {"pool", "identity"}, default="pool"
        The target ``F``: the pool Fisher, or ``I`` (the paper's A-optimal ablation).
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where the kernels run. ``"auto"``: the device of ``features`` when it is a torch
        tensor (a CUDA tensor stays on its GPU), otherwise CUDA when torch sees one.
        Float64 state with TF32 off on every device.
    chunk_size : int, default=None
        Pool rows processed at once; by default sized from ``d·k²``.
    return_scores : bool, default=False
        Also return the forward gain each returned point had when it was chosen.

    Returns
    -------
    indices : ndarray of shape (n,), dtype=np.intp
        Rows of the pool, in the order they were added.
    scores : ndarray of shape (n,)
        Only with ``return_scores=True``.

    See Also
    --------
    BaitSampler : the same selection from a scikit-learn or skorch model.

    Examples
    --------
    >>> import numpy as np
    >>> from skbait import bait_select
    >>> rng = np.random.default_rng(0)
    >>> H = np.hstack([rng.normal(size=(100, 4)), np.ones((100, 1))])  # + a bias column
    >>> P = rng.dirichlet(np.ones(3), size=100)                         # softmax outputs
    >>> bait_select(H[20:], P[20:], 5, labeled_features=H[:20], labeled_proba=P[:20]).shape
    (5,)
    """
    pool, labeled, n_labeled, device = _fisher_problem(
        "bait_select", features, proba, labeled_features, labeled_proba, device, n,
        fisher=True, chunk_size=chunk_size)
    result = bait_select_factors(pool, labeled, n_labeled, n, alpha=alpha,
                                 oversample=oversample, backward=backward, fisher=fisher,
                                 chunk_size=chunk_size)
    return (result.indices, result.scores) if return_scores else result.indices


@validate_params(
    {
        "features": _ARRAY, "proba": _ARRAY + [None], "n": [Integral],
        "labeled_features": _ARRAY + [None], "labeled_proba": _ARRAY + [None],
        "factor": [StrOptions({"fisher", "gradient"})],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "device": _DEVICE, "chunk_size": _CHUNK, "return_scores": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def determinantal_select(features, proba, n, *, labeled_features=None, labeled_proba=None,
                         factor="fisher", alpha=1.0, device="auto", chunk_size=None,
                         return_scores=False):
    """Greedy log-det on arrays: the batch of ``n`` that most increases ``log det M``.

    The same selection as :class:`DeterminantalSampler` on the model the arrays came from.

    Parameters
    ----------
    features, proba, n, labeled_features, labeled_proba
        As for :func:`bait_select`.
    factor : {"fisher", "gradient"}, default="fisher"
        Each point's contribution to ``M``: its Fisher factor (paper, Algorithm 3) or
        its BADGE gradient (Algorithm 2; needs class probabilities).
    alpha, device, chunk_size
        As for :func:`bait_select`.
    return_scores : bool, default=False
        Also return the increase of ``log det M`` at each pick.

    Returns
    -------
    indices : ndarray of shape (n,), dtype=np.intp
    scores : ndarray of shape (n,)
        Only with ``return_scores=True``.

    See Also
    --------
    DeterminantalSampler : the same selection from a scikit-learn or skorch model.

    Examples
    --------
    >>> import numpy as np
    >>> from skbait import determinantal_select
    >>> rng = np.random.default_rng(0)
    >>> H, P = rng.normal(size=(50, 3)), rng.dirichlet(np.ones(4), size=50)
    >>> determinantal_select(H, P, 3, factor="gradient").shape
    (3,)
    """
    if factor == "gradient" and (proba is None or np.ndim(proba) != 2):
        raise ValueError(
            "factor='gradient' needs class probabilities of shape (n_pool, k) (the "
            "hallucinated gradient of a regressor is zero); use factor='fisher'."
        )
    pool, labeled, n_labeled, device = _fisher_problem(
        "determinantal_select", features, proba, labeled_features, labeled_proba, device, n,
        fisher=False, chunk_size=chunk_size, gradient=factor == "gradient")
    indices, gains, _ = logdet_select_factors(pool, labeled, n_labeled, n, alpha=alpha,
                                              chunk_size=chunk_size)
    return (indices, gains) if return_scores else indices


@validate_params(
    {"features": _ARRAY, "proba": _ARRAY, "n": [Integral], "random_state": ["random_state"],
     "device": _DEVICE, "return_scores": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def badge_select(features, proba, n, *, random_state=None, device="auto",
                 return_scores=False):
    """BADGE on arrays: k-means++ seeding on the gradients ``(e_ŷ − p) ⊗ h``.

    The same selection as :class:`BadgeSampler` on the model the arrays came from, for
    the same ``random_state``.

    Parameters
    ----------
    features : array-like or torch.Tensor of shape (n_pool, d)
        As for :func:`bait_select`.
    proba : array-like or torch.Tensor of shape (n_pool, k) or (n_pool,)
        Class probabilities, or the positive-class probability of a sigmoid head.
    n : int
        Batch size, ``1 <= n <= n_pool``.
    random_state : int, RandomState instance or None, default=None
        Seed of the draws.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        As for :func:`bait_select`.
    return_scores : bool, default=False
        Also return the ``D²`` weight each returned point was drawn with.

    Returns
    -------
    indices : ndarray of shape (n,), dtype=np.intp
    scores : ndarray of shape (n,)
        Only with ``return_scores=True``.

    See Also
    --------
    BadgeSampler : the same selection from a scikit-learn or skorch model.

    Examples
    --------
    >>> import numpy as np
    >>> from skbait import badge_select
    >>> rng = np.random.default_rng(0)
    >>> H, P = rng.normal(size=(50, 3)), rng.dirichlet(np.ones(4), size=50)
    >>> badge_select(H, P, 4, random_state=0).shape
    (4,)
    """
    device = array_device(device, features)
    h = check_features(features, "features", device)
    p = check_class_proba(proba, "proba", h.shape[0], device)
    n = check_n(n, h.shape[0])
    _check_fits("badge_select", representation_bytes(*h.shape), device)
    indices, scores = kmeanspp_seeding(residual(p), h, n, check_random_state(random_state))
    return (indices, scores) if return_scores else indices


@validate_params(
    {"features": _ARRAY, "n": [Integral], "labeled_features": _ARRAY,
     "metric": [StrOptions({"euclidean", "cosine"})], "device": _DEVICE,
     "chunk_size": _CHUNK, "return_scores": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def coreset_select(features, n, *, labeled_features, metric="euclidean", device="auto",
                   chunk_size=None, return_scores=False):
    """Greedy k-center on arrays, starting from the labeled points.

    The same selection as :class:`CoresetSampler` on the same representation.

    Parameters
    ----------
    features : array-like or torch.Tensor of shape (n_pool, d)
        The pool's representation (no bias column is needed: it does not move distances).
    n : int
        Batch size, ``1 <= n <= n_pool``.
    labeled_features : array-like or torch.Tensor of shape (n_labeled, d)
        The labeled set's representation: the first centres, at least one.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between representations; ``"cosine"`` is ``1 − cos`` and needs nonzero
        rows.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        As for :func:`bait_select`.
    chunk_size : int, default=None
        Pool rows processed at once.
    return_scores : bool, default=False
        Also return each pick's distance (in ``metric``) to its nearest centre.

    Returns
    -------
    indices : ndarray of shape (n,), dtype=np.intp
    scores : ndarray of shape (n,)
        Only with ``return_scores=True``.

    See Also
    --------
    CoresetSampler : the same selection from a model's representation or from ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from skbait import coreset_select
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 0.0], [0.0, 3.0], [4.0, 4.0]])
    >>> coreset_select(X, 2, labeled_features=X[:1])
    array([4, 2])
    """
    device = array_device(device, features)
    pool = check_features(features, "features", device)
    labeled = check_features(labeled_features, "labeled_features", device, width=pool.shape[1])
    if labeled.shape[0] == 0:
        raise ValueError("coreset_select needs at least one labeled point (the first "
                         "centre); pick the first batch with RandomSampler.")
    n = check_n(n, pool.shape[0])
    _check_fits("coreset_select", representation_bytes(*pool.shape), device)
    if metric == "cosine":
        pool, labeled = unit_rows(pool, "features"), unit_rows(labeled, "labeled_features")
    indices, sq_distances = kcenter_greedy(pool, labeled, n, chunk_size=chunk_size)
    if not return_scores:
        return indices
    return indices, (sq_distances / 2 if metric == "cosine" else np.sqrt(sq_distances))


@validate_params(
    {"proba": _ARRAY, "n": [Integral],
     "method": [StrOptions({"least_confident", "margin", "entropy"})], "device": _DEVICE,
     "return_scores": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def uncertainty_select(proba, n, *, method="least_confident", device="auto",
                       return_scores=False):
    """Uncertainty sampling on arrays: the ``n`` most uncertain points.

    The same selection as :class:`UncertaintySampler` on the model the outputs came from.

    Parameters
    ----------
    proba : array-like or torch.Tensor of shape (n_pool, k) or (n_pool,)
        Class probabilities, or the positive-class probability of a sigmoid head.
    n : int
        Batch size, ``1 <= n <= n_pool``.
    method : {"least_confident", "margin", "entropy"}, default="least_confident"
        As for :class:`UncertaintySampler`.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        As for :func:`bait_select` (``"auto"`` follows ``proba``).
    return_scores : bool, default=False
        Also return the uncertainty of each returned point.

    Returns
    -------
    indices : ndarray of shape (n,), dtype=np.intp
    scores : ndarray of shape (n,)
        Only with ``return_scores=True``.

    See Also
    --------
    UncertaintySampler : the same selection from a classifier.

    Examples
    --------
    >>> import numpy as np
    >>> from skbait import uncertainty_select
    >>> uncertainty_select(np.array([[0.9, 0.1], [0.5, 0.5], [0.7, 0.3]]), 1)
    array([1])
    """
    device = array_device(device, proba)
    p = check_class_proba(proba, "proba", None, device)
    n = check_n(n, p.shape[0])
    indices, scores = top_n(uncertainty(p, method), n)
    return (indices, scores) if return_scores else indices


# -- from checked arrays to the kernels' inputs -------------------------------------

def _factors(h, p, gradient=False):
    if gradient:
        return gradient_factors(h, as_two_classes(p))
    if p is None:
        return rank_one_factors(h)
    if p.dim() == 1:
        return binary_factors(h, p)
    return softmax_factors(h, p)


def _fisher_problem(name, features, proba, labeled_features, labeled_proba, device, n, *,
                    fisher, chunk_size, gradient=False):
    """Checked pool factors, ``Σ_L V_x V_xᵀ`` and ``n_L`` on the chosen device."""
    device = array_device(device, features)
    h = check_features(features, "features", device)
    p = None if proba is None else check_proba(proba, "proba", h.shape[0], device)
    n = check_n(n, h.shape[0])
    if labeled_features is None and labeled_proba is not None:
        raise ValueError("labeled_proba was given without labeled_features.")
    if labeled_features is not None and (labeled_proba is None) != (proba is None):
        raise ValueError("labeled_proba must be given exactly when proba is (both None for "
                         "a regression head).")
    pool = _factors(h, p, gradient)
    k = pool.s.shape[1]
    needed = trace_state_bytes(h.shape[0], h.shape[1], k, device=device, chunk_size=chunk_size,
                               fisher=fisher)
    _check_fits(name, needed, device, d=h.shape[1], k=k)
    labeled, n_labeled = torch.zeros((pool.n_params,) * 2, dtype=torch.float64,
                                     device=device), 0
    if labeled_features is not None:
        h_lab = check_features(labeled_features, "labeled_features", device, width=h.shape[1])
        p_lab = None if labeled_proba is None else check_proba(
            labeled_proba, "labeled_proba", h_lab.shape[0], device)
        if p is not None and p_lab.dim() != p.dim() or (
                p is not None and p.dim() == 2 and p_lab.shape[1] != p.shape[1]):
            raise ValueError(f"labeled_proba has shape {tuple(p_lab.shape)} but proba has "
                             f"{tuple(p.shape)}: they must be outputs of the same head.")
        with exact_matmul():
            labeled = fisher_sum(_factors(h_lab, p_lab, gradient), chunk_size=chunk_size)
        n_labeled = h_lab.shape[0]
    return pool, labeled, n_labeled, device


def _check_fits(name, needed, device, *, d=None, k=None):
    what = name if d is None else describe_design(f"{name} with d={d}, k={k}", d, k)
    check_memory(needed, device, what, MEMORY_ADVICE)
