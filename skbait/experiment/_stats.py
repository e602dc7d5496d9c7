"""Aggregate statistics of experiment results: the paper's pairwise penalty matrix and a
per-sampler summary."""

from typing import NamedTuple

import numpy as np
from scipy import stats

from ._results import Results, column, has_column

#: Metrics for which a smaller score is better; every other metric is maximised.
LOWER_IS_BETTER = frozenset({"rmse"})


class PenaltyMatrix(NamedTuple):
    """Outcome of :func:`penalty_matrix`.

    Attributes
    ----------
    matrix : ndarray of shape (n_samplers, n_samplers)
        ``matrix[i, j]``: over experiments, the fraction of an experiment's labeling
        budgets at which sampler ``i`` was significantly better than sampler ``j``, summed.
    samplers : list of str
        Row and column labels.
    column_means : ndarray of shape (n_samplers,)
        Mean of each column (the diagonal is 0): how often a sampler was beaten; lower
        is better.
    budgets : dict
        Experiment -> the labeling budgets compared (an empty array when the baseline
        was already within tolerance of its final score before the first budget).
    critical_value : float
        The two-sided t critical value used (2.776 for 5 seeds at ``alpha=0.05``).

    Examples
    --------
    >>> import numpy as np
    >>> from skbait.experiment import PenaltyMatrix
    >>> penalty = PenaltyMatrix(np.array([[0.0, 1.0], [0.0, 0.0]]), ["bait", "random"],
    ...                         np.array([0.0, 0.5]), {None: np.array([20, 30])}, 2.776)
    >>> dict(zip(penalty.samplers, penalty.column_means.tolist()))
    {'bait': 0.0, 'random': 0.5}
    """

    matrix: np.ndarray
    samplers: list
    column_means: np.ndarray
    budgets: dict
    critical_value: float


