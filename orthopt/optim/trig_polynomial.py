r"""A cost along one rotation: the trigonometric polynomial of degree 2.

Rotating x by a Givens rotation of angle θ in one plane — rows i, j of x
for the left action G(θ)x, columns i, j for the right action xG(θ) — moves
the two rows (columns) linearly in (cos θ, sin θ) and leaves the rest of x
fixed. If f is a polynomial of degree ≤ 2 in the entries of x (Brockett
tr(xᴴAxN), Procrustes ‖Ax − B‖², PCA, any quadratic plus linear term), then

    f(θ) = a + b₁ cos θ + c₁ sin θ + b₂ cos 2θ + c₂ sin 2θ,

a trigonometric polynomial of degree 2 in θ (degree 1 for linear costs):
products of the two moving rows give the cos 2θ, sin 2θ terms and their
coupling with the fixed part of x the cos θ, sin θ terms.

Fitting (:func:`fit_trig2`). The five coefficients come from f(0) and
f'(0) = c₁ + 2c₂ — both known to the solver — and three cost values at the
well-conditioned angles θ = π/2, π, −π/2 (orthogonal sampling: each
coefficient is a sum or a difference of two values):

    b₁ = (f(0) − f(π))/2,          a + b₂ = (f(0) + f(π))/2,
    a − b₂ = (f(π/2) + f(−π/2))/2,  c₁ = (f(π/2) − f(−π/2))/2,   c₂ = (f'(0) − c₁)/2.

Minimizing (:func:`minimize_trig2`). The global minimizer on the circle is
found in closed form: with z = e^{iθ}, z²f'(θ) is a polynomial of degree 4
in z whose unit-modulus roots are the critical points.

For a cost that is not of this form the fitted polynomial only interpolates
f, and the solver's acceptance test keeps the method monotone.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["fit_trig2", "trig2", "minimize_trig2"]

#: the sample angles of :func:`fit_trig2`, in the order it takes their values
SAMPLE_ANGLES = (math.pi / 2, math.pi, -math.pi / 2)


def fit_trig2(f0, slope, f_half, f_pi, f_minus_half):
    r"""Coefficients (a, b₁, c₁, b₂, c₂) of the degree-2 trigonometric polynomial through samples.

    Parameters
    ----------
    f0, slope : float
        f(0) and f'(0).
    f_half, f_pi, f_minus_half : float
        f(π/2), f(π), f(−π/2).

    Returns
    -------
    tuple of 5 floats, or None
        None when a sample is not finite: there is no model to minimize (the
        caller falls back to a backtracking search along the coordinate).
    """
    values = (f0, slope, f_half, f_pi, f_minus_half)
    if not all(math.isfinite(v) for v in values):
        return None
    b1 = (f0 - f_pi) / 2
    a_plus_b2 = (f0 + f_pi) / 2
    a_minus_b2 = (f_half + f_minus_half) / 2
    c1 = (f_half - f_minus_half) / 2
    return ((a_plus_b2 + a_minus_b2) / 2, b1, c1, (a_plus_b2 - a_minus_b2) / 2,
            (slope - c1) / 2)


def trig2(coef, theta):
    """f(θ) = a + b₁cos θ + c₁sin θ + b₂cos 2θ + c₂sin 2θ (θ a float or an array)."""
    a, b1, c1, b2, c2 = coef
    return (a + b1 * np.cos(theta) + c1 * np.sin(theta)
            + b2 * np.cos(2 * theta) + c2 * np.sin(2 * theta))


def minimize_trig2(coef):
    r"""Global minimizer on (−π, π] of f(θ) = a + b₁cos θ + c₁sin θ + b₂cos 2θ + c₂sin 2θ.

    Parameters
    ----------
    coef : sequence of 5 finite floats
        (a, b₁, c₁, b₂, c₂).

    Returns
    -------
    theta : float
        A global minimizer (0 when f is constant).
    value : float
        f(θ).

    Raises
    ------
    ValueError
        When a coefficient is not finite (the companion eigenproblem of the
        roots would fail inside LAPACK).

    Notes
    -----
    With z = e^{iθ}, z² f'(θ) = d₂z⁴ + d₁z³ + d̄₁z + d̄₂ with d₂ = c₂ + i b₂ and
    d₁ = (c₁ + i b₁)/2: the critical points are the unit-modulus roots of
    this quartic. Its roots (numpy.roots, a 4×4 companion eigenproblem) are
    projected onto the circle, polished by two Newton steps on f', and the
    best of them (and θ = 0) is returned.
    """
    a, b1, c1, b2, c2 = (float(v) for v in coef)
    if not all(math.isfinite(v) for v in (a, b1, c1, b2, c2)):
        raise ValueError(f"the trigonometric polynomial has non-finite coefficients "
                         f"{(a, b1, c1, b2, c2)}; fit it from finite cost values "
                         f"(fit_trig2 returns None otherwise)")
    poly = [c2 + 1j * b2, (c1 + 1j * b1) / 2, 0.0, (c1 - 1j * b1) / 2, c2 - 1j * b2]
    scale = max(abs(p) for p in poly)
    if scale == 0.0:
        return 0.0, a + b1 + b2
    poly = [p / scale for p in poly]
    while abs(poly[0]) <= 1e-14:
        poly = poly[1:]
    candidates = [0.0]
    if len(poly) > 1:
        candidates.extend(np.angle(np.roots(poly)).tolist())
    coef = (a, b1, c1, b2, c2)
    best_theta, best_value = 0.0, trig2(coef, 0.0)
    for theta in candidates:
        for _ in range(2):
            d1 = -b1 * math.sin(theta) + c1 * math.cos(theta) \
                - 2 * b2 * math.sin(2 * theta) + 2 * c2 * math.cos(2 * theta)
            d2 = -b1 * math.cos(theta) - c1 * math.sin(theta) \
                - 4 * b2 * math.cos(2 * theta) - 4 * c2 * math.sin(2 * theta)
            if d2 > 0:
                theta -= d1 / d2
        value = trig2(coef, theta)
        if value < best_value:
            best_theta, best_value = theta, value
    return math.remainder(best_theta, 2 * math.pi), float(best_value)
