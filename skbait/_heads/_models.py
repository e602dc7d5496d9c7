"""Which models skbait takes a last layer from, what each supports, and why the others
are refused: the type lists, the generated texts and tables, and :func:`head_task`."""

import sys

import sklearn.model_selection
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
