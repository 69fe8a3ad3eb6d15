r"""projUNN-D and projUNN-T for k independent problems at once.

The batched twin of :class:`~orthopt.optim.projunn.ProjUNN` on O(n), SO(n)
and U(n) (and the square St(n, n)): every iteration, problem i draws its own
rank-r sketch a_i b_iᴴ ≈ −grad f_i(U_i) and searches along its own curve

    η ↦ P(U_i + η a_i b_iᴴ)     (P: the polar factor for "D", U·expm(skew(Uᴴ·)) for "T"),

with its own step η_i. The pieces are those of the single run, on stacks:

* the sketch: the same operator Δ_i v = −½(∇f_i v − U_i ∇f_iᴴ U_i v) (or
  −∇f_i), and the same approximation —
  :func:`~orthopt.optim.projunn.low_rank_lsi` with one Gaussian test matrix
  per problem (one draw of shape (m, N, r + o) from the run's generator),
  :func:`~orthopt.optim.projunn.low_rank_exact` on the stack, or
  norm-proportional column sampling with per-problem columns
  (:func:`sample_columns`); a sketch with a positive slope
  ⟨grad f_i, a_i b_iᴴ⟩ is used with the opposite sign;
* the projections :func:`~orthopt.optim.projunn.projunn_d` and
  :func:`~orthopt.optim.projunn.projunn_t` on the stack (a thin QR of
  [U_iᴴa_i, b_i] and a 2r×2r eigh per problem);
* the step: the batched Armijo search of
  :mod:`orthopt.optim.batch_line_search` (Barzilai–Borwein or growth
  guesses, per-problem memory) along that curve, with the single run's
  admissibility — ‖η a_i b_iᴴ‖ ≤ ``max_step``, and for "D" on real
  matrices det(I + η b_iᴴU_iᵀa_i) > 0 so that SO(n) stays SO(n) — and its
  first-trial cap max_step/(growth·‖a_i b_iᴴ‖); or the fixed η = lr;
* the stop of a run of unresolvable sketches: ``precision_window``
  consecutive searches at the precision limit end problem i with
  "precision_limit" when its sketch points along the gradient (cosine ≥ 0.1),
  else "line_search_failed"; the periodic Newton–Schulz restore after every
  ``reorthonormalize_every``-th step of problem i.

With the deterministic ``approximation="exact"`` (or an "lsi" sketch whose
rank covers the step's, when it is exact) problem i follows its single run
up to rounding; with random sketches it follows a run of the same
distribution (the draws of a batch are not those of k single runs).
:mod:`orthopt.optim.batched` runs the loop, the stopping criteria and the
freezing of finished problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..backend import (asarray_like, conj_transpose, eye_like, get_namespace, is_complex_dtype,
                       to_numpy)
from ..linalg import newton_schulz_step
from ..manifolds.product import Product
from .batch_line_search import SearchMemory, armijo, batch_inner, column
from .batch_problem import _mask_for
from .batch_solvers import BatchStep
from .low_rank_updates import (_adjoint_times, low_rank_exact, low_rank_lsi, projunn_d,
                               projunn_t)
from .step_size import Armijo, Fixed

__all__ = ["BatchedProjUNN", "sample_columns"]


@dataclass
class ProjUNNBatchState:
    """Per-problem state (arrays of shape (k,)); see :class:`~orthopt.optim.projunn.ProjUNNState`.

    Attributes
    ----------
    memory : SearchMemory
        The step rule's memory of every problem (last η, Barzilai–Borwein pair).
    steps : numpy.ndarray of int
        Accepted steps (the Newton–Schulz restore comes after every
        ``reorthonormalize_every``-th).
    skipped : numpy.ndarray of int
        Consecutive sketches along which no decrease could be resolved.
    rng : numpy.random.Generator
        The run's generator: draws every problem's sketch.
    """

    memory: SearchMemory
    steps: np.ndarray
    skipped: np.ndarray
    rng: object = field(default=None, metadata={"shared": True})


def sample_columns(delta, rank, rng):
    r"""Norm-proportional column sampling (:func:`~orthopt.optim.projunn.low_rank_column`)
    for a stack: problem i draws its own ``rank`` columns.

    Parameters
    ----------
    delta : array, shape (m, N, M)
    rank : int
    rng : numpy.random.Generator

    Returns
    -------
    a : array, shape (m, N, rank)
        a_{i,t} = Δ_{i, :, j_t} / (rank · p_{i, j_t}),
        p_{i, j} = ‖Δ_{i, :, j}‖² / ‖Δ_i‖_F².
    b : array, shape (m, M, rank)
        b_{i,t} = e_{j_t}; zero for a problem with Δ_i = 0 (as the single sampler).

    Notes
    -----
    Each draw inverts the cumulative distribution of p_i at a uniform
    number, as ``Generator.choice(M, p=p_i)`` does.
    """
    dense = to_numpy(delta)
    m, _, width = dense.shape
    norms = np.sum(np.abs(dense) ** 2, axis=1).astype(np.float64)      # (m, M)
    total = norms.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        prob = norms / total[:, None]
    zero = ~(total > 0)
    prob[zero] = 1.0 / width
    cdf = np.cumsum(prob, axis=1)
    cdf /= cdf[:, -1:]
    uniform = rng.random((m, rank))
    picks = np.minimum((cdf[:, None, :] <= uniform[..., None]).sum(axis=-1), width - 1)
    chosen = np.take_along_axis(prob, picks, axis=1)                   # p_{i, j_t}
    columns = np.take_along_axis(dense, np.broadcast_to(picks[:, None, :],
                                                        (m, dense.shape[1], rank)), axis=2)
    a = columns / (rank * chosen)[:, None, :]
    b = np.zeros((m, width, rank), dtype=dense.dtype)
    b[np.arange(m)[:, None], picks, np.arange(rank)[None, :]] = 1.0
    a[zero], b[zero] = 0.0, 0.0
    return asarray_like(a, like=delta), asarray_like(b, like=delta)


def _tangent_norms(u, a, b):
    r"""‖P_U(abᴴ)‖ = ‖skew(ãbᴴ)‖ (ã = Uᴴa) per problem, host (m,).

    As projunn._tangent_norm, from r×r matrices.
    """
    xp = get_namespace(u)
    a_tilde = _adjoint_times(u, a)
    cross = conj_transpose(b) @ a_tilde
    full = xp.real(xp.sum((conj_transpose(a_tilde) @ a_tilde)
                          * xp.matrix_transpose(conj_transpose(b) @ b), axis=(-2, -1)))
    square = xp.real(xp.sum(cross * xp.matrix_transpose(cross), axis=(-2, -1)))
    both = to_numpy(0.5 * (full - square)).astype(np.float64)
    return np.sqrt(np.maximum(both, 0.0))


class BatchedProjUNN:
    """:class:`~orthopt.optim.projunn.ProjUNN` for a batch (see the module docstring)."""

    @staticmethod
    def start(solver, current, manifold, rng=None):
        _check_supported(solver, manifold)
        k = current.x.shape[0]
        return ProjUNNBatchState(SearchMemory.start(current.x), np.zeros(k, dtype=np.int64),
                                 np.zeros(k, dtype=np.int64), rng)

    @staticmethod
    def iterate(solver, evaluator, current, state, problems, eps):
        x = current.x
        xp = get_namespace(x)
        m = x.shape[0]
        a, b = _sketch(solver, x, current.euclidean_gradient, state.rng)
        # φ_i'(0) = ⟨grad f_i, a_i b_iᴴ⟩ = Re⟨grad f_i b_i, a_i⟩
        slope = to_numpy(xp.real(xp.sum(xp.conj(current.gradient @ b) * a, axis=(-2, -1))))
        slope = slope.astype(np.float64)
        flip = slope > 0
        if flip.any():  # the opposite sketch descends
            b = b * column(np.where(flip, -1.0, 1.0), b)
            slope = np.where(flip, -slope, slope)

        point = current.copy()
        step_size, predicted = np.zeros(m), np.full(m, np.inf)
        status = np.full(m, None, dtype=object)
        accepted = np.zeros(m, dtype=bool)
        # a sketch orthogonal to the gradient: no step, another sketch next iteration
        descent = slope < 0
        if not descent.any():
            return BatchStep(point, step_size, status, predicted, accepted)
        rows = np.flatnonzero(descent)
        device = _mask_for(x, descent)
        sub = current.take(descent)
        outcome, unit = _search(solver, evaluator, sub, a[device], b[device], slope[rows],
                                state, descent, problems[rows], eps)

        ok = outcome.status == None  # noqa: E711 - elementwise
        if ok.any():
            took = np.zeros(m, dtype=bool)
            took[rows[ok]] = True
            point.put(took, outcome.point.take(ok))
            step_size[rows[ok]] = outcome.step[ok] * unit[ok]
            predicted[rows[ok]] = -outcome.step[ok] * slope[rows[ok]]
            accepted[rows[ok]] = True
            state.steps[rows[ok]] += 1
            state.skipped[rows[ok]] = 0
        limit = (outcome.status == "line_search_failed") & outcome.at_precision_limit
        status[rows[~ok & ~limit]] = outcome.status[~ok & ~limit]
        if limit.any():
            # this sketch's decrease is below what the cost resolves; a random sketch may
            # just have missed the gradient, so only a run of them stops the problem
            r = rows[limit]
            state.skipped[r] += 1
            window = 1 if solver.approximation == "exact" else solver.precision_window
            stop = state.skipped[r] >= window
            if stop.any():
                # a precision limit only where the sketch points along the gradient (see
                # ProjUNN._iterate: a Euclidean or column sketch can be almost all normal)
                s = r[stop]
                d = _mask_for(x, _rows_mask(m, s))
                tangent = _tangent_norms(x[d], a[d], b[d])
                cosine = -slope[s] / np.maximum(current.grad_norm[s] * tangent, 1e-300)
                status[s] = np.where(cosine >= 0.1, "precision_limit", "line_search_failed")
        return BatchStep(point, step_size, status, predicted, accepted)


def _sketch(solver, x, euclidean_gradient, rng):
    """(a, b), shape (m, N, r) each: every problem's rank-r sketch of −(gradient)."""
    op = solver._step_operator(x, euclidean_gradient, 1.0)
    if solver.approximation == "lsi":
        return low_rank_lsi(op, solver.rank, solver.oversampling, solver.power_iterations, rng)
    if solver.approximation == "column":
        return sample_columns(op.dense(), solver.rank, rng)
    return low_rank_exact(op, solver.rank)


