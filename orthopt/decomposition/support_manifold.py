r"""𝓜_S: orthonormal n × r matrices with a fixed zero pattern, as an orthopt manifold.

.. math::

    \mathcal{M}_S = \{X \in \mathbb{R}^{n\times r} :\ X^\top X = I_r,\
                     X_{ij} = 0 \text{ for } (i, j) \notin S\}

is where the SparsePCA refit (:mod:`orthopt.decomposition.refit`) optimizes.

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

Riemannian Hessian. 𝓜_S is the zero set of c restricted to ℝ^S, so
Hess f(X)[ξ] = Proj_X(P(∇²f(X)[ξ]) − P(ξΛ)) where P(XΛ) is the normal part
of P(∇f(X)) (Absil, Mahony & Trumpf 2013): the multiplier of ⟨Λ/2, c⟩
carries the curvature of the constraint.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import asarray_like, eye_like, get_namespace, to_float, to_numpy
from ..manifolds.base import Manifold
from .tangent_prox import _newton_matrix, _upper_indices

__all__ = ["SupportStiefel", "project_to_support_manifold", "project_to_tangent",
           "FEASIBILITY_TOL"]


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
