"""skbait: batch active learning with Fisher embeddings (BAIT) for scikit-learn."""

from .bait import BaitSampler

__version__ = "0.1.0.dev0"

__all__ = ["BaitSampler", "__version__"]
