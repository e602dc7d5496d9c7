"""The initial labeled set of a simulated run: drawn uniformly or stratified by class,
and checked, before any run starts, to be able to train the model."""

import numpy as np
from sklearn.base import is_classifier

#: How the initial labeled set may be drawn.
_INITIAL = ("random", "stratified")


def _initial_set(rng, y, n_initial, initial):
    """The initial labeled rows, drawn from ``rng`` as ``initial`` says."""
    n = len(y)
    if initial == "random":
        return rng.choice(n, size=n_initial, replace=False)
    classes, codes = np.unique(y, return_inverse=True)
    codes = codes.ravel()
    counts = np.bincount(codes, minlength=len(classes))
    if n_initial >= len(classes):
        # one per class, the rest by largest remainders of the share of the rest of
        # each class (exact integer arithmetic; never more than a class holds)
        rest, spare = n_initial - len(classes), counts - 1
        quota, remainder = np.divmod(rest * spare, max(spare.sum(), 1))
        left = rest - quota.sum()
        order = np.lexsort((rng.random_sample(len(classes)), -remainder))
        take = 1 + quota
        take[order[:left]] += 1
    else:
        take = np.zeros(len(classes), dtype=int)
        take[rng.choice(len(classes), size=n_initial, replace=False, p=counts / n)] = 1
    picks = [rng.choice(np.flatnonzero(codes == k), size=m, replace=False)
             for k, m in enumerate(take) if m]
    return rng.permutation(np.concatenate(picks))


def _check_initial(initial, y, evaluators):
    """Refuse an unknown ``initial``, or ``"stratified"`` where there are no classes."""
    if not isinstance(initial, str) or initial not in _INITIAL:
        raise ValueError(f"initial must be 'random' or 'stratified', got {initial!r}.")
    if initial != "stratified":
        return
    for evaluator in evaluators:
        if not is_classifier(evaluator):
            raise ValueError(
                f"initial='stratified' draws by class, but {type(evaluator).__name__} is "
                "not a classifier; use initial='random'."
            )
    if y.ndim != 1:
        raise ValueError(
            f"initial='stratified' needs 1-D class labels; y has shape {y.shape}. Use "
            "initial='random'."
        )


def _check_trainable(y, labeled, evaluator, n_initial, initial, where=None):
    """Refuse an initial set on which the classifier ``evaluator`` cannot be trained."""
    if not is_classifier(evaluator) or y.ndim != 1:
        return
    found = np.unique(y[np.asarray(labeled, dtype=np.intp)])
    if len(found) >= 2:
        return
    classes = np.unique(y)
    name = type(evaluator).__name__
    if len(classes) < 2:
        raise ValueError(
            f"y holds a single class ({classes.tolist()}); {name} needs at least two to "
            "be trained."
        )
    fix = ("a larger n_initial" if initial == "stratified" else
           "initial='stratified' (one label of every class first) or a larger n_initial")
    raise ValueError(
        f"The initial labeled set (n_initial={n_initial}, initial={initial!r}"
        f"{', ' + where if where else ''}) holds only class {found.tolist()} of the "
        f"{len(classes)} classes in y ({_preview(classes)}), and {name} cannot be "
        f"trained on a single class. Pass {fix}."
    )


def _preview(values, limit=10):
    shown = ", ".join(repr(v) for v in values[:limit].tolist())
    return shown + (", ..." if len(values) > limit else "")
