r"""Stochastic Riemannian steppers for training loops.

In training, the gradient comes from a minibatch and there is no cost to
line-search on; a stepper maps (x, ∇f_batch(x), state) to (x_new, state):

    x, state = stepper.step(x, euclidean_gradient, state)

:class:`RiemannianSGD`
    Heavy-ball momentum in the tangent space (Bonnabel 2013; as in geoopt):

        m ← β m + grad f(x),    x_new = R_x(−η m),    m ← P_{x_new}(m),

    grad f(x) = P_x(∇f(x)) the Riemannian gradient and P_y the tangent
    projection at y, which transports the momentum to the new point.

:class:`RiemannianRMSprop`
    The update the orthogonal / unitary RNN papers train with (Wisdom et al.
    2016; Kiani et al. 2022): precondition the *Euclidean* gradient
    elementwise as RMSprop does, then project onto the tangent space and
    retract:

        v ← α v + (1 − α)|∇f|²,   d = ∇f / (√v + ε),   x_new = R_x(−η P_x(d)).

    The preconditioner is diagonal in the ambient coordinates, not a
    Riemannian object; projecting afterwards keeps the step tangent, so x
    stays on the manifold exactly (up to the retraction's rounding). Caveat:
    P_x(D∇f) need not be a descent direction. When ∇f has a large normal
    component x·herm(xᴴ∇f) (Brockett-type costs, where it does not vanish
    even at the optimum), the elementwise scaling D mixes it into the tangent
    space and the steps can go uphill. ``precondition="riemannian"`` scales
    the Riemannian gradient instead (second moments of grad f, the geoopt
    convention), d = P_x(grad f / (√v + ε)), which only rescales
    tangent directions and stays a descent method for small η.

The state is a dataclass of arrays and Python numbers (picklable; its
fields are the solver's memory: ``momentum`` or ``square_average``, the step
counter ``step`` and the run's ``rng``), so a checkpoint can store and restore
it, e.g. with :func:`dataclasses.asdict` and ``type(state)(**fields)``. Both
classes also run as deterministic solvers (``run``): fixed steps of length
``lr`` (:class:`~orthopt.optim.step_size.Fixed`) along the direction the
stepper computes from the full gradient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..backend import get_namespace, is_complex_dtype
from ..manifolds.product import ProductVector
from .solver import Solver, SolverState, Step, inner_float
from .step_size import Fixed, checked_lr

__all__ = ["RiemannianSGD", "RiemannianRMSprop", "SGDState", "RMSpropState"]


@dataclass
class SGDState(SolverState):
    """State of :class:`RiemannianSGD`: the momentum m (tangent at x, None before the
    first step or without momentum) and the number of steps taken."""

    momentum: object = None
    step: int = 0


@dataclass
class RMSpropState(SolverState):
    """State of :class:`RiemannianRMSprop`: the running mean v of squared gradients
    (shape of x, real dtype — on a product a tuple, one per factor; None before the
    first step) and the number of steps."""

    square_average: object = None
    step: int = 0


@dataclass
class _RunState(SolverState):
    """State of ``run``: the stepper's own state and the fixed step's memory."""

    stepper: SolverState = None
    step_memory: object = None


class _Stepper(Solver):
    """A fixed-step stepper; ``run`` feeds it the full gradient of a Problem.

    Subclasses implement ``_direction(manifold, x, euclidean_gradient, state) ->
    (d, state)``, the tangent direction of the step x_new = R_x(−lr·d), and
    ``_moved(manifold, x, x_new, d, state) -> state`` for what follows the point.
    """

    def __init__(self, lr, **options):
        super().__init__(**options)
        if lr is None:
            raise ValueError("lr must be a positive number, got None")
        self.lr = checked_lr(lr)
        self.step_rule = Fixed(self.lr)

    def _moved(self, manifold, x, x_new, direction, state):
        return state

    def _step(self, manifold, x, euclidean_gradient, state):
        direction, state = self._direction(manifold, x, euclidean_gradient, state)
        x_new = manifold.retraction(x, -self.lr * direction)
        return x_new, self._moved(manifold, x, x_new, direction, state)

    def _start(self, problem, current, rng):
        return _RunState(rng=rng, stepper=self._init_state(problem.manifold, current.x, rng),
                         step_memory=self.step_rule.start())

    def _iterate(self, problem, current, state):
        manifold = problem.manifold
        x = current.x
        direction, stepper = self._direction(manifold, x, current.euclidean_gradient,
                                             state.stepper)
        slope = -inner_float(manifold, x, current.gradient, direction)
        search = self.step_rule.search(problem, current, -direction, slope, state.step_memory)
        if search.status is not None:
            return Step.failed(current, search.status)
        evaluation = search.evaluation
        state.stepper = self._moved(manifold, x, evaluation.x, direction, stepper)
        norm = math.sqrt(max(inner_float(manifold, x, direction, direction), 0.0))
        # fixed steps aim for no particular decrease (momentum may even go uphill): the
        # loop's precision-limit test does not apply
        return Step(evaluation, self.lr * norm, predicted_decrease=None)


class RiemannianSGD(_Stepper):
    """Riemannian SGD with momentum transported by projection.

    Parameters
    ----------
    lr : float
        Learning rate η > 0.
    momentum : float, default 0
        β ∈ [0, 1).
    manifold : Manifold, optional
        Default: inferred from x (:func:`~orthopt.optim.minimize.infer_manifold`).
        Its retraction is used.
    **options
        Stopping rules of ``run``, ``verbose``, ``blas_threads``
        (:class:`~orthopt.optim.solver.Solver`).

    Examples
    --------
    >>> import numpy as np
    >>> from orthopt.manifolds import Stiefel
    >>> from orthopt.optim.stochastic import RiemannianSGD
    >>> A = np.diag(np.arange(1.0, 6.0)); M = Stiefel(5, 2)
    >>> x, state = M.random_point(rng=0), None
    >>> sgd = RiemannianSGD(lr=0.05, momentum=0.9, manifold=M)
    >>> for _ in range(300):
    ...     x, state = sgd.step(x, 2 * A @ x, state)   # minimize tr(xᵀAx)
    >>> round(float(np.trace(x.T @ A @ x)), 6)
    3.0
    """

    def __init__(self, lr, momentum=0.0, **options):
        super().__init__(lr, **options)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = float(momentum)

    def _init_state(self, manifold, x, rng):
        return SGDState(rng=rng)

    def _direction(self, manifold, x, euclidean_gradient, state):
        """d = β m + grad f(x) (grad f(x) without momentum)."""
        direction = manifold.euclidean_to_riemannian_gradient(x, euclidean_gradient)
        if self.momentum > 0 and state.momentum is not None:
            direction = self.momentum * state.momentum + direction
        return direction, replace(state, step=state.step + 1)

    def _moved(self, manifold, x, x_new, direction, state):
        """The momentum transported to x_new by projection."""
        if self.momentum > 0:
            state.momentum = manifold.transport(x, x_new, direction)
        return state


class RiemannianRMSprop(_Stepper):
    """RMSprop-preconditioned Euclidean gradient, projected and retracted.

    Parameters
    ----------
    lr : float
        Learning rate η > 0.
    alpha : float, default 0.99
        Decay of the running mean of squared gradients.
    eps : float, default 1e-8
        Added to √v (as in PyTorch's RMSprop).
    precondition : {"euclidean", "riemannian"}, default "euclidean"
        Which gradient the second moments track and the scaling divides:
        ∇f (the RNN papers' rule) or grad f = P_x(∇f) (see the module docstring).
    manifold : Manifold, optional
        Default: inferred from x.
    **options
        Stopping rules of ``run``, ``verbose``, ``blas_threads``.

    Notes
    -----
    The second moments use |g|² (the squared modulus for complex gradients),
    so v is real with x's real dtype.
    """

    def __init__(self, lr, alpha=0.99, eps=1e-8, precondition="euclidean", **options):
        super().__init__(lr, **options)
        if precondition not in ("euclidean", "riemannian"):
            raise ValueError(
                f"precondition must be 'euclidean' or 'riemannian', got {precondition!r}"
            )
        self.precondition = precondition
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"alpha must be in [0, 1), got {alpha}")
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps}")
        self.alpha = float(alpha)
        self.eps = float(eps)

    def _init_state(self, manifold, x, rng):
        return RMSpropState(rng=rng)

    def _direction(self, manifold, x, euclidean_gradient, state):
        """d = P_x(g / (√v + ε)) with v updated by g = ∇f (or grad f)."""
        g = euclidean_gradient
        if self.precondition == "riemannian":
            g = manifold.euclidean_to_riemannian_gradient(x, g)
        previous = state.square_average
        if previous is None:
            previous = _leafwise(lambda part: None, g)
        # entry by entry, so on a product factor by factor
        scaled, v = _unzip(_leafwise(self._scaled, g, previous))
        direction = manifold.projection(x, scaled)
        return direction, replace(state, square_average=v, step=state.step + 1)

    def _scaled(self, g, previous):
        """(g / (√v + ε), v) for one array g, v the updated running mean of |g|²."""
        xp = get_namespace(g)
        square = xp.real(xp.conj(g) * g) if is_complex_dtype(xp, g.dtype) else g * g
        if previous is None:
            previous = xp.zeros_like(square)
        v = self.alpha * previous + (1.0 - self.alpha) * square
        scale = 1.0 / (xp.sqrt(v) + self.eps)
        return g * xp.astype(scale, g.dtype), v


def _leafwise(function, tree, *others):
    """``function`` on every array of a point (and the matching parts of ``others``)."""
    if isinstance(tree, tuple):
        return tuple(_leafwise(function, *parts) for parts in zip(tree, *others))
    return function(tree, *others)


def _unzip(pairs):
    """A tree of (a, b) pairs as two trees (ProductVectors on a product)."""
    if isinstance(pairs, tuple) and len(pairs) == 2 and not isinstance(pairs[0], tuple):
        return pairs
    firsts, seconds = zip(*(_unzip(p) for p in pairs))
    return ProductVector(firsts), ProductVector(seconds)
