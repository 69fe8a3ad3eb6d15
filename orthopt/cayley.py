r"""The Cayley retraction of a square point: x times an exactly built Cayley factor.

For x ∈ O(n) (U(n)) and a tangent v the Cayley retraction is

    R_x(v) = x (I − Ω/2)⁻¹ (I + Ω/2) = 2 x (I − Ω/2)⁻¹ − x,   Ω = skew(xᴴv).

Ω is formed from xᴴv and made exactly skew-Hermitian, so the factor that
multiplies x is orthogonal (unitary) to rounding whatever x and v are: a
rounding-level drift xᴴx = I + F of a long run is carried along once (a
√k random walk), never amplified, and a non-tangent v is projected. Two
cheaper-looking forms that avoid xᴴv — 2y(yᴴy)⁻¹ − x and
2y(I + vᴴv/4)⁻¹ − x with y = x + v/2, equal in exact arithmetic when
xᴴx = I and v = xΩ — multiply the drift by up to 3 per step (and the second
breaks on a non-tangent v): measured, a Procrustes solve on SO(200) ended
infeasible with ‖xᴴx − I‖ = 1.5e-7.

(I − Ω/2)⁻¹ is applied

* on NumPy (one matrix or a stack): by one LU solve with n right-hand
  sides, (x (I − Ω/2)⁻¹)ᴴ = (I + Ω/2)⁻¹ xᴴ (LAPACK gesv; measured cheaper
  on a CPU than the product route, also for stacks of 8×8 matrices);
* elsewhere (CuPy, array-api-strict): with the skew structure,
  (I − Ω/2)⁻¹ = (I + Ω/2)(I + ΩᴴΩ/4)⁻¹ — the Hermitian positive definite
  I + ΩᴴΩ/4 is inverted by the binomial series truncated at working
  precision (:func:`orthopt.binomial.gram_power`), so the route is matrix
  products only; ‖Ω‖₂ ≳ 1.6 takes a linear solve instead;
* SO(3): the closed form of :func:`orthopt.so3.cayley_so3`.

Reference: Wen & Yin (2013), A feasible method for optimization with
orthogonality constraints, Math. Program. 142 (the Cayley transform with
the Sherman–Morrison–Woodbury form, used by the tall Stiefel route).
"""

from __future__ import annotations

from .backend import conj_transpose, get_namespace, is_complex_dtype, is_numpy
from .binomial import gram_matrix, gram_power
from .expm import add_scaled_identity
from .so3 import cayley_so3

__all__ = ["cayley_square"]


def cayley_square(x, v):
    """Cayley retraction 2 x (I − Ω/2)⁻¹ − x, Ω = skew(xᴴv), of square orthogonal/unitary x.

    Parameters
    ----------
    x : array, shape (..., n, n), xᴴx = I
    v : array, shape (..., n, n), tangent at x (its normal part is projected out)

    Returns
    -------
    array, shape (..., n, n), same dtype and device as x
    """
    xp = get_namespace(x, v)
    xh_v = conj_transpose(x) @ v
    omega = (xh_v - conj_transpose(xh_v)) / 2
    if x.shape[-1] == 3 and not is_complex_dtype(xp, x.dtype):
        return x @ cayley_so3(omega)
    half_plus = add_scaled_identity(omega / 2, 1.0)  # I + Ω/2 = (I − Ω/2)ᴴ
    if not is_numpy(xp):
        power, _ = gram_power(gram_matrix(omega) / 4, -1.0)  # (I + ΩᴴΩ/4)⁻¹
        if power is not None:
            z = x @ (half_plus @ power)  # x (I − Ω/2)⁻¹
            return 2 * z - x
    z_h = xp.linalg.solve(half_plus, conj_transpose(x))
    return 2 * conj_transpose(z_h) - x
