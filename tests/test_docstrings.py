"""Every public class and function has a numpydoc docstring that matches its signature.

The public API is what a user reaches without underscores: the names in ``__all__`` of
``skbait`` and of its public modules, plus every class or function defined in a module
whose dotted path has no private component (``skbait.base.BaseSampler``, for example).
The examples in those docstrings run as doctests (``--doctest-modules`` in setup.cfg).
"""

import importlib
import inspect
import pkgutil

import numpydoc.validate
import pytest
from numpydoc.docscrape import ClassDoc, FunctionDoc

import skbait

# numpydoc.validate codes enforced on every public class, function and method.
CHECKS = {"GL08", "SS01", "PR07", "PR10", "RT01"}
# Classes and functions are what users look up: each carries an example.
EXAMPLE_CHECKS = {"EX01"}


def _public_modules():
    names = ["skbait"]
    for info in pkgutil.walk_packages(skbait.__path__, prefix="skbait."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue  # private modules, and __main__ (it runs a command)
        names.append(info.name)
    return [importlib.import_module(name) for name in names]


def _public_api():
    """``{dotted name: object}``, each object under its shortest public path."""
    found = {}
    for module in _public_modules():
        exported = set(getattr(module, "__all__", ()))
        for name, obj in sorted(vars(module).items()):
            if name.startswith("_") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if name in exported or getattr(obj, "__module__", None) == module.__name__:
                found.setdefault(id(obj), (f"{module.__name__}.{name}", obj))
    return dict(sorted(found.values()))


def _public_methods(api):
    """``{dotted name: function}`` of the public methods skbait defines, each once.

    A method is named after the class that defines it (``skbait.base.BaseSampler.fit``).
    """
    found = {}
    for cls in api.values():
        if not inspect.isclass(cls):
            continue
        for attr, func in inspect.getmembers(cls, inspect.isfunction):
            if not attr.startswith("_") and func.__module__.startswith("skbait"):
                found[f"{func.__module__}.{func.__qualname__}"] = func
    return dict(sorted(found.items()))


API = _public_api()
METHODS = _public_methods(API)


def _documented_parameters(obj):
    doc = ClassDoc(obj) if inspect.isclass(obj) else FunctionDoc(obj)
    names = []
    for param in doc["Parameters"]:
        names.extend(part.strip() for part in param.name.split(","))
    return names


def _signature_parameters(obj):
    params = inspect.signature(obj).parameters.values()
    return [p.name for p in params if p.name not in ("self", "cls")]


def _validation_errors(name, codes):
    result = numpydoc.validate.validate(name)
    return [f"{code}: {message}" for code, message in result["errors"] if code in codes]


def test_public_api_is_found():
    assert "skbait.BaitSampler" in API
    assert set(skbait.__all__) - {"__version__"} <= {n.split(".")[-1] for n in API}
    assert "skbait.base.BaseSampler.select" in METHODS


@pytest.mark.parametrize("name", list(API))
def test_docstring_parameters_match_signature(name):
    obj = API[name]
    assert _documented_parameters(obj) == _signature_parameters(obj), (
        f"{name}: the Parameters section must list the signature's parameters, in order"
    )


@pytest.mark.parametrize("name", list(METHODS))
def test_method_parameters_match_signature(name):
    func = METHODS[name]
    assert _documented_parameters(func) == _signature_parameters(func), name


@pytest.mark.parametrize("name", list(API))
def test_public_docstring_is_valid_numpydoc(name):
    errors = _validation_errors(name, CHECKS | EXAMPLE_CHECKS)
    assert not errors, f"{name}:\n" + "\n".join(errors)


@pytest.mark.parametrize("name", list(METHODS))
def test_method_docstring_is_valid_numpydoc(name):
    errors = _validation_errors(name, CHECKS)
    assert not errors, f"{name}:\n" + "\n".join(errors)


def test_parameter_check_catches_a_mismatch():
    class Broken:
        """A class whose docstring lists a parameter it does not take.

        Parameters
        ----------
        alpha : float
            Present.
        beta : int
            Not in the signature.
        """

        def __init__(self, alpha, gamma=1):
            self.alpha = alpha
            self.gamma = gamma

    assert _documented_parameters(Broken) == ["alpha", "beta"]
    assert _signature_parameters(Broken) == ["alpha", "gamma"]
