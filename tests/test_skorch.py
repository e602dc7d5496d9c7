"""skorch nets through the embedding hook, against the brute-force reference.

The reference representation is computed here straight from the module's layers (not
through skbait's hook), the probabilities from the net's ``predict_proba``.
"""

import inspect
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skbait
from reference import bait_objective, bait_reference, factors
from skbait import BaitSampler
from skbait.base import ModelSampler

skorch = pytest.importorskip("skorch", reason="skorch (the optional extra) is not installed")

N_LAB, N_POOL, N_FEATURES, N_HIDDEN = 40, 30, 5, 6


class MLP(torch.nn.Module):
    """``head(body(x))``; weights drawn from a local generator, so nets are reproducible."""

    def __init__(self, n_out=3, bias=True, squeeze=False, seed=0):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(N_FEATURES, N_HIDDEN), torch.nn.Tanh())
        self.head = torch.nn.Linear(N_HIDDEN, n_out, bias=bias)
        self.squeeze = squeeze
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for param in self.parameters():
                torch.nn.init.uniform_(param, -0.7, 0.7, generator=generator)

    def forward(self, X):
        out = self.head(self.body(X))
        return out.squeeze(-1) if self.squeeze else out


class HeadFirst(MLP):
    """The output layer is registered before the body: the last Linear is not the head."""

    def __init__(self, n_out=3):
        torch.nn.Module.__init__(self)
        self.head = torch.nn.Linear(N_HIDDEN, n_out)
        self.body = torch.nn.Sequential(torch.nn.Linear(N_FEATURES, N_HIDDEN), torch.nn.Tanh())
        self.squeeze = False


def _data(task, n_classes=3):
    if task == "regression":
        X, y = make_regression(N_LAB + N_POOL, N_FEATURES, noise=0.1, random_state=0)
        y = ((y - y.mean()) / y.std()).reshape(-1, 1)
    else:
        X, y = make_classification(
            N_LAB + N_POOL, N_FEATURES, n_informative=N_FEATURES, n_redundant=0,
            n_classes=n_classes, n_clusters_per_class=1, random_state=0,
        )
    return X.astype(np.float32)[:N_LAB], y[:N_LAB], X.astype(np.float32)[N_LAB:]


def _net(kind="classifier", module=MLP, **params):
    cls, extra = {
        "classifier": (skorch.NeuralNetClassifier,
                       dict(criterion=torch.nn.CrossEntropyLoss, module__n_out=3)),
        "two-class": (skorch.NeuralNetClassifier,
                      dict(criterion=torch.nn.CrossEntropyLoss, module__n_out=2)),
        "binary": (skorch.NeuralNetBinaryClassifier, dict(module__n_out=1, module__squeeze=True)),
        "regressor": (skorch.NeuralNetRegressor, dict(module__n_out=1)),
    }[kind]
    # batch_size < pool size, so the hook has to stitch batches together
    defaults = dict(max_epochs=15, lr=0.2, batch_size=16, train_split=None, verbose=0)
    return cls(module, **{**defaults, **extra, **params})


def _fitted(kind="classifier", **params):
    task = "regression" if kind == "regressor" else "classification"
    X_lab, y_lab, X_pool = _data(task, n_classes=2 if kind in ("two-class", "binary") else 3)
    # skorch wants float targets for the one-logit binary loss and for regression
    y_lab = y_lab.astype(np.int64 if kind in ("classifier", "two-class") else np.float32)
    net = _net(kind, **params).fit(X_lab, y_lab)
    return net, X_lab, y_lab, X_pool


def _with_bias(h):
    return np.hstack([h, np.ones((len(h), 1))])


def _body(net, X):
    with torch.no_grad():
        return net.module_.body(torch.as_tensor(X)).double().numpy()


def _check_against_reference(sampler, X_pool, n, H_lab, P_lab, H_pool, P_pool, kind):
    picks = sampler.select(X_pool, n)
    # the net's float32 outputs, taken exactly as skbait takes them: into float64
    P_lab, P_pool = (None if P is None else np.asarray(P, dtype=np.float64)
                     for P in (P_lab, P_pool))
    V_lab, V_pool = factors(H_lab, P_lab, kind), factors(H_pool, P_pool, kind)
    ref_idx, ref_obj = bait_reference(V_lab, V_pool, n)
    ours = bait_objective(V_lab, V_pool, picks, n)
    if not np.array_equal(picks, ref_idx):
        # only ties may change the picks; the objective must then agree
        assert ours == pytest.approx(ref_obj, rel=1e-9)
    assert sampler.objective_ == pytest.approx(ours, rel=1e-9)
    return picks


