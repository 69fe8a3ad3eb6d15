r"""Euclidean space 𝔽^{n₁×…×n_d} (𝔽 = ℝ or ℂ) as a (flat) manifold.

Geometry
--------
* Points: arrays of shape (n₁, …, n_d), any values. Typical use: the
  unconstrained factor of a :class:`~orthopt.manifolds.Product`, e.g. the
  coefficients next to an orthonormal basis.
* Tangent space: the whole space, T_x = 𝔽^{n₁×…×n_d}; real dimension
  n₁⋯n_d (twice that for 𝔽 = ℂ).
* Metric: ⟨u, v⟩ = Re Σ ū v, the same at every point.
* Projection: the identity. Riemannian gradient and Hessian: the Euclidean
  ones (the space is flat, no curvature term).
* Exponential: exp_x(v) = x + v (straight lines are the geodesics); it is
  also the only retraction. Logarithm log_x(y) = y − x, distance ‖y − x‖.
* Transport: the identity (parallel transport of a flat space).
* Feasibility: 0 — every finite array is a point.

Random points: standard (complex) Gaussian entries — an unbounded space has
no uniform distribution; pymanopt's ``Euclidean.random_point`` does the same.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import finfo_eps, get_namespace
from .base import Manifold, _batch_tuple, _check_same_shape

__all__ = ["Euclidean"]


class Euclidean(Manifold):
    """The Euclidean space of arrays of a fixed shape.

    Parameters
    ----------
    *shape : int
        Shape of a point, at least one positive integer: ``Euclidean(3)``
        (vectors), ``Euclidean(3, 10)`` (3×10 matrices).
    field : {"real", "complex"}, default "real"
        Real (float32/float64) or complex (complex64/complex128) arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from orthopt.manifolds import Euclidean
    >>> M = Euclidean(3, 2)
    >>> x = M.random_point(rng=0)
    >>> v = M.random_tangent_vector(x, rng=1)
    >>> bool(np.allclose(M.retraction(x, v), x + v))
    True
    """

    RETRACTIONS = ("exp",)

    def __init__(self, *shape, field="real"):
        if not shape:
            raise ValueError("Euclidean needs the shape of a point, e.g. Euclidean(3) or "
                             "Euclidean(3, 10)")
        for s in shape:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
                raise ValueError(f"the shape of a Euclidean point must be positive integers, "
                                 f"got {shape!r}")
        super().__init__(field=field)
        self._shape = tuple(int(s) for s in shape)

    def __repr__(self):
        extra = ", field='complex'" if self.is_complex else ""
        return f"Euclidean({', '.join(str(s) for s in self._shape)}{extra})"

    @property
    def point_shape(self):
        """Shape of one point."""
        return self._shape

    @property
    def dim(self):
        """n₁⋯n_d (twice that for complex arrays)."""
        size = math.prod(self._shape)
        return 2 * size if self.is_complex else size

    @property
    def retraction_name(self):
        """``"exp"``: x + v is both the retraction and the exponential."""
        return "exp"

    # -- tangent spaces ------------------------------------------------------

    def projection(self, x, u):
        """The identity: every array is a tangent vector."""
        return u

    def euclidean_to_riemannian_gradient(self, x, euclidean_gradient):
        """The Euclidean gradient itself."""
        return euclidean_gradient

    def euclidean_to_riemannian_hessian(self, x, euclidean_gradient, euclidean_hessian, v):
        """The Euclidean Hessian-vector product itself (flat: no curvature term)."""
        return euclidean_hessian

    def transport(self, x, y, v):
        """The identity: tangent spaces of a flat space are all the same."""
        return v

    # -- moving --------------------------------------------------------------

    def retraction(self, x, v):
        """x + v (the exponential map).

        Parameters
        ----------
        x : array, shape (..., *point_shape)
        v : array, shape of x

        Returns
        -------
        array, shape of x
        """
        _check_same_shape(x, v, "the tangent vector v")
        return x + v

    def exp(self, x, v):
        """x + v: straight lines are the geodesics."""
        _check_same_shape(x, v, "the tangent vector v")
        return x + v

    def log(self, x, y):
        """y − x."""
        _check_same_shape(x, y, "the point y")
        return y - x

    # -- sampling ------------------------------------------------------------

    def random_point(self, rng=None, dtype=None, like=None, shape=()):
        """Standard (complex) Gaussian entries.

        Parameters
        ----------
        rng : None, int or numpy.random.Generator
        dtype : dtype or str, optional
            float64 (complex128 for ``field="complex"``) by default, or ``like``'s.
        like : array, optional
            Create the point in this array's namespace and on its device.
        shape : int or tuple of int, default ()
            Batch shape.

        Returns
        -------
        array, shape (*shape, *point_shape)
        """
        xp, dtype = self._target(dtype, like)
        return self._gaussian(_batch_tuple(shape) + self._shape, rng, xp, dtype, like)

    # -- validation ----------------------------------------------------------

    def feasibility(self, x):
        """0.0: every finite array is a point."""
        return 0.0

    def projection_onto_manifold(self, x):
        """x itself."""
        return x

    def check_point(self, x, atol=None):
        """Validate type, shape, dtype and finiteness; return 0.0.

        See :meth:`Manifold.check_point` for the errors raised.
        """
        self._check_array(x)
        return 0.0

    def default_atol(self, dtype, xp=None):
        """1000·eps(dtype): never exceeded (feasibility is 0), kept for a uniform interface."""
        xp = get_namespace(np.empty(0)) if xp is None else xp
        return 1000 * finfo_eps(xp, dtype)
