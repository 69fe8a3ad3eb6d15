r"""Riemannian nonlinear conjugate gradients.

The iteration (Absil, Mahony & Sepulchre 2008, §8.3; Sato 2021)

    x_{k+1} = R_{x_k}(α_k d_k),
    d_{k+1} = −g_{k+1} + β_{k+1} T(d_k),

with g_k = grad f(x_k) and T the vector transport by projection onto the new
tangent space (T(v) = P_{x_{k+1}}(v)): on a manifold d_k and g_{k+1} live in
different tangent spaces, so the old direction is carried over first. With
ĝ = T(g_k), d̂ = T(d_k) and y = g_{k+1} − ĝ the choices of β are

========  ===============================================================
``"fr"``  Fletcher–Reeves  ⟨g_{k+1}, g_{k+1}⟩ / ⟨g_k, g_k⟩
``"pr"``  Polak–Ribière+   max(0, ⟨g_{k+1}, y⟩ / ⟨g_k, g_k⟩)
``"hs"``  Hestenes–Stiefel+ max(0, ⟨g_{k+1}, y⟩ / ⟨d̂, y⟩)
``"hz"``  Hager–Zhang      max(β^HZ, η_k), β^HZ = ⟨y − 2d̂‖y‖²/⟨d̂, y⟩, g_{k+1}⟩ / ⟨d̂, y⟩,
                           η_k = −1 / (‖d̂‖ min(η, ‖g_k‖)), η = 0.01
========  ===============================================================

Truncating PR and HS at zero (Powell's "+" rule, Gilbert & Nocedal 1992)
restarts them automatically when they would otherwise cycle; the lower bound
η_k of Hager & Zhang (2005) keeps their β from being too negative while
preserving the sufficient-descent property.

Restarts. The direction is reset to −g_{k+1} when d_{k+1} is not a descent
direction (⟨g_{k+1}, d_{k+1}⟩ ≥ −10⁻¹⁰‖g‖‖d‖; possible with a line search
that does not satisfy the strong Wolfe conditions with a small c₂), and every
``restart_every`` iterations (conjugacy fades: the method works with a
quadratic model whose basis drifts).

Line search (:mod:`orthopt.optim.step_size`). ``StrongWolfe()`` (default) asks for the strong Wolfe conditions, which
guarantee descent for FR with c₂ < ½ and make β well informed; each trial
returns the gradient too, so an iteration whose first trial is accepted costs
exactly one cost-and-gradient evaluation. ``Armijo()`` backtracks on the cost
alone. The first trial is α_{k−1}·⟨g_{k−1}, d_{k−1}⟩ / ⟨g_k, d_k⟩ (Nocedal &
Wright 2006, eq. 3.60): it assumes the first-order change of the cost along
consecutive search directions is the same, which is accurate for CG where
the directions change slowly.

References
----------
Absil, Mahony & Sepulchre (2008), Optimization Algorithms on Matrix
Manifolds, Princeton. Hager & Zhang (2005), SIAM J. Optim. 16(1); (2006),
Pacific J. Optim. 2(1) (the survey of β formulas). Nocedal & Wright (2006),
Numerical Optimization, ch. 5. Ring & Wirth (2012), SIAM J. Optim. 22(2).
Sato (2021), Riemannian Optimization and Its Applications, Springer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .solver import Solver, SolverState, Step, inner_float
from .step_size import Armijo, StepSizeRule, StrongWolfe, renamed

__all__ = ["RiemannianConjugateGradient"]


@dataclass
class ConjugateGradientState(SolverState):
    """State of :class:`RiemannianConjugateGradient`: the previous iterate and direction."""

    step_memory: object = None
    fallback_memory: object = None
    x: object = None                 # previous iterate x_k
    direction: object = None         # d_k
    grad: object = None              # g_k
    grad_norm2: float | None = None  # ‖g_k‖²
    since_restart: int = 0


class RiemannianConjugateGradient(Solver):
    """Nonlinear conjugate gradients on a manifold, transport by projection.

    Parameters
    ----------
    beta : {"hz", "pr", "hs", "fr"}, default "hz"
        The conjugacy rule (see the module docstring): Hager–Zhang,
        Polak–Ribière+, Hestenes–Stiefel+ or Fletcher–Reeves.
    step_size : StepSizeRule or {"wolfe", "armijo"}, default StrongWolfe(curvature=0.1, max_evaluations=6)
        The line search. c₂ = 0.1 (a fairly exact search) gave the fewest
        cost evaluations in total on Brockett problems for every β: looser
        searches accept the first trial more often but lose conjugacy. Six
        evaluations suffice: the derivative along the curve is only
        approximated, so for long steps the curvature test can be
        unsatisfiable and a large budget only burns evaluations.
    restart_every : int, optional
        Reset the direction to −grad every this many iterations; default:
        never on schedule (only when the direction is not a descent direction).
    lr : float, optional
        First trial step of the first iteration; default 1/‖grad f(x₀)‖.
    hz_eta : float, default 0.01
        η of the Hager–Zhang lower bound.
    initial_step : {"ratio", "secant"}, default "ratio"
        First trial of later searches (see :class:`~orthopt.optim.step_size.StrongWolfe`).
        "ratio" needed the fewest evaluations on Brockett problems (1.3 per
        iteration against 1.8 for "secant"); "secant" did better on
        Procrustes (2.6 against 2.9).
    line_search : {"wolfe", "armijo"}, optional
        The same as ``step_size`` given by name (the first version's option).
    **options
        Stopping rules, ``verbose``, ``manifold``, ``blas_threads``, see
        :class:`~orthopt.optim.solver.Solver`.

    Examples
    --------
    >>> import numpy as np
    >>> from orthopt.manifolds import Stiefel
    >>> from orthopt.optim import Problem, RiemannianConjugateGradient
    >>> A = np.diag(np.arange(1.0, 11.0))
    >>> problem = Problem(Stiefel(10, 3), lambda x: -np.trace(x.T @ A @ x),
    ...                   euclidean_gradient=lambda x: -2 * A @ x)
    >>> res = RiemannianConjugateGradient(beta="hz").run(problem, rng=0)
    >>> round(res.fun, 6)
    -27.0
    """

    BETAS = ("hz", "pr", "hs", "fr")

    def __init__(self, beta="hz", step_size=None, restart_every=None, lr=None, hz_eta=0.01,
                 initial_step="ratio", line_search=None, **options):
        super().__init__(**options)
        if beta not in self.BETAS:
            raise ValueError(
                f"unknown beta {beta!r}; valid: {', '.join(repr(b) for b in self.BETAS)}"
            )
        step_size = renamed("step_size", step_size, "line_search", line_search)
        if restart_every is not None and not (int(restart_every) == restart_every
                                               and restart_every >= 1):
            raise ValueError(f"restart_every must be a positive integer or None, "
                             f"got {restart_every!r}")
        if lr is not None and not lr > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        if not hz_eta > 0:
            raise ValueError(f"hz_eta must be positive, got {hz_eta}")
        if initial_step not in ("secant", "ratio"):
            raise ValueError(f"initial_step must be 'secant' or 'ratio', got {initial_step!r}")
        self.beta = beta
        self.restart_every = None if restart_every is None else int(restart_every)
        self.lr = lr
        self.hz_eta = hz_eta
        self.initial_step = initial_step
        if step_size is None or step_size == "wolfe":
            step_size = StrongWolfe(curvature=0.1, max_evaluations=6, initial_step=lr,
                                    guess=initial_step)
        elif step_size == "armijo":
            step_size = Armijo(initial_step=lr, evaluate_gradient=True)
        elif not isinstance(step_size, StepSizeRule):
            raise ValueError(f"unknown line search {step_size!r}; use 'wolfe', 'armijo' or a "
                             f"rule object (StrongWolfe(), Armijo())")
        self.step_rule = step_size
        # a failed conjugate direction is retried along −grad with this search
        self.fallback_rule = Armijo(evaluate_gradient=True)

    # -- deterministic iteration ---------------------------------------------------

    def _start(self, problem, current, rng):
        return ConjugateGradientState(rng=rng, step_memory=self.step_rule.start(),
                                      fallback_memory=self.fallback_rule.start())

    def _iterate(self, problem, current, state):
        manifold = problem.manifold
        x, grad = current.x, current.gradient
        grad_norm2 = current.grad_norm ** 2
        direction, slope, direction_norm2 = self._direction(manifold, x, grad, grad_norm2,
                                                            state)
        search = self.step_rule.search(problem, current, direction, slope, state.step_memory)
        if search.status == "line_search_failed" and not search.at_precision_limit \
                and state.since_restart > 0:
            # a poor conjugate direction: retry once along −grad before giving up
            state.since_restart = 0
            direction, slope, direction_norm2 = -grad, -grad_norm2, grad_norm2
            # start from the last accepted step, not a unit-length one: near a minimizer a
            # unit step is so long that its failure says nothing about the precision limit
            state.fallback_memory.step = state.step_memory.step
            search = self.fallback_rule.search(problem, current, direction, slope,
                                               state.fallback_memory)
        step = Step.from_search(current, search, math.sqrt(max(direction_norm2, 0.0)), slope)
        if step.status is None:
            state.x, state.direction, state.grad = x, direction, grad
            state.grad_norm2 = grad_norm2
            step.extra["restarted"] = state.since_restart == 0
        return step

    def _direction(self, manifold, x, grad, grad_norm2, state):
        """d = −g + β T(d_prev), or −g on a restart; returns (d, ⟨g, d⟩, ⟨d, d⟩)."""
        restart = state.direction is None or (
            self.restart_every is not None and state.since_restart >= self.restart_every
        )
        if not restart:
            beta, moved = self._beta(manifold, x, grad, grad_norm2, state)
            if beta is not None and beta != 0.0:
                direction = beta * moved - grad
                slope = inner_float(manifold, x, grad, direction)
                d_norm2 = inner_float(manifold, x, direction, direction)
                if slope < -1e-10 * math.sqrt(grad_norm2 * d_norm2) and math.isfinite(slope):
                    state.since_restart += 1
                    return direction, slope, d_norm2
        state.since_restart = 0
        return -grad, -grad_norm2, grad_norm2

    def _beta(self, manifold, x, grad, grad_norm2, state):
        """β_{k+1} and T(d_k); β is None when a denominator vanishes (restart).

        With transport by orthogonal projection, inner products of a tangent
        vector at x with a transported vector need no transport:
        ⟨g, P_x(u)⟩ = ⟨g, u⟩ for g ∈ T_x. So PR and HS use ⟨g, ĝ⟩ = ⟨g, g_k⟩
        and ⟨d̂, ĝ⟩ = ⟨d̂, g_k⟩ and never project g_k (one projection less per
        iteration); only HZ, which needs ‖y‖², projects it.
        """
        moved = manifold.transport(state.x, x, state.direction)
        prev_norm2 = state.grad_norm2
        if self.beta == "fr":
            return (grad_norm2 / prev_norm2 if prev_norm2 > 0 else None), moved
        previous_grad = state.grad
        # ⟨g_{k+1}, T(d_k)⟩ ≈ φ'(α_k) of the last line search
        d_g = inner_float(manifold, x, moved, grad)
        g_y = grad_norm2 - inner_float(manifold, x, grad, previous_grad)
        if self.beta == "pr":
            return (max(0.0, g_y / prev_norm2) if prev_norm2 > 0 else None), moved
        d_y = d_g - inner_float(manifold, x, moved, previous_grad)
        if not d_y != 0.0:
            return None, moved
        if self.beta == "hs":
            return max(0.0, g_y / d_y), moved
        # Hager–Zhang: β = (⟨g, y⟩ − 2‖y‖²⟨d̂, g⟩/⟨d̂, y⟩)/⟨d̂, y⟩, bounded below by η_k
        y = grad - manifold.transport(state.x, x, previous_grad)
        y_norm2 = inner_float(manifold, x, y, y)
        beta = (g_y - 2.0 * y_norm2 * d_g / d_y) / d_y
        d_norm = math.sqrt(max(inner_float(manifold, x, moved, moved), 0.0))
        if d_norm > 0:
            eta_k = -1.0 / (d_norm * min(self.hz_eta, math.sqrt(prev_norm2)))
            beta = max(beta, eta_k)
        return beta, moved

    # -- stochastic step -------------------------------------------------------------

    def _step(self, manifold, x, euclidean_gradient, state):
        raise NotImplementedError(
            "RiemannianConjugateGradient has no stochastic step: conjugacy and line searches "
            "need exact gradients of one fixed cost. For minibatch training use "
            "RiemannianSGD(lr=..., momentum=0.9) (momentum is the stochastic analogue of "
            "the conjugate direction) or RiemannianRMSprop"
        )
