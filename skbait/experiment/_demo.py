"""The main job: BAIT against the baselines on digits, in two representations."""

import os
from numbers import Integral

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
from ._simulate import _check_n_jobs, compare
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

    Every argument is checked, matplotlib imported and ``out`` created before the data
    are loaded, so that a mistake fails at once rather than after the long run.

    Parameters
    ----------
    dataset : {"digits"}, default="digits"
        The data set, from :mod:`sklearn.datasets`.
    quick : bool, default=False
        Use ``SETTINGS["quick"]`` (fewer rounds and seeds) instead of ``SETTINGS["full"]``.
    out : str or path-like, default="skbait-demo"
        Folder the figures and ``results.csv`` are written to; created if missing.
    seeds : int, default=None
        Number of seeds, at least 2 (the penalty matrix's paired t-test needs two); None
        takes the setting's.
    n_jobs : int, default=-1
        Parallel runs, as in :func:`compare`: positive, or negative as in joblib (-1: all
        cores); None means 1.
    progress : bool, default=True
        Show progress bars.
    random_state : int, default=0
        Seeds the train/test split, the projection and the runs.

    Returns
    -------
    results : Results
        The rows of both representations, with an ``experiment`` column.
    summary : Results
        As :func:`summarize` returns.
    penalty : PenaltyMatrix
        As :func:`penalty_matrix` returns, with ``"random"`` as the baseline.
    """
    if dataset != "digits":
        raise ValueError(f"Unknown dataset {dataset!r}; the demo ships with 'digits'.")
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, Integral)
                              or seeds < 2):
        raise ValueError(
            f"seeds must be an int >= 2 (the penalty matrix's paired t-test needs at least "
            f"2 seeds) or None, got {seeds!r}."
        )
    _check_n_jobs(n_jobs)
    plt = _pyplot()  # fail before the long computation if matplotlib is missing
    settings = dict(SETTINGS["quick" if quick else "full"])
    if seeds is not None:
        settings["n_seeds"] = seeds
    os.makedirs(out, exist_ok=True)  # an unusable folder fails here, not at the end
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
