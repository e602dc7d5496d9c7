"""Greedy forward/backward minimisation of ``tr(M⁻¹ F)`` (BAIT), exact and incremental.

For every candidate ``x`` the state keeps two ``k × k`` matrices,
``P_x = Ṽ_xᵀ M⁻¹ Ṽ_x`` and ``Q_x = Ṽ_xᵀ M⁻¹ F M⁻¹ Ṽ_x``. Adding ``Ṽ_x`` to ``M`` lowers the
trace by ``tr((I + P_x)⁻¹ Q_x)``; removing it raises the trace by ``tr((I − P_x)⁻¹ Q_x)``.
A pick (or removal) with factor ``U`` is a rank-``k`` Woodbury update of ``M⁻¹`` and of every
``P_x, Q_x`` (design note, section 3), costing ``O(n d k² + n k³ + D² k)`` per step. ``P_x`` and
``Q_x`` sit side by side in one ``n × k × 2k`` tensor so that a single batched product updates
both; ``Q_x`` is held only up to its symmetric part, which is all the gains read. On a CPU the
gains come from an elimination vectorised across candidates (:func:`trace_solve_planes`),
since LAPACK's batched routines handle small matrices one call at a time.

For the candidates already in ``M`` (the members) the removal score is not computed from
``I − P_x``: when ``x`` dominates a direction of ``M`` (large features, small ``alpha``),
``I − P_x = (I + P̂_x)⁻¹`` is tiny and ``P_x`` only holds it to an absolute error of
``eps·‖P̂_x‖``, so the score loses all its digits (it even turns negative). The state keeps
instead ``P̂_x = Ṽ_xᵀ M₋ₓ⁻¹ Ṽ_x`` and ``Q̂_x = Ṽ_xᵀ M₋ₓ⁻¹ F M₋ₓ⁻¹ Ṽ_x`` relative to
``M₋ₓ = M − Ṽ_x Ṽ_xᵀ`` (their values when ``x`` was picked, then updated), and the removal
score is ``tr((I + P̂_x)⁻¹ Q̂_x)``, the forward gain of putting ``x`` back.
"""

from typing import NamedTuple

import numpy as np
import torch

from ._numerics import checked_argmax, chunk_rows
from .fisher import apply_c_, apply_ct_, quad_forms

# Recompute M⁻¹, P_x, Q_x once the best forward gain has fallen below this fraction of the
# best gain when they were last computed: past that the incremental values have lost too
# many digits to cancellation (see TraceState.recompute).
_RECOMPUTE_DROP = 1e-6
# A removal whose score and actual change of tr(M⁻¹F) differ by more than this fraction
# reveals a state that has lost its accuracy (see _check_consistent).
_CONSISTENCY = 1e-2
# Largest k for which trace_solve_planes beats LAPACK's batched solvers on a CPU
# (benchmarks/micro_gpu_solvers.py cpu: ahead up to k = 24, behind from k = 32).
_LDL_MAX_K = 24
_TRANSPOSE_ROWS = 512


