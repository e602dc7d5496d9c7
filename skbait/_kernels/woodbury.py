"""Design states under rank-``k`` Woodbury updates: ``M⁻¹`` and, per candidate, ``P_x``.

A design adds (or removes) a point's factor ``Ṽ_x`` (``D × k``) to ``M``. For every
candidate the state keeps ``P_x = Ṽ_xᵀ M⁻¹ Ṽ_x``; BAIT's :class:`TraceState` also keeps
``Q_x = Ṽ_xᵀ M⁻¹ F M⁻¹ Ṽ_x``. A pick with factor ``U`` is a rank-``k`` update of ``M⁻¹``
and of every ``P_x, Q_x`` (design note, section 3), costing ``O(n d k² + n k³ + D² k)``
per step; the ``n × D × k`` tensor of factors is never built.

The state has two parts, and only two: a global part, small and the same for every
candidate (``M⁻¹``, ``M₀``, ``F``, and the points added so far: the *members*), and a
per-candidate part, :class:`CandidateRows` (``P_x`` or ``[P_x | Q_x]`` for each pool
row), which a fused kernel runs over and a shard of the pool would own. An update is
computed from the global part (the directions ``R'``, ``E``) and applied to every row.

Removals are not scored from ``I − P_x``: when ``x`` dominates a direction of ``M``
(large features, small ``alpha``), ``I − P_x = (I + P̂_x)⁻¹`` is tiny and ``P_x`` only
holds it to an absolute error of ``eps·‖P̂_x‖``, so the score loses all its digits (it
even turns negative). The global part keeps instead, for each member, ``P̂_x`` and
``Q̂_x`` relative to ``M₋ₓ = M − Ṽ_x Ṽ_xᵀ`` (their values when ``x`` was picked, then
updated), and the removal cost is ``tr((I + P̂_x)⁻¹ Q̂_x)``, the forward gain of putting
``x`` back.
"""

import numpy as np
import torch

from ..exceptions import DegenerateProblemError
from ._constants import (
    NARROW_MAX_K,
    RECOMPUTE_DROP,
    REMOVAL_CONSISTENCY,
    SYMMETRIZE_EVERY,
)
from ._linalg import (
    SmallSolver,
    checked_cholesky,
    cholesky_of_inverse,
    row_memory,
    spd_inverse,
    sym_matmul,
    symmetric,
)
from . import _fused
from ._numerics import chunk_rows, duplicate_groups
from .fisher import Factors, apply_c_, apply_ct_, quad_forms
from .greedy import GreedyState
from .threads import loop_on_one_thread, loop_threads, setup_threads, thread_budget


