"""From a fitted estimator to its last layer: representation, probabilities, head kind.

This is the only module that knows about estimator types. Everything downstream (the
kernels) sees arrays: ``features`` (n, d), ``proba`` (n, k) or None, and ``kind``.

What a sampler reads from a model is one of :data:`NEEDS`: ``"last_layer"`` (the Fisher
samplers and BADGE: ``h(x)``, ``p(x)`` and a head whose Fisher information is defined),
``"representation"`` (Coreset: ``h(x)`` only), ``"proba"`` (uncertainty: any classifier's
``predict_proba``) or ``"model"`` (anything fittable, when a callable ``embedding``
computes ``h(x)``). :func:`head_task` checks a model against one of them.
"""

import sys
from dataclasses import dataclass

import numpy as np
import sklearn.model_selection
import torch
from scipy import sparse
from scipy.special import expit
from sklearn.base import is_classifier, is_regressor
from sklearn.calibration import CalibratedClassifierCV
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
    SGDClassifier,
    SGDRegressor,
)
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_array, validate_data

from ._kernels.memory import representation_bytes
from .utils._memory import DENSIFY_MAX_BYTES, MEMORY_ADVICE, check_memory
from .utils._validation import check_probabilities as _check_probabilities
from .utils._validation import num_rows

#: What a sampler reads from its model (see the module docstring).
NEEDS = ("last_layer", "representation", "proba", "model")

# Heads, by the Fisher factor they have (the table of skbait's design note, section 1).
#: softmax over k classes, or one weight vector (rank-1) for two classes
_CLASSIFIERS = (LogisticRegression, LogisticRegressionCV)
#: a logistic head only with loss="log_loss", and only for two classes (_SGD_MULTICLASS)
_SGD_CLASSIFIERS = (SGDClassifier,)
#: last hidden layer as h(x); logistic output for two classes, softmax for more
_MLP_CLASSIFIERS = (MLPClassifier,)
#: squared loss, any number of outputs
_REGRESSORS = (
    LinearRegression, Ridge, RidgeCV, Lasso, LassoCV, ElasticNet, ElasticNetCV,
    BayesianRidge, ARDRegression, SGDRegressor,
)
#: squared loss (loss="squared_error") on the last hidden layer
_MLP_REGRESSORS = (MLPRegressor,)
_MLPS = _MLP_CLASSIFIERS + _MLP_REGRESSORS
_NETS = ("NeuralNetClassifier", "NeuralNetBinaryClassifier", "NeuralNetRegressor")

# Wrappers skbait looks through to the fitted model they hold.
_SEARCHES = (GridSearchCV, RandomizedSearchCV)
#: experimental in scikit-learn: looked up, never enabled, by skbait (see _search_classes)
_HALVING_SEARCHES = ("HalvingGridSearchCV", "HalvingRandomSearchCV")

#: Wrappers whose probabilities are not those of their base model's last layer: the
#: Fisher samplers refuse them (with the reason), the uncertainty sampler takes them.
_REFUSED_WRAPPERS = {
    CalibratedClassifierCV: (
        "it replaces the base model's probabilities by calibrated ones (a sigmoid, "
        "isotonic or temperature map fitted on held-out folds, averaged over one model per "
        "fold), so p(x) is no longer the output of one last layer and the Fisher "
        "information of that layer is not the model's. Pass the base estimator itself to "
        "BaitSampler, DeterminantalSampler or BadgeSampler, or use UncertaintySampler, "
        "which needs only predict_proba"
    ),
    OneVsRestClassifier: (
        "it fits one independent binary head per class and renormalises their sigmoids "
        "in predict_proba, so its likelihood is neither a softmax nor k binary ones and "
        "skbait does not define its Fisher information. Use LogisticRegression (a "
        "multinomial softmax head) instead, or UncertaintySampler, which needs only "
        "predict_proba"
    ),
}
_SGD_MULTICLASS = (
    "SGDClassifier(loss='log_loss') on more than two classes is one-vs-rest: one binary "
    "logistic head per class, whose sigmoids predict_proba renormalises, so the softmax "
    "Fisher is not its Fisher and skbait does not define one. Use LogisticRegression for "
    "multiclass problems (a softmax head), or UncertaintySampler, which needs only "
    "predict_proba"
)


