r"""Step-size rules: how far to go along a descent direction.

Every rule studies φ(t) = f(γ(t)) along a curve γ with γ(0) = x and
γ'(0) = d, a descent direction (φ'(0) = ⟨grad f(x), d⟩ < 0). The curve is
the retraction t ↦ R_x(t d) unless the solver passes its own (a Givens
rotation by angle t, a projUNN update of rank k, ManPG's polar step).

===================  =============================================================
:class:`Fixed`       t = lr, no search (stochastic training, tuned steps)
:class:`Armijo`      backtracking from a growing guess (twice the last step)
:class:`NonmonotoneBB` Barzilai–Borwein guesses, Zhang–Hager nonmonotone acceptance
:class:`StrongWolfe` bracketing and cubic zoom for the strong Wolfe conditions
===================  =============================================================

One sufficient-decrease test
----------------------------
:func:`sufficient_decrease` is the only Armijo test in the package:

    φ(t) ≤ f_ref + c₁ t φ'(0)   and   φ(t) < f_ref,

with f_ref = f(x) (monotone) or the Zhang–Hager average C_k. The strict
inequality matters in low precision: when t·φ'(0) is below the rounding of
f_ref the bound rounds to f_ref itself and a trial that did not move x
(common in float32) would pass. Given the slope at the trial,
:func:`sufficient_decrease` also accepts Hager & Zhang's *approximate Wolfe*
test φ(t) ≤ φ(0) + ε_f|φ(0)|, (2c₁ − 1)φ'(0) ≥ φ'(t): near a minimizer the
cost differences are O(‖grad‖²) and drown in the O(eps·|f|) rounding error
of f, while slopes still resolve. Its slack ε_f = eps^{2/3} follows the
dtype (3.7e-11 in float64, 2.4e-5 in float32).

The precision limit
-------------------
When a search fails although the decrease its first trial could bring,
t₀|φ'(0)|, is below :func:`rounding_level` (100·eps·|f|), the cost cannot
resolve further progress: the point is stationary to working precision.
(The factor 100 covers the rounding of costs summed over many terms, and
the gap between the first trial and the decrease a search could find.)
The search then reports ``at_precision_limit`` and the solver stops with
status ``"precision_limit"``, a convergence. A search that fails with a
measurable predicted decrease (a wrong gradient) stays a failure.

Rules keep no memory of a run on themselves: :meth:`StepSizeRule.start`
returns a memory object that the solver stores in its state, so one solver
object can run several problems at once.

References
----------
Nocedal & Wright (2006), Numerical Optimization, §3.5 (Alg. 3.5–3.6).
Zhang & Hager (2004), SIAM J. Optim. 14(4). Hager & Zhang (2005), SIAM J.
Optim. 16(1). Barzilai & Borwein (1988), IMA J. Numer. Anal. 8. Wen & Yin
(2013), Math. Program. 142. Ring & Wirth (2012), SIAM J. Optim. 22(2).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from ..backend import finfo_eps, get_namespace

__all__ = [
    "StepSizeRule",
    "Fixed",
    "Armijo",
    "NonmonotoneBB",
    "StrongWolfe",
    "LineSearchResult",
    "sufficient_decrease",
    "rounding_level",
    "backtrack",
]


def rounding_level(cost, eps, factor=10.0):
    """factor·eps·|f|: cost changes below this are not resolved by a computed cost."""
    return factor * eps * abs(cost)


def sufficient_decrease(trial_cost, reference_cost, step, slope, c1, eps, trial_slope=None):
    """The Armijo test with its rounding safeguards (see the module docstring).

    Parameters
    ----------
    trial_cost : float
        φ(t).
    reference_cost : float
        f(x), or the nonmonotone reference C_k ≥ f(x).
    step : float
        t > 0.
    slope : float
        φ'(0) < 0.
    c1 : float
        Armijo constant in (0, 1).
    eps : float
        Machine epsilon of the iterate's dtype.
    trial_slope : float, optional
        φ'(t); when given, Hager–Zhang's approximate test may accept too.

    Returns
    -------
    bool
    """
    if not math.isfinite(trial_cost):
        return False
    if trial_cost <= reference_cost + c1 * step * slope and trial_cost < reference_cost:
        return True
    if trial_slope is None or not math.isfinite(trial_slope):
        return False
    slack = eps ** (2.0 / 3.0) * abs(reference_cost)
    return trial_cost <= reference_cost + slack and trial_slope <= (2.0 * c1 - 1.0) * slope


@dataclass
class LineSearchResult:
    """Outcome of a search.

    Attributes
    ----------
    step : float
        The accepted t (0 on failure).
    evaluation : Evaluation or object
        The problem evaluated at γ(t) (at x on failure); for :func:`backtrack`
        with a custom evaluator, whatever that evaluator returned.
    cost : float
        φ(t).
    n_evaluations : int
        Trials made.
    status : str or None
        None on success; "line_search_failed", or "nonfinite" when every trial, or the
        shortest one, was non-finite.
    at_precision_limit : bool
        The failure happened where the cost cannot resolve the decrease sought.
    """

    step: float
    evaluation: object
    cost: float
    n_evaluations: int
    status: str | None = None
    at_precision_limit: bool = False


def backtrack(evaluate, reference_cost, slope, initial_step, eps, c1=1e-4, contraction=0.5,
              max_trials=40, shortest_step=0.0):
    """Backtracking until :func:`sufficient_decrease` holds, on any one-dimensional curve.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(t) -> (cost, payload)``: φ(t) and whatever the caller wants
        back for the accepted trial (a point, an evaluation); ``None`` when
        the trial is not admissible (it is then shortened, like a non-finite one).
    reference_cost, slope : float
        f_ref and φ'(0) < 0.
    initial_step : float
        First trial t₀ > 0.
    eps : float
        Machine epsilon of the iterate's dtype.
    c1, contraction : float
        Armijo constant and the factor t ← contraction·t.
    max_trials : int
    shortest_step : float
        Give up below this t (a step that cannot move x in its precision:
        a "decrease" measured there is rounding).

    Returns
    -------
    LineSearchResult
        ``evaluation`` is the payload of the accepted trial (None on failure).
    """
    t = float(initial_step)
    any_finite = last_nonfinite = False
    trials = 0
    for trials in range(1, max_trials + 1):
        if t < shortest_step:
            trials -= 1
            break
        outcome = evaluate(t)
        if outcome is not None:
            cost, payload = outcome
            cost = float(cost)
            last_nonfinite = not math.isfinite(cost)
            if not last_nonfinite:
                any_finite = True
                if sufficient_decrease(cost, reference_cost, t, slope, c1, eps):
                    return LineSearchResult(t, payload, cost, trials)
        t *= contraction
    # the shortest trial not finite: the cost is not finite arbitrarily close to x (a
    # longer trial that was finite but not low enough does not make it a search failure)
    status = "nonfinite" if trials > 0 and (not any_finite or last_nonfinite) \
        else "line_search_failed"
    limit = float(initial_step) * abs(slope) <= rounding_level(reference_cost, eps, 100.0)
    return LineSearchResult(0.0, None, float(reference_cost), trials, status,
                            at_precision_limit=limit and status == "line_search_failed")


class StepSizeRule:
    """Base class of the step-size rules.

    Subclasses implement :meth:`search` and, when they remember something
    between iterations, :meth:`start`.
    """

    #: whether the rule evaluates the gradient at its trials (a solver then
    #: never evaluates it again at the accepted point)
    evaluates_gradient = False

    def start(self):
        """A fresh memory for one run (stored in the solver's state)."""
        return _Memory()

    def search(self, problem, current, direction, slope, memory, curve=None):
        """Find a step along ``direction`` from ``current`` (an :class:`Evaluation`).

        Parameters
        ----------
        problem : Problem
        current : Evaluation
            The problem at x.
        direction : array
            A tangent descent direction d at x.
        slope : float
            φ'(0) = ⟨grad f(x), d⟩ < 0.
        memory : object
            What :meth:`start` returned (updated in place).
        curve : callable, optional
            ``curve(t) -> point or None``; default ``R_x(t d)``.

        Returns
        -------
        LineSearchResult
        """
        raise NotImplementedError  # pragma: no cover

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


@dataclass
class _Memory:
    step: float | None = None      # last accepted t
    slope: float | None = None     # φ'(0) of the last search
    reference: float | None = None  # Zhang–Hager C_k
    weight: float = 1.0            # Zhang–Hager Q_k
    previous: tuple | None = None  # (x, grad f(x)) of the last search, for BB
    count: int = 0                 # searches done


def _positive(name, value, upper=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0 or (
            upper is not None and not value < upper):
        bound = f"in (0, {upper})" if upper is not None else "positive"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return float(value)


def _default_curve(problem, x, direction):
    manifold = problem.manifold
    return lambda t: manifold.retraction(x, t * direction)


def _eps(x):
    return finfo_eps(get_namespace(x), x.dtype)


def _direction_norm(problem, x, direction):
    from .solver import inner_float

    return math.sqrt(max(inner_float(problem.manifold, x, direction, direction), 0.0))


def _first_step(rule_initial, direction_norm):
    if rule_initial is not None:
        return rule_initial
    return 1.0 / max(direction_norm, 1e-300)


def _evaluating(problem, curve, with_gradient):
    """evaluate(t) for :func:`backtrack`: the Evaluation at γ(t) and its cost."""
    def evaluate(t):
        point = curve(t)
        if point is None:
            return None
        evaluation = problem.at(point)
        if with_gradient:
            evaluation.evaluate_gradient()
        return evaluation.cost, evaluation

    return evaluate


class Fixed(StepSizeRule):
    """t = lr at every iteration, no search (the learning rate of training loops).

    Parameters
    ----------
    lr : float
        The step t > 0.
    """

    def __init__(self, lr):
        self.lr = _positive("lr", lr)

    def search(self, problem, current, direction, slope, memory, curve=None):
        curve = curve or _default_curve(problem, current.x, direction)
        point = curve(self.lr)
        if point is None:
            return LineSearchResult(0.0, current, current.cost, 1, "line_search_failed")
        evaluation = problem.at(point)
        memory.step = self.lr
        return LineSearchResult(self.lr, evaluation, evaluation.cost, 1)


class Armijo(StepSizeRule):
    """Backtracking from twice the last accepted step (Absil et al. 2008, Alg. 1).

    Parameters
    ----------
    sufficient_decrease : float, default 1e-4
        c₁ ∈ (0, 1).
    contraction : float, default 0.5
        t ← contraction·t after a rejected trial.
    initial_step : float, optional
        First trial of the first search; default 1/‖d‖ (a step of unit length).
    growth : float, default 2
        First trial of later searches: growth × the last accepted step.
    max_backtracks : int, default 40
    evaluate_gradient : bool, default False
        Evaluate the gradient with the cost at each trial (one combined call):
        worth it when the first trial is usually accepted.
    """

    def __init__(self, sufficient_decrease=1e-4, contraction=0.5, initial_step=None, growth=2.0,
                 max_backtracks=40, evaluate_gradient=False):
        self.sufficient_decrease = _positive("sufficient_decrease", sufficient_decrease, 1)
        self.contraction = _positive("contraction", contraction, 1)
        self.initial_step = None if initial_step is None else _positive("initial_step",
                                                                        initial_step)
        self.growth = _positive("growth", growth)
        if isinstance(max_backtracks, bool) or not isinstance(max_backtracks, numbers.Integral) \
                or max_backtracks < 1:
            raise ValueError(f"max_backtracks must be a positive integer, got {max_backtracks!r}")
        self.max_backtracks = int(max_backtracks)
        self.evaluates_gradient = bool(evaluate_gradient)

    def guess(self, direction_norm, memory):
        """The first trial t₀."""
        if memory.step is None:
            return _first_step(self.initial_step, direction_norm)
        return self.growth * memory.step

    def search(self, problem, current, direction, slope, memory, curve=None, reference=None):
        x = current.x
        curve = curve or _default_curve(problem, x, direction)
        direction_norm = _direction_norm(problem, x, direction)
        eps = _eps(x)
        result = backtrack(
            _evaluating(problem, curve, self.evaluates_gradient),
            current.cost if reference is None else reference, slope,
            self.guess(direction_norm, memory), eps, self.sufficient_decrease, self.contraction,
            self.max_backtracks, shortest_step=eps / max(direction_norm, 1e-300))
        memory.count += 1
        if result.status is not None:
            result.evaluation = current
            return result
        memory.step, memory.slope = result.step, slope
        return result


class NonmonotoneBB(Armijo):
    """Barzilai–Borwein trial steps, Zhang–Hager nonmonotone acceptance (Wen & Yin 2013).

    With s = x_k − x_{k−1} and y = grad f(x_k) − grad f(x_{k−1}) (differences
    of ambient matrices) the first trial alternates α^{BB1} = ⟨s, s⟩/|⟨s, y⟩|
    and α^{BB2} = |⟨s, y⟩|/⟨y, y⟩, and a trial is accepted when
    f ≤ C_k + c₁ t φ'(0), with the average C_{k+1} = (ηQ_kC_k + f_{k+1})/Q_{k+1},
    Q_{k+1} = ηQ_k + 1. BB steps approximate the inverse curvature along the
    last step, which typically cuts iteration counts by an order of magnitude
    over Armijo. The gradient is evaluated with the cost at every trial (the
    first trial is usually accepted).

    Parameters
    ----------
    weight : float, default 0.85
        η ∈ [0, 1) of the Zhang–Hager average (0: monotone Armijo).
    sufficient_decrease, contraction, initial_step, max_backtracks
        As for :class:`Armijo`.
    """

    def __init__(self, weight=0.85, sufficient_decrease=1e-4, contraction=0.5,
                 initial_step=None, max_backtracks=40):
        super().__init__(sufficient_decrease, contraction, initial_step, 2.0, max_backtracks,
                         evaluate_gradient=True)
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not 0 <= weight < 1:
            raise ValueError(f"weight must be in [0, 1), got {weight!r}")
        self.weight = float(weight)

    def guess(self, direction_norm, memory, x=None, gradient=None, manifold=None):
        if memory.step is None or memory.previous is None:
            return _first_step(self.initial_step, direction_norm)
        from .solver import inner_float

        x_prev, grad_prev = memory.previous
        s = x - x_prev
        y = gradient - grad_prev
        sy = abs(inner_float(manifold, x, s, y))
        if sy == 0.0 or not math.isfinite(sy):
            return 2.0 * memory.step
        if memory.count % 2:
            t = inner_float(manifold, x, s, s) / sy
        else:
            t = sy / inner_float(manifold, x, y, y)
        return min(max(t, 1e-20), 1e20)

    def search(self, problem, current, direction, slope, memory, curve=None):
        x = current.x
        if memory.reference is None:
            memory.reference = current.cost
        curve = curve or _default_curve(problem, x, direction)
        direction_norm = _direction_norm(problem, x, direction)
        eps = _eps(x)
        t0 = self.guess(direction_norm, memory, x, current.gradient, problem.manifold)
        result = backtrack(_evaluating(problem, curve, True), max(memory.reference, current.cost),
                           slope, t0, eps, self.sufficient_decrease, self.contraction,
                           self.max_backtracks, shortest_step=eps / max(direction_norm, 1e-300))
        memory.count += 1
        if result.status is not None:
            # the average may sit above a cost the rounding cannot decrease: the precision
            # test is against the current cost, not the reference
            result.at_precision_limit = (result.status == "line_search_failed" and t0 * abs(
                slope) <= rounding_level(current.cost, eps, 100.0))
            result.evaluation = current
            return result
        memory.step, memory.slope = result.step, slope
        memory.previous = (x, current.gradient)
        q_new = self.weight * memory.weight + 1.0
        memory.reference = (self.weight * memory.weight * memory.reference + result.cost) / q_new
        memory.weight = q_new
        return result


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