class CandidateRows:
    """The per-candidate part of a design state: ``k × (m·k)`` blocks, one per pool row.

    Row ``x`` holds ``[Ṽ_xᵀ A_1 Ṽ_x | … | Ṽ_xᵀ A_m Ṽ_x]`` for the global matrices
    ``A_i`` (``M⁻¹``, and ``M⁻¹FM⁻¹`` for BAIT). Rows are independent of each other.
    Identical candidates share one row (:func:`~skbait._kernels._numerics.duplicate_groups`),
    so they get identical scores whatever the machine's rounding.

    Parameters
    ----------
    factors : Factors
        The pool's (scaled) factors.
    chunk_size : int or None
        Rows per chunk (whole blocks of ``LANES`` rows, at least one, in the lanes layout);
        by default sized from ``d·k²`` and the device.

    On a CPU with numba, each chunk's update and scores run as one compiled pass over its
    rows (:mod:`~skbait._kernels._fused`), on the caller's threads (:attr:`threads`, the
    :func:`~skbait._kernels.threads.thread_budget` when the rows were built), or on fewer
    while other processes share the cores (:attr:`cores`, a
    :class:`~skbait._kernels._fused.CoreWatch`); elsewhere as torch operations, which pick
    the same batch.
    For ``k ≤ LANES_MAX_K`` the compiled pass keeps the blocks, and its own copy of ``s``
    and ``u``, in the lanes layout (:mod:`~skbait._kernels._fused._lanes`: ``LANES`` rows
    to a block, the row innermost, the last block padded with zero rows, whose scores are
    dropped; the pass keeps only the lower triangle of each ``P_x``, which :meth:`row`
    makes whole); it reads ``h`` as it is.
    """

    def __init__(self, factors, *, chunk_size=None):
        h, s, u = factors
        self.n = h.shape[0]
        groups = duplicate_groups(torch.cat([h, s, u], dim=1)) if self.n > 1 else None
        self.first, self.inverse = groups if groups is not None else (None, None)
        self.factors = factors if groups is None else factors.rows(groups[0])
        self.distinct = self.factors.h.shape[0]
        self.chunk_size = chunk_size
        d, k = h.shape[1], s.shape[1]
        self.k = k
        self.step = chunk_rows(self.distinct, 6 * k * k + d, device=h.device, dtype=h.dtype,
                               chunk_size=chunk_size)
        self.blocks = None
        self._buffer = None
        self.fused = _fused.applies_to(h)
        self.lanes = self.fused and k <= _fused.LANES_MAX_K
        # rows per unit of the blocks' first axis
        self.unit = _fused.LANES if self.lanes else 1
        # the caller's thread budget, for the compiled pass: torch itself may be held to
        # one thread (selection_threads, DesignState.running); the watch lowers it while
        # other processes share the cores
        self.threads = thread_budget()
        self.cores = _fused.CoreWatch(self.threads)
        if self.fused:  # the compiled pass reads them in place
            self.factors = Factors(*(t.contiguous() for t in self.factors))
        h, s, u = self.factors
        self.pass_factors = Factors(h, _lanes(s), _lanes(u)) if self.lanes else self.factors

    def recompute(self, matrices):
        """Every row's blocks from scratch, for the symmetric ``D × D`` ``matrices`` (with
        the compiled kernels, on :func:`~skbait._kernels.threads.setup_threads`, and no
        more threads than the passes get: a refresh in the loop while other processes
        share the cores runs on :attr:`cores`' lowered count)."""
        threads = setup_threads(self.factors, len(matrices),
                                max_threads=self.cores.max_threads())
        blocks = quad_forms(self.factors, matrices, chunk_size=self.chunk_size,
                            threads=threads)
        self.blocks = _lanes(blocks) if self.lanes else blocks

    def row(self, index):
        """The blocks of pool row ``index``: a view, or in the lanes layout a copy with
        ``P_x`` made whole from the lower triangle that the compiled pass keeps."""
        row = int(index if self.inverse is None else self.inverse[index])
        if not self.lanes:
            return self.blocks[row]
        block = self.blocks[row // self.unit, :, :, row % self.unit].clone()
        p = block[:, : self.k]
        p.copy_(p.tril() + p.tril(-1).mT)
        return block

    def expand(self, values):
        """Per-distinct-row ``values`` as one value per pool row."""
        values = values[: self.distinct]
        return values if self.inverse is None else values[self.inverse]

    def scores(self, score, kind):
        """Every row's score (``kind``: ``"trace"`` or ``"logdet"``; ``score(blocks)`` on
        the eager path), a chunk at a time, one value per pool row."""
        out = self._empty()
        for rows in self._chunks():
            if self.fused:
                _fused.gains(self.blocks[rows], self.blocks.shape[2] // self.k,
                             out[self._values(rows)], kind, threads=self._threads(rows),
                             watch=self.cores)
            else:
                out[rows] = score(self.blocks[rows])
        return self.expand(out)

    def update(self, both, sign, score, kind, beside=None):
        """Rank-``k`` update of every row, then ``score`` of each while it is in cache.

        ``both`` is ``R'`` (``D × k``) or ``[R' | E]`` (``D × 2k``). One GEMM gives each
        candidate ``G_x = [aᵀ | 2eᵀ]`` with ``a = Ṽ_xᵀR'`` and ``e = Ṽ_xᵀE``, and one
        batched product lowers ``[P_x | Q_x]`` by ``sign·a G_x``: ``P_x`` by ``sign·a aᵀ``
        and ``Q_x`` by ``2 sign·a eᵀ``, whose symmetric part is the exact change
        ``sign(a eᵀ + e aᵀ)``. ``Q_x`` is left unsymmetrised: only the gains read it, and
        they see only its symmetric part. With ``score=None`` nothing is returned; ``kind``
        names the score for the fused pass. ``beside`` (a callable, or None) is work
        independent of the rows, done on this thread while the pass's other threads start
        (:func:`~skbait._kernels._fused.update_and_gains`), or after the rows' update.
        """
        d, k = self.factors.h.shape[1], self.k
        halves = both.shape[1] // k
        if halves == 2:
            both = torch.cat([both[:, :k], 2 * both[:, k:]], dim=1)
        # columns ordered (column of R', half, output) so that row c of G_x comes out whole
        right = both.reshape(d, k, halves, k).permute(0, 3, 2, 1).reshape(d, -1).contiguous()
        out = None if score is None else self._empty()
        h, s, u = self.pass_factors
        for rows in self._chunks():
            hb, block = h[self._values(rows)], self.blocks[rows]  # h is never in lanes
            if self.fused:  # GEMM, C-transform, rank-k update and score, a tile at a time
                _fused.update_and_gains(block, hb, right, s[rows], u[rows], float(sign),
                                        halves, None if out is None else out[self._values(rows)],
                                        None if out is None else kind,
                                        threads=self._threads(rows), beside=beside,
                                        watch=self.cores)
                beside = None
                continue
            g = self._workspace(hb.shape[0] * k * halves * k).view(-1, k, halves * k)
            torch.matmul(hb, right, out=g.view(hb.shape[0], -1))
            apply_c_(s[rows], u[rows], g.view(-1, halves * k, k))
            block.baddbmm_(g[:, :, :k].transpose(1, 2), g, alpha=-sign)
            if out is not None:
                out[rows] = score(block)
        if beside is not None:
            beside()
        return None if out is None else self.expand(out)

    def _threads(self, rows):
        block = self.blocks[rows]
        return _fused.choose_threads(block.shape[0] * self.unit, self.k,
                                     block.shape[2] // self.k,
                                     max_threads=self.cores.max_threads())

    def _chunks(self):
        """Slices of the blocks' first axis (rows, or blocks of rows in the lanes layout)."""
        step = max(1, self.step // self.unit)
        for start in range(0, self.blocks.shape[0], step):
            yield slice(start, start + step)

    def _values(self, units):
        """The slice of :meth:`_empty`'s values for a slice of the blocks' first axis."""
        return slice(units.start * self.unit, units.stop * self.unit)

    def _workspace(self, size):
        # reused: fresh multi-megabyte tensors every step cost page faults
        if self._buffer is None or self._buffer.numel() < size:
            self._buffer = self.blocks.new_empty(size)
        return self._buffer[:size]

    def _empty(self):
        return self.blocks.new_empty(self.blocks.shape[0] * self.unit)


class DesignState(GreedyState):
    """``M⁻¹`` and every candidate's ``P_x`` under additions and removals; gains are
    ``log det(I + P_x)``, the increase of ``log det M`` (paper, Algorithms 2 and 3).

    Parameters
    ----------
    pool : Factors
        Candidate factors ``Ṽ_x`` (already scaled by the weight a pick adds to ``M``).
    m0 : torch.Tensor of shape (D, D)
        Starting matrix ``M₀`` (symmetric positive definite).
    chunk_size : int, default=None
        Rows per chunk of the per-candidate updates.
    refresh_every : int, default=None
        Recompute ``M⁻¹`` exactly from ``M`` after this many updates (bounds the drift of
        chained Woodbury updates on a GPU). None never refreshes.
    removals : bool, default=False
        Keep the member state that :meth:`remove` needs (see the module docstring).
    """

    score_name = "Log-det gain"
    kind = "logdet"
    n_matrices = 1

    def __init__(self, pool, m0, *, chunk_size=None, refresh_every=None, removals=False):
        self.pool = pool
        self.m0 = m0
        self.refresh_every = refresh_every
        self.removals = removals
        self.m = m0.clone() if refresh_every else None
        self.minv = spd_inverse(m0)
        self.n_updates = 0
        self.k = pool.s.shape[1]
        self.n_candidates = pool.h.shape[0]
        self.device = m0.device
        self.eye = torch.eye(self.k, dtype=m0.dtype, device=m0.device)
        self.solver = SmallSolver(self.k, m0.device, m0.dtype)
        self.rows = CandidateRows(pool, chunk_size=chunk_size)
        one_thread = loop_on_one_thread(self.rows.fused, pool.h.shape[1] * self.k, self.k)
        # the global part's small-k work in compiled code, on the loop's one thread: the
        # D × D × k products (times()) and the members' update (_update_members)
        self.compiled_global = self.k <= NARROW_MAX_K and one_thread
        # the global part's updates beside the rows' pass (_update), only on the loop's one
        # thread: torch's threads would otherwise compete with the pass's for the cores
        self.global_beside = one_thread
        # the members: rows in M, their factors, and their P̂_x relative to M without them
        self.members = []
        self.member_factors = pool.rows(slice(0, 0))
        self.p_hat = m0.new_empty((0, self.k, self.k))
        self.recompute()

    # -- the verbs --------------------------------------------------------------------
    def running(self):
        """The loop's threads (:func:`~skbait._kernels.threads.loop_threads`): with the
        compiled pass and small ``D``, torch runs on one thread while the loop does; the
        pass keeps the caller's threads (:attr:`CandidateRows.threads`)."""
        return loop_threads(self.rows.fused, self.pool.h.shape[1] * self.k, self.k)

    def gains(self):
        """Score of every candidate: ``log det(I + P_x)`` (or BAIT's trace decrease)."""
        return self.rows.scores(self._score, self.kind)

    def add(self, index, *, last=False, packed=None):
        """Add candidate ``index`` to ``M``; return the new :meth:`gains` unless ``last``.

        With ``last=True`` only ``M⁻¹`` and the member state follow: the candidates'
        blocks are not needed any more. With ``packed`` (what :meth:`pack` gave on the
        shard holding the candidate), ``index`` is a global index, not a row of ``pool``.
        """
        row, block = self._candidate(index, packed)
        factor = row.dense(0)  # U: D × k
        r = row.product(self.minv, 0)
        # M⁻¹ ← M⁻¹ − R A⁻¹ Rᵀ with A = I + UᵀR: write A⁻¹ = G Gᵀ and R' = R G
        r = r @ cholesky_of_inverse(factor.T @ r + self.eye)
        entry = self._member_entry(block) if self.removals else None
        gains = self._update(r, factor, +1, score=None if last else self._score)
        self.members.append(index)
        self.member_factors = _cat_factors(self.member_factors, row)
        if entry is not None:
            self._append_member(entry)
        return gains

    def remove(self, index, *, cost=None):
        """Remove member ``index`` from ``M`` (the candidates' blocks are not updated)."""
        pos = self.members.index(index)
        factor = self.member_factors.dense(pos)
        # −A⁻¹ = (I − UᵀM⁻¹U)⁻¹ = I + P̂: from the member state, not from a cancellation
        r = self.member_factors.product(self.minv, pos)
        r = r @ checked_cholesky(self.eye + self.p_hat[pos])
        keep = [i for i in range(len(self.members)) if i != pos]
        self.members = [self.members[i] for i in keep]
        self.member_factors = self.member_factors.rows(torch.tensor(keep, dtype=torch.long,
                                                                    device=self.device))
        self._keep_members(keep)
        self._update(r, factor, -1, score=None)

    def times(self, sym, other):
        """``sym @ other`` for one of the state's symmetric ``D × D`` matrices and a
        ``D × k`` ``other``: :func:`~skbait._kernels._fused.narrow_product` when
        :attr:`compiled_global`, else :func:`~skbait._kernels._linalg.sym_matmul`."""
        if not self.compiled_global:
            return sym_matmul(sym, other)
        out = other.new_empty((other.shape[1], sym.shape[0]))
        return _fused.narrow_product(other.contiguous(), row_memory(sym), out).T

    def pack(self, row):
        """Pool row ``row`` for another shard: its ``h, s, u`` and, with removals, its
        blocks (the member state starts from them), flat."""
        parts = [self.pool.h[row], self.pool.s[row], self.pool.u[row]]
        if self.removals:
            parts.append(self.rows.row(row).reshape(-1))
        return torch.cat(parts)

    def pack_size(self):
        d = self.pool.h.shape[1]
        return d + 2 * self.k + (self.n_matrices * self.k**2 if self.removals else 0)

    def _candidate(self, index, packed):
        """``(factors, blocks)`` of the candidate being added: one row, and its blocks."""
        if packed is None:
            block = self.rows.row(index) if self.removals else None
            return self.pool.rows(slice(index, index + 1)), block
        d, k = self.pool.h.shape[1], self.k
        row = Factors(packed[None, :d], packed[None, d : d + k], packed[None, d + k : d + 2 * k])
        return row, packed[d + 2 * k :].view(k, -1) if self.removals else None

    # -- the global part --------------------------------------------------------------
    def recompute(self):
        """``M⁻¹`` from ``M``, then every candidate's blocks from ``M⁻¹``.

        The incremental updates hold ``M⁻¹, P_x, Q_x`` to an absolute error proportional to
        their largest past values; once the gains have fallen by many orders of magnitude
        (huge features with a tiny ``alpha``), recomputing them restores their accuracy.
        """
        self.rebuild_minv()
        self.rows.recompute(self._matrices())

    def rebuild_minv(self):
        """``M⁻¹`` refactored from ``M = M₀ + Σ Ṽ_x Ṽ_xᵀ`` (members), ending its drift."""
        if self.members:
            factors = torch.cat([self.member_factors.dense(i)
                                 for i in range(len(self.members))], dim=1)
            self.minv = spd_inverse(torch.addmm(self.m0, factors, factors.T))

    def _matrices(self):
        return [self.minv]

    def _score(self, blocks):
        return self.solver.logdet(blocks)

    def _directions(self, r, sign):
        """What the rows' update is made of, and what the members' update also needs."""
        return r, None

    def _update(self, r, factor, sign, score):
        """One update of the whole state: the rows' (when ``score``: then their new
        scores are returned), the members' and ``M⁻¹``'s. The last two read neither the
        rows nor each other's results: while torch runs the loop on one thread
        (:attr:`global_beside`), they run on this thread beside the rows' pass
        (:meth:`CandidateRows.update`)."""
        both, extra = self._directions(r, sign)

        def global_part():
            if self.removals:
                self._update_members(both.reshape(self.pool.h.shape[1], -1), sign, extra)
            self._update_minv(r, factor, sign)

        if score is None:
            global_part()
            return None
        if self.global_beside:
            return self.rows.update(both, sign, score, self.kind, beside=global_part)
        gains = self.rows.update(both, sign, score, self.kind)
        global_part()
        return gains

    def _update_minv(self, r, factor, sign):
        self.minv.addmm_(r, r.T, alpha=-sign)
        if self.n_updates % SYMMETRIZE_EVERY == SYMMETRIZE_EVERY - 1:
            self.minv = symmetric(self.minv)
        self.n_updates += 1
        if self.m is not None:
            self.m.addmm_(factor, factor.T, alpha=sign)
            if self.n_updates % self.refresh_every == 0:
                self.minv = spd_inverse(self.m)

    # -- the members (what removals are scored from) -------------------------------------
    def _member_entry(self, block):
        """The new member's state from its blocks: ``P_x`` just before it is added
        (``P̂_x``)."""
        return block[:, : self.k].clone()

    def _append_member(self, entry):
        self.p_hat = torch.cat([self.p_hat, entry[None]])

    def _keep_members(self, keep):
        self.p_hat = self.p_hat[keep]

    def _update_members(self, both, sign, extra):
        """Rank-``k`` update of every member's ``P̂_x`` (relative to ``M₋ₓ``).

        With ``Γ = I + P̂_x = (I − P_x)⁻¹``, ``M₋ₓ⁻¹ = M⁻¹ + M⁻¹Ṽ_x Γ Ṽ_xᵀM⁻¹``, so the
        quantities of the update seen from ``M₋ₓ`` follow from those seen from ``M``
        (``a = Ṽ_xᵀR'``): ``â = Γa``, ``Â = sign·I + aᵀΓa``; then the same Woodbury
        update as for ``P_x``, with ``Â`` in place of ``sign·I``. Returns what
        :class:`TraceState` needs to update ``Q̂_x`` too (None without members, or when
        :attr:`compiled_global`: :meth:`_compiled_members` then updates both).
        """
        if not self.members:
            return None
        k = self.k
        h, s, u = self.member_factors
        products = (h @ both).reshape(len(self.members), k, -1)
        if self.compiled_global:  # the same operations, in compiled code
            self._compiled_members(products, s.contiguous(), u.contiguous(), sign, extra)
            return None
        proj = apply_ct_(s, u, products)
        a = proj[:, :, :k]
        gamma = self.eye + self.p_hat
        a_hat = gamma @ a
        big_a = sign * self.eye + a.transpose(1, 2) @ a_hat
        b_hat = torch.linalg.solve_ex(symmetric(big_a), a_hat.transpose(1, 2))[0]
        b_hat = b_hat.transpose(1, 2)  # â Â⁻¹
        self.p_hat = symmetric(self.p_hat - b_hat @ a_hat.transpose(1, 2))
        return proj, a, gamma, a_hat, b_hat

    def _compiled_members(self, products, s, u, sign, extra):
        """:meth:`_update_members` by :func:`~skbait._kernels._fused.update_members`."""
        self.p_hat = self.p_hat.contiguous()
        _fused.update_members(products, s, u, self.p_hat, sign=sign)

    def _member_scores(self, blocks):
        """:meth:`_score` of the members' ``blocks``, by the pass's compiled gains when
        :attr:`compiled_global` (a few dozen rows: one thread)."""
        if not self.compiled_global:
            return self._score(blocks)
        return _fused.gains(blocks, blocks.shape[2] // self.k, blocks.new_empty(blocks.shape[0]),
                            self.kind, threads=1)


class TraceState(DesignState):
    """BAIT's state: :class:`DesignState` plus ``F`` and every candidate's ``Q_x``.

    A candidate's gain is ``tr((I + P_x)⁻¹ Q_x)``, the decrease of ``tr(M⁻¹F)`` if it were
    added; a member's removal cost is ``tr((I + P̂_x)⁻¹ Q̂_x)``. ``P_x`` and ``Q_x`` sit side
    by side in one ``k × 2k`` block per row so that a single batched product updates both.

    Parameters
    ----------
    pool, m0 : see :class:`DesignState`.
    fisher : torch.Tensor of shape (D, D)
        ``F``.
    chunk_size, refresh_every, removals : see :class:`DesignState`.
    """

    score_name = "BAIT forward gain"
    removal_name = "BAIT backward loss"
    kind = "trace"
    n_matrices = 2

    def __init__(self, pool, m0, fisher, *, chunk_size=None, refresh_every=None,
                 removals=False):
        self.fisher = fisher
        self.q_hat = m0.new_empty((0, pool.s.shape[1], pool.s.shape[1]))
        self._scale = None  # best gain when the blocks were last computed from scratch
        self._objective = None  # (n_updates, tr(M⁻¹F)) when last computed
        super().__init__(pool, m0, chunk_size=chunk_size, refresh_every=refresh_every,
                         removals=removals)

    def stale(self, best):
        """Whether the best gain fell below ``RECOMPUTE_DROP`` of its value at the last
        recomputation: the incremental values have then lost too many digits."""
        if self._scale is None:
            self._scale = abs(best)
            return False
        return best < RECOMPUTE_DROP * self._scale

    def refresh(self):
        self.recompute()
        self._scale = None
        return self.gains()

    def removal_costs(self):
        """Members (ascending) and the increase of ``tr(M⁻¹F)`` if each were removed.

        Copies of one candidate get one cost (that of the first of them), since
        their costs are equal and a tie must not be decided by rounding. Copies are
        found among the members' factors, so that a sharded state, whose members come
        from every shard, finds them too.
        """
        order = sorted(range(len(self.members)), key=self.members.__getitem__)
        rows = torch.tensor([self.members[i] for i in order], device=self.device,
                            dtype=torch.long)
        pos = torch.tensor(order, device=self.device, dtype=torch.long)
        groups = duplicate_groups(torch.cat(self.member_factors.rows(pos), dim=1)) \
            if len(order) > 1 else None
        if groups is not None:
            first, inverse = groups
            pos = pos[first[inverse]]
        return rows, self._member_scores(torch.cat([self.p_hat[pos], self.q_hat[pos]], dim=2))

    def remove(self, index, *, cost=None):
        """Remove member ``index``; with its ``cost``, check the objective moved by it.

        The cost (from the member state) and the change of ``tr(M⁻¹F)`` (from ``M⁻¹``)
        are two computations of one number; far apart, the state has lost its accuracy
        and the batch is not to be trusted.
        """
        before = self.objective() if cost is not None else None
        super().remove(index)
        if cost is None:
            return
        change = self.objective() - before
        if abs(cost - change) > REMOVAL_CONSISTENCY * max(before, before + change, abs(cost)):
            raise DegenerateProblemError(
                f"BAIT lost its numerical accuracy: removing candidate {index} changed "
                f"tr(M⁻¹F) by {change:.6g} but its score predicted {cost:.6g}."
            )

    def objective(self):
        """``tr(M⁻¹ F)`` for the current ``M``."""
        if self._objective is not None and self._objective[0] == self.n_updates:
            return self._objective[1]
        # Σ_ab (M⁻¹)ᵀ_ab F_ab = Σ_ab M⁻¹_ba F_ab: LAPACK's inverse is column-major, so
        # M⁻¹ᵀ flattens as a view (M⁻¹ itself would be a 3.3 MB copy at D = 640)
        value = float(torch.dot(self.minv.T.reshape(-1), self.fisher.reshape(-1)))
        if not np.isfinite(value):
            raise DegenerateProblemError(f"tr(M⁻¹F) = {value}: M⁻¹ lost precision.")
        self._objective = (self.n_updates, value)
        return value

    def rebuild_minv(self):
        super().rebuild_minv()
        self._objective = None

    def _matrices(self):
        return [self.minv, symmetric(self.minv @ self.fisher @ self.minv)]

    def _score(self, blocks):
        return self.solver.trace(blocks)

    def _directions(self, r, sign):
        # Q ← Q − sign(a zᵀ + z aᵀ) + a W aᵀ == Q − sign(a eᵀ + e aᵀ), e = z − ½ sign a W,
        # with a = ṼᵀR', z = ṼᵀM⁻¹FR', W = R'ᵀFR'; both a and e come from one GEMM.
        fr = self.times(self.fisher, r)
        w_mat = r.T @ fr
        e_mat = self.times(self.minv, fr) - (0.5 * sign) * (r @ w_mat)
        return torch.cat([r, e_mat], dim=1), w_mat

    def _member_entry(self, block):
        return block[:, : self.k].clone(), symmetric(block[:, self.k :])

    def _append_member(self, entry):
        super()._append_member(entry[0])
        self.q_hat = torch.cat([self.q_hat, entry[1][None]])

    def _keep_members(self, keep):
        super()._keep_members(keep)
        self.q_hat = self.q_hat[keep]

    def _update_members(self, both, sign, w_mat):
        """:meth:`DesignState._update_members`, and ``Q̂_x`` with it: with
        ``z = Ṽ_xᵀM⁻¹FR'`` and ``W = R'ᵀFR'``, ``ẑ = Γz + Q̂a`` and
        ``Ŵ = W + zᵀâ + âᵀz + aᵀQ̂a``."""
        parts = super()._update_members(both, sign, w_mat)
        if parts is None:
            return None
        proj, a, gamma, a_hat, b_hat = parts
        k = self.k
        z = proj[:, :, k:] + (0.5 * sign) * (a @ w_mat)
        qa = self.q_hat @ a
        z_hat = gamma @ z + qa
        za = z.transpose(1, 2) @ a_hat
        w_hat = w_mat + za + za.transpose(1, 2) + a.transpose(1, 2) @ qa
        e_hat = z_hat - 0.5 * b_hat @ w_hat
        cross = b_hat @ e_hat.transpose(1, 2)
        self.q_hat = self.q_hat - cross - cross.transpose(1, 2)
        return parts

    def _compiled_members(self, products, s, u, sign, w_mat):
        self.p_hat, self.q_hat = self.p_hat.contiguous(), self.q_hat.contiguous()
        _fused.update_members(products, s, u, self.p_hat, self.q_hat, w_mat.contiguous(),
                              sign=sign)


def _lanes(rows):
    """``rows`` (n, ...) in the lanes layout (blocks, ..., LANES), padded with zero rows;
    copied once, straight into place."""
    lanes, n, rest = _fused.LANES, rows.shape[0], tuple(rows.shape[1:])
    full = n // lanes
    out = rows.new_zeros((-(-n // lanes),) + rest + (lanes,))
    view = out.movedim(-1, 1)  # (blocks, LANES, ...): the rows as they sit in ``out``
    view[:full] = rows[: full * lanes].view((full, lanes) + rest)
    if n > full * lanes:
        view[full, : n - full * lanes] = rows[full * lanes :]
    return out


def _cat_factors(first, second):
    return Factors(*(torch.cat([a, b]) for a, b in zip(first, second)))
