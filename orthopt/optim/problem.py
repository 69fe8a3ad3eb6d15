r"""A cost function on a manifold, with its gradient.

The Euclidean gradient ∇f(x) is the gradient of a smooth extension of f to
the ambient space 𝔽^{n×p}. For complex x it is ∂f/∂Re x + i ∂f/∂Im x, so that
f(x + t d) = f(x) + t Re tr(∇f(x)ᴴ d) + O(t²). The Riemannian gradient is its
projection onto the tangent space (see :mod:`orthopt.manifolds.base`).

Without a gradient, NumPy costs are differentiated by autograd (write them
with ``import autograd.numpy as np``).
"""

from __future__ import annotations

import numbers

import numpy as np

from ..backend import get_namespace, is_complex_dtype, is_numpy
from ..manifolds.base import Manifold

__all__ = ["Problem"]


class Problem:
    """An optimization problem min_{x ∈ M} f(x).

    Parameters
    ----------
    manifold : Manifold
        Where x lives (Stiefel, SpecialOrthogonal, Unitary).
    cost : callable
        ``cost(x) -> real scalar`` for x of shape (n, p).
    euclidean_gradient : callable, optional
        ``euclidean_gradient(x) -> array (n, p)``, ∇f(x) in the ambient space.
    cost_and_gradient : callable, optional
        ``cost_and_gradient(x) -> (f, ∇f(x))``, when both share work.
    euclidean_hessian : callable, optional
        ``euclidean_hessian(x, v) -> ∇²f(x)[v]``, for second-order diagnostics.

    Notes
    -----
    With no gradient given and NumPy arrays, autograd differentiates ``cost``.
    For CuPy or any other array library a gradient must be given.
    Every evaluation is counted in ``n_cost_evaluations`` and
    ``n_gradient_evaluations``.

    Examples
    --------
    >>> import autograd.numpy as anp
    >>> from orthopt.manifolds import Stiefel
    >>> from orthopt.optim import Problem
    >>> A = anp.diag(anp.arange(1.0, 6.0))
    >>> problem = Problem(Stiefel(5, 2), lambda x: -anp.trace(x.T @ A @ x))
    """

    def __init__(self, manifold, cost, euclidean_gradient=None, cost_and_gradient=None,
                 euclidean_hessian=None):
        if not isinstance(manifold, Manifold):
            raise TypeError(
                f"manifold must be an orthopt manifold (Stiefel, SpecialOrthogonal, Unitary), "
                f"got {type(manifold).__name__}"
            )
        if not callable(cost) and cost_and_gradient is None:
            raise TypeError(f"cost must be callable, got {type(cost).__name__}")
        for name, fn in (("euclidean_gradient", euclidean_gradient),
                         ("cost_and_gradient", cost_and_gradient),
                         ("euclidean_hessian", euclidean_hessian)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
        self.manifold = manifold
        self._cost = cost
        self._euclidean_gradient = euclidean_gradient
        self._cost_and_gradient = cost_and_gradient
        self._euclidean_hessian = euclidean_hessian
        self._autograd = None
        self.n_cost_evaluations = 0
        self.n_gradient_evaluations = 0

    @property
    def has_gradient(self):
        """True when a gradient was given (autograd is not needed)."""
        return self._euclidean_gradient is not None or self._cost_and_gradient is not None

    # -- evaluation ------------------------------------------------------------

    def cost(self, x):
        """f(x) as a real scalar (0-d array or Python float)."""
        self.n_cost_evaluations += 1
        if self._cost is None:
            self.n_gradient_evaluations += 1
            f, _ = self._cost_and_gradient(x)
        else:
            f = self._cost(x)
        return _check_scalar(f, "cost")

    def euclidean_gradient(self, x):
        """∇f(x), shape (n, p), dtype of x."""
        return self.cost_and_euclidean_gradient(x)[1]

    def cost_and_euclidean_gradient(self, x):
        """(f(x), ∇f(x)) with one evaluation where possible."""
        self.n_cost_evaluations += 1
        self.n_gradient_evaluations += 1
        if self._cost_and_gradient is not None:
            f, g = self._cost_and_gradient(x)
        elif self._euclidean_gradient is not None:
            f, g = self._cost(x), self._euclidean_gradient(x)
        else:
            f, g = self._autograd_value_and_grad(x)
        f = _check_scalar(f, "cost")
        _check_gradient_shape(g, x)
        return f, g

    def riemannian_gradient(self, x):
        """grad f(x) = P_x(∇f(x)), tangent at x."""
        return self.cost_and_riemannian_gradient(x)[1]

    def cost_and_riemannian_gradient(self, x):
        """(f(x), grad f(x))."""
        f, g = self.cost_and_euclidean_gradient(x)
        return f, self.manifold.euclidean_to_riemannian_gradient(x, g)

    def riemannian_hessian(self, x, v):
        """Hess f(x)[v]; needs ``euclidean_hessian``."""
        if self._euclidean_hessian is None:
            raise NotImplementedError("pass euclidean_hessian=... to Problem to use the Hessian")
        g = self.euclidean_gradient(x)
        h = self._euclidean_hessian(x, v)
        return self.manifold.euclidean_to_riemannian_hessian(x, g, h, v)

    # -- automatic differentiation -------------------------------------------------

    def _autograd_value_and_grad(self, x):
        xp = get_namespace(x)
        if not is_numpy(xp):
            raise TypeError(
                f"Problem has no gradient and x is a {xp.__name__} array: autograd only "
                f"differentiates NumPy code. Pass euclidean_gradient=... or "
                f"cost_and_gradient=... to Problem (or minimize(..., jac=...))"
            )
        if self._autograd is None:
            import autograd

            self._autograd = autograd.value_and_grad(self._cost)
        try:
            f, g = self._autograd(x)
        except (TypeError, ValueError, AttributeError) as exc:
            if "ArrayBox" in str(exc) or "ArrayVSpace" in str(exc):
                raise TypeError(
                    "autograd could not differentiate the cost: write it with "
                    "`import autograd.numpy as np` (not plain numpy) or pass "
                    f"euclidean_gradient=...; autograd said: {exc}"
                ) from exc
            raise
        g = np.asarray(g)
        if np.iscomplexobj(g):
            # autograd returns ∂f/∂Re − i ∂f/∂Im; orthopt uses ∂f/∂Re + i ∂f/∂Im
            g = np.conj(g)
        return f, g.astype(x.dtype, copy=False)


def _check_scalar(f, what):
    """Reject non-scalar or complex costs with an error that says how to fix them."""
    if isinstance(f, numbers.Number):
        if isinstance(f, complex):
            raise ValueError(f"{what} returned a complex number {f}; return a real scalar")
        return f
    shape = getattr(f, "shape", None)
    if shape is None:
        raise TypeError(f"{what} must return a real scalar, got {type(f).__name__}")
    if len(shape) != 0:
        raise ValueError(
            f"{what} must return a scalar, got an array of shape {tuple(shape)}; "
            f"reduce it (e.g. with .sum()) or index it"
        )
    xp = get_namespace(f)
    if is_complex_dtype(xp, f.dtype):
        raise ValueError(
            f"{what} returned a complex value; return a real scalar (e.g. its real part)"
        )
    return f


def _check_gradient_shape(g, x):
    if tuple(getattr(g, "shape", ())) != tuple(x.shape):
        raise ValueError(
            f"the Euclidean gradient has shape {tuple(getattr(g, 'shape', ()))} but x has "
            f"shape {tuple(x.shape)}; the gradient must have the shape of x"
        )
