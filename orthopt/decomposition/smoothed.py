r"""Sparse PCA by smoothing the ℓ1 norm and Riemannian gradient descent.

The kinks of α‖X‖₁ are what make sparse PCA nonsmooth. Replace each |x| by
the pseudo-Huber function

.. math:: |x| \approx \phi_\mu(x) = \sqrt{x^2 + \mu^2} - \mu,
          \qquad 0 \le |x| - \phi_\mu(x) \le \mu,

which is smooth with φ'_μ(x) = x/√(x² + μ²) and curvature at most 1/μ. The
smoothed problem

.. math:: \min_{X \in \mathrm{St}(n, r)} F_\mu(X) = -\operatorname{tr}(X^\top A X)
          + \alpha \sum_{ij} \phi_\mu(X_{ij})

(or the same with the adjusted variance in place of tr(XᵀAX), ``variance="adjusted"``)
is then solved by the core's Riemannian gradient descent
(:class:`orthopt.optim.RiemannianGradientDescent` with
:class:`~orthopt.optim.NonmonotoneBB` steps, polar retraction, stopped by
``GradientNorm | StepSize | MaxIterations``), with Euclidean gradient −2AX + α X/√(X² + μ²).

Continuation. A small μ is accurate (|F − F_μ| ≤ α·n·r·μ) but stiff (the
curvature α/μ slows gradient methods), a large μ is easy but biased. So μ
starts at ``mu_start`` and is divided by ``mu_factor`` until ``mu_end``, each
stage warm-started from the previous solution: the early stages find the
sparsity pattern, the last ones sharpen the near-zeros to |x| ~ μ.

The solution has no exact zeros (φ_μ is differentiable at 0): entries of size
O(μ) stand for zeros, which is why sparsity is measured with a threshold
(1e-5, ManPG's convention) and why ``mu_end`` defaults to 1e-8. The
first μ (1e-3) is small on purpose: a large μ blurs the kinks enough to steer
the iterates to another local minimum than the nonsmooth solvers find from
the same start (seen on pitprops with α = 0.1 and μ₀ = 0.1).

The reported ``stationarity`` is ManPG's measure ‖V‖/t evaluated at the
returned point (one subproblem solve), so the three solvers can be compared
on one scale.
"""

from __future__ import annotations

import math
import time

from ..backend import get_namespace, to_float
from ..optim.result import OptimizeResult
from .tangent_prox import solve_tangent_prox
from .problem import (
    as_operator,
    captured_variance,
    check_alpha,
    check_variance,
    initial_point,
    objective,
)

__all__ = ["smoothed_spca", "manpg_stationarity"]


def manpg_stationarity(op, x, alpha, t=None, variance="total"):
    """ManPG's stationarity measure ‖V‖_F/t at x (V: the tangent proximal step)."""
    op = as_operator(op)
    xp = get_namespace(x)
    if t is None:
        lipschitz = 2 * op.norm2(like=x)
        t = 1.0 / lipschitz if lipschitz > 0 else 1.0
    grad = captured_variance(x, op(x), variance)[1]
    z, _, _, _ = solve_tangent_prox(x, x + t * grad, t, t * alpha, tol=None, max_iter=200)
    v = z - x
    return math.sqrt(float(xp.sum(v * v))) / t


