r"""Givens coordinate descent for sparse PCA on the nonsmooth objective.

In the style of Shalit & Chechik (2014), "Coordinate-descent for learning
orthogonal matrices through Givens rotations" (ICML), applied to

.. math:: F(X) = -\operatorname{tr}(X^\top A X) + \alpha \|X\|_1, \qquad X \in \mathrm{St}(n, r).

The coordinates
---------------
SO(n) acts on St(n, r) from the left, and the Givens rotations
G_ij(θ) = exp(θ(e_i e_jᵀ − e_j e_iᵀ)) generate SO(n). Multiplying by G_ij(θ)
touches only rows i and j of X: with u = X_{i,:}, v = X_{j,:},

    u ← c u + s v,     v ← −s u + c v,     c = cos θ, s = sin θ.

Each step chooses a pair (i, j) and minimizes F along θ *exactly*. XᵀX = I is
kept by construction (no retraction is ever needed), and F never increases.

Exact minimization along one rotation
-------------------------------------
With Y = AX kept up to date, the smooth part restricted to the pair is a
trigonometric polynomial of degree 2 in θ (constant, cos θ, sin θ, cos 2θ,
sin 2θ; the coefficients are inner products of u, v, Y_i, Y_j and A_ii, A_jj,
A_ij). The ℓ1 part is α Σ_k |c u_k + s v_k| + |−s u_k + c v_k|: it has
kinks at the 4r angles where one of the two new entries vanishes — exactly
the angles that create zeros — and between kinks the signs are fixed, so it
only adds to the cos θ and sin θ coefficients. On each of the ≤ 4r arcs F is
then a degree-2 trigonometric polynomial whose stationary points are the
unit-modulus roots of a quartic in z = e^{iθ} (solved for all arcs at once as
eigenvalues of 4 × 4 companion matrices). The global minimum over θ is
among the kinks and those roots; F is evaluated at all of them (O(r²) work
per pair) and the best is taken. θ ranges over the whole circle [−π, π):
the period is 2π, not π, because rows i and j interact with the other rows
through A (the cos θ, sin θ terms), so θ = ±π/2 (a swap with a sign) and
θ = π (both rows negated) are genuinely different moves.

Choosing the pairs (Gauss–Southwell)
------------------------------------
For every pair the one-sided directional derivatives of F along ±θ at θ = 0
are computed at once with n × n products (O(n²r)):

    d⁺_ij = Ω_ij + α(SXᵀ − XSᵀ + N|X|ᵀ + |X|Nᵀ)_ij,
    d⁻_ij = −Ω_ij + α(−SXᵀ + XSᵀ + N|X|ᵀ + |X|Nᵀ)_ij,

with Ω = GXᵀ − XGᵀ (G = −2AX), S = sign(X) and N = 1{X = 0} (a zero entry
contributes |·| in both directions: that is the kink). A sweep processes,
best first, the pairs with min(d⁺, d⁻) < −tol — each with its own exact line
search on the up-to-date X, so the order only matters for speed. The run
stops when no pair has a descent rate below −tol.

Caveat (honest): coordinate descent on a nonsmooth function can stop at a
point where no *single* rotation decreases F although a combination of
rotations would (the kinks of ‖X‖₁ are not aligned with the Givens
directions). Such points are coordinate-wise stationary but may not be
stationary in ManPG's sense, so this solver can end at a slightly higher F
than ManPG from the same start.

The work is latency bound (O(r²) per rotation, many rotations), so it runs on
the host with NumPy whatever the input array library is; the result is moved
back to the input's namespace and device.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..backend import asarray_like, to_numpy
from ..optim.result import OptimizeResult
from .problem import as_operator, check_alpha, initial_point

__all__ = ["givens_spca", "rotation_line_search"]

_HALF_PI = math.pi / 2


def _wrap(theta):
    """Map angles to [−π, π)."""
    return np.mod(theta + math.pi, 2 * math.pi) - math.pi


def _pair_cost_change(theta, u, v, p1, p2, a2, b2, alpha):
    """F(θ) − F(0) along the rotation of rows (u, v), for a vector of angles."""
    c = np.cos(theta)[:, None]
    s = np.sin(theta)[:, None]
    # cos θ − 1 = −2 sin²(θ/2) and cos 2θ − 1 = −2 sin²θ: no cancellation near 0
    cm1 = -2.0 * np.sin(theta / 2) ** 2
    c2m1 = -2.0 * np.sin(theta) ** 2
    smooth = -2.0 * (cm1 * p1 + np.sin(theta) * p2) - (c2m1 * a2 + np.sin(2 * theta) * b2)
    new_u = c * u + s * v
    new_v = -s * u + c * v
    l1 = np.sum(np.abs(new_u) + np.abs(new_v), axis=1) - (np.sum(np.abs(u)) + np.sum(np.abs(v)))
    return smooth + alpha * l1


def rotation_line_search(u, v, y_i, y_j, a_ii, a_jj, a_ij, alpha):
    """Exact minimizer over θ of F along the Givens rotation of rows i, j.

    Parameters
    ----------
    u, v : numpy.ndarray, shape (r,)
        Rows i and j of X.
    y_i, y_j : numpy.ndarray, shape (r,)
        Rows i and j of Y = A X.
    a_ii, a_jj, a_ij : float
        Entries of A.
    alpha : float

    Returns
    -------
    theta : float
        The best angle in [−π, π) (0 when no angle decreases F).
    delta : float
        F(θ) − F(0) ≤ 0.
    """
    # Contributions of the other rows k ∉ {i, j} to the pair's smooth terms.
    w_i = y_i - a_ii * u - a_ij * v
    w_j = y_j - a_ij * u - a_jj * v
    p1 = w_i @ u + w_j @ v
    p2 = w_i @ v - w_j @ u
    uu, vv, uv = u @ u, v @ v, u @ v
    a2 = 0.5 * (a_ii - a_jj) * (uu - vv) + 2.0 * a_ij * uv
    b2 = (a_ii - a_jj) * uv + a_ij * (vv - uu)

    nonzero = (u != 0) | (v != 0)
    phi = np.arctan2(v[nonzero], u[nonzero])
    # kinks: c u_k + s v_k = 0 at θ = φ_k ± π/2, −s u_k + c v_k = 0 at θ = φ_k, φ_k + π
    kinks = np.sort(_wrap(np.concatenate([phi, phi + _HALF_PI, phi + math.pi, phi - _HALF_PI])))
    candidates = [np.zeros(1), kinks]
    if kinks.size:
        mids = np.empty(kinks.size)
        mids[:-1] = 0.5 * (kinks[:-1] + kinks[1:])
        mids[-1] = 0.5 * (kinks[-1] + kinks[0] + 2 * math.pi)
    else:
        mids = np.zeros(1)
    c = np.cos(mids)[:, None]
    s = np.sin(mids)[:, None]
    sigma = np.sign(c * u + s * v)  # signs of the new entries on each arc
    tau = np.sign(-s * u + c * v)
    g1 = np.sum(sigma * u + tau * v, axis=1)
    g2 = np.sum(sigma * v - tau * u, axis=1)
    big_p = -2.0 * p1 + alpha * g1
    big_q = -2.0 * p2 + alpha * g2
    # F' on an arc, times 2i z², is the quartic
    # (2a2 − 2i b2) z⁴ + (−P + iQ) z³ + (P + iQ) z − 2a2 − 2i b2.
    c4 = np.full(mids.size, 2.0 * a2 - 2.0j * b2)
    c3 = -big_p + 1j * big_q
    c1 = big_p + 1j * big_q
    c0 = np.full(mids.size, -2.0 * a2 - 2.0j * b2)
    scale = np.abs(c3) + np.abs(c1) + np.abs(c4) + 1e-300
    # a vanishing leading coefficient (a2 = b2 = 0) would leave a quadratic;
    # a tiny perturbation keeps the companion form and only adds roots far
    # from the unit circle, whose angles are harmless extra candidates.
    keep = scale > 1e-250  # an arc where F is constant needs no stationary point
    small = np.abs(c4) < 1e-13 * scale
    c4 = np.where(small, 1e-13 * scale, c4)[keep]
    companion = np.zeros((int(np.sum(keep)), 4, 4), dtype=complex)
    companion[:, 0, 0] = -c3[keep] / c4
    companion[:, 0, 2] = -c1[keep] / c4
    companion[:, 0, 3] = -c0[keep] / c4
    companion[:, 1, 0] = companion[:, 2, 1] = companion[:, 3, 2] = 1.0
    if companion.shape[0]:
        roots = np.linalg.eigvals(companion).ravel()
        candidates.append(_wrap(np.angle(roots)))
    theta = np.concatenate(candidates)
    delta = _pair_cost_change(theta, u, v, p1, p2, a2, b2, alpha)
    best = int(np.argmin(delta))
    if delta[best] >= 0.0:
        return 0.0, 0.0
    return float(theta[best]), float(delta[best])


def _descent_rates(x, y, alpha, zero_tol=0.0):
    """min(d⁺_ij, d⁻_ij) for all pairs i < j (see the module docstring), shape (n, n).

    Entries with |x| ≤ zero_tol count as zeros (sitting on a kink of ‖·‖₁).
    """
    g = -2.0 * y
    omega = g @ x.T - x @ g.T
    is_zero = np.abs(x) <= zero_tol
    sgn = np.where(is_zero, 0.0, np.sign(x))
    zero = is_zero.astype(x.dtype)
    absx = np.abs(x)
    odd = sgn @ x.T - x @ sgn.T
    even = zero @ absx.T + absx @ zero.T
    d_plus = omega + alpha * (odd + even)
    d_minus = -omega + alpha * (even - odd)
    return np.triu(np.minimum(d_plus, d_minus), 1)


def givens_spca(
    a,
    n_components,
    alpha,
    *,
    init="pca",
    tol=1e-8,
    max_iter=1000,
    pairs_per_sweep=None,
    random_state=None,
    callback=None,
    verbose=False,
):
    r"""Sparse PCA by exact Givens coordinate descent (left action of SO(n)).

    Parameters
    ----------
    a : array, shape (n, n)
        Symmetric PSD matrix A (dense: single entries are read).
    n_components : int
        r.
    alpha : float
        ℓ1 weight α ≥ 0.
    init : {"pca", "random"} or array (n, r)
        Starting point.
    tol : float
        Stop when no pair (i, j) has a one-sided directional derivative of F
        along ±θ below −tol.
    max_iter : int
        Maximum number of sweeps (a sweep = recompute the rates, then rotate
        the selected pairs one after the other).
    pairs_per_sweep : int, optional
        How many of the steepest pairs a sweep processes (default: n).
    random_state : None, int or numpy.random.Generator
        Used by ``init="random"``.
    callback : callable, optional
        ``callback(k, x, fun, stationarity)`` after each sweep; True stops.
    verbose : bool

    Returns
    -------
    OptimizeResult
        ``stationarity`` is the largest coordinate descent rate
        max(0, −min_ij min(d⁺_ij, d⁻_ij)); ``extra['rotations']`` counts the
        rotations applied.
    """
    start = time.perf_counter()
    alpha = check_alpha(alpha)
    op = as_operator(a)
    if op.dense is None:
        raise ValueError(
            "Givens coordinate descent reads single entries of A and needs it as a dense "
            "(n, n) array; use method='manpg' or 'smoothed' for an operator X -> A X"
        )
    r = int(n_components)
    if not 1 <= r <= op.n:
        raise ValueError(f"n_components must be in [1, n_features={op.n}]; got {n_components}")
    like = op.dense
    x0 = initial_point(op, r, init=init, rng=random_state, like=like)
    amat = np.asarray(to_numpy(op.dense), dtype=float)
    x = np.array(to_numpy(x0), dtype=float)
    n = op.n
    if pairs_per_sweep is None:
        pairs_per_sweep = max(n, 1)
    diag = np.diag(amat).copy()
    eps = np.finfo(float).eps
    # Rotating to a kink angle leaves rounding-level residues instead of exact
    # zeros; below this (relative) size an entry is treated as, and set to, 0.
    zero_tol = 1e-13
    y = amat @ x
    fun = float(-np.sum(x * y) + alpha * np.sum(np.abs(x)))
    history = {"fun": [fun], "stationarity": [], "rotations": []}
    rotations = 0
    success = False
    message = "maximum number of sweeps reached"
    stationarity = math.inf
    k = 0
    for k in range(max_iter + 1):
        y = amat @ x  # refresh: rank-2 updates accumulate rounding
        fun = float(-np.sum(x * y) + alpha * np.sum(np.abs(x)))
        rate = _descent_rates(x, y, alpha, zero_tol)
        stationarity = max(0.0, -float(rate.min())) if n > 1 else 0.0
        history["stationarity"].append(stationarity)
        if stationarity <= tol:
            success = True
            message = f"no Givens rotation descends faster than tol = {tol:.1e}"
            break
        if k == max_iter:
            break
        if callback is not None and callback(k, x, fun, stationarity):
            message = "stopped by callback"
            break
        flat = rate.ravel()
        count = min(pairs_per_sweep, int(np.sum(flat < -tol)))
        if count < flat.size:
            chosen = np.argpartition(flat, count - 1)[:count]
        else:
            chosen = np.arange(flat.size)
        chosen = chosen[np.argsort(flat[chosen])]
        applied = 0
        for idx in chosen:
            i, j = divmod(int(idx), n)
            u, v = x[i], x[j]
            theta, delta = rotation_line_search(
                u, v, y[i], y[j], diag[i], diag[j], amat[i, j], alpha
            )
            # accept any decrease above the rounding level of this pair's terms
            # (F itself is much larger: comparing with eps·|F| would stall at
            # descent rates ~ √eps)
            # (the smooth part of delta is evaluated in a form whose error is
            # proportional to |θ|; the ℓ1 part is a difference of sums)
            floor = 8 * eps * (
                alpha * (np.sum(np.abs(u)) + np.sum(np.abs(v)))
                + abs(theta) * (np.abs(y[i]) @ np.abs(u) + np.abs(y[j]) @ np.abs(v))
            )
            if delta >= -floor:
                continue
            c, s = math.cos(theta), math.sin(theta)
            new_u = c * u + s * v
            new_v = -s * u + c * v
            # a kink angle leaves ~1e-17 instead of an exact zero: snap it so
            # that the ℓ1 kink (and the sparsity) is seen exactly
            tiny = zero_tol * (np.max(np.abs(u)) + np.max(np.abs(v)))
            new_u[np.abs(new_u) <= tiny] = 0.0
            new_v[np.abs(new_v) <= tiny] = 0.0
            du, dv = new_u - u, new_v - v
            x[i], x[j] = new_u, new_v
            y += np.outer(amat[:, i], du) + np.outer(amat[:, j], dv)
            fun += delta
            applied += 1
        rotations += applied
        history["fun"].append(fun)
        history["rotations"].append(applied)
        if verbose and k % 10 == 0:
            print(f"givens {k:5d}  F = {fun:.10e}  rate = {stationarity:.3e}  rotations {applied}")
        if applied == 0:
            message = (
                "no selected rotation decreases F beyond rounding "
                f"(descent rate {stationarity:.1e})"
            )
            break
    y = amat @ x
    fun = float(-np.sum(x * y) + alpha * np.sum(np.abs(x)))
    return OptimizeResult(
        x=asarray_like(x, like=like),
        fun=fun,
        nit=k,
        stationarity=stationarity,
        success=success,
        message=message,
        time=time.perf_counter() - start,
        history=history,
        extra={"rotations": rotations},
    )
