"""From a fitted estimator to its last layer: representation, probabilities, head kind.

This is the only module that knows about estimator types. Everything downstream (the
kernels) sees arrays: ``features`` (n, d), ``proba`` (n, k) or None, and ``kind``.
"""

import sys
from dataclasses import dataclass

import numpy as np
import torch
from scipy import sparse
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import (
    ARDRegression,
    BayesianRidge,
    ElasticNet,
    ElasticNetCV,
    Lasso,
    LassoCV,
    LinearRegression,
    LogisticRegression,
    LogisticRegressionCV,
    Ridge,
    RidgeCV,
    SGDRegressor,
)
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_array

from ._kernels.memory import representation_bytes
from .utils._memory import DENSIFY_MAX_BYTES, MEMORY_ADVICE, check_memory
from .utils._validation import check_probabilities as _check_probabilities
from .utils._validation import num_rows

_CLASSIFIERS = (LogisticRegression, LogisticRegressionCV)
_REGRESSORS = (
    LinearRegression, Ridge, RidgeCV, Lasso, LassoCV, ElasticNet, ElasticNetCV,
    BayesianRidge, ARDRegression, SGDRegressor,
)
_NETS = ("NeuralNetClassifier", "NeuralNetBinaryClassifier", "NeuralNetRegressor")


def _names(classes):
    return ", ".join(cls.__name__ for cls in classes)


#: The models skbait takes a last layer from, in words; generated from the lists above so
#: that the error messages and the docstrings cannot drift from what the code accepts.
SUPPORTED = (
    f"{_names(_CLASSIFIERS)} (binary or multinomial), linear regressors "
    f"({_names(_REGRESSORS)}; any number of outputs), skorch {' / '.join(_NETS)}, a "
    "Pipeline whose last step is one of these, or a FrozenEstimator wrapping any of them"
)


@dataclass(frozen=True)
class LastLayer:
    """The last layer of a model evaluated on ``n`` points.

    Attributes
    ----------
    features : ndarray of shape (n, d), float64
        Representation ``h(x)``; a constant-1 column is appended when the head has a bias.
    proba : ndarray of shape (n, k) or None
        Predicted class probabilities (None for regression).
    kind : {"softmax", "binary", "regression"}
        Which Fisher factor applies (see ``skbait._kernels.fisher``).
    """

    features: np.ndarray
    proba: np.ndarray | None
    kind: str


def _unwrap(estimator):
    """The estimator without a FrozenEstimator wrapper."""
    while isinstance(estimator, FrozenEstimator):
        estimator = estimator.estimator
    return estimator


def final_step(estimator):
    """The model that owns the last layer: the last step of a Pipeline, unwrapped."""
    estimator = _unwrap(estimator)
    if isinstance(estimator, Pipeline):
        return final_step(estimator.steps[-1][1])
    return estimator


def is_net(estimator):
    """Whether ``estimator`` is a skorch net (without importing skorch).

    skorch is an optional extra: when it has not been imported, no skorch object exists.
    """
    skorch = sys.modules.get("skorch")
    return skorch is not None and isinstance(estimator, skorch.NeuralNet)


def head_task(estimator):
    """``"classification"`` or ``"regression"``; TypeError for unsupported estimators."""
    head = final_step(estimator)
    if isinstance(head, _CLASSIFIERS):
        return "classification"
    if isinstance(head, _REGRESSORS):
        return "regression"
    if is_net(head):
        skorch = sys.modules["skorch"]
        if isinstance(head, (skorch.NeuralNetClassifier, skorch.NeuralNetBinaryClassifier)):
            return "classification"
        if isinstance(head, skorch.NeuralNetRegressor):
            return "regression"
    raise TypeError(
        f"{type(head).__name__} has no last layer skbait supports. Supported: {SUPPORTED}."
    )


@dataclass(frozen=True)
class Representation:
    """A model's representation ``h(x)`` of ``n`` points, before any bias column.

    Attributes
    ----------
    features : array-like of shape (n, d)
        Dense or sparse; not yet converted to float64.
    bias : bool
        Whether the head has a bias, a last-layer parameter (a constant-1 feature).
    output : ndarray or None
        The net's prediction when computing ``h`` took a forward pass, else None.
    output_layer : torch.nn.Linear or None
        The hooked Linear when ``h`` is its input (it must then be the output layer).
    """

    features: object
    bias: bool
    output: np.ndarray | None = None
    output_layer: object = None


