r"""Riemannian gradient descent: x_{k+1} = R_{x_k}(−α_k grad f(x_k)).

Step-size rules (:mod:`orthopt.optim.step_size`)
------------------------------------------------
``"fixed"`` / ``Fixed(lr)``
    α_k = lr. The stochastic-training rule; needs a step the user
    tuned (too large diverges, too small crawls).
``"armijo"`` / ``Armijo()``
    Backtracking from the Barzilai–Borwein step of the last two iterates
    (``Armijo(guess="growth")``: twice the last accepted step) until the
    monotone Armijo condition f(x_{k+1}) ≤ f(x_k) − c α_k ‖grad f(x_k)‖².
    Globally convergent to critical points (Absil, Mahony & Sepulchre 2008,
    Thm 4.3.1).
``"bb"`` / ``NonmonotoneBB()``
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

from dataclasses import dataclass

from .solver import Solver, SolverState, Step
from .step_size import Armijo, Fixed, NonmonotoneBB, StepSizeRule, checked_lr, renamed

__all__ = ["RiemannianGradientDescent"]

#: the rule names ``step_size`` (and its alias ``step``) accepts
STEP_RULES = {"armijo": Armijo, "bb": NonmonotoneBB, "fixed": Fixed}


def make_step_rule(step_size, lr, default="armijo"):
    """The step-size rule of a solver from a rule, a rule name, or a learning rate.

    ``lr`` alone means ``Fixed(lr)``; with a searching rule, ``lr`` is the
    first trial step.
    """
    if isinstance(step_size, StepSizeRule):
        return step_size
    if step_size is None:
        step_size = "fixed" if lr is not None else default
    if isinstance(step_size, (int, float)) and not isinstance(step_size, bool):
        raise TypeError(
            f"step_size is a step-size rule, got the number {step_size!r}; for a fixed step "
            f"pass lr={step_size!r} (or step_size=Fixed({step_size!r}))"
        )
    if step_size not in STEP_RULES:
        raise ValueError(
            f"unknown step rule {step_size!r}; valid: {', '.join(repr(s) for s in STEP_RULES)} "
            f"or a rule object (Fixed(lr), Armijo(), NonmonotoneBB(), StrongWolfe())"
        )
    if step_size == "fixed":
        if lr is None:
            raise ValueError("step_size='fixed' needs a learning rate: pass lr=... (e.g. lr=1e-2)")
        return Fixed(lr)
    return STEP_RULES[step_size](initial_step=lr)


@dataclass
class GradientDescentState(SolverState):
    """State of :class:`RiemannianGradientDescent`: the step rule's memory."""

    step_memory: object = None


class RiemannianGradientDescent(Solver):
    """Riemannian gradient descent with a fixed, Armijo or Barzilai–Borwein step.

    Parameters
    ----------
    step_size : StepSizeRule or {"armijo", "bb", "fixed"}, default "armijo"
        The step-size rule (see the module docstring); ``"fixed"`` needs ``lr``.
    lr : float, optional
        The learning rate: the step of ``Fixed`` and of :meth:`step`, or the
        first trial step of a searching rule (default 1/‖grad f(x₀)‖, a step
        of unit length).
    step : {"armijo", "bb", "fixed"}, optional
        The same as ``step_size`` (the first version's name).
    **options
        Stopping rules, ``verbose``, ``manifold``, ``blas_threads``, see
        :class:`~orthopt.optim.solver.Solver`.

    Examples
    --------
    >>> import numpy as np
    >>> from orthopt.manifolds import Stiefel
    >>> from orthopt.optim import Problem, RiemannianGradientDescent
    >>> A = np.diag(np.arange(1.0, 11.0))
    >>> problem = Problem(Stiefel(10, 3), lambda x: -np.trace(x.T @ A @ x),
    ...                   euclidean_gradient=lambda x: -2 * A @ x)
    >>> res = RiemannianGradientDescent(step_size="bb").run(problem, rng=0)
    >>> round(res.fun, 6)
    -27.0
    """

    def __init__(self, step_size=None, lr=None, step=None, **options):
        super().__init__(**options)
        step_size = renamed("step_size", step_size, "step", step)
        self.lr = checked_lr(lr)
        self.step_rule = make_step_rule(step_size, self.lr)

    def _start(self, problem, current, rng):
        return GradientDescentState(rng=rng, step_memory=self.step_rule.start())

    def _iterate(self, problem, current, state):
        grad = current.gradient
        grad_norm = current.grad_norm
        slope = -grad_norm ** 2
        search = self.step_rule.search(problem, current, -grad, slope, state.step_memory)
        return Step.from_search(current, search, grad_norm, slope)

    def _step(self, manifold, x, euclidean_gradient, state):
        """Stochastic update x ← R_x(−lr·P_x(g))."""
        if self.lr is None:
            raise ValueError(
                "RiemannianGradientDescent.step needs a learning rate: construct it with "
                "lr=... (e.g. RiemannianGradientDescent(lr=1e-2))"
            )
        grad = manifold.euclidean_to_riemannian_gradient(x, euclidean_gradient)
        return manifold.retraction(x, -self.lr * grad), state
