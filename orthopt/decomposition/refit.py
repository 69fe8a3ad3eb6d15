r"""Refit sparse loadings on their support: undo the ℓ1 shrinkage, keep the zeros.

Why
---
The ℓ1 penalty does two things at once: it zeroes loadings (the support) and
it shrinks the loadings it keeps towards zero (a bias that costs variance).
The standard remedy (relaxed lasso, Meinshausen 2007; the "debiasing" of
compressed sensing) separates the two: keep the support S that ℓ1 selected
and re-maximize the variance without the penalty,

.. math::

    \max_{X \in \mathcal{M}_S} v(X), \qquad
    \mathcal{M}_S = \{X \in \mathbb{R}^{n\times r} :\ X^\top X = I_r,\
                     X_{ij} = 0 \text{ for } (i, j) \notin S\},

with v(X) = tr(XᵀAX) or the adjusted variance av(X) (see
:mod:`orthopt.decomposition.problem`). Every zero stays exactly zero, so the
result is as sparse as the ℓ1 solution, and the variance does not decrease
(the iteration is monotone and starts at the ℓ1 solution).

Ascent. :class:`~orthopt.decomposition.support_manifold.SupportStiefel` is
𝓜_S as an orthopt manifold (tangent projection, Riemannian Hessian, a Newton
retraction along the normal spaces that keeps the zeros), so the refit is the
core's :class:`~orthopt.optim.RiemannianLBFGS` on min −v(X) (a strong-Wolfe
line search, c₂ = 0.9, up to 40 evaluations), stopped by ``GradientNorm(tol) | MaxIterations(max_iter)``.
Wolfe searches are monotone (their approximate-Wolfe branch accepts only
rounding-level rises of the cost, where the slope says it still falls), so
v does not decrease, and that branch lets them reach gradient norms far
below √eps, where the change of v is below its rounding. The alternatives
measured on pitprops (benchmarks/results/refit_solvers.txt): gradient
descent with monotone Armijo stops at the precision limit (its test reads
the cost alone, which no longer resolves the decrease); with Zhang–Hager's
nonmonotone rule single steps lower v; with strong Wolfe it takes several
times the iterations of L-BFGS.
A retraction that finds no point of 𝓜_S near X + ξ returns NaN, which the
search treats as a trial too long.

Pruning. :func:`prune_to_budget` builds on the refit to reach a prescribed
number of nonzeros: drop the smallest loading, refit, repeat (greedy
backward elimination). ℓ1 paths jump and pruning fills the counts in between.

When the support cannot be refitted (the Newton projection does not reach
‖ZᵀZ − I‖_F ≤ 1e-13, e.g. a support that forces a column to zero), the
starting loadings are returned unchanged with ``success=False``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..backend import asarray_like, eye_like, get_namespace, to_float, to_numpy
from ..optim.lbfgs import RiemannianLBFGS
from ..optim.problem import Problem
from ..optim.step_size import StrongWolfe
from ..optim.stopping import GradientNorm, MaxIterations
from ..optim.result import OptimizeResult
from .problem import as_operator, captured_variance, check_variance
from .support_manifold import (
    FEASIBILITY_TOL,
    SupportStiefel,
    project_to_support_manifold,
    project_to_tangent,
)

__all__ = ["SupportStiefel", "refit_on_support", "prune_to_budget", "project_to_support_manifold",
           "project_to_tangent", "FEASIBILITY_TOL"]


def refit_on_support(
    a,
    x,
    support=None,
    *,
    variance="total",
    threshold=1e-5,
    tol=1e-8,
    max_iter=2000,
    verbose=False,
):
    r"""Maximize the variance of orthonormal loadings with a fixed zero pattern.

    Parameters
    ----------
    a : array (n, n), LinearOperator, CovarianceOperator or callable
        Symmetric PSD A (or X ↦ A X).
    x : array, shape (n, r)
        Starting loadings with orthonormal columns, typically an ℓ1 solution.
    support : array of bool, shape (n, r), optional
        The entries allowed to be nonzero; default ``|x| > threshold``.
    variance : {"total", "adjusted"}, default "total"
        Maximize tr(XᵀAX) or the adjusted variance.
    threshold : float, default 1e-5
        Entries of ``x`` at most this large count as zero (ManPG's convention,
        the one of :func:`orthopt.decomposition.sparsity`).
    tol : float, default 1e-8
        Stop when the Riemannian gradient norm ‖grad v‖_F ≤ tol.
    max_iter : int, default 2000
    verbose : bool, default False

    Returns
    -------
    OptimizeResult
        ``x`` zero outside the support, ‖xᵀx − I‖_F ≤ 1e-13; ``fun`` = −v(x);
        ``stationarity`` = ‖grad v‖_F; ``history`` with ``variance``;
        ``extra`` with ``start_variance`` (v at the projected start),
        ``support_size``, ``feasibility`` (‖xᵀx − I‖_F) and ``feasible``
        (False when the support could not be refitted).
        ``success`` is False when the support could not be refitted (then
        ``x`` is the input, unchanged) or ``max_iter`` was reached.
    """
    start_time = time.perf_counter()
    variance = check_variance(variance)
    op = as_operator(a, n=x.shape[0])
    xp = get_namespace(x)
    if support is None:
        mask = xp.astype(xp.abs(x) > threshold, x.dtype)
    else:
        mask = asarray_like(np.asarray(to_numpy(support), dtype=np.float64), like=x)
        if tuple(mask.shape) != tuple(x.shape):
            raise ValueError(f"support has shape {tuple(mask.shape)}; expected {tuple(x.shape)}")
    z, error = project_to_support_manifold(x, mask)
    support_size = int(round(to_float(xp.sum(mask))))
    if not error <= FEASIBILITY_TOL:
        ax = op(x)
        value = captured_variance(x, ax, variance)[0]
        return OptimizeResult(
            x=x, fun=-value, nit=0, stationarity=math.nan, success=False,
            message=f"the support admits no orthonormal loadings near x "
                    f"(Newton projection stalled at ||XᵀX − I|| = {error:.1e}); x returned",
            time=time.perf_counter() - start_time, history={"variance": [value]},
            extra={"start_variance": value, "support_size": support_size, "feasibility": error,
                   "feasible": False},
        )
    manifold = SupportStiefel(mask != 0)

    def cost_and_gradient(y):
        if not bool(xp.all(xp.isfinite(y))):  # a failed retraction: a trial too long
            return math.nan, y
        value, gradient = captured_variance(y, op(y), variance)
        return -value, -gradient

    problem = Problem(manifold, lambda y: cost_and_gradient(y)[0],
                      cost_and_gradient=cost_and_gradient)
    # L-BFGS's first direction is −g/‖g‖ with a first trial of unit length; a start near
    # stationarity (an ℓ1 solution with a few entries zeroed) needs a step of ~‖g‖/L, which
    # the zoom reaches by bisection: 40 evaluations cover 2⁻⁴⁰ (10 did not, for ‖g‖ ~ 1e-6)
    line_search = StrongWolfe(curvature=0.9, max_evaluations=40, initial_step=1.0)
    solver = RiemannianLBFGS(step_size=line_search,
                             stopping=GradientNorm(tol) | MaxIterations(max_iter), verbose=verbose)
    res = solver.run(problem, x0=z, rng=0)
    res.stationarity = res.grad_norm
    res.fun = float(res.fun)
    res.history["variance"] = -res.history["cost"]
    res.extra = {"start_variance": float(-res.history["cost"][0]), "support_size": support_size,
                 "feasibility": to_float(xp.linalg.matrix_norm(
                     res.x.T @ res.x - eye_like(res.x, res.x.shape[1]))),
                 "feasible": True}
    return res

def prune_to_budget(
    a,
    x,
    max_nonzero,
    *,
    variance="total",
    threshold=1e-5,
    tol=1e-8,
    max_iter=2000,
    max_tries=10,
    verbose=False,
):
    r"""Backward elimination: drop the smallest loading and refit, until few enough remain.

    Starting from orthonormal loadings ``x`` (typically an ℓ1 solution after
    :func:`refit_on_support`), repeat while more than ``max_nonzero`` entries
    are nonzero (|x| > threshold): set the smallest-magnitude nonzero entry to
    zero — among columns with at least two nonzeros, so no column vanishes —
    and refit on the reduced support (:func:`refit_on_support`). If the
    reduced support admits no orthonormal loadings nearby, the next smallest
    entry is tried (at most ``max_tries``). This is the greedy backward
    elimination of Moghaddam, Weiss & Avidan (2006, "Spectral bounds for
    sparse PCA", NIPS) with the smallest loading as the cheap removal rule,
    carried out on r orthonormal components at once. Every removal is one
    refit, so the cost grows with the number of entries removed.

    Parameters
    ----------
    a : array (n, n), LinearOperator, CovarianceOperator or callable
    x : array, shape (n, r)
        Orthonormal starting loadings.
    max_nonzero : int
        Target number of nonzero loadings, at least r.
    variance : {"total", "adjusted"}
    threshold, tol, max_iter
        As in :func:`refit_on_support` (``max_iter`` per refit).
    max_tries : int
        Candidates tried per removal before giving up.
    verbose : bool

    Returns
    -------
    OptimizeResult
        ``nit`` = total refit iterations; ``success`` False when the budget
        could not be met (then ``x`` has the fewest nonzeros reached);
        ``extra`` with ``removed`` (entries removed) and ``refits``.
    """
    start_time = time.perf_counter()
    variance = check_variance(variance)
    op = as_operator(a, n=x.shape[0])
    r = x.shape[1]
    if int(max_nonzero) != max_nonzero or max_nonzero < r:
        raise ValueError(
            f"max_nonzero must be an integer >= n_components = {r} (every orthonormal "
            f"column has a nonzero); got {max_nonzero!r}"
        )
    max_nonzero = int(max_nonzero)
    xp = get_namespace(x)
    total_iterations = 0
    refits = 0
    removed = 0
    success = True
    message = f"at most {max_nonzero} nonzero loadings"
    while True:
        host = np.abs(to_numpy(x))
        support = host > threshold
        if int(support.sum()) <= max_nonzero:
            break
        counts = support.sum(axis=0)
        rows, cols = np.nonzero(support & (counts[None, :] >= 2))
        order = np.argsort(host[rows, cols], kind="stable")
        accepted = None
        for idx in order[:max_tries]:
            trial = support.copy()
            trial[rows[idx], cols[idx]] = False
            result = refit_on_support(op, x, support=trial, variance=variance,
                                      threshold=threshold, tol=tol, max_iter=max_iter)
            refits += 1
            total_iterations += int(result.nit)
            if result.extra["feasible"]:
                accepted = result
                break
        if accepted is None:
            success = False
            message = (f"no removal among the {max_tries} smallest loadings keeps orthonormal "
                       f"loadings; stopped at {int(support.sum())} nonzeros")
            break
        x = accepted.x
        removed += 1
        if verbose:
            print(f"prune: {int(support.sum()) - 1} nonzeros, v = {-accepted.fun:.10e}")
    value = captured_variance(x, op(x), variance)[0]
    return OptimizeResult(
        x=x,
        fun=-value,
        nit=total_iterations,
        stationarity=math.nan,
        success=success,
        message=message,
        time=time.perf_counter() - start_time,
        history={},
        extra={"removed": removed, "refits": refits,
               "nonzeros": int(round(to_float(xp.sum(xp.astype(xp.abs(x) > threshold,
                                                                x.dtype)))))},
    )
