"""skbait.experiment: the simulation loop, compare, the penalty matrix, plots, the demo."""

import builtins
import csv

import numpy as np
import pytest
import torch
from joblib import parallel_config
from scipy import stats
from sklearn.base import BaseEstimator
from sklearn.datasets import make_classification
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.random_projection import GaussianRandomProjection
from sklearn.utils import check_random_state

from skbait import BaitSampler, RandomSampler, UncertaintySampler
from skbait.experiment import (
    Results,
    compare,
    penalty_matrix,
    plot_learning_curves,
    plot_penalty_matrix,
    simulate,
    summarize,
)
from skbait.experiment import _demo, _simulate

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


def test_demo_help(capsys):
    # python -m skbait itself runs in tests/test_demo_cli.py
    from skbait.__main__ import main

    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--help"])
    assert exit_.value.code == 0
    printed = capsys.readouterr().out
    assert printed.startswith("usage: python -m skbait demo")
    assert "--quick" in printed and "--seeds" in printed and "--jobs" in printed


# --- reproducibility: torch's generator and nested random states -----------------------


class TinyNet(torch.nn.Module):
    """An MLP drawing its initial weights from torch's global generator, as nets do."""

    def __init__(self, n_in=5, n_out=3):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(n_in, 6), torch.nn.Tanh())
        self.head = torch.nn.Linear(6, n_out)

    def forward(self, X):
        return self.head(self.body(X))


def _tiny_net():
    skorch = pytest.importorskip("skorch")
    return skorch.NeuralNetClassifier(TinyNet, criterion=torch.nn.CrossEntropyLoss,
                                      max_epochs=2, lr=0.1, train_split=None, verbose=0,
                                      iterator_train__shuffle=True)


def _skorch_compare(n_jobs=None, random_state=0):
    X, y = _data()
    X = X.astype(np.float32)
    net = _tiny_net()
    samplers = {"bait": BaitSampler(net, device="cpu"), "random": RandomSampler()}
    return compare(samplers, X, y, X, y, estimator=net, n_initial=10, batch_size=5,
                   n_rounds=1, n_seeds=2, random_state=random_state, n_jobs=n_jobs,
                   progress=False)


def _assert_same_runs(first, again):
    for name in ("sampler", "seed", "n_labeled", "score"):
        np.testing.assert_array_equal(first[name], again[name])
    for key in first.labeled:
        np.testing.assert_array_equal(first.labeled[key], again.labeled[key])


def test_skorch_runs_are_reproducible_and_leave_torchs_generator_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = _skorch_compare()
    assert torch.equal(torch.get_rng_state(), before)  # the caller's state is kept
    _assert_same_runs(first, _skorch_compare())
    # runs in threads share torch's generator: they take turns, and still agree
    with parallel_config(backend="threading"):
        _assert_same_runs(first, _skorch_compare(n_jobs=2))
    assert torch.equal(torch.get_rng_state(), before)
    # same seed, same initial weights: round 0 scores agree across samplers
    start = first["n_labeled"] == 10
    np.testing.assert_array_equal(first["score"][start & (first["sampler"] == "bait")],
                                  first["score"][start & (first["sampler"] == "random")])
    # simulate on its own, too
    X, y = _data()
    X = X.astype(np.float32)
    alone = [simulate(RandomSampler(), X, y, X, y, n_initial=10, batch_size=5, n_rounds=1,
                      estimator=_tiny_net(), random_state=7, progress=False)["score"]
             for _ in range(2)]
    np.testing.assert_array_equal(*alone)
    assert torch.equal(torch.get_rng_state(), before)


def test_nested_random_states_are_seeded_from_random_state():
    X, y = _data()
    forest = ExtraTreesClassifier(n_estimators=3)  # random_state=None: numpy's global RNG
    # the sampler's own model, random_state=None nested in a pipeline step
    projected = make_pipeline(GaussianRandomProjection(n_components=3), LogisticRegression())
    runs = [({"random": RandomSampler()}, forest),
            ({"margin": UncertaintySampler(projected, method="margin", device="cpu"),
              "entropy": UncertaintySampler(projected, method="entropy", device="cpu")},
             None)]
    kwargs = dict(n_initial=10, batch_size=5, n_rounds=2, n_seeds=2, random_state=0,
                  progress=False)
    for samplers, estimator in runs:
        state = np.random.get_state()
        first = compare(samplers, X, y, X, y, estimator=estimator, **kwargs)
        after = np.random.get_state()
        assert after[0] == state[0] and np.array_equal(after[1], state[1])  # not drawn
        np.random.seed(1)  # nor does the global state matter
        _assert_same_runs(first, compare(samplers, X, y, X, y, estimator=estimator,
                                         **kwargs))
    assert forest.random_state is None  # seeded on a clone
    assert projected.steps[0][1].random_state is None
    # the two samplers' models are seeded alike: same initial set, same round-0 score
    start = first["round"] == 0
    np.testing.assert_array_equal(first["score"][start & (first["sampler"] == "margin")],
                                  first["score"][start & (first["sampler"] == "entropy")])


def test_compare_refuses_bad_n_jobs_before_any_run():
    X, y = _data()
    X = np.column_stack([np.arange(len(X)), X])
    kwargs = dict(estimator=_without_ids(), n_initial=10, batch_size=5, n_rounds=1,
                  progress=False)
    for n_jobs in (0, 1.5, "2", True):
        with pytest.raises(ValueError, match="n_jobs must be"):
            compare({"never": FitFails()}, X, y, X, y, n_jobs=n_jobs, **kwargs)


