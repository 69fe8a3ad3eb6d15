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

__all__ = ["fit_trig2", "trig2", "minimize_trig2", "fit_trig2_batch", "minimize_trig2_batch"]

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
    # one arithmetic for one model and for a batch of them: a batched run of Givens
    # coordinate descent then takes the angles of the single runs, to the last bit
    theta, value = minimize_trig2_batch(np.asarray([[a], [b1], [c1], [b2], [c2]]))
    return float(theta[0]), float(value[0])


def fit_trig2_batch(f0, slope, f_half, f_pi, f_minus_half):
    """:func:`fit_trig2` for m models at once: coefficients of shape (5, m), and the mask of
    the models with finite samples (the other columns are not to be used).

    Parameters
    ----------
    f0, slope, f_half, f_pi, f_minus_half : numpy.ndarray of float64, shape (m,)

    Returns
    -------
    coef : numpy.ndarray, shape (5, m)
        (a, b₁, c₁, b₂, c₂) per model, the arithmetic of :func:`fit_trig2`.
    finite : numpy.ndarray of bool, shape (m,)
    """
    finite = np.isfinite(f0) & np.isfinite(slope) & np.isfinite(f_half) & np.isfinite(f_pi) \
        & np.isfinite(f_minus_half)
    with np.errstate(invalid="ignore", over="ignore"):
        b1 = (f0 - f_pi) / 2
        a_plus_b2 = (f0 + f_pi) / 2
        a_minus_b2 = (f_half + f_minus_half) / 2
        c1 = (f_half - f_minus_half) / 2
        coef = np.stack([(a_plus_b2 + a_minus_b2) / 2, b1, c1, (a_plus_b2 - a_minus_b2) / 2,
                         (slope - c1) / 2])
    return np.where(finite, coef, 0.0), finite


def minimize_trig2_batch(coef):
    r""":func:`minimize_trig2` for m models at once (one batched 4×4 eigenproblem).

    Parameters
    ----------
    coef : numpy.ndarray, shape (5, m), finite
        (a, b₁, c₁, b₂, c₂) per model.

    Returns
    -------
    theta, value : numpy.ndarray, shape (m,)
        A global minimizer per model and f(θ).

    Notes
    -----
    The steps of :func:`minimize_trig2` (which calls this function): the
    roots of the normalized quartics (the companion matrices of
    ``numpy.roots``, all m at once), two Newton steps on f' from each root's
    angle and from 0, the first best candidate. A model whose leading
    coefficient vanishes (a quartic of lower degree) takes its own
    ``numpy.roots``; a constant model returns θ = 0.
    """
    coef = np.asarray(coef, dtype=np.float64)
    if not np.all(np.isfinite(coef)):
        raise ValueError("the trigonometric polynomials have non-finite coefficients; fit "
                         "them from finite cost values (see fit_trig2_batch's mask)")
    a, b1, c1, b2, c2 = coef
    m = a.shape[0]
    poly = np.stack([c2 + 1j * b2, (c1 + 1j * b1) / 2, np.zeros(m, dtype=complex),
                     (c1 - 1j * b1) / 2, c2 - 1j * b2], axis=1)
    scale = np.abs(poly).max(axis=1)
    theta, value = np.zeros(m), a + b1 + b2
    constant = scale == 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        poly = poly / np.where(constant, 1.0, scale)[:, None]
    quartic = ~constant & (np.abs(poly[:, 0]) > 1e-14)
    rows = np.flatnonzero(quartic)
    if len(rows):
        companion = np.zeros((len(rows), 4, 4), dtype=complex)
        companion[:, 1:, :-1] = np.eye(3)
        companion[:, 0, :] = -poly[rows, 1:] / poly[rows, :1]
        candidates = np.concatenate([np.zeros((len(rows), 1)),
                                     np.angle(np.linalg.eigvals(companion))], axis=1)
        theta[rows], value[rows] = _best_candidate(coef[:, rows], candidates)
    for row in np.flatnonzero(~constant & ~quartic):
        p = poly[row]
        while abs(p[0]) <= 1e-14:
            p = p[1:]
        candidates = np.concatenate([[0.0], np.angle(np.roots(p))]) if len(p) > 1 else \
            np.zeros(1)
        theta[row:row + 1], value[row:row + 1] = _best_candidate(coef[:, row:row + 1],
                                                                 candidates[None, :])
    return theta, value


def _best_candidate(coef, candidates):
    """Polish the candidate angles (r, c) by two Newton steps on f' where f'' > 0 and
    return the first best of them and θ = 0 per model, in (−π, π]."""
    a, b1, c1, b2, c2 = (v[:, None] for v in coef)
    for _ in range(2):
        d1 = -b1 * np.sin(candidates) + c1 * np.cos(candidates) \
            - 2 * b2 * np.sin(2 * candidates) + 2 * c2 * np.cos(2 * candidates)
        d2 = -b1 * np.cos(candidates) - c1 * np.sin(candidates) \
            - 4 * b2 * np.cos(2 * candidates) - 4 * c2 * np.sin(2 * candidates)
        with np.errstate(invalid="ignore", divide="ignore"):
            candidates = np.where(d2 > 0, candidates - d1 / d2, candidates)
    values = trig2((a, b1, c1, b2, c2), candidates)
    best_theta = np.zeros(candidates.shape[0])
    best_value = trig2(tuple(coef), 0.0)
    for column in range(candidates.shape[1]):  # in order: the first best wins
        better = values[:, column] < best_value
        best_theta = np.where(better, candidates[:, column], best_theta)
        best_value = np.where(better, values[:, column], best_value)
    return np.asarray([math.remainder(t, 2 * math.pi) for t in best_theta.tolist()]), \
        best_value
