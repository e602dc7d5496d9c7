"""Pool-based active-learning simulation: one sampler (:func:`simulate`) or several over
seeds (:func:`compare`)."""

import time
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from scipy import sparse
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.metrics import accuracy_score, root_mean_squared_error
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_consistent_length

from ..utils._validation import num_rows
from ._initial import _check_initial, _check_trainable, _initial_set
from ._progress import _progress_bar
from ._results import Results
from ._seeding import _SEED_MAX, _seed_nested, _seeded_torch


def simulate(
    sampler,
    X,
    y,
    X_test,
    y_test,
    *,
    n_initial,
    batch_size,
    n_rounds,
    estimator=None,
    initial="random",
    random_state=None,
    progress=True,
):
    """Simulate pool-based batch active learning with one sampler.

    ``n_initial`` points of ``X`` drawn from ``random_state`` (see ``initial``) start
    labeled; the rest is the pool. Each round fits (a clone of) the sampler on the
    labeled set, selects ``batch_size`` points of the remaining pool, reveals their
    labels, and records the test score of the model trained on the labeled set.

    Parameters
    ----------
    sampler : sampler object
        Anything with ``fit(X_labeled, y_labeled)`` and ``select(X_pool, n)`` returning
        ``n`` distinct indices into ``X_pool`` (every skbait sampler). It is cloned; the
        object passed in is not changed. If it has a ``random_state`` parameter set to
        None, the clone gets one drawn from ``random_state``, so that the whole run is
        reproducible (see ``random_state``).
    X : array-like or sparse matrix of shape (n_samples, n_features)
        The pool, including the points that start labeled.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Labels of ``X``, revealed only once a point is chosen.
    X_test, y_test : array-like
        Held-out data the model is scored on after each round.
    n_initial : int
        Size of the initial labeled set.
    batch_size : int
        Points selected per round.
    n_rounds : int
        Number of batches to select. The result has ``n_rounds + 1`` rows: round 0 is
        the initial set.
    estimator : estimator object, default=None
        The model whose test score is recorded, refitted from scratch on the labeled set
        every round (accuracy for a classifier, RMSE for a regressor). None uses the
        sampler's own ``estimator`` parameter.
    initial : {"random", "stratified"}, default="random"
        How the initial labeled set is drawn. ``"random"``: ``n_initial`` points
        uniformly without replacement. ``"stratified"`` (classification, 1-D ``y``): one
        point of every class when ``n_initial`` is at least the number of classes, the
        rest split between the classes in proportion to their sizes (largest remainders,
        ties drawn at random); with fewer points than classes, one point each of
        ``n_initial`` distinct classes drawn in proportion to their sizes.
        Either way the points are drawn from ``random_state``. If the initial set of a
        classifier holds a single class, a ValueError is raised before the first round.
    random_state : int, RandomState instance or None, default=None
        Draws the initial set and the seeds of the run: the sampler's (see
        ``sampler``), that of every nested ``random_state`` left None in the sampler's
        and the scored estimator's parameters (e.g. a forest's), and that of torch's
        global generator, which a skorch net draws its initial weights and batch order
        from. torch's generator is seeded inside :func:`torch.random.fork_rng` (CPU, and
        the CUDA devices when torch sees any), so the caller's torch random state is the
        same after the call as before; the run holds a lock meanwhile, so that runs in
        threads, which share the generator, take turns. An int makes the run
        reproducible; numpy's global generator is never drawn from.
    progress : bool, default=True
        Show a progress bar over rounds (tqdm when installed, a line per round on stderr
        otherwise).

    Returns
    -------
    results : Results
        One row per round with columns ``round``, ``n_labeled`` (labels the model was
        trained on), ``score``, ``metric`` (``"accuracy"`` or ``"rmse"``), ``fit_time``
        (seconds to fit the sampler) and ``select_time`` (seconds ``select`` took to
        choose this round's batch; NaN in round 0). ``results.labeled`` holds the
        labeled row indices of ``X`` in the order they were revealed.

    Raises
    ------
    ValueError
        For a budget that ``X`` cannot supply, an unknown ``initial``, ``"stratified"``
        without class labels, or an initial set on which a classifier cannot be trained
        (a single class): all before the first round.

    See Also
    --------
    compare : several samplers over several seeds, same initial set per seed.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skbait import BaitSampler
    >>> from skbait.experiment import simulate
    >>> X, y = load_iris(return_X_y=True)
    >>> sampler = BaitSampler(LogisticRegression(), device="cpu")
    >>> results = simulate(sampler, X, y, X, y, n_initial=10, batch_size=5, n_rounds=3,
    ...                    random_state=0, progress=False)
    >>> results["n_labeled"].tolist()
    [10, 15, 20, 25]
    """
    X, y, X_test, y_test = _check_data(X, y, X_test, y_test)
    _check_budget(num_rows(X), n_initial, batch_size, n_rounds)
    evaluator, reuse = _evaluator(sampler, estimator)
    _check_initial(initial, y, [evaluator])
    return _simulate(
        sampler, X, y, X_test, y_test, evaluator, reuse, n_initial, batch_size, n_rounds,
        random_state, progress, initial,
    )


