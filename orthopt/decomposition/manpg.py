r"""ManPG: proximal gradient on the Stiefel manifold for sparse PCA.

Reference: S. Chen, S. Ma, A. M.-C. So, T. Zhang (2020), "Proximal gradient
method for nonsmooth optimization over the Stiefel manifold", SIAM J. Optim.
30(1), 210–239.

The iteration
-------------
For F(X) = f(X) + h(X) with f(X) = −tr(XᵀAX) (gradient ∇f = −2AX, Lipschitz
constant L = 2‖A‖₂) and h = α‖·‖₁, one ManPG step at X ∈ St(n, r) is

1. **Tangent proximal step.** Solve, over the tangent space
   T_X = {V : VᵀX + XᵀV = 0},

   .. math:: V = \arg\min_{V \in T_X} \langle \nabla f(X), V\rangle
             + \tfrac{1}{2t}\|V\|_F^2 + h(X + V),   \quad t = 1/L.

   With a symmetric multiplier Λ ∈ ℝ^{r×r} for the constraint, the
   stationarity condition reads 0 ∈ ∇f(X) − 2XΛ + V/t + ∂h(X+V), i.e.

   .. math:: X + V = Z(\Lambda) = \operatorname{prox}_{t h}\big(B + 2t X\Lambda\big),
             \qquad B = X - t\nabla f(X),

   and Λ is the root of the r(r+1)/2 symmetric equations
   E(Λ) = Z(Λ)ᵀX + XᵀZ(Λ) − 2I = 0 (that V is tangent). E is piecewise
   linear (prox of ℓ1 is soft-thresholding), so it is solved by a
   **semismooth Newton** method: with the active set D = 1{|B + 2tXΛ| > tα},
   a generalized Jacobian is H ↦ 2t(W + Wᵀ), W_{:,j} = Xᵀ diag(D_{:,j}) X H_{:,j};
   in the coordinates of the upper triangle of Λ it is an r(r+1)/2 square
   matrix, regularized by a multiple of ‖E‖ and solved directly, with a
   backtracking line search on ‖E‖. Λ is warm-started from the previous step,
   so a few Newton steps per iteration suffice.

2. **Armijo backtracking and polar retraction.** X⁺ = polar(X + βV) =
   (X + βV)(I + β²VᵀV)^{-1/2} with β = 1, ½, ¼, … until
   F(X⁺) ≤ F(X) − β‖V‖²/(2t).

3. **Stopping.** ‖V‖_F / t ≤ tol. V = 0 exactly when X is a stationary point
   of F on the manifold (0 ∈ grad f(X) + Proj_{T_X} ∂h(X)), and ‖V‖/t is the
   measure ManPG's analysis bounds: it reaches ε in O(ε⁻²) iterations.

Adjusted variance. With ``variance="adjusted"`` the smooth part is
f(X) = −av(X), the Zou–Hastie–Tibshirani adjusted variance (see
:mod:`orthopt.decomposition.problem`), with ∇f = −2AX·M, M = R^{-1}diag(R)²R^{-ᵀ}
(XᵀAX = RᵀR). Only B = X − t∇f changes: the subproblem, the retraction, the
Armijo test (on the new F) and the stationarity measure are the same. The
analysis of ManPG only needs ∇f Lipschitz on a neighbourhood of the
iterates, which holds while XᵀAX stays positive definite.

Cost per iteration: one product A·X per trial point, O(nr²) for the polar
retraction, O(nr³) to form the Newton matrices and O(r⁶) for the
r(r+1)/2 × r(r+1)/2 solve (done on the host: it is tiny for the r of sparse
PCA).
"""

from __future__ import annotations

import functools
import math
import time

import numpy as np

from ..backend import asarray_like, eye_like, finfo_eps, get_namespace, to_float, to_numpy
from ..linalg import polar
from .problem import (
    SparsePCAResult,
    as_operator,
    captured_variance,
    check_alpha,
    check_variance,
    initial_point,
    soft_threshold,
)

__all__ = ["manpg", "solve_tangent_prox"]


@functools.lru_cache(maxsize=64)
def _upper_indices(r):
    """Row and column indices of the upper triangle of an r × r matrix (cached)."""
    return np.triu_indices(r)