def _names(classes):
    return ", ".join(cls if isinstance(cls, str) else cls.__name__ for cls in classes)


#: The models skbait takes a last layer from, in words; generated from the lists above so
#: that the error messages and the docstrings cannot drift from what the code accepts.
SUPPORTED = (
    f"{_names(_CLASSIFIERS)} (binary or multinomial), {_names(_SGD_CLASSIFIERS)}"
    "(loss='log_loss') (binary), "
    f"{_names(_MLP_CLASSIFIERS)} (binary or multiclass; its last hidden layer is h(x)), "
    f"linear regressors ({_names(_REGRESSORS)}; any number of outputs), "
    f"{_names(_MLP_REGRESSORS)} (loss='squared_error'), skorch {' / '.join(_NETS)}, a "
    "Pipeline whose last step is one of these, "
    f"{' / '.join(_names(_SEARCHES + _HALVING_SEARCHES).split(', '))} (refit=True) whose "
    "best estimator is one of these, or a FrozenEstimator wrapping any of them"
)

#: The wrappers the Fisher samplers refuse, in words (generated, as SUPPORTED).
REFUSED = " and ".join(cls.__name__ for cls in _REFUSED_WRAPPERS)


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


def _search_classes():
    """The model-selection wrappers skbait looks through.

    The successive-halving searches exist only once the user has imported
    ``sklearn.experimental.enable_halving_search_cv`` (as they must, to build one);
    skbait never enables them itself.
    """
    found = list(_SEARCHES)
    for name in _HALVING_SEARCHES:
        try:
            found.append(getattr(sklearn.model_selection, name))
        except (AttributeError, ImportError):  # not enabled: no such object can exist
            pass
    return tuple(found)


def _inner(estimator):
    """The model a FrozenEstimator or a search wraps, or None for any other estimator.

    A search gives its ``best_estimator_`` once fitted, else the ``estimator`` it will
    fit; one with ``refit=False`` keeps no fitted model and is refused.
    """
    if isinstance(estimator, FrozenEstimator):
        return estimator.estimator
    if isinstance(estimator, _search_classes()):
        if not estimator.refit:
            raise TypeError(
                f"{type(estimator).__name__}(refit=False) keeps no model fitted with the "
                "best parameters, so there is no last layer to read; pass refit=True (the "
                "default)."
            )
        return getattr(estimator, "best_estimator_", estimator.estimator)
    return None


def _unwrap(estimator):
    """The estimator without FrozenEstimator and search wrappers (see :func:`_inner`)."""
    while (inner := _inner(estimator)) is not None:
        estimator = inner
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


def _known_task(head):
    """The task of a model skbait reads ``h(x)`` from, else None."""
    if isinstance(head, _CLASSIFIERS + _SGD_CLASSIFIERS + _MLP_CLASSIFIERS):
        return "classification"
    if isinstance(head, _REGRESSORS + _MLP_REGRESSORS):
        return "regression"
    if is_net(head):
        skorch = sys.modules["skorch"]
        if isinstance(head, (skorch.NeuralNetClassifier, skorch.NeuralNetBinaryClassifier)):
            return "classification"
        if isinstance(head, skorch.NeuralNetRegressor):
            return "regression"
    return None


