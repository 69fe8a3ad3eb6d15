r"""Coordinates of one tangent space, in which an inner solver works.

Truncated CG in trust regions makes all of its steps in one tangent space
T_x: a Hessian-vector product, a re-tangentialization of the search
direction and a few inner products per inner iteration. Stored as ambient
matrices, every one of these on a square St(n, n) (O(n), SO(n), U(n)) costs
n×n×n products: two for the projection that keeps δ tangent, two for the
Weingarten term, two for the projection of the Hessian — seven per product
with the user's ∇²f. In the Lie-algebra coordinates Ω = xᴴv of
T_x = {xΩ : Ωᴴ = −Ω} (x is unitary) the same operations cost

* the metric: ⟨xΩ₁, xΩ₂⟩ = Re tr(Ω₁ᴴΩ₂), the Frobenius product of the
  coordinates (no product);
* re-tangentialization: skew(Ω) = ½(Ω − Ωᴴ), O(n²);
* the Riemannian Hessian (Absil, Mahony & Trumpf 2013, as in
  :meth:`Stiefel.euclidean_to_riemannian_hessian <orthopt.manifolds.Stiefel.euclidean_to_riemannian_hessian>`):

      xᴴ Hess f(x)[xΩ] = skew(xᴴ ∇²f(x)[xΩ] − Ω S),   S = herm(xᴴ∇f(x)),

  with S computed once per point: three products (xΩ, xᴴ·, Ω S) next to
  the user's ∇²f, as in pymanopt's and Manopt's Lie-group representation.

Going in and out costs one product each (the gradient once per outer
iteration, the step once). Every other manifold — and a subclass of Stiefel
that changes the metric, the projection or the Hessian — works in
:class:`AmbientCoordinates`, the tangent vectors themselves.

Both classes answer the same questions: ``from_tangent(v)``,
``to_tangent(c)``, ``zero()``, ``gradient(∇f)``, ``hessian(∇f, ∇²f[v], c, v)``,
``retangent(c)`` and ``inner(c₁, c₂)`` (a Python float); ``shared`` says
whether coordinates at different points live in one space (the Lie algebra),
where L-BFGS keeps its pairs without transporting them.
"""

from __future__ import annotations

import numpy as np

from ..backend import conj_transpose, get_namespace, is_complex_dtype, to_float
from ..linalg import herm, skew
from ..manifolds.stiefel import Stiefel
from .solver import inner_float

__all__ = ["AmbientCoordinates", "SkewCoordinates", "tangent_coordinates"]


def tangent_coordinates(manifold, x):
    """The cheapest coordinates of T_x for an inner solver (see the module docstring).

    Parameters
    ----------
    manifold : Manifold
    x : array, shape ``manifold.point_shape``, or a stack (..., n, p)
        One point; a stack is one point of the power manifold (the summed
        cost of pymanopt's k copies), and the formulas act per matrix.

    Returns
    -------
    SkewCoordinates or AmbientCoordinates
    """
    if isinstance(manifold, Stiefel) and manifold.n == manifold.p and _embedded_stiefel(manifold):
        return SkewCoordinates(manifold, x)
    return AmbientCoordinates(manifold, x)


def _embedded_stiefel(manifold):
    """Whether the Stiefel subclass keeps the embedded metric, projection and Hessian.

    The Lie-algebra formulas are those of Stiefel's own methods; a subclass
    that overrides one of them (a different metric, a Hessian without the
    Weingarten term) must be asked through its methods, in ambient coordinates.
    """
    cls = type(manifold)
    return all(getattr(cls, name) is getattr(Stiefel, name)
               for name in ("inner_product", "projection", "euclidean_to_riemannian_gradient",
                            "euclidean_to_riemannian_hessian"))


