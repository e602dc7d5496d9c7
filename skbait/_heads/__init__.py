"""From a fitted estimator to its last layer: representation, probabilities, head kind.

This package is the only place that knows about estimator types: ``_models`` says which
models are supported (and why others are refused), ``_layer`` evaluates a model's last
layer, ``_net`` reads a skorch net's representation. Everything downstream (the
kernels) sees arrays: ``features`` (n, d), ``proba`` (n, k) or None, and ``kind``.

What a sampler reads from a model is one of :data:`NEEDS`: ``"last_layer"`` (the Fisher
samplers and BADGE: ``h(x)``, ``p(x)`` and a head whose Fisher information is defined),
``"representation"`` (Coreset: ``h(x)`` only), ``"proba"`` (uncertainty: any classifier's
``predict_proba``) or ``"model"`` (anything fittable, when a callable ``embedding``
computes ``h(x)``). :func:`head_task` checks a model against one of them.
"""

from ._layer import (
    LastLayer,
    Representation,
    check_probabilities,
    densify,
    last_layer,
    predict_proba,
    representation,
)
from ._models import (
    NEEDS,
    REFUSED,
    SUPPORTED,
    final_step,
    head_task,
    is_net,
    supported_models_table,
)

__all__ = [
    "NEEDS", "REFUSED", "SUPPORTED", "LastLayer", "Representation", "check_probabilities",
    "densify", "final_step", "head_task", "is_net", "last_layer", "predict_proba",
    "representation", "supported_models_table",
]
