"""Parameter constraint types for ``_parameter_constraints``.

scikit-learn does not publish these classes, but ``BaseEstimator._validate_params``
consumes exactly them (imbalanced-learn relies on them the same way). Importing them
in this one module keeps the dependency on scikit-learn's private layout in one place.
"""

from sklearn.utils._param_validation import HasMethods, Interval, StrOptions, validate_params

__all__ = ["HasMethods", "Interval", "StrOptions", "validate_params"]
