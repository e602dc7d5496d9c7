"""Learning curves and the penalty matrix as matplotlib figures (the ``plot`` extra)."""

import numpy as np

from ._results import column, has_column


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "Plotting needs matplotlib: pip install 'skbait[plot]' (or matplotlib)."
        ) from exc
    return plt


def plot_learning_curves(results, *, experiment="experiment", axes=None):
    """Test score against the number of labels: mean ± standard error over seeds.

    Parameters
    ----------
    results : Results or pandas.DataFrame
        Rows with columns ``sampler``, ``n_labeled`` and ``score`` (as :func:`compare`
        returns), optionally ``metric`` (the y label) and ``seed``.
    experiment : str, default="experiment"
        Column naming the experiment; one panel per experiment. Without it, one panel.
    axes : array-like of matplotlib Axes, default=None
        One per experiment; by default a new figure with panels side by side.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure holding the panels.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skbait.experiment import Results, plot_learning_curves
    >>> results = Results({"sampler": ["bait"] * 4 + ["random"] * 4,
    ...                    "seed": [0, 0, 1, 1] * 2, "n_labeled": [10, 20] * 4,
    ...                    "score": [0.5, 0.8, 0.6, 0.8, 0.5, 0.6, 0.6, 0.7]})
    >>> fig = plot_learning_curves(results)
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['bait', 'random']
    >>> plt.close(fig)
    """
    plt = _pyplot()
    sampler = column(results, "sampler").astype(str)
    n_labeled = column(results, "n_labeled").astype(float)
    score = column(results, "score").astype(float)
    metric = column(results, "metric").astype(str) if has_column(results, "metric") else None
    groups = column(results, experiment) if has_column(results, experiment) else None
    panels = [None] if groups is None else list(dict.fromkeys(groups.tolist()))
    if axes is None:
        fig, axes = plt.subplots(
            1, len(panels), figsize=(5.2 * len(panels), 4), squeeze=False, layout="constrained"
        )
    axes = np.ravel(axes)
    if len(axes) != len(panels):
        raise ValueError(f"{len(panels)} experiments need {len(panels)} axes, got {len(axes)}.")
    for ax, panel in zip(axes, panels):
        in_panel = np.ones(len(score), bool) if panel is None else groups == panel
        for name in dict.fromkeys(sampler[in_panel].tolist()):
            rows = in_panel & (sampler == name)
            levels = np.unique(n_labeled[rows])
            per_level = [score[rows & (n_labeled == n)] for n in levels]
            mean = np.array([v.mean() for v in per_level])
            se = np.array([v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0.0
                           for v in per_level])
            (line,) = ax.plot(levels, mean, label=name, lw=1.6)
            ax.fill_between(levels, mean - se, mean + se, color=line.get_color(), alpha=0.2,
                            lw=0)
        ax.set_xlabel("number of labels")
        ax.set_ylabel(metric[in_panel][0] if metric is not None else "score")
        if panel is not None:
            ax.set_title(str(panel))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    return axes[0].figure


def plot_penalty_matrix(penalty, *, ax=None):
    """Draw a :class:`PenaltyMatrix`: entry ``(i, j)`` is how often row ``i`` beat
    column ``j``; the column means (lower is better) are shown under the matrix.

    Parameters
    ----------
    penalty : PenaltyMatrix
        As returned by :func:`penalty_matrix`.
    ax : matplotlib Axes, default=None
        Where to draw the matrix; the column means go in an axes appended below it.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure holding the matrix.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from skbait.experiment import PenaltyMatrix, plot_penalty_matrix
    >>> penalty = PenaltyMatrix(np.array([[0.0, 1.0], [0.0, 0.0]]), ["bait", "random"],
    ...                         np.array([0.0, 0.5]), {None: np.array([20, 30])}, 2.776)
    >>> fig = plot_penalty_matrix(penalty)
    >>> len(fig.axes)  # the matrix, and the column means below it
    2
    >>> plt.close(fig)
    """
    plt = _pyplot()
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    names = penalty.samplers
    m = len(names)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 * m + 2.5, 1.0 * m + 2.0))
    top = max(float(penalty.matrix.max()), 1e-12)
    ax.imshow(penalty.matrix, cmap="Reds", vmin=0, vmax=top)
    below = make_axes_locatable(ax).append_axes("bottom", size=0.45, pad=0.15)
    below.imshow(penalty.column_means[None, :], cmap="Reds", vmin=0, vmax=top, aspect="auto")
    for target, values, row in ((ax, penalty.matrix, None), (below, penalty.column_means, 0)):
        grid = values if row is None else values[None, :]
        for (i, j), value in np.ndenumerate(grid):
            target.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize="small",
                        color="white" if value > 0.6 * top else "black")
    ax.set_xticks(range(m), labels=[])
    ax.set_yticks(range(m), labels=names)
    ax.set_ylabel("row wins against column")
    below.set_xticks(range(m), labels=names, rotation=40, ha="right")
    below.set_yticks([0], labels=["column mean"])
    ax.set_title(
        f"Pairwise penalty matrix (paired t-test, |t| > {penalty.critical_value:.3f})",
        fontsize="medium",
    )
    return ax.figure
