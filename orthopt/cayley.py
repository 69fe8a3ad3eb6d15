r"""The Cayley retraction of a square point, with one symmetric positive solve.

For x ∈ O(n) (U(n)) and a tangent v = xΩ (Ω skew-Hermitian) the Cayley
retraction is

    R_x(v) = x (I − Ω/2)⁻¹ (I + Ω/2) = 2 x (I − Ω/2)⁻¹ − x.

The skew structure turns the general solve into a Hermitian positive
definite one. With y = x + v/2 = x(I + Ω/2) and xᴴx = I,

    (I + Ω/2)ᴴ(I + Ω/2) = I − Ω²/4 = I + ΩᴴΩ/4 = I + vᴴv/4 =: G,
    y G⁻¹ = x (I + Ω/2)(I + Ω/2)⁻¹(I − Ω/2)⁻¹ = x (I − Ω/2)⁻¹,

so R_x(v) = 2 y G⁻¹ − x: no product xᴴv, one Gram matrix vᴴv (a symmetric
rank-k update, half a product) and G⁻¹ applied to y.

Why G is formed from v and not as yᴴy (equal when xᴴx = I): the points of
a long run carry a rounding-level drift xᴴx = I + F. With G = yᴴy the step
would normalize by I + F inside y G⁻¹ but not in the −x term, which gives
RᴴR − I ≈ F − 4F: the drift triples every step and a run of a few dozen
steps leaves the manifold (measured: ‖xᴴx − I‖ = 4 after 33 steps on
SO(16)). With G = I + vᴴv/4 the step is x·cay(Ω) up to O(‖F‖‖Ω‖²): the
drift is carried along once, a random walk like every multiplicative
retraction's (lesson 2).

G⁻¹ is applied

* on NumPy, one matrix: by a Cholesky factorization G = LLᴴ and two
  triangular solves (LAPACK potrf + potrs), the cheapest route measured on
  a CPU;
* elsewhere (stacks, CuPy, array-api-strict): by the binomial series
  G⁻¹ = Σ(−E)^k, E = vᴴv/4, truncated at working precision
  (:func:`orthopt.binomial.gram_power`): matrix products only. A step with
  ‖v‖₂ ≳ 1.6 (‖E‖₂ too close to 1) takes a linear solve instead.
* SO(3): the closed form of :func:`orthopt.so3.cayley_so3`.

The formula uses v = xΩ, i.e. v tangent and x orthonormal, as every
retraction does; a non-tangent v would not give an orthogonal result.

Reference: Wen & Yin (2013), A feasible method for optimization with
orthogonality constraints, Math. Program. 142 (the Cayley transform with
the Sherman–Morrison–Woodbury form, used by the tall Stiefel route).
"""

from __future__ import annotations

import numpy as np

from .backend import conj_transpose, get_namespace, is_complex_dtype, is_numpy
from .expm import add_scaled_identity
from .binomial import gram_matrix, gram_power
from .so3 import cayley_so3

__all__ = ["cayley_square"]


def cayley_square(x, v):
    """Cayley retraction 2 y (I + vᴴv/4)⁻¹ − x, y = x + v/2, of square orthogonal/unitary x.

    Parameters
    ----------
    x : array, shape (..., n, n), xᴴx = I
    v : array, shape (..., n, n), tangent at x (xᴴv skew-Hermitian)

    Returns
    -------
    array, shape (..., n, n), same dtype and device as x
    """
    xp = get_namespace(x, v)
    n = x.shape[-1]
    if n == 3 and not is_complex_dtype(xp, x.dtype):
        omega = conj_transpose(x) @ v
        return x @ cayley_so3((omega - conj_transpose(omega)) / 2)
    half = v / 2
    y = x + half
    quarter = gram_matrix(half)  # vᴴv/4; G = I + vᴴv/4, see the module docstring
    if is_numpy(xp) and x.ndim == 2:
        import scipy.linalg

        # G Zᴴ = yᴴ with G = LLᴴ: potrf, then potrs (two triangular solves)
        gram = add_scaled_identity(quarter, 1.0)
        factor = scipy.linalg.cho_factor(gram, lower=True, check_finite=False)
        z = conj_transpose(scipy.linalg.cho_solve(factor, conj_transpose(y), check_finite=False))
        return np.asarray(2 * z - x, dtype=x.dtype)
    power, _ = gram_power(quarter, -1.0)
    if power is None:
        gram = add_scaled_identity(quarter, 1.0)
        z = conj_transpose(xp.linalg.solve(gram, conj_transpose(y)))
    else:
        z = y @ power
    return 2 * z - x
