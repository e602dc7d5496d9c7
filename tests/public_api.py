"""What counts as skbait's public API, for the documentation tests.

The names in ``__all__`` of ``skbait`` and of its public modules, plus every class or
function defined in a module whose dotted path has no private component
(``skbait.base.BaseSampler``, for example). ``__main__`` runs a command and is skipped.
"""

import importlib
import inspect
import pkgutil

import skbait


def public_modules():
    names = ["skbait"]
    for info in pkgutil.walk_packages(skbait.__path__, prefix="skbait."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return [importlib.import_module(name) for name in names]


def public_api():
    """``{dotted name: object}``, each object under its shortest public path."""
    found = {}
    for module in public_modules():
        exported = set(getattr(module, "__all__", ()))
        for name, obj in sorted(vars(module).items()):
            if name.startswith("_") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if name in exported or getattr(obj, "__module__", None) == module.__name__:
                found.setdefault(id(obj), (f"{module.__name__}.{name}", obj))
    return dict(sorted(found.values()))


def public_methods(api):
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
