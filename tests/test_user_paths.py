"""The paths a new user takes, each once found silently wrong or obscure (issue 12).

Every test here failed on the code before its fix: identical candidates scored apart by
rounding, a skorch net ignored by Coreset, logits read as probabilities, text refused by
RandomSampler, a callable embedding's output unchecked, a pool DataFrame checked more
strictly than its Pipeline checks it, feature-name warnings, and a silent densification.
"""

import warnings

import numpy as np
import pytest
import torch
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skbait import (
    BadgeSampler,
    BaitSampler,
    CoresetSampler,
    DeterminantalSampler,
    RandomSampler,
    UncertaintySampler,
)
from skbait._kernels import kmeanspp
from skbait._kernels.fisher import softmax_factors
from skbait._kernels.kcenter import KCenterState
from skbait._kernels.uncertainty import uncertainty
from skbait._kernels.woodbury import DesignState, TraceState

pd = pytest.importorskip("pandas", reason="pandas (in the test extra) is not installed")


def _problem(n=60, n_features=5, seed=0):
    X, y = make_classification(n, n_features, n_informative=3, n_redundant=0, n_classes=3,
                               n_clusters_per_class=1, random_state=seed)
    return X[:20], y[:20], X[20:]


# --- 1. identical candidates, identical scores -------------------------------------------

# far apart in the pool, and in different chunks, so that any position-dependent rounding
# (a GEMM's edge blocks, a chunk boundary) would show
COPIES = [0, 7, 1234, 2999]


def _pool_with_copies(n=3000, d=33, k=7, seed=0):
    rng = np.random.default_rng(seed)
    h = torch.as_tensor(rng.normal(size=(n, d)))
    p = rng.dirichlet(np.ones(k), size=n)
    p = torch.as_tensor(p)
    h[COPIES] = h[COPIES[0]].clone()
    p[COPIES] = p[COPIES[0]].clone()
    return h, p


def _design_matrices(D, seed=1):
    rng = np.random.default_rng(seed)
    a = torch.as_tensor(rng.normal(size=(D, D)))
    f = torch.as_tensor(rng.normal(size=(D, D)))
    return torch.eye(D) + a @ a.T / D, f @ f.T / D


def _assert_copies_equal(scores):
    values = scores[COPIES]
    assert torch.equal(values, values[:1].expand_as(values)), values.tolist()


@pytest.mark.parametrize("state", ["trace", "logdet"])
def test_identical_candidates_get_identical_gains(state):
    h, p = _pool_with_copies()
    factors = softmax_factors(h, p).scaled(0.3)
    m0, fisher = _design_matrices(factors.n_params)
    if state == "trace":
        design = TraceState(factors, m0, fisher, chunk_size=500, removals=True)
    else:
        design = DesignState(factors, m0, chunk_size=500)
    _assert_copies_equal(design.gains())
    _assert_copies_equal(design.add(11))
    _assert_copies_equal(design.add(COPIES[1]))  # a copy chosen: the others stay equal


def test_identical_candidates_get_identical_distances():
    h, _ = _pool_with_copies()
    state = KCenterState(h, h[100:140] * 1.5, chunk_size=500)
    _assert_copies_equal(state.gains())
    _assert_copies_equal(state.add(5))


def test_identical_candidates_get_identical_badge_distances():
    h, p = _pool_with_copies()
    a = p - torch.nn.functional.one_hot(p.argmax(1), p.shape[1])
    for centre in (3, COPIES[2]):
        _assert_copies_equal(kmeanspp._dots(a, centre) * kmeanspp._dots(h, centre))


def test_identical_candidates_get_identical_uncertainty():
    _, p = _pool_with_copies()
    for method in ("least_confident", "margin", "entropy"):
        _assert_copies_equal(uncertainty(p, method))


# --- 2, 3. skorch nets: Coreset's representation, logits ---------------------------------

skorch = pytest.importorskip("skorch", reason="skorch (in the test extra) is not installed")


class _MLP(torch.nn.Module):
    def __init__(self, softmax=True, seed=0):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh())
        self.head = torch.nn.Linear(8, 3)
        self.softmax = softmax
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for param in self.parameters():
                torch.nn.init.uniform_(param, -0.7, 0.7, generator=generator)

    def forward(self, X):
        out = self.head(self.body(X))
        return torch.softmax(out, dim=-1) if self.softmax else out


def _net(softmax=True, **params):
    net = skorch.NeuralNetClassifier(_MLP, module__softmax=softmax, max_epochs=0,
                                     train_split=None, **params)
    return net.initialize()


def test_coreset_uses_the_nets_hidden_layer():
    X_lab, y_lab, X_pool = (a.astype(np.float32) for a in _problem())
    net = _net()
    sampler = CoresetSampler(net, prefit=True, device="cpu").fit(X_lab, y_lab)
    with torch.no_grad():
        hidden = net.module_.body(torch.as_tensor(X_lab)).double().numpy()
    np.testing.assert_allclose(sampler.labeled_representation_, hidden, rtol=1e-6)
    named = CoresetSampler(net, prefit=True, embedding="body", device="cpu").fit(X_lab, y_lab)
    np.testing.assert_array_equal(named.select(X_pool, 4), sampler.select(X_pool, 4))
    raw = CoresetSampler(device="cpu").fit(X_lab)
    assert raw.labeled_representation_.shape == (20, 5)


