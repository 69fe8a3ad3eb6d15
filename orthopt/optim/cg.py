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

Line search. ``"wolfe"`` (default) asks for the strong Wolfe conditions, which
guarantee descent for FR with c₂ < ½ and make β well informed; each trial
returns the gradient too, so an iteration whose first trial is accepted costs
exactly one cost-and-gradient evaluation. ``"armijo"`` backtracks on the cost
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

from ..backend import to_float
from .line_search import backtracking, strong_wolfe
from .solver import Solver, Step, inner_float

__all__ = ["RiemannianConjugateGradient"]


class RiemannianConjugateGradient(Solver):
    """Nonlinear conjugate gradients on a manifold, transport by projection.

    Parameters
    ----------
    beta : {"hz", "pr", "hs", "fr"}, default "hz"
        The conjugacy rule (see the module docstring): Hager–Zhang,
        Polak–Ribière+, Hestenes–Stiefel+ or Fletcher–Reeves.
    line_search : {"wolfe", "armijo"}, default "wolfe"
        Strong-Wolfe search (cost and gradient at each trial) or Armijo
        backtracking (cost only).
    restart_every : int, optional
        Reset the direction to −grad every this many iterations; default:
        never on schedule (only when the direction is not a descent direction).
    step_size : float, optional
        First trial step of the first iteration; default 1/‖grad f(x₀)‖ (a
        step of unit length).
    sufficient_decrease : float, default 1e-4
        Armijo constant c₁.
    curvature : float, default 0.1
        c₂ of the strong-Wolfe search. 0.1 (a fairly exact search) gave the
        fewest cost evaluations in total on Brockett problems for every β:
        looser searches (0.4, 0.9) accept the first trial more often but
        lose conjugacy and need more iterations.
    contraction : float, default 0.5
        Backtracking factor of the Armijo search.
    hz_eta : float, default 0.01
        η of the Hager–Zhang lower bound.
    initial_step : {"ratio", "secant"}, default "ratio"
        First trial step of each line search (see :meth:`_initial_step`).
        "ratio" needed the fewest evaluations on Brockett problems (1.3 per
        iteration against 1.8 for "secant"); "secant" did better on
        Procrustes (2.6 against 2.9).
    max_line_search_evaluations : int, default 6
        Budget of the strong-Wolfe search; when it runs out, the best point
        with sufficient decrease is taken. The derivative along the curve is
        only approximated (see :mod:`~orthopt.optim.line_search`), so for long
        steps the curvature test can be unsatisfiable and a large budget
        only burns evaluations.
    **stopping
        Stopping rules, ``verbose`` and ``manifold``, see
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
    LINE_SEARCHES = ("wolfe", "armijo")

    def __init__(self, beta="hz", line_search="wolfe", restart_every=None, step_size=None,
                 sufficient_decrease=1e-4, curvature=0.1, contraction=0.5, hz_eta=0.01,
                 initial_step="ratio", max_line_search_evaluations=6, **stopping):
        super().__init__(**stopping)
        if beta not in self.BETAS:
            raise ValueError(
                f"unknown beta {beta!r}; valid: {', '.join(repr(b) for b in self.BETAS)}"
            )
        if line_search not in self.LINE_SEARCHES:
            raise ValueError(
                f"unknown line_search {line_search!r}; valid: "
                f"{', '.join(repr(s) for s in self.LINE_SEARCHES)}"
            )
        if restart_every is not None and not (int(restart_every) == restart_every
                                               and restart_every >= 1):
            raise ValueError(f"restart_every must be a positive integer or None, "
                             f"got {restart_every!r}")
        if step_size is not None and not step_size > 0:
            raise ValueError(f"step_size must be positive, got {step_size}")
        if not 0 < sufficient_decrease < 0.5:
            raise ValueError(f"sufficient_decrease must be in (0, 0.5), got {sufficient_decrease}")
        if not sufficient_decrease < curvature < 1:
            raise ValueError(
                f"curvature must be in (sufficient_decrease, 1) = ({sufficient_decrease}, 1), "
                f"got {curvature}"
            )
        if not 0 < contraction < 1:
            raise ValueError(f"contraction must be in (0, 1), got {contraction}")
        if not hz_eta > 0:
            raise ValueError(f"hz_eta must be positive, got {hz_eta}")
        self.beta = beta
        self.line_search = line_search
        self.restart_every = None if restart_every is None else int(restart_every)
        self.step_size = step_size
        self.sufficient_decrease = sufficient_decrease
        self.curvature = curvature
        self.contraction = contraction
        self.hz_eta = hz_eta
        if initial_step not in ("secant", "ratio"):
            raise ValueError(f"initial_step must be 'secant' or 'ratio', got {initial_step!r}")
        self.initial_step = initial_step
        if not (int(max_line_search_evaluations) == max_line_search_evaluations
                and max_line_search_evaluations >= 1):
            raise ValueError(f"max_line_search_evaluations must be a positive integer, "
                             f"got {max_line_search_evaluations!r}")
        self.max_line_search_evaluations = int(max_line_search_evaluations)

    # -- deterministic iteration ---------------------------------------------------

    def _start(self, problem, x, cost, grad):
        # Everything about the previous iterate that the next direction needs.
        return {"x": None, "direction": None, "grad": None, "grad_norm2": None, "slope": None,
                "alpha": None, "since_restart": 0}

    def _iterate(self, problem, x, cost, grad, state):
        manifold = problem.manifold
        known = state.get("known_norm2")
        if known is not None and known[0] is grad:
            grad_norm2 = known[1]  # computed at the end of the previous iteration
        else:
            grad_norm2 = inner_float(manifold, x, grad, grad)
        direction, slope, direction_norm2 = self._direction(manifold, x, grad, grad_norm2,
                                                            state)
        alpha0 = self._initial_step(grad_norm2, slope, direction_norm2, state)
        cost_f = to_float(cost)

        if self.line_search == "wolfe":
            search = strong_wolfe(problem, x, direction, cost_f, slope, alpha0,
                                  self.sufficient_decrease, self.curvature,
                                  max_evaluations=self.max_line_search_evaluations)
        else:
            search = backtracking(problem, x, direction, slope, cost_f, alpha0,
                                  self.sufficient_decrease, self.contraction, gradient=True)
        if search.status == "line_search_failed" and state["since_restart"] > 0:
            # a poor conjugate direction: retry once along −grad before giving up
            state["since_restart"] = 0
            direction, slope, direction_norm2 = -grad, -grad_norm2, grad_norm2
            alpha0 = self._initial_step(grad_norm2, slope, direction_norm2, {"alpha": None})
            search = backtracking(problem, x, direction, slope, cost_f, alpha0,
                                  self.sufficient_decrease, self.contraction, gradient=True)
        if search.status is not None:
            return Step(x, cost, grad, 0.0, status=search.status)

        state.update(x=x, direction=direction, grad=grad, grad_norm2=grad_norm2, slope=slope,
                     alpha=search.step, direction_norm2=direction_norm2)
        new_norm2 = inner_float(manifold, search.x, search.grad, search.grad)
        state["known_norm2"] = (search.grad, new_norm2)
        return Step(search.x, search.cost, search.grad,
                    search.step * math.sqrt(max(direction_norm2, 0.0)),
                    extra={"restarted": state["since_restart"] == 0},
                    grad_norm=math.sqrt(max(new_norm2, 0.0)))

    def _direction(self, manifold, x, grad, grad_norm2, state):
        """d = −g + β T(d_prev), or −g on a restart; returns (d, ⟨g, d⟩, ⟨d, d⟩)."""
        previous = state["direction"]
        restart = previous is None or (
            self.restart_every is not None and state["since_restart"] >= self.restart_every
        )
        state["moved_slope"] = None
        if not restart:
            beta, moved = self._beta(manifold, x, grad, grad_norm2, state)
            if beta is not None and beta != 0.0:
                direction = beta * moved - grad
                slope = inner_float(manifold, x, grad, direction)
                d_norm2 = inner_float(manifold, x, direction, direction)
                if slope < -1e-10 * math.sqrt(grad_norm2 * d_norm2) and math.isfinite(slope):
                    state["since_restart"] += 1
                    return direction, slope, d_norm2
        state["since_restart"] = 0
        return -grad, -grad_norm2, grad_norm2

    def _beta(self, manifold, x, grad, grad_norm2, state):
        """β_{k+1} and T(d_k); β is None when a denominator vanishes (restart).

        With transport by orthogonal projection, inner products of a tangent
        vector at x with a transported vector need no transport:
        ⟨g, P_x(u)⟩ = ⟨g, u⟩ for g ∈ T_x. So PR and HS use ⟨g, ĝ⟩ = ⟨g, g_k⟩
        and ⟨d̂, ĝ⟩ = ⟨d̂, g_k⟩ and never project g_k (one projection less per
        iteration); only HZ, which needs ‖y‖², projects it.
        """
        moved = manifold.transport(state["x"], x, state["direction"])
        prev_norm2 = state["grad_norm2"]
        if self.beta == "fr":
            state["moved_slope"] = inner_float(manifold, x, moved, grad)
            return (grad_norm2 / prev_norm2 if prev_norm2 > 0 else None), moved
        previous_grad = state["grad"]
        # ⟨g_{k+1}, T(d_k)⟩ = φ'(α_k) of the last line search: the secant step uses it
        d_g = state["moved_slope"] = inner_float(manifold, x, moved, grad)
        g_y = grad_norm2 - inner_float(manifold, x, grad, previous_grad)
        if self.beta == "pr":
            return (max(0.0, g_y / prev_norm2) if prev_norm2 > 0 else None), moved
        d_y = d_g - inner_float(manifold, x, moved, previous_grad)
        if not d_y != 0.0:
            return None, moved
        if self.beta == "hs":
            return max(0.0, g_y / d_y), moved
        # Hager–Zhang: β = (⟨g, y⟩ − 2‖y‖²⟨d̂, g⟩/⟨d̂, y⟩)/⟨d̂, y⟩, bounded below by η_k
        y = grad - manifold.transport(state["x"], x, previous_grad)
        y_norm2 = inner_float(manifold, x, y, y)
        beta = (g_y - 2.0 * y_norm2 * d_g / d_y) / d_y
        d_norm = math.sqrt(max(inner_float(manifold, x, moved, moved), 0.0))
        if d_norm > 0:
            eta_k = -1.0 / (d_norm * min(self.hz_eta, math.sqrt(prev_norm2)))
            beta = max(beta, eta_k)
        return beta, moved

    def _initial_step(self, grad_norm2, slope, direction_norm2, state):
        """First trial step of the line search.

        ``"secant"``: the minimizer −φ'(0)/(κ‖d‖²) of the quadratic model whose
        curvature per unit length κ = (φ'_{k−1}(α_{k−1}) − φ'_{k−1}(0)) /
        (α_{k−1}‖d_{k−1}‖²) is measured along the previous search direction
        (a Barzilai–Borwein-like estimate from the slopes of the last line
        search, which costs no evaluation). ``"ratio"`` — and the fallback when
        κ ≤ 0 — keeps the first-order change: α_prev ⟨g_prev, d_prev⟩ / ⟨g, d⟩
        (Nocedal & Wright eq. 3.60).
        """
        if state["alpha"] is None:
            if self.step_size is not None:
                return self.step_size
            return 1.0 / max(math.sqrt(max(-slope, 0.0)), 1e-300)
        guess = None
        moved_slope = state.get("moved_slope")
        if self.initial_step == "secant" and moved_slope is not None:
            kappa = (moved_slope - state["slope"]) / (state["alpha"] * state["direction_norm2"])
            if kappa > 0 and direction_norm2 > 0:
                guess = -slope / (kappa * direction_norm2)
        if guess is None or not (math.isfinite(guess) and guess > 0):
            guess = state["alpha"] * state["slope"] / slope
        if not (math.isfinite(guess) and guess > 0):
            guess = state["alpha"]
        return min(max(guess, 1e-20), 1e20)

    # -- stochastic step -------------------------------------------------------------

    def _step(self, manifold, x, euclidean_gradient, state):
        raise NotImplementedError(
            "RiemannianConjugateGradient has no stochastic step: conjugacy and line searches "
            "need exact gradients of one fixed cost. For minibatch training use "
            "RiemannianSGD(lr=..., momentum=0.9) (momentum is the stochastic analogue of "
            "the conjugate direction) or RiemannianRMSprop"
        )
