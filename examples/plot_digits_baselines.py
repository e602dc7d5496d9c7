"""
BAIT against the baselines on handwritten digits
================================================

The paper's linear experiment (Ash et al., 2021, section 6.1 and Figure 4) at a small
scale: logistic regression on scikit-learn's handwritten digits, with every sampler of
skbait choosing which images to label. Two representations of the same images are used:

- the **pixels**, features where the large directions carry the digit's shape;
- a **random projection** of the pixels (a Gaussian matrix, as in the paper), an
  "uninformed" representation where the largest directions need not be the
  discriminative ones. The model is then a Pipeline, and the samplers see what its first
  step produces.

For every seed all samplers start from the same 20 random labels and then label 10 images
per round; the curves show the test accuracy, mean and standard error over the seeds.
"""

from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.random_projection import GaussianRandomProjection

from skbait import BadgeSampler, BaitSampler, CoresetSampler, RandomSampler, UncertaintySampler
from skbait.experiment import Results, compare, format_table, plot_learning_curves, summarize

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)

representations = {
    "pixels": LogisticRegression(max_iter=1000),
    "random projection": make_pipeline(
        GaussianRandomProjection(n_components=64, random_state=0),
        LogisticRegression(max_iter=1000),
    ),
}


def samplers(model):
    """The strategies of the paper's Figure 4, all around the same model."""
    return {
        "BAIT": BaitSampler(model),
        "BADGE": BadgeSampler(model),
        "Coreset": CoresetSampler(model),
        "least confident": UncertaintySampler(model),
        "random": RandomSampler(),
    }


# %%
# Run the comparison
# ------------------
# :func:`~skbait.experiment.compare` runs each sampler over the seeds (samplers with a
# ``random_state`` get one drawn from the comparison's), scores the model trained on the
# labeled set after every round, and returns one row per round.

results = Results.concat([
    compare(
        samplers(model), X_train, y_train, X_test, y_test, estimator=model,
        n_initial=20, batch_size=10, n_rounds=6, n_seeds=3, random_state=0,
        progress=False,
    ).assign(experiment=name)
    for name, model in representations.items()
])

# %%
# Learning curves
# ---------------
# One panel per representation: test accuracy against the number of labels, mean and
# standard error over the seeds.

fig = plot_learning_curves(results)

# %%
# Summary
# -------
# The area under each curve (the accuracy averaged over the budget), the final accuracy
# and the mean time of one ``select``:

print(format_table(summarize(results)))

# %%
# With three seeds and six rounds the differences are noisy; ``python -m skbait demo``
# runs the same comparison with more repetitions and adds the pairwise penalty matrix of
# the paper (section 6.2).
