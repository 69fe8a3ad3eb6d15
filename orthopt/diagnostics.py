r"""Numerical checks that return verdicts: gradients, retractions, manifolds.

Each check returns an object with a ``passed`` flag and the numbers behind it,
so the same function serves a lecture (``.plot()`` the Taylor line) and a test
(``assert check.passed``).

The Taylor test
---------------
For a retraction R and a tangent direction d at x,

    f(R_x(t d)) = f(x) + t ⟨grad f(x), d⟩ + O(t²)

holds for every retraction (R_x(td) = x + td + O(t²)). So the error
E(t) = |f(R_x(td)) − f(x) − t⟨g, d⟩| decays with slope 2 on a log–log plot
when g is the Riemannian gradient, and with slope 1 when it is wrong. At very
small t rounding dominates (E ≈ eps·|f|, flat or rising); at large t higher
order terms do. :func:`check_gradient` fits the slope on the straightest
window in between.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .backend import conj_transpose, finfo_eps, get_namespace, to_float
from .hessian_check import HessianCheck, check_hessian

__all__ = [
    "GradientCheck",
    "HessianCheck",
    "RetractionCheck",
    "ManifoldCheck",
    "check_gradient",
    "check_hessian",
    "check_retraction",
    "check_manifold",
]


@dataclass
class GradientCheck:
    """Verdict of :func:`check_gradient`.

    Attributes
    ----------
    slope : float
        Fitted log–log slope of the Taylor error (≈ 2 for a correct gradient;
        NaN when the error stays at rounding level for every t).
    passed : bool
    t, errors : numpy.ndarray
        The step sizes and Taylor errors E(t).
    window : tuple of int
        Index range [start, stop) of the fitted points.
    tangent_error : float
        ‖g − P_x(g)‖/‖g‖: the Riemannian gradient must be tangent.
    message : str
    """

    slope: float
    passed: bool
    t: np.ndarray
    errors: np.ndarray
    window: tuple
    tangent_error: float
    message: str
    figure: object = None

    def plot(self, ax=None):
        """Log–log plot of E(t) with slope-1 and slope-2 guides (see :func:`orthopt.viz.plot_check`)."""
        from .viz import plot_check

        return plot_check(self, ax=ax)


@dataclass
class RetractionCheck:
    """Verdict of :func:`check_retraction`.

    Attributes
    ----------
    slope : float
        Log–log slope of ‖R_x(tv) − exp_x(tv)‖ (≥ 2: first-order retraction;
        ≥ 3: second order; inf when R is the exponential itself).
    order : float
        slope − 1: the order of agreement with the exponential map.
    passed : bool
        On the manifold, R_x(0) = x and first order.
    t, errors : numpy.ndarray
    zero_step_error : float
        ‖R_x(0) − x‖.
    feasibility : float
        Largest ‖R_x(tv)ᴴR_x(tv) − I‖ over the t grid.
    derivative_error : float
        ‖(R_x(hv) − R_x(−hv))/(2h) − v‖ at a small h (≈ 0: d/dt R_x(tv)|₀ = v).
    message : str
    """

    slope: float
    order: float
    passed: bool
    t: np.ndarray
    errors: np.ndarray
    zero_step_error: float
    feasibility: float
    derivative_error: float
    message: str

    def plot(self, ax=None):
        """Log–log plot of ‖R_x(tv) − exp_x(tv)‖ against t."""
        from .viz import plot_check

        return plot_check(self, ax=ax)


@dataclass
class ManifoldCheck:
    """Verdict of :func:`check_manifold`: one row per invariant."""

    manifold: object
    rows: list = field(default_factory=list)

    @property
    def passed(self):
        """True when every invariant holds within its tolerance."""
        return all(row[3] for row in self.rows)

    def __str__(self):
        lines = [f"check_manifold({self.manifold!r}): {'passed' if self.passed else 'FAILED'}"]
        width = max(len(r[0]) for r in self.rows)
        for name, value, tol, ok in self.rows:
            lines.append(f"  {name.ljust(width)}  {value:9.2e}  ≤ {tol:8.1e}  {'ok' if ok else 'FAIL'}")
        return "\n".join(lines)

    __repr__ = __str__


def _fit_slope(t, errors, floor, width):
    """Slope of the straightest window of ``width`` points above ``floor``."""
    logt, loge = np.log10(t), np.log10(np.maximum(errors, 1e-300))
    best = (math.nan, (0, 0), math.inf)
    for start in range(len(t) - width + 1):
        stop = start + width
        if np.any(errors[start:stop] <= floor):
            continue
        coeffs, residual, *_ = np.polyfit(logt[start:stop], loge[start:stop], 1, full=True)
        res = float(residual[0]) if len(residual) else 0.0
        if res < best[2]:
            best = (float(coeffs[0]), (start, stop), res)
    return best[0], best[1]


def _t_grid(eps):
    # the Taylor error drops below rounding around t ≈ eps^(1/2)
    low = -8.0 if eps < 1e-10 else -3.5
    return np.logspace(low, 0.0, 41)


def check_gradient(problem, x=None, d=None, plot=False, rng=None):
    """Taylor test of a problem's gradient: is the log–log slope 2?

    Parameters
    ----------
    problem : Problem
    x : array, shape (n, p), optional
        Point of the check (random when omitted).
    d : array, shape (n, p), optional
        Direction (a random unit tangent vector when omitted; projected
        onto the tangent space otherwise).
    plot : bool, default False
        Also draw the Taylor-error figure (stored in ``.figure``).
    rng : None, int or numpy.random.Generator

    Returns
    -------
    GradientCheck
        ``passed`` when the fitted slope is within 0.1 of 2 (0.25 for single
        precision) and the gradient is tangent.

    Examples
    --------
    >>> import numpy as np
    >>> from orthopt import Stiefel, Problem, check_gradient
    >>> A = np.diag(np.arange(1.0, 6.0))
    >>> problem = Problem(Stiefel(5, 2), lambda x: np.trace(x.T @ A @ x),
    ...                   euclidean_gradient=lambda x: 2 * A @ x)
    >>> check_gradient(problem, rng=0).passed
    True
    """
    manifold = problem.manifold
    rng = np.random.default_rng(rng)
    if x is None:
        x = manifold.random_point(rng=rng)
    xp = get_namespace(x)
    eps = finfo_eps(xp, x.dtype)
    if d is None:
        d = manifold.random_tangent_vector(x, rng=rng)
    else:
        d = manifold.projection(x, d)
    f0, g = problem.cost_and_riemannian_gradient(x)
    f0 = to_float(f0)
    slope0 = to_float(manifold.inner_product(x, g, d))
    g_norm = to_float(manifold.norm(x, g))
    tangent_error = to_float(manifold.norm(x, g - manifold.projection(x, g))) / max(g_norm, 1e-300)

    t = _t_grid(eps)
    errors = np.array([
        abs(to_float(problem.cost(manifold.retraction(x, float(ti) * d))) - f0 - ti * slope0)
        for ti in t
    ])
    floor = 100 * eps * max(1.0, abs(f0))
    if not (math.isfinite(f0) and math.isfinite(g_norm) and np.all(np.isfinite(errors))):
        # NaN compares false everywhere: without this a NaN cost read as "exact"
        passed = False
        if not math.isfinite(f0):
            message = f"the cost at x is {f0}: fix the cost before checking its gradient"
        elif not math.isfinite(g_norm):
            message = "the gradient at x has non-finite entries"
        else:
            bad = float(t[np.flatnonzero(~np.isfinite(errors))[0]])
            message = f"the cost is not finite along the curve R_x(t d) at t = {bad:.1e}"
        return GradientCheck(math.nan, passed, t, errors, (0, 0), tangent_error, message)
    slope, window = _fit_slope(t, errors, floor, width=8)
    tol = 0.1 if eps < 1e-10 else 0.25
    tangent_ok = tangent_error <= math.sqrt(eps)
    if math.isnan(slope):
        passed = tangent_ok and bool(np.all(errors <= 10 * floor))
        message = "Taylor error at rounding level for every t: the first-order model is exact"
    else:
        passed = tangent_ok and abs(slope - 2.0) <= tol
        message = f"Taylor error slope {slope:.3f} (expected 2 ± {tol})"
    if not tangent_ok:
        message += f"; the gradient is not tangent (relative normal part {tangent_error:.1e})"
    result = GradientCheck(slope, passed, t, errors, window, tangent_error, message)
    if plot:
        result.figure = result.plot().figure
    return result


def check_retraction(manifold, x=None, v=None, rng=None):
    """Check that ``manifold.retraction`` is a retraction and measure its order.

    Parameters
    ----------
    manifold : Manifold
    x : array, shape (n, p), optional
    v : array, shape (n, p), optional
        Tangent direction (random unit vector when omitted).
    rng : None, int or numpy.random.Generator

    Returns
    -------
    RetractionCheck
        ``passed`` when R_x(tv) stays on the manifold (to 100·eps·√n),
        R_x(0) = x, d/dt R_x(tv)|₀ = v, and ‖R_x(tv) − exp_x(tv)‖ = O(t²).
    """
    rng = np.random.default_rng(rng)
    if x is None:
        x = manifold.random_point(rng=rng)
    if v is None:
        v = manifold.random_tangent_vector(x, rng=rng)
    xp = get_namespace(x)
    eps = finfo_eps(xp, x.dtype)
    scale = math.sqrt(max(manifold.n, 2))
    t = np.logspace(-4 if eps < 1e-10 else -2, 0, 21)
    errors, feas = [], 0.0
    for ti in t:
        r = manifold.retraction(x, float(ti) * v)
        errors.append(to_float(manifold.norm(x, r - manifold.exp(x, float(ti) * v))))
        feas = max(feas, manifold.feasibility(r))
    errors = np.asarray(errors)
    zero_err = to_float(manifold.norm(x, manifold.retraction(x, 0.0 * v) - x))
    h = eps ** (1 / 3)
    deriv = (manifold.retraction(x, h * v) - manifold.retraction(x, -h * v)) / (2 * h)
    deriv_err = to_float(manifold.norm(x, deriv - v)) / max(to_float(manifold.norm(x, v)), 1e-300)
    floor = 100 * eps * scale
    slope, _ = _fit_slope(t, errors, floor, width=6)
    if math.isnan(slope):
        slope = math.inf  # agrees with exp to rounding: R is the exponential
    tol = 100 * eps * scale
    passed = (feas <= tol and zero_err <= tol and slope >= 1.9
              and deriv_err <= 100 * eps ** (2 / 3))
    message = (f"order {slope - 1:.2f} agreement with exp; feasibility {feas:.1e}; "
               f"‖R(0) − x‖ = {zero_err:.1e}; first-order error {deriv_err:.1e}")
    return RetractionCheck(slope, slope - 1, passed, t, errors, zero_err, feas, deriv_err, message)


def check_manifold(manifold, rng=None, dtype=None, like=None):
    """Run every invariant of a manifold and report each with its tolerance.

    Checked: points are feasible; projections are idempotent and tangent
    (xᴴP(u) skew-Hermitian); random tangent vectors are tangent and of unit
    norm; the inner product is symmetric and consistent with the norm; the
    Riemannian gradient is the projected Euclidean one; transported vectors
    are tangent; the retraction and the exponential land on the manifold,
    R_x(0) = x, and R is first order; log inverts exp (where defined).

    Parameters
    ----------
    manifold : Manifold
    rng : None, int or numpy.random.Generator
    dtype : dtype, optional
        Of the random points (default float64 / complex128).
    like : array, optional
        Template for the namespace and device.

    Returns
    -------
    ManifoldCheck
        ``passed`` and one row (name, value, tolerance, ok) per invariant;
        ``print`` it for a table.
    """
    rng = np.random.default_rng(rng)
    x = manifold.random_point(rng=rng, dtype=dtype, like=like)
    y = manifold.random_point(rng=rng, dtype=dtype, like=like)
    xp = get_namespace(x)
    eps = finfo_eps(xp, x.dtype)
    tol = 100 * eps * math.sqrt(manifold.n * manifold.p)
    u = manifold._gaussian(x.shape, rng, xp, x.dtype, x)
    pu = manifold.projection(x, u)
    v = manifold.random_tangent_vector(x, rng=rng)
    w = manifold.random_tangent_vector(x, rng=rng)

    def skew_defect(point, vec):
        a = conj_transpose(point) @ vec
        return to_float(xp.linalg.matrix_norm(a + conj_transpose(a)))

    check = ManifoldCheck(manifold)

    def row(name, value, tolerance):
        value = float(value)
        check.rows.append((name, value, tolerance, bool(value <= tolerance)))

    unorm = to_float(manifold.norm(x, u))
    row("point feasibility ‖xᴴx − I‖", manifold.feasibility(x), tol)
    row("projection idempotent", to_float(manifold.norm(x, manifold.projection(x, pu) - pu)), tol * unorm)
    row("projection tangent", skew_defect(x, pu), tol * unorm)
    # a tangent vector built from the definition T_x = {xΩ + (I − xxᴴ)K}, independent of
    # manifold.projection: an orthogonal projection must leave it unchanged
    k = manifold._gaussian(x.shape, rng, xp, x.dtype, x)
    omega = conj_transpose(x) @ k
    xi = x @ ((omega - conj_transpose(omega)) / 2) + (k - x @ omega)
    xi_norm = to_float(manifold.norm(x, xi))
    row("projection fixes tangent vectors", to_float(manifold.norm(x, manifold.projection(x, xi) - xi)),
        tol * xi_norm)
    row("random tangent vector tangent", skew_defect(x, v), tol)
    row("random tangent vector unit norm", abs(to_float(manifold.norm(x, v)) - 1.0) if manifold.dim else 0.0, tol)
    row("inner product symmetric", abs(to_float(manifold.inner_product(x, v, w))
                                       - to_float(manifold.inner_product(x, w, v))), tol)
    row("norm² = ⟨v, v⟩", abs(to_float(manifold.norm(x, v)) ** 2
                              - to_float(manifold.inner_product(x, v, v))), tol)
    # embedded metric: grad f = ∇f − x herm(xᴴ∇f) (the orthogonal projection of ∇f)
    xh_u = conj_transpose(x) @ u
    reference_gradient = u - x @ ((xh_u + conj_transpose(xh_u)) / 2)
    row("Riemannian gradient = P_x(∇f)",
        to_float(manifold.norm(x, manifold.euclidean_to_riemannian_gradient(x, u) - reference_gradient)),
        tol * unorm)
    row("transport lands in T_y", skew_defect(y, manifold.transport(x, y, v)), tol)
    retraction = check_retraction(manifold, x=x, v=v)
    row("retraction feasibility", retraction.feasibility, tol)
    row("‖R_x(0) − x‖", retraction.zero_step_error, tol)
    row("d/dt R_x(tv)|₀ − v", retraction.derivative_error, 100 * eps ** (2 / 3))
    row("exp feasibility", manifold.feasibility(manifold.exp(x, v)), tol)
    if manifold.p == manifold.n:
        small = 0.5 * v
        back = manifold.log(x, manifold.exp(x, small))
        row("log_x(exp_x(v)) = v", to_float(manifold.norm(x, back - small)), tol)
    return check
