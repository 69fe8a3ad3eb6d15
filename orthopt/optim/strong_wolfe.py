r"""The strong-Wolfe line search: bracketing, then a safeguarded cubic zoom.

Along φ(t) = f(R_x(t d)), find t with sufficient decrease
(:func:`~orthopt.optim.step_size.sufficient_decrease`, exact or Hager–Zhang's
approximate test) and the strong curvature condition |φ'(t)| ≤ c₂|φ'(0)|,
which conjugate gradients and quasi-Newton methods need to produce descent
directions (Nocedal & Wright 2006, Lemma 5.6 and Alg. 3.5–3.6). The
derivative along the curve uses the transported direction,
φ'(t) ≈ ⟨grad f(R_x(t d)), d⟩ (Ring & Wirth 2012), exact at t = 0.

References
----------
Nocedal & Wright (2006), Numerical Optimization, 2nd ed., §3.5. Hager & Zhang
(2005), SIAM J. Optim. 16(1). Ring & Wirth (2012), SIAM J. Optim. 22(2).
"""

from __future__ import annotations

import math
import numbers

from .step_size import (
    LineSearchResult,
    StepSizeRule,
    _default_curve,
    _eps,
    _first_step,
    _Memory,
    _positive,
    rounding_level,
    sufficient_decrease,
)

__all__ = ["StrongWolfe"]


