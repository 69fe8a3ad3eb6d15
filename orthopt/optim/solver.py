"""The iteration loop every deterministic solver shares.

The loop is small; everything that varies is an object handed to it (the
shape of Manopt.jl's ``initialize_solver!`` / ``step_solver!`` /
``stop_solver!``)::

    solver = RiemannianConjugateGradient(
        step_size=StrongWolfe(),
        stopping=MaxIterations(1000) | GradientNorm(1e-6) | StepSize(1e-12),
    )
    res = solver.run(problem, x0, rng=0)

A solver subclass implements two hooks:

``_start(problem, current, rng)`` → state
    A dataclass of everything the method carries between iterations
    (previous direction, step-size memory, random generator). ``current``
    is the :class:`~orthopt.optim.evaluation.Evaluation` at x₀.
``_iterate(problem, current, state)`` → :class:`Step`
    One iteration from the evaluation ``current``: the evaluation at the new
    point, the length of the step, whether it was accepted.

:meth:`Solver.run` validates x₀, asks the stopping criterion after every
iteration (:mod:`orthopt.optim.stopping`), keeps the iterates on the manifold
(:mod:`orthopt.optim.feasibility`), records the history, calls the user's
callback, shows a progress bar, and guarantees that whatever happens — a
non-finite cost, a failed line search, Ctrl-C — the result holds the last
good iterate and a status that says why the run stopped. The random
generator lives in the state, never on the solver, so one solver object can
run several problems at once.

Stochastic steps (training loops)
---------------------------------
Every solver with a learning rate also offers :meth:`Solver.step`, one
update from a Euclidean gradient the caller computed (on a minibatch)::

    solver = RiemannianSGD(lr=1e-2)
    state = solver.init_state(w, rng=0)
    for batch in batches:
        g = euclidean_gradient(w, batch)          # ∂loss/∂w, shape of w
        w, state = solver.step(w, g, state)       # stays on the manifold

A subclass implements ``_init_state(manifold, x, rng)`` (a dataclass) and
``_step(manifold, x, euclidean_gradient, state) -> (x_new, state)``. The
manifold is the constructor's (``manifold=``) or inferred once from the
first x by :func:`orthopt.optim.minimize.infer_manifold` and cached.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..backend import default_rng, get_namespace, to_float
from ..manifolds.base import Manifold
from .._threads import blas_threads
from ..manifolds.points import (as_point, check_like, is_product_point, leaves, point_dtype,
                                point_eps)
from ..manifolds.product import Product
from .feasibility import FeasibilityGuard
from .evaluation import Evaluation
from .problem import Problem
from .result import STATUS_MESSAGES, SUCCESS_STATUSES, OptimizeResult, make_history
from .step_size import rounding_level
from .stopping import Progress, StoppingCriterion, criterion_from_options

__all__ = ["Solver", "Step", "SolverState", "inner_float"]

_EMBEDDED_INNER_PRODUCT = Manifold.inner_product

#: consecutive accepted steps whose predicted decrease is below the rounding level
#: of the cost, without the gradient norm halving, before the loop stops with
#: "precision_limit" (methods that follow the gradient, such as Barzilai–Borwein
#: steps, still converge below the cost's resolution: the gradient decides)
PRECISION_LIMIT_STEPS = 50


#: ``blas_threads="auto"`` limits BLAS to one thread for points up to this many entries
#: (benchmarks/results/solver_threads.json: two threads lost at every measured size)
AUTO_SINGLE_THREAD_ENTRIES = 250_000


def inner_float(manifold, x, u, v):
    """⟨u, v⟩_x as a Python float: the scalar every line search and β rule needs.

    For NumPy arrays on a manifold with the embedded metric Re tr(uᴴv) this is
    one BLAS dot product (``numpy.vdot`` flattens and conjugates its first
    argument), which skips the namespace dispatch of
    :meth:`Manifold.inner_product` — solvers call it about ten times per
    iteration, and on problems of a few thousand unknowns that dispatch costs
    as much as the arithmetic. A product sums its factors' values, each
    taking the same route. Other arrays and metrics go through the manifold
    (and one host sync).
    """
    if type(manifold) is Product and is_product_point(u):
        return sum(inner_float(m, a, b, c) for m, a, b, c in zip(manifold.manifolds, x, u, v))
    if (type(u) is np.ndarray and type(v) is np.ndarray
            and type(manifold).inner_product is _EMBEDDED_INNER_PRODUCT):
        return float(np.vdot(u, v).real)
    return to_float(manifold.inner_product(x, u, v))


@dataclass
class SolverState:
    """Base of the per-run state dataclasses of the solvers.

    Attributes
    ----------
    rng : numpy.random.Generator or None
        The run's random generator (randomized methods draw from it).
    """

    rng: object = None


@dataclass
class Step:
    """Outcome of one iteration.

    Attributes
    ----------
    evaluation : Evaluation
        The problem at the new iterate (the current one when the step was
        rejected or the iteration failed).
    step_size : float
        Length of the step ‖R_x⁻¹(x_new)‖ or its stand-in t‖d‖; 0 when rejected.
    accepted : bool, default True
        False for a step the method tried and declined (a trust-region step
        with poor agreement): the iterate stays and no step criterion fires.
    status : str or None
        Set when the iteration could not go on ("line_search_failed",
        "precision_limit", "nonfinite"); ``evaluation`` is then the current one.
    predicted_decrease : float or None
        The first-order decrease the step was taken for, −t·φ'(0); the loop
        stops with "precision_limit" when it stays below the rounding level of
        the cost for several steps in a row. None where it does not apply.
    extra : dict
        Method-specific values (ignored by the loop).
    """

    evaluation: Evaluation
    step_size: float
    accepted: bool = True
    status: str | None = None
    predicted_decrease: float | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def failed(cls, current, status):
        """The iteration could not make progress; the iterate stays ``current``."""
        return cls(current, 0.0, accepted=False, status=status)

    @classmethod
    def from_search(cls, current, search, direction_norm, slope):
        """The step of a line search (a failure becomes the matching status)."""
        if search.status is not None:
            status = "precision_limit" if search.at_precision_limit else search.status
            return cls.failed(current, status)
        return cls(search.evaluation, search.step * direction_norm,
                   predicted_decrease=-search.step * slope)


class Solver:
    """Base class of the solvers.

    Parameters
    ----------
    stopping : StoppingCriterion, optional
        When to stop, e.g. ``MaxIterations(500) | GradientNorm(1e-8)``. Default:
        the criterion built from the keyword options below. Give either
        ``stopping`` or those options, not both.
    max_iterations : int, default: the method's own budget (1000 for gradient methods)
    max_time : float, default inf
        Seconds of wall time.
    max_evaluations : int, optional
        Cost evaluations.
    gradient_tolerance : float, default 1e-6
        Stop when ‖grad f(x)‖ ≤ gradient_tolerance.
    relative_gradient_tolerance : float, default 0
        Stop when ‖grad f(x)‖ ≤ relative_gradient_tolerance · ‖grad f(x₀)‖.
    step_tolerance : float, default 1e-12
        Stop when an accepted step is shorter than this, or than eps of x's
        dtype (a shorter step does not change x in that precision).
    cost_tolerance : float, default 0
        Stop when |f_k − f_{k−1}| ≤ cost_tolerance · max(1, |f_k|).
    verbose : bool, default False
        Show a tqdm progress bar with the cost and gradient norm.
    manifold : Manifold, optional
        The manifold of :meth:`step` (stochastic updates). :meth:`run` always
        uses ``problem.manifold``. Default: inferred from the first point
        passed to :meth:`step`.
    blas_threads : int, "auto" or None, default "auto"
        Limit BLAS to this many threads during :meth:`run` (threadpoolctl, as
        scikit-learn does inside its estimators; SciPy's BLAS is loaded first
        so that it is limited too). "auto": one thread when x has at most
        250 000 entries (every size we measured there, up to 500×500, ran
        3–14× slower on two threads than on one, on a 2-core machine:
        ``benchmarks/solver_threads.py``), otherwise BLAS as it is. None:
        leave BLAS as it is.

    Notes
    -----
    Besides the criterion, the loop stops by itself on a non-finite cost or
    gradient ("nonfinite", returning the last finite iterate), a callback
    that returns True ("callback"), Ctrl-C ("interrupted"), a failed line
    search ("line_search_failed"), and when the cost can no longer resolve
    the decrease the steps aim for ("precision_limit", a convergence: the
    point is stationary to working precision).
    """

    #: the iteration budget when ``max_iterations`` is not given
    default_max_iterations = 1000

    def __init__(self, stopping=None, *, max_iterations=None, max_time=None,
                 max_evaluations=None, gradient_tolerance=None, relative_gradient_tolerance=None,
                 step_tolerance=None, cost_tolerance=None, verbose=False, manifold=None,
                 blas_threads="auto"):
        options = {name: value for name, value in (
            ("max_iterations", max_iterations), ("max_time", max_time),
            ("max_evaluations", max_evaluations), ("gradient_tolerance", gradient_tolerance),
            ("relative_gradient_tolerance", relative_gradient_tolerance),
            ("step_tolerance", step_tolerance), ("cost_tolerance", cost_tolerance))
            if value is not None}
        if stopping is not None:
            if not isinstance(stopping, StoppingCriterion):
                raise TypeError(
                    f"stopping must be a stopping criterion such as MaxIterations(500) | "
                    f"GradientNorm(1e-8) (from orthopt.optim), got {type(stopping).__name__}"
                )
            if options:
                raise TypeError(
                    f"pass either stopping=... or the options {', '.join(sorted(options))}, "
                    f"not both (add them to the criterion, e.g. stopping | MaxIterations(500))"
                )
        if manifold is not None and not isinstance(manifold, Manifold):
            raise TypeError(
                f"manifold must be an orthopt manifold (Stiefel, SpecialOrthogonal, "
                f"Unitary), got {type(manifold).__name__}"
            )
        if blas_threads not in (None, "auto") and (isinstance(blas_threads, bool) or not isinstance(
                blas_threads, (int, np.integer)) or blas_threads < 1):
            raise ValueError(f"blas_threads must be a positive integer, 'auto' or None, "
                             f"got {blas_threads!r}")
        self._stopping = stopping
        self._options = options
        # built now so that bad options fail at construction
        self.stopping = stopping if stopping is not None else self._criterion_from_options()
        self.manifold = manifold
        self._inferred_manifold = None
        self.verbose = bool(verbose)
        self.blas_threads = blas_threads if blas_threads in (None, "auto") else int(blas_threads)

    def _criterion_from_options(self, manifold=None):
        options = dict(self._options)
        options.setdefault("max_iterations", self._budget(manifold))
        return criterion_from_options(**options)

    def _budget(self, manifold):
        """The default iteration budget (coordinate and rank-k methods count in sweeps)."""
        return self.default_max_iterations

    @property
    def max_iterations(self):
        """The iteration budget of the keyword options (None when ``stopping`` was given)."""
        return None if self._stopping is not None else self._options.get(
            "max_iterations", self.default_max_iterations)

    # -- hooks -----------------------------------------------------------------

    def _start(self, problem, current, rng):
        return SolverState(rng=rng)

    def _iterate(self, problem, current, state):  # pragma: no cover - abstract
        raise NotImplementedError

    def _init_state(self, manifold, x, rng):
        return SolverState(rng=rng)

    def _step(self, manifold, x, euclidean_gradient, state):
        """One stochastic update; see :meth:`step`. Subclasses override this."""
        raise NotImplementedError(
            f"{type(self).__name__} has no stochastic step; use RiemannianSGD, "
            f"RiemannianRMSprop or RiemannianGradientDescent(step_size=Fixed(lr))"
        )

    # -- stochastic interface ----------------------------------------------------

    def init_state(self, x, rng=None):
        """The state of :meth:`step` before the first update.

        Parameters
        ----------
        x : array, shape (n, p)
            The starting point (fixes the manifold when none was given).
        rng : None, int or numpy.random.Generator
            Seed of randomized updates (sketches, random coordinates).

        Returns
        -------
        SolverState
            A dataclass; pass it to :meth:`step`.
        """
        return self._init_state(self._step_manifold(x), x, default_rng(rng))

    def step(self, x, euclidean_gradient, state=None):
        """One update from a (minibatch) Euclidean gradient, for training loops.

        Parameters
        ----------
        x : array, shape (n, p)
            The current point, on the manifold.
        euclidean_gradient : array, shape (n, p)
            ∇f(x) in the ambient space (for complex x: ∂f/∂Re x + i ∂f/∂Im x),
            e.g. from backpropagation on a minibatch. Not modified.
        state : SolverState or None
            From :meth:`init_state` (or the previous call); None starts one
            with fresh OS entropy.

        Returns
        -------
        x_new : array, shape (n, p)
            The updated point, on the manifold, same dtype and device as x.
        state : SolverState
            Pass it to the next call.

        Examples
        --------
        >>> import numpy as np
        >>> from orthopt.optim import RiemannianSGD
        >>> A = np.diag(np.arange(1.0, 6.0))
        >>> solver = RiemannianSGD(lr=0.1)
        >>> x = np.linalg.qr(np.ones((5, 2)) + np.eye(5, 2))[0]
        >>> state = solver.init_state(x, rng=0)
        >>> for _ in range(200):
        ...     x, state = solver.step(x, -2 * A @ x, state)   # max tr(xᵀAx)
        >>> round(float(np.trace(x.T @ A @ x)), 6)
        9.0
        """
        manifold = self._step_manifold(x)
        x = as_point(manifold, x)
        euclidean_gradient = check_like(euclidean_gradient, x, "euclidean_gradient")
        if state is None:
            state = self._init_state(manifold, x, default_rng(None))
        return self._step(manifold, x, euclidean_gradient, state)

    def _step_manifold(self, x):
        """The manifold of :meth:`step`: the constructor's, or inferred once from x."""
        if self.manifold is not None:
            return self.manifold
        cached = self._inferred_manifold
        shape = (tuple(getattr(a, "shape", ())[-2:] for a in x) if is_product_point(x)
                 else tuple(x.shape[-2:]))
        if cached is None or cached.point_shape != shape:
            from .minimize import infer_manifold

            cached = self._inferred_manifold = infer_manifold(x)
        return cached

    # -- the loop ----------------------------------------------------------------

    def run(self, problem, x0=None, callback=None, rng=None):
        """Minimize ``problem`` from ``x0``.

        Parameters
        ----------
        problem : Problem
        x0 : array, shape (n, p), optional
            Starting point on ``problem.manifold`` (checked with ``check_point``);
            a Haar-random point (seeded by ``rng``) when omitted.
        callback : callable, optional
            ``callback(intermediate_result)`` after every iteration, with an
            :class:`OptimizeResult` holding ``x``, ``fun``, ``grad_norm``, ``nit``.
            Returning True (or raising StopIteration) stops the run with status
            "callback".
        rng : None, int or numpy.random.Generator
            Seed for the random start and randomized methods.

        Returns
        -------
        OptimizeResult
            With ``stopping``, the criterion that fired (None when the loop
            stopped by itself, see the class notes).
        """
        if not isinstance(problem, Problem):
            raise TypeError(f"run needs an orthopt Problem, got {type(problem).__name__}; "
                            f"build one with Problem(manifold, cost)")
        manifold = problem.manifold
        rng = default_rng(rng)
        run = self._run
        if problem.batch_shape:  # k independent problems: per-problem steps and stopping
            from .batched import check_batch_start, run_batched

            x0 = check_batch_start(problem, x0, rng)
            run = lambda *arguments: run_batched(self, *arguments)  # noqa: E731
        elif x0 is None:
            x0 = manifold.random_point(rng=rng)
        x0 = as_point(manifold, x0, "x0")  # a list or tuple for a Product: a ProductVector
        manifold.check_point(x0)
        with blas_threads(self._threads_for(x0)):
            return run(problem, x0, callback, rng)

    def _threads_for(self, x0):
        """The BLAS thread limit of a run from x0 (see ``blas_threads``)."""
        if self.blas_threads != "auto":
            return self.blas_threads
        size = sum(math.prod(part.shape) for part in leaves(x0))  # every factor, nested too
        return 1 if size <= AUTO_SINGLE_THREAD_ENTRIES else None

    def _run(self, problem, x0, callback, rng):
        manifold = problem.manifold
        stopping = self._stopping if self._stopping is not None else \
            self._criterion_from_options(manifold)
        counters0 = (problem.n_cost_evaluations, problem.n_gradient_evaluations,
                     problem.n_hessian_evaluations)
        start_time = time.perf_counter()
        eps = point_eps(x0)  # of the least precise factor of a product
        guard = FeasibilityGuard(manifold, x0, rng)

        current = problem.at(x0)
        current.evaluate_gradient()
        cost, grad_norm = current.cost, current.grad_norm
        records = [(cost, grad_norm, 0.0, time.perf_counter() - start_time)]
        progress = Progress(iteration=0, cost=cost, grad_norm=grad_norm,
                            initial_grad_norm=grad_norm, step_floor=eps, costs=[cost],
                            n_evaluations=problem.n_cost_evaluations - counters0[0])
        status, fired, state = None, None, None
        small_steps, floor_grad_norm = 0, math.inf
        if not (math.isfinite(cost) and math.isfinite(grad_norm)):
            status = "nonfinite"
        else:
            state = self._start(problem, current, rng)

        bar = _progress_bar(_iteration_limit(stopping)) if self.verbose else None
        if bar is not None:
            bar.set_postfix(cost=f"{cost:.6e}", grad=f"{grad_norm:.2e}")
        try:
            while status is None:
                progress.time = time.perf_counter() - start_time
                progress.n_evaluations = problem.n_cost_evaluations - counters0[0]
                fired = stopping.check(progress)
                if fired is not None:
                    status = fired.status
                    break
                try:
                    step = self._iterate(problem, current, state)
                except KeyboardInterrupt:
                    status = "interrupted"
                    break
                if step.status is not None:
                    status = step.status
                    if status == "precision_limit" and not _gradient_fell(progress, eps):
                        # a flat cost along a direction that was never a good one (a wrong
                        # gradient, a search that only ever took rounding-level steps)
                        status = "line_search_failed"
                    break
                progress.iteration += 1
                if not step.accepted:
                    progress.step_size = None
                    records.append((cost, grad_norm, 0.0, time.perf_counter() - start_time))
                    continue
                new = step.evaluation
                x_new = guard.restore(new.x)
                if x_new is not new.x:
                    new = problem.at(x_new)
                if not new.is_finite() or not math.isfinite(new.grad_norm):
                    status = "nonfinite"
                    break
                current = new
                cost, grad_norm = current.cost, current.grad_norm
                progress.cost, progress.grad_norm = cost, grad_norm
                progress.step_size = float(step.step_size)
                progress.costs.append(cost)
                records.append((cost, grad_norm, float(step.step_size),
                                time.perf_counter() - start_time))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(cost=f"{cost:.6e}", grad=f"{grad_norm:.2e}", refresh=False)
                if callback is not None and _callback_stops(callback, current.x, cost, grad_norm,
                                                            progress.iteration):
                    status = "callback"
                    break
                if step.predicted_decrease is not None and \
                        step.predicted_decrease <= rounding_level(cost, eps, 1.0):
                    if small_steps == 0:
                        floor_grad_norm = grad_norm
                    small_steps += 1
                    if grad_norm <= 0.5 * floor_grad_norm:
                        small_steps = 0  # the gradient still falls: progress
                    elif small_steps >= PRECISION_LIMIT_STEPS and _gradient_fell(progress, eps):
                        # the decrease the steps aim for is below what the cost resolves
                        status = "precision_limit"
                        break
                else:
                    small_steps = 0
        except KeyboardInterrupt:
            status = "interrupted"
        finally:
            if bar is not None:
                # the last line stays on screen with the final cost and gradient norm
                bar.set_postfix(cost=f"{cost:.6e}", grad=f"{grad_norm:.2e}",
                                status=status, refresh=True)
                bar.close()

        x = current.x
        if status != "nonfinite":
            restored = guard.restore_exactly(x)
            if restored is not x:
                current = problem.at(restored)
                x, cost = restored, current.cost
                grad_norm = current.grad_norm
            if _off_manifold(manifold, x):
                # never report success on a point off the manifold
                status, fired = "infeasible", None
        progress.time = time.perf_counter() - start_time
        if fired is not None and status == fired.status:
            message, success = fired.reason(progress), fired.converged
        else:
            fired = None
            message, success = _message(status, x), status in SUCCESS_STATUSES
        return OptimizeResult(
            x=x,
            fun=cost,
            grad_norm=grad_norm,
            nit=progress.iteration,
            nfev=problem.n_cost_evaluations - counters0[0],
            ngev=problem.n_gradient_evaluations - counters0[1],
            nhev=problem.n_hessian_evaluations - counters0[2],
            time=time.perf_counter() - start_time,
            status=status,
            message=message,
            success=success,
            stopping=fired,
            history=make_history(records),
        )


