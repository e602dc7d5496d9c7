"""The fused per-candidate pass (skbait/_kernels/_fused) against today's torch operations.

The eager reference is rebuilt here from the kernels' own pieces: the GEMM, ``apply_c_``
on its output, one ``baddbmm`` on ``[P | Q]``, then the gains by ``trace_solve_planes`` (k ≤ 24),
a batched LU solve (larger k), ``logdet_planes`` or a batched Cholesky, as
``TraceState`` and ``logdet_greedy`` compute them on a CPU.
"""

import threading

import numpy as np
import pytest
import torch

numba = pytest.importorskip(
    "numba", reason="numba is not installed: the fused kernel (skbait._kernels._fused) "
    "needs it; `pip install numba` to run these tests"
)

from skbait._kernels import _fused  # noqa: E402
from skbait._kernels import bait as bait_kernel  # noqa: E402
from skbait._kernels import logdet as logdet_kernel  # noqa: E402
from skbait._kernels._constants import ELIMINATION_MAX_K as _LDL_MAX_K  # noqa: E402
from skbait._kernels._linalg import logdet_planes, trace_solve_planes  # noqa: E402
from skbait._kernels._numerics import torch_threads  # noqa: E402
from skbait._kernels.woodbury import TraceState  # noqa: E402
from skbait._kernels.fisher import apply_c_, fisher_sum, softmax_factors  # noqa: E402

F64 = torch.float64
RTOL = 1e-12


@pytest.fixture(scope="module", autouse=True)
def _compiled():
    if not _fused.available():
        pytest.fail(f"numba is installed but the fused kernel is not available: "
                    f"{_fused.compile_info()}")


def _problem(rows, k, halves, sign, seed=0, d=5, spread=1.0):
    """A block of rows as TraceState holds it, with a GEMM output that keeps P PSD.

    ``pq`` is chosen so that after the update it is ``[P₀ | Q₀]`` (up to rounding), with
    ``P₀`` PSD and ``Q₀`` not symmetric (the state keeps it up to its symmetric part).
    """
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(rows, d, generator=gen, dtype=F64)
    right = torch.randn(d, halves * k * k, generator=gen, dtype=F64) / d**0.5
    logits = spread * torch.randn(rows, k, generator=gen, dtype=F64)
    s, u = softmax_factors(h, torch.softmax(logits, 1))[1:]
    if k == 1:  # a rank-one head: s = weight, u = 0
        s, u = torch.rand(rows, 1, generator=gen, dtype=F64) + 0.5, torch.zeros(rows, 1, dtype=F64)
    y = (h @ right).view(rows, k, halves * k)
    apply_c_(s, u, y.view(-1, halves * k, k))
    x = torch.randn(rows, k, 2 * k, generator=gen, dtype=F64)
    p0 = x[:, :, :k] @ x[:, :, :k].transpose(1, 2) / k
    q0 = x[:, :, k:] @ x[:, :, k:].transpose(1, 2) / k + 0.3 * x[:, :, k:] @ x[:, :, :k].mT / k
    pq0 = torch.cat([p0, q0], 2) if halves == 2 else p0
    pq = pq0 + sign * (y[:, :, :k].transpose(1, 2) @ y)
    pq[:, :, :k] = (pq[:, :, :k] + pq[:, :, :k].mT) / 2  # P exactly symmetric, as stored
    return pq.contiguous(), (h, right), s.contiguous(), u.contiguous()


def _eager_gains(pq, kind):
    k = pq.shape[1]
    if kind == "logdet":
        p = pq[:, :, :k]
        if k == 1:
            return torch.log1p(p[:, 0, 0])
        if k <= _LDL_MAX_K:
            return logdet_planes(p, p.new_empty((k, k, p.shape[0])))
        chol = torch.linalg.cholesky(torch.eye(k, dtype=F64) + p)
        return 2 * chol.diagonal(dim1=1, dim2=2).log().sum(1)
    if k == 1:
        return pq[:, 0, 1] / (1.0 + pq[:, 0, 0])
    if k <= _LDL_MAX_K:
        return trace_solve_planes(pq, pq.new_empty((k, 2 * k, pq.shape[0])))
    solved = torch.linalg.solve(torch.eye(k, dtype=F64) + pq[:, :, :k], pq[:, :, k:])
    return solved.diagonal(dim1=1, dim2=2).sum(1)


def _eager(pq, hr, s, u, sign, halves, kind, layout="rows"):
    """The eager path's operations (CandidateRows.update and TraceState._score), on a copy."""
    k = pq.shape[1]
    # the GEMM through numpy's BLAS, as the tiles' np.dot, or as the lanes layout's
    # rightᵀ @ h[block]: the comparison is of what follows it (where P is a small remainder
    # of large terms, another GEMM's last bit shows)
    h, right = hr[0].numpy(), hr[1].numpy()
    if layout == "rows":
        g = torch.from_numpy(h @ right)
    else:  # a block's rows of h, as the kernel reads them
        right_t = np.ascontiguousarray(right.T)
        g = torch.cat([torch.from_numpy(right_t @ h[start:start + _fused.LANES].T).T
                       for start in range(0, h.shape[0], _fused.LANES)])
    g = g.contiguous().view(-1, k, halves * k)
    pq = pq.clone()
    apply_c_(s, u, g.view(-1, halves * k, k))
    pq.baddbmm_(g[:, :, :k].transpose(1, 2), g, alpha=-sign)
    return pq, (None if kind is None else _eager_gains(pq, kind))


def _assert_close_rel(got, want, rtol=RTOL):
    got, want = np.asarray(got), np.asarray(want)
    scale = np.maximum(np.abs(want), 1e-300)
    worst = np.max(np.abs(got - want) / scale)
    assert worst <= rtol, f"max relative difference {worst:.3g} > {rtol:g}"


