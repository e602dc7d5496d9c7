"""Adapters from skbait's samplers to other active-learning libraries.

Each submodule needs its library, an optional extra; importing ``skbait`` or this package
imports none of them.

- :mod:`skbait.integration.skactiveml`: skbait's samplers as scikit-activeml pool query
  strategies (``pip install scikit-activeml``).
"""

__all__: list = []
