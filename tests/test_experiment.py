"""skbait.experiment: the simulation loop, compare, the penalty matrix, plots, the demo."""

import builtins
import csv
import doctest
import subprocess
import sys

import numpy as np
import pytest
from joblib import parallel_config
from scipy import stats
from sklearn.base import BaseEstimator
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import check_random_state

from skbait import BaitSampler, RandomSampler
from skbait.experiment import (
    Results,
    compare,
    penalty_matrix,
    plot_learning_curves,
    plot_penalty_matrix,
    simulate,
    summarize,
)
from skbait.experiment import _demo, _plot, _results, _simulate, _stats

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _data(n=120, seed=0):
    X, y = make_classification(n_samples=n, n_features=5, n_informative=4, n_redundant=0,
                               n_classes=3, n_clusters_per_class=1, random_state=seed)
    return X, y


class IdSpy(BaseEstimator):
    """Sampler over data whose column 0 is a row id: checks what the loop shows it.

    ``fit`` checks the labels it receives are those of its ids; ``select`` checks that no
    pool row is labeled, then picks at random.
    """

    def __init__(self, y_true=None, random_state=None):
        self.y_true = y_true
        self.random_state = random_state

    def fit(self, X, y):
        ids = X[:, 0].astype(int)
        assert len(set(ids.tolist())) == len(ids), "a label was revealed twice"
        np.testing.assert_array_equal(y, self.y_true[ids])
        self.labeled_ids_ = set(ids.tolist())
        self.estimator_ = None
        return self

    def select(self, X_pool, n):
        pool_ids = set(X_pool[:, 0].astype(int).tolist())
        assert not pool_ids & self.labeled_ids_, "a labeled point is in the pool"
        return check_random_state(self.random_state).choice(len(X_pool), n, replace=False)


def _without_ids():
    """LogisticRegression on all columns but the row id."""
    return make_pipeline(FunctionTransformer(np.delete, kw_args=dict(obj=0, axis=1)),
                         LogisticRegression())


class Duplicates(IdSpy):
    def select(self, X_pool, n):
        return np.zeros(n, dtype=int)


def test_simulate_never_reveals_twice_nor_selects_labeled():
    X, y = _data()
    X = np.column_stack([np.arange(len(X)), X])
    result = simulate(
        IdSpy(y_true=y), X, y, X, y, estimator=_without_ids(), n_initial=7,
        batch_size=9, n_rounds=6, random_state=0, progress=False,
    )
    assert result["round"].tolist() == list(range(7))
    assert result["n_labeled"].tolist() == [7 + 9 * t for t in range(7)]
    assert len(result.labeled) == 7 + 9 * 6 == len(set(result.labeled.tolist()))
    assert set(result["metric"].tolist()) == {"accuracy"}
    assert np.isnan(result["select_time"][0]) and np.all(result["select_time"][1:] >= 0)
    assert np.all((result["score"] >= 0) & (result["score"] <= 1))


def test_simulate_rejects_invalid_picks_and_budgets():
    X, y = _data()
    X = np.column_stack([np.arange(len(X)), X])
    kwargs = dict(estimator=_without_ids(), n_initial=10, batch_size=5, progress=False)
    with pytest.raises(RuntimeError, match="5 distinct"):
        simulate(Duplicates(y_true=y), X, y, X, y, n_rounds=2, **kwargs)
    with pytest.raises(ValueError, match="only 120 rows"):
        simulate(IdSpy(y_true=y), X, y, X, y, n_rounds=30, **kwargs)
    with pytest.raises(ValueError, match="batch_size"):
        simulate(IdSpy(y_true=y), X, y, X, y, n_rounds=2, **{**kwargs, "batch_size": 0})
    with pytest.raises(TypeError, match="pass estimator="):
        simulate(RandomSampler(), X, y, X, y, n_initial=10, batch_size=5, n_rounds=1)


def test_simulate_scores_regression_by_rmse_and_leaves_the_sampler_alone():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    y = X @ np.arange(1.0, 5.0) + rng.normal(size=80)
    sampler = BaitSampler(Ridge(), device="cpu")
    result = simulate(sampler, X, y, X, y, n_initial=5, batch_size=5, n_rounds=3,
                      random_state=0, progress=False)
    assert set(result["metric"].tolist()) == {"rmse"}
    assert not hasattr(sampler, "estimator_")  # a clone was fitted
    # round 2's score is that of a Ridge fitted on the first 15 labels
    labeled = result.labeled[:15]
    expected = np.sqrt(np.mean((Ridge().fit(X[labeled], y[labeled]).predict(X) - y) ** 2))
    assert result["score"][2] == pytest.approx(expected)


def _block_import(monkeypatch, module):
    real_import = builtins.__import__

    def blocked(name, *args, **kwargs):
        if name == module or name.startswith(module + "."):
            raise ImportError(f"no {module} here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", blocked)