def _search(solver, evaluator, current, a, b, slope, state, rows, problems, eps):
    """The step rule of the problems ``rows`` along η ↦ P(U_i + η a_i b_iᴴ).

    Returns the :class:`~orthopt.optim.batch_line_search.SearchOutcome` and
    ‖a_i b_iᴴ‖ (host, one per row).
    """
    from .batched import put_rows, take_rows

    manifold = evaluator.problem.manifold
    x = current.x
    xp = get_namespace(x)
    direction = a @ conj_transpose(b)
    unit = np.sqrt(np.maximum(batch_inner(manifold, x, direction, direction), 0.0))
    steps = state.steps[rows]
    every = x.shape[-1] if solver.reorthonormalize_every is None else \
        solver.reorthonormalize_every
    # the restore after the step that makes the count a multiple of ``every``
    restore = (steps + 1) % every == 0 if every > 0 else np.zeros(len(steps), dtype=bool)
    polar = solver.variant == "D"
    # the polar factor keeps the SO(n) component iff det(I + η bᴴã) > 0 (real matrices)
    signed = polar and not is_complex_dtype(xp, x.dtype)
    cross = conj_transpose(b) @ _adjoint_times(x, a) if signed else None

    def admissible(t, searching):
        r = np.flatnonzero(searching)
        allowed = ~(t[r] * unit[r] > solver.max_step * (1 + 1e-12))
        if signed:
            d = _mask_for(x, searching)
            small = eye_like(cross) + column(t[r], cross) * cross[d]
            allowed &= to_numpy(xp.linalg.det(small)) > 0
        return allowed

    def curve(t, searching):
        d = _mask_for(x, searching)
        r = np.flatnonzero(searching)
        project = projunn_d if polar else projunn_t
        moved = project(x[d], column(t[r], a) * a[d], b[d])
        due = restore[r]
        if due.any():
            moved[_mask_for(moved, due)] = newton_schulz_step(moved[_mask_for(moved, due)])
        return moved

    rule = solver.step_rule
    if isinstance(rule, Fixed):
        return _fixed(rule, evaluator, current, slope, problems, admissible, curve), unit
    memory = take_rows(state.memory, rows)
    # the first trial, growth × the last η, stays within max_step (as ProjUNN._iterate)
    with np.errstate(divide="ignore", invalid="ignore"):
        capped = np.minimum(memory.step, solver.max_step / (rule.growth * unit))
    memory.step = np.where(np.isnan(memory.step), memory.step, capped)
    outcome = armijo(rule, evaluator, current, direction, slope, memory, problems, eps,
                     curve=curve, admissible=admissible)
    put_rows(state.memory, rows, memory)
    return outcome, unit


