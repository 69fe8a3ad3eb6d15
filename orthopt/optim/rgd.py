r"""Riemannian gradient descent: x_{k+1} = R_{x_k}(−α_k grad f(x_k)).

Step-size rules
---------------
``"fixed"``
    α_k = step_size. The stochastic-training rule; needs a step the user
    tuned (too large diverges, too small crawls).
``"armijo"``
    Backtracking from a growing initial guess (twice the last accepted step)
    until the Armijo condition f(x_{k+1}) ≤ f(x_k) − c α_k ‖grad f(x_k)‖².
    Globally convergent to critical points (Absil, Mahony & Sepulchre 2008,
    Thm 4.3.1).
``"bb"``
    Barzilai–Borwein steps with the Zhang–Hager nonmonotone line search, as in
    Wen & Yin (2013): with s = x_k − x_{k−1} and y = grad f(x_k) − grad f(x_{k−1})
    (differences of ambient matrices), alternate
    α^{BB1} = ⟨s, s⟩/|⟨s, y⟩| (odd k) and α^{BB2} = |⟨s, y⟩|/⟨y, y⟩ (even k),
    and accept when f(x_{k+1}) ≤ C_k − c α ‖grad‖², where C_k is a weighted
    average of past costs: Q_{k+1} = ηQ_k + 1, C_{k+1} = (ηQ_kC_k + f_{k+1})/Q_{k+1}.
    BB steps approximate the inverse curvature along the last step, which
    typically cuts iteration counts by an order of magnitude over Armijo.

References
----------
Barzilai & Borwein (1988), IMA J. Numer. Anal. 8. Zhang & Hager (2004), SIAM J.
Optim. 14(4). Wen & Yin (2013), Math. Program. 142.
"""

from __future__ import annotations

import math

from ..backend import to_float
from .line_search import backtracking
from .solver import Solver, Step, inner_float

__all__ = ["RiemannianGradientDescent"]


class RiemannianGradientDescent(Solver):
    """Riemannian gradient descent with a fixed, Armijo or Barzilai–Borwein step.

    Parameters
    ----------
    step : {"armijo", "bb", "fixed"}, default "armijo"
        The step-size rule (see the module docstring).
    step_size : float, optional
        The step for ``step="fixed"`` (required there); the first trial step
        for the others (default 1/‖grad f(x₀)‖, a step of unit length); the
        learning rate of :meth:`step` (required there).
    sufficient_decrease : float, default 1e-4
        Armijo constant c.
    contraction : float, default 0.5
        Backtracking factor.
    nonmonotone_weight : float, default 0.85
        η of the Zhang–Hager average (0 gives the monotone Armijo rule).
    **stopping
        Stopping rules and ``verbose``, see :class:`~orthopt.optim.solver.Solver`.

    Examples
    --------
    >>> import numpy as np
    >>> from orthopt.manifolds import Stiefel
    >>> from orthopt.optim import Problem, RiemannianGradientDescent
    >>> A = np.diag(np.arange(1.0, 11.0))
    >>> problem = Problem(Stiefel(10, 3), lambda x: -np.trace(x.T @ A @ x),
    ...                   euclidean_gradient=lambda x: -2 * A @ x)
    >>> res = RiemannianGradientDescent(step="bb").run(problem, rng=0)
    >>> round(res.fun, 6)
    -27.0
    """

    STEPS = ("armijo", "bb", "fixed")

    def __init__(self, step="armijo", step_size=None, sufficient_decrease=1e-4,
                 contraction=0.5, nonmonotone_weight=0.85, **stopping):
        super().__init__(**stopping)
        if step not in self.STEPS:
            raise ValueError(
                f"unknown step rule {step!r}; valid: {', '.join(repr(s) for s in self.STEPS)}"
            )
        if step == "fixed" and step_size is None:
            raise ValueError("step='fixed' needs a step_size (e.g. step_size=1e-2)")
        if step_size is not None and not step_size > 0:
            raise ValueError(f"step_size must be positive, got {step_size}")
        if not 0 < contraction < 1:
            raise ValueError(f"contraction must be in (0, 1), got {contraction}")
        if not 0 < sufficient_decrease < 1:
            raise ValueError(f"sufficient_decrease must be in (0, 1), got {sufficient_decrease}")
        self.step_rule = step
        self.step_size = step_size
        self.sufficient_decrease = sufficient_decrease
        self.contraction = contraction
        self.nonmonotone_weight = nonmonotone_weight

    def _start(self, problem, x, cost, grad):
        return {"alpha": None, "previous": None, "reference": to_float(cost), "weight": 1.0,
                "k": 0}

    def _iterate(self, problem, x, cost, grad, state):
        manifold = problem.manifold
        grad_norm2 = inner_float(manifold, x, grad, grad)
        grad_norm = math.sqrt(grad_norm2)
        if self.step_rule == "fixed":
            alpha = self.step_size
            x_new = manifold.retraction(x, -alpha * grad)
            cost_new, grad_new = problem.cost_and_riemannian_gradient(x_new)
            return Step(x_new, cost_new, grad_new, alpha * grad_norm)

        alpha0 = self._initial_step(manifold, x, grad, grad_norm, state)
        reference = state["reference"] if self.step_rule == "bb" else to_float(cost)
        # BB trial steps are accepted at once most of the time, so evaluate the
        # gradient together with the cost at each trial and never twice.
        search = backtracking(problem, x, -grad, -grad_norm2, reference, alpha0,
                              self.sufficient_decrease, self.contraction,
                              gradient=self.step_rule == "bb")
        if search.status is not None:
            return Step(x, cost, grad, 0.0, status=search.status)
        if search.grad is not None:
            cost_new, grad_new = search.cost, search.grad
        else:
            cost_new, grad_new = problem.cost_and_riemannian_gradient(search.x)
        state["alpha"] = search.step
        state["previous"] = (x, grad)
        state["k"] += 1
        if self.step_rule == "bb":
            eta, q = self.nonmonotone_weight, state["weight"]
            q_new = eta * q + 1.0
            state["reference"] = (eta * q * state["reference"] + to_float(cost_new)) / q_new
            state["weight"] = q_new
        return Step(search.x, cost_new, grad_new, search.step * grad_norm)

    def _step(self, manifold, x, euclidean_gradient, state):
        """Stochastic update x ← R_x(−lr·P_x(g)) with lr = ``step_size``."""
        if self.step_size is None:
            raise ValueError(
                "RiemannianGradientDescent.step needs a learning rate: construct it with "
                "step_size=... (e.g. RiemannianGradientDescent(step='fixed', step_size=1e-2))"
            )
        grad = manifold.euclidean_to_riemannian_gradient(x, euclidean_gradient)
        state["iteration"] = state.get("iteration", 0) + 1
        return manifold.retraction(x, -self.step_size * grad), state

    def _initial_step(self, manifold, x, grad, grad_norm, state):
        if state["alpha"] is None:
            return self.step_size if self.step_size is not None else 1.0 / max(grad_norm, 1e-300)
        if self.step_rule == "armijo":
            return 2.0 * state["alpha"]
        x_prev, grad_prev = state["previous"]
        s = x - x_prev
        y = grad - grad_prev
        sy = abs(inner_float(manifold, x, s, y))
        if sy == 0.0:
            return 2.0 * state["alpha"]
        if state["k"] % 2:
            alpha = inner_float(manifold, x, s, s) / sy
        else:
            alpha = sy / inner_float(manifold, x, y, y)
        return min(max(alpha, 1e-20), 1e20)
