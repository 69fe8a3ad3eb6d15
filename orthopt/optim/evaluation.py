r"""A problem evaluated at one point: what a solver asks about x, computed once.

``problem.at(x)`` (:meth:`orthopt.optim.problem.Problem.at`) returns an
:class:`Evaluation`: f(x), ∇f(x), the Riemannian gradient and its norm,
Hessian-vector products through a per-point operator (for autograd, one
trace of the gradient serves them all), and the coordinates of T_x in which
inner solvers work (:mod:`orthopt.optim.tangent_coordinates`).
"""

from __future__ import annotations

import math

from ..backend import to_float
from ..manifolds.points import check_like

__all__ = ["Evaluation"]


class Evaluation:
    r"""A problem evaluated at one point: everything a solver asks about x, once.

    ``problem.at(x)`` returns it; each quantity is computed the first time it
    is asked for and kept::

        e = problem.at(x)
        e.cost               # f(x), a Python float
        e.gradient           # grad f(x) = P_x(∇f(x)), tangent at x
        e.grad_norm          # ‖grad f(x)‖
        e.hess(v)            # Hess f(x)[v], reusing ∇f(x)

    The Riemannian Hessian is ∇²f(x)[v] projected, plus the manifold's
    Weingarten term built from the Euclidean gradient (Absil, Mahony &
    Trumpf 2013): for the embedded metric on St(n, p),
    Hess f(x)[v] = P_x(∇²f(x)[v] − v·herm(xᴴ∇f(x))). See
    :meth:`orthopt.manifolds.Manifold.euclidean_to_riemannian_hessian`.

    Parameters
    ----------
    problem : Problem
    x : array, shape (n, p)
        A point of ``problem.manifold``.
    cost : float, optional
        f(x) when the caller already has it (a line search that evaluated it).
    euclidean_gradient : array, optional
        ∇f(x) when already known.

    Attributes
    ----------
    x : array
    has_cost, has_gradient : bool
        Whether f(x) and ∇f(x) were computed (or given) already.
    """

    __slots__ = ("problem", "x", "_cost", "_egrad", "_grad", "_grad_norm", "_hessian_operator",
                 "_coordinates", "_grad_coordinates")

    def __init__(self, problem, x, cost=None, euclidean_gradient=None):
        self.problem = problem
        self.x = x
        self._cost = None if cost is None else to_float(cost)
        self._egrad = euclidean_gradient
        self._grad = None
        self._grad_norm = None
        self._hessian_operator = None
        self._coordinates = None
        self._grad_coordinates = None

    @property
    def has_cost(self):
        return self._cost is not None

    @property
    def has_gradient(self):
        return self._egrad is not None

    @property
    def cost(self):
        """f(x) as a Python float (one host sync)."""
        if self._cost is None:
            if self.problem._cost is None:  # only cost_and_gradient: take both
                self.evaluate_gradient()
            else:
                self._cost = to_float(self.problem.cost(self.x))
        return self._cost

    def evaluate_gradient(self):
        """Compute f(x) and ∇f(x) together (one call of a combined cost-and-gradient)."""
        if self._egrad is None:
            if self._cost is not None and self.problem._euclidean_gradient is not None:
                self._egrad = self.problem.euclidean_gradient(self.x)  # the cost is known
            else:
                f, g = self.problem.cost_and_euclidean_gradient(self.x)
                if self._cost is None:
                    self._cost = to_float(f)
                self._egrad = g
        return self

    @property
    def euclidean_gradient(self):
        """∇f(x), shape of x."""
        return self.evaluate_gradient()._egrad

    @property
    def gradient(self):
        """grad f(x) = P_x(∇f(x)), the Riemannian gradient."""
        if self._grad is None:
            # the manifold's conversion; on O(n), SO(n), U(n) it also leaves the
            # Lie-algebra coordinates of the gradient, which inner solvers use
            self._grad, self._grad_coordinates = self.coordinates.gradient(
                self.euclidean_gradient)
        return self._grad

    @property
    def gradient_coordinates(self):
        """grad f(x) in :attr:`coordinates` (computed with the gradient where free)."""
        if self._grad_coordinates is None:
            self._grad_coordinates = self.coordinates.from_tangent(self.gradient)
        return self._grad_coordinates

    @property
    def grad_norm(self):
        """‖grad f(x)‖ as a Python float."""
        if self._grad_norm is None:
            from .solver import inner_float

            grad = self.gradient
            self._grad_norm = math.sqrt(max(inner_float(self.problem.manifold, self.x, grad,
                                                        grad), 0.0))
        return self._grad_norm

    def hess(self, v):
        """Hess f(x)[v], tangent at x; counts one Hessian evaluation.

        Parameters
        ----------
        v : array, shape of x
            A tangent vector at x.
        """
        v = check_like(v, self.x, "the tangent vector")
        h = self._euclidean_hessian(v)
        return self.problem.manifold.euclidean_to_riemannian_hessian(
            self.x, self.euclidean_gradient, h, v)

    def prepare_hessian(self):
        """Compute ∇f(x) together with the Hessian operator where that is cheaper.

        For autograd costs one trace of the gradient gives both (see
        :meth:`Problem.euclidean_gradient_and_hessian_operator`); otherwise
        nothing happens here and each is computed when first asked for. Only
        once f(x) is known (else :meth:`evaluate_gradient` takes f and ∇f in
        one pass). Returns self.
        """
        if self._egrad is None and self._hessian_operator is None and self._cost is not None:
            both = self.problem.euclidean_gradient_and_hessian_operator(self.x)
            if both is not None:
                self._egrad, self._hessian_operator = both
        return self

    @property
    def coordinates(self):
        """Coordinates of T_x for an inner solver (:mod:`orthopt.optim.tangent_coordinates`)."""
        if self._coordinates is None:
            from .tangent_coordinates import tangent_coordinates

            self._coordinates = tangent_coordinates(self.problem.manifold, self.x)
        return self._coordinates

    def hess_coordinates(self, c):
        """Hess f(x)[v] in :attr:`coordinates`, for v with coordinates c; one Hessian evaluation.

        On O(n), SO(n) and U(n) this is Hess f(x)[xΩ] in the Lie algebra:
        three n×n×n products next to the user's ∇²f, where :meth:`hess`
        needs six.
        """
        coordinates = self.coordinates
        v = coordinates.to_tangent(c)
        return coordinates.hessian(self.euclidean_gradient, self._euclidean_hessian(v), c, v)

    def _euclidean_hessian(self, v):
        """∇²f(x)[v] through the problem's per-point operator (built on first use)."""
        if self._hessian_operator is None:
            self._hessian_operator = self.problem.euclidean_hessian_operator(self.x)
        return self._hessian_operator(v)

    def is_finite(self):
        """Whether f(x) and, when computed, ‖grad f(x)‖ are finite."""
        if not math.isfinite(self.cost):
            return False
        return self._egrad is None or math.isfinite(self.grad_norm)