def _fixed(rule, evaluator, current, slope, problems, admissible, curve):
    """η = lr for every problem; an inadmissible η fails the problem's iteration (as the
    single run's :class:`~orthopt.optim.step_size.Fixed` on a curve that returns None)."""
    from .batch_line_search import SearchOutcome

    m = len(problems)
    t = np.full(m, rule.lr)
    everyone = np.ones(m, dtype=bool)
    allowed = admissible(t, everyone)
    point = current.copy()
    if allowed.any():
        point.put(allowed, evaluator.evaluate(curve(t, allowed), problems[allowed]))
    status = np.where(allowed, None, "line_search_failed").astype(object)
    return SearchOutcome(point, np.where(allowed, rule.lr, 0.0), status,
                         np.zeros(m, dtype=bool), t)


def _rows_mask(m, rows):
    mask = np.zeros(m, dtype=bool)
    mask[rows] = True
    return mask


def _check_supported(solver, manifold):
    """What the batched form covers, with a clear error for the rest."""
    if isinstance(manifold, Product):
        raise NotImplementedError(
            f"batched projUNN runs on SpecialOrthogonal(n), Orthogonal(n), Unitary(n) and "
            f"Stiefel(n, n), got {manifold!r}; solve the product problems one by one")
    solver._check_manifold(manifold)  # square orthogonal / unitary matrices (TypeError)
    if not isinstance(solver.step_rule, (Armijo, Fixed)):
        raise NotImplementedError(
            f"batched projUNN searches with step_size='armijo' (Armijo or NonmonotoneBB) or "
            f"'fixed', got {type(solver.step_rule).__name__}; pass one of those, or solve "
            f"the problems one by one")