def penalty_matrix(results, *, baseline="random", tolerance=0.01, alpha=0.05,
                   experiment="experiment"):
    """Pairwise penalty matrix over experiments (Ash et al. 2021, section 6.2).

    Within each experiment, let ``r`` be the first number of labels at which the
    ``baseline`` sampler's mean score (over seeds) is within ``tolerance`` (relative) of
    its final mean score. The samplers are compared at the budgets
    ``L_k = n_initial + 2^k · batch_size <= r`` (k = 0, 1, ...). At each budget, for
    every ordered pair ``(i, j)``, the paired differences ``e_i − e_j`` over the seeds
    both ran give ``t = √N μ̂ / σ̂``; ``i`` beats ``j`` when ``t`` exceeds the two-sided
    critical value of Student's t with ``N − 1`` degrees of freedom (2.776 for
    ``N = 5`` at ``alpha = 0.05``). Each win adds ``1/z`` to ``matrix[i, j]``, ``z``
    being the number of budgets of that experiment, so an experiment contributes at
    most 1 to any entry.

    Parameters
    ----------
    results : Results or pandas.DataFrame
        Rows with columns ``sampler``, ``seed``, ``n_labeled`` and ``score`` (as
        :func:`compare` returns), optionally ``metric`` (scores of ``"rmse"`` are
        minimised, any other metric maximised) and the ``experiment`` column.
    baseline : str, default="random"
        The sampler whose learning curve sets the budgets.
    tolerance : float, default=0.01
        Relative distance to the baseline's final score that ends the comparison.
    alpha : float, default=0.05
        Two-sided significance level.
    experiment : str, default="experiment"
        Column naming the experiment each row belongs to; without it, all rows are one
        experiment.

    Returns
    -------
    PenaltyMatrix

    Examples
    --------
    >>> import numpy as np
    >>> from skbait.experiment import Results, penalty_matrix
    >>> rows = [("good", s, n, 0.5 + n / 100 + 0.01 * s) for s in range(5)
    ...         for n in (10, 20, 30, 40, 50)]
    >>> rows += [("random", s, n, min(0.5 + n / 200, 0.7) + 0.01 * s + 0.001 * (s % 2))
    ...          for s in range(5) for n in (10, 20, 30, 40, 50)]
    >>> data = Results(dict(zip(["sampler", "seed", "n_labeled", "score"], zip(*rows))))
    >>> pm = penalty_matrix(data)
    >>> pm.samplers, pm.matrix.tolist(), pm.budgets[None].tolist()
    (['good', 'random'], [[0.0, 1.0], [0.0, 0.0]], [20, 30])
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}.")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance!r}.")
    sampler = column(results, "sampler").astype(str)
    seed = column(results, "seed")
    n_labeled = column(results, "n_labeled")
    score = column(results, "score").astype(float)
    if has_column(results, "metric"):
        lower = np.isin(column(results, "metric").astype(str), list(LOWER_IS_BETTER))
        score = np.where(lower, -score, score)
    groups = column(results, experiment) if has_column(results, experiment) else None
    names = list(dict.fromkeys(sampler.tolist()))
    if baseline not in names:
        raise ValueError(f"The baseline {baseline!r} is not among the samplers {names}.")
    index = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(names), len(names)))
    budgets = {}
    critical = None
    for group in [None] if groups is None else list(dict.fromkeys(groups.tolist())):
        rows = np.ones(len(score), bool) if group is None else groups == group
        table = _score_table(sampler[rows], seed[rows], n_labeled[rows], score[rows])
        budgets[group] = _budgets(table, baseline, tolerance)
        for budget in budgets[group]:
            for a in names:
                for b in names:
                    if a == b:
                        continue
                    t, n_pairs = _paired_t(table, a, b, budget)
                    critical = stats.t.ppf(1 - alpha / 2, n_pairs - 1)
                    if t > critical:
                        matrix[index[a], index[b]] += 1 / len(budgets[group])
    if critical is None:  # no budget anywhere: report the value for the seeds present
        critical = stats.t.ppf(1 - alpha / 2, max(len(np.unique(seed)), 2) - 1)
    return PenaltyMatrix(matrix, names, matrix.mean(axis=0), budgets, float(critical))


def _score_table(sampler, seed, n_labeled, score):
    """``{sampler: {n_labeled: {seed: score}}}``, with better scores larger."""
    table = {}
    for name, s, n, value in zip(sampler.tolist(), seed.tolist(), n_labeled.tolist(), score):
        cell = table.setdefault(name, {}).setdefault(int(n), {})
        if s in cell:
            raise ValueError(
                f"Sampler {name!r} has several rows for seed {s} at {n} labels; give each "
                "experiment its own value in the experiment column."
            )
        cell[s] = value
    return table


def _budgets(table, baseline, tolerance):
    levels = np.array(sorted(table[baseline]))
    if len(levels) < 2:
        raise ValueError("The baseline needs at least two rounds to define budgets.")
    steps = np.diff(levels)
    if np.any(steps != steps[0]):
        raise ValueError(f"The rounds must add the same batch size; got labels {levels}.")
    mean = np.array([np.mean(list(table[baseline][n].values())) for n in levels])
    final = mean[-1]
    reached = levels[np.abs(mean - final) <= tolerance * abs(final)][0]
    n_initial, batch = levels[0], steps[0]
    out, k = [], 0
    while n_initial + 2**k * batch <= reached:
        out.append(int(n_initial + 2**k * batch))
        k += 1
    return np.array(out, dtype=int)


def _paired_t(table, a, b, budget):
    """``(t, N)`` of the paired differences ``a − b`` over their common seeds."""
    cells = table[a].get(budget), table[b].get(budget)
    if cells[0] is None or cells[1] is None:
        missing = a if cells[0] is None else b
        raise ValueError(f"Sampler {missing!r} has no result at {budget} labels.")
    common = sorted(set(cells[0]) & set(cells[1]))
    if len(common) < 2:
        raise ValueError(
            f"Samplers {a!r} and {b!r} share {len(common)} seed(s) at {budget} labels; a "
            "paired t-test needs at least 2."
        )
    diff = np.array([cells[0][s] - cells[1][s] for s in common])
    mean, sd = diff.mean(), diff.std(ddof=1)
    if sd == 0:  # identical differences on every seed: the sign decides
        return (np.inf if mean > 0 else -np.inf if mean < 0 else 0.0), len(common)
    return np.sqrt(len(common)) * mean / sd, len(common)


def summarize(results, *, experiment="experiment"):
    """One row per (experiment, sampler): area under the curve, final score, select time.

    Parameters
    ----------
    results : Results or pandas.DataFrame
        As returned by :func:`compare` (optionally with an ``experiment`` column).
    experiment : str, default="experiment"
        Column naming the experiment; ignored when absent.

    Returns
    -------
    summary : Results
        Columns ``experiment`` (when present), ``sampler``, ``metric``, ``auc`` (area
        under the mean learning curve divided by the range of labels, i.e. the score
        averaged over the budget; higher is better for accuracy), ``final`` and
        ``final_se`` (mean and standard error over seeds of the last round's score), and
        ``select_time`` (mean seconds per ``select`` call; NaN without that column).

    Examples
    --------
    >>> from skbait.experiment import Results, summarize
    >>> data = Results({"sampler": ["a"] * 4, "seed": [0, 0, 1, 1],
    ...                 "n_labeled": [10, 20, 10, 20], "score": [0.5, 0.7, 0.5, 0.9],
    ...                 "select_time": [float("nan"), 0.1, float("nan"), 0.3]})
    >>> s = summarize(data)
    >>> float(s["auc"][0]), float(s["final"][0]), float(s["select_time"][0])
    (0.65, 0.8, 0.2)
    """
    sampler = column(results, "sampler").astype(str)
    n_labeled = column(results, "n_labeled").astype(float)
    score = column(results, "score").astype(float)
    select_time = (column(results, "select_time").astype(float)
                   if has_column(results, "select_time") else np.full(len(score), np.nan))
    metric = (column(results, "metric").astype(str) if has_column(results, "metric")
              else np.full(len(score), "score"))
    groups = (column(results, experiment) if has_column(results, experiment)
              else np.full(len(score), None))
    out = {"experiment": [], "sampler": [], "metric": [], "auc": [], "final": [],
           "final_se": [], "select_time": []}
    for group in dict.fromkeys(groups.tolist()):
        for name in dict.fromkeys(sampler[groups == group].tolist()):
            rows = (groups == group) & (sampler == name)
            levels = np.unique(n_labeled[rows])
            curve = np.array([score[rows & (n_labeled == n)].mean() for n in levels])
            span = levels[-1] - levels[0]
            last = score[rows & (n_labeled == levels[-1])]
            out["experiment"].append(group)
            out["sampler"].append(name)
            out["metric"].append(metric[rows][0])
            out["auc"].append(np.trapezoid(curve, levels) / span if span else curve[0])
            out["final"].append(last.mean())
            out["final_se"].append(_standard_error(last))
            times = select_time[rows]
            out["select_time"].append(np.nanmean(times) if np.isfinite(times).any() else np.nan)
    if not has_column(results, experiment):
        del out["experiment"]
    return Results(out)


def _standard_error(values):
    return values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0


def format_table(summary):
    """A plain-text table of a :func:`summarize` result, one line per row.

    Parameters
    ----------
    summary : Results
        As returned by :func:`summarize` (any Results works).

    Returns
    -------
    table : str
        A header, a rule and one left-aligned line per row; floats with 4 decimals.

    Examples
    --------
    >>> from skbait.experiment import Results, format_table
    >>> summary = Results({"sampler": ["bait", "random"], "auc": [0.9, 0.85]})
    >>> print(format_table(summary))  # doctest: +NORMALIZE_WHITESPACE
    sampler  auc
    -------  ------
    bait     0.9000
    random   0.8500
    """
    names = summary.columns
    cells = [[_format(summary[c][i]) for c in names] for i in range(len(summary))]
    widths = [max(len(c), *(len(row[j]) for row in cells)) for j, c in enumerate(names)]
    line = "  ".join(c.ljust(w) for c, w in zip(names, widths))
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join([line, rule, *body])


def _format(value):
    if isinstance(value, (float, np.floating)):
        return f"{value:.4f}" if value < 100 else f"{value:.1f}"
    return str(value)