def compare(
    samplers,
    X,
    y,
    X_test,
    y_test,
    *,
    n_initial,
    batch_size,
    n_rounds,
    estimator=None,
    n_seeds=5,
    initial="random",
    random_state=None,
    n_jobs=None,
    progress=True,
):
    """Run :func:`simulate` for several samplers over several seeds.

    For each seed, every sampler starts from the same initial labeled set, so that the
    results pair by seed (what :func:`penalty_matrix` tests).

    Parameters
    ----------
    samplers : dict of str to sampler object
        The samplers to compare, by the name to report.
    X, y, X_test, y_test, n_initial, batch_size, n_rounds :
        As in :func:`simulate`.
    estimator : estimator object, default=None
        The model scored for every sampler (use one model so the comparison is fair).
        None uses each sampler's own ``estimator`` parameter.
    n_seeds : int, default=5
        Number of repetitions, each with its own initial set.
    initial : {"random", "stratified"}, default="random"
        How each seed's initial labeled set is drawn, as in :func:`simulate`. The
        initial sets of all seeds are drawn and checked before any run starts.
    random_state : int, RandomState instance or None, default=None
        Draws one seed per repetition, which seeds that repetition's runs as
        ``random_state`` does in :func:`simulate` (initial set, sampler, nested
        ``random_state`` parameters left None, torch's global generator). An int makes
        the results reproducible, with any ``n_jobs`` and backend.
    n_jobs : int, default=None
        Runs (sampler, seed) in parallel with joblib: a positive number of workers, or a
        negative one as in joblib (-1: all cores, -2: all but one); None means 1. With
        joblib's default process-based backend the runs are parallel; with a
        thread-based one (``joblib.parallel_config(backend="threading")``) they take
        turns, since threads share torch's global generator.
    progress : bool, default=True
        Show a progress bar over the (sampler, seed) runs.

    Returns
    -------
    results : Results
        The rows of every run, ordered by sampler (as in ``samplers``), seed and round,
        with :func:`simulate`'s columns plus ``sampler`` and ``seed`` (0 to
        ``n_seeds - 1``). ``results.labeled`` maps ``(sampler, seed)`` to the labeled
        row indices of ``X`` in the order they were revealed.

    Raises
    ------
    ValueError
        As :func:`simulate` does, and for a bad ``n_seeds`` or ``n_jobs``: all before
        any run starts.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skbait import BaitSampler
    >>> from skbait.experiment import compare
    >>> X, y = load_iris(return_X_y=True)
    >>> model = LogisticRegression()
    >>> samplers = {"bait": BaitSampler(model, device="cpu"),
    ...             "forward": BaitSampler(model, backward=False, device="cpu")}
    >>> results = compare(samplers, X, y, X, y, estimator=model, n_initial=10,
    ...                   batch_size=5, n_rounds=2, n_seeds=2, random_state=0,
    ...                   progress=False)
    >>> len(results), sorted(set(results["sampler"].tolist()))
    (12, ['bait', 'forward'])
    """
    if not isinstance(samplers, dict) or not samplers:
        raise TypeError("samplers must be a non-empty dict of name -> sampler.")
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, Integral) or n_seeds < 1:
        raise ValueError(f"n_seeds must be a positive int, got {n_seeds!r}.")
    _check_n_jobs(n_jobs)
    X, y, X_test, y_test = _check_data(X, y, X_test, y_test)
    _check_budget(num_rows(X), n_initial, batch_size, n_rounds)
    evaluators = {name: _evaluator(s, estimator) for name, s in samplers.items()}
    _check_initial(initial, y, [evaluator for evaluator, _ in evaluators.values()])
    seeds = check_random_state(random_state).randint(_SEED_MAX, size=n_seeds)
    # every seed's initial set, as its runs will draw it: refuse one that cannot train
    # the model now rather than after the other runs have started
    for i, seed in enumerate(seeds):
        labeled = _initial_set(np.random.RandomState(seed), y, n_initial, initial)
        for evaluator, _ in evaluators.values():
            _check_trainable(y, labeled, evaluator, n_initial, initial, f"seed {i}")
    tasks = [(name, i) for name in samplers for i in range(n_seeds)]
    runs = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(_run)(
            name, i, samplers[name], X, y, X_test, y_test, *evaluators[name],
            n_initial, batch_size, n_rounds, int(seeds[i]), initial,
        )
        for name, i in tasks
    )
    done = {}
    bar = _progress_bar(len(tasks), "compare", progress, leave=True)
    for key, result in runs:
        done[key] = result
        if bar is not None:
            bar.set_postfix_str(f"{key[0]} seed {key[1]}")
            bar.update(1)
    if bar is not None:
        bar.close()
    merged = Results.concat(
        Results({"sampler": np.full(len(done[key]), key[0]),
                 "seed": np.full(len(done[key]), key[1]),
                 **{c: done[key][c] for c in done[key].columns}})
        for key in tasks
    )
    merged.labeled = {key: done[key].labeled for key in tasks}
    return merged


