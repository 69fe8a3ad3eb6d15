r"""Step-size rules along a retraction curve t ↦ R_x(t d).

Both searches look for a step α with *sufficient decrease*

    f(R_x(α d)) ≤ f_ref + c α ⟨grad f(x), d⟩,

with f_ref = f(x) for the monotone Armijo rule and the Zhang–Hager average
C_k for the nonmonotone one. A trial with a non-finite cost counts as a
failure and the step is shortened; if every trial is non-finite the search
reports it, so the solver can stop with status "nonfinite".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..backend import to_float

__all__ = ["LineSearchResult", "backtracking"]


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
    """

    step: float
    x: object
    cost: float
    n_evaluations: int
    status: str | None = None


def backtracking(problem, x, direction, slope, reference_cost, initial_step,
                 sufficient_decrease=1e-4, contraction=0.5, max_backtracks=40):
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

    Returns
    -------
    LineSearchResult
    """
    manifold = problem.manifold
    alpha = float(initial_step)
    any_finite = False
    for k in range(1, max_backtracks + 1):
        candidate = manifold.retraction(x, alpha * direction)
        cost = to_float(problem.cost(candidate))
        if math.isfinite(cost):
            any_finite = True
            if cost <= reference_cost + sufficient_decrease * alpha * slope:
                return LineSearchResult(alpha, candidate, cost, k)
        alpha *= contraction
    status = "line_search_failed" if any_finite else "nonfinite"
    return LineSearchResult(0.0, x, float(reference_cost), max_backtracks, status)
