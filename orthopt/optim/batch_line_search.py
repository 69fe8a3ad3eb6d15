r"""The step-size rules of :mod:`orthopt.optim.step_size`, for k searches at once.

Each problem of a batch searches along its own direction with its own trial
step t_i, its own memory (last step, Barzilai–Borwein pair, Zhang–Hager
reference) and its own acceptance. One round evaluates the cost at the
trials of every problem still searching (one call of the batched cost),
accepts those that pass :func:`~orthopt.optim.step_size.batch_sufficient_decrease`
— the package's one sufficient-decrease test, elementwise — and changes the
trial step of the others only. The arithmetic of every rule is that of its
scalar version, so problem i follows the path a single run of problem i
would follow (up to the summation order of inner products).

Per-problem scalars (costs, slopes, steps) live on the host as float64
arrays of shape (m,); points, gradients and directions stay in their array
namespace, shape (m, n, p).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend import asarray_like, get_namespace, real_dtype_of, to_numpy
from ..manifolds.base import Manifold
from .batch_problem import _mask_for
from .step_size import (Armijo, Fixed, NonmonotoneBB, StrongWolfe, batch_sufficient_decrease,
                        rounding_level)

__all__ = ["SearchMemory", "SearchOutcome", "search", "column", "batch_inner"]


def column(values, like):
    """Host per-problem scalars (m,) as an array (m, 1, …, 1) of ``like``'s real dtype.

    The trailing ones match the point axes of ``like`` (shape (m, *point_shape)).
    """
    shape = (-1,) + (1,) * (like.ndim - 1)
    if type(like) is np.ndarray:  # the common case, without the namespace dispatch
        return np.asarray(values, dtype=like.real.dtype).reshape(shape)
    xp = get_namespace(like)
    real = real_dtype_of(xp, like.dtype)
    return xp.reshape(asarray_like(values, like=like, dtype=real), shape)


_EMBEDDED_BATCH_INNER_PRODUCT = Manifold.batch_inner_product


def batch_inner(manifold, x, u, v):
    """⟨u_i, v_i⟩_{x_i} for every problem, as a host float64 array (m,).

    For NumPy arrays on a manifold with the embedded metric this is the
    manifold's own formula (the real part of Σ ū v over the point axes),
    computed without the namespace dispatch: batched solvers call it tens of
    times per iteration, and on a few small problems the dispatch costs more
    than the arithmetic.
    """
    if (type(u) is np.ndarray and type(v) is np.ndarray and manifold.point_ndim == 2
            and type(manifold).batch_inner_product is _EMBEDDED_BATCH_INNER_PRODUCT):
        product = np.conj(u) * v if np.iscomplexobj(u) else u * v
        return np.real(np.sum(product, axis=(-2, -1))).astype(np.float64, copy=False)
    return to_numpy(manifold.batch_inner_product(x, u, v)).astype(np.float64)


@dataclass
class SearchMemory:
    """Per-problem memory of a step-size rule (the batched ``_Memory``); arrays of shape (k,).

    ``step`` is NaN before the first accepted search; ``previous_x``,
    ``previous_gradient`` (shape (k, n, p)) hold the last search's start for
    Barzilai–Borwein guesses where ``has_previous``.
    """

    step: np.ndarray
    slope: np.ndarray
    count: np.ndarray
    reference: np.ndarray
    weight: np.ndarray
    end_slope: np.ndarray
    direction_norm2: np.ndarray
    has_previous: np.ndarray
    previous_x: object
    previous_gradient: object

    @classmethod
    def start(cls, x):
        k = x.shape[0]
        xp = get_namespace(x)
        nan = np.full(k, np.nan)
        return cls(nan.copy(), nan.copy(), np.zeros(k, dtype=np.int64), nan.copy(),
                   np.ones(k), nan.copy(), nan.copy(), np.zeros(k, dtype=bool),
                   xp.zeros_like(x), xp.zeros_like(x))


@dataclass
class SearchOutcome:
    """The result of k searches: ``point`` holds the accepted trials (the start on failure)."""

    point: object
    step: np.ndarray
    status: np.ndarray
    at_precision_limit: np.ndarray
    initial_step: np.ndarray


def search(rule, evaluator, current, direction, slope, memory, problems, eps):
    """Dispatch to the batched form of ``rule``.

    Parameters
    ----------
    rule : Armijo, NonmonotoneBB or StrongWolfe
    evaluator : BatchEvaluator
    current : BatchPoint
        The m problems at their iterates.
    direction : array, shape (m, n, p)
        Tangent descent directions.
    slope : numpy.ndarray, shape (m,)
        φ_i'(0) = ⟨grad f_i, d_i⟩ < 0.
    memory : SearchMemory
        The m problems' memories (updated in place).
    problems : numpy.ndarray of int, shape (m,)
        Indices of the m problems in the batch.
    eps : float

    Returns
    -------
    SearchOutcome
    """
    if isinstance(rule, StrongWolfe):
        return strong_wolfe(rule, evaluator, current, direction, slope, memory, problems, eps)
    if isinstance(rule, Armijo):
        return armijo(rule, evaluator, current, direction, slope, memory, problems, eps)
    if isinstance(rule, Fixed):
        return fixed(rule, evaluator, current, direction, memory, problems)
    raise NotImplementedError(
        f"the step-size rule {type(rule).__name__} has no batched form; batched runs take "
        f"Armijo(), NonmonotoneBB(), StrongWolfe() or Fixed(lr)")


def fixed(rule, evaluator, current, direction, memory, problems):
    """t = lr for every problem, no search (:class:`~orthopt.optim.step_size.Fixed`)."""
    x = current.x
    point = evaluator.evaluate(evaluator.problem.manifold.retraction(x, rule.lr * direction),
                               problems)
    m = len(problems)
    memory.step[:] = rule.lr
    return SearchOutcome(point, np.full(m, rule.lr), np.full(m, None, dtype=object),
                         np.zeros(m, dtype=bool), np.full(m, rule.lr))


def _retract(evaluator, current, direction, t, rows):
    mask = _device_mask(current.x, rows)
    x, d = current.x[mask], direction[mask]
    return evaluator.problem.manifold.retraction(x, column(t[rows], x) * d)


def _device_mask(x, rows):
    return _mask_for(x, rows)


def backtrack(evaluator, current, direction, problems, reference, slope, t0, eps, c1,
              contraction, max_trials, shortest_step, curve=None, admissible=None):
    """:func:`~orthopt.optim.step_size.backtrack` along t ↦ R_{x_i}(t d_i) for every problem.

    ``curve(t, rows)``, when given, replaces the retraction: the trial points
    (shape (number of rows, n, p)) of the problems selected by the host mask
    ``rows`` at their steps ``t[rows]`` (Givens rotations by t·angle).
    ``admissible(t, rows)``, when given, says which of those trials may be
    evaluated (host bool, one per selected row); the others are shortened
    unevaluated, as a trial for which the single search's curve returns None
    (projUNN's longest step, its SO(n) component).

    Returns
    -------
    SearchOutcome
        ``status`` None where accepted, else "line_search_failed" (or "nonfinite");
        ``at_precision_limit`` is filled in by the caller.
    """
    m = slope.shape[0]
    t = t0.copy()
    searching = np.ones(m, dtype=bool)
    accepted = np.zeros(m, dtype=bool)
    last_finite = np.ones(m, dtype=bool)
    point = None  # a copy of current made at the first partial acceptance
    for _ in range(max_trials):
        searching &= ~(t < shortest_step)
        if not searching.any():
            break
        trying = searching
        if admissible is not None:
            allowed = np.zeros(m, dtype=bool)
            allowed[searching] = admissible(t, searching)
            t[searching & ~allowed] *= contraction
            trying = searching & allowed
            if not trying.any():
                continue
        trial_x = _retract(evaluator, current, direction, t, trying) if curve is None \
            else curve(t, trying)
        trial = evaluator.evaluate(trial_x, problems[trying])
        last_finite[trying] = np.isfinite(trial.cost)
        ok = batch_sufficient_decrease(trial.cost, reference[trying], t[trying],
                                       slope[trying], c1, eps)
        rows = np.flatnonzero(trying)
        if ok.all() and len(rows) == m:
            point = trial  # every problem took its first trial: the usual case
        elif ok.any():
            took = np.zeros(m, dtype=bool)
            took[rows[ok]] = True
            point = current.copy() if point is None else point
            point.put(took, trial.take(ok))
        accepted[rows[ok]] = True
        searching[rows[ok]] = False
        t[rows[~ok]] *= contraction
    status = np.where(accepted, None, np.where(last_finite, "line_search_failed", "nonfinite"))
    step = np.where(accepted, t, 0.0)
    point = current.copy() if point is None else point  # callers may put() into it
    return SearchOutcome(point, step, status.astype(object), np.zeros(m, dtype=bool), t0)


def _first_step(rule_initial, direction_norm):
    return np.full(direction_norm.shape, rule_initial) if rule_initial is not None else \
        1.0 / np.maximum(direction_norm, 1e-300)


def barzilai_borwein(manifold, memory, current):
    """BB1 (odd searches) / BB2 (even) per problem, NaN where undefined (``_barzilai_borwein``)."""
    x, gradient = current.x, current.gradient
    s = x - memory.previous_x
    y = gradient - memory.previous_gradient
    with np.errstate(all="ignore"):
        sy = np.abs(batch_inner(manifold, x, s, y))
        odd = memory.count % 2 == 1
        t = np.where(odd, batch_inner(manifold, x, s, s) / sy,
                     sy / batch_inner(manifold, x, y, y))
        valid = (sy != 0.0) & np.isfinite(sy) & np.isfinite(t) & (t > 0)
    return np.where(valid, np.clip(t, 1e-20, 1e20), np.nan)


def armijo(rule, evaluator, current, direction, slope, memory, problems, eps, curve=None,
           admissible=None):
    """Armijo (monotone) or NonmonotoneBB (Zhang–Hager) backtracking, per problem.

    ``curve`` and ``admissible`` replace the retraction (see :func:`backtrack`).
    """
    manifold = evaluator.problem.manifold
    x = current.x
    direction_norm = np.sqrt(np.maximum(batch_inner(manifold, x, direction, direction), 0.0))
    t0 = np.where(np.isnan(memory.step), _first_step(rule.initial_step, direction_norm),
                  rule.growth * memory.step)
    if rule.guess_rule == "bb" and memory.has_previous.any():
        bb = barzilai_borwein(manifold, memory, current)
        use = ~np.isnan(memory.step) & memory.has_previous & ~np.isnan(bb)
        t0 = np.where(use, bb, t0)
    nonmonotone = isinstance(rule, NonmonotoneBB)
    if nonmonotone:
        memory.reference = np.where(np.isnan(memory.reference), current.cost, memory.reference)
        reference = np.maximum(memory.reference, current.cost)
    else:
        reference = current.cost
    outcome = backtrack(evaluator, current, direction, problems, reference, slope, t0, eps,
                        rule.sufficient_decrease, rule.contraction, rule.max_backtracks,
                        eps / np.maximum(direction_norm, 1e-300), curve=curve,
                        admissible=admissible)
    memory.count += 1
    failed = outcome.status != None  # noqa: E711
    # the Zhang–Hager average may sit above a cost the rounding cannot decrease: the
    # precision test is against the current cost
    outcome.at_precision_limit = (outcome.status == "line_search_failed") & (
        t0 * np.abs(slope) <= rounding_level(current.cost if nonmonotone else reference, eps,
                                             100.0))
    ok = ~failed
    memory.step = np.where(ok, outcome.step, memory.step)
    memory.slope = np.where(ok, slope, memory.slope)
    if rule.guess_rule == "bb" and ok.any():
        mask = _device_mask(x, ok)
        memory.previous_x[mask] = x[mask]
        memory.previous_gradient[mask] = current.gradient[mask]
        memory.has_previous |= ok
    if nonmonotone:
        q_new = rule.weight * memory.weight + 1.0
        updated = (rule.weight * memory.weight * memory.reference + outcome.point.cost) / q_new
        memory.reference = np.where(ok, updated, memory.reference)
        memory.weight = np.where(ok, q_new, memory.weight)
    return outcome


def _strong_wolfe_guess(rule, slope, direction_norm2, memory):
    first = _first_step(rule.initial_step, np.sqrt(np.maximum(direction_norm2, 0.0)))
    with np.errstate(all="ignore"):
        t = np.full(slope.shape, np.nan)
        if rule.guess_rule == "secant":
            kappa = (memory.end_slope - memory.slope) / (memory.step * memory.direction_norm2)
            secant = -slope / (kappa * direction_norm2)
            t = np.where((kappa > 0) & (direction_norm2 > 0), secant, np.nan)
        ratio = memory.step * memory.slope / slope
        t = np.where(np.isfinite(t) & (t > 0), t, ratio)
        t = np.where(np.isfinite(t) & (t > 0), t, memory.step)
        t = np.clip(t, 1e-20, 1e20)
    return np.where(np.isnan(memory.step), first, t)


def _cubic_minimizer(ta, fa, da, tb, fb, db):
    """Elementwise minimizer of the cubic through two (t, φ, φ') triples; NaN where none."""
    with np.errstate(all="ignore"):
        ok = np.isfinite(fa) & np.isfinite(da) & np.isfinite(fb) & np.isfinite(db) & (ta != tb)
        d1 = da + db - 3.0 * (fa - fb) / (ta - tb)
        radicand = d1 * d1 - da * db
        ok &= radicand >= 0
        d2 = np.copysign(np.sqrt(np.maximum(radicand, 0.0)), tb - ta)
        denominator = db - da + 2.0 * d2
        ok &= denominator != 0
        t = tb - (tb - ta) * (db + d2 - d1) / denominator
        ok &= np.isfinite(t)
    return np.where(ok, t, np.nan)


def strong_wolfe(rule, evaluator, current, direction, slope, memory, problems, eps):
    """:class:`~orthopt.optim.step_size.StrongWolfe` (bracketing, cubic zoom) per problem."""
    manifold = evaluator.problem.manifold
    m = slope.shape[0]
    direction_norm2 = batch_inner(manifold, current.x, direction, direction)
    f0, g0 = current.cost, slope
    c1, c2 = rule.sufficient_decrease, rule.curvature
    t0 = np.minimum(_strong_wolfe_guess(rule, g0, direction_norm2, memory), rule.max_step)
    memory.count += 1
    t = t0.copy()
    lo_t, lo_f, lo_d = np.zeros(m), f0.copy(), g0.copy()
    lo_point = current.copy()
    hi_t, hi_f, hi_d = np.full(m, np.nan), np.full(m, np.nan), np.full(m, np.nan)
    hi_set = np.zeros(m, dtype=bool)
    any_finite = np.zeros(m, dtype=bool)
    searching = np.ones(m, dtype=bool)
    accepted = np.zeros(m, dtype=bool)
    result = current.copy()
    step, end_slope = np.zeros(m), np.full(m, np.nan)
    for _ in range(rule.max_evaluations):
        if not searching.any():
            break
        rows = np.flatnonzero(searching)
        trial = evaluator.evaluate(_retract(evaluator, current, direction, t, searching),
                                   problems[rows])
        tj, phi = t[rows], trial.cost
        dir_rows = direction[_device_mask(direction, searching)]
        with np.errstate(invalid="ignore"):
            dphi = np.where(np.isfinite(phi),
                            batch_inner(manifold, trial.x, trial.gradient, dir_rows), np.nan)
        previous = (lo_t[rows].copy(), lo_f[rows].copy(), lo_d[rows].copy())
        finite = np.isfinite(phi) & np.isfinite(dphi)
        any_finite[rows] |= finite
        decrease = batch_sufficient_decrease(phi, f0[rows], tj, g0[rows], c1, eps,
                                             trial_slope=dphi)
        with np.errstate(invalid="ignore"):
            too_far = finite & (~decrease | ((lo_t[rows] > 0) & (phi >= lo_f[rows])))
            wolfe = finite & ~too_far & (np.abs(dphi) <= c2 * np.abs(g0[rows]))
            inside = finite & ~too_far & ~wolfe
            # the minimizer lies beyond the trial (dphi < 0) or between it and lo
            hi_from_lo = inside & np.where(hi_set[rows], dphi * (hi_t[rows] - tj) >= 0,
                                           dphi >= 0)
        # new bracket ends (the nonfinite trial: too far, shorten)
        bad = ~finite
        for mask, values in ((bad, (tj, np.full(len(rows), np.inf), np.full(len(rows), np.nan))),
                             (too_far, (tj, phi, dphi)), (hi_from_lo, previous)):
            target = rows[mask]
            hi_t[target], hi_f[target], hi_d[target] = (v[mask] for v in values)
            hi_set[target] = True
        if inside.any():
            target = rows[inside]
            lo_t[target], lo_f[target], lo_d[target] = tj[inside], phi[inside], dphi[inside]
            lo_point.put(_rows_mask(m, target), trial.take(inside))
        if wolfe.any():
            target = rows[wolfe]
            result.put(_rows_mask(m, target), trial.take(wolfe))
            step[target], end_slope[target] = tj[wolfe], dphi[wolfe]
            accepted[target] = True
            searching[target] = False
        # next trials of the problems still searching
        going = rows[~wolfe]
        if len(going) == 0:
            continue
        keep = ~wolfe
        bracketing = ~hi_set[going]
        t_b = tj[keep]
        cubic = _cubic_minimizer(previous[0][keep], previous[1][keep], previous[2][keep],
                                 t_b, phi[keep], dphi[keep])
        with np.errstate(invalid="ignore"):
            grown = np.where(np.isnan(cubic), 4.0 * t_b,
                             np.minimum(10.0 * t_b, np.maximum(2.0 * t_b, cubic)))
        width = hi_t[going] - lo_t[going]
        collapsed = np.abs(width) <= 1e-14 * np.maximum(np.abs(lo_t[going]), np.abs(hi_t[going]))
        zoom = _cubic_minimizer(lo_t[going], lo_f[going], lo_d[going], hi_t[going],
                                hi_f[going], hi_d[going])
        margin = 0.1 * np.abs(width)
        low = np.minimum(lo_t[going], hi_t[going]) + margin
        high = np.maximum(lo_t[going], hi_t[going]) - margin
        with np.errstate(invalid="ignore"):
            inner = ~np.isnan(zoom) & (low <= zoom) & (zoom <= high)
        zoomed = np.where(inner, zoom, lo_t[going] + 0.5 * width)
        t[going] = np.where(bracketing, grown, zoomed)
        stop = np.where(bracketing, grown > rule.max_step, collapsed)
        searching[going[stop]] = False
    # out of evaluations (or a collapsed bracket): the best point that passed the test
    fallback = ~accepted & (lo_t > 0)
    if fallback.any():
        result.put(fallback, lo_point.take(fallback))
        step[fallback], end_slope[fallback] = lo_t[fallback], lo_d[fallback]
        accepted |= fallback
    status = np.where(accepted, None,
                      np.where(any_finite, "line_search_failed", "nonfinite")).astype(object)
    limit = (status == "line_search_failed") & (
        t0 * np.abs(g0) <= rounding_level(f0, eps, 100.0))
    memory.step = np.where(accepted, step, memory.step)
    memory.slope = np.where(accepted, slope, memory.slope)
    memory.direction_norm2 = np.where(accepted, direction_norm2, memory.direction_norm2)
    memory.end_slope = np.where(accepted, end_slope, memory.end_slope)
    return SearchOutcome(result, step, status, limit, t0)


def _rows_mask(m, rows):
    mask = np.zeros(m, dtype=bool)
    mask[rows] = True
    return mask
