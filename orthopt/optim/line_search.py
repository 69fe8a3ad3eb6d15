r"""Step-size rules along a retraction curve t ↦ R_x(t d).

Every search studies the one-dimensional function φ(t) = f(R_x(t d)) for a
tangent descent direction d (φ'(0) = ⟨grad f(x), d⟩ < 0) and looks for a step
α with *sufficient decrease* (the Armijo condition)

    φ(α) ≤ f_ref + c₁ α φ'(0),

with f_ref = f(x) for the monotone rule and the Zhang–Hager average C_k for
the nonmonotone one. :func:`strong_wolfe` also asks for the *strong curvature
condition* |φ'(α)| ≤ c₂ |φ'(0)|, which conjugate-gradient methods need to
produce descent directions (Nocedal & Wright 2006, Lemma 5.6). On a manifold
φ'(α) = ⟨grad f(y), d/dt R_x(td)|_α⟩ needs the differential of the
retraction; like Ring & Wirth (2012) and pymanopt we replace that velocity by
the transported direction P_y(d), so that φ'(α) ≈ ⟨grad f(y), P_y(d)⟩ =
⟨grad f(y), d⟩ (grad f(y) is tangent at y and P_y is an orthogonal
projection, so the projection can be skipped). It is exact at α = 0.

A trial with a non-finite cost counts as "too far" and the step is shortened;
if every trial is non-finite the search reports it, so the solver can stop
with status "nonfinite".

Near a minimizer the cost differences φ(α) − φ(0) drown in rounding error
(they are O(‖grad‖²) while the rounding error of f is O(eps·|f|)), and an
exact Armijo test rejects every step. :func:`strong_wolfe` then falls back on
the *approximate Wolfe conditions* of Hager & Zhang (2005): φ(α) ≤ φ(0) +
ε|φ(0)| together with (2c₁ − 1)φ'(0) ≥ φ'(α) ≥ c₂φ'(0), which only use
derivatives (for a quadratic φ they imply the Armijo condition).

References
----------
Nocedal & Wright (2006), Numerical Optimization, 2nd ed., §3.5 (Algorithms
3.5–3.6). Hager & Zhang (2005), SIAM J. Optim. 16(1). Ring & Wirth (2012),
SIAM J. Optim. 22(2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..backend import finfo_eps, get_namespace, to_float
from .solver import inner_float

__all__ = ["LineSearchResult", "backtracking", "strong_wolfe"]


@dataclass
class LineSearchResult:
    """Accepted step of a line search.

    Attributes
    ----------
    step : float
        The accepted α (0 when the search failed).
    x : array
        R_x(α d) (x itself on failure).
    cost : float
        f at the new point.
    n_evaluations : int
        Number of cost evaluations used.
    status : str or None
        None on success, "line_search_failed" or "nonfinite" on failure.
    grad : array or None
        Riemannian gradient at the new point when the search computed it
        (``gradient=True`` in :func:`backtracking`, always in
        :func:`strong_wolfe`), so that the solver need not evaluate it again.
    """

    step: float
    x: object
    cost: float
    n_evaluations: int
    status: str | None = None
    grad: object = None


def backtracking(problem, x, direction, slope, reference_cost, initial_step,
                 sufficient_decrease=1e-4, contraction=0.5, max_backtracks=40,
                 gradient=False):
    """Backtracking until f(R_x(αd)) ≤ reference_cost + c·α·slope.

    Parameters
    ----------
    problem : Problem
    x : array, shape (n, p)
    direction : array, shape (n, p)
        A tangent descent direction d (slope = ⟨grad f(x), d⟩ < 0).
    slope : float
        ⟨grad f(x), d⟩.
    reference_cost : float
        f(x) (Armijo) or the nonmonotone average C_k (Zhang & Hager 2004).
    initial_step : float
        First trial α₀ > 0.
    sufficient_decrease : float, default 1e-4
        The constant c ∈ (0, 1).
    contraction : float, default 0.5
        α ← contraction·α after each rejected trial.
    max_backtracks : int, default 40
    gradient : bool, default False
        Evaluate the cost *and* the Riemannian gradient at every trial (one
        combined call) and return the gradient of the accepted point. Worth
        it when the first trial is usually accepted (Barzilai–Borwein steps)
        or when the cost and its gradient share most of their work.

    Returns
    -------
    LineSearchResult
    """
    manifold = problem.manifold
    alpha = float(initial_step)
    any_finite = False
    # a step shorter than eps (of x's precision) does not move x: a cost "decrease"
    # measured there is rounding, so the search gives up instead of accepting it
    shortest = finfo_eps(get_namespace(x), x.dtype) / max(
        math.sqrt(inner_float(manifold, x, direction, direction)), 1e-300)
    k = 0
    for k in range(1, max_backtracks + 1):
        if alpha < shortest:
            break
        candidate = manifold.retraction(x, alpha * direction)
        if gradient:
            cost, grad = problem.cost_and_riemannian_gradient(candidate)
        else:
            cost, grad = problem.cost(candidate), None
        cost = to_float(cost)
        if math.isfinite(cost):
            any_finite = True
            # strictly below the reference too: when α·slope is below the rounding of
            # the reference, the Armijo bound rounds to the reference itself, and a trial
            # that did not move x (its cost unchanged, common in float32) would pass
            if (cost <= reference_cost + sufficient_decrease * alpha * slope
                    and cost < reference_cost):
                return LineSearchResult(alpha, candidate, cost, k, grad=grad)
        alpha *= contraction
    # "nonfinite" only when non-finite trials were all there was (not when the search
    # stopped at the shortest step before any trial)
    status = "nonfinite" if k > 1 and not any_finite else "line_search_failed"
    return LineSearchResult(0.0, x, float(reference_cost), max_backtracks, status)


def strong_wolfe(problem, x, direction, cost, slope, initial_step, sufficient_decrease=1e-4,
                 curvature=0.1, max_evaluations=25, approximate_tolerance=1e-10,
                 max_step=1e20):
    r"""Strong-Wolfe line search along t ↦ R_x(t d) (Nocedal & Wright, Alg. 3.5–3.6).

    Finds α with

    * sufficient decrease: φ(α) ≤ φ(0) + c₁ α φ'(0), or — when the cost
      differences are at rounding level — φ(α) ≤ φ(0) + ε|φ(0)| (Hager–Zhang's
      approximate Wolfe test, see the module docstring);
    * strong curvature: |φ'(α)| ≤ c₂ |φ'(0)|,

    where φ(t) = f(R_x(t d)) and φ'(t) ≈ ⟨grad f(R_x(t d)), d⟩. Each trial costs
    one combined cost-and-gradient evaluation, and the gradient of the
    accepted point is returned, so a solver that uses this search never
    evaluates anything twice.

    The search first *brackets* (grows α while φ keeps decreasing with
    φ' < 0), then *zooms* into the bracket [α_lo, α_hi] with safeguarded
    cubic interpolation of (φ, φ') at both ends (bisection where the cubic has
    no minimizer inside or an end is non-finite).

    Parameters
    ----------
    problem : Problem
    x : array, shape (n, p)
        The current point.
    direction : array, shape (n, p)
        A tangent descent direction d at x.
    cost : float
        φ(0) = f(x).
    slope : float
        φ'(0) = ⟨grad f(x), d⟩ < 0.
    initial_step : float
        The first trial α₀ > 0. A good guess (one that is usually accepted)
        is what makes a line search cheap.
    sufficient_decrease : float, default 1e-4
        c₁ ∈ (0, ½).
    curvature : float, default 0.1
        c₂ ∈ (c₁, 1): small values give a nearly exact search (0.1 is the
        classical choice for Fletcher–Reeves / Polak–Ribière CG, 0.9 for
        Hager–Zhang CG and quasi-Newton methods).
    max_evaluations : int, default 25
    approximate_tolerance : float, default 1e-10
        ε of the approximate Wolfe test, relative to |φ(0)|.
    max_step : float, default 1e20

    Returns
    -------
    LineSearchResult
        With ``grad`` the Riemannian gradient at the accepted point. When the
        evaluations run out, the point with the lowest cost that satisfies
        the sufficient-decrease test is returned (without the curvature
        condition); if there is none, status "line_search_failed" (or
        "nonfinite" when every trial was non-finite).
    """
    manifold = problem.manifold
    f0, g0 = float(cost), float(slope)
    c1, c2 = sufficient_decrease, curvature
    slack = approximate_tolerance * abs(f0)

    def sufficient(alpha, phi):
        return phi <= f0 + c1 * alpha * g0 or phi <= f0 + slack

    # a bracket end: (alpha, phi, dphi, point, grad)
    lo = (0.0, f0, g0, x, None)
    hi = None
    alpha = min(float(initial_step), max_step)
    any_finite = False
    k = 0
    for k in range(1, max_evaluations + 1):
        y = manifold.retraction(x, alpha * direction)
        phi, grad = problem.cost_and_riemannian_gradient(y)
        phi = to_float(phi)
        dphi = inner_float(manifold, y, grad, direction) if math.isfinite(phi) else math.nan
        trial = (alpha, phi, dphi, y, grad)
        previous = lo
        if not (math.isfinite(phi) and math.isfinite(dphi)):
            hi = (alpha, math.inf, math.nan, None, None)  # too far: shorten
        else:
            any_finite = True
            if not sufficient(alpha, phi) or (lo[0] > 0 and phi >= lo[1]):
                hi = trial
            elif abs(dphi) <= c2 * abs(g0):
                return LineSearchResult(alpha, y, phi, k, grad=grad)
            else:
                # the minimizer lies beyond `trial` (dphi < 0) or between it and lo
                if hi is None:
                    if dphi >= 0:
                        hi = lo
                    lo = trial
                else:
                    if dphi * (hi[0] - alpha) >= 0:
                        hi = lo
                    lo = trial
        if hi is None:
            # still bracketing: extrapolate (cubic, safeguarded into [2α, 10α])
            guess = _cubic_minimizer(previous, trial)
            low, high = 2.0 * alpha, 10.0 * alpha
            alpha = min(high, max(low, guess)) if guess is not None else 4.0 * alpha
            if alpha > max_step:
                break
            continue
        width = hi[0] - lo[0]
        if abs(width) <= 1e-14 * max(abs(lo[0]), abs(hi[0])):
            break
        guess = _cubic_minimizer(lo, hi)
        margin = 0.1 * abs(width)
        inner_low, inner_high = min(lo[0], hi[0]) + margin, max(lo[0], hi[0]) - margin
        if guess is None or not inner_low <= guess <= inner_high:
            guess = lo[0] + 0.5 * width
        alpha = guess
    if lo[0] > 0:
        return LineSearchResult(lo[0], lo[3], lo[1], k, grad=lo[4])
    status = "line_search_failed" if any_finite else "nonfinite"
    return LineSearchResult(0.0, x, f0, k, status)


def _cubic_minimizer(a, b):
    """Minimizer of the cubic through (α, φ, φ') at two points, or None.

    Nocedal & Wright (2006), eq. (3.59).
    """
    (ta, fa, da), (tb, fb, db) = a[:3], b[:3]
    if not all(math.isfinite(v) for v in (fa, da, fb, db)) or ta == tb:
        return None
    d1 = da + db - 3.0 * (fa - fb) / (ta - tb)
    radicand = d1 * d1 - da * db
    if radicand < 0:
        return None
    d2 = math.copysign(math.sqrt(radicand), tb - ta)
    denominator = db - da + 2.0 * d2
    if denominator == 0:
        return None
    t = tb - (tb - ta) * (db + d2 - d1) / denominator
    return t if math.isfinite(t) else None
