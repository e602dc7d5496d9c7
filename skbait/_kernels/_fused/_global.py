"""The greedy step's global part in compiled code, for small ``k``: its narrow
``D × D × k`` products and the members' update.

For small ``k`` BLAS spends more time copying the ``D × D`` matrix into its packed layout
than multiplying, since the pass has just pushed that matrix out of the caches, and
batched torch operations on the members' ``k × k`` matrices cost more in their own
overhead than in arithmetic (:data:`~skbait._kernels._constants.NARROW_MAX_K`).
"""

import numpy as np

from ._jit import jit


@jit
def _narrow_kernel(x, a, out):  # pragma: no cover - jitted
    """``out ← xᵀ a`` (``x``: D × k, ``a``: D × W, ``out``: k × W), ``a`` read once, four
    rows at a time: each output row gains ``x[j, c] · a[j]`` over those rows while they
    are in L1, two output rows per sweep over them (the loads of ``a`` shared: 0.33
    against 0.42 ms at D = 640, k = 10, hot). A fixed order of operations for every
    output entry, whatever the vector width: the same bits on every x86 machine."""
    n_rows, k = x.shape
    width = a.shape[1]
    for c in range(k):
        oc = out[c]
        for m in range(width):
            oc[m] = 0.0
    j = 0
    while j + 3 < n_rows:
        a0 = a[j]
        a1 = a[j + 1]
        a2 = a[j + 2]
        a3 = a[j + 3]
        c = 0
        while c + 1 < k:
            x0, y0 = x[j, c], x[j, c + 1]
            x1, y1 = x[j + 1, c], x[j + 1, c + 1]
            x2, y2 = x[j + 2, c], x[j + 2, c + 1]
            x3, y3 = x[j + 3, c], x[j + 3, c + 1]
            oc = out[c]
            od = out[c + 1]
            for m in range(width):
                b0, b1, b2, b3 = a0[m], a1[m], a2[m], a3[m]
                oc[m] += (x0 * b0 + x1 * b1) + (x2 * b2 + x3 * b3)
                od[m] += (y0 * b0 + y1 * b1) + (y2 * b2 + y3 * b3)
            c += 2
        if c < k:
            x0, x1, x2, x3 = x[j, c], x[j + 1, c], x[j + 2, c], x[j + 3, c]
            oc = out[c]
            for m in range(width):
                oc[m] += (x0 * a0[m] + x1 * a1[m]) + (x2 * a2[m] + x3 * a3[m])
        j += 4
    while j < n_rows:
        a0 = a[j]
        for c in range(k):
            x0 = x[j, c]
            oc = out[c]
            for m in range(width):
                oc[m] += x0 * a0[m]
        j += 1


@jit
def _lanes_product(a, b, out, ta, tb):  # pragma: no cover - jitted
    """``out ← op(a) op(b)`` on batches of ``k × k`` matrices laid out ``(k, k, m)``, the
    batch innermost (``op`` the transpose where ``ta``, ``tb``): every operation is a
    vector over the batch. Each entry gets its terms four at a time, in the order of the
    inner index."""
    k = out.shape[0]
    lanes = out.shape[2]
    for i in range(k):
        for j in range(k):
            oij = out[i, j]
            for v in range(lanes):
                oij[v] = 0.0
            m = 0
            while m + 3 < k:
                a0 = a[m, i] if ta else a[i, m]
                a1 = a[m + 1, i] if ta else a[i, m + 1]
                a2 = a[m + 2, i] if ta else a[i, m + 2]
                a3 = a[m + 3, i] if ta else a[i, m + 3]
                b0 = b[j, m] if tb else b[m, j]
                b1 = b[j, m + 1] if tb else b[m + 1, j]
                b2 = b[j, m + 2] if tb else b[m + 2, j]
                b3 = b[j, m + 3] if tb else b[m + 3, j]
                for v in range(lanes):
                    oij[v] += (a0[v] * b0[v] + a1[v] * b1[v]) + (a2[v] * b2[v] + a3[v] * b3[v])
                m += 4
            while m < k:
                a0 = a[m, i] if ta else a[i, m]
                b0 = b[j, m] if tb else b[m, j]
                for v in range(lanes):
                    oij[v] += a0[v] * b0[v]
                m += 1


@jit
def _lanes_solve(a, x):  # pragma: no cover - jitted
    """``x ← a⁻¹ x`` for each lane of ``(k, k, m)`` batches, by Gaussian elimination with
    partial pivoting (a removal's ``Â`` can be indefinite), overwriting ``a``. The pivots
    are chosen lane by lane, as LAPACK's ``getrf`` does for each matrix."""
    k = a.shape[0]
    lanes = a.shape[2]
    factor = np.empty(lanes)
    for j in range(k):
        for v in range(lanes):
            p = j
            best = abs(a[j, j, v])
            for i in range(j + 1, k):
                if abs(a[i, j, v]) > best:
                    best = abs(a[i, j, v])
                    p = i
            if p != j:
                for m in range(k):
                    t = a[j, m, v]
                    a[j, m, v] = a[p, m, v]
                    a[p, m, v] = t
                    t = x[j, m, v]
                    x[j, m, v] = x[p, m, v]
                    x[p, m, v] = t
        pivot = a[j, j]
        for i in range(j + 1, k):
            aij = a[i, j]
            for v in range(lanes):
                factor[v] = aij[v] / pivot[v]
            for m in range(j + 1, k):
                aim = a[i, m]
                ajm = a[j, m]
                for v in range(lanes):
                    aim[v] -= factor[v] * ajm[v]
            for m in range(k):
                xim = x[i, m]
                xjm = x[j, m]
                for v in range(lanes):
                    xim[v] -= factor[v] * xjm[v]
    for j in range(k - 1, -1, -1):
        for i in range(j + 1, k):
            aji = a[j, i]
            for m in range(k):
                xjm = x[j, m]
                xim = x[i, m]
                for v in range(lanes):
                    xjm[v] -= aji[v] * xim[v]
        pivot = a[j, j]
        for m in range(k):
            xjm = x[j, m]
            for v in range(lanes):
                xjm[v] /= pivot[v]


