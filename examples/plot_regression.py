"""
Active regression: BAIT, Coreset and random with Ridge
======================================================

For squared loss the Fisher information of a linear model is ``x xᵀ`` whatever the
weights, so BAIT reduces to rank-1 updates (paper, eq. 6) and picks the points that most
reduce the expected prediction error over the pool. Here it is compared with Coreset
(greedy k-center on the features) and random sampling on scikit-learn's diabetes data,
with the test RMSE of a :class:`~sklearn.linear_model.Ridge` model after each round
(mean ± standard error over seeds).
"""

from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skbait import BaitSampler, CoresetSampler, RandomSampler
from skbait.experiment import compare, format_table, plot_learning_curves, summarize

X, y = load_diabetes(return_X_y=True)
X = StandardScaler().fit_transform(X)  # unsupervised, so it may see the whole pool
X_pool, X_test, y_pool, y_test = train_test_split(X, y, test_size=0.3, random_state=0)

model = Ridge(alpha=1.0)
samplers = {
    "BAIT": BaitSampler(model, device="cpu"),
    "Coreset": CoresetSampler(model, device="cpu"),
    "random": RandomSampler(),
}
results = compare(
    samplers, X_pool, y_pool, X_test, y_test, estimator=model, n_initial=12,
    batch_size=4, n_rounds=15, n_seeds=10, random_state=0, progress=False,
)

# %%
# Lower is better. Every sampler starts from the same 12 random labels for a given seed.
fig = plot_learning_curves(results)
fig.axes[0].set_title("diabetes, Ridge, 10 seeds")
fig.axes[0].set_ylabel("test RMSE")
print(format_table(summarize(results)))
