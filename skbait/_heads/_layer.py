"""A fitted model's last layer on ``X``: the representation ``h(x)`` (the one hook every
sampler uses), the checked probabilities, and the head kind."""

import functools
import sys
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_array, validate_data

from .._kernels.memory import representation_bytes
from .._kernels.threads import forward_threads
from ..utils._memory import DENSIFY_MAX_BYTES, MEMORY_ADVICE, check_memory
from ..utils._validation import check_probabilities as _check_probabilities
from ..utils._validation import num_rows
from ._models import _MLPS, _MLP_CLASSIFIERS, _unwrap, final_step, head_task, is_net
from ._net import _NetHook


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


def _forward(function):
    """``function(estimator, X, ...)``, a model's forward pass over ``X``, on
    :func:`~skbait._kernels.threads.forward_threads` (one BLAS thread for a small ``X``):
    every sampler's forward goes through the functions decorated with it."""
    @functools.wraps(function)
    def run(estimator, X, *args, **kwargs):
        with forward_threads(X):
            return function(estimator, X, *args, **kwargs)
    return run


@_forward
def representation(estimator, X, embedding=None):
    """``h(x)`` of a fitted ``estimator`` on ``X``: the one hook every sampler uses.

    ``embedding=None``: ``X`` itself for a linear model, the last hidden layer's
    activations for a scikit-learn MLP, what precedes a Pipeline's last step fed to that
    step's representation, and for a skorch net the input of its last ``torch.nn.Linear``
    (see :class:`_NetHook`); a search stands for its ``best_estimator_``. A string names a
    skorch net's submodule; a callable is called as ``embedding(estimator, X)``. Whatever
    its source, the result must have one row per point of ``X``.

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
    return Representation(h, embedding is None and _has_bias(head))


def _has_bias(head):
    """Whether the head's last layer has a bias: an MLP always has one."""
    return isinstance(head, _MLPS) or bool(getattr(head, "fit_intercept", False))


def _default_representation(estimator, X):
    estimator = _unwrap(estimator)
    if isinstance(estimator, Pipeline):
        if len(estimator) > 1:
            X = estimator[:-1].transform(X)
        return _default_representation(estimator.steps[-1][1], X)
    head_task(estimator, "representation")  # a TypeError saying how to pass one
    if isinstance(estimator, _MLPS):
        return _mlp_hidden(estimator, X)
    return X


#: The hidden activations of scikit-learn's MLPs, by their ``activation`` parameter.
_ACTIVATIONS = {
    "identity": lambda z: z,
    "logistic": expit,
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
}


def _mlp_hidden(mlp, X):
    """The last hidden layer's activations of a fitted MLP, from ``coefs_``/``intercepts_``.

    The input of the output layer ``coefs_[-1]``: ``X`` itself when the MLP has no hidden
    layer. Computed in float64, whatever the model's dtype.
    """
    if mlp.activation not in _ACTIVATIONS:
        raise ValueError(
            f"{type(mlp).__name__}(activation={mlp.activation!r}) is not an activation "
            f"skbait knows ({', '.join(_ACTIVATIONS)})."
        )
    # the input check of predict: the width, the feature names, finiteness
    h = validate_data(mlp, X, accept_sparse=("csr", "csc"), reset=False)
    for coef, intercept in zip(mlp.coefs_[:-1], mlp.intercepts_[:-1]):
        h = _ACTIVATIONS[mlp.activation](
            np.asarray(h @ coef.astype(np.float64)) + intercept.astype(np.float64))
    return h


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


@_forward
def predict_proba(estimator, X):
    """``estimator.predict_proba(X)`` as float64, checked to be probabilities.

    Every sampler that reads probabilities takes them from here: finite, non-negative,
    rows summing to 1. Anything else (logits, log-probabilities) would give meaningless
    picks, so it is refused with what is likely wrong.
    """
    proba = estimator.predict_proba(X)
    if isinstance(proba, list) or np.ndim(proba) != 2:
        raise ValueError(
            f"{type(final_step(estimator)).__name__}.predict_proba returned "
            f"{'a list' if isinstance(proba, list) else f'{np.ndim(proba)} dimensions'}, "
            "not one row of class probabilities per point: multi-output classifiers are "
            "not supported; fit the model on one label per point."
        )
    return check_probabilities(np.asarray(proba, dtype=np.float64), final_step(estimator))


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
    """``"binary"`` for one weight vector (sklearn's binary logistic regression, a binary
    SGDClassifier, a binary MLPClassifier's one logistic output, skorch's
    NeuralNetBinaryClassifier), else ``"softmax"`` over the probability columns (a net
    with two logits has two weight vectors)."""
    if is_net(head):
        binary = isinstance(head, sys.modules["skorch"].NeuralNetBinaryClassifier)
    elif isinstance(head, _MLP_CLASSIFIERS):
        # head_task refused the multilabel case: one logistic output, or a softmax
        binary = head.out_activation_ == "logistic"
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
