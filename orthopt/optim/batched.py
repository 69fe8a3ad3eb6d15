r"""Batches of independent problems: k solver runs vectorized into one loop.

A :class:`~orthopt.optim.problem.Problem` with ``batch_shape=(k,)`` holds k
problems min f_i(x_i) that share a cost function (``cost(x, *args)`` returns
the k costs, see :mod:`orthopt.optim.batch_problem`). ``solver.run`` then
runs every problem as the solver would run it alone — its own step sizes,
line-search acceptance, restarts and stopping — but with one batched
evaluation of the cost per round of trials::

    problem = Problem(SpecialOrthogonal(3), cost, batch_shape=(10_000,), args=(a, b))
    res = RiemannianConjugateGradient().run(problem, x0)   # x0: shape (10 000, 3, 3)
    res.fun, res.grad_norm, res.nit, res.status, res.success    # shape (10 000,) each

The loop here is :meth:`Solver._run <orthopt.optim.solver.Solver>` with a
mask: after every iteration the stopping criterion is asked per problem
(:mod:`orthopt.optim.batch_stopping`); a problem that stopped is frozen — its
iterate no longer changes and its cost is no longer evaluated — while the
others go on. The built-in stops are per problem too: a failed line search,
the precision limit (50 steps whose predicted decrease is below the cost's
rounding, after the gradient fell by eps^{1/3}), a non-finite value, and the
feasibility guard (one Newton–Schulz step for a problem whose iterate drifted
off the manifold).

The result has ``x`` of shape (k, n, p), and ``fun``, ``grad_norm``, ``nit``,
``nfev``, ``ngev``, ``status``, ``message``, ``success`` of shape (k,)
(``status`` and ``message`` are arrays of str); ``history`` holds arrays of
shape (iterations + 1, k), and a frozen problem repeats its last values.

Batched methods: :class:`~orthopt.optim.rgd.RiemannianGradientDescent` (any of
its step rules), :class:`~orthopt.optim.cg.RiemannianConjugateGradient`
(every β, strong-Wolfe or Armijo search) and
:class:`~orthopt.optim.lbfgs.RiemannianLBFGS`,
:class:`~orthopt.optim.trust_regions.RiemannianTrustRegions` and
:class:`~orthopt.optim.coordinate.GivensCoordinateDescent` (``block=1``,
NumPy, no products; :mod:`orthopt.optim.batch_coordinate`) and
:class:`~orthopt.optim.projunn.ProjUNN` (both variants, on O(n), SO(n), U(n);
step rule Armijo or fixed; :mod:`orthopt.optim.batch_projunn`) — every method
of ``minimize``: "rgd", "rgd-bb", "cg", "lbfgs", "trust-regions", "givens-gs",
"givens", "projunn-d" and "projunn-t".
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from ..backend import (asarray_like, conj_transpose, eye_like, finfo_eps, get_namespace,
                       to_numpy)
from ..linalg import newton_schulz_step
from ..manifolds.orthonormal import OrthonormalColumns
from .batch_problem import BatchEvaluator, _mask_for
from .batch_solvers import BatchedConjugateGradient, BatchedGradientDescent
from .batch_stopping import BatchProgress, first_fired
from .result import STATUS_MESSAGES, SUCCESS_STATUSES, OptimizeResult
from .solver import PRECISION_LIMIT_STEPS
from .step_size import rounding_level

__all__ = ["run_batched", "check_batch_start", "BATCHED_METHODS", "take_rows", "put_rows"]

#: minimize's method names that accept batched=True
BATCHED_METHODS = ("rgd", "rgd-bb", "cg", "lbfgs", "trust-regions", "givens-gs", "givens",
                   "projunn-d", "projunn-t")


def _batched_method(solver):
    from .batch_coordinate import BatchedGivens
    from .batch_lbfgs import BatchedLBFGS
    from .batch_projunn import BatchedProjUNN
    from .coordinate import GivensCoordinateDescent
    from .cg import RiemannianConjugateGradient
    from .lbfgs import RiemannianLBFGS
    from .projunn import ProjUNN
    from .batch_trust_regions import BatchedTrustRegions
    from .rgd import RiemannianGradientDescent
    from .trust_regions import RiemannianTrustRegions

    if isinstance(solver, GivensCoordinateDescent):
        return BatchedGivens
    if isinstance(solver, ProjUNN):
        return BatchedProjUNN
    if isinstance(solver, RiemannianLBFGS):
        return BatchedLBFGS
    if isinstance(solver, RiemannianTrustRegions):
        return BatchedTrustRegions
    if isinstance(solver, RiemannianConjugateGradient):
        return BatchedConjugateGradient
    if isinstance(solver, RiemannianGradientDescent):
        return BatchedGradientDescent
    raise NotImplementedError(
        f"{type(solver).__name__} does not run batches of independent problems yet; the "
        f"batched solvers are RiemannianGradientDescent, RiemannianConjugateGradient, "
        f"RiemannianLBFGS, RiemannianTrustRegions, GivensCoordinateDescent and ProjUNN "
        f"(minimize methods {', '.join(repr(m) for m in BATCHED_METHODS)} with batched=True). "
        f"Use one of them, or loop over the problems"
    )


def check_batch_start(problem, x0, rng):
    """The batch's starting stack (k, n, p): random when None, validated otherwise."""
    from .dask_support import is_dask_array

    manifold, batch_shape = problem.manifold, problem.batch_shape
    if is_dask_array(x0) or any(is_dask_array(arg) for arg in problem.args):
        raise TypeError(
            "a solver runs a batch in memory; for dask arrays call orthopt.minimize(cost, x0, "
            "method=..., batched=True, args=...), which runs the solver chunk by chunk "
            "(dask.array.blockwise) on the active scheduler")
    if x0 is None:
        return manifold.random_point(rng=rng, shape=batch_shape)
    if isinstance(x0, (list, tuple)):
        shapes = [tuple(getattr(point, "shape", np.shape(point))) for point in x0]
        for i, shape in enumerate(shapes):
            if shape != shapes[0]:
                raise ValueError(
                    f"the batch of starting points has mixed shapes: x0[0] has shape "
                    f"{shapes[0]} but x0[{i}] has shape {shape}; every problem of a batch "
                    f"lives on the same manifold {manifold!r} (solve problems of other shapes "
                    f"in their own batch)")
        xp = get_namespace(*x0) if hasattr(x0[0], "shape") else np
        x0 = xp.stack([xp.asarray(point) for point in x0])
    expected = batch_shape + manifold.point_shape
    if tuple(x0.shape) != expected:
        raise ValueError(
            f"x0 has shape {tuple(x0.shape)} but a batch of {batch_shape[0]} points of "
            f"{manifold!r} has shape {expected}; stack one starting point per problem "
            f"(e.g. M.random_point(shape={batch_shape}))")
    return x0