def test_progress_with_and_without_tqdm(capsys, monkeypatch):
    X, y = _data()
    X = np.column_stack([np.arange(len(X)), X])
    kwargs = dict(estimator=_without_ids(), n_initial=10, batch_size=5, n_rounds=2)
    simulate(IdSpy(y_true=y), X, y, X, y, **kwargs)
    assert "IdSpy" in capsys.readouterr().err  # tqdm's bar
    _block_import(monkeypatch, "tqdm")
    simulate(IdSpy(y_true=y), X, y, X, y, **kwargs)
    assert capsys.readouterr().err.splitlines() == ["IdSpy: 1/3", "IdSpy: 2/3", "IdSpy: 3/3"]
    simulate(IdSpy(y_true=y), X, y, X, y, progress=False, **kwargs)
    assert capsys.readouterr().err == ""
    with pytest.raises(TypeError, match="non-empty dict"):
        compare([IdSpy()], X, y, X, y, **kwargs)


def _compare(random_state=0, n_jobs=None):
    X, y = _data()
    model = LogisticRegression()
    samplers = {"bait": BaitSampler(model, device="cpu"), "random": RandomSampler()}
    return compare(samplers, X, y, X, y, estimator=model, n_initial=10, batch_size=5,
                   n_rounds=3, n_seeds=3, random_state=random_state, n_jobs=n_jobs,
                   progress=False)


def test_compare_shares_the_initial_set_per_seed():
    results = _compare()
    assert results.columns[:2] == ["sampler", "seed"]
    assert len(results) == 2 * 3 * 4
    initial = {key: value[:10] for key, value in results.labeled.items()}
    for seed in range(3):
        np.testing.assert_array_equal(initial["bait", seed], initial["random", seed])
    assert not np.array_equal(np.sort(initial["bait", 0]), np.sort(initial["bait", 1]))
    # the initial set is the one simulate draws from the same seed
    seeds = check_random_state(0).randint(_simulate._SEED_MAX, size=3)
    alone = simulate(RandomSampler(), *_data(), *_data(), estimator=LogisticRegression(),
                     n_initial=10, batch_size=5, n_rounds=3, random_state=int(seeds[1]),
                     progress=False)
    np.testing.assert_array_equal(alone.labeled, results.labeled["random", 1])
    # same initial set, same model: round 0 scores agree across samplers
    first = results["round"] == 0
    bait, rand = (first & (results["sampler"] == name) for name in ("bait", "random"))
    np.testing.assert_array_equal(results["score"][bait], results["score"][rand])


def test_compare_is_reproducible_from_random_state():
    first, other = _compare(0), _compare(1)
    # runs finish in any order in parallel (threads here: no process start-up in a unit
    # test; the demo's end-to-end test runs joblib's default process backend)
    with parallel_config(backend="threading"):
        again = _compare(0, n_jobs=2)
    for name in ("sampler", "seed", "round", "n_labeled", "score"):
        np.testing.assert_array_equal(first[name], again[name])
    for key in first.labeled:
        np.testing.assert_array_equal(first.labeled[key], again.labeled[key])
    assert not np.array_equal(first.labeled["random", 0], other.labeled["random", 0])
    # the random sampler draws a fresh batch each round, not the same positions
    picks = first.labeled["random", 0][10:]
    assert len(set(picks.tolist())) == len(picks)


def _curves(spec, seeds=5, levels=range(10, 100, 10), metric="accuracy"):
    """Results with score = spec[name](n_labeled, seed)."""
    rows = [(name, s, n, f(n, s), metric) for name, f in spec.items()
            for s in range(seeds) for n in levels]
    return Results(dict(zip(["sampler", "seed", "n_labeled", "score", "metric"], zip(*rows))))


# Per-seed offsets with mean 0 and sample standard deviation 1: a difference
# mu + sd * NOISE[s] over 5 seeds has t = sqrt(5) mu / sd exactly.
NOISE = np.array([-1.0, -0.5, 0.0, 0.5, 1.0]) / np.std([-1.0, -0.5, 0.0, 0.5, 1.0], ddof=1)


def _random(n, s):
    # reaches 0.85 at 50 labels and stays within 1% of its final 0.855 from then on
    return min(0.5 + 0.007 * n, 0.85) + 0.005 * (n >= 80) + 0.02 * NOISE[s]


def test_penalty_matrix_of_known_winners():
    def early(n, s):
        # early - random has sd 0.01 and t = 2.85 > 2.776 at 20 and 30 labels, 2.70 at 50
        t = 2.85 if n < 50 else 2.70
        return _random(n, s) + 0.01 * (t / np.sqrt(5) + NOISE[s])

    spec = {"best": lambda n, s: _random(n, s) + 0.05, "early": early, "random": _random}
    results = _curves(spec)
    pm = penalty_matrix(results)
    assert pm.samplers == ["best", "early", "random"]
    assert pm.budgets[None].tolist() == [20, 30, 50]  # 10 + 2^k * 10 <= 50
    assert pm.critical_value == pytest.approx(2.776, abs=1e-3)
    expected = np.array([[0, 1, 1], [0, 0, 2 / 3], [0, 0, 0]])
    np.testing.assert_allclose(pm.matrix, expected)
    np.testing.assert_allclose(pm.column_means, expected.mean(axis=0))

    # two experiments add up; RMSE (lower is better) flips the direction
    flipped = results.assign(score=-results["score"], metric="rmse")
    both = Results.concat([results.assign(experiment="a"), flipped.assign(experiment="b")])
    pm2 = penalty_matrix(both)
    np.testing.assert_allclose(pm2.matrix, 2 * expected)
    assert set(pm2.budgets) == {"a", "b"}

    # with 3 seeds the critical value is t(0.975, 2) = 4.303
    three = _curves({k: spec[k] for k in ("best", "random")}, seeds=3)
    assert penalty_matrix(three).critical_value == pytest.approx(stats.t.ppf(0.975, 2))


