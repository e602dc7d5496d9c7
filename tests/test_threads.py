"""The thread policy of a whole selection (skbait/_kernels/threads.py): a small problem
runs on one thread from its setup on; so does torch when the compiled pass does the
per-candidate work and the products and the setup's GEMMs are small, the pass keeping the
caller's threads; a large one keeps the caller's threads; and the caller's setting comes
back afterwards, also after an error. Beside other processes, the compiled pass takes
fewer threads (its CoreWatch) and picks the same batch. A model's forward pass over a
small input runs its BLAS on one thread.

The loop's own policy (torch on one thread beside the compiled pass) is tested with the
pass, in tests/test_fused.py.
"""

import contextlib
import time

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from skbait import BaitSampler, CoresetSampler, UncertaintySampler
from skbait._kernels import _fused
from skbait._kernels import bait as bait_kernel
from skbait._kernels import logdet as logdet_kernel
from skbait._kernels import woodbury
from skbait._kernels._fused import _parallel
from skbait._kernels._constants import (
    PARALLEL_SETUP_MIN,
    PARALLEL_STATE_MIN,
    SETUP_COMPILED_MAX_K,
)
from skbait._kernels._numerics import torch_threads
from skbait._kernels.fisher import Factors, rank_one_factors, softmax_factors
from skbait._kernels.threads import selection_threads, setup_threads, thread_budget

F64 = torch.float64


class _Seen(Exception):
    """Raised by the spies once they have seen the thread count: the rest is not needed."""


def _softmax_pool(n, d, k, seed=0):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(n, d, dtype=F64, generator=g)
    return softmax_factors(h, torch.softmax(torch.randn(n, k, dtype=F64, generator=g), 1))


def _spy(monkeypatch, module, name, seen):
    def record(*args, **kwargs):
        seen.append(torch.get_num_threads())
        raise _Seen

    monkeypatch.setattr(module, name, record)


def _cores_report(patch, share):
    """Every pass on more than one thread reports ``share`` to its CoreWatch instead of
    what it measured, so that the host's own load (a busy CI runner) cannot decide the
    thread counts a test asserts."""
    record = _fused.CoreWatch.record

    def reported(self, threads, measured):  # one thread: nothing to compare
        return record(self, threads, None if threads == 1 else share)

    patch.setattr(_fused.CoreWatch, "record", reported)


@pytest.mark.parametrize("module, spied, entry", [
    (bait_kernel, "pool_fisher", "bait_select_factors"),  # the setup's first step
    (logdet_kernel, "logdet_greedy", "logdet_select_factors"),
])
def test_small_selection_runs_on_one_thread_from_its_setup(monkeypatch, module, spied, entry):
    seen = []
    _spy(monkeypatch, module, spied, seen)
    pool = _softmax_pool(50, 4, 3)
    with torch_threads(2):
        with pytest.raises(_Seen):
            getattr(module, entry)(pool, torch.zeros(12, 12, dtype=F64), 5, 3)
        assert torch.get_num_threads() == 2  # restored after the error
    assert seen == [1]


def test_large_state_keeps_the_callers_threads_without_the_fused_pass(monkeypatch):
    # BAIT's state at the one-thread limit (two 1 × 1 blocks per candidate), then one
    # candidate below it; torch does the per-candidate work
    monkeypatch.setattr(_fused, "available", lambda: False)
    n = PARALLEL_STATE_MIN // 2
    pool = rank_one_factors(torch.ones(n, 1, dtype=F64))
    with torch_threads(2):
        with selection_threads(pool, 2):
            assert torch.get_num_threads() == 2
        with selection_threads(pool.rows(slice(0, n - 1)), 2):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2


def _needs_the_fused_pass():
    pytest.importorskip("numba", reason="numba is not installed: the fused pass needs it")
    if not _fused.available():
        pytest.fail(f"numba is installed but the fused pass is not available: "
                    f"{_fused.compile_info()}")


