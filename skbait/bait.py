"""BAIT: batch selection minimising ``tr(M⁻¹ F)`` on the last layer's Fisher information."""

import time
from numbers import Integral

from ._fisher import FisherSampler
from ._kernels.bait import bait_select_factors
from ._kernels.memory import trace_state_bytes
from .utils._docstring import fill_doc
from .utils._param_validation import Interval, StrOptions


@fill_doc
class BaitSampler(FisherSampler):
    """Batch active learning by Fisher embeddings (BAIT, Ash et al., NeurIPS 2021).

    Chooses the batch whose labels most reduce ``tr(M⁻¹ F)``, where ``F`` is the Fisher
    information of the model's last layer averaged over the labeled set and the pool, and
    ``M`` the regularised Fisher of the labeled set plus the batch. Greedy: ``oversample·n``
    forward additions, then backward removals down to ``n`` (paper, Algorithm 1), computed
    exactly with incremental rank-``k`` updates that never build the ``n × dk × k`` tensor.

    The conventions are those of the authors' reference code, so the same model, data and
    ``alpha`` give the published method's batch: ``F`` averages over labeled and pool
    points, ``M₀ = αI + Σ_L I(x) / (n_L + n)``, each pick adds ``n/(n_L + n) · I(x)``, and
    ties go to the lowest index.

    Parameters
    ----------
    {estimator}
    {embedding}
    alpha : float, default=1.0
        The regulariser λ of ``M₀ = λI + ...``.
    oversample : int, default=2
        Forward picks per returned point before backward pruning (the paper uses 2).
    backward : bool, default=True
        Prune the ``oversample·n`` forward picks back to ``n``. If False, return the first
        ``n`` forward picks (forward-only BAIT).
    fisher : {{"pool", "identity"}}, default="pool"
        ``"pool"`` targets the pool Fisher ``F``; ``"identity"`` uses ``F = I`` (the
        paper's "BAIT without I(θ)" ablation, A-optimal design).
    device : {{"auto", "cpu", "cuda"}} or torch.device, default="auto"
        Where the torch kernels run. ``"auto"`` follows a skorch net's ``device``, and
        otherwise uses CUDA when torch sees a GPU and the CPU if not. Selection state is
        float64 on every device, with TF32 disabled; on CUDA ``M⁻¹`` is recomputed exactly
        every {refresh} updates.
    {prefit}
    chunk_size : int, default=None
        Pool rows processed at once; by default sized from ``d·k²`` so that memory stays
        bounded whatever the pool size.
    verbose : int, default=0
        If positive, ``select`` prints the problem size, the device and the time it took.
    {distributed}

    Attributes
    ----------
    {fitted_attributes}
    labeled_fisher_ : ndarray of shape (D, D)
        ``Σ_L I(x)`` over the labeled set, ``D = d·k`` (cached by ``fit``).
    objective_ : float
        Set by ``select``: ``tr(M⁻¹ F)`` with the chosen batch added to ``M``.
    forward_gains_ : ndarray of shape (n_forward,)
        Set by ``select``: decrease of ``tr(M⁻¹ F)`` at each forward step.
    backward_losses_ : ndarray of shape (n_forward - n,)
        Set by ``select``: increase of ``tr(M⁻¹ F)`` at each backward removal.

    See Also
    --------
    DeterminantalSampler : greedy log-det on the same Fisher factors.

    References
    ----------
    .. [1] J. T. Ash, S. Goel, A. Krishnamurthy, S. Kakade. "Gone Fishing: Neural Active
       Learning with Fisher Embeddings." NeurIPS 2021.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skbait import BaitSampler
    >>> X, y = load_iris(return_X_y=True)
    >>> sampler = BaitSampler(LogisticRegression(), device="cpu").fit(X[::10], y[::10])
    >>> batch = sampler.select(X, 5)
    >>> batch.shape
    (5,)
    """

    _parameter_constraints: dict = {
        **FisherSampler._parameter_constraints,
        "oversample": [Interval(Integral, 1, None, closed="left")],
        "backward": ["boolean"],
        "fisher": [StrOptions({"pool", "identity"})],
        "verbose": ["verbose"],
        "distributed": ["boolean"],
    }

    def __init__(
        self,
        estimator,
        *,
        embedding=None,
        alpha=1.0,
        oversample=2,
        backward=True,
        fisher="pool",
        device="auto",
        prefit=False,
        chunk_size=None,
        verbose=0,
        distributed=False,
    ):
        super().__init__(estimator, embedding=embedding, alpha=alpha, prefit=prefit,
                         device=device, chunk_size=chunk_size)
        self.oversample = oversample
        self.backward = backward
        self.fisher = fisher
        self.verbose = verbose
        self.distributed = distributed

    def _memory_need(self, n_rows, d, k):
        _, what = super()._memory_need(n_rows, d, k)
        return trace_state_bytes(
            n_rows, d, k, device=self.device_, chunk_size=self.chunk_size, fisher=True,
        ), what

    def _select(self, X_pool, n):
        start = time.perf_counter()
        pool = self._point_factors(self._last_layer(X_pool))
        result = bait_select_factors(
            pool, self._tensor(self.labeled_fisher_), self.n_labeled_, n, alpha=self.alpha,
            oversample=self.oversample, backward=self.backward, fisher=self.fisher,
            chunk_size=self.chunk_size,
        )
        if self.verbose:
            n_forward = len(result.forward_gains)
            print(
                f"[BaitSampler] {pool.h.shape[0]} candidates, D={pool.n_params} parameters, "
                f"{n_forward} forward + {n_forward - n} backward steps on {self.device_}: "
                f"{time.perf_counter() - start:.2f} s, tr(M⁻¹F) = {result.objective:.6g}"
            )
        self.objective_ = result.objective
        self.forward_gains_ = result.forward_gains
        self.backward_losses_ = result.backward_losses
        return result.indices, result.scores
