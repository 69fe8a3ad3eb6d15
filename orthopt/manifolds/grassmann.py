r"""The Grassmann manifold Gr(n, p) of p-dimensional subspaces of 𝔽ⁿ, 𝔽 = ℝ or ℂ.

Geometry (quotient of the Stiefel manifold)
-------------------------------------------
* Points: a subspace 𝒳 = span(x) is stored as one orthonormal basis
  x ∈ St(n, p) (xᴴx = I_p), its *representative*. The bases xQ, Q ∈ O(p)
  (U(p) for 𝔽 = ℂ), span the same subspace: Gr(n, p) = St(n, p)/O(p).
  Every method accepts any representative; results are representatives too
  (compare points through :meth:`Grassmann.dist`, never entrywise).
* Tangent space: a tangent vector at 𝒳 is stored as its *horizontal lift* at
  x, an n×p matrix v with xᴴv = 0 (the directions that change the subspace,
  orthogonal to the vertical ones xΩ that only rotate the basis). Real
  dimension p(n − p) (real), 2p(n − p) (complex).
* Metric: ⟨u, v⟩ = Re tr(uᴴv), inherited from St(n, p) (the quotient metric).
* Horizontal projection: P_x(u) = u − x xᴴu = (I − xxᴴ)u.
* Riemannian gradient: P_x(∇f(x)) for a cost with f(xQ) = f(x).
* Riemannian Hessian: Hess f(x)[v] = P_x(∇²f(x)[v]) − v xᴴ∇f(x)
  (Absil, Mahony & Sepulchre 2008, §5.5; pymanopt's ``Grassmann.euclidean_to_riemannian_hessian``).
* Exponential (Edelman, Arias & Smith 1998, Thm 2.3): with the thin SVD
  v = U Σ Vᴴ, exp_x(v) = x V cos(Σ) Vᴴ + U sin(Σ) Vᴴ.
* Principal angles 0 ≤ θ₁ ≤ … ≤ θ_p ≤ π/2 between 𝒳 and 𝒴 = span(y): the
  singular values of xᴴy are cos θ_i (Björck & Golub 1973).
  dist(𝒳, 𝒴) = ‖θ‖₂, the same angles as :func:`scipy.linalg.subspace_angles`.
* Logarithm (the algorithm of Bendokat, Zimmermann & Absil 2024): align the
  representative of 𝒴 to x, y* = y Q Rᴴ with yᴴx = Q S Rᴴ (Procrustes), take
  the thin SVD (I − xxᴴ)y* = Û Ŝ V̂ᴴ, then log_x(y) = Û Θ V̂ᴴ with
  Θ = atan2(Ŝ, V̂ᴴ xᴴy* V̂) (θ = arcsin ŝ, computed stably for every angle).
  Where some θ = π/2 (y on the cut locus of x) the geodesic is not unique and
  one of the shortest logarithms is returned.
* Transport: horizontal projection at the new point, P_y(v).

Retractions
-----------
``"qr"``    the Q factor of x + v (a basis of span(x + v)), Cholesky-QR.
``"polar"`` (x + v)(I + vᴴv)^{-1/2}, second order; the representative closest
            to x + v.
``"exp"``   the exponential map above.

Random points: span of a Haar point of St(n, p), uniform on Gr(n, p) (the
unique O(n)-invariant probability measure).

References
----------
Edelman, Arias & Smith (1998), The geometry of algorithms with orthogonality
constraints, SIAM J. Matrix Anal. Appl. 20(2). Absil, Mahony & Sepulchre
(2004), Riemannian geometry of Grassmann manifolds with a view on algorithmic
computation, Acta Appl. Math. 80. Björck & Golub (1973), Numerical methods for
computing angles between linear subspaces, Math. Comp. 27. Bendokat,
Zimmermann & Absil (2024), A Grassmann manifold handbook: basic geometry and
computational aspects, Adv. Comput. Math. 50.
"""

from __future__ import annotations

import math

from ..backend import conj_transpose, get_namespace
from ..linalg import cholesky_qr, polar
from .orthonormal import OrthonormalColumns

__all__ = ["Grassmann"]


