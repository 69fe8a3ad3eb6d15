r"""Tangent spaces written from their definitions, for :func:`orthopt.diagnostics.check_manifold`.

A check of ``manifold.projection`` that used ``manifold.projection`` to build
its reference would pass a wrong projection. These functions write the
orthogonal projection onto T_x and the distance of a vector from T_x from
the definition of each family, independently of the manifold's code:

* Stiefel, SO(n), U(n) (xᴴx = I): T_x = {v : xᴴv + vᴴx = 0},
  P_x(u) = u − x herm(xᴴu);
* Grassmann: the horizontal space {v : xᴴv = 0}, P_x(u) = (I − xxᴴ)u;
* Euclidean: every array is tangent, P_x(u) = u;
* a product: factor by factor (defects add in quadrature).

A manifold of another family falls back on its own projection (there is no
independent formula to compare with).
"""

from __future__ import annotations

import math

from .backend import conj_transpose, get_namespace, to_float
from .manifolds.euclidean import Euclidean
from .manifolds.grassmann import Grassmann
from .manifolds.orthonormal import OrthonormalColumns
from .manifolds.product import Product, ProductVector

__all__ = ["first_axis", "size", "ambient_gaussian", "reference_projection", "tangent_defect"]


def first_axis(manifold):
    """The longest first axis of a point (of a factor, on a product): the √n of the tolerances."""
    if isinstance(manifold, Product):
        return max(first_axis(m) for m in manifold.manifolds)
    return manifold.point_shape[0] if manifold.point_shape else 1


def size(manifold):
    """Number of entries of a point (summed over the factors of a product)."""
    if isinstance(manifold, Product):
        return sum(size(m) for m in manifold.manifolds)
    return math.prod(manifold.point_shape)


def ambient_gaussian(manifold, x, rng):
    """A standard Gaussian array of x's shape and dtype (a tuple of them on a product)."""
    if isinstance(manifold, Product):
        return ProductVector(ambient_gaussian(m, a, rng) for m, a in zip(manifold.manifolds, x))
    return manifold._gaussian(x.shape, rng, get_namespace(x), x.dtype, x)


def reference_projection(manifold, x, u):
    """The orthogonal projection onto T_x from the definition, not from ``manifold.projection``.

    Stiefel family (T_x = {v : xᴴv skew-Hermitian}): u − x herm(xᴴu).
    Grassmann (horizontal space xᴴv = 0): (I − xxᴴ)u. Euclidean: u. A product:
    factor by factor. Another manifold: its own projection (no independent formula).
    """
    if isinstance(manifold, Product):
        return ProductVector(reference_projection(m, a, b)
                             for m, a, b in zip(manifold.manifolds, x, u))
    if isinstance(manifold, Grassmann):
        return u - x @ (conj_transpose(x) @ u)
    if isinstance(manifold, OrthonormalColumns):
        xh_u = conj_transpose(x) @ u
        return u - x @ ((xh_u + conj_transpose(xh_u)) / 2)
    if isinstance(manifold, Euclidean):
        return u
    return manifold.projection(x, u)


def tangent_defect(manifold, x, v):
    """How far v is from T_x, from the definition of the tangent space (0 for a tangent v).

    ‖xᴴv + vᴴx‖ (Stiefel family), ‖xᴴv‖ (Grassmann, horizontal space), 0
    (Euclidean: every array is tangent), √Σ defect_i² on a product, and
    ‖P_x(v) − v‖ on another manifold.
    """
    if isinstance(manifold, Product):
        return math.sqrt(sum(tangent_defect(m, a, b) ** 2
                             for m, a, b in zip(manifold.manifolds, x, v)))
    xp = get_namespace(x)
    if isinstance(manifold, Grassmann):
        return to_float(xp.sqrt(xp.sum(xp.abs(conj_transpose(x) @ v) ** 2)))
    if isinstance(manifold, OrthonormalColumns):
        a = conj_transpose(x) @ v
        return to_float(xp.sqrt(xp.sum(xp.abs(a + conj_transpose(a)) ** 2)))
    return to_float(manifold.norm(x, manifold.projection(x, v) - v))