def _fisher_refusal(head):
    """Why the Fisher information of ``head``'s last layer is not defined, or None.

    Reads the parameters, and for a fitted model what it was fitted on (the classes of
    an SGDClassifier, the outputs of an MLPClassifier).
    """
    name = type(head).__name__
    for wrapper, reason in _REFUSED_WRAPPERS.items():
        if isinstance(head, wrapper):
            return f"{name} is not supported by the Fisher samplers: {reason}."
    if isinstance(head, _SGD_CLASSIFIERS):
        if head.loss != "log_loss":
            return (
                f"{name}(loss={head.loss!r}) is not a likelihood model, so its last layer "
                "has no Fisher information; use loss='log_loss' (a logistic head, for "
                "two classes) or LogisticRegression."
            )
        if len(getattr(head, "classes_", ())) > 2:
            return f"{name} is not supported on {len(head.classes_)} classes: {_SGD_MULTICLASS}."
    if isinstance(head, _MLP_REGRESSORS) and head.loss != "squared_error":
        return (
            f"{name}(loss={head.loss!r}) is not supported by the Fisher samplers: skbait "
            "defines the Fisher information of an MLPRegressor's squared loss only (the "
            "Poisson loss has an exponential output); use loss='squared_error'."
        )
    if (isinstance(head, _MLP_CLASSIFIERS) and getattr(head, "out_activation_", None)
            == "logistic" and head.n_outputs_ > 1):
        return (
            f"{name} was fitted on multilabel targets ({head.n_outputs_} independent "
            "sigmoid outputs), whose Fisher information skbait does not define; fit it on "
            "one label per point (binary or multiclass), or use UncertaintySampler or "
            "CoresetSampler."
        )
    return None


def head_task(estimator, needs="last_layer"):
    """The task of ``estimator`` for a sampler that reads ``needs`` from it.

    Parameters
    ----------
    estimator : estimator object, fitted or not
        Wrappers (FrozenEstimator, Pipeline, a search) are looked through.
    needs : {"last_layer", "representation", "proba", "model"}, default="last_layer"
        What the sampler reads (see :data:`NEEDS`). A fitted model is also checked
        against what it was fitted on (a multiclass SGDClassifier has no Fisher
        information defined; an unfitted one is refused only once fitted).

    Returns
    -------
    task : {"classification", "regression"}

    Raises
    ------
    TypeError
        If ``estimator`` cannot give what ``needs`` asks, with the reason and the fix.
    """
    head = final_step(estimator)
    name = type(head).__name__
    task = _known_task(head)
    if needs == "last_layer":
        refusal = _fisher_refusal(head)
        if refusal is not None:
            raise TypeError(refusal)
        if task is None:
            raise TypeError(
                f"{name} has no last layer skbait supports. Supported: {SUPPORTED}. "
                "(UncertaintySampler takes any classifier with predict_proba, and "
                "CoresetSampler any model given embedding=callable.)"
            )
        return task
    if needs == "representation":
        if task is None:
            raise TypeError(
                f"{name} has no representation h(x) that skbait can read (it reads one "
                f"from {SUPPORTED}). Pass embedding=callable, called as "
                "embedding(estimator_, X) and returning an array of shape (n, d), to "
                "compute one from this model, or estimator=None to work on X itself "
                "(your own features)."
            )
        return task
    if needs not in NEEDS:
        raise ValueError(f"needs={needs!r} is not one of {NEEDS}.")
    if task is None:
        task = ("classification" if is_classifier(estimator) else
                "regression" if is_regressor(estimator) else None)
    if task is None:
        raise TypeError(
            f"{type(estimator).__name__} is neither a classifier nor a regressor (by its "
            "scikit-learn tags), so skbait cannot tell what its labels are; pass a "
            "scikit-learn classifier or regressor."
        )
    if needs == "proba" and task == "classification" and not hasattr(estimator,
                                                                     "predict_proba"):
        raise TypeError(
            f"{name} has no predict_proba, and uncertainty sampling needs a classifier's "
            f"predicted probabilities. {_proba_hint(head)}"
        )
    return task


def _proba_hint(head):
    name = type(head).__name__
    if isinstance(head, _SGD_CLASSIFIERS):
        return ("Pass loss='log_loss' (or 'modified_huber'), use a classifier that has "
                "predict_proba, or wrap it in CalibratedClassifierCV.")
    if hasattr(head, "probability"):  # SVC, NuSVC: scikit-learn >= 1.9 prefers calibration
        return (f"Wrap it in CalibratedClassifierCV({name}(), ensemble=False) (or pass "
                f"{name}(probability=True)), or use a classifier that has predict_proba.")
    return "Use a classifier that has predict_proba, or wrap it in CalibratedClassifierCV."


