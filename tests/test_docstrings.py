"""Every public class and function has a numpydoc docstring that matches its signature.

The public API is defined in ``tests/public_api.py``. The examples in those docstrings run
as doctests (``--doctest-modules`` in setup.cfg).
"""

import inspect

import numpydoc.validate
import pytest
from numpydoc.docscrape import ClassDoc, FunctionDoc

import skbait
from public_api import public_api, public_methods

# numpydoc.validate codes enforced on every public class, function and method.
CHECKS = {"GL08", "SS01", "PR07", "PR10", "RT01"}
# Classes and functions are what users look up: each carries an example.
EXAMPLE_CHECKS = {"EX01"}

API = public_api()
METHODS = public_methods(API)


def _is_record(obj):
    """A NamedTuple: its fields are documented as Attributes, not as Parameters."""
    return inspect.isclass(obj) and issubclass(obj, tuple) and hasattr(obj, "_fields")


def _documented_parameters(obj):
    doc = ClassDoc(obj) if inspect.isclass(obj) else FunctionDoc(obj)
    names = []
    for param in doc["Attributes" if _is_record(obj) else "Parameters"]:
        names.extend(part.strip().lstrip("*") for part in param.name.split(","))
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