def test_penalty_matrix_inputs():
    results = _curves({"a": lambda n, s: 0.5 + s, "random": lambda n, s: 0.5})
    with pytest.raises(ValueError, match="baseline 'uniform'"):
        penalty_matrix(results, baseline="uniform")
    with pytest.raises(ValueError, match="several rows"):
        penalty_matrix(Results.concat([results, results]))
    single = _curves({"a": lambda n, s: 0.5, "random": _random}, seeds=1)
    with pytest.raises(ValueError, match="at least 2"):
        penalty_matrix(single)
    # identical differences on every seed count as a win (t is infinite)
    pm = penalty_matrix(_curves({"a": lambda n, s: 0.6 + 0.01 * s,
                                 "random": lambda n, s: min(0.5 + n / 1000, 0.55)
                                 + 0.01 * s}))
    assert pm.matrix[0, 1] == 1 and pm.matrix[1, 0] == 0


def test_summarize_and_learning_curves_use_mean_and_standard_error():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    results = _curves({"a": lambda n, s: n / 100 + 0.01 * s, "b": lambda n, s: 0.3})
    summary = summarize(results)
    assert summary["sampler"].tolist() == ["a", "b"]
    assert summary["final"][0] == pytest.approx(0.9 + 0.02)
    assert summary["auc"][0] == pytest.approx(np.mean([0.1, 0.9]) + 0.02)
    assert summary["final_se"][0] == pytest.approx(np.std(np.arange(5) * 0.01, ddof=1)
                                                   / np.sqrt(5))
    both = Results.concat([results.assign(experiment="x"), results.assign(experiment="y")])
    fig = plot_learning_curves(both)
    assert len(fig.axes) == 2
    line = fig.axes[1].lines[0]
    np.testing.assert_allclose(line.get_ydata(), np.arange(10, 100, 10) / 100 + 0.02)
    band = fig.axes[1].collections[0].get_paths()[0].vertices[:, 1]
    se = np.std(np.arange(5) * 0.01, ddof=1) / np.sqrt(5)
    assert band.max() == pytest.approx(0.9 + 0.02 + se)
    fig2 = plot_penalty_matrix(penalty_matrix(results, baseline="b"))
    assert len(fig2.axes) == 2  # the matrix and its column means below
    plt.close("all")


def test_results_write_csv_without_pandas(tmp_path, monkeypatch):
    results = Results({"sampler": ["a", "b"], "score": [0.5, 0.25], "n": [1, 2]})
    with_pandas = tmp_path / "pandas.csv"
    results.to_csv(with_pandas)
    _block_import(monkeypatch, "pandas")
    plain = tmp_path / "plain.csv"
    results.to_csv(plain)
    with pytest.raises(ImportError, match="needs pandas"):
        results.to_frame()
    monkeypatch.undo()
    for path in (with_pandas, plain):
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert rows == [{"sampler": "a", "score": "0.5", "n": "1"},
                        {"sampler": "b", "score": "0.25", "n": "2"}]
    with pytest.raises(ValueError, match="same length"):
        Results({"a": [1, 2], "b": [1]})
    with pytest.raises(KeyError, match="columns are"):
        results["nope"]


def test_docstring_examples_run():
    for module in (_results, _simulate, _stats, _plot):
        failed, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert failed == 0, module.__name__


def test_demo_quick_end_to_end(tmp_path, capsys):
    matplotlib = pytest.importorskip("matplotlib")
    import matplotlib.image

    from skbait.__main__ import main

    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    for name in ("BAIT", "BADGE", "Coreset", "least confidence", "random", "auc", "final",
                 "select_time", "random projection"):
        assert name in printed
    for png in ("learning_curves.png", "penalty_matrix.png"):
        data = (out / png).read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        image = matplotlib.image.imread(out / png)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    with open(out / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert set(rows[0]) >= {"experiment", "sampler", "seed", "round", "n_labeled", "score",
                            "metric", "select_time"}
    settings = _demo.SETTINGS["quick"]
    assert len(rows) == 2 * 6 * settings["n_seeds"] * (settings["n_rounds"] + 1)
    assert {row["experiment"] for row in rows} == {"pixels", "random projection"}


def test_module_entry_point():
    done = subprocess.run([sys.executable, "-m", "skbait", "demo", "--help"],
                          capture_output=True, text=True, check=True)
    assert "--quick" in done.stdout and "--seeds" in done.stdout
