"""BaitSampler against the brute-force reference, and what is particular to it.

What every sampler must do (valid and deterministic batches, inputs and estimator left
untouched, prefit, bad ``n``, NaN, feature count, select before fit) is checked on
BaitSampler by the conformance suite, in tests/test_common.py.
"""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from reference import bait_objective, bait_reference, factors
from skbait import BaitSampler
from skbait._heads import last_layer
from skbait._kernels import _linalg


def _problem(task, n_classes=3, n_outputs=1, seed=0, n_lab=12, n_pool=30, d=4, dup=False):
    rng = np.random.default_rng(seed)
    if task == "classification":
        X, y = make_classification(
            n_samples=n_lab + n_pool, n_features=d, n_informative=d, n_redundant=0,
            n_classes=n_classes, n_clusters_per_class=1, random_state=seed,
        )
    else:
        X, y = make_regression(
            n_samples=n_lab + n_pool, n_features=d, n_targets=n_outputs, random_state=seed
        )
    X_lab, y_lab, X_pool = X[:n_lab], y[:n_lab], X[n_lab:]
    if dup:
        X_pool = np.vstack([X_pool[:10], X_pool[:10], X_pool[rng.permutation(10)]])
    return X_lab, y_lab, X_pool


def _reference(sampler, X_lab, X_pool, n):
    lab = last_layer(sampler.estimator_, X_lab)
    pool = last_layer(sampler.estimator_, X_pool)
    V_lab = factors(lab.features, lab.proba, lab.kind)
    V_pool = factors(pool.features, pool.proba, pool.kind)
    ref_idx, ref_obj = bait_reference(
        V_lab, V_pool, n, alpha=sampler.alpha, oversample=sampler.oversample,
        backward=sampler.backward, fisher=sampler.fisher,
    )
    return V_lab, V_pool, ref_idx, ref_obj


CASES = {
    "multinomial": (dict(task="classification"), LogisticRegression(), {}),
    "multinomial-no-intercept": (
        dict(task="classification"), LogisticRegression(fit_intercept=False), {}),
    "multinomial-alpha-0.01": (dict(task="classification"), LogisticRegression(),
                               dict(alpha=0.01)),
    "binary": (dict(task="classification", n_classes=2), LogisticRegression(), {}),
    "ridge": (dict(task="regression"), Ridge(), {}),
    "ridge-3-outputs": (dict(task="regression", n_outputs=3), Ridge(), {}),
    "linear-regression": (dict(task="regression"), LinearRegression(), {}),
    "pipeline": (dict(task="classification"),
                 make_pipeline(StandardScaler(), LogisticRegression()), {}),
    "forward-only": (dict(task="classification"), LogisticRegression(),
                     dict(backward=False)),
    "identity-fisher": (dict(task="classification"), LogisticRegression(),
                        dict(fisher="identity")),
    "duplicate-rows": (dict(task="classification", dup=True), LogisticRegression(), {}),
    "oversample-3": (dict(task="classification"), LogisticRegression(), dict(oversample=3)),
    "ten-classes": (dict(task="classification", n_classes=10, n_lab=30, n_pool=40),
                    LogisticRegression(), {}),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("n", [1, 5])
def test_matches_brute_force(case, n):
    problem, estimator, params = CASES[case]
    X_lab, y_lab, X_pool = _problem(**problem)
    sampler = BaitSampler(estimator, device="cpu", **params).fit(X_lab, y_lab)
    picks = sampler.select(X_pool, n)
    V_lab, V_pool, ref_idx, ref_obj = _reference(sampler, X_lab, X_pool, n)
    assert picks.dtype == np.intp and len(set(picks)) == n
    ours = bait_objective(V_lab, V_pool, picks, n, alpha=sampler.alpha, fisher=sampler.fisher)
    if not np.array_equal(picks, ref_idx):
        # only ties may change the picks; the objective must then agree
        assert ours == pytest.approx(ref_obj, rel=1e-9)
    assert sampler.objective_ == pytest.approx(ours, rel=1e-9)
    n_forward = len(sampler.forward_gains_)
    assert n_forward == (min(sampler.oversample * n, len(X_pool)) if sampler.backward else n)
    assert len(sampler.backward_losses_) == n_forward - n
    assert sampler.scores_.shape == (n,)


@pytest.mark.parametrize("k", [2, 3, 10, 24])
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e4])
def test_trace_solve_planes_matches_explicit_inverse(k, scale):
    # the CPU gain: tr((I + P)⁻¹ Q) by elimination, Q unsymmetric (as the state keeps it)
    rng = np.random.default_rng(k)
    n = 7
    half = rng.normal(size=(n, k, k - 1)) * scale**0.5  # rank-deficient, like softmax P_x
    p = half @ half.transpose(0, 2, 1)
    q = rng.normal(size=(n, k, k))
    q = q @ q.transpose(0, 2, 1) + rng.normal(size=(n, k, k))
    pq = torch.as_tensor(np.concatenate([p, q], axis=2))
    planes = torch.full((k, 2 * k, n), np.nan, dtype=torch.float64)
    got = _linalg.trace_solve_planes(pq, planes).numpy()
    want = [np.trace(np.linalg.inv(np.eye(k) + p[i]) @ q[i]) for i in range(n)]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12 * np.abs(want).max())
    np.testing.assert_array_equal(pq.numpy(), np.concatenate([p, q], axis=2))


