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

The state is a plain dict of arrays and Python numbers (picklable), so a
checkpoint can store and restore it. Both classes also run as deterministic
solvers (``run``: fixed-step descent with the full gradient).
"""

from __future__ import annotations

import math

from ..backend import get_namespace, is_complex_dtype
from .solver import Solver, Step

__all__ = ["RiemannianSGD", "RiemannianRMSprop"]


class _Stepper(Solver):
    """A fixed-step stepper; ``run`` feeds it the full gradient of a Problem."""

    def __init__(self, lr, manifold=None, **stopping):
        super().__init__(manifold=manifold, **stopping)
        if isinstance(lr, bool) or not (isinstance(lr, (int, float)) and lr > 0):
            raise ValueError(f"lr must be a positive number, got {lr!r}")
        self.lr = float(lr)

    def _start(self, problem, x, cost, grad):
        return {"stepper": {}, "egrad": problem.euclidean_gradient(x)}

    def _iterate(self, problem, x, cost, grad, state):
        x_new, state["stepper"] = self._step(problem.manifold, x, state["egrad"],
                                             state["stepper"])
        cost_new, egrad = problem.cost_and_euclidean_gradient(x_new)
        state["egrad"] = egrad
        grad_new = problem.manifold.euclidean_to_riemannian_gradient(x_new, egrad)
        return Step(x_new, cost_new, grad_new, self.lr * state["stepper"]["last_direction_norm"])


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
    **stopping
        Stopping rules of ``run`` (:class:`~orthopt.optim.solver.Solver`).

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

    def __init__(self, lr, momentum=0.0, manifold=None, **stopping):
        super().__init__(lr, manifold=manifold, **stopping)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = float(momentum)

    def _step(self, manifold, x, euclidean_gradient, state):
        """One step (called by ``step``); state = {"momentum", "step", ...}."""
        if "step" not in state:
            state = {"momentum": None, "step": 0}
        direction = manifold.euclidean_to_riemannian_gradient(x, euclidean_gradient)
        if self.momentum > 0:
            if state["momentum"] is not None:
                direction = self.momentum * state["momentum"] + direction
        x_new = manifold.retraction(x, -self.lr * direction)
        state = dict(state)
        if self.momentum > 0:
            state["momentum"] = manifold.transport(x, x_new, direction)
        state["step"] += 1
        state["last_direction_norm"] = float(manifold.norm(x, direction))
        return x_new, state


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
    **stopping
        Stopping rules of ``run``.

    Notes
    -----
    The second moments use |g|² (the squared modulus for complex gradients),
    so v is real with x's real dtype.
    """

    def __init__(self, lr, alpha=0.99, eps=1e-8, precondition="euclidean", manifold=None,
                 **stopping):
        super().__init__(lr, manifold=manifold, **stopping)
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

    def _step(self, manifold, x, euclidean_gradient, state):
        """One step (called by ``step``); state = {"square_average", "step", ...}."""
        xp = get_namespace(x, euclidean_gradient)
        g = euclidean_gradient
        if self.precondition == "riemannian":
            g = manifold.euclidean_to_riemannian_gradient(x, g)
        square = xp.real(xp.conj(g) * g) if is_complex_dtype(xp, g.dtype) else g * g
        if "step" not in state:
            state = {"square_average": xp.zeros_like(square), "step": 0}
        v = self.alpha * state["square_average"] + (1.0 - self.alpha) * square
        scale = 1.0 / (xp.sqrt(v) + self.eps)
        preconditioned = g * xp.astype(scale, g.dtype)
        direction = manifold.projection(x, preconditioned)
        x_new = manifold.retraction(x, -self.lr * direction)
        state = dict(state)
        state["square_average"] = v
        state["step"] += 1
        norm = float(manifold.norm(x, direction))
        state["last_direction_norm"] = norm if math.isfinite(norm) else math.inf
        return x_new, state
