"""Sampler tags: what a sampler needs and supports, carried in scikit-learn's tags.

scikit-learn's :class:`~sklearn.utils.Tags` describe estimators; :class:`Tags` adds one
field, ``sampler_tags``, as imbalanced-learn does for its samplers. ``BaseSampler``'s
``__sklearn_tags__`` returns one, and each sampler's ``__sklearn_tags__`` fills in its
:class:`SamplerTags`. The conformance suite (:mod:`skbait.utils.estimator_checks`) reads
them to choose the checks that apply.

Whether ``fit`` needs ``y`` is scikit-learn's own ``target_tags.required``, not a second
tag here.
"""

from dataclasses import dataclass, field, fields

from sklearn.utils import Tags as SklearnTags
from sklearn.utils import get_tags as sklearn_get_tags

#: The estimator tasks a sampler can support.
TASKS = frozenset({"classification", "regression"})


@dataclass(slots=True)
class SamplerTags:
    """What a sampler needs and supports.

    The defaults are those of a sampler that uses no model and no randomness.

    Parameters
    ----------
    requires_model : bool, default=False
        Whether the sampler queries a model: it takes an ``estimator`` parameter (and
        ``prefit``), fits a clone of it and sets ``estimator_``.
    random : bool, default=False
        Whether the selection is random, drawn from the ``random_state`` parameter: two
        seeds may select differently, one seed always selects the same.
    reads_features : bool, default=True
        Whether ``select`` reads the pool's features (and so checks their number and that
        they are finite); False for a sampler that reads only the pool's length.
    tasks : frozenset of {"classification", "regression"}, default=both
        The tasks the sampler, as configured, selects for. For a sampler with a model,
        the model's task if the sampler is defined for it, else empty (``fit`` then
        raises an error that says so); for a sampler without one, the kinds of ``y``
        its ``fit`` accepts.

    See Also
    --------
    Tags : scikit-learn's tags with a ``sampler_tags`` field.
    get_tags : the tags of a sampler.

    Examples
    --------
    >>> from skbait.utils._tags import SamplerTags
    >>> SamplerTags(random=True)
    SamplerTags(requires_model=False, random=True, reads_features=True, tasks=frozenset({...}))
    """

    requires_model: bool = False
    random: bool = False
    reads_features: bool = True
    tasks: frozenset = TASKS


@dataclass(slots=True)
class Tags(SklearnTags):
    """scikit-learn's :class:`~sklearn.utils.Tags`, with the tags of a sampler.

    Parameters
    ----------
    estimator_type : str or None
        As in scikit-learn (None for skbait's samplers).
    target_tags : sklearn.utils.TargetTags
        As in scikit-learn; ``target_tags.required`` says whether ``fit`` needs ``y``.
    transformer_tags : sklearn.utils.TransformerTags or None, default=None
        As in scikit-learn.
    classifier_tags : sklearn.utils.ClassifierTags or None, default=None
        As in scikit-learn.
    regressor_tags : sklearn.utils.RegressorTags or None, default=None
        As in scikit-learn.
    array_api_support : bool, default=False
        As in scikit-learn.
    no_validation : bool, default=False
        As in scikit-learn.
    non_deterministic : bool, default=False
        As in scikit-learn: True when one ``random_state`` may still select differently.
    requires_fit : bool, default=True
        As in scikit-learn: whether ``select`` needs ``fit`` first.
    _skip_test : bool, default=False
        As in scikit-learn.
    input_tags : sklearn.utils.InputTags, default=InputTags()
        As in scikit-learn.
    sampler_tags : SamplerTags, default=SamplerTags()
        What the sampler needs and supports.

    See Also
    --------
    SamplerTags : the sampler's part.

    Examples
    --------
    >>> from sklearn.utils import TargetTags
    >>> from skbait.utils._tags import Tags
    >>> Tags(estimator_type=None, target_tags=TargetTags(required=False)).sampler_tags.random
    False
    """

    sampler_tags: SamplerTags = field(default_factory=SamplerTags)


def with_sampler_tags(tags):
    """scikit-learn's ``tags`` as a :class:`Tags` with default :class:`SamplerTags`.

    Parameters
    ----------
    tags : sklearn.utils.Tags
        What ``BaseEstimator.__sklearn_tags__`` returns. Returned as is if it already
        is a :class:`Tags`.

    Returns
    -------
    tags : Tags
        The same tags (the nested tag objects are shared), with ``sampler_tags``.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> from skbait.utils._tags import with_sampler_tags
    >>> tags = with_sampler_tags(Ridge().__sklearn_tags__())
    >>> tags.estimator_type, tags.sampler_tags.requires_model
    ('regressor', False)
    """
    if isinstance(tags, Tags):
        return tags
    return Tags(**{f.name: getattr(tags, f.name) for f in fields(SklearnTags)})


def get_tags(sampler):
    """The tags of a sampler instance.

    Parameters
    ----------
    sampler : sampler instance
        An instance, fitted or not.

    Returns
    -------
    tags : Tags
        Its tags, from ``sampler.__sklearn_tags__()``.

    Raises
    ------
    TypeError
        If ``sampler`` is a class, or its tags have no :class:`SamplerTags` (it is not a
        sampler: derive it from :class:`skbait.base.BaseSampler`).

    Examples
    --------
    >>> from skbait import RandomSampler
    >>> from skbait.utils._tags import get_tags
    >>> get_tags(RandomSampler()).sampler_tags.random
    True
    """
    tags = sklearn_get_tags(sampler)
    if not isinstance(getattr(tags, "sampler_tags", None), SamplerTags):
        raise TypeError(
            f"{type(sampler).__name__}'s tags have no sampler_tags, so it is not a "
            "sampler; derive it from skbait.base.BaseSampler."
        )
    return tags