# -- rows of per-problem state ---------------------------------------------------------

def take_rows(state, mask):
    """A copy of the rows ``mask`` (host bool, shape (k,)) of a state dataclass."""
    values = {}
    for field in dataclasses.fields(state):
        value = getattr(state, field.name)
        if field.metadata.get("shared"):  # one object for the whole batch: an rng, a table
            values[field.name] = value
        elif dataclasses.is_dataclass(value):
            values[field.name] = take_rows(value, mask)
        elif isinstance(value, np.ndarray):
            values[field.name] = value[mask]
        else:
            values[field.name] = value[_mask_for(value, mask)]
    return type(state)(**values)


def put_rows(state, mask, rows):
    """Write the rows of ``take_rows(state, mask)`` (updated) back into ``state``."""
    for field in dataclasses.fields(state):
        value, new = getattr(state, field.name), getattr(rows, field.name)
        if field.metadata.get("shared"):
            continue
        if dataclasses.is_dataclass(value):
            put_rows(value, mask, new)
        elif isinstance(value, np.ndarray):
            value[mask] = new
        else:
            value[_mask_for(value, mask)] = new


# -- feasibility, per problem ----------------------------------------------------------

def _drift(x, probe=None):
    """‖xᵢᴴ(xᵢz) − z‖ per point (probe z), or ‖xᵢᴴxᵢ − I‖_F (no probe); host (m,)."""
    xp = get_namespace(x)
    if probe is None:
        r = conj_transpose(x) @ x - eye_like(x, x.shape[-1])
    else:
        r = conj_transpose(x) @ (x @ probe) - probe
    return to_numpy(xp.sqrt(xp.sum(xp.abs(r) ** 2, axis=(-2, -1)))).astype(np.float64)


