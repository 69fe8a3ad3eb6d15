r"""Powers (I + E)^α of a Gram matrix near the identity, from matrix products only.

The polar and Cayley retractions both need a function of the Gram matrix
G = yᴴy = I + E of their intermediate point y:

* polar:  y (I + E)^{-1/2}  (the orthonormal polar factor of y);
* Cayley: y (I + E)^{-1}    (see :meth:`orthopt.manifolds.Stiefel._retract_cayley`).

For a Hermitian E with ‖E‖₂ ≤ r < 1 the binomial series

    (I + E)^α = Σ_k c_k E^k,   c_k = binom(α, k),   |c_k| ≤ 1 for α ∈ {−1, −½},

converges, and truncating it after degree d leaves an error of at most
r^{d+1}/(1 − r) in the 2-norm. A retraction step makes E small (for x
orthonormal and v tangent, E = vᴴv, so ‖E‖₂ = ‖v‖₂²), so a low degree already
reaches the unit roundoff u. The polynomial is evaluated by Horner's rule in
E² (Paterson & Stockmeyer 1973 with s = 2): degree 2k costs k products
(E², then k − 1 products E²·(…)), and for real E the Hermitian E² = EᵀE is
a symmetric rank-k update (half a product) in NumPy.

Norm bound: r = min(‖E‖_F, ‖E²‖_F^{1/2}) ≥ ‖E‖₂ (E is normal), the second
term free once E² is formed.

One step y ← y·p_d(yᴴy − I) with p_d the degree-d truncation for α = −½ is
the order-(d + 1) member of the Newton–Schulz family (Björck & Bowie 1971;
Higham 2008, §8.3): the orthonormality error ‖E‖ becomes O(‖E‖^{d+1}).
:func:`polar_newton_schulz` picks d so that one step lands at working
precision and iterates only when ‖E‖ is too large for that.

References
----------
Å. Björck, C. Bowie (1971), An iterative algorithm for computing the best
estimate of an orthogonal matrix, SIAM J. Numer. Anal. 8(2). N. J. Higham
(2008), Functions of Matrices, SIAM. M. S. Paterson, L. J. Stockmeyer (1973),
On the number of nonscalar multiplications necessary to evaluate
polynomials, SIAM J. Comput. 2(1).
"""

from __future__ import annotations

import math

from .backend import conj_transpose, finfo_eps, get_namespace, is_complex_dtype, is_numpy
from .expm import add_scaled_identity

__all__ = ["binomial_degree", "gram_matrix", "gram_power", "polar_newton_schulz"]

# Degrees reachable with 1..8 products (Horner in E²); degree 1 needs none.
_MAX_PRODUCTS = 8


def gram_matrix(a):
    """aᴴa over the last two axes, shape (..., p, p).

    NumPy recognises aᵀa on one buffer and calls syrk: half the flops for one
    large matrix, but for a stack of small real matrices it runs syrk matrix by
    matrix at ~1.5 batched products (measured at 10 000 × 8 × 8), where a copy
    of one operand (~0.1) and a plain batched product (1) are cheaper.
    """
    xp = get_namespace(a)
    if a.ndim > 2 and a.shape[-1] <= 12 and is_numpy(xp) and not is_complex_dtype(xp, a.dtype):
        return conj_transpose(a) @ (a * 1)
    return conj_transpose(a) @ a


def _coefficients(alpha, degree):
    """binom(α, k) for k = 0..degree."""
    c = [1.0]
    for k in range(1, degree + 1):
        c.append(c[-1] * (alpha - k + 1) / k)
    return c


def binomial_degree(r, unit_roundoff):
    """Smallest even degree d (or 1) with r^{d+1}/(1 − r) ≤ unit_roundoff.

    Parameters
    ----------
    r : float
        Bound on ‖E‖₂.
    unit_roundoff : float
        Target truncation error (½ eps of the dtype).

    Returns
    -------
    int or None
        The degree; ``None`` when r ≥ 1 or no degree up to 2·8 = 16 suffices.
    """
    if not (0 <= r < 1):
        return None
    if r == 0:
        return 1
    for degree in (1,) + tuple(range(2, 2 * _MAX_PRODUCTS + 1, 2)):
        if r ** (degree + 1) / (1 - r) <= unit_roundoff:
            return degree
    return None


def _fro(a):
    xp = get_namespace(a)
    n = a.shape[-1] * a.shape[-2]
    return xp.linalg.vector_norm(xp.reshape(a, tuple(a.shape[:-2]) + (n,)), axis=-1)


def _square_hermitian(e):
    """e @ e for Hermitian e; as eᵀe for a real 2-D NumPy e (syrk: half the flops)."""
    xp = get_namespace(e)
    if e.ndim == 2 and is_numpy(xp) and not is_complex_dtype(xp, e.dtype):
        return xp.matrix_transpose(e) @ e
    return e @ e


