"""A tidy table of experiment results that needs no pandas, and uses it when present."""

import csv
import os

import numpy as np


class Results:
    """Tidy results of an active-learning experiment: one row per round.

    Columns are 1-D numpy arrays of equal length, readable as ``results["score"]`` like
    a :class:`pandas.DataFrame`; the plotting and statistics functions of
    :mod:`skbait.experiment` accept either. :meth:`to_frame` gives the DataFrame and
    :meth:`to_csv` writes the table (through pandas when it is installed, the standard
    :mod:`csv` module otherwise).

    Parameters
    ----------
    columns : dict of str to array-like
        Column name to values, all of the same length.
    labeled : ndarray or dict, default=None
        The row indices of ``X`` that were labeled, in the order they were revealed (the
        initial set first). :func:`simulate` stores one array; :func:`compare` a dict
        keyed by ``(sampler, seed)``.

    Attributes
    ----------
    columns : list of str
        Column names, in order.
    labeled : ndarray, dict or None
        As passed.

    Examples
    --------
    >>> from skbait.experiment import Results
    >>> r = Results({"round": [0, 1], "score": [0.5, 0.75]})
    >>> len(r), r.columns, float(r["score"].mean())
    (2, ['round', 'score'], 0.625)
    """

    def __init__(self, columns, labeled=None):
        self._data = {name: np.asarray(values) for name, values in columns.items()}
        lengths = {name: values.shape for name, values in self._data.items()}
        if any(len(shape) != 1 for shape in lengths.values()):
            raise ValueError(f"Every column must be 1-D; got shapes {lengths}.")
        if len({shape[0] for shape in lengths.values()}) > 1:
            raise ValueError(f"All columns must have the same length; got {lengths}.")
        self.labeled = labeled

    @property
    def columns(self):
        return list(self._data)

    def __len__(self):
        return next(iter(self._data.values())).shape[0] if self._data else 0

    def __getitem__(self, name):
        try:
            return self._data[name]
        except KeyError:
            raise KeyError(f"No column {name!r}; the columns are {self.columns}.") from None

    def __contains__(self, name):
        return name in self._data

    def __repr__(self):
        return f"Results({len(self)} rows; columns {self.columns})"

    def assign(self, **columns):
        """A copy with columns added or replaced; a scalar fills the whole column.

        Parameters
        ----------
        **columns : scalar or array-like of shape (n_rows,)
            New column values, by column name.

        Returns
        -------
        results : Results
            The copy; ``labeled`` is carried over.
        """
        data = dict(self._data)
        for name, value in columns.items():
            data[name] = np.full(len(self), value) if np.ndim(value) == 0 else value
        return Results(data, labeled=self.labeled)

    @classmethod
    def concat(cls, results):
        """Stack several Results with the same columns (``labeled`` is not carried)."""
        results = list(results)
        if not results:
            raise ValueError("Nothing to concatenate.")
        names = results[0].columns
        for other in results[1:]:
            if other.columns != names:
                raise ValueError(
                    f"Cannot concatenate results with columns {names} and {other.columns}."
                )
        return cls({name: np.concatenate([r[name] for r in results]) for name in names})

    def to_frame(self):
        """The table as a :class:`pandas.DataFrame` (pandas required).

        Returns
        -------
        frame : pandas.DataFrame
            One column per column of the results.
        """
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError(
                "Results.to_frame needs pandas (pip install pandas); Results itself and "
                "Results.to_csv work without it."
            ) from exc
        return pd.DataFrame(self._data)

    def to_csv(self, path):
        """Write the table to ``path`` as CSV with a header row and no index column.

        Parameters
        ----------
        path : str or path-like
            The file to write.
        """
        try:
            frame = self.to_frame()
        except ImportError:
            with open(os.fspath(path), "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(self.columns)
                writer.writerows(zip(*(values.tolist() for values in self._data.values())))
        else:
            frame.to_csv(path, index=False)


def column(data, name):
    """Column ``name`` of a Results, a DataFrame or a dict, as a numpy array."""
    try:
        return np.asarray(data[name])
    except KeyError:
        columns = list(getattr(data, "columns", data))
        raise KeyError(f"The results have no column {name!r}; they have {columns}.") from None


def has_column(data, name):
    return name in (data.columns if hasattr(data, "columns") else data)