class TraceState:
    """``M⁻¹`` and the per-candidate ``P_x`` (and ``Q_x``) under rank-``k`` updates.

    Parameters
    ----------
    pool : Factors
        Candidate factors ``Ṽ_x`` (already scaled by the weight a pick adds to ``M``).
    m0 : torch.Tensor of shape (D, D)
        Starting matrix ``M₀`` (symmetric positive definite).
    fisher : torch.Tensor of shape (D, D) or None
        ``F``. When None only ``P_x`` is tracked (enough for log-det objectives).
    chunk_size : int, default=None
        Rows per chunk; by default sized from ``d·k²`` and the device.
    refresh_every : int, default=None
        Recompute ``M⁻¹`` exactly from ``M`` after this many updates (bounds the drift of
        chained Woodbury updates on a GPU). None never refreshes.
    removals : bool, default=True
        Keep the member state that removals are scored from (see the module docstring);
        a forward-only greedy skips that work.
    """

    def __init__(self, pool, m0, fisher=None, *, chunk_size=None, refresh_every=None,
                 removals=True):
        self.pool = pool
        self.fisher = fisher
        self.refresh_every = refresh_every
        self.removals = removals
        self.m0 = m0
        self.m = m0.clone() if refresh_every else None
        self.minv = _spd_inverse(m0)
        self.n_updates = 0
        self._buffer = None
        self._planes = None
        d, k = pool.h.shape[1], pool.s.shape[1]
        self.k = k
        self.eye = torch.eye(k, dtype=m0.dtype, device=m0.device)
        self.step = chunk_rows(
            pool.h.shape[0], 6 * k * k + d, device=m0.device, dtype=m0.dtype,
            chunk_size=chunk_size,
        )
        self.chunk_size = chunk_size
        # rows in M, and their P̂_x, Q̂_x relative to M without them (see the module docstring)
        self.members = []
        self._member_rows = torch.zeros(0, dtype=torch.long, device=m0.device)
        self.recompute()
        self.p_hat = self.p.new_empty((0, k, k))
        self.q_hat = None if self.q is None else self.q.new_empty((0, k, k))

    def recompute(self):
        """``M⁻¹`` from ``M``, then ``P_x`` (and ``Q_x``) of every candidate from ``M⁻¹``.

        The incremental updates hold ``M⁻¹, P_x, Q_x`` to an absolute error proportional to
        their largest past values; once the gains have fallen by many orders of magnitude
        (huge features with a tiny ``alpha``), recomputing them restores their accuracy.
        """
        self.rebuild_minv()
        if self.fisher is None:
            self.p = quad_forms(self.pool, [self.minv], chunk_size=self.chunk_size)
            self.q = None
        else:
            b = self.minv @ self.fisher @ self.minv
            # P_x and Q_x side by side, so that one batched product updates both
            self.pq = quad_forms(
                self.pool, [self.minv, _symmetric(b)], chunk_size=self.chunk_size
            )
            self.p, self.q = self.pq[:, :, :self.k], self.pq[:, :, self.k:]

    def rebuild_minv(self):
        """``M⁻¹`` refactored from ``M = M₀ + Σ Ṽ_x Ṽ_xᵀ`` (members), ending its drift."""
        if self.members:
            factors = torch.cat([self.pool.dense(j) for j in self.members], dim=1)
            self.minv = _spd_inverse(torch.addmm(self.m0, factors, factors.T))

    def _row_blocks(self):
        for start in range(0, self.pool.h.shape[0], self.step):
            yield slice(start, start + self.step)

    def update(self, index, sign, candidates=True):
        """Add (``sign=+1``) or remove (``sign=-1``) candidate ``index`` from ``M``.

        With ``candidates=False`` only ``M⁻¹`` and the member state follow (the candidates'
        ``P_x, Q_x`` are not needed any more). Otherwise every candidate's state is updated
        and :meth:`forward_gains` is returned, computed while each chunk is still in cache
        (None when only ``P_x`` is tracked).
        """
        d = self.pool.h.shape[1]
        factor = self.pool.dense(index)  # U: D × k
        r = self.minv @ factor
        # M⁻¹ ← M⁻¹ − R A⁻¹ Rᵀ with A = UᵀR + sign·I, definite of the sign of the update:
        # write sign·A⁻¹ = G Gᵀ and R' = R G, so that M⁻¹ ← M⁻¹ − sign·R' R'ᵀ.
        if sign > 0:
            r = r @ _cholesky_of_inverse(factor.T @ r + self.eye)
            new_member = None
            if self.removals:
                new_member = (self.p[index].clone(),
                              None if self.q is None else _symmetric(self.q[index]))
        else:
            # −A⁻¹ = (I − UᵀM⁻¹U)⁻¹ = I + P̂: from the member state, not from a cancellation
            pos = self.members.index(index)
            r = r @ _cholesky(self.eye + self.p_hat[pos])
            keep = [i for i in range(len(self.members)) if i != pos]
            self._set_members([self.members[i] for i in keep], keep)
        w_mat = None
        if self.q is None:
            both = r
        else:
            # Q ← Q − sign(a zᵀ + z aᵀ) + a W aᵀ == Q − sign(a eᵀ + e aᵀ), e = z − ½ sign a W,
            # with a = ṼᵀR', z = ṼᵀM⁻¹FR', W = R'ᵀFR'; both a and e come from one GEMM.
            fr = self.fisher @ r
            w_mat = r.T @ fr
            e_mat = self.minv @ fr - (0.5 * sign) * (r @ w_mat)
            both = torch.cat([r, e_mat], dim=1)
        changes = None if self.q is None or not candidates else self._empty()
        if candidates:
            self._update_candidates(both, sign, changes)
        if self.removals:
            self._update_members(both.reshape(d, -1), sign, w_mat)
        if sign > 0:
            self._set_members(self.members + [index], None, new_member)
        self.minv.addmm_(r, r.T, alpha=-sign)
        if self.n_updates % 16 == 15:
            self.minv = _symmetric(self.minv)
        self.n_updates += 1
        if self.m is not None:
            self.m.addmm_(factor, factor.T, alpha=sign)
            if self.n_updates % self.refresh_every == 0:
                self.minv = _spd_inverse(self.m)
        return changes

    def _update_candidates(self, both, sign, changes):
        """Rank-``k`` update of every candidate's ``P_x`` (and ``Q_x``), chunk by chunk.

        ``both`` is ``R'`` (``D × k``) or ``[R' | E]`` (``D × 2k``). One GEMM gives each
        candidate ``G_x = [aᵀ | 2eᵀ]`` with ``a = Ṽ_xᵀR'`` and ``e = Ṽ_xᵀE``, and one
        batched product lowers ``[P_x | Q_x]`` by ``sign·a G_x``: ``P_x`` by ``sign·a aᵀ``
        and ``Q_x`` by ``2 sign·a eᵀ``, whose symmetric part is the exact change
        ``sign(a eᵀ + e aᵀ)``. ``Q_x`` is left unsymmetrised: only ``tr((I + P_x)⁻¹ Q_x)``
        reads it, and that trace sees only its symmetric part.
        """
        h, s, u = self.pool
        d, k = h.shape[1], self.k
        halves = both.shape[1] // k
        if halves == 2:
            both = torch.cat([both[:, :k], 2 * both[:, k:]], dim=1)
        # columns ordered (column of R', half, output) so that row c of G_x comes out whole
        right = both.reshape(d, k, halves, k).permute(0, 3, 2, 1).reshape(d, -1)
        state = self.p if self.q is None else self.pq
        for block in self._row_blocks():
            hb = h[block]
            # a reused workspace: fresh multi-megabyte tensors every step cost page faults
            g = self._workspace(hb.shape[0] * k * halves * k).view(-1, k, halves * k)
            torch.matmul(hb, right, out=g.view(hb.shape[0], -1))
            apply_c_(s[block], u[block], g.view(-1, halves * k, k))
            rows = state[block]
            rows.baddbmm_(g[:, :, :k].transpose(1, 2), g, alpha=-sign)
            if changes is not None:
                changes[block] = self._gain(rows)

    def forward_gains(self):
        """``tr((I + P_x)⁻¹ Q_x)`` per candidate: the decrease of ``tr(M⁻¹F)`` if it were added."""
        out = self._empty()
        for block in self._row_blocks():
            out[block] = self._gain(self.pq[block])
        return out

    def removal_increase(self):
        """Members (ascending) and the increase of ``tr(M⁻¹F)`` if each were removed.

        The increase is ``tr((I + P̂_x)⁻¹ Q̂_x)``, computed from the member state (see the
        module docstring) rather than as ``tr((I − P_x)⁻¹ Q_x)``.
        """
        order = sorted(range(len(self.members)), key=self.members.__getitem__)
        device = self.minv.device
        rows = torch.tensor([self.members[i] for i in order], device=device, dtype=torch.long)
        pos = torch.tensor(order, device=device, dtype=torch.long)
        return rows, self._gain(torch.cat([self.p_hat[pos], self.q_hat[pos]], dim=2))

    def _set_members(self, members, keep, new=None):
        """Keep the member state at positions ``keep`` (None: all), then append ``new``.

        The member rows live on the device too; an addition extends them without a
        host-to-device copy, which would synchronise a GPU at every step.
        """
        self.members = members
        if keep is not None:
            self.p_hat = self.p_hat[keep]
            if self.q_hat is not None:
                self.q_hat = self.q_hat[keep]
            self._member_rows = self._member_rows[keep]
        else:
            added = torch.full((1,), members[-1], dtype=torch.long, device=self.minv.device)
            self._member_rows = torch.cat([self._member_rows, added])
        if new is not None:
            self.p_hat = torch.cat([self.p_hat, new[0][None]])
            if self.q_hat is not None:
                self.q_hat = torch.cat([self.q_hat, new[1][None]])

    def _update_members(self, both, sign, w_mat):
        """Rank-``k`` update of ``P̂_x, Q̂_x`` (relative to ``M₋ₓ``) for every member ``x``.

        With ``Γ = I + P̂_x = (I − P_x)⁻¹``, ``M₋ₓ⁻¹ = M⁻¹ + M⁻¹Ṽ_x Γ Ṽ_xᵀM⁻¹``, so the
        quantities of the update seen from ``M₋ₓ`` follow from those seen from ``M``
        (``a = Ṽ_xᵀR'``, ``z = Ṽ_xᵀM⁻¹FR'``, ``W = R'ᵀFR'``): ``â = Γa``,
        ``Â = sign·I + aᵀΓa``, ``ẑ = Γz + Q̂a``, ``Ŵ = W + zᵀâ + âᵀz + aᵀQ̂a``; then the same
        Woodbury update as for ``P_x, Q_x``, with ``Â`` in place of ``sign·I``.
        """
        if not self.members:
            return
        k = self.k
        h, s, u = self.pool.rows(self._member_rows)
        proj = apply_ct_(s, u, (h @ both).reshape(len(self.members), k, -1))
        a = proj[:, :, :k]
        gamma = self.eye + self.p_hat
        a_hat = gamma @ a
        big_a = sign * self.eye + a.transpose(1, 2) @ a_hat
        b_hat = torch.linalg.solve_ex(_symmetric(big_a), a_hat.transpose(1, 2))[0]
        b_hat = b_hat.transpose(1, 2)  # â Â⁻¹
        p_hat = self.p_hat - b_hat @ a_hat.transpose(1, 2)
        self.p_hat = _symmetric(p_hat)
        if self.q_hat is None:
            return
        z = proj[:, :, k:] + (0.5 * sign) * (a @ w_mat)
        qa = self.q_hat @ a
        z_hat = gamma @ z + qa
        za = z.transpose(1, 2) @ a_hat
        w_hat = w_mat + za + za.transpose(1, 2) + a.transpose(1, 2) @ qa
        e_hat = z_hat - 0.5 * b_hat @ w_hat
        cross = b_hat @ e_hat.transpose(1, 2)
        self.q_hat = self.q_hat - cross - cross.transpose(1, 2)

    def _workspace(self, size):
        if self._buffer is None or self._buffer.numel() < size:
            self._buffer = torch.empty(size, dtype=self.minv.dtype, device=self.minv.device)
        return self._buffer[:size]

    def _empty(self):
        return torch.empty(self.pool.h.shape[0], dtype=self.minv.dtype, device=self.minv.device)

    def _gain(self, pq):
        """``tr((I + P)⁻¹ Q)`` for a batch ``[P | Q]`` of symmetric PSD ``P`` and square ``Q``.

        Only the symmetric part of ``Q`` counts, since ``(I + P)⁻¹`` is symmetric.
        """
        k = self.k
        if k == 1:
            return pq[:, 0, 1] / (1.0 + pq[:, 0, 0])
        p, q = pq[:, :, :k], pq[:, :, k:]
        route = gain_route(pq.device, k)
        if route == "planes":
            if self._planes is None or self._planes.shape[2] < pq.shape[0]:
                self._planes = pq.new_empty((k, 2 * k, pq.shape[0]))
            return trace_solve_planes(pq, self._planes[:, :, : pq.shape[0]])
        if route == "solve":
            solved = torch.linalg.solve_ex(torch.add(self.eye, p), q)[0]
            return solved.diagonal(dim1=1, dim2=2).sum(1)
        if route == "cholesky":  # I + P is positive definite
            inv = torch.cholesky_inverse(torch.linalg.cholesky_ex(torch.add(self.eye, p))[0])
        else:
            inv = torch.linalg.inv_ex(torch.add(self.eye, p))[0]
        return (inv * q).sum((1, 2))

    def objective(self):
        """``tr(M⁻¹ F)`` for the current ``M``."""
        value = float(torch.dot(self.minv.reshape(-1), self.fisher.reshape(-1)))  # F = Fᵀ
        if not np.isfinite(value):
            raise FloatingPointError(
                f"tr(M⁻¹F) = {value}: M⁻¹ lost precision. Increase alpha or rescale the "
                "features."
            )
        return value


