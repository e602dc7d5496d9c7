"""
Quickstart: BAIT against random labeling on digits
==================================================

Active learning is a loop: fit a model on the points labeled so far, ask a sampler which
points of the unlabeled pool to label next, label them, repeat. This example runs that
loop on scikit-learn's handwritten digits, once by hand and then over a few seeds with
:func:`~skbait.experiment.compare`, and plots the test accuracy of BAIT's picks against
random picks. It takes about ten seconds on one CPU thread.
"""

# %%
# A labeled set, a pool and a test set
# ------------------------------------
# The digits come with all their labels; we pretend that only 20 of the training images
# are labeled and that the others form the pool a sampler may ask labels for. The test
# split measures progress.

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skbait import BaitSampler, RandomSampler
from skbait.experiment import compare, format_table, plot_learning_curves, summarize

X, y = load_digits(return_X_y=True)
X = X / 16.0  # pixels in [0, 1]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)

rng = np.random.default_rng(0)
labeled = rng.choice(len(X_train), size=20, replace=False)
pool = np.setdiff1d(np.arange(len(X_train)), labeled)

# %%
# One round by hand: fit, select, label
# -------------------------------------
# :class:`~skbait.BaitSampler` takes the model whose last layer defines the Fisher
# information. ``fit`` fits a clone of it on the labeled set, ``select`` returns ``n``
# distinct row indices into the pool. An annotator would now label those rows; here the
# labels are already known, so the points just move from the pool to the labeled set.

model = LogisticRegression(max_iter=1000)
sampler = BaitSampler(model)
for round_ in range(3):
    sampler.fit(X_train[labeled], y_train[labeled])
    accuracy = sampler.estimator_.score(X_test, y_test)
    print(f"round {round_}: {len(labeled)} labels, test accuracy {accuracy:.3f}")
    picks = sampler.select(X_train[pool], n=10)
    labeled = np.concatenate([labeled, pool[picks]])
    pool = np.delete(pool, picks)

# %%
# The same loop, simulated: BAIT against random
# ---------------------------------------------
# :func:`~skbait.experiment.compare` runs that loop for each sampler and each seed (every
# sampler of a seed starts from the same 20 random labels), fits ``estimator`` on the
# labeled set after every round and records its test accuracy. Random labeling is the
# baseline every strategy has to beat.

samplers = {"BAIT": BaitSampler(model), "random": RandomSampler()}
results = compare(
    samplers, X_train, y_train, X_test, y_test, estimator=model,
    n_initial=20, batch_size=10, n_rounds=8, n_seeds=3, random_state=0, progress=False,
)

# %%
# Learning curves
# ---------------
# Test accuracy against the number of labels: the mean over the seeds, with a band of
# one standard error.

fig = plot_learning_curves(results)
fig.axes[0].set_title("digits, logistic regression: BAIT vs random")

# %%
# The area under each curve (the accuracy averaged over the budget), the final accuracy
# and the mean time of one ``select``:

print(format_table(summarize(results)))

# %%
# Three seeds are few: the bands are wide. The :doc:`digits example
# <plot_digits_baselines>` adds the other baselines and a second representation, and
# ``python -m skbait demo`` runs the full comparison of the paper.
