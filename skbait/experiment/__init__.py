"""Active-learning experiments: simulate a labeling loop, compare samplers over seeds,
plot learning curves and the pairwise penalty matrix of Ash et al. (2021).

matplotlib is needed only by the ``plot_*`` functions and imported when they are called.
"""

from ._plot import plot_learning_curves, plot_penalty_matrix
from ._results import Results
from ._simulate import compare, simulate
from ._stats import PenaltyMatrix, format_table, penalty_matrix, summarize

__all__ = [
    "PenaltyMatrix",
    "Results",
    "compare",
    "format_table",
    "penalty_matrix",
    "plot_learning_curves",
    "plot_penalty_matrix",
    "simulate",
    "summarize",
]