class Grassmann(OrthonormalColumns):
    """The Grassmann manifold Gr(n, p) of p-dimensional subspaces of ℝⁿ (or ℂⁿ).

    Parameters
    ----------
    n, p : int
        Subspaces of dimension p in n dimensions, 1 ≤ p ≤ n; a point is an n×p
        matrix with orthonormal columns spanning it.
    field : {"real", "complex"}, default "real"
        Real subspaces (float32/float64 bases) or complex ones
        (complex64/complex128).
    retraction : {"qr", "polar", "exp"}, default "qr"
        Used by :meth:`retraction` (see the module docstring).

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from orthopt.manifolds import Grassmann
    >>> M = Grassmann(5, 2)
    >>> x, y = M.random_point(rng=0), M.random_point(rng=1)
    >>> bool(np.isclose(M.dist(x, y), np.linalg.norm(scipy.linalg.subspace_angles(x, y))))
    True
    >>> bool(np.isclose(M.dist(x, x @ np.array([[0.0, 1.0], [1.0, 0.0]])), 0.0))
    True
    """

    RETRACTIONS = ("qr", "polar", "exp")

    def __init__(self, n, p, field="real", retraction="qr"):
        super().__init__(n, p, field=field, retraction=retraction)

    def __repr__(self):
        extra = ", field='complex'" if self.is_complex else ""
        return f"Grassmann({self.n}, {self.p}, retraction={self.retraction_name!r}{extra})"

    @property
    def dim(self):
        """Real dimension: p(n − p) (real), 2p(n − p) (complex)."""
        d = self.p * (self.n - self.p)
        return 2 * d if self.is_complex else d

    @property
    def typical_dist(self):
        """(π/2)·√p: the diameter of Gr(n, p) for 2p ≤ n (all principal angles π/2)."""
        return math.pi / 2 * math.sqrt(self.p)

    # -- tangent spaces ------------------------------------------------------

    def projection(self, x, u):
        """Horizontal projection P_x(u) = u − x xᴴu.

        Parameters
        ----------
        x : array, shape (..., n, p)
        u : array, shape (..., n, p), any ambient matrix

        Returns
        -------
        array, shape (..., n, p), with xᴴP_x(u) = 0
        """
        return u - x @ (conj_transpose(x) @ u)

    def euclidean_to_riemannian_hessian(self, x, euclidean_gradient, euclidean_hessian, v):
        r"""Riemannian Hessian-vector product: P_x(∇²f(x)[v]) − v xᴴ∇f(x).

        The second term is the Weingarten map of the quotient; it is horizontal
        already (xᴴv = 0), so it is not projected.

        Parameters
        ----------
        x, euclidean_gradient, euclidean_hessian, v : array, shape (..., n, p)
            The point, ∇f(x), ∇²f(x)[v] and the horizontal direction v.

        Returns
        -------
        array, shape (..., n, p), horizontal at x
        """
        return (self.projection(x, euclidean_hessian)
                - v @ (conj_transpose(x) @ euclidean_gradient))

    # -- exponential, logarithm, distance --------------------------------------

    def exp(self, x, v):
        """Geodesic exp_x(v) = x V cos(Σ) Vᴴ + U sin(Σ) Vᴴ, v = U Σ Vᴴ (thin SVD).

        Parameters
        ----------
        x : array, shape (..., n, p)
        v : array, shape (..., n, p), horizontal at x

        Returns
        -------
        array, shape (..., n, p): a representative equal to x + v + O(‖v‖²)
        """
        xp = get_namespace(x, v)
        u, s, vh = xp.linalg.svd(v, full_matrices=False)
        cos = xp.astype(xp.cos(s), x.dtype)[..., None, :]
        sin = xp.astype(xp.sin(s), x.dtype)[..., None, :]
        y = (x @ (conj_transpose(vh) * cos) + u * sin) @ vh
        # xᴴx = I and xᴴv = 0 hold to rounding only: one Cholesky-QR (the identity on
        # an orthonormal y, an upper-triangular factor I + O(eps) otherwise) keeps
        # long runs of exp steps on the manifold without changing the subspace
        q, _ = cholesky_qr(y)
        return q

    def log(self, x, y):
        """Logarithm: the shortest horizontal v at x with span(exp_x(v)) = span(y).

        Parameters
        ----------
        x, y : array, shape (..., n, p), any representatives

        Returns
        -------
        array, shape (..., n, p), horizontal at x, ‖log_x(y)‖ = ‖θ‖₂ (principal angles)
        """
        xp = get_namespace(x, y)
        q, _, rh = xp.linalg.svd(conj_transpose(y) @ x, full_matrices=False)
        y_aligned = y @ (q @ rh)  # the representative of span(y) closest to x
        u, s, vh = xp.linalg.svd(self.projection(x, y_aligned), full_matrices=False)
        # cos θ_i on the diagonal of V̂ᴴ(xᴴy*)V̂: xᴴy* = R S Rᴴ is Hermitian and
        # commutes with y*ᴴ(I − xxᴴ)y* = I − (xᴴy*)², so V̂ diagonalizes it
        cos = xp.real(xp.linalg.diagonal(vh @ (conj_transpose(x) @ y_aligned) @ conj_transpose(vh)))
        theta = xp.atan2(s, xp.maximum(cos, xp.zeros_like(cos)))
        return (u * xp.astype(theta, x.dtype)[..., None, :]) @ vh

    def dist(self, x, y):
        """Geodesic distance ‖θ‖₂ (principal angles, see :meth:`log`).

        Parameters
        ----------
        x, y : array, shape (..., n, p), any representatives

        Returns
        -------
        0-d real array: √Σ d_i² over a batch (see :meth:`batch_dist` for one
        value per point)
        """
        return super().dist(x, y)

    # -- retractions ---------------------------------------------------------

    def _retract_qr(self, x, v):
        q, _ = cholesky_qr(x + v)
        return q

    def _retract_polar(self, x, v):
        return polar(x + v, method="eigh")

    def _retract_exp(self, x, v):
        return self.exp(x, v)