def test_with_the_fused_pass_torch_takes_one_thread_below_the_setup_limit():
    # d = 64, k = 16: n·d²·k² = n·2^20, at the limit for n = 2^13; the state (two 16 × 16
    # blocks per candidate) and the products (D = 1024) are large and small throughout
    _needs_the_fused_pass()
    d, k = 64, 16
    n = PARALLEL_SETUP_MIN // (d * d * k * k)
    assert n * 2 * k * k >= PARALLEL_STATE_MIN
    pool = _softmax_pool(n, d, k)
    with torch_threads(2):
        with selection_threads(pool, 2):
            assert torch.get_num_threads() == 2
            assert thread_budget() == 2
        with selection_threads(pool.rows(slice(0, n - 1)), 2):
            assert torch.get_num_threads() == 1
            assert thread_budget() == 2  # the pass keeps the caller's threads
            with selection_threads(pool, 2):  # nested: still the outer caller's budget
                assert thread_budget() == 2
        assert torch.get_num_threads() == 2
        assert thread_budget() == 2  # outside a selection: torch's own count


def test_the_pass_keeps_the_callers_threads_while_torch_has_one(monkeypatch):
    # a state above the one-thread limit, a small setup: torch runs the selection on one
    # thread, and every pass over the candidates is given the caller's two
    _needs_the_fused_pass()
    seen = []
    update = _fused.update_and_gains

    def spy(*args, threads=None, **kwargs):
        seen.append((torch.get_num_threads(), threads))
        return update(*args, threads=threads, **kwargs)

    def setup_spy(*args, **kwargs):  # the candidates' first blocks, in the setup
        setup.append(torch.get_num_threads())
        return quad_forms(*args, **kwargs)

    setup, quad_forms = [], woodbury.quad_forms
    _cores_report(monkeypatch, 1.0)
    monkeypatch.setattr(_fused, "update_and_gains", spy)
    monkeypatch.setattr(woodbury, "quad_forms", setup_spy)
    pool = _softmax_pool(PARALLEL_STATE_MIN // (2 * 8 * 8), 4, 8)
    with torch_threads(2):
        bait_kernel.bait_select_factors(pool, torch.zeros(32, 32, dtype=F64), 5, 3)
        assert torch.get_num_threads() == 2
    assert setup == [1]
    assert seen and set(seen) == {(1, 2)}


def test_setup_threads_follow_the_pass_up_to_16_classes(monkeypatch):
    _needs_the_fused_pass()
    large = _softmax_pool(PARALLEL_STATE_MIN // (2 * 8 * 8) + 1, 4, 8)  # over the limit
    small = _softmax_pool(100, 4, 8)
    with torch_threads(2):
        assert setup_threads(large, 2) == 2
        assert setup_threads(small, 2) == 1  # as the pass over a small state
        wide = _softmax_pool(3, 2, SETUP_COMPILED_MAX_K + 1)
        assert setup_threads(wide, 2) is None  # torch's, on its threads
        assert setup_threads(Factors(*(t.float() for t in small)), 2) is None
        monkeypatch.setattr(_fused, "available", lambda: False)
        assert setup_threads(large, 2) is None


def test_the_setup_contracts_the_pool_compiled_on_the_callers_threads(monkeypatch):
    # a state over the one-thread limit and a small setup: torch holds one thread, the
    # setup's two pair contractions get the caller's two
    _needs_the_fused_pass()
    seen = []
    for name in ("pair_contraction", "pair_gram"):
        def spy(*args, kernel=getattr(_fused, name), name=name, **kwargs):
            seen.append((name, torch.get_num_threads(), kwargs["threads"]))
            return kernel(*args, **kwargs)

        monkeypatch.setattr(_fused, name, spy)
    pool = _softmax_pool(PARALLEL_STATE_MIN // (2 * 8 * 8), 4, 8)
    with torch_threads(2):
        bait_kernel.bait_select_factors(pool, torch.zeros(32, 32, dtype=F64), 5, 3)
    assert {name for name, _, _ in seen} == {"pair_contraction", "pair_gram"}
    assert {(torch_count, threads) for _, torch_count, threads in seen} == {(1, 2)}


def test_a_refresh_while_the_cores_are_shared_takes_the_passes_threads(monkeypatch):
    """Blocks recomputed in the loop (TraceState.refresh) while the watch holds the passes
    to one thread: the setup's contraction runs on one too, and gives the same blocks."""
    _needs_the_fused_pass()
    pool = _softmax_pool(PARALLEL_STATE_MIN // (2 * 8 * 8) + 1, 4, 8)
    seen, kernel = [], _fused.pair_contraction

    def spy(*args, **kwargs):
        seen.append(kwargs["threads"])
        return kernel(*args, **kwargs)

    monkeypatch.setattr(_fused, "pair_contraction", spy)
    eye = torch.eye(32, dtype=F64)
    with torch_threads(2):
        state = woodbury.TraceState(pool, eye, eye)
        quiet = state.rows.blocks.clone()
        state.rows.cores.lowered = 1  # as after two passes beside a busy process
        state.refresh()
    assert seen == [2, 1]
    assert torch.equal(state.rows.blocks, quiet)


def test_large_products_keep_the_callers_threads():
    # D = 960, k = 320: D²k ≥ 2^27, however few the candidates
    pool = _softmax_pool(3, 3, 320)
    with torch_threads(2):
        with selection_threads(pool, 2):
            assert torch.get_num_threads() == 2


# -- the pass's threads beside another process (_fused.CoreWatch) ------------------------

def test_core_watch_takes_one_thread_after_two_shared_passes_and_tries_again():
    retry = _parallel._RETRY_AFTER
    watch = _fused.CoreWatch(2)
    assert watch.max_threads() == 2
    watch.record(2, 0.5)
    assert watch.max_threads() == 2  # one pass off its cores is not yet another process
    watch.record(2, 0.99)
    watch.record(2, 0.5)
    watch.record(2, None)  # not measured: changes nothing
    assert watch.max_threads() == 2 and not watch.shared
    watch.record(2, 0.5)  # two threads that got one core's worth
    assert watch.shared and watch.max_threads() == 1
    for _ in range(retry):
        assert watch.max_threads() == 1
        watch.record(1, None)
    assert watch.max_threads() == 2  # the whole budget again, once
    watch.record(2, 0.6)  # still shared: a single pass says so
    assert watch.max_threads() == 1
    for _ in range(retry):
        watch.record(1, None)
    watch.record(2, 0.98)  # the other process has gone
    assert not watch.shared and watch.max_threads() == 2
    for _ in range(3 * retry):  # passes on one thread by choice change nothing
        watch.record(1, None)
    assert watch.max_threads() == 2


def test_core_watch_keeps_the_cores_worth_of_threads_they_got():
    retry = _parallel._RETRY_AFTER
    watch = _fused.CoreWatch(8)
    watch.record(8, 0.5)
    watch.record(8, 0.45)  # 3.6 cores' worth: four threads
    assert watch.max_threads() == 4
    for _ in range(retry):  # passes on those four (or fewer) threads are not tries
        watch.record(4, 0.99)
        watch.record(3, None)
    assert watch.max_threads() == 8
    watch.record(8, 0.3)  # a try: 2.4 cores' worth now
    assert watch.max_threads() == 2
    watch.record(2, 0.99)
    assert watch.max_threads() == 2


class _Reports:
    def __init__(self):
        self.seen = []

    def record(self, threads, share):
        self.seen.append((threads, share))


def test_parallel_rows_reports_how_long_its_threads_were_on_a_core(monkeypatch):
    # a sleeping thread is off its core: whatever the machine's load, the share is small
    def sleepy(lo, hi):
        time.sleep(0.003)

    reports = _Reports()
    _parallel.parallel_rows(sleepy, (), 8, 2, 1, watch=reports)
    _parallel.parallel_rows(sleepy, (), 8, 1, 1, watch=reports)
    (threads, share), one = reports.seen
    assert threads == 2 and 0 <= share < _parallel._SHARED_BELOW
    assert one == (1, None)
    # where the thread clock cannot resolve a pass, nothing is measured
    monkeypatch.setattr(_parallel, "_CLOCK_RESOLUTION", 0.0)
    _parallel.parallel_rows(sleepy, (), 8, 2, 1, watch=reports)
    assert reports.seen[-1] == (2, None)


def test_passes_beside_another_process_take_one_thread_and_the_same_picks(monkeypatch):
    """Every pass made to look shared (its threads on a core half the time): after two,
    the passes run on one thread, with the whole budget every few passes, and the
    selection picks what it picks on a quiet machine (both made up by `_cores_report`)."""
    _needs_the_fused_pass()
    pool = _softmax_pool(PARALLEL_STATE_MIN // (2 * 8 * 8), 4, 8)
    minv = torch.zeros(32, 32, dtype=F64)

    def select(share):
        seen = []
        update = _fused.update_and_gains

        def spy(*args, threads=None, **kwargs):
            seen.append(threads)
            return update(*args, threads=threads, **kwargs)

        with monkeypatch.context() as patch:
            patch.setattr(_fused, "update_and_gains", spy)
            _cores_report(patch, share)
            patch.setattr(_parallel, "_RETRY_AFTER", 3)
            with torch_threads(2):
                picks = bait_kernel.bait_select_factors(pool, minv, 6, 4)
        return picks, seen

    quiet_picks, quiet = select(1.0)
    assert set(quiet) == {2}
    # as if the two threads took turns on one core
    picks, seen = select(0.5)
    # the same bits whatever the threads: the same picks, gains and losses
    for got, want in zip(picks, quiet_picks):
        np.testing.assert_array_equal(got, want)
    # the initial scores' pass (not spied) and the first update saw the cores shared; then
    # three passes on one thread, a try of both, found shared again, and so on
    assert len(seen) >= 6 and seen == ([2] + [1, 1, 1, 2] * len(seen))[:len(seen)], seen


# --- a model's forward pass -----------------------------------------------------------------

def _blas_threads():
    import threadpoolctl

    return [info["num_threads"] for info in threadpoolctl.threadpool_info()
            if info["user_api"] == "blas"]


class _RecordingModel(LogisticRegression):
    """A classifier that records the BLAS libraries' thread counts in its forward pass."""

    seen = []

    def predict_proba(self, X):
        type(self).seen.append(_blas_threads())
        return super().predict_proba(X)


def _forward_threads(make, X, monkeypatch, limit=None):
    import threadpoolctl

    from skbait._kernels import threads

    if limit is not None:
        monkeypatch.setattr(threads, "FORWARD_ONE_THREAD_MAX", limit)
    X_lab, y_lab = X[:30], np.arange(30) % 3
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        _RecordingModel.seen = []
        make(_RecordingModel(max_iter=50)).fit(X_lab, y_lab).select(X, 3)
        assert _blas_threads() == before  # the caller's setting is back
    return before, _RecordingModel.seen


def _recording_embedding(estimator, X):
    """Coreset's representation of a linear model is X itself: a callable embedding is
    its forward pass, recorded as the model's."""
    _RecordingModel.seen.append(_blas_threads())
    return X


_FORWARD_SAMPLERS = {
    "bait": lambda model: BaitSampler(model, device="cpu"),
    "coreset": lambda model: CoresetSampler(model, embedding=_recording_embedding,
                                            device="cpu"),
    "uncertainty": lambda model: UncertaintySampler(model, device="cpu"),
}


@pytest.mark.parametrize("name", sorted(_FORWARD_SAMPLERS))
def test_a_small_forward_runs_its_blas_on_one_thread(name, monkeypatch):
    # a second BLAS thread gains nothing there, and its idle worker would spin on the
    # other core into the selection (benchmarks/README.md, "A model's BLAS threads")
    X = np.random.default_rng(0).normal(size=(60, 4))
    before, seen = _forward_threads(_FORWARD_SAMPLERS[name], X, monkeypatch)
    assert before and all(n == 2 for n in before)
    assert seen and all(threads == [1] * len(before) for threads in seen)


@pytest.mark.parametrize("name", sorted(_FORWARD_SAMPLERS))
def test_a_large_forward_keeps_the_callers_blas_threads(name, monkeypatch):
    X = np.random.default_rng(0).normal(size=(60, 4))
    # the labeled set (30 × 4, seen by BAIT's fit) and the pool are both over the limit
    before, seen = _forward_threads(_FORWARD_SAMPLERS[name], X, monkeypatch, limit=30 * 4 - 1)
    assert seen and all(threads == before for threads in seen)


def test_forward_threads_counts_the_values_of_the_input(monkeypatch):
    from scipy import sparse

    from skbait._kernels import threads

    monkeypatch.setattr(threads, "FORWARD_ONE_THREAD_MAX", 100)
    held = lambda X: not isinstance(threads.forward_threads(X),  # noqa: E731
                                    contextlib.nullcontext)
    assert held(np.zeros((10, 10))) and not held(np.zeros((10, 11)))
    assert held(torch.zeros(5, 20)) and not held(torch.zeros(5, 21))
    assert held(sparse.random(1000, 1000, density=1e-4, random_state=0))  # 100 stored
    assert not held(sparse.random(1000, 1000, density=2e-4, random_state=0))
    assert not held(["a text"] * 3)  # no shape: its cost is unknown
