"""The main job: BAIT against the baselines on digits, in two representations."""

import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from ..badge import BadgeSampler
from ..bait import BaitSampler
from ..coreset import CoresetSampler
from ..random import RandomSampler
from ..uncertainty import UncertaintySampler
from ._plot import _pyplot, plot_learning_curves, plot_penalty_matrix
from ._results import Results
from ._simulate import compare
from ._stats import format_table, penalty_matrix, summarize

#: Budgets of the full and the quick run.
SETTINGS = {
    "full": dict(n_initial=20, batch_size=10, n_rounds=20, n_seeds=5),
    "quick": dict(n_initial=20, batch_size=10, n_rounds=4, n_seeds=2),
}

#: Dimension of the random projection (the paper's Figures 2 and 4 project to 128).
PROJECTION_DIM = 128


def load_representations(dataset="digits", random_state=0):
    """Train/test splits of ``dataset`` in two representations.

    Returns ``{name: (X_train, X_test)}`` and ``(y_train, y_test)``: the pixels scaled to
    [0, 1], and their projection by a Gaussian matrix (mean 0, variance ``1/64``, i.e. the
    paper's unit-variance projection divided by the square root of the input dimension so
    that feature scales match the pixels') into ``PROJECTION_DIM`` dimensions, the
    "uninformed" representation of the paper's Figures 2 and 4.
    """
    if dataset != "digits":
        raise ValueError(f"Unknown dataset {dataset!r}; the demo ships with 'digits'.")
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=random_state
    )
    rng = np.random.RandomState(random_state)
    projection = rng.normal(scale=1 / np.sqrt(X.shape[1]), size=(X.shape[1], PROJECTION_DIM))
    representations = {
        "pixels": (X_train, X_test),
        "random projection": (X_train @ projection, X_test @ projection),
    }
    return representations, (y_train, y_test)


def make_samplers(model):
    """The samplers the demo compares, by display name, all around ``model``."""
    return {
        "BAIT": BaitSampler(model, device="cpu"),
        "BAIT (forward only)": BaitSampler(model, backward=False, device="cpu"),
        "BADGE": BadgeSampler(model, device="cpu"),
        "Coreset": CoresetSampler(model, device="cpu"),
        "least confidence": UncertaintySampler(model, method="least_confident",
                                               device="cpu"),
        "random": RandomSampler(),
    }


def run_demo(*, dataset="digits", quick=False, out="skbait-demo", seeds=None, n_jobs=-1,
             progress=True, random_state=0):
    """Compare the samplers on ``dataset``; write the figures and the CSV to ``out``.

    Returns the results, the summary table and the penalty matrix.
    """
    plt = _pyplot()  # fail before the long computation if matplotlib is missing
    settings = dict(SETTINGS["quick" if quick else "full"])
    if seeds is not None:
        settings["n_seeds"] = seeds
    if settings["n_seeds"] < 2:
        raise ValueError("The penalty matrix's paired t-test needs at least 2 seeds.")
    model = LogisticRegression(max_iter=1000)
    representations, (y_train, y_test) = load_representations(dataset, random_state)
    runs = []
    for name, (X_train, X_test) in representations.items():
        if progress:
            print(f"{dataset}, {name} ({X_train.shape[1]} features):", flush=True)
        result = compare(
            make_samplers(model), X_train, y_train, X_test, y_test, estimator=model,
            random_state=random_state, n_jobs=n_jobs, progress=progress, **settings,
        )
        runs.append(result.assign(experiment=name))
    results = Results.concat(runs)
    summary = summarize(results)
    penalty = penalty_matrix(results, baseline="random")

    os.makedirs(out, exist_ok=True)
    results.to_csv(os.path.join(out, "results.csv"))
    fig = plot_learning_curves(results)
    fig.suptitle(f"{dataset}: LogisticRegression, {settings['n_seeds']} seeds, "
                 f"mean ± standard error")
    fig.savefig(os.path.join(out, "learning_curves.png"), dpi=120)
    plt.close(fig)
    fig = plot_penalty_matrix(penalty)
    fig.savefig(os.path.join(out, "penalty_matrix.png"), dpi=120, bbox_inches="tight")
    plt.close(fig)
    return results, summary, penalty


def report(summary, penalty, out):
    """The text the demo prints: the summary table, the matrix's column means, files."""
    lines = [
        "auc: test accuracy averaged over the labeling budget (area under the learning "
        "curve / budget range);",
        "final: accuracy after the last round (± final_se over seeds); select_time: mean "
        "seconds per select call.",
        "",
        format_table(summary),
        "",
        "Penalty matrix column means (how often each sampler was significantly beaten; "
        "lower is better):",
    ]
    width = max(len(name) for name in penalty.samplers)
    lines += [f"  {name.ljust(width)}  {value:.3f}"
              for name, value in zip(penalty.samplers, penalty.column_means)]
    budgets = "; ".join(f"{k}: {v.tolist()}" for k, v in penalty.budgets.items())
    lines += ["", f"Budgets compared: {budgets}", "",
              f"Wrote results.csv, learning_curves.png and penalty_matrix.png to {out}"]
    return "\n".join(lines)
