r"""Stopping criteria: small objects that look at the progress of a run.

A solver's loop asks its criterion after every iteration whether to stop::

    stopping = MaxIterations(1000) | GradientNorm(1e-6) | StepSize(1e-10)
    res = RiemannianConjugateGradient(stopping=stopping).run(problem)
    res.status, res.stopping      # "gradient_tolerance", GradientNorm(1e-06)

Each criterion reads a :class:`Progress` (the iteration count, the current
cost and gradient norm, the last accepted step, the costs so far, the clock
and the evaluation counters) and answers with itself when it fires, None
otherwise. ``a | b`` fires when either fires, ``a & b`` when both do. Every
criterion knows its ``status`` (the string the result reports) and whether
firing means convergence (``converged``): a gradient-norm test does, an
iteration budget does not.

Criteria hold no memory of a run (what they need, such as the recent costs,
is in the :class:`Progress`), so one solver object can run several problems
at once. Writing a new criterion is one class with a ``status``, a
``converged`` flag and a ``fired(progress)`` method; the solvers need no
change (see the docs page "How to add a solver, a stopping criterion, a
manifold").

Two stops are built into the loop and need no criterion: a non-finite cost
or gradient (status ``"nonfinite"``, the result holds the last finite
iterate) and a user callback returning True (status ``"callback"``).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

__all__ = [
    "Progress",
    "StoppingCriterion",
    "MaxIterations",
    "MaxTime",
    "MaxEvaluations",
    "GradientNorm",
    "StepSize",
    "CostChange",
    "AnyOf",
    "AllOf",
    "criterion_from_options",
]


@dataclass
class Progress:
    """What the loop knows about a run after an iteration.

    Attributes
    ----------
    iteration : int
        Iterations done (accepted or rejected).
    cost : float
        f at the current iterate.
    grad_norm : float
        ‖grad f‖ at the current iterate.
    initial_grad_norm : float
        ‖grad f(x₀)‖, for relative gradient tests.
    step_size : float or None
        Length of the step that produced the current iterate; None before
        the first iteration and after a rejected step (a trust-region step
        that was not taken), so that a rejection never reads as "the steps
        became too small".
    step_floor : float
        eps of the iterate's dtype: a shorter step does not change x in that
        precision.
    costs : list of float
        Cost after each accepted iteration, the start included (costs[-1]
        is ``cost``).
    time : float
        Seconds since the run started.
    n_evaluations : int
        Cost evaluations so far (``nfev``).
    """

    iteration: int
    cost: float
    grad_norm: float
    initial_grad_norm: float
    step_size: float | None = None
    step_floor: float = 0.0
    costs: list = field(default_factory=list)
    time: float = 0.0
    n_evaluations: int = 0


class StoppingCriterion:
    """Base class: a test on the :class:`Progress` of a run.

    Subclasses set ``status`` (the string :class:`~orthopt.optim.OptimizeResult`
    reports), ``converged`` (whether firing means the run reached a solution)
    and implement :meth:`fired`.
    """

    status = "stopped"
    converged = False

    def fired(self, progress):  # pragma: no cover - abstract
        """True when the run should stop."""
        raise NotImplementedError

    def check(self, progress):
        """The criterion that fired (this one, or a member of a combination) or None."""
        return self if self.fired(progress) else None

    def reason(self, progress):
        """Why the run stopped, in words (used for ``res.message``)."""
        return self.status.replace("_", " ")

    def __or__(self, other):
        return AnyOf(self, _as_criterion(other))

    def __and__(self, other):
        return AllOf(self, _as_criterion(other))

    def __repr__(self):
        fields = ", ".join(f"{value!r}" for value in self._repr_args())
        return f"{type(self).__name__}({fields})"

    def _repr_args(self):
        return ()


def _as_criterion(other):
    if not isinstance(other, StoppingCriterion):
        raise TypeError(
            f"stopping criteria combine with other criteria (MaxIterations, GradientNorm, ...), "
            f"got {type(other).__name__}"
        )
    return other


def _check_count(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        hint = ""
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            hint = (" (for no iteration limit, stop on something else: pass "
                    "stopping=GradientNorm(...) | MaxTime(...))" if value == math.inf else
                    f" (e.g. {name}={max(int(value), 0)})")
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}{hint}")
    return int(value)


def _check_tolerance(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


class MaxIterations(StoppingCriterion):
    """Stop after ``n`` iterations (not a convergence)."""

    status = "max_iterations"

    def __init__(self, n):
        self.n = _check_count("max_iterations", n)

    def fired(self, progress):
        return progress.iteration >= self.n

    def reason(self, progress):
        return f"maximum number of iterations reached ({self.n})"

    def _repr_args(self):
        return (self.n,)


class MaxTime(StoppingCriterion):
    """Stop after ``seconds`` of wall time (not a convergence)."""

    status = "max_time"

    def __init__(self, seconds):
        if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real) or not seconds > 0:
            raise ValueError(f"max_time must be a positive number of seconds, got {seconds!r}")
        self.seconds = float(seconds)

    def fired(self, progress):
        return progress.time >= self.seconds

    def reason(self, progress):
        return f"maximum time reached ({self.seconds:g} s)"

    def _repr_args(self):
        return (self.seconds,)


class MaxEvaluations(StoppingCriterion):
    """Stop after ``n`` cost evaluations (not a convergence)."""

    status = "max_evaluations"

    def __init__(self, n):
        self.n = _check_count("max_evaluations", n)

    def fired(self, progress):
        return progress.n_evaluations >= self.n

    def reason(self, progress):
        return f"maximum number of cost evaluations reached ({self.n})"

    def _repr_args(self):
        return (self.n,)


class GradientNorm(StoppingCriterion):
    """Stop when ‖grad f(x)‖ ≤ tol (or ≤ tol·‖grad f(x₀)‖ with ``relative=True``)."""

    status = "gradient_tolerance"
    converged = True

    def __init__(self, tol, relative=False):
        self.tol = _check_tolerance("gradient_tolerance", tol)
        self.relative = bool(relative)

    def fired(self, progress):
        bound = self.tol * progress.initial_grad_norm if self.relative else self.tol
        return progress.grad_norm <= bound

    def reason(self, progress):
        if self.relative:
            return (f"Riemannian gradient norm {progress.grad_norm:.2e} below {self.tol:g} × "
                    f"its initial value")
        return f"Riemannian gradient norm {progress.grad_norm:.2e} below tolerance {self.tol:g}"

    def _repr_args(self):
        return (self.tol,) + ((True,) if self.relative else ())


class StepSize(StoppingCriterion):
    """Stop when an accepted step is shorter than ``tol`` (or than eps of x's dtype).

    A step shorter than eps does not change x in its precision; the floor
    makes float32 runs at their precision limit stop instead of accepting
    such steps until the iteration budget runs out. Rejected steps (a trust
    region that shrinks) never fire it.
    """

    status = "step_tolerance"
    converged = True

    def __init__(self, tol):
        self.tol = _check_tolerance("step_tolerance", tol)

    def fired(self, progress):
        step = progress.step_size
        return step is not None and bool(step <= self.tol or step < progress.step_floor)

    def reason(self, progress):
        return f"step size {progress.step_size:.2e} below tolerance {max(self.tol, progress.step_floor):.1e}"

    def _repr_args(self):
        return (self.tol,)


class CostChange(StoppingCriterion):
    """Stop when the cost changed by at most tol·max(1, |f|) over the last ``window`` iterations.

    With ``window=1`` this is SciPy's ``ftol`` test on consecutive costs; a
    longer window suits nonmonotone methods (Barzilai–Borwein, coordinate
    descent) whose single steps can change the cost by little while the run
    still makes progress.
    """

    status = "cost_tolerance"
    converged = True

    def __init__(self, tol, window=1):
        self.tol = _check_tolerance("cost_tolerance", tol)
        self.window = _check_count("window", window)
        if self.window < 1:
            raise ValueError("window must be at least 1 (iterations)")

    def fired(self, progress):
        costs = progress.costs
        if len(costs) <= self.window:
            return False
        recent = costs[-self.window - 1:]
        change = max(recent) - min(recent)
        return change <= self.tol * max(1.0, abs(progress.cost))

    def reason(self, progress):
        return (f"cost changed by at most {self.tol:g} (relative) over the last "
                f"{self.window} iteration{'s' if self.window > 1 else ''}")

    def _repr_args(self):
        return (self.tol,) + ((self.window,) if self.window != 1 else ())


class AnyOf(StoppingCriterion):
    """Fires when any member fires (``a | b``); reports the first member that fired."""

    def __init__(self, *criteria):
        members = []
        for criterion in criteria:
            criterion = _as_criterion(criterion)
            members.extend(criterion.criteria if isinstance(criterion, AnyOf) else [criterion])
        self.criteria = tuple(members)

    def check(self, progress):
        for criterion in self.criteria:
            fired = criterion.check(progress)
            if fired is not None:
                return fired
        return None

    def fired(self, progress):
        return self.check(progress) is not None

    def __repr__(self):
        return " | ".join(_bracket(c, AllOf) for c in self.criteria)


class AllOf(StoppingCriterion):
    """Fires when every member fires (``a & b``).

    Its status is the first member's; it means convergence when any member
    does (all conditions hold, a convergence test among them).
    """

    def __init__(self, *criteria):
        members = []
        for criterion in criteria:
            criterion = _as_criterion(criterion)
            members.extend(criterion.criteria if isinstance(criterion, AllOf) else [criterion])
        self.criteria = tuple(members)
        self.status = self.criteria[0].status
        self.converged = any(c.converged for c in self.criteria)

    def fired(self, progress):
        return all(c.fired(progress) for c in self.criteria)

    def reason(self, progress):
        return " and ".join(c.reason(progress) for c in self.criteria)

    def __repr__(self):
        return " & ".join(_bracket(c, AnyOf) for c in self.criteria)


def _bracket(criterion, combination):
    text = repr(criterion)
    return f"({text})" if isinstance(criterion, combination) else text


def criterion_from_options(max_iterations=1000, max_time=math.inf, gradient_tolerance=1e-6,
                           relative_gradient_tolerance=0.0, step_tolerance=1e-12,
                           cost_tolerance=0.0, max_evaluations=None, cost_window=1):
    """The criterion that the keyword options of the solvers (and ``minimize``) stand for.

    Convergence tests come first so that a run that converges on its last
    allowed iteration reports the convergence. A zero tolerance (or an
    infinite time) leaves its test out.
    """
    members = [GradientNorm(gradient_tolerance)]
    if _check_tolerance("relative_gradient_tolerance", relative_gradient_tolerance) > 0:
        members.append(GradientNorm(relative_gradient_tolerance, relative=True))
    members.append(StepSize(step_tolerance))
    if _check_tolerance("cost_tolerance", cost_tolerance) > 0:
        members.append(CostChange(cost_tolerance, window=cost_window))
    members.append(MaxIterations(max_iterations))
    if max_evaluations is not None:
        members.append(MaxEvaluations(max_evaluations))
    if not (isinstance(max_time, numbers.Real) and not isinstance(max_time, bool)
            and max_time > 0):
        raise ValueError(f"max_time must be a positive number of seconds, got {max_time!r}")
    if max_time != math.inf:
        members.append(MaxTime(max_time))
    return AnyOf(*members)