def supported_models_table():
    """The supported models as reStructuredText tables, generated from the type lists.

    The documentation includes this text (``docs/conf.py`` writes it at build time), so
    that the page cannot drift from what the code accepts.

    Returns
    -------
    text : str
        Two ``list-table`` directives: the heads the model-based samplers read, and the
        models the Fisher samplers refuse, with the reason.
    """
    def models(classes, suffix=""):
        return ", ".join(f"``{name}{suffix}``" for name in _names(classes).split(", "))

    rows = [
        (models(_CLASSIFIERS), "softmax (k > 2 classes); binary (2 classes)", "``X``",
         "``(h hᵀ) ⊗ (diag p − p pᵀ)``; binary: ``p(1−p) h hᵀ``"),
        (models(_SGD_CLASSIFIERS, "(loss='log_loss')"), "binary (2 classes only)", "``X``",
         "``p(1−p) h hᵀ``"),
        (models(_MLP_CLASSIFIERS), "binary (2 classes: one logistic output); softmax "
         "(k > 2)", "last hidden layer's activations",
         "``(h hᵀ) ⊗ (diag p − p pᵀ)``; binary: ``p(1−p) h hᵀ``"),
        (models(_REGRESSORS), "regression (any number of outputs)", "``X``",
         "``(h hᵀ) ⊗ Σ̂⁻¹``, rank 1 in ``h``"),
        (models(_MLP_REGRESSORS, "(loss='squared_error')"),
         "regression (any number of outputs)", "last hidden layer's activations",
         "``(h hᵀ) ⊗ Σ̂⁻¹``, rank 1 in ``h``"),
        (", ".join(f"skorch ``{net}``" for net in _NETS),
         "softmax; binary (one logit); regression", "input of the last ``torch.nn.Linear``",
         "by kind, as above"),
        ("``Pipeline``", "its last step's", "``pipeline[:-1].transform(X)`` fed to the last "
         "step's ``h``", "its last step's"),
        (models(_SEARCHES + _HALVING_SEARCHES, "(refit=True)"), "its ``best_estimator_``'s",
         "its ``best_estimator_``'s", "its ``best_estimator_``'s"),
        ("``FrozenEstimator``", "the wrapped model's", "the wrapped model's",
         "the wrapped model's"),
    ]
    header = ("Model", "Head", "Representation h(x)", "Pointwise Fisher I(x)")
    refused = [(f"``{cls.__name__}``", reason[0].upper() + reason[1:] + ".")
               for cls, reason in _REFUSED_WRAPPERS.items()]
    refused += [
        ("``SGDClassifier(loss='log_loss')`` on k > 2 classes", _SGD_MULTICLASS + "."),
        ("``SGDClassifier`` with another loss", "Not a likelihood model: no Fisher "
         "information (``modified_huber`` has ``predict_proba``, for UncertaintySampler)."),
        ("``MLPClassifier`` fitted on multilabel targets", "Independent sigmoid outputs, "
         "whose Fisher information skbait does not define."),
        ("``MLPRegressor(loss='poisson')``", "An exponential output, whose Fisher "
         "information skbait does not define."),
        ("any other model", "No last layer skbait knows. UncertaintySampler takes any "
         "classifier with ``predict_proba``, CoresetSampler any model given a callable "
         "``embedding``."),
    ]
    return (_list_table("Heads of the model-based samplers", header, rows) + "\n"
            + _list_table("Refused by BaitSampler, DeterminantalSampler and BadgeSampler",
                          ("Model", "Why"), refused))


def _list_table(title, header, rows):
    lines = [f".. list-table:: {title}", "   :header-rows: 1", ""]
    for row in (header, *rows):
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    return "\n".join(lines) + "\n"


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