class _BatchGuard:
    """:class:`~orthopt.optim.feasibility.FeasibilityGuard`, restoring only the drifted points."""

    def __init__(self, manifold, x, rng):
        self.active = isinstance(manifold, OrthonormalColumns)
        if self.active:
            z = rng.standard_normal((x.shape[-1], 1))
            self.probe = asarray_like(z / math.sqrt(float((z ** 2).sum())), like=x)
            atol = manifold.default_atol(x.dtype, get_namespace(x))
            self.tolerance, self.largest_drift = atol / 10, 100 * atol

    def drifted(self, x, exact=False):
        """Host mask of the points to restore (rounding drift, not a broken step)."""
        if not self.active:
            return np.zeros(x.shape[0], dtype=bool)
        drift = _drift(x, None if exact else self.probe)
        return (drift > self.tolerance) & (drift <= self.largest_drift)

    def restore(self, x):
        for _ in range(3):
            x = newton_schulz_step(x)
            if _drift(x).max() <= self.tolerance:
                break
        return x

    def repair(self, evaluator, point, problems, exact=False):
        """Restore the drifted points of ``point`` and evaluate them again (in place)."""
        bad = self.drifted(point.x, exact)
        if bad.any():
            device = _mask_for(point.x, bad)
            point.put(bad, evaluator.evaluate(self.restore(point.x[device]), problems[bad]))
        return point

    def infeasible(self, manifold, x):
        if not self.active:
            return np.zeros(x.shape[0], dtype=bool)
        return _drift(x) > manifold.default_atol(x.dtype, get_namespace(x))


# -- the loop --------------------------------------------------------------------------

def run_batched(solver, problem, x0, callback, rng):
    """Run ``solver`` on the k problems of ``problem`` (see the module docstring)."""
    method = _batched_method(solver)
    manifold = problem.manifold
    stopping = solver._stopping if solver._stopping is not None else \
        solver._criterion_from_options(manifold)
    start_time = time.perf_counter()
    xp = get_namespace(x0)
    eps = float(finfo_eps(xp, x0.dtype))
    k = problem.batch_shape[0]
    everyone = np.arange(k)
    evaluator = BatchEvaluator(problem)
    guard = _BatchGuard(manifold, x0, rng)
    current = evaluator.evaluate(xp.asarray(x0, copy=True), everyone)
    progress = BatchProgress.start(current.cost, current.grad_norm, eps, stopping)
    status = np.full(k, None, dtype=object)
    fired = np.full(k, None, dtype=object)
    status[~(np.isfinite(current.cost) & np.isfinite(current.grad_norm))] = "nonfinite"
    state = method.start(solver, current, manifold, rng)
    small_steps, floor_grad_norm = np.zeros(k, dtype=np.int64), np.full(k, np.inf)
    history = [(current.cost.copy(), current.grad_norm.copy(), np.zeros(k),
                time.perf_counter() - start_time)]
    bar = None
    if solver.verbose:  # one bar for the batch: the iterations, and how many still run
        from .solver import _iteration_limit, _progress_bar

        bar = _progress_bar(_iteration_limit(stopping))
    try:
        while True:
            running = status == None  # noqa: E711 - elementwise
            progress.time = time.perf_counter() - start_time
            progress.n_evaluations = evaluator.nfev
            which = first_fired(stopping, progress, running)
            stopped = running & (which != None)  # noqa: E711
            fired[stopped] = which[stopped]
            status[stopped] = [criterion.status for criterion in which[stopped]]
            running &= ~stopped
            if not running.any():
                break
            problems = np.flatnonzero(running)
            everyone_runs = len(problems) == k
            sub_current = current if everyone_runs else current.take(running)
            sub_state = state if everyone_runs else take_rows(state, running)
            step = method.iterate(solver, evaluator, sub_current, sub_state, problems, eps)
            if not everyone_runs:
                put_rows(state, running, sub_state)
            failed = step.status != None  # noqa: E711
            if failed.any():
                reasons = step.status[failed]
                gradient_fell = _gradient_fell(progress, problems[failed], eps)
                reasons[(reasons == "precision_limit") & ~gradient_fell] = "line_search_failed"
                status[problems[failed]] = reasons
            progress.iteration[problems[~failed]] += 1
            moved = ~failed if step.accepted is None else ~failed & step.accepted
            # a declined step (trust regions) leaves x and is never "a short step"
            progress.step_size[problems[~failed & ~moved]] = np.nan
            new = guard.repair(evaluator, step.point.take(moved), problems[moved])
            finite = np.isfinite(new.cost) & np.isfinite(new.grad_norm)
            status[problems[moved][~finite]] = "nonfinite"
            done = problems[moved][finite]
            accepted = np.zeros(k, dtype=bool)
            accepted[done] = True
            current.put(accepted, new.take(finite))
            progress.record(done, new.cost[finite], new.grad_norm[finite],
                            step.step_size[moved][finite])
            steps = np.zeros(k)
            steps[done] = step.step_size[moved][finite]
            history.append((progress.cost.copy(), progress.grad_norm.copy(), steps,
                            time.perf_counter() - start_time))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(running=int(np.sum(status == None)),  # noqa: E711
                                worst_grad=f"{progress.grad_norm.max():.2e}", refresh=False)
            if callback is not None and _callback_stops(callback, current, progress):
                status[status == None] = "callback"  # noqa: E711
                break
            _precision_limit(step.predicted_decrease[moved][finite], done, progress, eps,
                             small_steps, floor_grad_norm, status)
    except KeyboardInterrupt:
        status[status == None] = "interrupted"  # noqa: E711
    finally:
        if bar is not None:  # the last line stays on screen with the final counts
            bar.set_postfix(running=int(np.sum(status == None)),  # noqa: E711
                            worst_grad=f"{progress.grad_norm.max():.2e}", refresh=True)
            bar.close()
    return _result(problem, evaluator, guard, current, progress, status, fired, history,
                   start_time)


