r"""The special orthogonal group SO(n) = {x ∈ ℝ^{n×n} : xᵀx = I, det x = 1}.

Geometry (bi-invariant metric)
------------------------------
* SO(n) is the connected component of the identity of O(n) = St(n, n); all
  of :class:`~orthopt.manifolds.Stiefel`'s formulas apply with p = n.
* Tangent space at x: T_x = {xΩ : Ω ∈ so(n)}, so(n) the skew-symmetric
  matrices (the Lie algebra). Tangent vectors are still stored as ambient
  n×n matrices v = xΩ; Ω = xᵀv. Dimension n(n−1)/2.
* Metric: ⟨xΩ₁, xΩ₂⟩ = tr(Ω₁ᵀΩ₂), the embedded metric, which is bi-invariant.
* Projection: P_x(u) = x skew(xᵀu).
* Exponential (geodesics are one-parameter subgroups): exp_x(v) = x expm(xᵀv).
  Logarithm: log_x(y) = x logm(xᵀy) (principal branch); distance
  ‖logm(xᵀy)‖_F, defined when xᵀy has no eigenvalue −1.
* Retractions: exp, Cayley x(I − Ω/2)⁻¹(I + Ω/2), QR and polar of x + v (both
  stay in SO(n): det(I + Ω) > 0 for skew Ω), and a full Givens sweep with
  angles Ω_ij of the left generator W = v xᵀ.

Random points: Haar measure, from the QR of a Gaussian matrix with the sign of
diag(R) fixed (uniform on O(n), Mezzadri 2007), then the first column negated
when det = −1 (a measure-preserving bijection between the two components).
"""

from __future__ import annotations

import math

from ..backend import get_namespace
from ..linalg import qr_positive
from .base import _batch_tuple
from .stiefel import Stiefel

__all__ = ["SpecialOrthogonal"]


class SpecialOrthogonal(Stiefel):
    """The rotation group SO(n) of n×n orthogonal matrices with det = 1.

    Parameters
    ----------
    n : int
        Size of the matrices, n ≥ 1 (SO(1) = {[1]}).
    retraction : {"exp", "cayley", "qr", "polar", "givens"}, default "exp"
        Used by :meth:`retraction`.

    Examples
    --------
    >>> from orthopt.manifolds import SpecialOrthogonal
    >>> import numpy as np
    >>> M = SpecialOrthogonal(3)
    >>> x = M.random_point(rng=0)
    >>> bool(np.isclose(np.linalg.det(x), 1.0))
    True
    """

    def __init__(self, n, retraction="exp"):
        super().__init__(n, n, retraction=retraction, field="real")

    def __repr__(self):
        return f"SpecialOrthogonal({self.n}, retraction={self.retraction_name!r})"

    @property
    def typical_dist(self):
        """π√n, Manopt's (rotationsfactory, unitaryfactory): the rotation by π in
        every plane of ℝⁿ is about that far from the identity. Trust regions take
        their largest radius from it."""
        return math.pi * math.sqrt(self.n)

    @property
    def dim(self):
        """n(n−1)/2."""
        return self.n * (self.n - 1) // 2

    def random_point(self, rng=None, dtype=None, like=None, shape=()):
        """Haar-distributed random rotations, shape (*shape, n, n).

        See :meth:`Stiefel.random_point` for the parameters.
        """
        xp, dtype = self._target(dtype, like)
        g = self._gaussian(_batch_tuple(shape) + self.point_shape, rng, xp, dtype, like)
        q, _ = qr_positive(g)
        # flip the first column where det = −1: O(n)⁻ → SO(n) preserves Haar measure
        det = xp.linalg.det(q)
        # xp.where with two Python scalars is not array-API (array-api-strict rejects it)
        sign = xp.where(det < 0, -xp.ones_like(det), xp.ones_like(det))
        first = q[..., :, :1] * sign[..., None, None]
        return xp.concat([first, q[..., :, 1:]], axis=-1)

    def check_point(self, x, atol=None):
        """Validate a rotation: as :meth:`Stiefel.check_point`, plus det x > 0."""
        err = super().check_point(x, atol=atol)
        xp = get_namespace(x)
        det = xp.linalg.det(x)
        if bool(xp.any(det < 0)):
            raise ValueError(
                f"x has det = {float(xp.min(det)):+.3f}: it is in O({self.n}) but not in "
                f"SO({self.n}); negate one column (x[:, 0] *= -1) or use "
                f"Stiefel({self.n}, {self.n}) for the whole orthogonal group"
            )
        return err

    def projection_onto_manifold(self, x):
        """The nearest rotation to x: u diag(1, …, 1, det(u vᵀ)) vᵀ from x = u s vᵀ."""
        xp = get_namespace(x)
        u, _, vh = xp.linalg.svd(x, full_matrices=False)
        det = xp.linalg.det(u @ vh)
        sign = xp.where(det < 0, -xp.ones_like(det), xp.ones_like(det))
        last = u[..., :, -1:] * sign[..., None, None]
        u = xp.concat([u[..., :, :-1], last], axis=-1)
        return u @ vh