def _run(name, seed_index, sampler, X, y, X_test, y_test, evaluator, reuse, n_initial,
         batch_size, n_rounds, seed, initial):
    result = _simulate(
        sampler, X, y, X_test, y_test, evaluator, reuse, n_initial, batch_size, n_rounds,
        seed, progress=False, initial=initial,
    )
    return (name, seed_index), result


def _simulate(sampler, X, y, X_test, y_test, evaluator, reuse, n_initial, batch_size,
              n_rounds, random_state, progress, initial):
    rng = check_random_state(random_state)
    n = num_rows(X)
    labeled = list(_initial_set(rng, y, n_initial, initial))
    _check_trainable(y, labeled, evaluator, n_initial, initial)
    # drawn whether or not the sampler takes it, so that the seeds after it do not
    # depend on the sampler: same seed, same model weights for every sampler compared
    sampler_seed = rng.randint(_SEED_MAX)
    torch_seed, model_seed = (int(v) for v in rng.randint(_SEED_MAX, size=2))
    in_pool = np.ones(n, dtype=bool)
    in_pool[labeled] = False
    sampler = clone(sampler)
    own = sampler.get_params(deep=False)
    if "random_state" in own and own["random_state"] is None:
        sampler.set_params(random_state=np.random.RandomState(sampler_seed))
    _seed_nested(sampler, model_seed, top=False)
    evaluator = _seed_nested(clone(evaluator), model_seed)
    with _seeded_torch(torch_seed):
        return _loop(sampler, X, y, X_test, y_test, evaluator, reuse, labeled, in_pool,
                     batch_size, n_rounds, progress)


