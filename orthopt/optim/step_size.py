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
status ``"precision_limit"``, a convergence, provided the gradient norm has
fallen to eps^{1/3} of its initial value (the loop checks this: a flat cost
along a wrong gradient is no convergence). A search that fails with a
measurable predicted decrease stays a failure.

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

from ..manifolds.points import point_eps

__all__ = [
    "StepSizeRule",
    "Fixed",
    "Armijo",
    "NonmonotoneBB",
    "StrongWolfe",
    "LineSearchResult",
    "sufficient_decrease",
    "batch_sufficient_decrease",
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
    slack = _approximate_wolfe_slack(eps) * abs(reference_cost)
    return trial_cost <= reference_cost + slack and trial_slope <= (2.0 * c1 - 1.0) * slope


def _approximate_wolfe_slack(eps):
    """ε_f = eps^{2/3}, the relative cost slack of the approximate Wolfe test."""
    return eps ** (2.0 / 3.0)


def batch_sufficient_decrease(trial_cost, reference_cost, step, slope, c1, eps, trial_slope=None):
    """:func:`sufficient_decrease` for k independent searches at once, one verdict each.

    The same test, elementwise: φ_i(t_i) ≤ f_ref,i + c₁ t_i φ_i'(0) and
    φ_i(t_i) < f_ref,i, or (given the slopes at the trials) Hager–Zhang's
    approximate Wolfe test with the slack of :func:`sufficient_decrease`.
    Non-finite trial costs (or slopes) never pass.

    Parameters
    ----------
    trial_cost, reference_cost, step, slope : numpy.ndarray of float64, shape (k,)
        φ_i(t_i), f_ref,i, t_i > 0, φ_i'(0) < 0 (host arrays: the per-problem
        scalars of a batched search).
    c1, eps : float
        As for :func:`sufficient_decrease`.
    trial_slope : numpy.ndarray, shape (k,), optional
        φ_i'(t_i).

    Returns
    -------
    numpy.ndarray of bool, shape (k,)
    """
    import numpy as np

    with np.errstate(invalid="ignore", over="ignore"):
        finite = np.isfinite(trial_cost)
        passed = finite & (trial_cost <= reference_cost + c1 * step * slope) & (
            trial_cost < reference_cost)
        if trial_slope is None:
            return passed
        slack = _approximate_wolfe_slack(eps) * np.abs(reference_cost)
        approximate = finite & np.isfinite(trial_slope) & (
            trial_cost <= reference_cost + slack) & (trial_slope <= (2.0 * c1 - 1.0) * slope)
    return passed | approximate


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
        None on success; "line_search_failed", or "nonfinite" when the trials
        nearest x were non-finite (the cost broke down).
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
              max_trials=40, shortest_step=0.0, trial_slope=None):
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
    trial_slope : callable, optional
        ``trial_slope(t, payload) -> φ'(t)``, asked only when a finite trial
        fails the exact test: then Hager–Zhang's approximate test may accept
        it (see :func:`sufficient_decrease`). For curves whose derivative is
        cheap next to the cost (ManPG's polar curve).

    Returns
    -------
    LineSearchResult
        ``evaluation`` is the payload of the accepted trial (None on failure).
    """
    t = float(initial_step)
    last_finite = True   # the shortest trial's cost: non-finite there means a breakdown
    trials = 0
    for trials in range(1, max_trials + 1):
        if t < shortest_step:
            trials -= 1
            break
        outcome = evaluate(t)
        if outcome is not None:
            cost, payload = outcome
            cost = float(cost)
            last_finite = math.isfinite(cost)
            if last_finite and (
                    sufficient_decrease(cost, reference_cost, t, slope, c1, eps)
                    or trial_slope is not None and sufficient_decrease(
                        cost, reference_cost, t, slope, c1, eps, trial_slope(t, payload))):
                return LineSearchResult(t, payload, cost, trials)
        t *= contraction
    # non-finite costs down to the shortest trial, next to x: the cost broke down (a
    # failure with finite costs there is a search that found no decrease)
    status = "line_search_failed" if last_finite else "nonfinite"
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


def checked_lr(lr):
    """A learning rate as a float (None stays None), or ValueError for anything not positive."""
    if lr is None:
        return None
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    return float(lr)


def renamed(name, value, old_name, old_value):
    """The value of an option that also goes by its first version's name (one of the two)."""
    if old_value is None:
        return value
    if value is not None:
        raise TypeError(f"pass {name}=... or its old name {old_name}=..., not both")
    return old_value


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
    # the least precise factor of a product point sets the rounding slack
    return point_eps(x)


def _direction_norm(problem, x, direction):
    from .solver import inner_float

    return math.sqrt(max(inner_float(problem.manifold, x, direction, direction), 0.0))


def _first_step(rule_initial, direction_norm):
    if rule_initial is not None:
        return rule_initial
    return 1.0 / max(direction_norm, 1e-300)


def _barzilai_borwein(manifold, memory, x, gradient):
    """BB1 (odd searches) or BB2 (even) from the last two iterates, or None when undefined.

    With s = x_k − x_{k−1} and y = grad f(x_k) − grad f(x_{k−1}) (differences of
    ambient matrices): α^{BB1} = ⟨s, s⟩/|⟨s, y⟩|, α^{BB2} = |⟨s, y⟩|/⟨y, y⟩.
    """
    from .solver import inner_float

    x_prev, grad_prev = memory.previous
    s = x - x_prev
    y = gradient - grad_prev
    sy = abs(inner_float(manifold, x, s, y))
    if sy == 0.0 or not math.isfinite(sy):
        return None
    if memory.count % 2:
        t = inner_float(manifold, x, s, s) / sy
    else:
        t = sy / inner_float(manifold, x, y, y)
    return min(max(t, 1e-20), 1e20) if math.isfinite(t) and t > 0 else None


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
    guess : {"bb", "growth"}, default "bb"
        First trial of later searches: the Barzilai–Borwein step of the last
        two iterates (see :class:`NonmonotoneBB`), or growth × the last
        accepted step. The acceptance stays monotone either way. On Brockett
        problems (SO(20), St(100, 5)) "growth" left steepest descent at 1e-4
        relative error after 1 000 iterations, "bb" reached 1e-13 in 400–540
        (``benchmarks/defaults.py``).
    growth : float, default 2
        The factor of ``guess="growth"``, and the fallback when the BB step
        is undefined.
    max_backtracks : int, default 40
    evaluate_gradient : bool, default False
        Evaluate the gradient with the cost at each trial (one combined call):
        worth it when the first trial is usually accepted.
    """

    def __init__(self, sufficient_decrease=1e-4, contraction=0.5, initial_step=None, guess="bb",
                 growth=2.0, max_backtracks=40, evaluate_gradient=False):
        if guess not in ("bb", "growth"):
            raise ValueError(f"guess must be 'bb' or 'growth', got {guess!r}")
        self.guess_rule = guess
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

    def guess(self, direction_norm, memory, current=None, manifold=None):
        """The first trial t₀."""
        if memory.step is None:
            return _first_step(self.initial_step, direction_norm)
        if self.guess_rule == "bb" and memory.previous is not None and current is not None:
            t = _barzilai_borwein(manifold, memory, current.x, current.gradient)
            if t is not None:
                return t
        return self.growth * memory.step

    def search(self, problem, current, direction, slope, memory, curve=None):
        x = current.x
        curve = curve or _default_curve(problem, x, direction)
        direction_norm = _direction_norm(problem, x, direction)
        eps = _eps(x)
        result = backtrack(
            _evaluating(problem, curve, self.evaluates_gradient), current.cost, slope,
            self.guess(direction_norm, memory, current, problem.manifold), eps,
            self.sufficient_decrease, self.contraction, self.max_backtracks,
            shortest_step=eps / max(direction_norm, 1e-300))
        memory.count += 1
        if result.status is not None:
            result.evaluation = current
            return result
        memory.step, memory.slope = result.step, slope
        if self.guess_rule == "bb":
            memory.previous = (x, current.gradient)
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
        super().__init__(sufficient_decrease, contraction, initial_step, "bb", 2.0,
                         max_backtracks, evaluate_gradient=True)
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not 0 <= weight < 1:
            raise ValueError(f"weight must be in [0, 1), got {weight!r}")
        self.weight = float(weight)

    def search(self, problem, current, direction, slope, memory, curve=None):
        x = current.x
        if memory.reference is None:
            memory.reference = current.cost
        curve = curve or _default_curve(problem, x, direction)
        direction_norm = _direction_norm(problem, x, direction)
        eps = _eps(x)
        t0 = self.guess(direction_norm, memory, current, problem.manifold)
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


# StrongWolfe lives in its own module (bracketing and cubic zoom are one idea of
# their own); imported here so that every rule is found in step_size
from .strong_wolfe import StrongWolfe  # noqa: E402,F401
