"""skbait: batch active learning with Fisher embeddings (BAIT) for scikit-learn."""

from ._arrays import (
    badge_select,
    bait_select,
    coreset_select,
    determinantal_select,
    uncertainty_select,
)
from .badge import BadgeSampler
from .bait import BaitSampler
from .coreset import CoresetSampler
from .determinantal import DeterminantalSampler
from .random import RandomSampler
from .uncertainty import UncertaintySampler

__version__ = "0.1.0.dev0"

__all__ = [
    "BadgeSampler",
    "BaitSampler",
    "CoresetSampler",
    "DeterminantalSampler",
    "RandomSampler",
    "UncertaintySampler",
    "__version__",
    "badge_select",
    "bait_select",
    "coreset_select",
    "determinantal_select",
    "uncertainty_select",
]
