r"""Riemannian L-BFGS for k independent problems at once.

The batched twin of :class:`~orthopt.optim.lbfgs.RiemannianLBFGS`: every
problem keeps its own m pairs (s_i, y_i), its own ρ_i = 1/⟨s_i, y_i⟩, its
own cautious test and its own restarts. The pairs of all problems live in
two arrays of shape (k, m, n, p), *right-aligned*: problem j's c_j stored
pairs occupy the last c_j slots, the newest in slot m − 1. The two-loop
recursion runs over the m slots for every problem at once; an empty slot
has ρ = 0 and zero vectors, so it adds exact zeros and problem j computes
what its own recursion over c_j pairs computes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend import device_of, finfo_eps, get_namespace
from .batch_line_search import SearchMemory, batch_inner, column, search
from .batch_problem import _mask_for
from .batch_solvers import BatchStep

__all__ = ["BatchedLBFGS"]


@dataclass
class LBFGSBatchState:
    memory: SearchMemory
    fallback_memory: SearchMemory
    s: object             # shape (k, m, n, p), right-aligned, tangent at the current iterates
    y: object
    rho: np.ndarray       # shape (k, m), 0 in empty slots
    pairs: np.ndarray     # c_j, shape (k,)
    skipped: np.ndarray   # pairs refused by the cautious test, shape (k,)


def _inner_slots(manifold, x, u, v):
    """⟨u_{j,i}, v_{j,i}⟩ for every problem j and slot i: host array (k, m)."""
    return batch_inner(manifold, x[:, None, ...], u, v)


class BatchedLBFGS:
    """:class:`~orthopt.optim.lbfgs.RiemannianLBFGS` for a batch."""

    @staticmethod
    def start(solver, current, manifold, rng=None):
        x = current.x
        xp = get_namespace(x)
        k, m = x.shape[0], solver.memory
        zeros = xp.zeros((k, m) + tuple(x.shape[1:]), dtype=x.dtype, device=device_of(x))
        return LBFGSBatchState(SearchMemory.start(x), SearchMemory.start(x), zeros, zeros * 1,
                               np.zeros((k, m)), np.zeros(k, dtype=np.int64),
                               np.zeros(k, dtype=np.int64))

    @staticmethod
    def iterate(solver, evaluator, current, state, problems, eps):
        manifold = evaluator.problem.manifold
        x, grad, grad_norm = current.x, current.gradient, current.grad_norm
        restarted = state.pairs == 0
        direction = _direction(manifold, x, grad, grad_norm, state)
        slope = batch_inner(manifold, x, grad, direction)
        broken = ~((slope < 0.0) & np.isfinite(slope))  # rounding in the recursion
        if broken.any():
            _clear(state, broken)
            restarted = restarted | broken
            direction, slope = _steepest(x, grad, grad_norm, broken, direction, slope)
        state.memory.step[:] = np.nan  # every search starts from initial_step
        outcome = search(solver.step_rule, evaluator, current, direction, slope, state.memory,
                         problems, eps)
        retry = (outcome.status == "line_search_failed") & ~outcome.at_precision_limit & \
            ~restarted
        if retry.any():
            from .batched import put_rows, take_rows

            _clear(state, retry)
            direction, slope = _steepest(x, grad, grad_norm, retry, direction, slope)
            memory = take_rows(state.fallback_memory, retry)
            memory.step[:] = np.nan
            device = _mask_for(x, retry)
            second = search(solver.fallback_rule, evaluator, current.take(retry),
                            direction[device], slope[retry], memory, problems[retry], eps)
            put_rows(state.fallback_memory, retry, memory)
            outcome.point.put(retry, second.point)
            for name in ("step", "status", "at_precision_limit", "initial_step"):
                getattr(outcome, name)[retry] = getattr(second, name)
        direction_norm = np.sqrt(np.maximum(batch_inner(manifold, x, direction, direction), 0.0))
        step = BatchStep.from_search(outcome, direction_norm, slope)
        moved = step.status == None  # noqa: E711 - elementwise
        if moved.any():
            _update(solver, manifold, current, outcome, direction, state, moved)
        return step


def _steepest(x, grad, grad_norm, rows, direction, slope):
    """Direction −g/‖g‖ (slope −‖g‖) for the problems ``rows``."""
    unit = -grad * column(1.0 / np.maximum(grad_norm, 1e-300), x)
    device = _mask_for(x, rows)
    direction = direction * 1  # a copy: callers keep the old one
    direction[device] = unit[device]
    return direction, np.where(rows, -grad_norm, slope)


def _clear(state, rows):
    device = _mask_for(state.s, rows)
    state.s[device] = 0
    state.y[device] = 0
    state.rho[rows] = 0.0
    state.pairs[rows] = 0


def _direction(manifold, x, grad, grad_norm, state):
    """−H_j g_j by the two-loop recursion over the slots; −g_j/‖g_j‖ without pairs."""
    m = state.rho.shape[1]
    q = grad
    alphas = []
    for i in reversed(range(m)):
        if not state.pairs.any():
            break
        alpha = state.rho[:, i] * batch_inner(manifold, x, state.s[:, i, ...], q)
        q = q - column(alpha, x) * state.y[:, i, ...]
        alphas.append(alpha)
    with np.errstate(all="ignore"):
        y_norm2 = batch_inner(manifold, x, state.y[:, -1, ...], state.y[:, -1, ...])
        gamma = batch_inner(manifold, x, state.s[:, -1, ...], state.y[:, -1, ...]) / y_norm2
        # transported pairs can lose ⟨s, y⟩ > 0; the stored ρ keep H positive
        fallback = 1.0 / (state.rho[:, -1] * np.maximum(y_norm2, 1e-300))
        gamma = np.where((gamma > 0.0) & np.isfinite(gamma), gamma, fallback)
        gamma = np.where(state.pairs > 0, gamma, 0.0)
    r = column(gamma, x) * q
    for i, alpha in zip(range(m - len(alphas), m), reversed(alphas)):
        beta = state.rho[:, i] * batch_inner(manifold, x, state.y[:, i, ...], r)
        r = r + column(alpha - beta, x) * state.s[:, i, ...]
    direction = -r
    none = state.pairs == 0
    if none.any():
        direction, _ = _steepest(x, grad, grad_norm, none, direction, np.zeros(len(none)))
    return direction


def _update(solver, manifold, current, outcome, direction, state, moved):
    """Store (s, y) at the new iterates of the problems ``moved`` and carry their pairs there."""
    device = _mask_for(current.x, moved)
    x, x_new = current.x[device], outcome.point.x[device]
    step_vector = column(outcome.step[moved], x) * direction[device]
    s = manifold.transport(x, x_new, step_vector)
    y = outcome.point.gradient[device] - manifold.transport(x, x_new, current.gradient[device])
    stored_s = manifold.transport(x[:, None, ...], x_new[:, None, ...], state.s[device])
    stored_y = manifold.transport(x[:, None, ...], x_new[:, None, ...], state.y[device])
    sy = batch_inner(manifold, x_new, s, y)
    s_norm = np.sqrt(np.maximum(batch_inner(manifold, x_new, s, s), 0.0))
    y_norm = np.sqrt(np.maximum(batch_inner(manifold, x_new, y, y), 0.0))
    eps = finfo_eps(get_namespace(x_new), x_new.dtype)
    with np.errstate(invalid="ignore"):
        keep = (sy > eps * s_norm * y_norm) & np.isfinite(sy)
    # the oldest pair leaves, the new one enters slot m − 1 (problems that keep it)
    xp = get_namespace(x_new)
    shifted_s = xp.concat([stored_s[:, 1:, ...], s[:, None, ...]], axis=1)
    shifted_y = xp.concat([stored_y[:, 1:, ...], y[:, None, ...]], axis=1)
    keep_device = _mask_for(x_new, keep)
    keep_column = xp.reshape(keep_device, (-1,) + (1,) * (stored_s.ndim - 1))
    state.s[device] = xp.where(keep_column, shifted_s, stored_s)
    state.y[device] = xp.where(keep_column, shifted_y, stored_y)
    rho = state.rho[moved]
    with np.errstate(divide="ignore"):
        shifted_rho = np.concatenate([rho[:, 1:], (1.0 / sy)[:, None]], axis=1)
    state.rho[moved] = np.where(keep[:, None], shifted_rho, rho)
    pairs = state.pairs[moved]
    state.pairs[moved] = np.where(keep, np.minimum(pairs + 1, solver.memory), pairs)
    state.skipped[moved] += ~keep
