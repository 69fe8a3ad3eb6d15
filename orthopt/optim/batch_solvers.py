r"""Gradient descent and conjugate gradients for k independent problems at once.

Each class here is the batched twin of a solver: ``start`` builds its state
(arrays with one row per problem) and ``iterate`` performs one iteration of
the m problems still running, from their :class:`BatchPoint`. The formulas
are those of :mod:`orthopt.optim.rgd` and :mod:`orthopt.optim.cg`, written
elementwise: per-problem step sizes (:mod:`orthopt.optim.batch_line_search`),
per-problem β with per-problem restarts (a masked ``where``), and per-problem
fallbacks to steepest descent. :mod:`orthopt.optim.batched` runs the loop,
the stopping criteria and the freezing of finished problems.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .batch_line_search import SearchMemory, batch_inner, column, search
from .batch_problem import _mask_for

__all__ = ["BatchStep", "BatchedGradientDescent", "BatchedConjugateGradient"]


@dataclass
class BatchStep:
    """One iteration of m problems (the batched :class:`~orthopt.optim.solver.Step`).

    Attributes
    ----------
    point : BatchPoint
        The new iterates (the current ones where the step failed).
    step_size : numpy.ndarray, shape (m,)
    status : numpy.ndarray of object, shape (m,)
        None, or why problem i cannot go on ("line_search_failed",
        "precision_limit", "nonfinite").
    predicted_decrease : numpy.ndarray, shape (m,)
        −t_i φ_i'(0) (the model decrease for trust regions).
    accepted : numpy.ndarray of bool, shape (m,), optional
        False for a step the method declined (a trust-region step with poor
        agreement): the iterate stays and no step criterion fires. None: all.
    """

    point: object
    step_size: np.ndarray
    status: np.ndarray
    predicted_decrease: np.ndarray
    accepted: np.ndarray = None

    @classmethod
    def from_search(cls, outcome, direction_norm, slope):
        status = outcome.status.copy()
        status[outcome.at_precision_limit] = "precision_limit"
        return cls(outcome.point, outcome.step * direction_norm, status, -outcome.step * slope)


@dataclass
class GradientDescentBatchState:
    memory: SearchMemory


class BatchedGradientDescent:
    """:class:`~orthopt.optim.rgd.RiemannianGradientDescent` for a batch."""

    @staticmethod
    def start(solver, current, manifold, rng=None):
        return GradientDescentBatchState(SearchMemory.start(current.x))

    @staticmethod
    def iterate(solver, evaluator, current, state, problems, eps):
        slope = -current.grad_norm ** 2
        outcome = search(solver.step_rule, evaluator, current, -current.gradient, slope,
                         state.memory, problems, eps)
        return BatchStep.from_search(outcome, current.grad_norm, slope)


@dataclass
class ConjugateGradientBatchState:
    memory: SearchMemory
    fallback_memory: SearchMemory
    x: object                  # previous iterates x_k, shape (k, n, p)
    direction: object          # d_k
    grad: object               # g_k
    grad_norm2: np.ndarray     # ‖g_k‖², shape (k,)
    has_direction: np.ndarray  # False before the first step (and never reset)
    since_restart: np.ndarray


class BatchedConjugateGradient:
    """:class:`~orthopt.optim.cg.RiemannianConjugateGradient` for a batch."""

    @staticmethod
    def start(solver, current, manifold, rng=None):
        x = current.x
        k = x.shape[0]
        zeros = current.gradient * 0
        return ConjugateGradientBatchState(
            SearchMemory.start(x), SearchMemory.start(x), x * 0, zeros, zeros * 1,
            np.zeros(k), np.zeros(k, dtype=bool), np.zeros(k, dtype=np.int64))

    @staticmethod
    def iterate(solver, evaluator, current, state, problems, eps):
        manifold = evaluator.problem.manifold
        x, grad = current.x, current.gradient
        grad_norm2 = current.grad_norm ** 2
        direction, slope, direction_norm2 = _direction(solver, manifold, x, grad, grad_norm2,
                                                       state)
        outcome = search(solver.step_rule, evaluator, current, direction, slope, state.memory,
                         problems, eps)
        retry = (outcome.status == "line_search_failed") & ~outcome.at_precision_limit & (
            state.since_restart > 0)
        if retry.any():
            # a poor conjugate direction: retry once along −grad before giving up
            from .batched import put_rows, take_rows

            state.since_restart[retry] = 0
            device_retry = _mask_for(x, retry)
            direction[device_retry] = -grad[device_retry]
            slope[retry], direction_norm2[retry] = -grad_norm2[retry], grad_norm2[retry]
            memory = take_rows(state.fallback_memory, retry)
            memory.step[:] = np.nan
            second = search(solver.fallback_rule, evaluator, current.take(retry),
                            direction[device_retry], slope[retry], memory, problems[retry], eps)
            put_rows(state.fallback_memory, retry, memory)
            outcome.point.put(retry, second.point)
            for name in ("step", "status", "at_precision_limit", "initial_step"):
                getattr(outcome, name)[retry] = getattr(second, name)
        step = BatchStep.from_search(outcome, np.sqrt(np.maximum(direction_norm2, 0.0)), slope)
        moved = step.status == None  # noqa: E711 - elementwise
        if moved.any():
            device_moved = _mask_for(x, moved)
            state.x[device_moved] = x[device_moved]
            state.direction[device_moved] = direction[device_moved]
            state.grad[device_moved] = grad[device_moved]
            state.grad_norm2[moved] = grad_norm2[moved]
            state.has_direction |= moved
        return step


def _direction(solver, manifold, x, grad, grad_norm2, state):
    """d_i = −g_i + β_i T(d_i,prev) where that is a descent direction, else −g_i (a restart)."""
    restart = ~state.has_direction
    if solver.restart_every is not None:
        restart |= state.since_restart >= solver.restart_every
    direction = -grad
    slope, direction_norm2 = -grad_norm2, grad_norm2.copy()
    conjugate = ~restart
    if conjugate.any():
        beta, moved = _beta(solver, manifold, x, grad, grad_norm2, state)
        with np.errstate(all="ignore"):
            conjugate &= np.isfinite(beta) & (beta != 0.0)
            beta = np.where(conjugate, beta, 0.0)
            candidate = column(beta, x) * moved - grad
            candidate_slope = batch_inner(manifold, x, grad, candidate)
            candidate_norm2 = batch_inner(manifold, x, candidate, candidate)
            conjugate &= np.isfinite(candidate_slope) & (
                candidate_slope < -1e-10 * np.sqrt(grad_norm2 * candidate_norm2))
        if conjugate.any():
            device = _mask_for(x, conjugate)
            direction[device] = candidate[device]
            slope = np.where(conjugate, candidate_slope, slope)
            direction_norm2 = np.where(conjugate, candidate_norm2, direction_norm2)
    state.since_restart[:] = np.where(conjugate, state.since_restart + 1, 0)
    return direction, slope, direction_norm2


def _beta(solver, manifold, x, grad, grad_norm2, state):
    """β_i and T(d_i) per problem (NaN where a denominator vanishes: a restart); see cg._beta."""
    moved = manifold.transport(state.x, x, state.direction)
    previous = state.grad_norm2
    with np.errstate(all="ignore"):
        positive = previous > 0
        if solver.beta == "fr":
            return np.where(positive, grad_norm2 / previous, np.nan), moved
        d_g = batch_inner(manifold, x, moved, grad)
        g_y = grad_norm2 - batch_inner(manifold, x, grad, state.grad)
        if solver.beta == "pr":
            return np.where(positive, np.maximum(0.0, g_y / previous), np.nan), moved
        d_y = d_g - batch_inner(manifold, x, moved, state.grad)
        defined = d_y != 0.0
        if solver.beta == "hs":
            return np.where(defined, np.maximum(0.0, g_y / d_y), np.nan), moved
        y = grad - manifold.transport(state.x, x, state.grad)
        y_norm2 = batch_inner(manifold, x, y, y)
        beta = (g_y - 2.0 * y_norm2 * d_g / d_y) / d_y
        d_norm = np.sqrt(np.maximum(batch_inner(manifold, x, moved, moved), 0.0))
        eta_k = -1.0 / (d_norm * np.minimum(solver.hz_eta, np.sqrt(previous)))
        beta = np.where((d_norm > 0) & (eta_k > beta), eta_k, beta)  # max(β, η_k) as cg
        return np.where(defined, beta, np.nan), moved
