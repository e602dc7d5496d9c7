"""Parameter descriptions shared by several samplers, written once."""

import textwrap

from .._heads import REFUSED, SUPPORTED
from .._kernels._constants import CUDA_REFRESH_EVERY

_SHARED = {
    "estimator": """estimator : estimator object
        The model whose last layer defines the Fisher information: {supported}. The
        representation is ``X`` for a linear model and the last hidden layer's activations
        for an MLP; for a Pipeline, the last step's representation of
        ``pipeline[:-1].transform(X)``; for a search, its ``best_estimator_``'s. A skorch
        ``NeuralNetClassifier`` is a softmax over its logits. An intercept or a bias counts
        as a last-layer parameter (a constant-1 feature). {refused} are refused: their
        probabilities are not those of a last layer. It is cloned
        and fitted on the labeled set unless ``prefit=True``; the object passed in is never
        modified. A skorch net's clone does not keep what the net learned: a module given as
        a class is initialised afresh, one given as an instance is copied in whatever state
        it is in, and the clone is then trained on the labeled set; to use a trained net as
        is, pass ``prefit=True``.""",
    "proba_estimator": """estimator : estimator object
        Any scikit-learn classifier with ``predict_proba`` (a random forest, gradient
        boosting, ``SVC(probability=True)``, ``CalibratedClassifierCV``, an MLP, a search
        such as ``GridSearchCV``, a Pipeline ending in one, a skorch net...); only its
        probabilities are read, checked to be probabilities. A classifier without
        ``predict_proba`` (``SVC()``) or a regressor is refused at ``fit``. It is cloned
        and fitted on the labeled set unless ``prefit=True``; the object passed in is never
        modified.""",
    "representation_estimator": """estimator : estimator object or None, default=None
        None to work on ``X`` directly. Otherwise a model skbait reads a representation
        ``h(x)`` from: {supported} (for ``h(x)`` alone, whatever their loss or number of
        classes); or any classifier or regressor when ``embedding`` is a callable. It is
        cloned and fitted on the labeled set unless ``prefit=True``; the object passed in
        is never modified.""",
    "embedding": """embedding : None, str or callable, default=None
        How the representation ``h(x)`` is computed. None: ``X`` itself for a linear
        model, the last hidden layer's activations (from ``coefs_`` and ``intercepts_``,
        plus a constant-1 feature) for a scikit-learn MLP, the last step's representation
        of ``pipeline[:-1].transform(X)`` for a Pipeline, and for a skorch net the input
        of the last ``torch.nn.Linear`` of ``net.module_`` (in registration order; it must
        be the output layer), captured with a forward hook during one batched eval-mode
        pass on ``net.device``, plus a constant-1 feature when that layer has a bias. A
        string (skorch nets only): the output, flattened per point, of the submodule of
        ``net.module_`` with that name (no bias feature), for nets whose head is not a plain
        last Linear. A callable is called as ``embedding(estimator_, X)`` and returns an
        array of shape (n, d); no bias feature is added to it. Probabilities always come
        from ``estimator_.predict_proba``.""",
    "prefit": """prefit : bool, default=False
        If True, ``estimator`` must already be fitted (for a skorch net: initialised, and
        trained as you want it) and is used as is (``fit`` then only records the labeled
        set); a :class:`~sklearn.exceptions.NotFittedError` is raised otherwise.""",
    "device": """device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where the torch kernels run. ``"auto"`` follows a skorch net's ``device``, and
        otherwise uses CUDA when torch sees a GPU and the CPU if not. Selection state is
        float64 on every device, with TF32 disabled.""",
    "random_state": """random_state : int, RandomState instance or None, default=None
        Seed of the sampler's randomness, resolved with
        :func:`~sklearn.utils.check_random_state` at each ``select``.""",
    "model_attributes": """estimator_ : estimator object
        The fitted model: a fitted clone of ``estimator``, or with ``prefit=True`` a copy
        of it (as :class:`~sklearn.feature_selection.SelectFromModel` keeps), so that
        nothing the sampler does changes the object passed in. To share a large fitted
        model instead of copying it, pass ``FrozenEstimator(model)`` with ``prefit=False``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    n_labeled_ : int
        Size of the labeled set seen during ``fit``.
    device_ : torch.device
        Device the kernels run on.""",
    "distributed": """distributed : bool, default=False
        If True, select from a pool sharded across the ranks of ``torch.distributed``'s
        default process group (initialised beforehand, e.g. by ``torchrun``): every rank
        calls ``fit`` with the same labeled set and ``select(X_pool_shard, n)`` with its
        own shard, of any size, empty included; every rank returns the same indices into
        the concatenation of the shards in rank order, and the same ``scores_`` and
        diagnostics. If one rank fails, every rank raises (the others
        :class:`~skbait.exceptions.DistributedError`). See :doc:`/user_guide/scaling`.""",
    "chunk_size": """chunk_size : int, default=None
        Pool rows processed at once; by default sized from the width of the per-row
        intermediates so that memory stays bounded whatever the pool size.""",
}
# the supported models are generated from the code that accepts them (skbait._heads)
_GENERATED = {
    "{supported}": SUPPORTED,
    "{refused}": REFUSED,
}
for _key in ("estimator", "representation_estimator"):
    _header, _body = _SHARED[_key].split("\n", 1)
    for _field, _text in _GENERATED.items():
        _body = _body.replace(_field, _text)
    _SHARED[_key] = _header + "\n" + textwrap.fill(
        " ".join(_body.split()), 88, initial_indent=" " * 8, subsequent_indent=" " * 8)
_SHARED["refresh"] = str(CUDA_REFRESH_EVERY)
_SHARED["fitted_attributes"] = _SHARED["model_attributes"] + """
    scores_ : ndarray of shape (n,)
        Set by ``select``: the score each returned index had when it was chosen, aligned
        with the returned indices."""


def fill_doc(obj):
    """Substitute the shared parameter descriptions into ``obj.__doc__``."""
    obj.__doc__ = obj.__doc__.format(**_SHARED)
    return obj
