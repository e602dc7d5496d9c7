"""RandomSampler: uniform draws without replacement from ``random_state``."""

import numpy as np
from scipy.stats import chisquare

from skbait import RandomSampler

P_VALUE_TOLERANCE = 1e-3  # fixed seeds: deterministic; a uniform sampler passes


def test_uniform_over_the_pool():
    X = np.zeros((10, 2))
    counts = np.zeros(10)
    for seed in range(1000):
        counts[RandomSampler(random_state=seed).fit(X).select(X, 3)] += 1
    assert chisquare(counts).pvalue > P_VALUE_TOLERANCE


def test_scores_are_the_decreasing_keys():
    X = np.zeros((50, 3))
    sampler = RandomSampler(random_state=0).fit(X[:5])
    picks = sampler.select(X, 10)
    keys = np.random.RandomState(0).uniform(size=50)
    np.testing.assert_array_equal(picks, np.argsort(-keys)[:10])
    np.testing.assert_array_equal(sampler.scores_, keys[picks])


def test_a_random_state_instance_advances():
    X = np.zeros((50, 3))
    sampler = RandomSampler(random_state=np.random.RandomState(0)).fit(X)
    assert not np.array_equal(sampler.select(X, 10), sampler.select(X, 10))
