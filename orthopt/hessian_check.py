r"""The second-order Taylor test: :func:`check_hessian` (re-exported by :mod:`orthopt.diagnostics`).

Along a geodesic γ(t) = exp_x(t v), which has zero acceleration,

    f(γ(t)) = f(x) + t⟨grad f(x), v⟩ + t²/2 ⟨Hess f(x)[v], v⟩ + O(t³),

so the error of the second-order model decays with slope 3 on a log–log
plot when the Hessian is right and with slope 2 when ⟨Hess f(x)[v], v⟩ is
wrong (Absil, Mahony & Sepulchre 2008, §5.5 and §7.1). Where the slope is
read matters more than for the gradient test: at small t the error is
rounding, and at t ~ 1 a wrong Hessian's t² error is overtaken by the t³
term, which looks like slope 3. :func:`check_hessian` therefore models what
the computed error cannot resolve — the rounding of f and of the derivatives
under test — and fits the first window that stands clear of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .backend import finfo_eps, get_namespace, is_complex_dtype, is_numpy, to_float
from .manifolds.points import as_point, map_leaves, point_eps, point_namespace

__all__ = ["HessianCheck", "check_hessian"]


@dataclass
class HessianCheck:
    """Verdict of :func:`check_hessian`.

    Attributes
    ----------
    slope : float
        Fitted log–log slope of the second-order Taylor error (≈ 3 for a
        correct Hessian, ≈ 2 for a wrong one; NaN when the error stays at
        rounding level for every t).
    passed : bool
        Slope 3, symmetric and tangent.
    t, errors : numpy.ndarray
        The step sizes and Taylor errors E(t).
    window : tuple of int
        Index range [start, stop) of the fitted points.
    symmetry_error : float
        |⟨Hess[u], v⟩ − ⟨u, Hess[v]⟩| / (‖Hess[u]‖‖v‖ + ‖u‖‖Hess[v]‖).
    tangent_error : float
        ‖Hess[v] − P_x(Hess[v])‖ / ‖Hess[v]‖.
    finite_difference : bool
        The Hessian-vector products were central differences of the gradient
        (no ``euclidean_hessian`` and a hand gradient): accurate to about
        eps^{2/3}, so the symmetry tolerance is looser.
    curve : str
        "exp" (the Taylor model holds to O(t³) along geodesics) or
        "retraction" (a manifold without an exponential map: exact to O(t³)
        only for second-order retractions or at a critical point).
    message : str
    """

    slope: float
    passed: bool
    t: np.ndarray
    errors: np.ndarray
    window: tuple
    symmetry_error: float
    tangent_error: float
    finite_difference: bool
    curve: str
    message: str
    figure: object = None
    #: reference slopes drawn by :meth:`plot`
    guide_slopes = (2, 3)

    def plot(self, ax=None):
        """Log–log plot of E(t) with slope-2 and slope-3 guides.

        See :func:`orthopt.viz.plot_check`; the title is the wrapped message.
        """
        import textwrap

        from .viz import plot_check

        ax = plot_check(self, ax=ax)
        ax.set_title(textwrap.fill(self.message, 72), fontsize=8)
        return ax


def check_hessian(problem, x=None, v=None, plot=False, rng=None):
    r"""Check a problem's Riemannian Hessian: Taylor slope 3, symmetry, tangency.

    Along the geodesic γ(t) = exp_x(t v),

        E(t) = |f(γ(t)) − f(x) − t⟨grad f(x), v⟩ − t²/2 ⟨Hess f(x)[v], v⟩| = O(t³)

    when ``Hess`` is right, and only O(t²) when ⟨Hess f(x)[v], v⟩ is wrong
    (Absil, Mahony & Sepulchre 2008, §5.5; the model needs a second-order
    curve, which the exponential map is). Two more invariants of a Riemannian
    Hessian: it is self-adjoint, ⟨Hess[u], v⟩ = ⟨u, Hess[v]⟩, and Hess[v] is
    tangent at x. The Hessian is what solvers use: :meth:`Problem.at` (x)
    ``.hess(v)`` — the user's ``euclidean_hessian``, autograd's
    Hessian-vector product, or a central difference of a hand gradient —
    plus the manifold's Weingarten term.

    Parameters
    ----------
    problem : Problem
    x : array, shape (n, p), optional
        Point of the check (random, in ``problem``'s float64/complex128, when omitted);
        on a product, a tuple of arrays.
    v : array, shape (n, p), optional
        Direction (a random unit tangent vector when omitted; projected
        onto the tangent space otherwise). The symmetry test pairs it with a
        second random tangent vector.
    plot : bool, default False
        Also draw the Taylor-error figure (stored in ``.figure``).
    rng : None, int or numpy.random.Generator

    Returns
    -------
    HessianCheck
        ``passed`` when the fitted slope is at least 3 − 0.15 (3 − 0.4 in single
        precision; more than 3 means a small t³ term), the symmetry error is
        below eps^{1/2} (eps^{1/3} for a finite-difference Hessian) and the
        tangent error below eps^{1/2}.

    Notes
    -----
    The slope is fitted on the first window of 8 points (of 20 a decade)
    whose errors stand clear of what E(t) cannot resolve: the rounding of f
    and of the derivatives under test (:func:`_fit_asymptotic_slope`); the
    order of a Taylor error is its slope as t → 0, and at t ~ 1 a wrong
    Hessian's t² term is overtaken by the t³ one. In single precision f is
    evaluated in double along the curve (the cost's data stay as they are;
    only x is widened), since seven digits leave too little room to see the
    t³ term; the first-order term left by the single-precision gradient is
    measured at the smallest t and removed, and fails the check when it is
    beyond rounding (a wrong gradient). How often the verdict is right, for
    right and wrong Hessians on every manifold and dtype, is measured by
    ``benchmarks/second_order.py``.

    Raises
    ------
    TypeError
        When the problem has no gradient and x is not a NumPy array (neither
        the Hessian nor the gradient can be computed).

    Examples
    --------
    >>> import numpy as np
    >>> from orthopt import Stiefel, Problem, check_hessian
    >>> A = np.diag(np.arange(1.0, 6.0))
    >>> problem = Problem(Stiefel(5, 2), lambda x: np.trace(x.T @ A @ x),
    ...                   euclidean_gradient=lambda x: 2 * A @ x,
    ...                   euclidean_hessian=lambda x, v: 2 * A @ v)
    >>> check = check_hessian(problem, rng=0)
    >>> check.passed, round(check.slope)
    (True, 3)
    """
    if getattr(problem, "batch_shape", ()):  # one verdict per problem of a batch
        from .batch_diagnostics import check_hessian_batch

        return check_hessian_batch(problem, x, v, rng)
    manifold = problem.manifold
    rng = np.random.default_rng(rng)
    if x is None:
        x = manifold.random_point(rng=rng)
    x = as_point(manifold, x)  # a tuple or list on a product: a ProductVector
    xp = point_namespace(x)
    if not problem.has_gradient and not is_numpy(xp):
        raise TypeError(
            f"check_hessian: the problem has neither a gradient nor a Hessian and x is a "
            f"{xp.__name__} array, which autograd cannot differentiate; pass "
            f"euclidean_gradient=... to Problem (the Hessian is then a finite difference "
            f"of it) and, for an exact Hessian, euclidean_hessian=..."
        )
    eps = point_eps(x)  # of the least precise factor of a product
    v = (manifold.random_tangent_vector(x, rng=rng) if v is None
         else manifold.projection(x, as_point(manifold, v, "v")))
    u = manifold.random_tangent_vector(x, rng=rng)
    finite_difference = not problem.has_hessian
    evaluation = problem.at(x)
    f0 = evaluation.cost
    grad = evaluation.gradient
    hess_v, hess_u = evaluation.hess(v), evaluation.hess(u)
    slope1 = to_float(manifold.inner_product(x, grad, v))
    slope2 = to_float(manifold.inner_product(x, hess_v, v))

    def norm(w):
        return to_float(manifold.norm(x, w))

    hv_norm = norm(hess_v)
    # The rounding of Hess f(x)[v] is relative to the terms it is made of: ∇²f(x)[v]
    # and the Weingarten term, of size ‖∇f(x)‖‖v‖. Where they cancel (a cost constant
    # on the manifold, such as Brockett on U(1)), Hess f(x)[v] is rounding alone, and
    # errors relative to it would be O(1).
    term_scale = to_float(_norm_ambient(evaluation.euclidean_gradient)) * norm(v)
    tangent_error = norm(hess_v - manifold.projection(x, hess_v)) / max(hv_norm, term_scale,
                                                                         1e-300)
    symmetry_scale = norm(hess_u) * norm(v) + norm(u) * hv_norm + term_scale * norm(u)
    symmetry_error = abs(to_float(manifold.inner_product(x, hess_u, v))
                         - to_float(manifold.inner_product(x, u, hess_v))) / max(symmetry_scale,
                                                                               1e-300)
    curve, f0, move, cost_eps = _taylor_curve(problem, x, v, f0, eps)
    t = np.logspace(-5.0 if eps < 1e-10 else -4.0, 0.0, 101 if eps < 1e-10 else 81)
    residuals = np.array([to_float(problem.cost(move(float(ti)))) - f0 - ti * slope1
                          - 0.5 * ti * ti * slope2 for ti in t])
    hessian_eps = eps ** (2 / 3) if finite_difference else eps
    gradient_error = 0.0
    if cost_eps < eps:
        # f in double, ⟨grad, v⟩ in single: its rounding leaves a term c₁t that hides
        # the t³ term below t ~ eps^{1/2}. At the smallest t it is all there is
        # (c₂t² and c₃t³ are 10⁴ and 10⁸ times smaller): measure it and take it out
        # (a c₁ beyond rounding is a wrong gradient: reported, see below)
        c1 = residuals[0] / t[0]
        residuals = residuals - c1 * t
        gradient_error = abs(c1) / max(norm(grad), term_scale, 1e-300)
        noise = cost_eps * max(1.0, abs(f0)) * (1.0 + t / t[0])
    else:
        # the rounding of f, and of ⟨grad, v⟩ (a term of order t)
        noise = eps * max(1.0, abs(f0)) + eps * t * norm(grad)
    # A window 30 times above the noise measures the slope to ±0.1 with 8 points
    # (0.35 decades). The Hessian's own error, a t² term of relative size eps (or
    # eps^{2/3} for differences), is held to 3 times: at 1/3 of E at the window's
    # start it lowers the slope by about 0.2 — within the single-precision
    # tolerance, and a finite-difference Hessian in single precision (4–5 digits)
    # leaves no room above 30 times before t ~ 1.
    threshold = 30.0 * noise + 3.0 * hessian_eps * 0.5 * t * t * max(hv_norm, term_scale)
    errors = np.abs(residuals)
    if not (math.isfinite(f0) and math.isfinite(slope2) and np.all(np.isfinite(errors))):
        message = ("the cost, gradient or Hessian is not finite at x or along the curve: "
                   "fix them before checking the Hessian")
        return HessianCheck(math.nan, False, t, errors, (0, 0), symmetry_error, tangent_error,
                            finite_difference, curve, message)
    slope, window = _fit_asymptotic_slope(t, errors, threshold, width=8)
    tol = 0.15 if eps < 1e-10 else 0.4
    symmetry_tol = eps ** (1 / 3) if finite_difference else math.sqrt(eps)
    symmetric = symmetry_error <= symmetry_tol
    tangent = tangent_error <= math.sqrt(eps)
    if math.isnan(slope):
        passed = bool(np.all(errors <= 10.0 * threshold))
        message = ("Taylor error at rounding level for every t: the second-order model is exact"
                   if passed else "Taylor error above rounding only at scattered t: no slope "
                   "could be fitted (try another x or v)")
    else:
        # E = O(t³) for a right Hessian: slope 3, or more where the t³ coefficient
        # vanishes or is small (the t⁴ term then shows); a wrong ⟨Hess[v], v⟩ leaves t²
        passed = slope >= 3.0 - tol
        message = f"Taylor error slope {slope:.3f} (expected at least 3 − {tol})"
        if abs(slope - 2.0) <= tol:
            message += ": ⟨Hess f(x)[v], v⟩ is wrong (the Weingarten term missing?)"
    gradient_ok = gradient_error <= math.sqrt(eps)
    passed = passed and symmetric and tangent and gradient_ok
    if not gradient_ok:
        message += (f"; the first-order term is off by {gradient_error:.1e} relative: the "
                    f"gradient is wrong (see check_gradient)")
    if not symmetric:
        message += (f"; not symmetric: |⟨H u, v⟩ − ⟨u, H v⟩| = {symmetry_error:.1e} relative "
                    f"(> {symmetry_tol:.0e})")
    if not tangent:
        message += f"; Hess f(x)[v] is not tangent (relative normal part {tangent_error:.1e})"
    if finite_difference:
        message += " [Hessian by finite differences of the gradient: give euclidean_hessian " \
                   "for an exact one]"
    if curve == "retraction":
        message += " [along the retraction: O(t³) only if it is second order]"
    result = HessianCheck(slope, passed, t, errors, window, symmetry_error, tangent_error,
                          finite_difference, curve, message)
    if plot:
        result.figure = result.plot().figure
    return result


def _fit_asymptotic_slope(t, errors, threshold, width, span=3.0):
    """Slope of the straightest window among the smallest steps whose errors exceed ``threshold``.

    The order of a Taylor error is its slope as t → 0. At large t the next
    term takes over (a wrong Hessian's t² error is overtaken by the t³ term
    near t ~ 1, which looks like slope 3), at small t rounding does; the first
    window above the rounding level sees the asymptotic slope. Candidates start
    within a factor ``span`` of the first such window, so that a dip (E(t)
    crossing zero) there does not decide the verdict.

    ``threshold`` is an array (one level per t). Returns (slope, (start, stop)),
    NaN and (0, 0) when no window of ``width`` points lies above it.
    """
    above = errors > threshold
    starts = [i for i in range(len(t) - width + 1) if above[i:i + width].all()]
    if not starts:
        return math.nan, (0, 0)
    logt, loge = np.log10(t), np.log10(np.maximum(errors, 1e-300))
    best = (math.inf, math.nan, (0, 0))
    for start in starts:
        if t[start] > span * t[starts[0]]:
            break
        stop = start + width
        coeffs, residual, *_ = np.polyfit(logt[start:stop], loge[start:stop], 1, full=True)
        res = float(residual[0]) if len(residual) else 0.0
        if res < best[0]:
            best = (res, float(coeffs[0]), (start, stop))
    return best[1], best[2]


def _taylor_curve(problem, x, v, f0, eps):
    """The curve of the Taylor test and the precision of the cost along it.

    Returns (curve name, f(x), t ↦ γ(t), eps of the cost). In single precision
    f is evaluated in double (the same function: its data stay single, x is
    widened and put back on the manifold): seven digits leave too little room
    between the rounding of f and t ~ 1 to see the t³ term over a decade. The
    derivatives under test stay in x's precision; the noise model of
    :func:`check_hessian` accounts for their rounding. Costs that reject
    double-precision input are checked in their own precision.
    """
    manifold = problem.manifold
    if eps > 1e-10:
        xp = point_namespace(x)

        def widen(a):  # each factor of a product to its own double precision
            return xp.astype(a, xp.complex128 if is_complex_dtype(xp, a.dtype) else xp.float64)

        try:
            x_wide = manifold.projection_onto_manifold(map_leaves(widen, x))
            v_wide = manifold.projection(x_wide, map_leaves(widen, v))
            curve, move = _second_order_curve(manifold, x_wide, v_wide)
            f_wide = to_float(problem.cost(x_wide))
            if math.isfinite(f_wide) and math.isfinite(to_float(problem.cost(move(0.5)))):
                return curve, f_wide, move, finfo_eps(xp, xp.float64)
        except Exception:  # noqa: BLE001 - any failure: check in the problem's precision
            pass
    curve, move = _second_order_curve(manifold, x, v)
    return curve, f0, move, eps


def _second_order_curve(manifold, x, v):
    """("exp", t ↦ exp_x(tv)), or the retraction where the manifold has no exponential."""
    try:
        manifold.exp(x, 0.0 * v)
    except NotImplementedError:
        return "retraction", lambda t: manifold.retraction(x, t * v)
    return "exp", lambda t: manifold.exp(x, t * v)


def _norm_ambient(a):
    """Frobenius norm of an ambient array (or of a tuple of them, for products)."""
    if isinstance(a, tuple):
        return math.sqrt(sum(float(_norm_ambient(part)) ** 2 for part in a))
    xp = get_namespace(a)
    return xp.sqrt(xp.sum(xp.abs(a) ** 2))
