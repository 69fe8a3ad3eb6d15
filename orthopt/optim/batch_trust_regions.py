r"""Riemannian trust regions for k independent problems at once.

The batched twin of :class:`~orthopt.optim.trust_regions.RiemannianTrustRegions`:
every problem has its own radius Δ_j, its own truncated-CG inner solve (its
own number of Hessian-vector products and its own reason to stop), its own
ratio ρ_j, acceptance and precision-limit count. One inner iteration
evaluates the Hessian-vector products of the problems whose inner solve is
still running, in one batched call; the scalar recurrences of
:func:`~orthopt.optim.trust_regions.truncated_conjugate_gradient` run
elementwise on host arrays of shape (m,).

Flat directions and the rounding floor of the residual target: as in
:mod:`orthopt.optim.trust_regions` (see its module docstring), per problem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..backend import finfo_eps, get_namespace
from .batch_line_search import batch_inner, column
from .batch_problem import _mask_for
from .batch_solvers import BatchStep
from .batch_tangent import tangents_for
from .step_size import rounding_level
from .trust_regions import (EXCEEDED_RADIUS, FLAT_CURVATURE, MAX_INNER, MODEL_INCREASED,
                            NEGATIVE_CURVATURE, REACHED_LINEAR, REACHED_SUPERLINEAR,
                            UNRESOLVED_STEPS)

__all__ = ["BatchedTrustRegions", "batch_truncated_conjugate_gradient", "FLAT_CURVATURE",
           "INNER_STOPS"]

#: the inner solver's reasons to stop, indexed by the codes it returns
INNER_STOPS = (MAX_INNER, REACHED_SUPERLINEAR, REACHED_LINEAR, EXCEEDED_RADIUS,
               NEGATIVE_CURVATURE, MODEL_INCREASED, FLAT_CURVATURE)
_CODE = {name: code for code, name in enumerate(INNER_STOPS)}


@dataclass
class TrustRegionBatchState:
    radius: np.ndarray
    max_radius: np.ndarray
    inner_iterations: np.ndarray
    unresolved_steps: np.ndarray
    floor_grad_norm: np.ndarray


def batch_truncated_conjugate_gradient(tangents, radius, theta, kappa, min_iterations,
                                       max_iterations, preconditioner, resolution=None):
    """Steihaug–Toint truncated CG per problem (see ``truncated_conjugate_gradient``).

    Parameters
    ----------
    tangents : AmbientTangents or RotationAxes
        The tangent spaces at the m points (:mod:`orthopt.optim.batch_tangent`):
        the gradient, inner products and Hessian products in one representation.
    radius : numpy.ndarray, shape (m,)
    resolution : numpy.ndarray, shape (m,), optional
        Floor of the residual targets: eps·‖∇f(x_i)‖, the rounding of the
        Hessian-vector products.

    Returns
    -------
    eta, hess_eta : array, in the representation of ``tangents`` (shape (m, n, p) or (m, 3))
    iterations : numpy.ndarray of int, shape (m,)
    stop : numpy.ndarray of int8, shape (m,)
        Why each inner solve stopped, as an index into ``INNER_STOPS`` (host
        arrays of str cost a Python comparison per problem).
    model_decrease : numpy.ndarray, shape (m,)
    """
    x, grad = tangents.x, tangents.gradient
    m = x.shape[0]
    if max_iterations is None:
        max_iterations = max(int(tangents.manifold.dim), 1)
    inner = tangents.inner

    def precondition(r, mask):
        if preconditioner is None:
            return r
        return preconditioner(x if mask is None else _rows(x, mask), r)

    eta = grad * 0
    hess_eta = grad * 0
    r = grad * 1  # a copy: r is updated in place, grad belongs to the caller
    norm_r0 = np.sqrt(np.maximum(inner(r, r), 0.0))
    stop = np.full(m, _CODE[MAX_INNER], dtype=np.int8)
    running = norm_r0 != 0.0
    stop[~running] = _CODE[REACHED_SUPERLINEAR]  # x is stationary: η = 0 solves the model
    iterations = np.zeros(m, dtype=np.int64)
    z = precondition(r, None)
    z_r = inner(z, r)
    delta = -z
    e_pe, e_pd, d_pd = np.zeros(m), np.zeros(m), z_r.copy()
    model = np.zeros(m)
    largest_curvature = np.zeros(m)  # the largest ⟨δ, Hess[δ]⟩/⟨δ, δ⟩_P met so far
    flat_level = math.sqrt(finfo_eps(get_namespace(x), x.dtype))
    with np.errstate(all="ignore"):
        target = norm_r0 * np.minimum(norm_r0 ** theta, kappa)
    if resolution is not None:
        target = np.maximum(target, resolution)
    for j in range(1, max_iterations + 1):
        if not running.any():
            break
        rows = np.flatnonzero(running)
        ds = _rows(delta, running)
        hess_delta = tangents.hess(ds, running)
        iterations[rows] = j
        with np.errstate(all="ignore"):
            d_hd = inner(ds, hess_delta, running)
            curvature = d_hd / d_pd[rows]
            flat = (j > 1) & (np.abs(curvature) <= flat_level * largest_curvature[rows])
            largest_curvature[rows] = np.fmax(largest_curvature[rows], curvature)
            alpha = np.where(d_hd != 0.0, z_r[rows] / d_hd, 0.0)
            e_pe_new = e_pe[rows] + 2.0 * alpha * e_pd[rows] + alpha * alpha * d_pd[rows]
            boundary = ~(d_hd > 0.0) | (e_pe_new >= radius[rows] ** 2) | ~np.isfinite(e_pe_new)
            tau = (-e_pd[rows] + np.sqrt(np.maximum(
                e_pd[rows] ** 2 + d_pd[rows] * (radius[rows] ** 2 - e_pe[rows]), 0.0))) / d_pd[rows]
        step = np.where(boundary, tau, alpha)
        new_eta = _rows(eta, running) + column(step, ds) * ds
        new_hess_eta = _rows(hess_eta, running) + column(step, ds) * hess_delta
        new_model = inner(new_eta, _rows(grad, running), running) + \
            0.5 * inner(new_eta, new_hess_eta, running)
        boundary &= ~flat
        increased = ~boundary & ~flat & (new_model >= model[rows])
        take = ~increased & ~flat
        stop[rows[flat]] = _CODE[FLAT_CURVATURE]
        stop[rows[boundary]] = np.where(d_hd[boundary] > 0.0, _CODE[EXCEEDED_RADIUS],
                                        _CODE[NEGATIVE_CURVATURE])
        stop[rows[increased]] = _CODE[MODEL_INCREASED]
        # the steps taken (to the boundary, or an interior CG step)
        took = np.zeros(m, dtype=bool)
        took[rows[take]] = True
        if took.any():
            eta = _set(eta, took, _rows(new_eta, take))
            hess_eta = _set(hess_eta, took, _rows(new_hess_eta, take))
        interior = take & ~boundary
        inside = rows[interior]
        model[inside], e_pe[inside] = new_model[interior], e_pe_new[interior]
        running[rows[~interior]] = False
        if not interior.any():
            continue
        # interior CG step: the residual, then the next direction
        r_in = _rows(r, running) + column(alpha[interior], ds) * _rows(hess_delta, interior)
        r = _set(r, running, r_in)
        norm_r = np.sqrt(np.maximum(inner(r_in, r_in, running), 0.0))
        reached = (j >= min_iterations) & (norm_r <= target[inside])
        stop[inside[reached]] = np.where(kappa < norm_r0[inside[reached]] ** theta,
                                         _CODE[REACHED_LINEAR], _CODE[REACHED_SUPERLINEAR])
        z_in = precondition(r_in, running)
        z_r_old = z_r[inside]
        z_r_new = inner(z_in, r_in, running)
        beta = z_r_new / z_r_old
        # re-tangentialize: the recurrences drift out of T_x by rounding
        delta = _set(delta, running, tangents.tangent(
            column(beta, ds) * _rows(delta, running) - z_in, running))
        e_pd[inside] = beta * (e_pd[inside] + alpha[interior] * d_pd[inside])
        d_pd[inside] = z_r_new + beta * beta * d_pd[inside]
        z_r[inside] = z_r_new
        running[inside[reached]] = False
    decrease = -(inner(grad, eta) + 0.5 * inner(eta, hess_eta))
    return eta, hess_eta, iterations, stop, decrease


def _rows(a, mask):
    """The rows of ``a`` selected by a host mask (``a`` itself when all are)."""
    return a if mask.all() else a[_mask_for(a, mask)]


def _set(a, mask, values):
    """``a`` with the rows ``mask`` replaced by ``values`` (``values`` when all are)."""
    if mask.all():
        return values
    a[_mask_for(a, mask)] = values
    return a


class BatchedTrustRegions:
    """:class:`~orthopt.optim.trust_regions.RiemannianTrustRegions` for a batch."""

    @staticmethod
    def start(solver, current, manifold, rng=None):
        k = current.x.shape[0]
        max_radius = (float(manifold.typical_dist) if solver.max_radius is None
                      else float(solver.max_radius))
        radius = max_radius / 8.0 if solver.initial_radius is None else \
            float(solver.initial_radius)
        return TrustRegionBatchState(np.full(k, min(radius, max_radius)), np.full(k, max_radius),
                                     np.zeros(k, dtype=np.int64), np.zeros(k, dtype=np.int64),
                                     np.full(k, np.inf))

    @staticmethod
    def iterate(solver, evaluator, current, state, problems, eps):
        tangents = tangents_for(evaluator, current, problems, solver.preconditioner)
        egrad = current.euclidean_gradient
        resolution = eps * np.sqrt(np.maximum(
            batch_inner(evaluator.problem.manifold, current.x, egrad, egrad), 0.0))
        eta, _, iterations, stop, decrease = batch_truncated_conjugate_gradient(
            tangents, state.radius, solver.theta, solver.kappa, solver.min_inner_iterations,
            solver.max_inner_iterations, solver.preconditioner, resolution)
        state.inner_iterations += iterations
        proposal = evaluator.evaluate(tangents.retraction(eta), problems)
        f, f_new = current.cost, proposal.cost
        regularization = solver.rho_regularization * eps * np.maximum(1.0, np.abs(f))
        with np.errstate(all="ignore"):
            numerator = f - f_new + regularization
            denominator = decrease + regularization
            model_decreased = denominator >= 0.0
            rho = np.where(denominator != 0.0, numerator / denominator, np.nan)
            radius_before = state.radius.copy()
            shrink = ~(model_decreased & (rho >= 0.25))  # NaN lands here too
            boundary = (stop == _CODE[NEGATIVE_CURVATURE]) | (stop == _CODE[EXCEEDED_RADIUS])
            grow = ~shrink & (rho > 0.75) & boundary
            state.radius = np.where(shrink, state.radius / 4.0, np.where(
                grow, np.minimum(2.0 * state.radius, state.max_radius), state.radius))
            accepted = model_decreased & (rho > solver.accept_ratio) & np.isfinite(f_new)
        step_norm = np.sqrt(np.maximum(tangents.inner(eta, eta), 0.0))
        new_grad_norm = np.where(accepted, proposal.grad_norm, current.grad_norm)
        limit = _at_precision_limit(state, decrease, f, eps, current.grad_norm, new_grad_norm)
        m = len(problems)
        status = np.full(m, None, dtype=object)
        status[limit] = "precision_limit"
        rejected = ~accepted & ~limit
        collapsed = rejected & (radius_before <= np.sqrt(eps) * state.max_radius)
        # a collapsed region: the model does not describe the cost unless the decrease
        # it predicts is below the rounding of f (see RiemannianTrustRegions._iterate)
        resolved = decrease[collapsed] > rounding_level(f[collapsed], eps, 100.0)
        status[collapsed] = np.where(resolved, "trust_region_collapsed", "precision_limit")
        # the cost non-finite at the shortest proposal, next to x: it broke down (as alone)
        status[collapsed & ~np.isfinite(f_new)] = "nonfinite"
        moves = accepted & ~limit
        if moves.all():
            point = proposal
        else:
            point = current.copy()
            point.put(moves, proposal.take(moves))
        return BatchStep(point, np.where(moves, step_norm, 0.0), status,
                         np.where(moves, decrease, np.nan), accepted=moves)


def _at_precision_limit(state, decrease, cost, eps, grad_norm, new_grad_norm):
    """Per problem: model decreases below the rounding of f, 5 in a row, gradient not halving."""
    unresolved = decrease <= rounding_level(cost, eps, 1.0)
    fresh = unresolved & (state.unresolved_steps == 0)
    state.floor_grad_norm = np.where(fresh, grad_norm, state.floor_grad_norm)
    counts = np.where(unresolved, state.unresolved_steps + 1, 0)
    counts = np.where(unresolved & (new_grad_norm <= 0.5 * state.floor_grad_norm), 0, counts)
    state.unresolved_steps = counts
    return counts >= UNRESOLVED_STEPS