def representation(estimator, X, embedding=None):
    """``h(x)`` of a fitted ``estimator`` on ``X``: the one hook every sampler uses.

    ``embedding=None``: ``X`` itself for a linear model, what precedes a Pipeline's last
    step, and for a skorch net the input of its last ``torch.nn.Linear`` (see
    :class:`_NetHook`); a string names a skorch net's submodule; a callable is called as
    ``embedding(estimator, X)``. Whatever its source, the result must have one row per
    point of ``X``.

    Returns
    -------
    Representation
    """
    head = final_step(estimator)
    if is_net(head) and not callable(embedding):
        # one batched eval-mode pass on the net's device fills the hook and gives the outputs
        with _NetHook(head, embedding) as hook:
            output = np.asarray(_predict(estimator)(X), dtype=np.float64)
        return Representation(hook.features(output.shape[0]), hook.has_bias, output,
                              hook.module if embedding is None else None)
    if callable(embedding):
        h = embedding(estimator, X)
        where = f"embedding={getattr(embedding, '__name__', embedding)!r}"
    elif embedding is not None:
        raise TypeError(
            f"embedding={embedding!r}: a layer name applies only to skorch nets, and "
            f"{type(head).__name__} is not one; pass embedding=None (the model's own "
            "representation) or a callable (estimator, X) -> array."
        )
    else:
        h = _default_representation(estimator, X)
        where = "the representation"
    _check_rows(h, num_rows(X), where)
    return Representation(h, embedding is None and getattr(head, "fit_intercept", False))


def _default_representation(estimator, X):
    estimator = _unwrap(estimator)
    if isinstance(estimator, Pipeline):
        if len(estimator) > 1:
            X = estimator[:-1].transform(X)
        return _default_representation(estimator.steps[-1][1], X)
    return X


def _check_rows(h, n_rows, where):
    shape = getattr(h, "shape", None)
    if shape is None:
        raise TypeError(
            f"{where} returned a {type(h).__name__}; it must return an array of shape "
            f"(n_samples, n_features), one row per point of X."
        )
    if len(shape) != 2 or shape[0] != n_rows:
        raise ValueError(
            f"{where} returned an array of shape {tuple(shape)} for {n_rows} points of X; "
            f"it must have shape ({n_rows}, n_features), one row per point."
        )


def _predict(estimator):
    return estimator.predict_proba if head_task(estimator) == "classification" else (
        estimator.predict)


def predict_proba(estimator, X):
    """``estimator.predict_proba(X)`` as float64, checked to be probabilities.

    Every sampler that reads probabilities takes them from here: finite, non-negative,
    rows summing to 1. Anything else (logits, log-probabilities) would give meaningless
    picks, so it is refused with what is likely wrong.
    """
    return check_probabilities(np.asarray(estimator.predict_proba(X), dtype=np.float64),
                               final_step(estimator))


def check_probabilities(proba, head):
    """Raise ValueError unless ``proba`` (n, k) holds rows of class probabilities.

    ``head`` is the model they came from, named in the message with the likely fix.
    """
    hint = ("A skorch net whose module returns logits needs "
            "criterion=torch.nn.CrossEntropyLoss (skorch then applies the softmax), or a "
            "softmax at the end of forward (skorch's default criterion, NLLLoss, expects "
            "log-probabilities and passes the module's output through as they are)."
            if is_net(head) else
            f"Check that {type(head).__name__}.predict_proba returns class probabilities.")
    return _check_probabilities(proba, f"predict_proba returned them. {hint}")


class _NetHook:
    """Collects a skorch net's representation while the net runs forward passes.

    ``embedding=None`` hooks the input of the last ``torch.nn.Linear`` of ``net.module_``
    (in registration order), whose bias, if any, is a last-layer parameter;
    ``embedding="name"`` hooks the output of that submodule, flattened per point. Each
    batch is copied to the CPU as it comes, so device memory does not grow with ``n``.
    """

    def __init__(self, net, embedding):
        modules = dict(net.module_.named_modules())
        if embedding is None:
            linears = [m for m in modules.values() if isinstance(m, torch.nn.Linear)]
            if not linears:
                raise TypeError(
                    f"{type(net.module_).__name__} has no torch.nn.Linear layer to take the "
                    "last layer from; name the representation layer with embedding='name' "
                    "or pass a callable."
                )
            self.module = linears[-1]
            self.where = f"the input of its last torch.nn.Linear ({self.module})"
        elif embedding in modules:
            self.module = modules[embedding]
            self.where = f"the output of submodule {embedding!r}"
        else:
            names = ", ".join(repr(name) for name in list(modules)[1:20])
            raise ValueError(
                f"embedding={embedding!r} is not a submodule of {type(net.module_).__name__}"
                f" (its submodules: {names})."
            )
        self.take_input = embedding is None
        self.has_bias = self.take_input and self.module.bias is not None
        self.batches = []

    def _record(self, module, inputs, output):
        value = inputs[0] if self.take_input else output
        if not isinstance(value, torch.Tensor) or (self.take_input and value.dim() != 2):
            raise ValueError(
                f"The net's representation, {self.where}, is not a 2-D tensor of one row "
                "per point; name another layer with embedding='name' or pass a callable."
            )
        self.batches.append(value.detach().reshape(value.shape[0], -1).to("cpu", torch.float64))

    def __enter__(self):
        self._handle = self.module.register_forward_hook(self._record)
        return self

    def __exit__(self, *exc):
        self._handle.remove()

    def features(self, n_rows):
        """The collected ``(n_rows, d)`` representation, checked to have one row per point."""
        h = torch.cat(self.batches).numpy() if self.batches else np.empty((0, 0))
        if h.shape[0] != n_rows:
            raise ValueError(
                f"The net's representation, {self.where}, produced {h.shape[0]} rows for "
                f"{n_rows} points: that layer is not the net's output layer. Name the "
                "representation layer with embedding='name' or pass a callable."
            )
        return h