class BaitResult(NamedTuple):
    """Outcome of :func:`bait_greedy`.

    Attributes
    ----------
    indices : ndarray of int
        Chosen rows of the pool, in the order they were added.
    scores : ndarray of float
        Forward gain each returned row had when it was added.
    forward_gains : ndarray of float
        Decrease of ``tr(M⁻¹F)`` at each forward step.
    backward_losses : ndarray of float
        Increase of ``tr(M⁻¹F)`` at each backward (removal) step.
    objective : float
        ``tr(M⁻¹F)`` with the returned batch added.
    """

    indices: np.ndarray
    scores: np.ndarray
    forward_gains: np.ndarray
    backward_losses: np.ndarray
    objective: float


def bait_greedy(pool, fisher, m0, n_select, n_forward, *, chunk_size=None, refresh_every=None):
    """Choose ``n_select`` rows of ``pool`` minimising ``tr(M⁻¹ F)``: forward then backward.

    Parameters
    ----------
    pool : Factors
        Candidate factors ``Ṽ_x``, already scaled by the weight a pick adds to ``M``.
    fisher : torch.Tensor of shape (D, D)
        Target Fisher ``F`` (or the identity for the A-optimal variant).
    m0 : torch.Tensor of shape (D, D)
        ``M₀``: the regulariser plus what the labeled set contributes.
    n_select : int
        Rows to return.
    n_forward : int
        Forward steps (``≥ n_select``); the surplus is pruned greedily.
    chunk_size, refresh_every : see :class:`TraceState`.

    Returns
    -------
    BaitResult
        Ties go to the lowest index. A NaN or infinite score raises FloatingPointError.
    """
    state = TraceState(pool, m0, fisher, chunk_size=chunk_size, refresh_every=refresh_every,
                       removals=n_forward > n_select)
    n = pool.h.shape[0]
    chosen = torch.zeros(n, dtype=torch.bool, device=pool.h.device)
    order, gains = [], []
    g = state.forward_gains()
    start = state.objective()
    scale = None  # best gain when P_x, Q_x were last computed from scratch
    for step in range(n_forward):
        j, gain = checked_argmax(g, ~chosen, "BAIT forward gain")
        if scale is None:
            scale = abs(gain)
        elif gain < _RECOMPUTE_DROP * scale:
            state.recompute()
            g = state.forward_gains()
            j, gain = checked_argmax(g, ~chosen, "BAIT forward gain")
            scale = abs(gain)
        order.append(j)
        gains.append(gain)
        chosen[j] = True
        if step + 1 < n_forward:
            g = state.update(j, +1)
        else:  # the last pick only matters to M⁻¹ and to the members' state
            state.update(j, +1, candidates=False)
    kept = dict(zip(order, gains))
    losses = []
    objective = state.objective() if n_forward > n_select else None
    for _ in range(n_forward - n_select):
        candidates, increase = state.removal_increase()
        # removal costs the least increase: the argmax of its negation
        pos, loss = checked_argmax(-increase, torch.ones_like(candidates, dtype=torch.bool),
                                   "BAIT backward loss")
        losses.append(-loss)
        removed = int(candidates[pos])
        del kept[removed]
        state.update(removed, -1, candidates=False)
        before, objective = objective, state.objective()
        _check_consistent(losses[-1], objective - before, before, removed)
    objective = state.objective() if objective is None else objective
    if objective * _RECOMPUTE_DROP**0.5 < start:  # digits lost to cancellation: refactor M
        state.rebuild_minv()
        objective = state.objective()
    indices = np.array([j for j in order if j in kept], dtype=np.intp)
    return BaitResult(
        indices=indices,
        scores=np.array([kept[j] for j in indices], dtype=float),
        forward_gains=np.array(gains, dtype=float),
        backward_losses=np.array(losses, dtype=float),
        objective=objective,
    )