def smoothed_spca(
    a,
    n_components,
    alpha,
    *,
    init="pca",
    tol=1e-8,
    max_iter=10000,
    mu_start=1e-3,
    mu_end=1e-8,
    mu_factor=10.0,
    variance="total",
    random_state=None,
    callback=None,
    verbose=False,
):
    r"""Sparse PCA through pseudo-Huber smoothing and Riemannian BB gradient descent.

    Parameters
    ----------
    a : array (n, n), LinearOperator, CovarianceOperator or callable
        Symmetric PSD A (or X ↦ A X).
    n_components : int
    alpha : float
    init : {"pca", "random"} or array (n, r)
    tol : float
        Riemannian gradient-norm tolerance of the last stage (earlier stages
        stop at max(tol, μ·‖A‖₂)).
    max_iter : int
        Total iteration budget, split evenly over the continuation stages.
    mu_start, mu_end, mu_factor : float
        Continuation schedule μ = mu_start, mu_start/mu_factor, …, mu_end.
    variance : {"total", "adjusted"}, default "total"
        Smooth part −tr(XᵀAX) or minus the adjusted variance (see
        :mod:`orthopt.decomposition.problem`).
    random_state : None, int or numpy.random.Generator
    callback : callable, optional
        ``callback(stage, x, fun, grad_norm)`` after each stage; True stops.
    verbose : bool

    Returns
    -------
    OptimizeResult
        ``nit`` totals the iterations of all stages; ``fun`` is the
        *nonsmooth* F at ``x``; ``stationarity`` is ManPG's measure there;
        ``history`` has per-stage ``mu``, ``fun``, ``grad_norm``, ``nit``.
    """
    from ..manifolds import Stiefel
    from ..optim import (GradientNorm, MaxIterations, NonmonotoneBB, Problem,
                         RiemannianGradientDescent, StepSize)

    start = time.perf_counter()
    alpha = check_alpha(alpha)
    variance = check_variance(variance)
    op = as_operator(a)
    r = int(n_components)
    if not 1 <= r <= op.n:
        raise ValueError(f"n_components must be in [1, n_features={op.n}]; got {n_components}")
    if not (mu_start > 0 and mu_end > 0 and mu_factor > 1):
        raise ValueError("need mu_start > 0, mu_end > 0 and mu_factor > 1")
    x = initial_point(op, r, init=init, rng=random_state, like=op.dense)
    seed = random_state if random_state is not None else 0  # the loop's feasibility probe
    xp = get_namespace(x)
    manifold = Stiefel(op.n, r, retraction="polar")
    norm_a = op.norm2(like=x)

    mus = []
    mu = max(mu_start, mu_end)
    while mu > mu_end * (1 + 1e-12):
        mus.append(mu)
        mu /= mu_factor
    mus.append(mu_end)

    stage_iterations = max(1, int(max_iter) // len(mus))
    history = {"mu": [], "fun": [], "grad_norm": [], "nit": []}
    total_iterations = 0
    success = False
    message = "maximum number of iterations reached in the last stage"
    for stage, mu in enumerate(mus):

        def cost_and_gradient(y, mu=mu):
            value, value_grad = captured_variance(y, op(y), variance)
            root = xp.sqrt(y * y + mu * mu)
            cost = -value + alpha * to_float(xp.sum(root - mu))
            grad = -value_grad + alpha * (y / root)
            return cost, grad

        def cost(y, mu=mu):
            return cost_and_gradient(y, mu)[0]

        problem = Problem(manifold, cost, cost_and_gradient=cost_and_gradient)
        last = stage == len(mus) - 1
        stage_tol = tol if last else max(tol, mu * max(norm_a, 1e-300))
        solver = RiemannianGradientDescent(
            step_size=NonmonotoneBB(),
            stopping=GradientNorm(stage_tol) | StepSize(0.0) | MaxIterations(stage_iterations),
        )
        res = solver.run(problem, x0=x, rng=seed)
        x = res.x
        total_iterations += int(res.nit)
        history["mu"].append(mu)
        history["fun"].append(objective(x, op(x), alpha, variance=variance))
        history["grad_norm"].append(float(res.grad_norm))
        history["nit"].append(int(res.nit))
        if verbose:
            print(f"smoothed stage {stage}: mu = {mu:.1e}  F = {history['fun'][-1]:.10e}  "
                  f"grad = {res.grad_norm:.2e}  nit = {res.nit}  ({res.status})")
        if last:
            success = bool(res.success)
            message = f"last stage (mu = {mu:.1e}): {res.message}"
        if callback is not None and callback(stage, x, history["fun"][-1], res.grad_norm):
            message = "stopped by callback"
            break
    fun = objective(x, op(x), alpha, variance=variance)
    return OptimizeResult(
        x=x,
        fun=fun,
        nit=total_iterations,
        stationarity=manpg_stationarity(op, x, alpha, variance=variance),
        success=success,
        message=message,
        time=time.perf_counter() - start,
        history=history,
        extra={"mu_end": mus[-1], "stages": len(history["mu"]), "variance": variance},
    )