def _loop(sampler, X, y, X_test, y_test, evaluator, reuse, labeled, in_pool, batch_size,
          n_rounds, progress):
    metric = "accuracy" if is_classifier(evaluator) else "rmse"
    rows = {k: [] for k in ("round", "n_labeled", "score", "fit_time", "select_time")}
    select_time = np.nan
    bar = _progress_bar(n_rounds + 1, type(sampler).__name__, progress)
    for round_ in range(n_rounds + 1):
        X_lab, y_lab = _take(X, labeled), _take(y, labeled)
        fit_time = np.nan
        if round_ < n_rounds:
            start = time.perf_counter()
            sampler.fit(X_lab, y_lab)
            fit_time = time.perf_counter() - start
        # the sampler's fitted model is the evaluator fitted on the same labeled set
        model = getattr(sampler, "estimator_", None) if reuse and round_ < n_rounds else None
        if model is None:
            model = clone(evaluator).fit(X_lab, y_lab)
        rows["round"].append(round_)
        rows["n_labeled"].append(len(labeled))
        rows["score"].append(_score(model, X_test, y_test, metric))
        rows["fit_time"].append(fit_time)
        rows["select_time"].append(select_time)
        if bar is not None:
            bar.update(1)
        if round_ == n_rounds:
            break
        pool = np.flatnonzero(in_pool)
        start = time.perf_counter()
        picks = sampler.select(_take(X, pool), batch_size)
        select_time = time.perf_counter() - start
        chosen = pool[_check_picks(picks, batch_size, len(pool), sampler)]
        in_pool[chosen] = False
        labeled.extend(chosen.tolist())
    if bar is not None:
        bar.close()
    rows["metric"] = [metric] * len(rows["round"])
    order = ["round", "n_labeled", "score", "metric", "fit_time", "select_time"]
    return Results({k: rows[k] for k in order}, labeled=np.asarray(labeled, dtype=np.intp))


def _check_n_jobs(n_jobs):
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, Integral)
                               or n_jobs == 0):
        raise ValueError(
            f"n_jobs must be None, a positive number of workers or a negative one as in "
            f"joblib (-1: all cores, -2: all but one); got {n_jobs!r}."
        )


def _evaluator(sampler, estimator):
    """The model to score, and whether the sampler's fitted ``estimator_`` is that model."""
    if not (hasattr(sampler, "fit") and hasattr(sampler, "select")):
        raise TypeError(
            f"{type(sampler).__name__} is not a sampler: it needs fit(X, y) and "
            "select(X_pool, n)."
        )
    params = sampler.get_params(deep=False)
    own = params.get("estimator")
    if estimator is None and own is None:
        raise TypeError(
            f"{type(sampler).__name__} has no estimator to score; pass estimator= (the "
            "model whose test score is recorded)."
        )
    evaluator = own if estimator is None else estimator
    if not (is_classifier(evaluator) or is_regressor(evaluator)):
        raise TypeError(
            f"Cannot score {type(evaluator).__name__}: it is neither a classifier nor a "
            "regressor."
        )
    reuse = own is not None and own is evaluator and not params.get("prefit", False)
    return evaluator, reuse


def _score(model, X_test, y_test, metric):
    pred = model.predict(X_test)
    if metric == "accuracy":
        return float(accuracy_score(y_test, pred))
    return float(root_mean_squared_error(y_test, pred))


def _check_picks(picks, n, n_pool, sampler):
    picks = np.asarray(picks)
    if (
        picks.shape != (n,)
        or not np.issubdtype(picks.dtype, np.integer)
        or len(np.unique(picks)) != n
        or picks.min() < 0
        or picks.max() >= n_pool
    ):
        raise RuntimeError(
            f"{type(sampler).__name__}.select returned {picks!r}; expected {n} distinct "
            f"integer indices into a pool of {n_pool}."
        )
    return picks


def _check_data(X, y, X_test, y_test):
    check_consistent_length(X, y)
    check_consistent_length(X_test, y_test)
    return X, np.asarray(y), X_test, np.asarray(y_test)


def _check_budget(n, n_initial, batch_size, n_rounds):
    for name, value, low in (("n_initial", n_initial, 1), ("batch_size", batch_size, 1),
                             ("n_rounds", n_rounds, 0)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}.")
    needed = n_initial + n_rounds * batch_size
    if needed > n:
        raise ValueError(
            f"n_initial + n_rounds * batch_size = {needed} labels, but X has only {n} rows."
        )


def _take(X, indices):
    indices = np.asarray(indices, dtype=np.intp)
    if hasattr(X, "iloc"):
        return X.iloc[indices]
    if isinstance(X, np.ndarray) or sparse.issparse(X):
        return X[indices]
    return [X[i] for i in indices]