def _newton_matrix(m_blocks, t, r):
    """The generalized Jacobian of E(Λ) in upper-triangle coordinates.

    Parameters
    ----------
    m_blocks : numpy.ndarray, shape (r, r, r)
        m_blocks[j] = Xᵀ diag(D_{:,j}) X.
    t : float
    r : int

    Returns
    -------
    numpy.ndarray, shape (r(r+1)/2, r(r+1)/2)
        Column q holds the upper triangle of 2t(W + Wᵀ) for the symmetric
        basis matrix H_q = E_kl + E_lk (k < l) or E_kk, where
        W_{:,j} = m_blocks[j] H_{:,j}.

    Notes
    -----
    For H = E_kl + E_lk, W_aj = M_l[a, k] δ_jl + M_k[a, l] δ_jk; both terms
    coincide when k = l, hence the halving of the diagonal columns.
    """
    idx = np.arange(r)
    w = np.zeros((r, r, r, r))  # w[a, j, k, l]
    w[:, idx, :, idx] = m_blocks  # M_l[a, k] δ_jl
    w[:, idx, idx, :] += np.transpose(m_blocks, (1, 0, 2))  # M_k[a, l] δ_jk
    w[:, :, idx, idx] *= 0.5
    sym = (2.0 * t) * (w + np.transpose(w, (1, 0, 2, 3)))
    iu = _upper_indices(r)
    return sym[iu[0], iu[1]][:, iu[0], iu[1]]


def _residual(x, xlam, tau, ident):
    """Z = prox(xlam) and E = ZᵀX + XᵀZ − 2I (symmetrized), ‖E‖_F."""
    xp = get_namespace(x)
    z = soft_threshold(xlam, tau)
    zx = z.T @ x
    e = zx + zx.T - 2 * ident
    return z, e, to_float(xp.linalg.matrix_norm(e))


def _dual_objective(z, b, xlam, lam, tau, t):
    """φ(Λ) = −min_Z L(Z, Λ), the convex dual of the subproblem (∇φ = E).

    L(Z, Λ) = ‖Z − B‖²/(2t) + Σ τ_ij |Z_ij| / t − ⟨Λ, ZᵀX + XᵀZ − 2I⟩, minimized by
    Z = prox_τ(B + 2tXΛ); ``xlam`` is B + 2tXΛ, so ⟨XΛ, Z⟩ = ⟨xlam − B, Z⟩/(2t).
    """
    xp = get_namespace(z)
    value = (xp.sum((z - b) ** 2) + 2 * xp.sum(tau * xp.abs(z))
             - 2 * xp.sum((xlam - b) * z)) / (2 * t)
    return -(to_float(value) + 2 * float(np.trace(lam)))


