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
