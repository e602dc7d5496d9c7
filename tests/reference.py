"""Brute-force oracles written plainly from the definitions (float64, explicit inverses).

They are slow on purpose: every candidate's objective is recomputed from scratch with
explicit ``D × D`` inverses, so they share no code, and no cleverness, with ``skbait``.
"""

import numpy as np


def fisher_factor(h, proba, kind):
    """Explicit ``D × r`` factor ``V`` with ``I(x) = V Vᵀ`` for one point."""
    if kind == "softmax":
        c = np.diag(np.sqrt(proba)) - np.outer(proba, np.sqrt(proba))
        return np.kron(h[:, None], c)  # (d·k) × k, parameter (i, a) at i·k + a
    if kind == "binary":
        p = proba[1]
        return (np.sqrt(p * (1 - p)) * h)[:, None]
    if kind == "regression":
        return h[:, None]
    raise ValueError(kind)


def factors(H, P, kind):
    return [fisher_factor(H[i], None if P is None else P[i], kind) for i in range(len(H))]


def bait_reference(V_lab, V_pool, n, *, alpha=1.0, oversample=2, backward=True,
                   fisher="pool"):
    """BAIT with the reference conventions, by brute force.

    Returns (indices, objective) where objective is ``tr(M⁻¹F)`` with the batch added.
    """
    n_lab, n_pool = len(V_lab), len(V_pool)
    D = V_pool[0].shape[0]
    info = lambda V: V @ V.T  # noqa: E731
    if fisher == "identity":
        F = np.eye(D)
    else:
        F = sum(info(V) for V in list(V_lab) + list(V_pool)) / (n_lab + n_pool)
    M0 = alpha * np.eye(D) + sum((info(V) for V in V_lab), np.zeros((D, D))) / (n_lab + n)
    c = n / (n_lab + n)

    def objective(batch):
        M = M0 + c * sum((info(V_pool[j]) for j in batch), np.zeros((D, D)))
        return np.trace(np.linalg.inv(M) @ F)

    n_forward = min(oversample * n, n_pool) if backward else n
    chosen = []
    for _ in range(n_forward):
        values = [np.inf if j in chosen else objective(chosen + [j]) for j in range(n_pool)]
        chosen.append(int(np.argmin(values)))
    while len(chosen) > n:
        values = [objective([j for j in chosen if j != r]) for r in chosen]
        order = np.argsort(chosen, kind="stable")
        best = min(order, key=lambda pos: values[pos])
        chosen.pop(best)
    return np.array(chosen), objective(chosen)


def bait_objective(V_lab, V_pool, batch, n, *, alpha=1.0, fisher="pool"):
    """``tr(M⁻¹F)`` of a given batch under the reference conventions."""
    n_lab, n_pool = len(V_lab), len(V_pool)
    D = V_pool[0].shape[0]
    if fisher == "identity":
        F = np.eye(D)
    else:
        F = sum(V @ V.T for V in list(V_lab) + list(V_pool)) / (n_lab + n_pool)
    M = alpha * np.eye(D) + sum((V @ V.T for V in V_lab), np.zeros((D, D))) / (n_lab + n)
    M = M + n / (n_lab + n) * sum((V_pool[j] @ V_pool[j].T for j in batch), np.zeros((D, D)))
    return np.trace(np.linalg.inv(M) @ F)


# =========================================================================================
# The siblings (BADGE, Coreset, uncertainty, greedy log-det): oracles from the definitions
# of design note section 4 and the paper's Algorithms 2 and 3.
# =========================================================================================


def badge_gradient(h, proba):
    """Explicit ``g = (e_ŷ − p) ⊗ h`` (length ``d·k``, parameter (i, a) at ``i·k + a``)."""
    a = -np.asarray(proba, dtype=float)
    a[int(np.argmax(proba))] += 1.0
    return np.kron(h, a)


def gradient_factor(h, proba):
    """``D × 1`` factor of the hallucinated gradient in the head's parameter space.

    Softmax heads (k > 2 classes): ``g`` above. sklearn's binary logistic head has one
    weight vector, whose loss gradient for label ŷ is ``(p₁ − 1[ŷ = 1]) h``.
    """
    if len(proba) == 2:
        return ((float(np.argmax(proba) == 1) - proba[1]) * h)[:, None]
    return badge_gradient(h, proba)[:, None]


def kmeanspp_probabilities(G, centres):
    """Probability of each row of ``G`` being the next k-means++ centre after ``centres``."""
    d2 = np.array([min(np.sum((g - G[c]) ** 2) for c in centres) for g in G])
    d2[list(centres)] = 0.0
    return d2 / d2.sum()


def kcenter_reference(X_lab, X_pool, n, metric="euclidean"):
    """Greedy k-center by plain loops. Returns (indices, distance of each pick)."""
    def dist(x, c):
        if metric == "cosine":
            # 1 − cos(x, c), written as the chord between unit vectors, so that a
            # duplicate is at distance 0 exactly (1 − x·c/(|x||c|) rounds to ±1e-16)
            return np.sum((x / np.linalg.norm(x) - c / np.linalg.norm(c)) ** 2) / 2
        return np.sqrt(np.sum((x - c) ** 2))

    centres, chosen, distances = list(X_lab), [], []
    for _ in range(n):
        best, best_dist = None, -np.inf
        for j, x in enumerate(X_pool):
            if j in chosen:
                continue
            nearest = min(dist(x, c) for c in centres)
            if nearest > best_dist:  # strict: ties keep the lowest index
                best, best_dist = j, nearest
        chosen.append(best)
        distances.append(best_dist)
        centres.append(X_pool[best])
    return np.array(chosen), np.array(distances)


def uncertainty_reference(P, n, method):
    """The ``n`` most uncertain rows of ``P``, ties to the lowest index. (indices, scores)."""
    def score(p):
        top = sorted(p, reverse=True)
        if method == "least_confident":
            return 1.0 - top[0]
        if method == "margin":
            return 1.0 - (top[0] - top[1])
        return -sum(q * np.log(q) for q in p if q > 0)

    scores = [score(p) for p in P]
    order = sorted(range(len(P)), key=lambda i: (-scores[i], i))[:n]
    return np.array(order), np.array([scores[i] for i in order])


def logdet_reference(V_lab, V_pool, n, *, alpha=1.0):
    """Forward greedy ``max log det M`` with BAIT's ``M₀`` and scaling, by brute force.

    Returns (indices, log det M with the batch added).
    """
    n_lab = len(V_lab)
    D = V_pool[0].shape[0]
    c = n / (n_lab + n)
    M = alpha * np.eye(D) + sum((V @ V.T for V in V_lab), np.zeros((D, D))) / (n_lab + n)
    chosen = []
    for _ in range(n):
        values = [-np.inf if j in chosen else np.linalg.slogdet(M + c * V @ V.T)[1]
                  for j, V in enumerate(V_pool)]
        best = int(np.argmax(values))
        chosen.append(best)
        M = M + c * V_pool[best] @ V_pool[best].T
    return np.array(chosen), np.linalg.slogdet(M)[1]


def logdet_objective(V_lab, V_pool, batch, n, *, alpha=1.0):
    """``log det M`` of a given batch under the same conventions."""
    n_lab = len(V_lab)
    D = V_pool[0].shape[0]
    M = alpha * np.eye(D) + sum((V @ V.T for V in V_lab), np.zeros((D, D))) / (n_lab + n)
    M = M + n / (n_lab + n) * sum((V_pool[j] @ V_pool[j].T for j in batch), np.zeros((D, D)))
    return np.linalg.slogdet(M)[1]
