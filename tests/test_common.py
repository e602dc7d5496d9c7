"""Every sampler against skbait's conformance suite and scikit-learn's checks."""

import inspect
import re

import numpy as np
import pytest
import torch
from numpydoc.docscrape import ClassDoc
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils import get_tags

import skbait
from skbait import (
    BadgeSampler,
    BaitSampler,
    CoresetSampler,
    DeterminantalSampler,
    RandomSampler,
    UncertaintySampler,
)
from skbait.utils._tags import SamplerTags, Tags
from skbait.utils.estimator_checks import check_sampler_sklearn, parametrize_with_checks


def _pipeline():
    return make_pipeline(StandardScaler(), LogisticRegression())


SAMPLERS = [
    BaitSampler(LogisticRegression(), device="cpu"),
    BaitSampler(Ridge(), device="cpu"),
    BaitSampler(_pipeline(), device="cpu"),
    BadgeSampler(LogisticRegression(), random_state=0, device="cpu"),
    BadgeSampler(_pipeline(), random_state=0, device="cpu"),
    CoresetSampler(device="cpu"),
    CoresetSampler(Ridge(), device="cpu"),
    CoresetSampler(_pipeline(), device="cpu"),
    UncertaintySampler(LogisticRegression(), device="cpu"),
    UncertaintySampler(_pipeline(), method="entropy", device="cpu"),
    RandomSampler(random_state=0),
    DeterminantalSampler(LogisticRegression(), device="cpu"),
    DeterminantalSampler(Ridge(), device="cpu"),
    DeterminantalSampler(_pipeline(), device="cpu"),
    DeterminantalSampler(LogisticRegression(), factor="gradient", device="cpu"),
]
CLASSES = sorted({type(s) for s in SAMPLERS}, key=lambda c: c.__name__)


@parametrize_with_checks(SAMPLERS, sklearn_checks=False)
def test_conformance(sampler, check):
    check(sampler)


# scikit-learn's check_estimator takes seconds per sampler and checks the class's API
# rather than the model inside: once per class (Coreset without a model).
SKLEARN_SAMPLERS = [next(s for s in SAMPLERS if type(s) is cls) for cls in CLASSES]


@pytest.mark.parametrize("sampler", SKLEARN_SAMPLERS, ids=lambda s: " ".join(repr(s).split()))
def test_sklearn_check_estimator(sampler):
    check_sampler_sklearn(type(sampler).__name__, sampler)


def test_every_public_sampler_is_checked():
    public = {getattr(skbait, name) for name in skbait.__all__ if name.endswith("Sampler")}
    assert public == set(CLASSES)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_docstring_matches_signature(cls):
    doc = ClassDoc(cls)
    documented = [p.name for p in doc["Parameters"]]
    assert documented == list(inspect.signature(cls).parameters)
    attributes = [a.name for a in doc["Attributes"]]
    assert "scores_" in attributes and "n_features_in_" in attributes
    assert not re.search(r"\{[a-z_]+\}", cls.__doc__)  # every shared text substituted


BOTH = {"classification", "regression"}
# What each sampler's tags must say, as the conformance suite trusts them to choose its
# checks: (sampler, requires_model (and so y), random, tasks).
TAGS = [
    (BaitSampler(LogisticRegression()), True, False, {"classification"}),
    (BaitSampler(Ridge()), True, False, {"regression"}),
    (BaitSampler(_pipeline()), True, False, {"classification"}),
    (BaitSampler(SVC()), True, False, BOTH),  # not supported: fit says so, not the tags
    (BadgeSampler(LogisticRegression()), True, True, {"classification"}),
    (BadgeSampler(Ridge()), True, True, set()),
    (CoresetSampler(), False, False, BOTH),
    (CoresetSampler(Ridge()), True, False, {"regression"}),
    (UncertaintySampler(_pipeline()), True, False, {"classification"}),
    (UncertaintySampler(Ridge()), True, False, set()),
    (RandomSampler(), False, True, BOTH),
    (DeterminantalSampler(Ridge()), True, False, {"regression"}),
    (DeterminantalSampler(Ridge(), factor="gradient"), True, False, set()),
    (DeterminantalSampler(LogisticRegression(), factor="gradient"), True, False,
     {"classification"}),
]


@pytest.mark.parametrize("sampler, requires_model, random, tasks", TAGS,
                         ids=[" ".join(repr(case[0]).split()) for case in TAGS])
def test_sampler_tags(sampler, requires_model, random, tasks):
    tags = get_tags(sampler)  # scikit-learn's get_tags returns skbait's Tags
    assert isinstance(tags, Tags)
    assert tags.sampler_tags == SamplerTags(
        requires_model=requires_model, random=random, tasks=frozenset(tasks),
        reads_features=not isinstance(sampler, RandomSampler))
    assert tags.target_tags.required is requires_model


def test_tags_cover_every_public_sampler():
    assert {type(case[0]) for case in TAGS} == set(CLASSES)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_scores_align_with_the_batch(cls):
    # scores_ is what each returned index scored, so it is reset by every select
    sampler = next(s for s in SAMPLERS if type(s) is cls)
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.arange(40) % 3 if not isinstance(getattr(sampler, "estimator", None), Ridge) \
        else X[:, 0]
    fitted = sampler.fit(X[:15], y[:15])
    for n in (4, 9):
        fitted.select(X[15:], n)
        assert fitted.scores_.shape == (n,)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("sampler", [s for s in SAMPLERS if "device" in s.get_params()],
                         ids=lambda s: " ".join(repr(s).split()))
def test_cuda_selects_as_cpu(sampler):
    X = np.random.default_rng(0).normal(size=(60, 4))
    y = X[:, 0] if isinstance(sampler.get_params().get("estimator"), Ridge) \
        else np.arange(60) % 3
    cpu = clone(sampler).fit(X[:20], y[:20])
    cuda = clone(sampler).set_params(device="cuda").fit(X[:20], y[:20])
    np.testing.assert_array_equal(cuda.select(X[20:], 8), cpu.select(X[20:], 8))
    np.testing.assert_allclose(cuda.scores_, cpu.scores_, rtol=1e-9, atol=1e-12)