def _horner(e, e2, coefficients):
    """Σ_{k≤d} c_k e^k, d even, by Horner's rule in e²: d/2 − 1 products after e².

    p = Σ_j B_j (e²)^j with B_j = c_{2j} I + c_{2j+1} e; the top block is c_d e².
    """
    degree = len(coefficients) - 1
    if degree == 1:
        return add_scaled_identity(coefficients[1] * e, coefficients[0])
    m = degree // 2
    acc = coefficients[degree] * e2
    acc += coefficients[degree - 1] * e
    acc = add_scaled_identity(acc, coefficients[degree - 2])
    for j in range(m - 2, -1, -1):
        acc = e2 @ acc
        acc += coefficients[2 * j + 1] * e
        acc = add_scaled_identity(acc, coefficients[2 * j])
    return acc


def _bound(e):
    """Largest ‖e‖_F over a stack, as a float (one host sync)."""
    xp = get_namespace(e)
    return float(xp.max(_fro(e))) if e.ndim > 2 else float(_fro(e))


def _gram_power(e, alpha, unit_roundoff):
    """(power or None, degree, bound on ‖e‖₂, e² or None)."""
    if e.ndim == 2:
        # one matrix: a cheap look at ‖e‖_F may save the product e²
        r = _bound(e)
        degree = binomial_degree(r, unit_roundoff)
        if degree == 1:
            return _horner(e, None, _coefficients(alpha, 1)), 1, r, None
        if not math.isfinite(r):
            return None, 0, r, None
    else:
        # a stack: a pass over it costs about as much as the product, which
        # gives the tighter bound ‖e‖₂ ≤ ‖e²‖_F^{1/2} ≤ ‖e‖_F anyway
        r = math.inf
    e2 = _square_hermitian(e)
    r = min(r, math.sqrt(_bound(e2)))
    degree = binomial_degree(r, unit_roundoff)
    if degree is None:
        return None, 0, r, e2
    return _horner(e, e2, _coefficients(alpha, max(degree, 2))), degree, r, e2


def gram_power(e, alpha, unit_roundoff=None):
    """(I + e)^α by the truncated binomial series, or ``None`` if e is too large.

    Parameters
    ----------
    e : array, shape (..., p, p), Hermitian (e = yᴴy − I)
    alpha : float
        −1 (inverse) or −½ (inverse square root); |binom(α, k)| ≤ 1.
    unit_roundoff : float, optional
        Truncation target; default ½ eps of e's dtype.

    Returns
    -------
    power : array, shape (..., p, p), or None
        None when the bound r on ‖e‖₂ is ≥ 1 or needs a degree above 16; the
        caller then uses a factorization.
    degree : int
        The degree used (0 when ``power`` is None).

    Notes
    -----
    One host sync (the norm bound, the largest over a stack).
    """
    xp = get_namespace(e)
    if unit_roundoff is None:
        unit_roundoff = finfo_eps(xp, e.dtype) / 2
    power, degree, _, _ = _gram_power(e, alpha, unit_roundoff)
    return power, degree


def polar_newton_schulz(a, gram=None, max_iterations=20):
    r"""Orthonormal polar factor a (aᴴa)^{-1/2} by high-order Newton–Schulz steps.

    Parameters
    ----------
    a : array, shape (..., n, p), n ≥ p
    gram : array, shape (..., p, p), optional
        aᴴa if already known.
    max_iterations : int
        Steps allowed before giving up.

    Returns
    -------
    array, shape (..., n, p), or None
        None when ‖aᴴa − I‖₂ is not below 1 (the series diverges): the caller
        falls back to an eigendecomposition.

    Notes
    -----
    Each step is y ← y·p_d(yᴴy − I), p_d the binomial series of (1 + e)^{-1/2}
    truncated at the degree that reaches working precision in this step when
    possible (:func:`gram_power`), else at degree 16, after which the Gram
    matrix is formed again. All work is matrix products.
    """
    xp = get_namespace(a)
    fresh = gram is None  # a Gram matrix of the caller's must not be modified
    if fresh:
        gram = gram_matrix(a)
    unit_roundoff = finfo_eps(xp, a.dtype) / 2
    y = a
    for _ in range(max_iterations):
        e = add_scaled_identity(gram if fresh else gram + 0.0, -1.0)
        fresh = True
        power, _, r, e2 = _gram_power(e, -0.5, unit_roundoff)
        if power is not None:
            return y @ power
        if not r < 1:
            return None
        # too far from orthonormal for one step: a degree-16 step, then again
        y = y @ _horner(e, e2, _coefficients(-0.5, 2 * _MAX_PRODUCTS))
        gram = gram_matrix(y)
    return None