def last_layer(estimator, X, embedding=None, check=None):
    """Evaluate the last layer of a fitted ``estimator`` on ``X``.

    Parameters
    ----------
    estimator : fitted estimator
        A supported model (see :data:`SUPPORTED`).
    X : array-like of shape (n, n_features)
        For a skorch net, anything its ``predict_proba`` takes (e.g. a float32 array or a
        torch tensor).
    embedding : None, str or callable, default=None
        How to compute the representation: see :func:`representation`.
    check : callable, default=None
        Called as ``check(n, d, k)`` with the shape of the last layer (``d`` with the bias
        column, ``k`` the width of the Fisher factor) as soon as the representation is
        known, before a sparse one is densified and before a linear model's probabilities
        are computed: a sampler refuses there a problem too large for its device.

    Returns
    -------
    LastLayer
    """
    task = head_task(estimator)
    head = final_step(estimator)
    rep = representation(estimator, X, embedding)
    h, bias, output = rep.features, rep.bias, rep.output
    if task == "classification" and output is not None:
        output = check_probabilities(output, head)
    if not sparse.issparse(h):
        h = check_array(h, dtype=np.float64, input_name="representation")
    if check is not None:
        check(h.shape[0], h.shape[1] + bias, _fisher_width(head, task, output))
    if sparse.issparse(h):
        h = check_array(densify(h), dtype=np.float64, input_name="representation")
    if output is None and task == "classification":
        output = predict_proba(estimator, X)
    if bias:
        h = np.hstack([h, np.ones((h.shape[0], 1))])
    if task == "regression":
        layer = LastLayer(h, None, "regression")
    else:
        layer = LastLayer(h, output, _classifier_kind(head, output))
    if rep.output_layer is not None:
        _check_logits(rep.output_layer, layer, output)
    return layer


def densify(h):
    """``h`` as a dense array; a sparse one only after checking it is worth it.

    A TF-IDF or hashed matrix of 10⁵ to 10⁶ columns is small sparse and gigabytes dense,
    and the samplers would then spend a minute on it: a dense copy larger than
    ``DENSIFY_MAX_BYTES`` (or than the host has) is refused with advice before
    ``toarray`` is tried.
    """
    if not sparse.issparse(h):
        return h
    what = f"Densifying the sparse representation ({h.shape[0]} × {h.shape[1]})"
    needed = representation_bytes(*h.shape)
    check_memory(needed, "cpu", what, MEMORY_ADVICE, limit=DENSIFY_MAX_BYTES)
    return h.toarray()


def _fisher_width(head, task, output):
    """Columns ``k`` of the Fisher factor: classes for softmax, 1 for binary and regression.

    ``output`` is the net's prediction when already computed, else None (a linear model's
    classes tell).
    """
    if task == "regression":
        return 1
    if output is None:
        n_classes = len(head.classes_)
        return 1 if n_classes == 2 else n_classes
    return 1 if _classifier_kind(head, output) == "binary" else output.shape[1]


def _classifier_kind(head, proba):
    """``"binary"`` for one weight vector (sklearn's binary logistic regression, skorch's
    NeuralNetBinaryClassifier), else ``"softmax"`` over the probability columns (a net
    with two logits has two weight vectors)."""
    if is_net(head):
        binary = isinstance(head, sys.modules["skorch"].NeuralNetBinaryClassifier)
    else:
        binary = proba.shape[1] == 2
    return "binary" if binary else "softmax"


def _check_logits(linear, layer, output):
    """The hooked Linear must be the output layer: as many outputs as the head has."""
    if layer.kind == "softmax":
        expected = layer.proba.shape[1]
    elif layer.kind == "binary":
        expected = 1
    else:
        expected = output.reshape(output.shape[0], -1).shape[1]
    if linear.out_features != expected:
        raise ValueError(
            f"The net's last torch.nn.Linear ({linear}) has {linear.out_features} outputs but "
            f"the net predicts {expected} per point, so it is not the output layer. Name the "
            "representation layer with embedding='name' or pass a callable."
        )
