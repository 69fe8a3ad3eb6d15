r"""The unitary group U(n) = {x ∈ ℂ^{n×n} : xᴴx = I}.

Geometry (bi-invariant metric)
------------------------------
* U(n) = St(n, n) over ℂ: :class:`~orthopt.manifolds.Stiefel` with
  ``field="complex"`` and p = n, so all of its formulas apply.
* Tangent space at x: {xΩ : Ω ∈ u(n)}, u(n) the skew-Hermitian matrices
  (Ωᴴ = −Ω: imaginary diagonal, off-diagonal Ω_ji = −conj(Ω_ij)); real
  dimension n².
* Metric: ⟨u, v⟩ = Re tr(uᴴv). Projection: x skew(xᴴu), skew(a) = ½(a − aᴴ).
* exp_x(v) = x expm(xᴴv); log_x(y) = x logm(xᴴy) (principal branch),
  dist = ‖logm(xᴴy)‖_F. U(n) is connected, but the log is unique only when
  xᴴy has no eigenvalue −1; on that cut locus :meth:`~Unitary.log` raises.
* Retractions: exp, Cayley, QR, polar, and a Givens sweep of complex
  rotations [[c, s], [−s̄, c]] after the diagonal phases exp(Ω_ii).

Random points: the Q factor (diag(R) > 0) of a standard complex Gaussian
matrix is Haar distributed on U(n) (Mezzadri 2007).
"""

from __future__ import annotations

import math

from .stiefel import Stiefel

__all__ = ["Unitary"]


class Unitary(Stiefel):
    """The unitary group U(n) of n×n complex matrices with xᴴx = I.

    Parameters
    ----------
    n : int
        Size of the matrices, n ≥ 1.
    retraction : {"exp", "cayley", "qr", "polar", "givens"}, default "exp"

    Notes
    -----
    Points are complex64 or complex128 arrays.
    """

    def __init__(self, n, retraction="exp"):
        super().__init__(n, n, retraction=retraction, field="complex")

    def __repr__(self):
        return f"Unitary({self.n}, retraction={self.retraction_name!r})"

    @property
    def typical_dist(self):
        """π√n, Manopt's (rotationsfactory, unitaryfactory): the rotation by π in
        every plane of ℝⁿ is about that far from the identity. Trust regions take
        their largest radius from it."""
        return math.pi * math.sqrt(self.n)

    @property
    def dim(self):
        """n² (as a real manifold)."""
        return self.n * self.n