class FitFails(IdSpy):
    """A sampler that must not be fitted: the test expects an error before any run."""

    def fit(self, X, y):
        raise AssertionError("the loop started")


# --- the initial labeled set --------------------------------------------------------


def _many_classes(n_major=100, n_classes=10):
    """One big class 0 and ``n_classes - 1`` classes of 2 points each."""
    y = np.concatenate([np.zeros(n_major, int), np.repeat(np.arange(1, n_classes), 2)])
    X = np.random.default_rng(0).normal(size=(len(y), 3)) + y[:, None]
    return X, y


def test_default_initial_set_is_uniform_from_random_state():
    X, y = _data()
    for seed in (0, 5):
        result = simulate(RandomSampler(), X, y, X, y, estimator=LogisticRegression(),
                          n_initial=10, batch_size=5, n_rounds=1, random_state=seed,
                          progress=False)
        expected = np.random.RandomState(seed).choice(len(y), size=10, replace=False)
        np.testing.assert_array_equal(result.labeled[:10], expected)


def test_stratified_initial_set_has_every_class_and_proportional_rest():
    X, y = _many_classes()
    y_before = y.copy()
    counts = np.bincount(y)
    kwargs = dict(estimator=DummyClassifier(), batch_size=2, n_rounds=1,
                  initial="stratified", progress=False)
    for n_initial in (10, 16, 40):
        sets = []
        for seed in (0, 1):
            result = simulate(RandomSampler(), X, y, X, y, n_initial=n_initial,
                              random_state=seed, **kwargs)
            start = result.labeled[:n_initial]
            assert len(set(start.tolist())) == n_initial
            taken = np.bincount(y[start], minlength=len(counts))
            assert np.all(taken >= 1)
            # the rest, beyond one per class, follows the rest of each class's size
            share = (n_initial - len(counts)) * (counts - 1) / (counts - 1).sum()
            assert np.all(np.abs(taken - 1 - share) < 1)
            sets.append(start)
        assert not np.array_equal(np.sort(sets[0]), np.sort(sets[1]))  # by seed
        again = simulate(RandomSampler(), X, y, X, y, n_initial=n_initial, random_state=1,
                         **kwargs)
        np.testing.assert_array_equal(again.labeled[:n_initial], sets[1])  # reproducible
    # fewer labels than classes: as many distinct classes
    few = simulate(RandomSampler(), X, y, X, y, n_initial=4, random_state=0, **kwargs)
    assert len(set(y[few.labeled[:4]].tolist())) == 4
    np.testing.assert_array_equal(y, y_before)


def test_an_initial_set_that_cannot_train_is_refused_before_the_loop():
    X, y = _many_classes()
    X = np.column_stack([np.arange(len(X)), X])
    kwargs = dict(estimator=_without_ids(), batch_size=2, n_rounds=1, progress=False)
    # 3 random labels of 118 are all of class 0 for most seeds: one class, no model
    with pytest.raises(ValueError, match=r"n_initial=3.*only class \[0\] of the 10 "
                       r"classes.*initial='stratified'"):
        compare({"never": FitFails()}, X, y, X, y, n_initial=3, n_seeds=5, random_state=0,
                **kwargs)
    with pytest.raises(ValueError, match="n_initial=1.*initial='stratified'"):
        simulate(FitFails(), X, y, X, y, n_initial=1, random_state=0, **kwargs)
    with pytest.raises(ValueError, match="n_initial=1.*a larger n_initial"):
        simulate(FitFails(), X, y, X, y, n_initial=1, random_state=0, initial="stratified",
                 **kwargs)
    # stratified, the same budget trains: three classes to start with
    results = compare({"spy": IdSpy(y_true=y)}, X, y, X, y, n_initial=3, n_seeds=5,
                      random_state=0, initial="stratified",
                      **{**kwargs, "estimator": DummyClassifier()})
    for start in results.labeled.values():
        assert len(set(y[start[:3]].tolist())) == 3


def test_initial_is_validated():
    X, y = _data()
    kwargs = dict(estimator=LogisticRegression(), n_initial=10, batch_size=5, n_rounds=1,
                  progress=False)
    for bad in ("uniform", None, 1):
        with pytest.raises(ValueError, match="initial must be 'random' or 'stratified'"):
            simulate(FitFails(), X, y, X, y, initial=bad, **kwargs)
        with pytest.raises(ValueError, match="initial must be"):
            compare({"never": FitFails()}, X, y, X, y, initial=bad, **kwargs)
    target = X @ np.ones(X.shape[1])
    with pytest.raises(ValueError, match="Ridge is not a classifier"):
        simulate(FitFails(), X, target, X, target, initial="stratified",
                 **{**kwargs, "estimator": Ridge()})
    Y = np.column_stack([y, y])
    with pytest.raises(ValueError, match="1-D class labels"):
        simulate(FitFails(), X, Y, X, Y, initial="stratified", **kwargs)


def test_skorch_runs_agree_in_joblib_worker_processes():
    # after the demo test, which has started joblib's process workers already
    torch.manual_seed(0)
    before = torch.get_rng_state()
    _assert_same_runs(_skorch_compare(), _skorch_compare(n_jobs=2))
    assert torch.equal(torch.get_rng_state(), before)