def _check_consistent(score, change, before, index):
    """Raise if a removal's score and the change of ``tr(M⁻¹F)`` it caused disagree.

    They are two computations of the same number, one from the member state and one from
    ``M⁻¹``; far apart, the state has lost its accuracy and the batch is not to be trusted.
    """
    if abs(score - change) > _CONSISTENCY * max(before, before + change, abs(score)):
        raise FloatingPointError(
            f"BAIT lost its numerical accuracy: removing candidate {index} changed "
            f"tr(M⁻¹F) by {change:.6g} but its score predicted {score:.6g}. The problem is "
            "numerically degenerate (features of very large scale, or saturated "
            "probabilities, with a tiny alpha). Increase alpha or standardize the features."
        )


def gain_route(device, k):
    """How the ``k × k`` gains are computed on ``device``: the fastest exact route measured.

    ``"planes"``: :func:`trace_solve_planes` (CPU, ``k ≤ 24``); ``"solve"``: batched LU
    solve (CPU, larger ``k``); ``"cholesky"`` or ``"inverse"``: batched Cholesky or LU
    inverse (CUDA, ``k > 16`` or not). See ``benchmarks/micro_gpu_solvers.py``.
    """
    if torch.device(device).type == "cpu":
        return "planes" if k <= _LDL_MAX_K else "solve"
    return "cholesky" if k > 16 else "inverse"


