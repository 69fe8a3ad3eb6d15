r"""The family of manifolds whose points are matrices with orthonormal columns.

Stiefel St(n, p), SO(n), U(n) and the Grassmann manifold Gr(n, p) all store a
point as an n×p matrix x ∈ 𝔽^{n×p} (𝔽 = ℝ or ℂ) with xᴴx = I_p — for Gr(n, p)
x is one orthonormal basis (a *representative*) of the subspace span(x). What
they share, and what lives here:

* the sizes n, p and the field, checked once;
* **feasibility** ‖xᴴx − I‖_F and the tolerance 1000·eps·√n that
  :meth:`~OrthonormalColumns.check_point` accepts;
* the **nearest point** of an ambient matrix: its polar factor u vᴴ (x = u s vᴴ),
  Fan & Hoffman (1955);
* **Haar random points**: the Q factor (positive diagonal R) of an n×p
  standard Gaussian matrix is uniform on St(n, p) (Mezzadri 2007); its span is
  uniform on Gr(n, p);
* a **registry of retractions** by name: ``retraction="qr"`` dispatches
  :meth:`retraction` to the subclass's ``_retract_qr``.

The tangent spaces, the metric's Hessian term, exp and log differ (the tangent
vectors of St(n, p) satisfy xᴴv + vᴴx = 0, the horizontal vectors of Gr(n, p)
satisfy xᴴv = 0) and are written by each subclass.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend as be
from ..backend import conj_transpose, finfo_eps, get_namespace
from ..linalg import qr_positive
from .base import Manifold, _batch_tuple, _check_same_shape

__all__ = ["OrthonormalColumns"]


class OrthonormalColumns(Manifold):
    """Base class of the manifolds whose points are n×p matrices with xᴴx = I.

    Parameters
    ----------
    n, p : int
        Points are n×p matrices, 1 ≤ p ≤ n.
    field : {"real", "complex"}
        Whether points are real (xᵀx = I) or complex (xᴴx = I).
    retraction : str
        Name of the retraction used by :meth:`retraction`; one of the
        subclass's ``RETRACTIONS``.
    """

    RETRACTIONS: tuple = ()
    _FEASIBILITY_NAME = "‖xᴴx − I‖"

    def __init__(self, n, p, field="real", retraction="qr"):
        for name, value in (("n", n), ("p", p)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name} must be an integer, got {value!r}")
        if n < 1:
            raise ValueError(f"n must be at least 1, got n={n}")
        if p < 1:
            raise ValueError(f"p must be at least 1, got p={p}")
        if p > n:
            raise ValueError(
                f"p={p} > n={n}: at most n orthonormal columns fit in n dimensions; "
                f"use p ≤ n (or transpose your problem)"
            )
        super().__init__(field=field)
        if retraction not in self.RETRACTIONS:
            raise ValueError(
                f"unknown retraction {retraction!r} for {type(self).__name__}; "
                f"valid names: {', '.join(repr(r) for r in self.RETRACTIONS)}"
            )
        self._n = int(n)
        self._p = int(p)
        self._retraction_name = retraction
        self._retract = getattr(self, f"_retract_{retraction}")

    # -- description --------------------------------------------------------

    @property
    def n(self):
        """Number of rows of a point."""
        return self._n

    @property
    def p(self):
        """Number of columns of a point."""
        return self._p

    @property
    def retraction_name(self):
        """The name of the retraction used by :meth:`retraction`."""
        return self._retraction_name

    @property
    def point_shape(self):
        """Shape (n, p) of one point."""
        return (self._n, self._p)

    @property
    def typical_dist(self):
        """A typical distance between two points (the scale of a first step): √p."""
        return math.sqrt(self._p)

    def __repr__(self):
        return f"{type(self).__name__}({self._n}, {self._p}, retraction={self._retraction_name!r})"

    # -- retractions ---------------------------------------------------------

    def retraction(self, x, v):
        """Move from x along the tangent vector v: R_x(v), on the manifold.

        Parameters
        ----------
        x : array, shape (..., n, p)
            A point.
        v : array, shape (..., n, p)
            A tangent vector at x.

        Returns
        -------
        array, shape (..., n, p)
            The retracted point, same dtype and device as x.
        """
        _check_same_shape(x, v, "the tangent vector v")
        return self._retract(x, v)

    # -- sampling ------------------------------------------------------------

    def random_point(self, rng=None, dtype=None, like=None, shape=()):
        """A Haar-distributed (uniform) random point, or a stack of independent ones.

        Parameters
        ----------
        rng : None, int or numpy.random.Generator
            Seed or generator; the same seed gives the same point on every backend.
        dtype : dtype or str, optional
            float64 (complex128 for complex manifolds) by default, or ``like``'s.
        like : array, optional
            Create the point in this array's namespace and on its device.
        shape : int or tuple of int, default ()
            Batch shape: ``shape=(k,)`` gives k independent points.

        Returns
        -------
        array, shape (*shape, n, p)
        """
        xp, dtype = self._target(dtype, like)
        g = self._gaussian(_batch_tuple(shape) + self.point_shape, rng, xp, dtype, like)
        q, _ = qr_positive(g)
        return q

    # -- validation ----------------------------------------------------------

    def default_atol(self, dtype, xp=None):
        """Default feasibility tolerance for :meth:`check_point`: 1000·eps(dtype)·√n."""
        xp = get_namespace(np.empty(0)) if xp is None else xp
        return 1000 * finfo_eps(xp, dtype) * math.sqrt(self._n)

    def feasibility(self, x):
        """‖xᴴx − I‖_F (the largest over a batch), as a float."""
        xp = get_namespace(x)
        gram = conj_transpose(x) @ x
        ident = be.eye_like(gram)
        return float(xp.max(xp.linalg.matrix_norm(gram - ident)))

    def projection_onto_manifold(self, x):
        """The nearest point of the manifold to an ambient x (its polar factor).

        Parameters
        ----------
        x : array, shape (..., n, p), full column rank

        Returns
        -------
        array, shape (..., n, p): u vᴴ from the thin SVD x = u s vᴴ, the
        minimizer of ‖x − y‖_F over the matrices with orthonormal columns
        (Fan & Hoffman 1955); it spans the same subspace as x.
        """
        xp = get_namespace(x)
        u, _, vh = xp.linalg.svd(x, full_matrices=False)
        return u @ vh