class AmbientCoordinates:
    """Tangent vectors as they are: every operation asks the manifold.

    Parameters
    ----------
    manifold : Manifold
    x : array
        The base point.
    """

    #: the coordinates of different tangent spaces are different spaces
    shared = False

    def __init__(self, manifold, x):
        self.manifold = manifold
        self.x = x

    def from_tangent(self, v):
        """Coordinates of a tangent vector v at x (v itself)."""
        return v

    def to_tangent(self, c):
        """The tangent vector with coordinates c (c itself)."""
        return c

    def zero(self):
        """The coordinates of the zero vector."""
        return self.manifold.zero_vector(self.x)

    def gradient(self, euclidean_gradient):
        """(grad f(x), its coordinates or None): the manifold's conversion."""
        return self.manifold.euclidean_to_riemannian_gradient(self.x, euclidean_gradient), None

    def hessian(self, euclidean_gradient, euclidean_hessian, c, v):
        """Coordinates of Hess f(x)[v], from ∇f(x), ∇²f(x)[v] and v = to_tangent(c)."""
        return self.manifold.euclidean_to_riemannian_hessian(
            self.x, euclidean_gradient, euclidean_hessian, v)

    def retangent(self, c):
        """c made tangent again after rounding drift: the projection P_x."""
        return self.manifold.projection(self.x, c)

    def inner(self, c1, c2):
        """⟨c₁, c₂⟩_x as a Python float."""
        return inner_float(self.manifold, self.x, c1, c2)


class SkewCoordinates:
    """Lie-algebra coordinates Ω = xᴴv on a square St(n, n): O(n), SO(n), U(n).

    Coordinates are skew-Hermitian n×n matrices of x's dtype; the metric is
    their real Frobenius product (see the module docstring for the formulas).

    Parameters
    ----------
    manifold : Stiefel
        With n = p and Stiefel's own metric, projection and Hessian.
    x : array, shape (n, n)
        The base point, unitary.
    """

    #: every tangent space has coordinates in the same Lie algebra: xΩ at x and yΩ
    #: at y correspond under left translation, an isometric transport
    shared = True

    def __init__(self, manifold, x):
        self.manifold = manifold
        self.x = x
        self._xh = conj_transpose(x)
        self._gradient_of = None  # the ∇f(x) whose S below is cached
        self._weingarten = None   # S = herm(xᴴ∇f(x))

    def from_tangent(self, v):
        """Ω = skew(xᴴv): one product (skew removes what is not tangent)."""
        return skew(self._xh @ v)

    def to_tangent(self, c):
        """v = xΩ: one product."""
        return self.x @ c

    def zero(self):
        """The zero n×n matrix."""
        return get_namespace(self.x).zeros_like(self.x)

    def gradient(self, euclidean_gradient):
        """(grad f(x), skew(xᴴ∇f)): Stiefel's projection ∇f − x herm(xᴴ∇f), whose
        intermediate xᴴ∇f gives the coordinates for free (two products in all)."""
        m = self._xh @ euclidean_gradient
        return euclidean_gradient - self.x @ herm(m), skew(m)

    def hessian(self, euclidean_gradient, euclidean_hessian, c, v):
        """skew(xᴴ∇²f(x)[v] − Ω herm(xᴴ∇f(x))): two products (herm(xᴴ∇f) once per x)."""
        if self._gradient_of is not euclidean_gradient:
            self._weingarten = herm(self._xh @ euclidean_gradient)
            self._gradient_of = euclidean_gradient
        return skew(self._xh @ euclidean_hessian - c @ self._weingarten)

    def retangent(self, c):
        """skew(Ω): O(n²), where the ambient projection costs two products."""
        return skew(c)

    def inner(self, c1, c2):
        """Re tr(Ω₁ᴴΩ₂) as a Python float (equal to ⟨xΩ₁, xΩ₂⟩_x)."""
        if type(c1) is np.ndarray and type(c2) is np.ndarray:
            return float(np.vdot(c1, c2).real)
        return _frobenius(c1, c2)


def _frobenius(a, b):
    """Re Σ conj(a)·b for any array namespace, as a Python float."""
    xp = get_namespace(a, b)
    if is_complex_dtype(xp, a.dtype):
        return to_float(xp.sum(xp.real(xp.conj(a) * b)))
    return to_float(xp.sum(a * b))
