"""distributed=True: a pool sharded across processes selects as one process would.

One job of two gloo ranks (spawned once for the module, ``tests/distributed_scenarios.py``)
runs every scenario; each test here asserts on one scenario's outcome on both ranks:
the same batch, ``scores_`` and diagnostics on every rank, equal to one process selecting
from the whole pool; uneven and empty shards; and failures on one rank, which must make
every rank raise (and leave the sampler usable) rather than hang.
"""

import datetime

import numpy as np
import pytest
import torch.distributed as dist
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError

import distributed_scenarios as scenarios
import skbait
from skbait.exceptions import DistributedError

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="needs torch.distributed with the gloo backend",
)

NAMES = list(scenarios.FAILURES) + list(scenarios.EQUAL)
FISHER = ("bait", "logdet")


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    # spawned once: about 15 s for every scenario on 2 cores (a hung rank fails it at 150 s)
    return scenarios.run_job(tmp_path_factory.mktemp("ranks"), NAMES)


def _both(job, name):
    return [rank[name] for rank in job]


def _ok(outcome):
    assert outcome["ok"], outcome.get("traceback")
    return outcome


@pytest.mark.parametrize("name", list(scenarios.EQUAL))
def test_every_rank_returns_the_same_batch(job, name):
    first, second = map(_ok, _both(job, name))
    assert set(first) == set(second)
    for key in first:
        if key != "seconds":
            np.testing.assert_array_equal(first[key], second[key], err_msg=key)


@pytest.mark.parametrize("name", list(scenarios.EQUAL))
def test_shards_select_as_one_process(job, name):
    sharded = _ok(_both(job, name)[0])
    whole = scenarios.reference(name)
    fisher = name.startswith(FISHER)
    # F is summed shard by shard: BAIT's and log-det's numbers round differently
    rtol = 1e-9 if fisher else 1e-12
    if "objective_" in whole:
        np.testing.assert_allclose(sharded["objective_"], whole["objective_"], rtol=1e-9)
    if name.endswith("_ties") and not np.array_equal(sharded["indices"], whole["indices"]):
        return  # an exact tie decided by rounding: the same objective, checked above
    np.testing.assert_array_equal(sharded["indices"], whole["indices"])
    np.testing.assert_allclose(sharded["scores"], whole["scores"], rtol=rtol, atol=1e-15)
    for key in ("forward_gains_", "backward_losses_"):
        if key in whole:
            np.testing.assert_allclose(sharded[key], whole[key], rtol=rtol, atol=1e-15)


def test_shards_of_every_size_are_covered():
    sizes = {split for _, _, split, _ in scenarios.EQUAL.values()}
    assert {0, 3, 170} <= sizes  # empty, smaller than n, the whole pool on one rank


def _failed(outcome, error, *fragments):
    assert not outcome["ok"], "the rank returned a batch instead of raising"
    assert outcome["type"] == error, outcome["traceback"]
    for fragment in fragments:
        assert fragment in outcome["message"]


ONE_RANK_FAILS = [name for name, case in scenarios.FAILURES.items()
                  if case[3] in scenarios.OWN_ERROR]


def test_every_sampler_is_made_to_fail():
    failing = {scenarios.FAILURES[name][0] for name in ONE_RANK_FAILS}
    assert failing == {"bait", "logdet", "badge", "coreset", "uncertainty", "random"}


@pytest.mark.parametrize("name", ONE_RANK_FAILS)
def test_a_failing_rank_makes_every_rank_raise(job, name):
    _, _, _, what, where = scenarios.FAILURES[name]
    own = scenarios.OWN_ERROR[what]
    outcomes = _both(job, name)
    _failed(outcomes[where], own)
    _failed(outcomes[1 - where], "DistributedError", f"rank {where} of 2 failed", own)
    # and every sampler is left as it was: the next select on good input works
    for outcome in outcomes:
        assert outcome["second"]["ok"]
        np.testing.assert_array_equal(outcome["second"]["indices"],
                                      outcomes[0]["second"]["indices"])
        assert "scores_" not in outcome["attributes"]


def test_a_fit_failing_on_one_rank_leaves_every_rank_unfitted(job):
    failing, other = _both(job, "fit_fails_on_one_rank")
    _failed(failing, "ValueError", "NaN")
    _failed(other, "DistributedError", "rank 0 of 2 failed", "ValueError")
    assert not failing["fitted"] and not other["fitted"]
    assert other["attributes"] == []


def test_different_labeled_sets_are_refused_on_every_rank(job):
    for outcome in _both(job, "different_labeled_sets"):
        _failed(outcome, "DistributedError", "different labeled sets")
        assert not outcome["fitted"]


def test_n_is_checked_against_the_whole_pool(job):
    # 171 rows would fit neither shard check alone: 85 + 85 = 170 is the pool
    for outcome in _both(job, "n_larger_than_the_pool"):
        _failed(outcome, "ValueError", "n=171 is larger than the pool, which holds 170")


def test_ranks_asking_for_different_n_are_refused(job):
    for outcome in _both(job, "different_n"):
        _failed(outcome, "DistributedError", "different batch sizes", "[8, 9]")


def _X():
    X, y, X_pool = scenarios._data("classification")
    return X, y, X_pool


def test_distributed_needs_a_process_group():
    if dist.is_initialized():
        pytest.skip("a process group is already initialised in this process")
    X, y, X_pool = _X()
    with pytest.raises(RuntimeError, match="init_process_group"):
        skbait.BaitSampler(LogisticRegression(), distributed=True).fit(X, y)


def test_distributed_is_validated_as_a_boolean():
    X, y, _ = _X()
    with pytest.raises(InvalidParameterError, match="distributed"):
        skbait.BaitSampler(LogisticRegression(), distributed="yes").fit(X, y)


@pytest.fixture
def one_rank(tmp_path):
    if dist.is_initialized():
        pytest.skip("a process group is already initialised in this process")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1, timeout=datetime.timedelta(seconds=20))
    try:
        yield
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("sampler", ["bait", "logdet", "badge", "coreset", "uncertainty",
                                     "random"])
def test_one_rank_selects_as_distributed_false(one_rank, sampler):
    X, y, X_pool = _X()
    alone = scenarios._sampler(sampler, False).fit(X, y)
    ranked = scenarios._sampler(sampler, True).fit(X, y)
    np.testing.assert_array_equal(ranked.select(X_pool, 6), alone.select(X_pool, 6))
    np.testing.assert_array_equal(ranked.scores_, alone.scores_)


def test_distributed_error_names_the_failure():
    error = DistributedError("rank 1 of 2 failed.", {1: "ValueError: bad"})
    assert isinstance(error, RuntimeError) and error.failures == {1: "ValueError: bad"}