def solve_tangent_prox(x, b, t, tau, lam0=None, tol=None, max_iter=100):
    r"""Solve ManPG's subproblem by semismooth Newton on the multiplier Λ.

    Finds symmetric Λ with E(Λ) = Z(Λ)ᵀX + XᵀZ(Λ) − 2I = 0, where
    Z(Λ) = prox_{τ‖·‖₁}(B + 2tXΛ). Then V = Z − X solves

    .. math:: \min_{V:\ V^\top X + X^\top V = 0}
              \tfrac{1}{2t}\|V - (B - X)\|_F^2 + \tfrac{\tau}{t}\|X + V\|_1 .

    Parameters
    ----------
    x : array, shape (n, r)
        Current point, orthonormal columns.
    b : array, shape (n, r)
        B = X − t∇f(X).
    t : float
        Proximal step size.
    tau : float or array (n, r)
        Threshold t·α (entrywise t·α·W for a weighted penalty).
    lam0 : numpy.ndarray, shape (r, r), optional
        Warm start for Λ (host array).
    tol : float, optional
        Stop when ‖E(Λ)‖_F ≤ tol (default 50·eps).
    max_iter : int
        Newton iterations at most.

    Returns
    -------
    z : array, shape (n, r)
        X + V.
    lam : numpy.ndarray, shape (r, r)
    iterations : int
    residual : float
        ‖E(Λ)‖_F at return.
    """
    xp = get_namespace(x, b)
    n, r = x.shape
    eps = finfo_eps(xp, x.dtype)
    if tol is None:
        tol = 50 * eps
    ident = eye_like(x, r)
    lam = np.zeros((r, r)) if lam0 is None else np.array(lam0, dtype=float)
    xlam = b + (2 * t) * (x @ asarray_like(lam, like=x))
    z, e, res = _residual(x, xlam, tau, ident)
    # A column of Z that the threshold zeroes entirely sits on a plateau of ‖E‖ (no
    # entry active, a zero Jacobian block), where Newton steps cannot see progress;
    # with a large α that is every column at Λ = 0 (100 iterations without
    # convergence were seen at α = 300). Raising Λ_jj until the largest |x_ij|
    # passes the threshold puts the column on the active side.
    empty = to_numpy(xp.all(z == 0, axis=0))
    if np.any(empty):
        x_host, b_host = to_numpy(x), to_numpy(b)
        tau_col = np.max(np.broadcast_to(to_numpy(tau), (n, r)), axis=0)
        reach = ((tau_col + np.max(np.abs(b_host), axis=0))
                 / (2 * t * np.max(np.abs(x_host), axis=0)))
        for j in np.flatnonzero(empty):
            lam[j, j] = max(lam[j, j], 1.01 * reach[j])
        xlam = b + (2 * t) * (x @ asarray_like(lam, like=x))
        z, e, res = _residual(x, xlam, tau, ident)
    iu = _upper_indices(r)
    it = 0
    while res > tol and it < max_iter:
        it += 1
        active = xp.astype(xp.abs(xlam) > tau, x.dtype)  # D: where prox is the identity
        # m_blocks[j] = Xᵀ diag(D_{:,j}) X, all j at once: (r, r, n) @ (n, r)
        weighted = xp.permute_dims(active, (1, 0))[:, :, None] * x[None, :, :]
        m_blocks = to_numpy(xp.matmul(xp.permute_dims(weighted, (0, 2, 1)), x))
        jac = _newton_matrix(m_blocks, t, r)
        # The generalized Jacobian is only positive semidefinite (singular when
        # few entries are active); a regularization proportional to ‖E‖ keeps
        # the step well defined and preserves local superlinear convergence.
        reg = 0.2 * max(min(res, 0.1), 1e-11)
        rhs = -to_numpy(e)[iu]
        d_upper = np.linalg.solve(jac + reg * np.eye(jac.shape[0]), rhs)
        d = np.zeros((r, r))
        d[iu] = d_upper
        d = d + np.triu(d, 1).T
        step_dir = (2 * t) * (x @ asarray_like(d, like=x))
        s = 1.0
        while True:
            trial = xlam + s * step_dir
            z_new, e_new, res_new = _residual(x, trial, tau, ident)
            if res_new**2 < res**2 * (1 - 1e-3 * s) or s <= 1e-3:
                break
            s /= 2
        if res_new**2 >= res**2 * (1 - 1e-3 * s):
            # ‖E‖ did not fall: a plateau, where the threshold zeroes whole parts of Z
            # and ‖E‖ is flat (with a large α, Λ must travel ~α/2 across it), or a kink
            # of the active set. The dual objective φ (convex, ∇φ = E) falls along the
            # regularized Newton direction (⟨E, d⟩ < 0): take the longest step (down to
            # the same 1e-3) with sufficient decrease of φ, and on a plateau, where φ is
            # linear, double the step while φ still falls almost linearly (90 % of the
            # first-order decrease).
            slope = float(np.sum(to_numpy(e) * d))
            phi = _dual_objective(z, b, xlam, lam, tau, t)

            def along(scale):
                """(φ, point, Z, E, ‖E‖) at Λ + scale·d."""
                point = xlam + scale * step_dir
                z_s, e_s, res_s = _residual(x, point, tau, ident)
                phi_s = _dual_objective(z_s, b, point, lam + scale * d, tau, t)
                return phi_s, point, z_s, e_s, res_s

            scale = 1.0
            while slope < 0 and scale >= 1e-3:  # no shorter than the ‖E‖ search
                phi_s, *state = along(scale)
                if phi_s <= phi + 1e-4 * scale * slope:
                    s, (trial, z_new, e_new, res_new) = scale, state
                    break
                scale /= 2
            if s == 1.0 and slope < 0:  # φ took the full step: perhaps a plateau
                scale = 2.0
                while scale < 2.0**40:
                    phi_s, *state = along(scale)
                    if phi_s > phi + 0.9 * scale * slope:
                        break
                    s, (trial, z_new, e_new, res_new) = scale, state
                    scale *= 2
        lam = lam + s * d
        xlam, z, e, res = trial, z_new, e_new, res_new
    return z, lam, it, res