class StrongWolfe(StepSizeRule):
    r"""Strong-Wolfe line search (Nocedal & Wright, Alg. 3.5–3.6) along t ↦ R_x(t d).

    Finds t with :func:`sufficient_decrease` (exact or approximate) and the
    strong curvature condition |φ'(t)| ≤ c₂|φ'(0)|, where φ'(t) ≈
    ⟨grad f(R_x(t d)), d⟩ (the velocity of the retraction curve replaced by
    the transported direction, as in Ring & Wirth 2012 and pymanopt; exact at
    t = 0). Each trial is one combined cost-and-gradient evaluation and the
    gradient of the accepted point is kept. The search brackets (grows t
    while φ keeps decreasing), then zooms with safeguarded cubic
    interpolation. When the evaluations run out, the trial with the lowest
    cost that passed the decrease test is returned.

    Parameters
    ----------
    sufficient_decrease : float, default 1e-4
        c₁ ∈ (0, ½).
    curvature : float, default 0.1
        c₂ ∈ (c₁, 1): 0.1 is nearly exact (classical for CG), 0.9 loose (quasi-Newton).
    max_evaluations : int, default 6
    initial_step : float, optional
        First trial of the first search; default 1/‖d‖.
    guess : {"ratio", "secant"}, default "ratio"
        First trial of later searches: "ratio" keeps the first-order change,
        t_{k−1}φ'_{k−1}(0)/φ'_k(0) (N&W eq. 3.60); "secant" uses the curvature
        measured by the last search along its direction (needs the caller to
        set ``memory.end_slope``, φ'_{k−1}(t_{k−1})).
    max_step : float, default 1e20
    """

    evaluates_gradient = True

    def __init__(self, sufficient_decrease=1e-4, curvature=0.1, max_evaluations=6,
                 initial_step=None, guess="ratio", max_step=1e20):
        self.sufficient_decrease = _positive("sufficient_decrease", sufficient_decrease, 0.5)
        if not (isinstance(curvature, numbers.Real) and self.sufficient_decrease < curvature < 1):
            raise ValueError(f"curvature must be in (sufficient_decrease, 1) = "
                             f"({self.sufficient_decrease}, 1), got {curvature!r}")
        self.curvature = float(curvature)
        if isinstance(max_evaluations, bool) or not isinstance(max_evaluations, numbers.Integral) \
                or max_evaluations < 1:
            raise ValueError(f"max_evaluations must be a positive integer, got {max_evaluations!r}")
        self.max_evaluations = int(max_evaluations)
        self.initial_step = None if initial_step is None else _positive("initial_step",
                                                                        initial_step)
        if guess not in ("ratio", "secant"):
            raise ValueError(f"guess must be 'ratio' or 'secant', got {guess!r}")
        self.guess_rule = guess
        self.max_step = _positive("max_step", max_step)

    def start(self):
        memory = _Memory()
        memory.end_slope = None
        memory.direction_norm2 = None
        return memory

    def guess(self, slope, direction_norm2, memory):
        """The first trial t₀ (see ``guess``)."""
        if memory.step is None:
            return _first_step(self.initial_step, math.sqrt(max(direction_norm2, 0.0)))
        t = None
        if self.guess_rule == "secant" and getattr(memory, "end_slope", None) is not None:
            kappa = (memory.end_slope - memory.slope) / (memory.step * memory.direction_norm2)
            if kappa > 0 and direction_norm2 > 0:
                t = -slope / (kappa * direction_norm2)
        if t is None or not (math.isfinite(t) and t > 0):
            t = memory.step * memory.slope / slope
        if not (math.isfinite(t) and t > 0):
            t = memory.step
        return min(max(t, 1e-20), 1e20)

    def search(self, problem, current, direction, slope, memory, curve=None):
        from .solver import inner_float

        manifold = problem.manifold
        x = current.x
        curve = curve or _default_curve(problem, x, direction)
        direction_norm2 = inner_float(manifold, x, direction, direction)
        eps = _eps(x)
        f0, g0 = current.cost, float(slope)
        c1, c2 = self.sufficient_decrease, self.curvature
        t0 = min(self.guess(g0, direction_norm2, memory), self.max_step)
        memory.count += 1

        # a bracket end: (t, φ, φ', evaluation)
        lo = (0.0, f0, g0, current)
        hi = None
        t = t0
        any_finite = False
        k = 0
        for k in range(1, self.max_evaluations + 1):
            point = curve(t)
            evaluation = None if point is None else problem.at(point).evaluate_gradient()
            if evaluation is None:
                phi = dphi = math.nan
            else:
                phi = evaluation.cost
                dphi = (inner_float(manifold, point, evaluation.gradient, direction)
                        if math.isfinite(phi) else math.nan)
            trial = (t, phi, dphi, evaluation)
            previous = lo
            if not (math.isfinite(phi) and math.isfinite(dphi)):
                hi = (t, math.inf, math.nan, None)  # too far: shorten
            else:
                any_finite = True
                if not sufficient_decrease(phi, f0, t, g0, c1, eps, trial_slope=dphi) or (
                        lo[0] > 0 and phi >= lo[1]):
                    hi = trial
                elif abs(dphi) <= c2 * abs(g0):
                    return self._accept(memory, trial, slope, direction_norm2, k)
                else:
                    # the minimizer lies beyond `trial` (dphi < 0) or between it and lo
                    if hi is None:
                        if dphi >= 0:
                            hi = lo
                    elif dphi * (hi[0] - t) >= 0:
                        hi = lo
                    lo = trial
            if hi is None:
                # still bracketing: extrapolate (cubic, safeguarded into [2t, 10t])
                cubic = _cubic_minimizer(previous, trial)
                t = min(10.0 * t, max(2.0 * t, cubic)) if cubic is not None else 4.0 * t
                if t > self.max_step:
                    break
                continue
            width = hi[0] - lo[0]
            if abs(width) <= 1e-14 * max(abs(lo[0]), abs(hi[0])):
                break
            cubic = _cubic_minimizer(lo, hi)
            margin = 0.1 * abs(width)
            inner_low, inner_high = min(lo[0], hi[0]) + margin, max(lo[0], hi[0]) - margin
            t = cubic if cubic is not None and inner_low <= cubic <= inner_high \
                else lo[0] + 0.5 * width
        if lo[0] > 0:
            return self._accept(memory, lo, slope, direction_norm2, k)
        status = "line_search_failed" if any_finite else "nonfinite"
        limit = t0 * abs(g0) <= rounding_level(f0, eps, 100.0)
        return LineSearchResult(0.0, current, f0, k, status,
                                at_precision_limit=limit and status == "line_search_failed")

    @staticmethod
    def _accept(memory, trial, slope, direction_norm2, k):
        t, phi, dphi, evaluation = trial
        memory.step, memory.slope, memory.direction_norm2 = t, slope, direction_norm2
        memory.end_slope = dphi
        return LineSearchResult(t, evaluation, phi, k)


def _cubic_minimizer(a, b):
    """Minimizer of the cubic through (t, φ, φ') at two points, or None (N&W eq. 3.59)."""
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