@pytest.mark.parametrize("n", [1, 5])
@pytest.mark.parametrize("kind", ["classifier", "two-class"])
def test_classifier_hook_matches_brute_force(kind, n):
    net, X_lab, y_lab, X_pool = _fitted(kind)
    sampler = BaitSampler(net, prefit=True).fit(X_lab, y_lab)
    assert sampler.estimator_ is not net  # a copy, with the same weights
    for ours, theirs in zip(sampler.estimator_.module_.parameters(), net.module_.parameters()):
        assert torch.equal(ours, theirs)
    n_classes = net.predict_proba(X_lab).shape[1]
    # a net with two logits has two weight vectors: softmax over k = 2, not one vector
    assert sampler.labeled_fisher_.shape == ((N_HIDDEN + 1) * n_classes,) * 2
    _check_against_reference(
        sampler, X_pool, n,
        _with_bias(_body(net, X_lab)), net.predict_proba(X_lab),
        _with_bias(_body(net, X_pool)), net.predict_proba(X_pool), "softmax",
    )


def test_binary_classifier_is_one_weight_vector():
    net, X_lab, y_lab, X_pool = _fitted("binary")
    sampler = BaitSampler(net, prefit=True).fit(X_lab, y_lab)
    assert sampler.labeled_fisher_.shape == (N_HIDDEN + 1,) * 2
    _check_against_reference(
        sampler, X_pool, 5,
        _with_bias(_body(net, X_lab)), net.predict_proba(X_lab),
        _with_bias(_body(net, X_pool)), net.predict_proba(X_pool), "binary",
    )


def test_regressor_hook_matches_brute_force():
    net, X_lab, y_lab, X_pool = _fitted("regressor")
    sampler = BaitSampler(net, prefit=True).fit(X_lab, y_lab)
    _check_against_reference(
        sampler, X_pool, 5,
        _with_bias(_body(net, X_lab)), None, _with_bias(_body(net, X_pool)), None,
        "regression",
    )


def test_head_without_bias_has_no_constant_feature():
    net, X_lab, y_lab, X_pool = _fitted(module__bias=False)
    sampler = BaitSampler(net, prefit=True).fit(X_lab, y_lab)
    assert sampler.labeled_fisher_.shape == (N_HIDDEN * 3,) * 2
    _check_against_reference(
        sampler, X_pool, 5,
        _body(net, X_lab), net.predict_proba(X_lab),
        _body(net, X_pool), net.predict_proba(X_pool), "softmax",
    )


def test_named_layer_embedding():
    net, X_lab, y_lab, X_pool = _fitted()
    sampler = BaitSampler(net, embedding="body.0", prefit=True).fit(X_lab, y_lab)

    def pre_activation(X):
        with torch.no_grad():
            return net.module_.body[0](torch.as_tensor(X)).double().numpy()

    _check_against_reference(
        sampler, X_pool, 5,
        pre_activation(X_lab), net.predict_proba(X_lab),
        pre_activation(X_pool), net.predict_proba(X_pool), "softmax",
    )


def _squared_body(net, X):
    return _body(net, X) ** 2


def test_callable_embedding():
    net, X_lab, y_lab, X_pool = _fitted()
    sampler = BaitSampler(net, embedding=_squared_body, prefit=True).fit(X_lab, y_lab)
    _check_against_reference(
        sampler, X_pool, 5,
        _squared_body(net, X_lab), net.predict_proba(X_lab),
        _squared_body(net, X_pool), net.predict_proba(X_pool), "softmax",
    )


def test_prefit_false_trains_a_clone():
    X_lab, y_lab, X_pool = _data("classification")
    net = _net()
    sampler = BaitSampler(net).fit(X_lab, y_lab)
    fitted = sampler.estimator_
    assert fitted is not net and not net.initialized_
    assert len(fitted.history) == 15
    _check_against_reference(
        sampler, X_pool, 5,
        _with_bias(_body(fitted, X_lab)), fitted.predict_proba(X_lab),
        _with_bias(_body(fitted, X_pool)), fitted.predict_proba(X_pool), "softmax",
    )


def test_frozen_net_is_used_as_is():
    net, X_lab, y_lab, X_pool = _fitted()
    frozen = BaitSampler(FrozenEstimator(net)).fit(X_lab, y_lab)
    assert frozen.estimator_.estimator is net
    prefit = BaitSampler(net, prefit=True).fit(X_lab, y_lab)
    np.testing.assert_array_equal(frozen.select(X_pool, 5), prefit.select(X_pool, 5))


def test_pipeline_ending_in_a_net():
    X_lab, y_lab, X_pool = _data("classification")
    pipe = make_pipeline(StandardScaler(), _net()).fit(X_lab, y_lab)
    sampler = BaitSampler(pipe, prefit=True).fit(X_lab, y_lab)
    scaler, net = pipe[0], pipe[-1]
    _check_against_reference(
        sampler, X_pool, 5,
        _with_bias(_body(net, scaler.transform(X_lab))), pipe.predict_proba(X_lab),
        _with_bias(_body(net, scaler.transform(X_pool))), pipe.predict_proba(X_pool),
        "softmax",
    )


def test_tensor_and_float32_inputs_agree():
    net, X_lab, y_lab, X_pool = _fitted()
    from_arrays = BaitSampler(net, prefit=True).fit(X_lab, y_lab).select(X_pool, 5)
    tensors = BaitSampler(net, prefit=True).fit(torch.as_tensor(X_lab), y_lab)
    assert tensors.n_features_in_ == N_FEATURES and tensors.n_labeled_ == N_LAB
    np.testing.assert_array_equal(tensors.select(torch.as_tensor(X_pool), 5), from_arrays)