def trace_solve_planes(pq, planes):
    """``tr((I + P_x)⁻¹ Q_x)`` for every ``x`` by a symmetric elimination, batch innermost.

    LAPACK factors small matrices one call at a time (about 1 µs each for ``k = 10`` on a
    CPU, most of a BAIT step); with the batch as the innermost axis the elimination is
    ``O(k)`` vectorised operations instead. Writing ``I + P = L D Lᵀ`` (``L`` unit lower
    triangular), ``tr((I + P)⁻¹ Q) = Σ_j (L⁻¹ Q L⁻ᵀ)_jj / D_j``: both matrices are reduced
    by the same congruence. The pivots ``D_j`` are Schur complements of ``I + P ⪰ I``, so
    they are ≥ 1 and no pivoting is needed.

    Parameters
    ----------
    pq : torch.Tensor of shape (n, k, 2k)
        ``[P_x | Q_x]``, with ``P_x`` symmetric positive semi-definite.
    planes : torch.Tensor of shape (k, 2k, n)
        Workspace, overwritten.

    Returns
    -------
    torch.Tensor of shape (n,)
    """
    k = pq.shape[1]
    a, b = planes[:, :k], planes[:, k:]
    _to_planes(pq, planes)
    _eliminate_(a, b)
    return (b.diagonal(dim1=0, dim2=1) / a.diagonal(dim1=0, dim2=1)).sum(1)