@pytest.mark.parametrize("route", ["planes", "solve", "cholesky", "inverse"])
def test_every_gain_route_picks_the_same_batch(monkeypatch, route):
    # each device and k takes one route (CUDA: the last two): force each on the CPU
    X_lab, y_lab, X_pool = _problem("classification", n_classes=10, n_lab=30, n_pool=40)
    sampler = BaitSampler(LogisticRegression(), device="cpu").fit(X_lab, y_lab)
    picks = sampler.select(X_pool, 6)
    objective, gains = sampler.objective_, sampler.forward_gains_
    assert _linalg.gain_route(torch.device("cpu"), 10) == "planes"
    monkeypatch.setattr(_linalg, "gain_route", lambda device, k: route)
    np.testing.assert_array_equal(sampler.select(X_pool, 6), picks)
    assert sampler.objective_ == pytest.approx(objective, rel=1e-12)
    np.testing.assert_allclose(sampler.forward_gains_, gains, rtol=1e-10)


def test_gains_account_for_the_objective():
    X_lab, y_lab, X_pool = _problem("classification")
    sampler = BaitSampler(LogisticRegression(), device="cpu").fit(X_lab, y_lab)
    picks = sampler.select(X_pool, 4)
    V_lab, V_pool, _, _ = _reference(sampler, X_lab, X_pool, 4)
    start = bait_objective(V_lab, V_pool, [], 4)
    telescoped = start - sampler.forward_gains_.sum() + sampler.backward_losses_.sum()
    assert telescoped == pytest.approx(sampler.objective_, rel=1e-9)
    assert np.all(sampler.forward_gains_ > 0)
    assert sampler.objective_ == pytest.approx(bait_objective(V_lab, V_pool, picks, 4))


def test_forward_only_is_prefix_of_forward_pass():
    X_lab, y_lab, X_pool = _problem("classification", n_pool=40)
    full = BaitSampler(LogisticRegression(), device="cpu", oversample=1).fit(X_lab, y_lab)
    fwd = BaitSampler(LogisticRegression(), device="cpu", backward=False).fit(X_lab, y_lab)
    np.testing.assert_array_equal(full.select(X_pool, 6), fwd.select(X_pool, 6))


def test_verbose_reports_the_run(capsys):
    X_lab, y_lab, X_pool = _problem("classification")
    BaitSampler(LogisticRegression(), device="cpu").fit(X_lab, y_lab).select(X_pool, 3)
    assert capsys.readouterr().out == ""
    BaitSampler(LogisticRegression(), device="cpu", verbose=1).fit(X_lab, y_lab).select(X_pool, 3)
    out = capsys.readouterr().out
    assert "30 candidates" in out and "6 forward + 3 backward" in out and "cpu" in out


# --- bad input the suite does not cover ------------------------------------------------

def test_unsupported_estimator_names_what_is_supported():
    X_lab, y_lab, _ = _problem("classification")
    with pytest.raises(TypeError, match="SVC.*Supported: LogisticRegression"):
        BaitSampler(SVC()).fit(X_lab, y_lab)


def test_single_class_labeled_set():
    X_lab, _, _ = _problem("classification")
    with pytest.raises(ValueError, match="only one class"):
        BaitSampler(LogisticRegression()).fit(X_lab, np.zeros(len(X_lab)))


@pytest.mark.parametrize("params", [dict(alpha=0), dict(oversample=0), dict(fisher="x")])
def test_bad_parameters(params):
    X_lab, y_lab, _ = _problem("classification")
    with pytest.raises(ValueError, match="parameter"):
        BaitSampler(LogisticRegression(), **params).fit(X_lab, y_lab)
