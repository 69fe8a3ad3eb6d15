r"""Refit sparse loadings on their support: undo the ℓ1 shrinkage, keep the zeros.

Why
---
The ℓ1 penalty does two things at once: it zeroes loadings (the support) and
it shrinks the loadings it keeps towards zero (a bias that costs variance).
The standard remedy (relaxed lasso, Meinshausen 2007; the "debiasing" of
compressed sensing) separates the two: keep the support S that ℓ1 selected
and re-maximize the variance without the penalty,

.. math::

    \max_{X \in \mathcal{M}_S} v(X), \qquad
    \mathcal{M}_S = \{X \in \mathbb{R}^{n\times r} :\ X^\top X = I_r,\
                     X_{ij} = 0 \text{ for } (i, j) \notin S\},

with v(X) = tr(XᵀAX) or the adjusted variance av(X) (see
:mod:`orthopt.decomposition.problem`). Every zero stays exactly zero, so the
result is as sparse as the ℓ1 solution, and the variance does not decrease
(the iteration is monotone and starts at the ℓ1 solution).

The geometry of 𝓜_S
-------------------
Write P for the entrywise mask (P(Y)_ij = Y_ij on S, 0 elsewhere) and work
in the linear space ℝ^S = {Y : P(Y) = Y} with the Frobenius metric. The
constraint c(X) = XᵀX − I ∈ Sym(r) has derivative ξ ↦ 2 sym(Xᵀξ); the
gradient of ⟨Λ, c(X)⟩ restricted to ℝ^S is 2P(XΛ), so

* tangent space   T_X = {ξ ∈ ℝ^S : sym(Xᵀξ) = 0},
* normal space    N_X = {P(XΛ) : Λ ∈ Sym(r)},
* projection      Proj_X(D) = P(D) − P(XΛ) with Λ solving
  sym(Xᵀ P(XΛ)) = sym(Xᵀ P(D)),

a linear system in the r(r+1)/2 entries of Λ whose matrix has the entries
of Xᵀ diag(S_{:,j}) X (the same generalized Jacobian as ManPG's semismooth
Newton step with the support as active set). Unlike the Stiefel manifold,
𝓜_S can make some constraints vacuous: two columns with disjoint supports
are orthogonal whatever their values, and the corresponding row of the
system is zero. The system is therefore solved in the least-squares,
minimum-norm sense, which drops exactly those constraints.

Retraction. X + ξ keeps the zeros but leaves XᵀX = I at second order. It is
pulled back along the normal space by Newton's method on
c(Z + P(ZΛ)) = 0: Z ← Z + P(ZΛ) with sym(Zᵀ P(ZΛ)) = −(ZᵀZ − I)/2, which
converges quadratically to ‖ZᵀZ − I‖_F ~ 1e-16 in a few steps and never
touches an entry outside S. (A polar or QR factor would mix the columns and
fill the zeros in.)

Ascent. :class:`SupportStiefel` is 𝓜_S as an orthopt manifold (tangent
projection, Riemannian Hessian, the Newton retraction), so the refit is the
core's :class:`~orthopt.optim.RiemannianLBFGS` on min −v(X) (a strong-Wolfe
line search, c₂ = 0.9, up to 40 evaluations), stopped by ``GradientNorm(tol) | MaxIterations(max_iter)``.
Wolfe searches are monotone (their approximate-Wolfe branch accepts only
rounding-level rises of the cost, where the slope says it still falls), so
v does not decrease, and that branch lets them reach gradient norms far
below √eps, where the change of v is below its rounding. The alternatives
measured on pitprops (benchmarks/results/refit_solvers.txt): gradient
descent with monotone Armijo stops at the precision limit (its test reads
the cost alone, which no longer resolves the decrease); with Zhang–Hager's
nonmonotone rule single steps lower v; with strong Wolfe it takes several
times the iterations of L-BFGS.
A retraction that finds no point of 𝓜_S near X + ξ returns NaN, which the
search treats as a trial too long.

Pruning. :func:`prune_to_budget` builds on the refit to reach a prescribed
number of nonzeros: drop the smallest loading, refit, repeat (greedy
backward elimination). ℓ1 paths jump and pruning fills the counts in between.

When the support cannot be refitted (the Newton projection does not reach
‖ZᵀZ − I‖_F ≤ 1e-13, e.g. a support that forces a column to zero), the
starting loadings are returned unchanged with ``success=False``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..backend import asarray_like, eye_like, finfo_eps, get_namespace, to_float, to_numpy
from ..manifolds.base import Manifold
from ..optim.problem import Problem
from ..optim.lbfgs import RiemannianLBFGS
from ..optim.step_size import StrongWolfe
from ..optim.stopping import GradientNorm, MaxIterations
from .tangent_prox import _newton_matrix, _upper_indices
from .problem import SparsePCAResult, as_operator, captured_variance, check_variance

__all__ = ["SupportStiefel", "refit_on_support", "prune_to_budget", "project_to_support_manifold",
           "project_to_tangent", "FEASIBILITY_TOL"]

#: ‖XᵀX − I‖_F a refitted point must reach (the estimator promises 1e-10).
FEASIBILITY_TOL = 1e-13


def _normal_multiplier(x, mask, rhs):
    """Symmetric Λ with sym(Xᵀ P(XΛ)) = rhs, least squares / minimum norm.

    Parameters
    ----------
    x : array, shape (n, r)
    mask : array, shape (n, r)
        1.0 on the support S, 0.0 elsewhere (namespace of ``x``).
    rhs : numpy.ndarray, shape (r, r), symmetric

    Returns
    -------
    numpy.ndarray, shape (r, r), symmetric
    """
    xp = get_namespace(x)
    r = x.shape[1]
    # blocks[j] = Xᵀ diag(S_{:,j}) X, all j at once: (r, r, n) @ (n, r)
    weighted = xp.permute_dims(mask, (1, 0))[:, :, None] * x[None, :, :]
    blocks = to_numpy(xp.matmul(xp.permute_dims(weighted, (0, 2, 1)), x))
    # _newton_matrix gives 2t(W + Wᵀ) with W_{:,j} = blocks[j] Λ_{:,j}; t = 1/4
    # makes it (W + Wᵀ)/2 = sym(Xᵀ P(XΛ)) in upper-triangle coordinates.
    jac = _newton_matrix(blocks, 0.25, r)
    iu = _upper_indices(r)
    coords = np.linalg.lstsq(jac, rhs[iu], rcond=1e-10)[0]
    lam = np.zeros((r, r))
    lam[iu] = coords
    return lam + np.triu(lam, 1).T


def _sym(m):
    return (m + m.T) / 2


def project_to_tangent(x, mask, d):
    """Proj_X(D) = P(D) − P(XΛ), the orthogonal projection onto T_X 𝓜_S."""
    d = mask * d
    lam = _normal_multiplier(x, mask, _sym(to_numpy(x.T @ d)))
    return d - mask * (x @ asarray_like(lam, like=x))


def project_to_support_manifold(y, mask, max_iter=30):
    """Newton projection of P(Y) onto 𝓜_S along the normal spaces.

    Parameters
    ----------
    y : array, shape (n, r)
    mask : array, shape (n, r)
        1.0 on the support S, 0.0 elsewhere.
    max_iter : int
        Newton steps at most (it runs to rounding level, ~1e-16, in 3–5).

    Returns
    -------
    z : array, shape (n, r)
        Zero outside S.
    error : float
        ‖ZᵀZ − I‖_F at return; above :data:`FEASIBILITY_TOL` when the
        support admits no orthonormal loadings near Y.
    """
    xp = get_namespace(y)
    r = y.shape[1]
    ident = eye_like(y, r)
    # Newton converges quadratically once close; the first step can increase
    # the error when the support makes the system nearly singular (seen on
    # pitprops: 5e-7 → 3e-6 → 9e-11 → 4e-16), so a rise is only taken as a
    # stall once the error is at rounding level. The best iterate is returned.
    rounding = 4 * np.finfo(np.float64).eps * math.sqrt(r)
    z = mask * y
    best_z, best_error = z, math.inf
    previous = math.inf
    for _ in range(max_iter):
        residual = z.T @ z - ident
        error = to_float(xp.linalg.matrix_norm(residual))
        if not math.isfinite(error):
            break
        if error < best_error:
            best_z, best_error = z, error
        if error <= rounding or (error <= FEASIBILITY_TOL and error >= previous) or error > 1e3:
            break
        previous = error
        lam = _normal_multiplier(z, mask, -_sym(to_numpy(residual)) / 2)
        z = z + mask * (z @ asarray_like(lam, like=z))
    return best_z, best_error



class SupportStiefel(Manifold):
    """𝓜_S: n × r matrices with orthonormal columns and zeros outside a support S.

    See the module docstring for the tangent space, the projection and the
    retraction. The metric is the Frobenius inner product of ℝ^S.

    Parameters
    ----------
    support : array of bool, shape (n, r)
        The entries allowed to be nonzero.
    """

    def __init__(self, support):
        super().__init__("real")
        self.support = np.asarray(to_numpy(support), dtype=bool)
        if self.support.ndim != 2:
            raise ValueError(f"support must be an (n, r) array, got shape {self.support.shape}")
        self.n, self.p = self.support.shape

    def __repr__(self):
        return f"SupportStiefel({self.n}, {self.p}, |S|={int(self.support.sum())})"

    @property
    def dim(self):
        """|S| − r(r+1)/2: an upper bound when disjoint supports make constraints vacuous."""
        return max(int(self.support.sum()) - self.p * (self.p + 1) // 2, 0)

    @property
    def point_shape(self):
        return (self.n, self.p)

    def mask(self, like):
        """1.0 on S, 0.0 elsewhere, in the namespace and dtype of ``like``."""
        return asarray_like(self.support.astype(np.float64), like=like, dtype=like.dtype)

    def projection(self, x, u):
        if u.ndim > 2:  # a stack of vectors at one x (L-BFGS transports its pairs at once)
            xp = get_namespace(u)
            return xp.stack([self.projection(x, u[k, ...]) for k in range(u.shape[0])])
        return project_to_tangent(x, self.mask(x), u)

    def euclidean_to_riemannian_hessian(self, x, euclidean_gradient, euclidean_hessian, v):
        """Hess f(x)[v] = Proj_x(∇²f(x)[v] − P(vΛ)), P(xΛ) the normal part of P(∇f(x)).

        The constraint XᵀX = I with multiplier Λ/2 contributes the curvature
        term P(vΛ) (the Hessian of ⟨Λ/2, XᵀX − I⟩ on ℝ^S along v).
        """
        mask = self.mask(x)
        g = mask * euclidean_gradient
        lam = _normal_multiplier(x, mask, _sym(to_numpy(x.T @ g)))
        return project_to_tangent(x, mask, euclidean_hessian - mask * (v @ asarray_like(lam, like=x)))

    def retraction(self, x, v):
        """Newton projection of x + v onto 𝓜_S; NaN where it finds no point nearby."""
        z, error = project_to_support_manifold(x + v, self.mask(x))
        if not error <= FEASIBILITY_TOL:
            return z * math.nan
        return z

    def feasibility(self, x):
        """max(‖xᵀx − I‖_F, largest |x_ij| outside S)."""
        xp = get_namespace(x)
        off = (1.0 - self.mask(x)) * x
        return max(to_float(xp.linalg.matrix_norm(x.T @ x - eye_like(x, self.p))),
                   to_float(xp.max(xp.abs(off))))

    def projection_onto_manifold(self, x):
        return project_to_support_manifold(x, self.mask(x))[0]

    def random_point(self, rng=None, dtype=None, like=None, shape=()):
        """The Newton projection of a Gaussian matrix on S with unit columns."""
        if shape != ():
            raise ValueError("SupportStiefel draws one point at a time (shape=())")
        xp, dtype = self._target(dtype, like)
        g = self._gaussian(self.point_shape, rng, xp, dtype, like) * self.mask(
            xp.zeros(self.point_shape, dtype=dtype))
        g = g / xp.linalg.vector_norm(g, axis=0, keepdims=True)
        z, error = project_to_support_manifold(g, self.mask(g))
        if not error <= FEASIBILITY_TOL:
            raise ValueError(f"no point of {self!r} was found near a random start "
                             f"(‖XᵀX − I‖ = {error:.1e}); the support may admit none")
        return z


def refit_on_support(
    a,
    x,
    support=None,
    *,
    variance="total",
    threshold=1e-5,
    tol=1e-8,
    max_iter=2000,
    verbose=False,
):
    r"""Maximize the variance of orthonormal loadings with a fixed zero pattern.

    Parameters
    ----------
    a : array (n, n), LinearOperator, CovarianceOperator or callable
        Symmetric PSD A (or X ↦ A X).
    x : array, shape (n, r)
        Starting loadings with orthonormal columns, typically an ℓ1 solution.
    support : array of bool, shape (n, r), optional
        The entries allowed to be nonzero; default ``|x| > threshold``.
    variance : {"total", "adjusted"}, default "total"
        Maximize tr(XᵀAX) or the adjusted variance.
    threshold : float, default 1e-5
        Entries of ``x`` at most this large count as zero (ManPG's convention,
        the one of :func:`orthopt.decomposition.sparsity`).
    tol : float, default 1e-8
        Stop when the Riemannian gradient norm ‖grad v‖_F ≤ tol.
    max_iter : int, default 2000
    verbose : bool, default False

    Returns
    -------
    SparsePCAResult
        ``x`` zero outside the support, ‖xᵀx − I‖_F ≤ 1e-13; ``fun`` = −v(x);
        ``stationarity`` = ‖grad v‖_F; ``history`` with ``variance``;
        ``extra`` with ``start_variance`` (v at the projected start),
        ``support_size``, ``feasibility`` (‖xᵀx − I‖_F) and ``feasible``
        (False when the support could not be refitted).
        ``success`` is False when the support could not be refitted (then
        ``x`` is the input, unchanged) or ``max_iter`` was reached.
    """
    start_time = time.perf_counter()
    variance = check_variance(variance)
    op = as_operator(a, n=x.shape[0])
    xp = get_namespace(x)
    if support is None:
        mask = xp.astype(xp.abs(x) > threshold, x.dtype)
    else:
        mask = asarray_like(np.asarray(to_numpy(support), dtype=np.float64), like=x)
        if tuple(mask.shape) != tuple(x.shape):
            raise ValueError(f"support has shape {tuple(mask.shape)}; expected {tuple(x.shape)}")
    z, error = project_to_support_manifold(x, mask)
    support_size = int(round(to_float(xp.sum(mask))))
    if not error <= FEASIBILITY_TOL:
        ax = op(x)
        value = captured_variance(x, ax, variance)[0]
        return SparsePCAResult(
            x=x, fun=-value, nit=0, stationarity=math.nan, success=False,
            message=f"the support admits no orthonormal loadings near x "
                    f"(Newton projection stalled at ||XᵀX − I|| = {error:.1e}); x returned",
            time=time.perf_counter() - start_time, history={"variance": [value]},
            extra={"start_variance": value, "support_size": support_size, "feasibility": error,
                   "feasible": False},
        )
    manifold = SupportStiefel(mask != 0)

    def cost_and_gradient(y):
        if not bool(xp.all(xp.isfinite(y))):  # a failed retraction: a trial too long
            return math.nan, y
        value, gradient = captured_variance(y, op(y), variance)
        return -value, -gradient

    problem = Problem(manifold, lambda y: cost_and_gradient(y)[0],
                      cost_and_gradient=cost_and_gradient)
    # L-BFGS's first direction is −g/‖g‖ with a first trial of unit length; a start near
    # stationarity (an ℓ1 solution with a few entries zeroed) needs a step of ~‖g‖/L, which
    # the zoom reaches by bisection: 40 evaluations cover 2⁻⁴⁰ (10 did not, for ‖g‖ ~ 1e-6)
    line_search = StrongWolfe(curvature=0.9, max_evaluations=40, initial_step=1.0)
    solver = RiemannianLBFGS(step_size=line_search,
                             stopping=GradientNorm(tol) | MaxIterations(max_iter), verbose=verbose)
    res = solver.run(problem, x0=z, rng=0)
    res.stationarity = res.grad_norm
    res.fun = float(res.fun)
    res.history["variance"] = -res.history["cost"]
    res.extra = {"start_variance": float(-res.history["cost"][0]), "support_size": support_size,
                 "feasibility": to_float(xp.linalg.matrix_norm(
                     res.x.T @ res.x - eye_like(res.x, res.x.shape[1]))),
                 "feasible": True}
    return res

def prune_to_budget(
    a,
    x,
    max_nonzero,
    *,
    variance="total",
    threshold=1e-5,
    tol=1e-8,
    max_iter=2000,
    max_tries=10,
    verbose=False,
):
    r"""Backward elimination: drop the smallest loading and refit, until few enough remain.

    Starting from orthonormal loadings ``x`` (typically an ℓ1 solution after
    :func:`refit_on_support`), repeat while more than ``max_nonzero`` entries
    are nonzero (|x| > threshold): set the smallest-magnitude nonzero entry to
    zero — among columns with at least two nonzeros, so no column vanishes —
    and refit on the reduced support (:func:`refit_on_support`). If the
    reduced support admits no orthonormal loadings nearby, the next smallest
    entry is tried (at most ``max_tries``). This is the greedy backward
    elimination of Moghaddam, Weiss & Avidan (2006, "Spectral bounds for
    sparse PCA", NIPS) with the smallest loading as the cheap removal rule,
    carried out on r orthonormal components at once. Every removal is one
    refit, so the cost grows with the number of entries removed.

    Parameters
    ----------
    a : array (n, n), LinearOperator, CovarianceOperator or callable
    x : array, shape (n, r)
        Orthonormal starting loadings.
    max_nonzero : int
        Target number of nonzero loadings, at least r.
    variance : {"total", "adjusted"}
    threshold, tol, max_iter
        As in :func:`refit_on_support` (``max_iter`` per refit).
    max_tries : int
        Candidates tried per removal before giving up.
    verbose : bool

    Returns
    -------
    SparsePCAResult
        ``nit`` = total refit iterations; ``success`` False when the budget
        could not be met (then ``x`` has the fewest nonzeros reached);
        ``extra`` with ``removed`` (entries removed) and ``refits``.
    """
    start_time = time.perf_counter()
    variance = check_variance(variance)
    op = as_operator(a, n=x.shape[0])
    r = x.shape[1]
    if int(max_nonzero) != max_nonzero or max_nonzero < r:
        raise ValueError(
            f"max_nonzero must be an integer >= n_components = {r} (every orthonormal "
            f"column has a nonzero); got {max_nonzero!r}"
        )
    max_nonzero = int(max_nonzero)
    xp = get_namespace(x)
    total_iterations = 0
    refits = 0
    removed = 0
    success = True
    message = f"at most {max_nonzero} nonzero loadings"
    while True:
        host = np.abs(to_numpy(x))
        support = host > threshold
        if int(support.sum()) <= max_nonzero:
            break
        counts = support.sum(axis=0)
        rows, cols = np.nonzero(support & (counts[None, :] >= 2))
        order = np.argsort(host[rows, cols], kind="stable")
        accepted = None
        for idx in order[:max_tries]:
            trial = support.copy()
            trial[rows[idx], cols[idx]] = False
            result = refit_on_support(op, x, support=trial, variance=variance,
                                      threshold=threshold, tol=tol, max_iter=max_iter)
            refits += 1
            total_iterations += int(result.nit)
            if result.extra["feasible"]:
                accepted = result
                break
        if accepted is None:
            success = False
            message = (f"no removal among the {max_tries} smallest loadings keeps orthonormal "
                       f"loadings; stopped at {int(support.sum())} nonzeros")
            break
        x = accepted.x
        removed += 1
        if verbose:
            print(f"prune: {int(support.sum()) - 1} nonzeros, v = {-accepted.fun:.10e}")
    value = captured_variance(x, op(x), variance)[0]
    return SparsePCAResult(
        x=x,
        fun=-value,
        nit=total_iterations,
        stationarity=math.nan,
        success=success,
        message=message,
        time=time.perf_counter() - start_time,
        history={},
        extra={"removed": removed, "refits": refits,
               "nonzeros": int(round(to_float(xp.sum(xp.astype(xp.abs(x) > threshold,
                                                                x.dtype)))))},
    )