def logdet_planes(p, planes):
    """``log det(I + P_x)`` for every ``x``: the log of the pivots of the same elimination.

    A non-positive pivot (``I + P_x`` not positive definite, which a PSD ``P_x`` rules
    out) gives NaN or ``-inf``.

    Parameters
    ----------
    p : torch.Tensor of shape (n, k, k)
        Symmetric positive semi-definite.
    planes : torch.Tensor of shape (k, k, n)
        Workspace, overwritten.

    Returns
    -------
    torch.Tensor of shape (n,)
    """
    _to_planes(p, planes)
    _eliminate_(planes)
    return planes.diagonal(dim1=0, dim2=1).log().sum(1)


def _to_planes(batch, planes):
    """Copy ``batch`` (n, k, m) to ``planes`` (k, m, n), then add I to its first k columns."""
    # a transposing copy is several times faster in cache-sized pieces
    for start in range(0, batch.shape[0], _TRANSPOSE_ROWS):
        rows = slice(start, start + _TRANSPOSE_ROWS)
        planes[:, :, rows].copy_(batch[rows].permute(1, 2, 0))
    planes.diagonal(dim1=0, dim2=1).add_(1.0)


def _eliminate_(a, b=None):
    """In place, ``a ← D`` of ``a = L D Lᵀ`` and ``b ← L⁻¹ b L⁻ᵀ`` on the diagonals.

    ``a`` and ``b`` are (k, k, n) planes; below and right of the diagonal they are left as
    workspace. ``a`` must not need pivoting (its Schur complements stay away from 0).
    """
    k = a.shape[0]
    for j in range(k - 1):
        low = a[j + 1 :, j] / a[j, j]
        a[j + 1 :, j + 1 :].addcmul_(low[:, None], a[j, None, j + 1 :], value=-1)
        if b is None:
            continue
        # b ← T b Tᵀ with T = I − low e_jᵀ, on the trailing block (row and column j of the
        # result are not needed any more)
        row = torch.addcmul(b[j, j + 1 :], low, b[j, j], value=-1)
        trailing = b[j + 1 :, j + 1 :]
        trailing.addcmul_(low[:, None], row[None], value=-1)
        trailing.addcmul_(b[j + 1 :, j, None], low[None], value=-1)


