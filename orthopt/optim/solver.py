"""The iteration loop every deterministic solver shares.

A solver subclass implements two hooks:

``_start(problem, x, cost, grad)`` → state
    Anything the method carries between iterations (previous step, memory).
``_iterate(problem, x, cost, grad, state)`` → :class:`Step`
    One iteration: the new point, its cost and Riemannian gradient, and the
    length of the step taken.

The loop around them (in :meth:`Solver.run`) validates the start point,
applies the stopping rules, records the history, calls the user's callback,
shows a progress bar, and guarantees that whatever happens — a non-finite
cost, a failed line search, Ctrl-C — the result holds the last good iterate
and a status that says why the run stopped.

Stochastic steps (training loops)
---------------------------------
Every solver also offers :meth:`Solver.step`, one update from a Euclidean
gradient the caller computed (typically on a minibatch)::

    solver = RiemannianGradientDescent(step="fixed", step_size=1e-2)
    state = None
    for batch in batches:
        g = euclidean_gradient(w, batch)          # ∂loss/∂w, shape of w
        w, state = solver.step(w, g, state)       # stays on the manifold

A subclass implements one hook, ``_step(manifold, x, euclidean_gradient,
state) -> (x_new, state)``, where ``state`` is a dict that starts empty
(``{}``) on the first call and is handed back unchanged in structure on the
next (momentum buffers, running averages, step counters). The manifold is
the one given to the constructor (``manifold=``) or, when None, inferred
once from the first x by :func:`orthopt.optim.minimize.infer_manifold` and
cached (inference computes a determinant for square matrices, which a
training loop should not pay every step).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..backend import finfo_eps, get_namespace, to_float
from ..manifolds.base import Manifold
from .result import STATUS_MESSAGES, SUCCESS_STATUSES, OptimizeResult, make_history

__all__ = ["Solver", "Step", "inner_float"]

_EMBEDDED_INNER_PRODUCT = Manifold.inner_product


def inner_float(manifold, x, u, v):
    """⟨u, v⟩_x as a Python float: the scalar every line search and β rule needs.

    For NumPy arrays on a manifold with the embedded metric Re tr(uᴴv) this is
    one BLAS dot product (``numpy.vdot`` flattens and conjugates its first
    argument), which skips the namespace dispatch of
    :meth:`Manifold.inner_product` — solvers call it about ten times per
    iteration, and on problems of a few thousand unknowns that dispatch costs
    as much as the arithmetic. Other arrays and metrics go through the
    manifold (and one host sync).
    """
    if (type(u) is np.ndarray and type(v) is np.ndarray
            and type(manifold).inner_product is _EMBEDDED_INNER_PRODUCT):
        return float(np.vdot(u, v).real)
    return to_float(manifold.inner_product(x, u, v))


@dataclass
class Step:
    """Outcome of one iteration.

    Attributes
    ----------
    x : array
        New iterate (ignored when ``status`` is set and no progress was made).
    cost : float
        Cost at ``x``.
    grad : array
        Riemannian gradient at ``x``.
    step_size : float
        Length of the step ‖R_x⁻¹(x_new)‖ or its stand-in α‖d‖.
    status : str or None
        Set when the iteration could not make progress ("line_search_failed",
        "nonfinite"); then ``x`` is the previous iterate.
    extra : dict
        Method-specific values (ignored by the loop).
    grad_norm : float or None
        ‖grad‖ at ``x`` when the solver already computed it (saves the loop
        one reduction and host sync per iteration); None: the loop computes it.
    """

    x: object
    cost: float
    grad: object
    step_size: float
    status: str | None = None
    extra: dict = field(default_factory=dict)
    grad_norm: float | None = None


class Solver:
    """Base class of the deterministic solvers.

    Parameters
    ----------
    max_iterations : int, default 1000
    max_time : float, default inf
        Seconds of wall time.
    gradient_tolerance : float, default 1e-6
        Stop when ‖grad f(x)‖ ≤ gradient_tolerance.
    relative_gradient_tolerance : float, default 0
        Stop when ‖grad f(x)‖ ≤ relative_gradient_tolerance · ‖grad f(x₀)‖.
    step_tolerance : float, default 1e-12
        Stop when the step length falls below this, or below eps of x's dtype
        (a shorter step does not change x in that precision).
    cost_tolerance : float, default 0
        Stop when |f_k − f_{k−1}| ≤ cost_tolerance · max(1, |f_k|).
    verbose : bool, default False
        Show a tqdm progress bar with the cost and gradient norm.
    manifold : Manifold, optional
        The manifold of :meth:`step` (stochastic updates). :meth:`run` always
        uses ``problem.manifold``. Default: inferred from the first point
        passed to :meth:`step`.
    """

    def __init__(self, max_iterations=1000, max_time=math.inf, gradient_tolerance=1e-6,
                 relative_gradient_tolerance=0.0, step_tolerance=1e-12, cost_tolerance=0.0,
                 verbose=False, manifold=None):
        if max_iterations < 0:
            raise ValueError(f"max_iterations must be ≥ 0, got {max_iterations}")
        if not max_time > 0:
            raise ValueError(f"max_time must be positive (seconds), got {max_time}")
        for name, value in (("gradient_tolerance", gradient_tolerance),
                            ("relative_gradient_tolerance", relative_gradient_tolerance),
                            ("step_tolerance", step_tolerance),
                            ("cost_tolerance", cost_tolerance)):
            if not value >= 0:
                raise ValueError(f"{name} must be ≥ 0, got {value}")
        if manifold is not None:
            if not isinstance(manifold, Manifold):
                raise TypeError(
                    f"manifold must be an orthopt manifold (Stiefel, SpecialOrthogonal, "
                    f"Unitary), got {type(manifold).__name__}"
                )
        self.manifold = manifold
        self._inferred_manifold = None
        self.max_iterations = int(max_iterations)
        self.max_time = float(max_time)
        self.gradient_tolerance = float(gradient_tolerance)
        self.relative_gradient_tolerance = float(relative_gradient_tolerance)
        self.step_tolerance = float(step_tolerance)
        self.cost_tolerance = float(cost_tolerance)
        self.verbose = bool(verbose)

    # -- hooks -----------------------------------------------------------------

    def _start(self, problem, x, cost, grad):
        return {}

    def _iterate(self, problem, x, cost, grad, state):  # pragma: no cover - abstract
        raise NotImplementedError

    def _step(self, manifold, x, euclidean_gradient, state):
        """One stochastic update; see :meth:`step`. Subclasses override this."""
        raise NotImplementedError(
            f"{type(self).__name__} has no stochastic step; use RiemannianSGD, "
            f"RiemannianRMSprop or RiemannianGradientDescent(step='fixed', step_size=...)"
        )

    # -- stochastic interface ----------------------------------------------------

    def step(self, x, euclidean_gradient, state=None):
        """One update from a (minibatch) Euclidean gradient, for training loops.

        Parameters
        ----------
        x : array, shape (n, p)
            The current point, on the manifold.
        euclidean_gradient : array, shape (n, p)
            ∇f(x) in the ambient space (for complex x: ∂f/∂Re x + i ∂f/∂Im x),
            e.g. from backpropagation on a minibatch. Not modified.
        state : dict or None
            None on the first call; afterwards the state this method returned.

        Returns
        -------
        x_new : array, shape (n, p)
            The updated point, on the manifold, same dtype and device as x.
        state : dict
            Pass it to the next call.

        Examples
        --------
        >>> import numpy as np
        >>> from orthopt.optim import RiemannianGradientDescent
        >>> A = np.diag(np.arange(1.0, 6.0))
        >>> solver = RiemannianGradientDescent(step="fixed", step_size=0.1)
        >>> x, state = np.linalg.qr(np.ones((5, 2)) + np.eye(5, 2))[0], None
        >>> for _ in range(200):
        ...     x, state = solver.step(x, -2 * A @ x, state)   # max tr(xᵀAx)
        >>> round(float(np.trace(x.T @ A @ x)), 6)
        9.0
        """
        if tuple(getattr(euclidean_gradient, "shape", ())) != tuple(getattr(x, "shape", ())):
            raise ValueError(
                f"euclidean_gradient has shape {tuple(getattr(euclidean_gradient, 'shape', ()))} "
                f"but x has shape {tuple(getattr(x, 'shape', ()))}; pass ∂f/∂x with the shape of x"
            )
        manifold = self._step_manifold(x)
        if state is None:
            state = {}
        return self._step(manifold, x, euclidean_gradient, state)

    def _step_manifold(self, x):
        """The manifold of :meth:`step`: the constructor's, or inferred once from x."""
        if self.manifold is not None:
            return self.manifold
        cached = self._inferred_manifold
        if cached is None or cached.point_shape != tuple(x.shape[-2:]):
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
        """
        manifold = problem.manifold
        self._rng = rng
        if x0 is None:
            x0 = manifold.random_point(rng=rng)
        manifold.check_point(x0)
        nfev0, ngev0 = problem.n_cost_evaluations, problem.n_gradient_evaluations
        start_time = time.perf_counter()

        x = x0
        cost, grad = problem.cost_and_riemannian_gradient(x)
        cost_f = to_float(cost)
        grad_norm = math.sqrt(inner_float(manifold, x, grad, grad))
        records = [(cost_f, grad_norm, 0.0, time.perf_counter() - start_time)]
        grad_norm0 = grad_norm
        # a step shorter than eps does not move x in its precision (float32: 1.2e-7);
        # without this floor a float32 run at its precision limit keeps "accepting"
        # such steps until max_iterations
        shortest_step = finfo_eps(get_namespace(x), x.dtype)
        nit = 0
        status = None
        if not (math.isfinite(cost_f) and math.isfinite(grad_norm)):
            status = "nonfinite"
        else:
            state = self._start(problem, x, cost, grad)

        bar = _progress_bar(self.max_iterations) if self.verbose else None
        if bar is not None:
            bar.set_postfix(cost=f"{cost_f:.6e}", grad=f"{grad_norm:.2e}")
        try:
            while status is None:
                status = self._check_stop(nit, grad_norm, grad_norm0, start_time)
                if status is not None:
                    break
                try:
                    step = self._iterate(problem, x, cost, grad, state)
                except KeyboardInterrupt:
                    status = "interrupted"
                    break
                if step.status is not None:
                    status = step.status
                    break
                new_cost = to_float(step.cost)
                new_grad_norm = (math.sqrt(inner_float(manifold, step.x, step.grad, step.grad))
                                 if step.grad_norm is None else float(step.grad_norm))
                if not (math.isfinite(new_cost) and math.isfinite(new_grad_norm)):
                    status = "nonfinite"
                    break
                nit += 1
                cost_change = abs(new_cost - cost_f)
                x, cost, grad = step.x, step.cost, step.grad
                cost_f, grad_norm = new_cost, new_grad_norm
                records.append((cost_f, grad_norm, float(step.step_size),
                                time.perf_counter() - start_time))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(cost=f"{cost_f:.6e}", grad=f"{grad_norm:.2e}", refresh=False)
                if callback is not None and _callback_stops(callback, x, cost_f, grad_norm, nit):
                    status = "callback"
                    break
                if step.step_size <= self.step_tolerance or step.step_size < shortest_step:
                    status = "step_tolerance"
                elif self.cost_tolerance > 0 and cost_change <= self.cost_tolerance * max(1.0, abs(cost_f)):
                    status = "cost_tolerance"
        except KeyboardInterrupt:
            status = "interrupted"
        finally:
            if bar is not None:
                # the last line stays on screen with the final cost and gradient norm
                bar.set_postfix(cost=f"{cost_f:.6e}", grad=f"{grad_norm:.2e}",
                                status=status, refresh=True)
                bar.close()
        if status != "nonfinite" and manifold.feasibility(x) > manifold.default_atol(
                x.dtype, get_namespace(x)):
            # one Gram matrix per run: never report success on a point off the manifold
            status = "infeasible"

        return OptimizeResult(
            x=x,
            fun=cost_f,
            grad_norm=grad_norm,
            nit=nit,
            nfev=problem.n_cost_evaluations - nfev0,
            ngev=problem.n_gradient_evaluations - ngev0,
            time=time.perf_counter() - start_time,
            status=status,
            message=_message(status, x),
            success=status in SUCCESS_STATUSES,
            history=make_history(records),
        )

    def _check_stop(self, nit, grad_norm, grad_norm0, start_time):
        if grad_norm <= self.gradient_tolerance:
            return "gradient_tolerance"
        if grad_norm <= self.relative_gradient_tolerance * grad_norm0:
            return "gradient_tolerance"
        if nit >= self.max_iterations:
            return "max_iterations"
        if time.perf_counter() - start_time >= self.max_time:
            return "max_time"
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
        eps = finfo_eps(get_namespace(x), x.dtype)
        message += (f". Near a minimizer this is the precision limit: {x.dtype} resolves "
                    f"relative cost changes of about {10 * eps:.0e}; loosen gradient_tolerance "
                    f"or relative_gradient_tolerance"
                    + (", or solve in float64" if eps > 1e-10 else "")
                    + ". Far from one, check the gradient with orthopt.check_gradient")
    return message
