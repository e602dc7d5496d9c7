"""
Quickstart: label, fit, select, repeat
======================================

Fit a sampler on a small labeled set, pick a batch from the pool, reveal its labels and
repeat. BAIT is compared with random picks on scikit-learn's digits.
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skbait import BaitSampler

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)

rng = np.random.default_rng(0)
start = rng.choice(len(X_train), size=30, replace=False)
model = LogisticRegression(max_iter=1000)

for name in ["bait", "random"]:
    labeled = start.copy()
    pool = np.setdiff1d(np.arange(len(X_train)), labeled)
    sampler = BaitSampler(model)
    for round_ in range(5):
        sampler.fit(X_train[labeled], y_train[labeled])
        accuracy = sampler.estimator_.score(X_test, y_test)
        print(f"{name:6s} round {round_}: {len(labeled):3d} labels, accuracy {accuracy:.3f}")
        if name == "bait":
            picks = sampler.select(X_train[pool], 20)
        else:
            picks = rng.choice(len(pool), size=20, replace=False)
        labeled = np.concatenate([labeled, pool[picks]])
        pool = np.delete(pool, picks)