def _symmetric(matrix):
    """The symmetric part of a matrix (or of each matrix in a batch)."""
    return (matrix + matrix.transpose(-2, -1)) / 2


def _spd_inverse(matrix):
    """Inverse of a symmetric positive definite matrix through its Cholesky factor."""
    chol, info = torch.linalg.cholesky_ex(matrix)
    if int(info) != 0:
        raise FloatingPointError(
            "M is not numerically positive definite; increase alpha."
        )
    return torch.cholesky_inverse(chol)


def _cholesky(matrix):
    """Lower Cholesky factor of a small symmetric positive definite matrix."""
    chol, info = torch.linalg.cholesky_ex(_symmetric(matrix))
    if int(info) != 0:
        raise FloatingPointError(
            "Removing a point would make M singular: the problem is numerically degenerate. "
            "Increase alpha or rescale the features."
        )
    return chol


def _cholesky_of_inverse(matrix):
    """``G`` with ``G Gᵀ = matrix⁻¹`` for a small symmetric positive definite matrix.

    Only additions use it: their ``I + UᵀM⁻¹U`` has eigenvalues ≥ 1, so the factorization is
    not checked (a check would synchronise a GPU at every step). Removals factor ``I + P̂``
    from the member state instead (:func:`_cholesky`).
    """
    chol = torch.linalg.cholesky_ex(_symmetric(matrix))[0]
    eye = torch.eye(matrix.shape[0], dtype=matrix.dtype, device=matrix.device)
    # matrix⁻¹ = L⁻ᵀ L⁻¹, so G = L⁻ᵀ
    return torch.linalg.solve_triangular(chol, eye, upper=False).T