def _gradient_fell(progress, problems, eps):
    """‖grad f‖ ≤ eps^{1/3}·‖grad f(x₀)‖ per problem (see solver._gradient_fell)."""
    return progress.grad_norm[problems] <= eps ** (1.0 / 3.0) * \
        progress.initial_grad_norm[problems]


def _precision_limit(predicted, problems, progress, eps, small_steps, floor_grad_norm, status):
    """Count steps whose predicted decrease the cost cannot resolve; stop after 50 in a row."""
    grad_norm = progress.grad_norm[problems]
    small = predicted <= rounding_level(progress.cost[problems], eps, 1.0)
    fresh = small & (small_steps[problems] == 0)
    floor_grad_norm[problems[fresh]] = grad_norm[fresh]
    counts = np.where(small, small_steps[problems] + 1, 0)
    counts = np.where(small & (grad_norm <= 0.5 * floor_grad_norm[problems]), 0, counts)
    small_steps[problems] = counts
    limit = (counts >= PRECISION_LIMIT_STEPS) & _gradient_fell(progress, problems, eps)
    status[problems[limit]] = "precision_limit"


def _callback_stops(callback, current, progress):
    intermediate = OptimizeResult(x=current.x, fun=current.cost.copy(),
                                  grad_norm=current.grad_norm.copy(),
                                  nit=progress.iteration.copy())
    try:
        return bool(callback(intermediate))
    except StopIteration:
        return True


def _result(problem, evaluator, guard, current, progress, status, fired, history, start_time):
    manifold = problem.manifold
    k = len(status)
    finite = status != "nonfinite"
    if finite.any():
        rows = current.take(finite)
        guard.repair(evaluator, rows, np.flatnonzero(finite), exact=True)
        current.put(finite, rows)
        off = np.zeros(k, dtype=bool)
        off[finite] = guard.infeasible(manifold, rows.x)
        status[off], fired[off] = "infeasible", None
    status = status.astype(str)
    success = np.isin(status, list(SUCCESS_STATUSES))
    from_criterion = fired != None  # noqa: E711
    success[from_criterion] = [criterion.converged for criterion in fired[from_criterion]]
    messages = {name: STATUS_MESSAGES.get(name, name) for name in np.unique(status)}
    message = np.array([messages[name] for name in status], dtype=object).astype(str)
    costs, grad_norms, steps, times = (np.stack(column) for column in zip(*history))
    return OptimizeResult(
        x=current.x, fun=current.cost, grad_norm=current.grad_norm,
        nit=progress.iteration, nfev=evaluator.nfev, ngev=evaluator.ngev,
        nhev=evaluator.nhev, time=time.perf_counter() - start_time,
        status=status, message=message, success=success, stopping=fired,
        history={"cost": costs, "grad_norm": grad_norms, "step_size": steps,
                 "time": times},
    )