def manpg(
    a,
    n_components,
    alpha,
    *,
    init="pca",
    tol=1e-8,
    max_iter=10000,
    step_size=None,
    adaptive=False,
    weights=None,
    variance="total",
    ssn_max_iter=100,
    min_step=1e-10,
    random_state=None,
    callback=None,
    verbose=False,
):
    r"""Sparse PCA by ManPG: min −v(X) + α‖X‖₁ over St(n, r), v(X) = tr(XᵀAX) by default.

    Parameters
    ----------
    a : array (n, n), LinearOperator, CovarianceOperator or callable
        Symmetric PSD matrix A, or the map X ↦ A X (see
        :func:`orthopt.decomposition.problem.as_operator`).
    n_components : int
        r, the number of loading vectors.
    alpha : float
        ℓ1 weight α ≥ 0.
    init : {"pca", "random"} or array (n, r)
        Starting point (default: the r leading eigenvectors of A).
    tol : float
        Stop when the stationarity measure ‖V‖_F/t ≤ tol.
    max_iter : int
        Maximum number of ManPG iterations.
    step_size : float, optional
        Proximal step t₀; default 1/L with L = 2‖A‖₂ (the Lipschitz constant of ∇f).
    adaptive : bool, default False
        ManPG-Ada (Chen et al. 2020, §5): after a step accepted without
        backtracking t ← 1.01·t, after a backtracked one t ← max(t₀, t/1.01).
        The stopping test is always confirmed with t₀ (‖V_t‖/t decreases as
        t grows, so a measure taken with a larger t would be a weaker test).
        Measured: 2.5–4× fewer iterations on ManPG's random demo problems
        (n = 100…1000, r = 5, α = 0.8), but on pitprops with small α
        (0.05, 0.1) it backtracks every other step once t has grown and does
        not reach tol = 1e-8 in 10⁴ iterations, hence off by default.
    weights : array, shape (n, r), optional
        Entrywise weights W ≥ 0 of a weighted penalty α Σ W_ij |X_ij| (the
        proximal map soft-thresholds entry (i, j) at tαW_ij), e.g. W = 0 on
        entries that should not be penalized (adaptive / relaxed lasso).
    variance : {"total", "adjusted"}, default "total"
        The smooth part f = −v: v(X) = tr(XᵀAX) (ManPG's problem, ∇f = −2AX)
        or the adjusted variance of Zou, Hastie & Tibshirani,
        ∇f = −2AX·R^{-1}diag(R)²R^{-ᵀ} with XᵀAX = RᵀR (see
        :mod:`orthopt.decomposition.problem`). Only the gradient changes in
        the iteration; t = 1/(2‖A‖₂) is kept (M = I at PCA, and the Armijo
        backtracking guarantees descent for any t).
    ssn_max_iter : int
        Newton iterations per subproblem at most.
    min_step : float
        Smallest Armijo factor β tried before giving up on a step.
    random_state : None, int or numpy.random.Generator
        Used by ``init="random"`` and the power method for ‖A‖₂.
    callback : callable, optional
        ``callback(k, x, fun, stationarity)``; return True to stop.
    verbose : bool
        Print one line every 100 iterations.

    Returns
    -------
    SparsePCAResult
        ``x`` (n, r) with orthonormal columns, ``fun`` = F(x),
        ``stationarity`` = ‖V‖/t at ``x``, ``nit``, ``history`` with per-iteration
        ``fun``, ``stationarity``, ``ssn_iterations``, ``step``; ``extra`` with
        ``step_size`` t, ``line_search_steps`` and ``ssn_iterations`` (total).
    """
    start = time.perf_counter()
    alpha = check_alpha(alpha)
    variance = check_variance(variance)
    op = as_operator(a)
    r = int(n_components)
    if not 1 <= r <= op.n:
        raise ValueError(f"n_components must be in [1, n_features={op.n}]; got {n_components}")
    x = initial_point(op, r, init=init, rng=random_state, like=op.dense)
    xp = get_namespace(x)
    eps = finfo_eps(xp, x.dtype)
    if step_size is not None:
        t0 = float(step_size)
    else:
        lipschitz = 2 * op.norm2(like=x, rng=random_state)
        t0 = 1.0 / lipschitz if lipschitz > 0 else 1.0
    t = t0
    if weights is not None:
        weights = asarray_like(to_numpy(weights), like=x)
        if tuple(weights.shape) != (op.n, r):
            raise ValueError(f"weights must have shape ({op.n}, {r}); got {tuple(weights.shape)}")
        tau_unit = alpha * weights  # threshold per unit of t
    else:
        tau_unit = alpha
    ax = op(x)
    value, grad = captured_variance(x, ax, variance)
    fun = -value + _penalty(x, alpha, weights)
    lam = np.zeros((r, r))
    history = {"fun": [fun], "stationarity": [], "ssn_iterations": [], "step": []}
    n_line_search = 0
    tau_max = float(np.max(np.abs(to_numpy(tau_unit)))) if weights is not None else float(alpha)
    n_ssn = 0
    success = False
    message = "maximum number of iterations reached"
    stationarity = math.inf
    k = 0
    for k in range(max_iter + 1):
        b = x + t * grad  # X − t∇f(X), ∇f = −∇v (= −2AX for the total variance)
        # Z = B + 2tXΛ − τ·sign cancels terms of size τ, so E carries a rounding error
        # of about eps·τ: a floor below that (large α) is unreachable
        ssn_tol = max(50 * eps * r * max(1.0, t * tau_max), min(1e-6, 1e-3 * tol * t))
        z, lam, ssn_it, _ = solve_tangent_prox(
            x, b, t, t * tau_unit, lam0=lam, tol=ssn_tol, max_iter=ssn_max_iter
        )
        n_ssn += ssn_it
        v = z - x
        norm_v2 = to_float(xp.sum(v * v))
        stationarity = math.sqrt(norm_v2) / t
        history["stationarity"].append(stationarity)
        history["ssn_iterations"].append(ssn_it)
        if stationarity <= tol and t != t0:
            # confirm with the base step (see ``adaptive``)
            t = t0
            b = x + t * grad
            z, lam, ssn_it, _ = solve_tangent_prox(
                x, b, t, t * tau_unit, lam0=lam, tol=ssn_tol, max_iter=ssn_max_iter
            )
            n_ssn += ssn_it
            v = z - x
            norm_v2 = to_float(xp.sum(v * v))
            stationarity = math.sqrt(norm_v2) / t
            history["stationarity"][-1] = stationarity
        if stationarity <= tol:
            success = True
            message = f"stationarity measure ||V||/t = {stationarity:.2e} <= tol = {tol:.1e}"
            break
        if k == max_iter:
            break
        if callback is not None and callback(k, x, fun, stationarity):
            message = "stopped by callback"
            break
        # Armijo backtracking along the polar retraction. The slack of a few
        # ulps of |F| lets the test pass when the decrease is below rounding.
        slack = 10 * eps * max(1.0, abs(fun))
        beta = 1.0
        while True:
            y = _polar_or_none(x + beta * v, eps)
            if y is None:
                # x + βv numerically rank-deficient (a huge step when α is huge):
                # no polar factor to take, so shorten the step like a failed trial
                beta /= 2
                n_line_search += 1
                if beta < min_step:
                    fy = math.inf
                    break
                continue
            ay = op(y)
            value_y, grad_y = captured_variance(y, ay, variance)
            fy = -value_y + _penalty(y, alpha, weights)
            if fy <= fun - beta * norm_v2 / (2 * t) + slack:
                break
            beta /= 2
            n_line_search += 1
            if beta < min_step:
                break
        if beta < min_step:
            if fy < fun:
                x, ax, fun, grad = y, ay, fy, grad_y
            message = (
                f"line search failed at stationarity {stationarity:.2e}: the subproblem "
                "solution is not a descent direction to working precision"
            )
            break
        x, ax, fun, grad = y, ay, fy, grad_y
        if adaptive:
            t = t * 1.01 if beta == 1.0 else max(t0, t / 1.01)
        history["fun"].append(fun)
        history["step"].append(beta)
        if verbose and k % 100 == 0:
            print(f"manpg {k:6d}  F = {fun:.10e}  ||V||/t = {stationarity:.3e}  ssn {ssn_it}")
    return SparsePCAResult(
        x=x,
        fun=fun,
        nit=k,
        stationarity=stationarity,
        success=success,
        message=message,
        time=time.perf_counter() - start,
        history=history,
        extra={
            "step_size": t0,
            "final_step_size": t,
            "line_search_steps": n_line_search,
            "ssn_iterations": n_ssn,
            "variance": variance,
        },
    )


def _penalty(x, alpha, weights):
    """α‖X‖₁, or α Σ W_ij |X_ij| with weights."""
    xp = get_namespace(x)
    absx = xp.abs(x) if weights is None else weights * xp.abs(x)
    return alpha * to_float(xp.sum(absx))


def _polar_or_none(a, eps):
    """The polar factor of a (n×p), or None when a is numerically rank-deficient.

    Rank-deficient means the smallest eigenvalue of aᵀa is below p·eps times its
    largest (or any is not finite): its inverse square root would be inf or NaN.
    """
    xp = get_namespace(a)
    gram = a.T @ a
    w = xp.linalg.eigvalsh(gram)
    smallest, largest = to_float(w[0]), to_float(w[-1])
    if not (math.isfinite(smallest) and math.isfinite(largest)) or (
            smallest <= a.shape[-1] * eps * largest):
        return None
    return polar(a, gram=gram)