def _to_lanes(rows):
    """(n, ...) rows in the lanes layout (blocks, ..., LANES), padded with zero rows."""
    lanes = _fused.LANES
    blocks = -(-rows.shape[0] // lanes)
    padded = torch.zeros((blocks * lanes,) + tuple(rows.shape[1:]), dtype=rows.dtype)
    padded[: rows.shape[0]] = rows
    return padded.reshape(blocks, lanes, -1).transpose(1, 2).reshape(
        (blocks,) + tuple(rows.shape[1:]) + (lanes,)).contiguous()


def _from_lanes(blocks, n):
    """The first ``n`` rows of ``blocks`` in the lanes layout, as (n, ...) rows."""
    lanes = blocks.shape[-1]
    flat = blocks.reshape(blocks.shape[0], -1, lanes).transpose(1, 2)
    return flat.reshape((-1,) + tuple(blocks.shape[1:-1]))[:n]


def _layout(layout, pq, h, s, u):
    """The pass's operands in ``layout`` ("rows" or "lanes": ``h`` stays as it is), and a
    function that takes a state in that layout back to rows."""
    if layout == "rows":
        return (pq, h, s, u), lambda blocks: blocks
    n = pq.shape[0]
    pq, s, u = (_to_lanes(t) for t in (pq, s, u))
    return (pq, h, s, u), lambda blocks: _from_lanes(blocks, n)


_LAYOUTS = [(k, layout) for k in (1, 2, 10, 16, 24, 32, 33, 40) for layout in ("rows", "lanes")
            if layout == "rows" or k <= _fused.LANES_MAX_K]


@pytest.mark.parametrize("k,layout", _LAYOUTS)
@pytest.mark.parametrize("halves,kind", [(2, "trace"), (1, "logdet"), (2, "logdet"),
                                         (2, None), (1, None)])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_matches_eager(k, layout, halves, kind, sign):
    rows = 300 if k <= 10 else 60  # 300 and 60: the last block of lanes is padded
    pq, (h, right), s, u = _problem(rows, k, halves, sign, seed=k + 7 * halves)
    want_pq, want = _eager(pq, (h, right), s, u, sign, halves, kind, layout)
    start = pq.clone()
    (pq, h, s, u), back = _layout(layout, pq, h, s, u)
    before = [t.clone() for t in (h, right, s, u)]
    n_out = rows if layout == "rows" else pq.shape[0] * _fused.LANES
    out = None if kind is None else torch.full((n_out,), np.nan, dtype=F64)
    returned = _fused.update_and_gains(pq, h, right, s, u, sign, halves, out, kind, threads=1)
    assert returned is out
    assert all(torch.equal(a, b) for a, b in zip((h, right, s, u), before)), "inputs changed"
    state = back(pq)
    if layout == "lanes":  # the padding of the last block stays zero
        assert not _from_lanes(pq, pq.shape[0] * _fused.LANES)[rows:].any()
        # P's upper triangle is left as it was, and made whole from the lower one it is
        # the eager state's
        upper = torch.ones(k, k, dtype=torch.bool).triu(1)
        before_p = start[:, :, :k]
        assert torch.equal(state[:, :, :k][:, upper], before_p[:, upper])
        lower = state[:, :, :k].tril()
        state[:, :, :k] = lower + lower.tril(-1).mT
    # the state after the update agrees to rounding of its largest entries
    assert (state - want_pq).abs().max() <= 1e-13 * want_pq.abs().max()
    # P stays exactly symmetric (the update adds the same terms in the same order)
    assert torch.equal(state[:, :, :k], state[:, :, :k].mT)
    if kind is not None:
        assert torch.isfinite(out).all()  # padded lanes too
        _assert_close_rel(out[:rows], want)
        # gains from the same state equal the fused ones bit for bit
        again = np.empty(out.shape[0])
        _fused.gains(pq.numpy(), halves, again, kind)
        assert np.array_equal(again, out.numpy())
        # and match the eager gains of that same state
        _assert_close_rel(again[:rows], _eager_gains(state.contiguous(), kind))


@pytest.mark.parametrize("k,halves,kind", [(1, 2, "trace"), (1, 1, "logdet"), (3, 2, "trace"),
                                           (10, 2, "trace"), (10, 1, "logdet"),
                                           (16, 2, "trace")])
def test_lanes_results_do_not_depend_on_the_lane(k, halves, kind, monkeypatch):
    """Rows moved to other lanes and blocks, on any number of threads and pieces: the
    same bits, row by row; copies of one row in different lanes get one gain."""
    rows = 200
    pq, (h, right), s, u = _problem(rows, k, halves, 1.0, seed=13 + k)
    for i in (70, 150, 199):  # copies of row 3 in other lanes and blocks
        pq[i], h[i], s[i], u[i] = pq[3], h[3], s[3], u[3]
    order = torch.randperm(rows, generator=torch.Generator().manual_seed(k))
    results = []
    for perm, threads, piece_entries in ((torch.arange(rows), 1, 1 << 16), (order, 2, 1),
                                         (order, 3, 1000)):
        monkeypatch.setattr(_fused._parallel, "_PIECE_ENTRIES", piece_entries)
        (state, hl, sl, ul), back = _layout("lanes", pq[perm], h[perm], s[perm], u[perm])
        out = torch.empty(state.shape[0] * _fused.LANES, dtype=F64)
        _fused.update_and_gains(state, hl, right, sl, ul, 1.0, halves, out, kind,
                                threads=threads)
        undo = torch.argsort(perm)
        results.append((back(state)[undo], out[:rows][undo]))
    for state, out in results:
        assert torch.equal(state, results[0][0]) and torch.equal(out, results[0][1])
        assert len(set(out[[3, 70, 150, 199]].tolist())) == 1


@pytest.mark.parametrize("kind", ["trace", "logdet"])
def test_large_k(kind):
    k, rows = 100, 6
    pq, hr, s, u = _problem(rows, k, 2, 1.0, seed=3)
    want_pq, want = _eager(pq, hr, s, u, 1.0, 2, kind)
    out = torch.empty(rows, dtype=F64)
    _fused.update_and_gains(pq, *hr, s, u, 1.0, 2, out, kind)
    assert (pq - want_pq).abs().max() <= 1e-13 * want_pq.abs().max()
    _assert_close_rel(out, want, rtol=1e-11)


@pytest.mark.parametrize("k", [10, 40])  # whole rows, and the congruence on triangles
def test_ill_conditioned_gains_agree(k):
    """Large P (I + P with condition ~1e6): still the eager gains to the digits they hold."""
    rows = 200
    pq, hr, s, u = _problem(rows, k, 2, 1.0, seed=5)
    pq = (pq * torch.logspace(0, 6, rows, dtype=F64)[:, None, None]).contiguous()
    want_pq, want = _eager(pq, hr, s, u, 1.0, 2, "trace")
    out = np.empty(rows)
    _fused.update_and_gains(pq.numpy(), hr[0].numpy(), hr[1].numpy(), s.numpy(), u.numpy(),
                            1.0, 2, out)
    _assert_close_rel(out, want, rtol=1e-9)


@pytest.mark.parametrize("k,halves,kind", [(1, 2, "trace"), (3, 2, "trace"), (10, 2, "trace"),
                                           (10, 1, "logdet"), (32, 2, "trace")])
def test_identical_rows_identical_gains(k, halves, kind, monkeypatch):
    """Copies of one candidate at the same place in every tile, on any thread: the same
    bits (other places in a tile are left to BLAS: CandidateRows dedupes copies)."""
    rows = 1500 if k <= 10 else 200
    pq, (h, right), s, u = _problem(rows, k, halves, 1.0, seed=11)
    tile = _fused.tile_rows(k, halves)
    copies = [i for i in range(0, rows, tile)] + [i + 1 for i in range(0, rows - 1, tile)]
    for i in copies:
        pq[i], h[i], s[i], u[i] = pq[copies[0]], h[copies[0]], s[copies[0]], u[copies[0]]
    copies = [i for i in copies if i % tile == 0]
    # pieces of one tile: every boundary
    monkeypatch.setattr(_fused._parallel, "_PIECE_ENTRIES", 1)
    results = []
    for threads in (1, 2, 3):
        state, out = pq.clone(), torch.empty(rows, dtype=F64)
        _fused.update_and_gains(state, h, right, s, u, 1.0, halves, out, kind, threads=threads)
        assert len(set(out[copies].tolist())) == 1, out[copies]
        assert all(torch.equal(state[i], state[copies[0]]) for i in copies)
        results.append((state, out))
    for state, out in results[1:]:  # the thread count does not change a bit
        assert torch.equal(state, results[0][0]) and torch.equal(out, results[0][1])


def _at_offset(array, offset):
    """A C-contiguous copy of ``array`` whose data start ``offset`` bytes past a 64-byte
    boundary."""
    buf = np.empty(array.size + 16)
    start = (64 - buf.ctypes.data % 64) % 64 // 8 + offset // 8
    out = buf[start:start + array.size].reshape(array.shape)
    out[...] = array
    return out


@pytest.mark.parametrize("layout", ["rows", "lanes"])
def test_where_the_operands_lie_in_memory_does_not_change_a_bit(layout):
    # vector loads that straddle cache lines are slower, and the pass aligns its own work
    # arrays: the arithmetic, and so every bit, must not depend on either
    pq, (h, right), s, u = _problem(300, 10, 2, 1.0, seed=11)
    (pq, h, s, u), _ = _layout(layout, pq, h, s, u)
    results = []
    for offset in (0, 8, 32):
        state, hh, ss, uu = (_at_offset(t.numpy(), offset) for t in (pq, h, s, u))
        out = _at_offset(np.zeros(pq.shape[0] * (_fused.LANES if layout == "lanes" else 1)),
                         offset)
        _fused.update_and_gains(state, hh, right, ss, uu, 1.0, 2, out, threads=1)
        results.append((state, out))
    for state, out in results[1:]:
        np.testing.assert_array_equal(state, results[0][0])
        np.testing.assert_array_equal(out, results[0][1])


def test_threads_and_pieces_do_not_change_the_result(monkeypatch):
    rows, k = 2000, 6
    pq, hr, s, u = _problem(rows, k, 2, 1.0, seed=2)
    ref_state, ref = pq.clone(), torch.empty(rows, dtype=F64)
    _fused.update_and_gains(ref_state, *hr, s, u, 1.0, 2, ref, threads=1)
    for piece_entries in (1, 1000, 10**9):
        monkeypatch.setattr(_fused._parallel, "_PIECE_ENTRIES", piece_entries)
        state, out = pq.clone(), torch.empty(rows, dtype=F64)
        _fused.update_and_gains(state, *hr, s, u, 1.0, 2, out, threads=2)
        assert torch.equal(state, ref_state) and torch.equal(out, ref)


@pytest.mark.parametrize("layout", ["rows", "lanes"])
@pytest.mark.parametrize("threads", [1, 2])
def test_work_beside_the_pass_runs_once_on_this_thread(layout, threads, monkeypatch):
    """``beside`` runs once, on the calling thread, and the pass's bits do not change."""
    rows, k = 2000, 6
    pq, (h, right), s, u = _problem(rows, k, 2, 1.0, seed=4)
    (pq, h, s, u), _ = _layout(layout, pq, h, s, u)
    n_out = pq.shape[0] * (_fused.LANES if layout == "lanes" else 1)
    ref_state, ref = pq.clone(), torch.empty(n_out, dtype=F64)
    _fused.update_and_gains(ref_state, h, right, s, u, 1.0, 2, ref, threads=1)
    monkeypatch.setattr(_fused._parallel, "_PIECE_ENTRIES", 1000)  # many pieces
    calls, out = [], torch.empty_like(ref)
    _fused.update_and_gains(pq, h, right, s, u, 1.0, 2, out, threads=threads,
                            beside=lambda: calls.append(threading.get_ident()))
    assert calls == [threading.get_ident()]
    assert torch.equal(pq, ref_state) and torch.equal(out, ref)


def test_an_error_beside_the_pass_is_raised_once_every_row_is_done(monkeypatch):
    rows, k = 2000, 6
    pq, hr, s, u = _problem(rows, k, 2, 1.0, seed=5)
    ref_state = pq.clone()
    _fused.update_and_gains(ref_state, *hr, s, u, 1.0, 2, None, None, threads=1)
    monkeypatch.setattr(_fused._parallel, "_PIECE_ENTRIES", 1000)

    def fail():
        raise KeyError("beside")

    for threads in (1, 2):
        state = pq.clone()
        with pytest.raises(KeyError, match="beside"):
            _fused.update_and_gains(state, *hr, s, u, 1.0, 2, None, None, threads=threads,
                                    beside=fail)
        if threads == 2:  # the other thread took every piece before the error came out
            assert torch.equal(state, ref_state)
        else:  # on one thread the work beside comes first: no row was touched
            assert torch.equal(state, pq)


def test_empty_block():
    pq = torch.empty((0, 3, 6), dtype=F64)
    h, right = torch.empty((0, 4), dtype=F64), torch.zeros((4, 18), dtype=F64)
    s = u = torch.empty((0, 3), dtype=F64)
    out = torch.empty(0, dtype=F64)
    _fused.update_and_gains(pq, h, right, s, u, 1.0, 2, out)
    _fused.gains(pq, 2, out)


def test_tiles():
    assert _fused.tile_rows(1) == 256 and _fused.tile_rows(100) == 64
    assert 64 <= _fused.tile_rows(10) <= 256
    for k, halves in [(1, 2), (10, 2), (10, 1), (24, 2), (100, 2)]:
        tile = _fused.tile_rows(k, halves)
        assert _fused._parallel.piece_rows(k, halves, tile) % tile == 0


def test_rejects_bad_inputs():
    pq, (h, right), s, u = _problem(20, 3, 2, 1.0)
    out = torch.empty(20, dtype=F64)
    with pytest.raises(ValueError, match="float64"):
        _fused.update_and_gains(pq.float(), h, right, s, u, 1.0, 2, out)
    with pytest.raises(ValueError, match="C-contiguous"):
        _fused.update_and_gains(pq.transpose(1, 2), h, right, s, u, 1.0, 2, out)
    with pytest.raises(ValueError, match="C-contiguous"):
        _fused.update_and_gains(pq, h, right.T.contiguous().T, s, u, 1.0, 2, out)
    with pytest.raises(ValueError, match="halves"):
        _fused.update_and_gains(pq, h, right, s, u, 1.0, 1, out)
    with pytest.raises(ValueError, match="trace"):
        _fused.update_and_gains(pq[:, :, :3].contiguous(), h, right[:, :9].contiguous(), s, u,
                                1.0, 1, out, "trace")
    with pytest.raises(ValueError, match="h must have shape"):
        _fused.update_and_gains(pq, h[:10], right, s, u, 1.0, 2, out)
    with pytest.raises(ValueError, match="right must have shape"):
        _fused.update_and_gains(pq, h, right[:, :5].contiguous(), s, u, 1.0, 2, out)
    with pytest.raises(ValueError, match="s and u"):
        _fused.update_and_gains(pq, h, right, s[:10], u, 1.0, 2, out)
    with pytest.raises(ValueError, match="out_gains"):
        _fused.update_and_gains(pq, h, right, s, u, 1.0, 2, out[:5])
    with pytest.raises(ValueError, match="kind"):
        _fused.update_and_gains(pq, h, right, s, u, 1.0, 2, out, "det")


def test_rejects_bad_inputs_in_the_lanes_layout():
    pq, (h, right), s, u = _problem(100, 3, 2, 1.0)
    (pql, hl, sl, ul), _ = _layout("lanes", pq, h, s, u)
    out = torch.empty(pql.shape[0] * _fused.LANES, dtype=F64)
    with pytest.raises(ValueError, match="lanes layout"):
        _fused.update_and_gains(pql[..., :32].contiguous(), hl, right, sl, ul, 1.0, 2, out)
    with pytest.raises(ValueError, match="h must have shape"):  # a block short
        _fused.update_and_gains(pql, h[:64], right, sl, ul, 1.0, 2, out)
    with pytest.raises(ValueError, match="h must have shape"):  # the padding and more
        _fused.update_and_gains(pql, torch.cat([h, h[:40]]), right, sl, ul, 1.0, 2, out)
    with pytest.raises(ValueError, match="h must have shape"):
        _fused.update_and_gains(pql, _to_lanes(h), right, sl, ul, 1.0, 2, out)
    with pytest.raises(ValueError, match="s and u"):
        _fused.update_and_gains(pql, hl, right, s, ul, 1.0, 2, out)
    with pytest.raises(ValueError, match="out_gains"):  # one gain per lane, padding too
        _fused.update_and_gains(pql, hl, right, sl, ul, 1.0, 2, out[:100])
    with pytest.raises(ValueError, match="C-contiguous"):
        _fused.gains(pql.transpose(1, 2), 2, out)


def test_empty_block_in_the_lanes_layout():
    lanes = _fused.LANES
    pq = torch.empty((0, 3, 6, lanes), dtype=F64)
    h, right = torch.empty((0, 4), dtype=F64), torch.zeros((4, 18), dtype=F64)
    s = u = torch.empty((0, 3, lanes), dtype=F64)
    out = torch.empty(0, dtype=F64)
    _fused.update_and_gains(pq, h, right, s, u, 1.0, 2, out)
    _fused.gains(pq, 2, out)


@pytest.mark.parametrize("rows,k,width", [(1, 1, 1), (3, 5, 9), (4, 16, 4), (7, 2, 13),
                                          (13, 16, 30)])
def test_narrow_product_matches_blas(rows, k, width):
    gen = torch.Generator().manual_seed(rows + k)
    x = torch.randn(rows, k, generator=gen, dtype=F64)
    a = torch.randn(rows, width, generator=gen, dtype=F64)
    out = torch.full((k, width), float("nan"), dtype=F64)  # every entry must be written
    assert _fused.narrow_product(x, a, out) is out
    torch.testing.assert_close(out, x.T @ a, rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(_fused.narrow_product(x.numpy(), a.numpy(),
                                                        np.empty((k, width))), out.numpy())


@pytest.mark.parametrize("rows,k", [(9, 3), (8, 4), (6, 1), (3, 2)])
def test_narrow_product_has_a_fixed_order_of_operations(rows, k):
    """Bit for bit the order the kernel documents, which no vector width changes: each
    entry adds ``(x₀a₀ + x₁a₁) + (x₂a₂ + x₃a₃)`` over four rows at a time, then the rest
    of the rows one by one (odd and even ``k``: the outputs go two to a sweep)."""
    gen = np.random.default_rng(rows * k)
    x = gen.normal(size=(rows, k)) * 10.0 ** gen.integers(-8, 8, size=(rows, k))
    a = gen.normal(size=(rows, 5)) * 10.0 ** gen.integers(-8, 8, size=(rows, 5))
    want = np.zeros((k, 5))
    for c in range(k):
        for m in range(5):
            total, j = 0.0, 0
            while j + 3 < rows:
                t = [float(x[j + i, c]) * float(a[j + i, m]) for i in range(4)]
                total += (t[0] + t[1]) + (t[2] + t[3])
                j += 4
            for i in range(j, rows):
                total += float(x[i, c]) * float(a[i, m])
            want[c, m] = total
    got = _fused.narrow_product(x, a, np.empty((k, 5)))
    np.testing.assert_array_equal(got, want)


def test_narrow_product_rejects_bad_inputs():
    x, a = torch.ones(4, 2, dtype=F64), torch.ones(4, 3, dtype=F64)
    with pytest.raises(ValueError, match="float64"):
        _fused.narrow_product(x.float(), a, torch.empty(2, 3, dtype=F64))
    with pytest.raises(ValueError, match="C-contiguous"):
        _fused.narrow_product(x, torch.ones(3, 4, dtype=F64).T, torch.empty(2, 3, dtype=F64))
    with pytest.raises(ValueError, match=r"\(D, k\) and \(D, W\)"):
        _fused.narrow_product(x[:3], a, torch.empty(2, 3, dtype=F64))
    with pytest.raises(ValueError, match="out must have shape"):
        _fused.narrow_product(x, a, torch.empty(3, 2, dtype=F64))


def _pairs_reference(h):
    """Every row's i ≤ j feature pairs, in the order of torch.triu_indices."""
    first, second = torch.triu_indices(h.shape[1], h.shape[1])
    return h[:, first] * h[:, second]


@pytest.mark.parametrize("n,d,width", [(1, 1, 1), (5, 3, 2), (37, 6, 9), (64, 4, 1)])
def test_pair_contraction_matches_its_definition(n, d, width):
    gen = torch.Generator().manual_seed(n + d)
    h = torch.randn(n, d, generator=gen, dtype=F64)
    stacked = torch.randn(d * (d + 1) // 2, width, generator=gen, dtype=F64)
    before = h.clone(), stacked.clone()
    out = torch.full((n, width), float("nan"), dtype=F64)  # every entry must be written
    assert _fused.pair_contraction(h, stacked, out, threads=2) is out
    torch.testing.assert_close(out, _pairs_reference(h) @ stacked, rtol=1e-13, atol=1e-13)
    assert torch.equal(h, before[0]) and torch.equal(stacked, before[1]), "inputs changed"


def test_pair_contraction_does_not_depend_on_the_threads(monkeypatch):
    # blocks of 8 rows: 61 rows make seven whole blocks and a short one, shared unevenly
    monkeypatch.setattr(_fused, "block_rows", lambda d: 8)
    gen = torch.Generator().manual_seed(5)
    h = torch.randn(61, 7, generator=gen, dtype=F64)
    stacked = torch.randn(28, 11, generator=gen, dtype=F64)
    results = [_fused.pair_contraction(h, stacked, torch.empty(61, 11, dtype=F64),
                                       threads=t) for t in (1, 2, 3)]
    assert all(torch.equal(r, results[0]) for r in results[1:])
    torch.testing.assert_close(results[0], _pairs_reference(h) @ stacked, rtol=1e-13,
                               atol=1e-13)


def test_pair_contraction_blocks():
    from skbait._kernels._fused._setup import _BLOCK_MAX_ROWS, _BLOCK_MIN_ROWS

    assert _fused.block_rows(64) == _BLOCK_MAX_ROWS  # 2080 pairs: 256 rows take 4 MB
    assert _fused.block_rows(128) == 254  # 8256 pairs: 16 MB
    assert _fused.block_rows(4096) == _BLOCK_MIN_ROWS


def test_pair_contraction_rejects_bad_inputs():
    h, stacked = torch.ones(4, 3, dtype=F64), torch.ones(6, 2, dtype=F64)
    with pytest.raises(ValueError, match="float64"):
        _fused.pair_contraction(h.float(), stacked, torch.empty(4, 2, dtype=F64))
    with pytest.raises(ValueError, match="C-contiguous"):
        _fused.pair_contraction(torch.ones(3, 4, dtype=F64).T, stacked,
                                torch.empty(4, 2, dtype=F64))
    with pytest.raises(ValueError, match=r"\(d\(d \+ 1\)/2, W\)"):
        _fused.pair_contraction(h, stacked[:5], torch.empty(4, 2, dtype=F64))
    with pytest.raises(ValueError, match=r"\(n, W\)"):
        _fused.pair_contraction(h, stacked, torch.empty(4, 3, dtype=F64))
    empty = torch.empty(0, 2, dtype=F64)
    assert _fused.pair_contraction(torch.ones(0, 3, dtype=F64), stacked, empty) is empty


@pytest.mark.parametrize("n,d,m", [(1, 1, 1), (5, 3, 2), (37, 6, 9), (300, 23, 3)])
def test_pair_gram_matches_its_definition(n, d, m):
    # d = 23: 276 pairs, two ranges of GRAM_PAIRS, the second short
    gen = torch.Generator().manual_seed(n + d)
    h = torch.randn(n, d, generator=gen, dtype=F64)
    g = torch.randn(n, m, generator=gen, dtype=F64)
    start = torch.randn(d * (d + 1) // 2, m, generator=gen, dtype=F64)
    before = h.clone(), g.clone()
    total = start.clone()
    assert _fused.pair_gram(h, g, total, threads=2) is total
    torch.testing.assert_close(total, start + _pairs_reference(h).T @ g, rtol=1e-13,
                               atol=1e-13)
    assert torch.equal(h, before[0]) and torch.equal(g, before[1]), "inputs changed"


def test_pair_gram_does_not_depend_on_the_threads():
    # 595 pairs: two whole ranges and a short one, shared unevenly; 1100 rows: two whole
    # blocks and a short one
    gen = torch.Generator().manual_seed(6)
    h = torch.randn(1100, 34, generator=gen, dtype=F64)
    g = torch.randn(1100, 4, generator=gen, dtype=F64)
    results = [_fused.pair_gram(h, g, torch.zeros(595, 4, dtype=F64), threads=t)
               for t in (1, 2, 3)]
    assert all(torch.equal(r, results[0]) for r in results[1:])
    torch.testing.assert_close(results[0], _pairs_reference(h).T @ g, rtol=1e-13,
                               atol=1e-13)


def test_pair_gram_rejects_bad_inputs():
    h, g = torch.ones(4, 3, dtype=F64), torch.ones(4, 2, dtype=F64)
    with pytest.raises(ValueError, match="float64"):
        _fused.pair_gram(h, g.float(), torch.zeros(6, 2, dtype=F64))
    with pytest.raises(ValueError, match="writable"):
        _fused.pair_gram(h, g, _read_only(np.zeros((6, 2))))
    with pytest.raises(ValueError, match=r"\(d\(d \+ 1\)/2, m\)"):
        _fused.pair_gram(h, g, torch.zeros(5, 2, dtype=F64))
    with pytest.raises(ValueError, match=r"\(n, m\)"):
        _fused.pair_gram(h, g[:3], torch.zeros(6, 2, dtype=F64))
    total = torch.ones(6, 2, dtype=F64)  # no rows add nothing
    assert torch.equal(_fused.pair_gram(h[:0], g[:0], total), torch.ones(6, 2, dtype=F64))


def _read_only(array):
    array.setflags(write=False)
    return array


def test_compile_info():
    info = _fused.compile_info()
    assert info["source"] in {"compiled", "cache"} and info["seconds"] >= 0
    assert info["numba"] == numba.__version__
    # the BLAS that the tiles' np.dot calls (scipy's, through numba) is among those listed
    import scipy.linalg  # noqa: F401  (loaded by the compile already)
    import threadpoolctl

    apis = {entry["internal_api"] for entry in info["blas"]}
    assert apis and apis <= {"openblas", "mkl", "blis", "flexiblas"}
    listed = {entry["filepath"] for entry in info["blas"]}
    assert {lib["filepath"] for lib in threadpoolctl.threadpool_info()
            if lib["user_api"] == "blas" and "scipy" in lib["filepath"]} <= listed


def test_choose_threads():
    assert _fused.choose_threads(10, 2, max_threads=8) == 1  # tiny: not worth a thread
    assert _fused.choose_threads(400, 10, max_threads=2) == 1
    assert _fused.choose_threads(10_000, 10, max_threads=1) == 1
    assert _fused.choose_threads(10_000, 10, max_threads=2) == 2
    assert _fused.choose_threads(200_000, 10, max_threads=4) == 4
    assert _fused.choose_threads(1197, 10, max_threads=2) == 1  # digits: one is as fast
    assert _fused.choose_threads(60, 100, max_threads=32) == 20  # pieces of 3 rows
    assert _fused.choose_threads(20_000, 10, 1, max_threads=2) == 2


# -- whole greedy runs: the fused pass picks the batch the eager torch path picks ---------

def _force_eager(monkeypatch):
    """Force the fallback a machine without numba takes."""
    monkeypatch.setattr(_fused, "available", lambda: False)


def _pool(n, d, k, seed):
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(n, d, generator=gen, dtype=F64)
    if k == 1:
        from skbait._kernels.fisher import binary_factors

        return binary_factors(h, torch.rand(n, generator=gen, dtype=F64))
    proba = torch.softmax(torch.randn(n, k, generator=gen, dtype=F64), 1)
    return softmax_factors(h, proba)


def test_the_states_take_the_fused_path_here():
    pool = _pool(50, 3, 4, seed=0)
    state = TraceState(pool, torch.eye(12, dtype=F64), torch.eye(12, dtype=F64))
    assert state.rows.fused


@pytest.mark.parametrize("k,lanes", [(4, True), (16, True), (17, False)])
def test_candidate_rows_are_in_the_lanes_layout_up_to_16_classes(k, lanes, monkeypatch):
    from skbait._kernels.fisher import Factors

    n, d = 150, 3  # the last block of lanes is padded
    pool = _pool(n, d, k, seed=k)
    pool = Factors(*(torch.cat([t, t[:5]]) for t in pool))  # copies of the first 5 rows
    D = d * k
    gen = torch.Generator().manual_seed(k)
    root = torch.randn(D, D, generator=gen, dtype=F64)
    fisher = root @ root.T / D
    m0 = torch.eye(D, dtype=F64) + fisher
    state = TraceState(pool, m0, fisher)
    assert state.rows.fused and state.rows.lanes is lanes
    _force_eager(monkeypatch)
    eager = TraceState(pool, m0, fisher)
    assert not eager.rows.lanes
    for index in (0, 63, 64, 149, 150, 154):
        torch.testing.assert_close(state.rows.row(index), eager.rows.row(index), rtol=1e-12,
                                   atol=1e-13)
    assert torch.equal(state.rows.row(151), state.rows.row(1))  # a copy shares its row
    for got, want in ((state.gains(), eager.gains()), (state.add(7), eager.add(7))):
        assert got.shape == (n + 5,)
        _assert_close_rel(got, want, rtol=1e-10)
        assert torch.equal(got[n:], got[:5])
    # after an update too, a row in the lanes layout comes whole (P made symmetric from
    # the lower triangle the pass keeps), the eager path's row to rounding
    for index in (0, 63, 149, 154):
        row = state.rows.row(index)
        assert torch.equal(row[:, :k], row[:, :k].mT) or not lanes
        torch.testing.assert_close(row, eager.rows.row(index), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("small_products", [True, False])
def test_the_global_part_runs_beside_the_pass_only_on_the_loops_one_thread(
        small_products, monkeypatch):
    """With torch on one thread in the loop, the updates of M⁻¹ and of the members go to
    the pass as its work beside; with torch's threads kept, after it; the picks agree."""
    import skbait._kernels.threads as threads_module

    if not small_products:  # every D × D × k product counts as large: torch keeps threads
        monkeypatch.setattr(threads_module, "PARALLEL_PRODUCT_MIN", 0)
    pool = _pool(300, 4, 3, seed=1)
    m0, fisher = torch.eye(12, dtype=F64), fisher_sum(pool) / 300
    state = TraceState(pool, m0 + fisher, fisher, removals=True)
    assert state.global_beside is small_products
    seen, update = [], type(state.rows).update

    def spy(self, *args, beside=None, **kwargs):
        seen.append(beside is not None)
        return update(self, *args, beside=beside, **kwargs)

    monkeypatch.setattr(type(state.rows), "update", spy)
    picks = bait_kernel.greedy(state, 4, 8).indices
    assert seen and all(b is small_products for b in seen)
    again = TraceState(pool, m0 + fisher, fisher, removals=True)
    again.global_beside = not small_products
    assert list(bait_kernel.greedy(again, 4, 8).indices) == list(picks)


@pytest.mark.parametrize("k,narrow", [(4, True), (16, True), (17, False)])
def test_the_loops_products_are_narrow_up_to_16_columns(k, narrow, monkeypatch):
    pool = _pool(30, 3, k, seed=k)
    D = 3 * k
    gen = torch.Generator().manual_seed(k)
    root = torch.randn(D, D, generator=gen, dtype=F64)
    fisher = root @ root.T / D  # row-major, as fisher_sum returns it
    state = TraceState(pool, torch.eye(D, dtype=F64) + fisher, fisher)
    assert state.compiled_global is narrow
    assert not state.minv.is_contiguous()  # LAPACK's column-major inverse
    other = torch.randn(D, k, generator=gen, dtype=F64)
    for sym in (state.minv, state.fisher):  # sym @ other for either layout
        torch.testing.assert_close(state.times(sym, other), sym @ other, rtol=1e-12,
                                   atol=1e-14)
    _force_eager(monkeypatch)
    assert not TraceState(pool, torch.eye(D, dtype=F64), fisher).compiled_global


@pytest.mark.parametrize("n,d,k,chunk", [(400, 6, 3, None), (300, 5, 4, 64), (250, 8, 1, 50),
                                         (120, 3, 26, 40)])
def test_bait_greedy_same_picks(n, d, k, chunk, monkeypatch):
    from skbait._kernels.fisher import fisher_sum

    pool = _pool(n, d, k, seed=n + k)
    D = d * k
    fisher = fisher_sum(pool) / n
    m0 = torch.eye(D, dtype=F64) * 0.1
    got = bait_kernel.bait_greedy(pool, fisher, m0, 8, 16, chunk_size=chunk)
    _force_eager(monkeypatch)
    want = bait_kernel.bait_greedy(pool, fisher, m0, 8, 16, chunk_size=chunk)
    np.testing.assert_array_equal(got.indices, want.indices)
    _assert_close_rel(got.forward_gains, want.forward_gains, rtol=1e-10)
    _assert_close_rel(got.backward_losses, want.backward_losses, rtol=1e-8)
    assert abs(got.objective - want.objective) <= 1e-10 * abs(want.objective)


@pytest.mark.parametrize("n,d,k", [(300, 5, 3), (200, 4, 1), (100, 3, 28)])
def test_logdet_greedy_same_picks(n, d, k, monkeypatch):
    pool = _pool(n, d, k, seed=k)
    m0 = torch.eye(d * k, dtype=F64)
    got_idx, got_gain = logdet_kernel.logdet_greedy(pool, m0, 10)
    _force_eager(monkeypatch)
    want_idx, want_gain = logdet_kernel.logdet_greedy(pool, m0, 10)
    np.testing.assert_array_equal(got_idx, want_idx)
    _assert_close_rel(got_gain, want_gain, rtol=1e-10)


# -- threads: torch on one thread while the loop runs, the pass on the caller's -----------

def test_torch_threads_restores_the_callers_setting():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="inside"):
        with torch_threads(before + 1):
            assert torch.get_num_threads() == before + 1
            raise RuntimeError("inside")
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("d,k,one_thread", [(5, 3, True), (12, 100, False)])
def test_loop_holds_torch_to_one_thread_for_small_products(d, k, one_thread, monkeypatch):
    """While greedy() runs a fused state with small D × D products, torch has one thread
    and the pass the caller's budget; afterwards the caller's setting is back."""
    from skbait._kernels import greedy as greedy_module

    pool = _pool(40, d, k, seed=1)
    seen = {}
    original = _fused.update_and_gains

    def spy(*args, threads=None, **kwargs):
        seen.setdefault("torch", torch.get_num_threads())
        seen.setdefault("budget", state.rows.threads)
        return original(*args, threads=threads, **kwargs)

    monkeypatch.setattr(_fused, "update_and_gains", spy)
    with torch_threads(3):
        state = TraceState(pool, torch.eye(d * k, dtype=F64), torch.eye(d * k, dtype=F64))
        greedy_module.greedy(state, 2)
        assert torch.get_num_threads() == 3
    assert seen["budget"] == 3
    assert seen["torch"] == (1 if one_thread else 3)


def test_eager_loop_keeps_torchs_threads(monkeypatch):
    _force_eager(monkeypatch)
    pool = _pool(30, 4, 3, seed=2)
    state = TraceState(pool, torch.eye(12, dtype=F64), torch.eye(12, dtype=F64))
    with torch_threads(2):
        with state.running():
            assert torch.get_num_threads() == 2


# -- the members' update (removals are scored from it) -------------------------------------

def _member_problem(m, d, k, sign, seed):
    """Members, a design ``M`` that holds them, ``F``, and a rank-``k`` change of ``M`` by
    ``sign·UUᵀ``: everything in ``D = d·k`` dimensions, to check the members' ``P̂, Q̂``
    against their definitions ``P̂_x = Ṽ_xᵀ M₋ₓ⁻¹ Ṽ_x``, ``Q̂_x = Ṽ_xᵀ M₋ₓ⁻¹ F M₋ₓ⁻¹ Ṽ_x``
    (``M₋ₓ = M − Ṽ_x Ṽ_xᵀ``) before and after the change."""
    members = _pool(m, d, k, seed)
    D = d * k
    gen = torch.Generator().manual_seed(seed)
    root = torch.randn(D, D, generator=gen, dtype=F64)
    factors = [members.dense(x) for x in range(m)]
    u_mat = torch.randn(D, k, generator=gen, dtype=F64)
    # a removal takes out a factor that M holds
    design = torch.eye(D, dtype=F64) + root @ root.T / D + sum(v @ v.T for v in factors) \
        + (u_mat @ u_mat.T if sign < 0 else 0)
    root = torch.randn(D, D, generator=gen, dtype=F64)
    fisher = root @ root.T / D

    def member_state(mat):
        p_hat, q_hat = [], []
        for v in factors:
            inv = torch.linalg.inv(mat - v @ v.T)
            p_hat.append(v.T @ inv @ v)
            q_hat.append(v.T @ inv @ fisher @ inv @ v)
        return torch.stack(p_hat), torch.stack(q_hat)

    minv = torch.linalg.inv(design)
    # M⁻¹ changes by −sign·R'R'ᵀ: R' = M⁻¹U L with L Lᵀ = (I + sign·UᵀM⁻¹U)⁻¹
    inner = torch.eye(k, dtype=F64) + sign * u_mat.T @ minv @ u_mat
    r = minv @ u_mat @ torch.linalg.cholesky(torch.linalg.inv(inner))
    w_mat = r.T @ fisher @ r
    e_mat = minv @ fisher @ r - 0.5 * sign * r @ w_mat
    return members, member_state(design), member_state(design + sign * u_mat @ u_mat.T), \
        r, e_mat, w_mat


def _assert_close_to_scale(got, want, rtol=1e-11):
    """Each matrix to ``rtol`` of its largest entry: the definitions' inverses of
    ``M₋ₓ`` leave its small entries with large relative errors."""
    worst = ((got - want).abs().amax(dim=(1, 2)) / want.abs().amax(dim=(1, 2))).max()
    assert float(worst) <= rtol, f"max difference {float(worst):.3g} of the scale > {rtol:g}"


@pytest.mark.parametrize("k", [1, 2, 3, 5, 16])
@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("trace", [True, False])
def test_update_members_follows_the_definitions(k, sign, trace):
    d = 3
    members, (p_hat, q_hat), (p_want, q_want), r, e_mat, w_mat = _member_problem(
        6, d, k, sign, seed=k + 10 * (sign > 0))
    both = torch.cat([r, e_mat], dim=1) if trace else r
    products = (members.h @ both.reshape(d, -1)).reshape(6, k, -1)
    before = products.clone()
    if trace:
        _fused.update_members(products, members.s, members.u, p_hat, q_hat, w_mat,
                              sign=sign)
        _assert_close_to_scale(q_hat, q_want)
    else:
        _fused.update_members(products, members.s, members.u, p_hat, sign=sign)
    _assert_close_to_scale(p_hat, p_want)
    assert torch.equal(p_hat, p_hat.transpose(1, 2))  # exactly symmetric, as symmetric()
    assert torch.equal(products, before)  # read only


def test_update_members_pivots_on_an_indefinite_system():
    """A removal's ``Â = −I + aᵀ(I + P̂)a`` here is ``[[0, 1], [1, 1]]``: elimination
    without row exchanges would divide by its zero leading entry."""
    a = torch.tensor([[1.0, 1.0], [0.0, 1.0]], dtype=F64)
    p_hat = torch.zeros(1, 2, 2, dtype=F64)
    ones, zeros = torch.ones(1, 2, dtype=F64), torch.zeros(1, 2, dtype=F64)  # C = I
    _fused.update_members(a[None].clone(), ones, zeros, p_hat, sign=-1.0)
    big = -torch.eye(2, dtype=F64) + a.T @ a
    assert big[0, 0] == 0
    torch.testing.assert_close(p_hat[0], -a @ torch.linalg.inv(big) @ a.T, rtol=1e-14,
                               atol=1e-14)


def test_update_members_rejects_bad_inputs():
    products, s = torch.zeros(2, 3, 6, dtype=F64), torch.ones(2, 3, dtype=F64)
    p_hat, q_hat, w_mat = (torch.zeros(2, 3, 3, dtype=F64), torch.zeros(2, 3, 3, dtype=F64),
                           torch.zeros(3, 3, dtype=F64))
    with pytest.raises(ValueError, match="halves"):
        _fused.update_members(torch.zeros(2, 3, 5, dtype=F64), s, s, p_hat, sign=1.0)
    with pytest.raises(ValueError, match="q_hat and w_mat go with"):
        _fused.update_members(products, s, s, p_hat, sign=1.0)
    with pytest.raises(ValueError, match="q_hat and w_mat go with"):
        _fused.update_members(products[:, :, :3].contiguous(), s, s, p_hat, q_hat, w_mat,
                              sign=1.0)
    with pytest.raises(ValueError, match="shapes"):
        _fused.update_members(products, s[:1], s, p_hat, q_hat, w_mat, sign=1.0)
    with pytest.raises(ValueError, match="shapes"):
        _fused.update_members(products, s, s, p_hat, q_hat[:1], w_mat, sign=1.0)
    with pytest.raises(ValueError, match="writable"):
        _fused.update_members(products, s, s, _read_only(np.zeros((2, 3, 3))), q_hat, w_mat,
                              sign=1.0)
    with pytest.raises(ValueError, match="float64"):
        _fused.update_members(products, s.float(), s, p_hat, q_hat, w_mat, sign=1.0)


@pytest.mark.parametrize("k,compiled", [(4, True), (17, False)])
def test_removals_use_the_compiled_member_update_up_to_16_classes(k, compiled, monkeypatch):
    """Up to k = 16 the members' update and their removal costs are compiled: the costs
    from the pass's gains, one call per removal on the remaining members' blocks."""
    calls, scored = [], []
    update, gains = _fused.update_members, _fused.gains
    monkeypatch.setattr(_fused, "update_members",
                        lambda *a, **kw: calls.append(1) or update(*a, **kw))
    monkeypatch.setattr(_fused, "gains",
                        lambda pq, *a, **kw: scored.append(pq.shape[0]) or gains(pq, *a, **kw))
    pool = _pool(40, 2, k, seed=3)
    D = 2 * k
    got = bait_kernel.bait_greedy(pool, torch.eye(D, dtype=F64), torch.eye(D, dtype=F64),
                                  3, 6)
    assert bool(calls) is compiled
    assert (scored[-3:] == [6, 5, 4]) is compiled
    assert len(got.indices) == 3