@jit
def _members_kernel(g, s, u, p_hat, q_hat, w_mat, sign):  # pragma: no cover - jitted
    """Every member's ``P̂_x`` (and ``Q̂_x`` when ``q_hat`` has rows) after one rank-``k``
    update, in place: the operations of ``DesignState._update_members`` and
    ``TraceState._update_members`` (see them for the algebra).

    ``g``: (m, k, hk), ``h_x @ both`` before its ``C``-transform (read only); ``s, u``:
    (m, k); ``p_hat``, ``q_hat``: (m, k, k), or ``q_hat`` (0, k, k) for log-det;
    ``w_mat``: (k, k), ``W = R'ᵀFR'`` (read only with ``q_hat``); ``sign``: ±1. The
    members are the innermost axis of every work array, ``(k, k, m)``: a loop over
    ``k`` entries per operation would cost more in its start than in its arithmetic.
    """
    m, k, hk = g.shape
    trace = q_hat.shape[0] > 0
    # Cᵀ Y = diag(s) (Y − 1 (uᵀY)), as apply_ct_, into a = [Ṽᵀ R'] and y_e = [Ṽᵀ E]
    a = np.empty((k, k, m))
    y_e = np.empty((k, k, m))
    for r in range(m):
        for j in range(hk):
            t = 0.0
            for b in range(k):
                t += u[r, b] * g[r, b, j]
            for b in range(k):
                value = (g[r, b, j] - t) * s[r, b]
                if j < k:
                    a[b, j, r] = value
                else:
                    y_e[b, j - k, r] = value
    gamma = np.empty((k, k, m))
    for i in range(k):
        for j in range(k):
            for r in range(m):
                gamma[i, j, r] = p_hat[r, i, j]
        for r in range(m):
            gamma[i, i, r] += 1.0
    a_hat = np.empty((k, k, m))
    _lanes_product(gamma, a, a_hat, False, False)
    big = np.empty((k, k, m))
    _lanes_product(a, a_hat, big, True, False)
    for i in range(k):  # Â = sign·I + aᵀâ, symmetrised as symmetric() does
        for j in range(i):
            bij = big[i, j]
            bji = big[j, i]
            for r in range(m):
                value = (bij[r] + bji[r]) / 2
                bij[r] = value
                bji[r] = value
        bii = big[i, i]
        for r in range(m):
            bii[r] += sign
    x = np.empty((k, k, m))  # Â⁻¹ âᵀ = b̂ᵀ
    for i in range(k):
        for j in range(k):
            x[i, j] = a_hat[j, i]
    _lanes_solve(big, x)
    product = np.empty((k, k, m))
    _lanes_product(x, a_hat, product, True, True)  # b̂ âᵀ
    for i in range(k):
        for j in range(k):
            for r in range(m):
                big[i, j, r] = p_hat[r, i, j] - product[i, j, r]
    for i in range(k):
        for j in range(k):
            for r in range(m):
                p_hat[r, i, j] = (big[i, j, r] + big[j, i, r]) / 2
    if not trace:
        return
    q = np.empty((k, k, m))
    for i in range(k):
        for j in range(k):
            for r in range(m):
                q[i, j, r] = q_hat[r, i, j]
    z = np.empty((k, k, m))  # Ṽᵀ(M⁻¹FR') from E = M⁻¹FR' − ½ sign R'W
    for i in range(k):
        for j in range(k):
            zij = z[i, j]
            yij = y_e[i, j]
            for r in range(m):
                zij[r] = 0.0
            for c in range(k):
                aic = a[i, c]
                w = w_mat[c, j]
                for r in range(m):
                    zij[r] += aic[r] * w
            for r in range(m):
                zij[r] = yij[r] + (0.5 * sign) * zij[r]
    qa = np.empty((k, k, m))
    _lanes_product(q, a, qa, False, False)
    z_hat = np.empty((k, k, m))
    _lanes_product(gamma, z, z_hat, False, False)
    za = np.empty((k, k, m))
    _lanes_product(z, a_hat, za, True, False)
    w_hat = np.empty((k, k, m))
    _lanes_product(a, qa, w_hat, True, False)
    for i in range(k):
        for j in range(k):
            wij = w_hat[i, j]
            zaij = za[i, j]
            zaji = za[j, i]
            w = w_mat[i, j]
            zhij = z_hat[i, j]
            qaij = qa[i, j]
            for r in range(m):
                wij[r] = ((w + zaij[r]) + zaji[r]) + wij[r]
                zhij[r] += qaij[r]  # ẑ = Γz + Q̂a
    e_hat = np.empty((k, k, m))
    _lanes_product(x, w_hat, e_hat, True, False)  # b̂Ŵ
    for i in range(k):
        for j in range(k):
            eij = e_hat[i, j]
            zhij = z_hat[i, j]
            for r in range(m):
                eij[r] = zhij[r] - 0.5 * eij[r]
    _lanes_product(x, e_hat, product, True, True)  # b̂ êᵀ
    for i in range(k):
        for j in range(k):
            for r in range(m):
                q_hat[r, i, j] = (q[i, j, r] - product[i, j, r]) - product[j, i, r]