def _off_manifold(manifold, x):
    """Whether x fails its manifold's feasibility tolerance (each factor its own, for a product)."""
    if isinstance(manifold, Product):
        return any(_off_manifold(m, a) for m, a in zip(manifold.manifolds, x))
    return manifold.feasibility(x) > manifold.default_atol(x.dtype, get_namespace(x))


def _gradient_fell(progress, eps):
    """‖grad f‖ ≤ eps^{1/3}·‖grad f(x₀)‖: a precision limit is only claimed after real progress."""
    return progress.grad_norm <= eps ** (1.0 / 3.0) * progress.initial_grad_norm


def _iteration_limit(criterion):
    """The MaxIterations budget inside a criterion (for the progress bar), or None."""
    from .stopping import AnyOf, MaxIterations

    if isinstance(criterion, MaxIterations):
        return criterion.n
    if isinstance(criterion, AnyOf):
        limits = [c.n for c in criterion.criteria if isinstance(c, MaxIterations)]
        return min(limits) if limits else None
    return None


def _callback_stops(callback, x, cost, grad_norm, nit):
    intermediate = OptimizeResult(x=x, fun=cost, grad_norm=grad_norm, nit=nit)
    try:
        return bool(callback(intermediate))
    except StopIteration:
        return True


def _progress_bar(total):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="orthopt", unit="it")


def _message(status, x):
    """The status message, with advice where the status has a usual cause."""
    message = STATUS_MESSAGES[status]
    if status == "line_search_failed":
        eps, dtype = point_eps(x), point_dtype(x)
        message += (f". Near a minimizer this is the precision limit: {dtype} resolves "
                    f"relative cost changes of about {10 * eps:.0e}; loosen gradient_tolerance "
                    f"or relative_gradient_tolerance"
                    + (", or solve in float64" if eps > 1e-10 else "")
                    + ". Far from one, check the gradient with orthopt.check_gradient")
    return message
