r"""Givens coordinate descent for k independent problems at once.

The batched twin of :class:`~orthopt.optim.coordinate.GivensCoordinateDescent`
with ``block=1`` on SO(n), O(n), U(n) and real or complex St(n, p) (NumPy
arrays): every iteration, problem i rotates its own coordinate — a plane
(a, b) of the left action x ← G x (rows) or of the right action x ← x G
(columns), or a phase (a, a) over ℂ — by its own angle θ_i. The pieces are
those of the single run, elementwise over the batch, with its arithmetic
(a batched run follows the single runs to the last bit):

* the coordinate: Gauss–Southwell takes per problem the argmax of the
  flattened scores [|Ω_i| upper triangle, |Ψ_i| upper triangle] (and the
  phases |Ω_aa|/√2 over ℂ; left side first on ties, as the single rule); the random rule draws one row of the
  coordinate table per problem from the run's generator; the cyclic rule
  walks the single run's sweep with one position per problem;
* the exact angle: the cost of every problem at its sample angles θ = π/2,
  π, −π/2 (three batched cost evaluations), the fitted trigonometric
  polynomials (:mod:`orthopt.optim.trig_polynomial`) and their global
  minimizers, all at once;
* acceptance: the batched backtracking of
  :mod:`orthopt.optim.batch_line_search` along t ↦ x_i rotated by t·θ_i
  (:func:`~orthopt.optim.step_size.batch_sufficient_decrease`, c₁ = ½ with
  the model's predicted decrease), falling back per problem to the
  "armijo" angles as the single run does.

:mod:`orthopt.optim.batched` runs the loop, the stopping criteria and the
freezing of finished problems.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ..backend import get_namespace, is_numpy
from ..manifolds.product import Product
from ..manifolds.stiefel import Stiefel
from .batch_line_search import backtrack
from .batch_solvers import BatchStep
from .coordinate import GivensCoordinateDescent
from .givens_coordinates import SIDES, Coordinates
from .step_size import Armijo, Fixed, rounding_level
from .trig_polynomial import SAMPLE_ANGLES, fit_trig2_batch, minimize_trig2_batch

__all__ = ["BatchedGivens", "rotate_batch"]



@dataclass
class GivensBatchState:
    """Per-problem state (arrays of shape (k,), ``recent`` (k, window)); see GivensState."""

    angle_scale: np.ndarray   # last accepted t of the "armijo" angles, NaN before one
    skipped: np.ndarray       # consecutive rounds that could not resolve a decrease
    position: np.ndarray      # the cyclic rule's place in its sweep
    recent: np.ndarray        # step lengths of the last window (cyclic and random rules)
    recorded: np.ndarray      # how many lengths ``recent`` has seen
    table: np.ndarray = dataclasses.field(metadata={"shared": True})
    rng: object = dataclasses.field(default=None, metadata={"shared": True})


def rotate_batch(x, side, a, b, omega):
    """x_i rotated by ω_i in the plane (a_i, b_i) of side ``side[i]`` (0 left, 1 right).

    Parameters
    ----------
    x : numpy.ndarray, shape (m, n, p)
    side, a, b : numpy.ndarray of int, shape (m,)
        a_i < b_i, or a_i = b_i for a phase (complex x).
    omega : numpy.ndarray, shape (m,)
        Generator entries (real for real x; imaginary for a phase).

    Returns
    -------
    numpy.ndarray, shape (m, n, p)
        Each x_i as :func:`~orthopt.optim.givens_coordinates.rotate` leaves it,
        with the same arithmetic, so a batched run follows the single runs to
        the last bit. The right action rotates the columns: the left one on xᵀ
        with −ω̄.
    """
    y = x.copy()
    rows = np.arange(x.shape[0])
    left = side == 0
    if np.iscomplexobj(x):
        for mask, transpose in ((left, False), (~left, True)):
            if mask.any():
                r = rows[mask]
                om = -np.conj(omega[mask]) if transpose else omega[mask]
                _rotate_complex(y, x, r, a[mask], b[mask], om, transpose)
        return y
    # real: one rotation per problem, cos and sin of θ (the single run's fast path)
    c, s = np.cos(omega)[:, None], np.sin(omega)[:, None]
    if left.any():
        r, i, j = rows[left], a[left], b[left]
        xi, xj = x[r, i], x[r, j]
        y[r, i] = c[left] * xi + s[left] * xj
        y[r, j] = c[left] * xj - s[left] * xi
    if (~left).any():
        right = ~left
        r, i, j = rows[right], a[right], b[right]
        xi, xj = x[r, :, i], x[r, :, j]
        y[r, :, i] = c[right] * xi - s[right] * xj
        y[r, :, j] = c[right] * xj + s[right] * xi
    return y


def _rotate_complex(y, x, r, i, j, omega, columns):
    """The complex rotations of ``_rotate_numpy`` on the rows (or columns) i, j of x_r."""
    def part(k):
        return x[r, :, k] if columns else x[r, k]

    def put(k, value):
        if columns:
            y[r, :, k] = value
        else:
            y[r, k] = value

    pairs = i != j
    if pairs.any():
        om, ip, jp, rp = omega[pairs], i[pairs], j[pairs], r[pairs]
        mag = np.abs(om)
        c = np.cos(mag)
        s = np.where(mag > 0, np.sin(mag) / np.where(mag > 0, mag, 1.0), 1.0) * om
        xi = x[rp, :, ip] if columns else x[rp, ip]
        xj = x[rp, :, jp] if columns else x[rp, jp]
        new_i = c[:, None] * xi + s[:, None] * xj
        new_j = -np.conj(s)[:, None] * xi + c[:, None] * xj
        if columns:
            y[rp, :, ip], y[rp, :, jp] = new_i, new_j
        else:
            y[rp, ip], y[rp, jp] = new_i, new_j
    phases = ~pairs
    if phases.any():
        rq, iq = r[phases], i[phases]
        factor = np.exp(omega[phases])[:, None]
        if columns:
            y[rq, :, iq] = x[rq, :, iq] * factor
        else:
            y[rq, iq] = x[rq, iq] * factor


def _skew_upper_scores(x, gradient, sides):
    """|Ω_ab| (left, Ω = skew(∇f xᴴ)) and |Ψ_ab| (right, Ψ = skew(xᴴ∇f)), a < b, and the
    phases |Ω_aa|/√2 (complex x), per problem, flattened side after side: shape
    (m, Σ size²); and the generators (the scores of the single rule)."""
    generators, scores = {}, []
    phases = np.iscomplexobj(x)
    x_h = np.conj(np.swapaxes(x, -1, -2))
    for side in SIDES:
        if side not in sides:
            continue
        product = gradient @ x_h if side == "left" else x_h @ gradient
        omega = (product - np.conj(np.swapaxes(product, -1, -2))) / 2
        generators[side] = omega
        size = omega.shape[-1]
        score = np.triu(np.abs(omega), 1)
        if phases:
            diagonal = np.arange(size)
            score[:, diagonal, diagonal] = np.abs(omega[:, diagonal, diagonal]) / math.sqrt(2)
        scores.append(score.reshape(x.shape[0], size * size))
    return generators, np.concatenate(scores, axis=1)


class BatchedGivens:
    """:class:`~orthopt.optim.coordinate.GivensCoordinateDescent` for a batch (block=1)."""

    @staticmethod
    def start(solver, current, manifold, rng=None):
        _check_supported(solver, manifold, current.x)
        space = solver._space(manifold)
        k = current.x.shape[0]
        if solver.rule == "cyclic":
            table = np.concatenate([np.stack([r.side, r.i, r.j], axis=1)
                                    for r in space.cyclic_rounds()]).astype(np.int64)
        else:
            table = space.table()
        window = 0
        if solver.rule != "gauss-southwell":
            window = solver._sweep_iterations(space) * (1 if solver.rule == "cyclic" else 4)
        return GivensBatchState(np.full(k, np.nan), np.zeros(k, dtype=np.int64),
                                np.zeros(k, dtype=np.int64), np.zeros((k, window)),
                                np.zeros(k, dtype=np.int64), table, rng)

    @staticmethod
    def iterate(solver, evaluator, current, state, problems, eps):
        x = current.x
        m = x.shape[0]
        space_sides = solver._space(evaluator.problem.manifold).sides
        generators, scores = _skew_upper_scores(x, current.euclidean_gradient, space_sides)
        side, a, b, critical = _choose(solver, state, scores, generators, m)
        values = np.zeros(m, dtype=x.dtype if np.iscomplexobj(x) else np.float64)
        for name, omega in generators.items():  # Ω_ab (or Ψ_ab) of each problem's coordinate
            mine = side == SIDES.index(name)
            values[mine] = omega[np.flatnonzero(mine), a[mine], b[mine]]
        # ω = θ·direction, d/dθ f|₀ and the generator weights, as GivensCoordinateDescent
        direction, slope, weight = GivensCoordinateDescent._directions(
            Coordinates(side, a, b), values.astype(np.complex128)
            if np.iscomplexobj(values) else values)

        point = current.copy()
        step_size = np.zeros(m)
        status = np.full(m, None, dtype=object)
        predicted = np.full(m, np.inf)  # "no prediction": never a precision-limit step
        skip = np.zeros(m, dtype=bool)
        active = ~critical
        if isinstance(solver.step_rule, Fixed):
            angles = -solver.step_rule.lr * values
            rows = np.flatnonzero(active)
            if len(rows):
                moved = evaluator.evaluate(rotate_batch(x[rows], side[rows], a[rows], b[rows],
                                                        angles[rows]), problems[rows])
                point.put(active, moved)
                step_size[rows] = _generator_norm(angles[rows], weight[rows])
            return _report(state, BatchStep(point, step_size, status, predicted),
                           np.ones(m, dtype=bool))

        def searcher(rows, angles, phi_slope, t0, c1, contraction):
            """Backtracking of the problems ``rows`` along t ↦ x rotated by t·angles."""
            sub = current.take(rows)
            r = np.flatnonzero(rows)
            sub_x, sub_side, sub_a, sub_b = x[r], side[r], a[r], b[r]
            length = _generator_norm(angles[r], weight[r])

            def curve(t, searching):
                return rotate_batch(sub_x[searching], sub_side[searching], sub_a[searching],
                                    sub_b[searching], t[searching] * angles[r][searching])

            outcome = backtrack(evaluator, sub, None, problems[r], sub.cost, phi_slope[r],
                                t0[r], eps, c1, contraction, solver.max_backtracks,
                                eps / np.maximum(length, 1e-300), curve=curve)
            outcome.at_precision_limit = (outcome.status == "line_search_failed") & (
                t0[r] * np.abs(phi_slope[r]) <= rounding_level(sub.cost, eps, 100.0))
            return outcome

        def take(rows, outcome, angles, phi_slope):
            """Record the outcome of the searches of ``rows`` (a host mask)."""
            r = np.flatnonzero(rows)
            ok = outcome.status == None  # noqa: E711 - elementwise
            limit = ~ok & outcome.at_precision_limit
            if ok.any():
                took = np.zeros(m, dtype=bool)
                took[r[ok]] = True
                point.put(took, outcome.point.take(ok))
            step_size[r[ok]] = outcome.step[ok] * _generator_norm(angles[r[ok]], weight[r[ok]])
            predicted[r[ok]] = -outcome.step[ok] * phi_slope[r[ok]]
            skip[r[limit]] = True
            status[r[~ok & ~limit]] = outcome.status[~ok & ~limit]

        armijo_rows = np.zeros(m, dtype=bool)
        if solver.step_rule == "exact":
            thetas, change, model = _exact_angles(evaluator, x, current.cost, side, a, b,
                                                  direction, slope, active, problems)
            resolvable = model & (-change > rounding_level(current.cost, eps))
            skip |= model & ~resolvable
            armijo_rows = active & ~model
            if resolvable.any():
                outcome = searcher(resolvable, thetas * direction, change, np.ones(m), 0.5, 0.5)
                # a model the cost does not follow: the armijo angles, as the single run
                retry = (outcome.status == "line_search_failed") & ~outcome.at_precision_limit
                kept = resolvable.copy()
                kept[np.flatnonzero(resolvable)[retry]] = False
                armijo_rows |= resolvable & ~kept
                _take_rows_of(take, kept, outcome, thetas * direction, change, ~retry)
        else:
            armijo_rows = active
        if armijo_rows.any():
            rule = solver.step_rule if isinstance(solver.step_rule, Armijo) else Armijo(
                max_backtracks=solver.max_backtracks)
            unit = -slope / weight              # θ per unit t: a coordinate gradient step
            phi_slope = slope * unit            # −slope²/w < 0
            with np.errstate(divide="ignore"):
                first = np.minimum(1.0, (math.pi / 4) / np.maximum(np.abs(unit), 1e-300))
            t0 = np.where(np.isnan(state.angle_scale), first, rule.growth * state.angle_scale)
            outcome = searcher(armijo_rows, unit * direction, phi_slope, t0,
                               rule.sufficient_decrease, rule.contraction)
            r = np.flatnonzero(armijo_rows)
            ok = outcome.status == None  # noqa: E711
            state.angle_scale[r[ok]] = outcome.step[ok]
            take(armijo_rows, outcome, unit * direction, phi_slope)
        state.skipped[~skip & ~critical & (status == None)] = 0  # noqa: E711
        step = BatchStep(point, step_size, status, predicted,
                         accepted=np.ones(m, dtype=bool))
        if skip.any():
            state.skipped[skip] += 1
            window = 1 if state.recent.shape[1] == 0 else state.recent.shape[1]
            stop = skip & (state.skipped >= window)
            status[stop] = "precision_limit"
            step.accepted[skip & ~stop] = False
        return _report(state, step, ~skip & (status == None))  # noqa: E711


def _take_rows_of(take, kept, outcome, angles, phi_slope, keep):
    """``take`` restricted to the rows ``kept`` (``keep``: the same rows of the outcome)."""
    if not kept.any():
        return
    sub = dataclasses.replace(
        outcome, point=outcome.point.take(keep), step=outcome.step[keep],
        status=outcome.status[keep], at_precision_limit=outcome.at_precision_limit[keep],
        initial_step=outcome.initial_step[keep])
    take(kept, sub, angles, phi_slope)


def _choose(solver, state, scores, generators, m):
    """Per problem (side code, a, b) and whether no coordinate has a nonzero derivative."""
    if solver.rule == "gauss-southwell":
        best = np.argmax(scores, axis=1)
        critical = ~(scores[np.arange(m), best] > 0.0)
        side, a, b = np.zeros(m, dtype=np.int64), np.zeros(m, dtype=np.int64), \
            np.zeros(m, dtype=np.int64)
        offset = 0
        for side_name in SIDES:
            if side_name not in generators:
                continue
            size = generators[side_name].shape[-1]
            mine = (best >= offset) & (best < offset + size * size)
            side[mine] = SIDES.index(side_name)
            a[mine], b[mine] = np.divmod(best[mine] - offset, size)
            offset += size * size
        return side, a, b, critical
    table = state.table
    if solver.rule == "random":
        rows = state.rng.integers(len(table), size=m)
    else:
        rows = state.position % len(table)
        state.position += 1
    chosen = table[rows]
    return chosen[:, 0], chosen[:, 1], chosen[:, 2], np.zeros(m, dtype=bool)


def _exact_angles(evaluator, x, cost, side, a, b, direction, slope, active, problems):
    """Per problem the global minimizer θ_i of its fitted model, m(θ_i) − f_i, and whether
    it has a model (finite samples); three batched cost evaluations of the active rows."""
    m = x.shape[0]
    thetas, change = np.zeros(m), np.zeros(m)
    model = np.zeros(m, dtype=bool)
    r = np.flatnonzero(active)
    if len(r) == 0:
        return thetas, change, model
    samples = [evaluator.cost(rotate_batch(x[r], side[r], a[r], b[r], angle * direction[r]),
                              problems[r]) for angle in SAMPLE_ANGLES]
    coef, finite = fit_trig2_batch(cost[r], slope[r], *samples)
    r = r[finite]
    if len(r):
        thetas[r], value = minimize_trig2_batch(coef[:, finite])
        change[r] = value - cost[r]
        model[r] = True
    return thetas, change, model


def _generator_norm(angles, weight):
    """√(w |ω|²) per problem: w = 2 for a pair (ω and −ω̄ both appear), 1 for a phase."""
    return np.sqrt(weight * np.abs(angles) ** 2)


def _report(state, step, reported):
    """The step length the stopping test sees: the largest of the last window (cyclic and
    random rules, the rows ``reported``), as GivensCoordinateDescent._report."""
    window = state.recent.shape[1]
    if window == 0 or not reported.any():
        return step
    r = np.flatnonzero(reported)
    state.recent[r, state.recorded[r] % window] = step.step_size[r]
    state.recorded[r] += 1
    full = state.recorded[r] >= window
    step.step_size[r] = np.where(full, state.recent[r].max(axis=1), np.inf)
    return step


def _check_supported(solver, manifold, x):
    """What the batched form covers, with a clear error for the rest."""
    if isinstance(manifold, Product) or not isinstance(manifold, Stiefel):
        raise NotImplementedError(
            f"batched Givens coordinate descent runs on SpecialOrthogonal, Orthogonal, Unitary "
            f"and Stiefel manifolds, got {manifold!r}; solve these problems one by one or use "
            f"a batched method such as 'trust-regions'")
    if not is_numpy(get_namespace(x)):
        raise NotImplementedError(
            "batched Givens coordinate descent runs on NumPy arrays (its rotations index "
            "rows per problem); convert x0 and the data with numpy.asarray, or use a batched "
            "method such as 'trust-regions'")
    if solver.block != 1:
        raise NotImplementedError(
            f"batched Givens coordinate descent moves one coordinate per iteration (block=1), "
            f"got block={solver.block}; pass block=1 or solve the problems one by one")
