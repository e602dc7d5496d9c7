"""From a fitted estimator to its last layer: representation, probabilities, head kind.

This is the only module that knows about estimator types. Everything downstream (the
kernels) sees arrays: ``features`` (n, d), ``proba`` (n, k) or None, and ``kind``.
"""

from dataclasses import dataclass

import numpy as np
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

_CLASSIFIERS = (LogisticRegression, LogisticRegressionCV)
_REGRESSORS = (
    LinearRegression, Ridge, RidgeCV, Lasso, LassoCV, ElasticNet, ElasticNetCV,
    BayesianRidge, ARDRegression, SGDRegressor,
)
SUPPORTED = (
    "LogisticRegression / LogisticRegressionCV (binary or multinomial), linear regressors "
    "(LinearRegression, Ridge, RidgeCV, Lasso, ElasticNet, BayesianRidge, ARDRegression, "
    "SGDRegressor; any number of outputs), a Pipeline whose last step is one of these, or a "
    "FrozenEstimator wrapping any of them"
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


def head_task(estimator):
    """``"classification"`` or ``"regression"``; TypeError for unsupported estimators."""
    head = final_step(estimator)
    if isinstance(head, _CLASSIFIERS):
        return "classification"
    if isinstance(head, _REGRESSORS):
        return "regression"
    raise TypeError(
        f"{type(head).__name__} has no last layer skbait supports. Supported: {SUPPORTED}."
    )


def representation(estimator, X, embedding=None):
    """``h(x)`` without the bias column.

    ``embedding=None``: X itself for a linear model, or what precedes a Pipeline's last
    step. A callable is called as ``embedding(estimator, X)`` and must return (n, d).
    """
    if callable(embedding):
        return embedding(estimator, X)
    if embedding is not None:
        raise TypeError(
            f"embedding must be None or a callable (estimator, X) -> array, got {embedding!r}."
        )
    estimator = _unwrap(estimator)
    if isinstance(estimator, Pipeline):
        if len(estimator) > 1:
            X = estimator[:-1].transform(X)
        return representation(estimator.steps[-1][1], X)
    return X


def last_layer(estimator, X, embedding=None):
    """Evaluate the last layer of a fitted ``estimator`` on ``X``.

    Parameters
    ----------
    estimator : fitted estimator
        A supported model (see :data:`SUPPORTED`).
    X : array-like of shape (n, n_features)
    embedding : None or callable, default=None
        How to compute the representation (see :func:`representation`).

    Returns
    -------
    LastLayer
    """
    task = head_task(estimator)
    head = final_step(estimator)
    h = representation(estimator, X, embedding)
    if sparse.issparse(h):
        h = h.toarray()
    h = check_array(h, dtype=np.float64, input_name="representation")
    if embedding is None and getattr(head, "fit_intercept", False):
        h = np.hstack([h, np.ones((h.shape[0], 1))])
    if task == "regression":
        return LastLayer(h, None, "regression")
    proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    kind = "binary" if proba.shape[1] == 2 else "softmax"
    return LastLayer(h, proba, kind)