@pytest.mark.parametrize("make", [
    lambda net: UncertaintySampler(net, prefit=True, device="cpu"),
    lambda net: BadgeSampler(net, prefit=True, random_state=0, device="cpu"),
    lambda net: BaitSampler(net, prefit=True, device="cpu"),
    lambda net: DeterminantalSampler(net, prefit=True, device="cpu"),
], ids=["uncertainty", "badge", "bait", "determinantal"])
def test_logits_are_not_taken_for_probabilities(make):
    # skorch's default criterion, NLLLoss, passes a module's logits through predict_proba
    X_lab, y_lab, X_pool = (a.astype(np.float32) for a in _problem())
    net = _net(softmax=False, criterion=torch.nn.NLLLoss)
    with pytest.raises(ValueError, match="logits.*CrossEntropyLoss"):
        make(net).fit(X_lab, y_lab).select(X_pool, 3)
    make(_net()).fit(X_lab, y_lab).select(X_pool, 3)  # probabilities are fine


# --- 4. RandomSampler reads only the pool's length ----------------------------------------

def test_random_sampler_takes_text_and_categories():
    docs = ["a cat", "a dog", "two cats", "a bird", "dogs and cats"]
    picks = RandomSampler(random_state=0).fit(docs).select(docs, 2)
    assert len(set(picks)) == 2 and picks.max() < len(docs)
    frame = pd.DataFrame({"colour": ["red", "blue", "red", "green"], "size": [1.0, 2, 3, 4]})
    picks = RandomSampler(random_state=0).fit(frame).select(frame, 3)
    assert len(set(picks)) == 3
    with pytest.raises(ValueError, match="larger than the pool"):
        RandomSampler().fit(docs).select(docs, 6)


# --- 5. a callable embedding's output is checked -------------------------------------------

@pytest.mark.parametrize("make", [
    lambda emb: CoresetSampler(LogisticRegression(), embedding=emb, device="cpu"),
    lambda emb: BaitSampler(LogisticRegression(), embedding=emb, device="cpu"),
    lambda emb: BadgeSampler(LogisticRegression(), embedding=emb, random_state=0,
                             device="cpu"),
], ids=["coreset", "bait", "badge"])
def test_callable_embedding_must_give_a_row_per_point(make):
    X_lab, y_lab, X_pool = _problem()

    def three_rows(estimator, X):
        return np.ones((3, 4))

    with pytest.raises(ValueError, match=r"embedding='three_rows' returned .*\(3, 4\)"):
        make(three_rows).fit(X_lab, y_lab).select(X_pool, 2)

    def not_finite(estimator, X):
        out = np.asarray(X, dtype=float).copy()
        out[1, 1] = np.nan
        return out

    with pytest.raises(ValueError, match="NaN"):
        make(not_finite).fit(X_lab, y_lab).select(X_pool, 2)


# --- 6, 8. DataFrames: let the Pipeline decide; keep the feature names ---------------------

def _frames():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=80), "z": rng.normal(size=80),
                          "colour": rng.choice(["red", "blue", "green"], size=80)})
    y = (frame["x"] + (frame["colour"] == "red") > 0.3).astype(int).to_numpy().copy()
    y[frame["z"] > 1.0] = 2
    return frame[:30], y[:30], frame[30:]


def test_pool_frame_with_extra_or_reordered_columns_goes_to_the_pipeline():
    X_lab, y_lab, X_pool = _frames()
    model = make_pipeline(
        ColumnTransformer([("num", StandardScaler(), ["x", "z"]),
                           ("cat", OneHotEncoder(), ["colour"])]),
        LogisticRegression())
    sampler = BaitSampler(model, device="cpu").fit(X_lab, y_lab)
    picks = sampler.select(X_pool, 5)
    with_id = X_pool.assign(id=np.arange(len(X_pool)))
    np.testing.assert_array_equal(sampler.select(with_id, 5), picks)
    np.testing.assert_array_equal(sampler.select(X_pool[["colour", "z", "x"]], 5), picks)


def test_frame_with_a_plain_model_keeps_its_feature_names():
    X_lab, y_lab, X_pool = _frames()
    X_lab, X_pool = X_lab[["x", "z"]], X_pool[["x", "z"]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "X has feature names, but ... was fitted without"
        sampler = BaitSampler(LogisticRegression(), device="cpu").fit(X_lab, y_lab)
        sampler.select(X_pool, 4)
        sampler.estimator_.score(X_pool, np.zeros(len(X_pool)))
    assert list(sampler.estimator_.feature_names_in_) == ["x", "z"]


# --- 8. a wide sparse representation is refused, not densified ----------------------------

@pytest.mark.parametrize("make", [
    lambda model: CoresetSampler(model, device="cpu"),
    lambda model: BadgeSampler(model, random_state=0, device="cpu"),
], ids=["coreset", "badge"])
def test_wide_sparse_representation_is_refused_up_front(make, monkeypatch):
    docs = [f"document {i} about {'cats' if i % 2 else 'dogs'} number {i % 7}"
            for i in range(400)]
    y = np.arange(400) % 2
    model = make_pipeline(HashingVectorizer(), LogisticRegression())  # 2²⁰ columns
    called = []
    monkeypatch.setattr(sparse.csr_matrix, "toarray", lambda self, *a, **k: called.append(1))
    with pytest.raises(MemoryError, match="Densifying the sparse representation.*TruncatedSVD"):
        make(model).fit(docs[:200], y[:200]).select(docs[200:], 5)
    assert not called
