r"""ManPG's subproblem: the proximal step on the tangent space, by semismooth Newton.

Reference: S. Chen, S. Ma, A. M.-C. So, T. Zhang (2020), "Proximal gradient
method for nonsmooth optimization over the Stiefel manifold", SIAM J. Optim.
30(1), 210–239, §4.

At X ∈ St(n, r), with B = X − t∇f(X) and the threshold τ = tα, ManPG's step
V solves

.. math:: \min_{V \in T_X} \tfrac{1}{2t}\|V - (B - X)\|_F^2 + \tfrac{\tau}{t}\|X + V\|_1,
          \qquad T_X = \{V : V^\top X + X^\top V = 0\}.

With a symmetric multiplier Λ ∈ ℝ^{r×r} for the constraint, the
stationarity condition in Z = X + V, 0 ∈ (Z − B)/t + (τ/t)∂‖Z‖₁ − 2XΛ, reads

.. math:: X + V = Z(\Lambda) = \operatorname{prox}_{\tau\|\cdot\|_1}\big(B + 2tX\Lambda\big),

and Λ is the root of the r(r+1)/2 symmetric equations
E(Λ) = Z(Λ)ᵀX + XᵀZ(Λ) − 2I = 0 (that V is tangent). E is piecewise linear
(the prox of ℓ1 is soft-thresholding) and is the gradient of the convex dual
function φ(Λ) (:func:`_dual_objective`), so it is solved by a **semismooth
Newton** method: with the active set D = 1{|B + 2tXΛ| > τ}, a generalized
Jacobian is H ↦ 2t(W + Wᵀ), W_{:,j} = Xᵀ diag(D_{:,j}) X H_{:,j}; in the
coordinates of the upper triangle of Λ it is an r(r+1)/2 square matrix
(:func:`_newton_matrix`), regularized by a multiple of ‖E‖ and solved
directly. The Newton step is damped by a decrease test on ‖E‖², and where
‖E‖ is flat (a plateau of the soft-thresholding) by a sufficient decrease
of φ along the Newton direction. Both searches live on the multiplier Λ, a
Euclidean r(r+1)/2-vector, not on the manifold: they are root-finding
safeguards of the inner solver, not line searches of the optimization.

Cost: O(nr³) to form the Newton matrix, O(r⁶) to solve it (on the host: r
is small in sparse PCA).
"""

from __future__ import annotations

import functools

import numpy as np

from ..backend import asarray_like, eye_like, finfo_eps, get_namespace, to_float, to_numpy
from ..optim.step_size import backtrack, sufficient_decrease
from .problem import soft_threshold

__all__ = ["solve_tangent_prox"]


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
        # Damped Newton on the merit ψ = ‖E‖²: along the Newton direction ψ'(0) = −2ψ, and a
        # step is taken when ψ falls by 1e-3·s·ψ (c₁ = 5e-4), trying s = 1, ½, …, 2⁻¹⁰.
        last = []

        def merit(scale):
            point = xlam + scale * step_dir
            z_s, e_s, res_s = _residual(x, point, tau, ident)
            last[:] = [scale, (point, z_s, e_s, res_s)]
            return res_s ** 2, last[1]

        search = backtrack(merit, res ** 2, -2.0 * res ** 2, 1.0, eps, c1=5e-4,
                           contraction=0.5, max_trials=11)
        if search.status is None:
            s, (trial, z_new, e_new, res_new) = search.step, search.evaluation
        else:
            # ‖E‖ did not fall: a plateau, where the threshold zeroes whole parts of Z
            # and ‖E‖ is flat (with a large α, Λ must travel ~α/2 across it), or a kink
            # of the active set. The dual objective φ (convex, ∇φ = E) falls along the
            # regularized Newton direction (⟨E, d⟩ < 0): take the longest step (down to
            # the same 2⁻¹⁰) with sufficient decrease of φ, and on a plateau, where φ is
            # linear, double the step while φ still falls almost linearly (90 % of the
            # first-order decrease). Without either, the shortest ‖E‖ trial is taken.
            s, (trial, z_new, e_new, res_new) = last
            slope = float(np.sum(to_numpy(e) * d))
            phi = _dual_objective(z, b, xlam, lam, tau, t)

            def along(scale):
                """(φ, (point, Z, E, ‖E‖)) at Λ + scale·d."""
                point = xlam + scale * step_dir
                z_s, e_s, res_s = _residual(x, point, tau, ident)
                return (_dual_objective(z_s, b, point, lam + scale * d, tau, t),
                        (point, z_s, e_s, res_s))

            if slope < 0:
                dual = backtrack(along, phi, slope, 1.0, eps, c1=1e-4, contraction=0.5,
                                 max_trials=11, shortest_step=1e-3)
                if dual.status is None:
                    s, (trial, z_new, e_new, res_new) = dual.step, dual.evaluation
            if s == 1.0 and slope < 0:  # φ took the full step: perhaps a plateau
                scale = 2.0
                while scale < 2.0**40:
                    phi_s, state = along(scale)
                    if not sufficient_decrease(phi_s, phi, scale, slope, 0.9, eps):
                        break
                    s, (trial, z_new, e_new, res_new) = scale, state
                    scale *= 2
        lam = lam + s * d
        xlam, z, e, res = trial, z_new, e_new, res_new
    return z, lam, it, res