def test_net_is_left_as_it_was():
    net, X_lab, y_lab, X_pool = _fitted()
    before = {name: p.clone() for name, p in net.module_.state_dict().items()}
    pool_copy = X_pool.copy()
    BaitSampler(net, prefit=True).fit(X_lab, y_lab).select(X_pool, 5)
    for name, p in net.module_.state_dict().items():
        assert torch.equal(p, before[name]), name
    np.testing.assert_array_equal(X_pool, pool_copy)
    assert not any(m._forward_hooks for m in net.module_.modules())


def test_device_follows_the_net():
    net, X_lab, y_lab, _ = _fitted()
    assert BaitSampler(net, prefit=True).fit(X_lab, y_lab).device_ == torch.device(net.device)


# --- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("as_tensor", [False, True])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_input(as_tensor, value):
    net, X_lab, y_lab, X_pool = _fitted()
    sampler = BaitSampler(net, prefit=True).fit(X_lab, y_lab)
    X_bad = X_pool.copy()
    X_bad[2, 3] = value
    with pytest.raises(ValueError, match="NaN|infinity"):
        sampler.select(torch.as_tensor(X_bad) if as_tensor else X_bad, 3)
    X_lab_bad = X_lab.copy()
    X_lab_bad[0, 0] = value
    with pytest.raises(ValueError, match="NaN|infinity"):
        BaitSampler(net, prefit=True).fit(X_lab_bad, y_lab)


def test_wrong_number_of_features():
    net, X_lab, y_lab, X_pool = _fitted()
    sampler = BaitSampler(net, prefit=True).fit(X_lab, y_lab)
    with pytest.raises(ValueError, match="4 features.*expecting 5"):
        sampler.select(torch.as_tensor(X_pool[:, :4]), 2)


def test_prefit_with_an_untrained_net():
    X_lab, y_lab, _ = _data("classification")
    with pytest.raises(NotFittedError, match="prefit=True"):
        BaitSampler(_net(), prefit=True).fit(X_lab, y_lab)


def test_last_linear_that_is_not_the_output_layer():
    X_lab, y_lab, _ = _data("classification")
    net = _net(module=HeadFirst).fit(X_lab, y_lab)
    with pytest.raises(ValueError, match="not the output layer.*embedding='name'"):
        BaitSampler(net, prefit=True).fit(X_lab, y_lab)
    # naming the layer whose output feeds the head is the way out
    BaitSampler(net, prefit=True, embedding="body").fit(X_lab, y_lab)


def test_unknown_layer_name():
    net, X_lab, y_lab, _ = _fitted()
    with pytest.raises(ValueError, match="'neck' is not a submodule.*'body.0'"):
        BaitSampler(net, embedding="neck", prefit=True).fit(X_lab, y_lab)


def test_layer_name_needs_a_net():
    X_lab, y_lab, _ = _data("classification")
    with pytest.raises(TypeError, match="layer name applies only to skorch nets"):
        BaitSampler(LogisticRegression(), embedding="body").fit(X_lab, y_lab)


def test_plain_neural_net_is_refused():
    X_lab, y_lab, _ = _data("classification")
    net = skorch.NeuralNet(MLP, criterion=torch.nn.CrossEntropyLoss)
    with pytest.raises(TypeError, match="NeuralNet has no last layer.*NeuralNetClassifier"):
        BaitSampler(net).fit(X_lab, y_lab)


# --- the other samplers ------------------------------------------------------------------

SIBLINGS = sorted(
    name for name in skbait.__all__
    if name != "BaitSampler" and isinstance(getattr(skbait, name), type)
    and issubclass(getattr(skbait, name), ModelSampler)
)


@pytest.mark.parametrize("name", SIBLINGS)
def test_siblings_work_on_the_same_nets(name):
    cls = getattr(skbait, name)
    net, X_lab, y_lab, X_pool = _fitted()
    seeded = "random_state" in inspect.signature(cls).parameters
    params = {"random_state": 0} if seeded else {}

    def select(X):
        sampler = cls(net, prefit=True, **params).fit(X_lab, y_lab)
        return sampler.select(X, 5)

    picks = select(X_pool)
    assert picks.shape == (5,) and len(set(picks)) == 5
    assert picks.min() >= 0 and picks.max() < N_POOL
    np.testing.assert_array_equal(select(torch.as_tensor(X_pool)), picks)


def test_linear_models_do_not_import_skorch():
    code = (
        "import sys; from sklearn.datasets import load_iris;"
        "from sklearn.linear_model import LogisticRegression; from skbait import BaitSampler;"
        "X, y = load_iris(return_X_y=True);"
        "BaitSampler(LogisticRegression(), device='cpu').fit(X[::10], y[::10]).select(X, 3);"
        "assert 'skorch' not in sys.modules, 'skorch was imported'"
    )
    # the skbait under test, wherever it is imported from here
    path = os.pathsep.join([os.path.dirname(os.path.dirname(skbait.__file__)), *sys.path])
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": path})
