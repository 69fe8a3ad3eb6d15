r"""A cost function on a manifold, with its gradient.

The Euclidean gradient ∇f(x) is the gradient of a smooth extension of f to
the ambient space 𝔽^{n×p}. For complex x it is ∂f/∂Re x + i ∂f/∂Im x, so that
f(x + t d) = f(x) + t Re tr(∇f(x)ᴴ d) + O(t²). The Riemannian gradient is its
projection onto the tangent space (see :mod:`orthopt.manifolds.base`).

Without a gradient, NumPy costs are differentiated by autograd (write them
with ``import autograd.numpy as np``).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..backend import finfo_eps, get_namespace, is_complex_dtype, is_numpy, to_float
from ..manifolds.base import Manifold

__all__ = ["Problem", "Evaluation"]


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
        ``euclidean_hessian(x, v) -> ∇²f(x)[v]``, shape (n, p), the derivative of
        the Euclidean gradient along v. Without it, NumPy costs get autograd's
        Hessian-vector product and other arrays a central difference of the
        Euclidean gradient (see :class:`Evaluation`).

    Notes
    -----
    With no gradient given and NumPy arrays, autograd differentiates ``cost``.
    For CuPy or any other array library a gradient must be given.
    Every evaluation is counted in ``n_cost_evaluations``,
    ``n_gradient_evaluations`` and ``n_hessian_evaluations``. Solvers work
    through :meth:`at`, which evaluates each quantity at a point at most once.

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
        self._autograd_hvp = None
        self.n_cost_evaluations = 0
        self.n_gradient_evaluations = 0
        self.n_hessian_evaluations = 0

    def at(self, x):
        """The :class:`Evaluation` of this problem at x: cost, gradients and Hessian on demand."""
        return Evaluation(self, x)

    @property
    def has_hessian(self):
        """True when Hessian-vector products are exact (given, or by autograd)."""
        return self._euclidean_hessian is not None or not self.has_gradient

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
            f, _ = _unpack_cost_and_gradient(self._cost_and_gradient(x))
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
            f, g = _unpack_cost_and_gradient(self._cost_and_gradient(x))
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

    def euclidean_hessian(self, x, v):
        """∇²f(x)[v], shape (n, p): the derivative of ∇f along v.

        From ``euclidean_hessian`` when given; else autograd's Hessian-vector
        product (NumPy costs without a hand gradient); else the central
        difference (∇f(x + tv) − ∇f(x − tv)) / 2t with t = eps^{1/3}/‖v‖ (two
        gradient evaluations, relative accuracy about eps^{2/3}), which needs
        only that the gradient formula extends off the manifold, as a
        Euclidean gradient does.
        """
        self.n_hessian_evaluations += 1
        if self._euclidean_hessian is not None:
            h = self._euclidean_hessian(x, v)
            _check_hessian_value(h, x)
            return h
        if not self.has_gradient:
            return self._autograd_hessian_vector_product(x, v)
        return self._finite_difference_hessian(x, v)

    def riemannian_hessian(self, x, v):
        """Hess f(x)[v], tangent at x (see :meth:`Evaluation.hess`)."""
        return self.at(x).hess(v)

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


    def _autograd_hessian_vector_product(self, x, v):
        """∇²f(x)[v] by reverse-over-reverse autograd.

        With G(x) = orthopt's Euclidean gradient (∂f/∂Re x + i ∂f/∂Im x), the
        real-valued h(x) = Re⟨G(x), v⟩ has Euclidean gradient DG(x)[v]: the
        real Hessian of f is symmetric. autograd returns the conjugate of
        orthopt's convention for complex arrays, hence the two conjugations.
        """
        xp = get_namespace(x)
        if not is_numpy(xp):
            raise TypeError(
                f"Problem has no gradient and x is a {xp.__name__} array: autograd only "
                f"differentiates NumPy code; pass euclidean_gradient=... (and optionally "
                f"euclidean_hessian=...)"
            )
        if self._autograd_hvp is None:
            import autograd
            import autograd.numpy as anp

            gradient = autograd.grad(self._cost)

            def directional(y, w):
                return anp.real(anp.sum(gradient(y) * w))

            self._autograd_hvp = autograd.grad(directional)
        h = np.asarray(self._autograd_hvp(x, v))
        if np.iscomplexobj(h):
            h = np.conj(h)
        return h.astype(x.dtype, copy=False)

    def _finite_difference_hessian(self, x, v):
        """(∇f(x + tv) − ∇f(x − tv)) / 2t, t = eps^{1/3}/‖v‖: two gradients, no cost."""
        xp = get_namespace(x, v)
        norm_v = to_float(xp.sqrt(xp.sum(xp.abs(v) ** 2)))
        if norm_v == 0.0:
            return xp.zeros_like(x)
        # the truncation error O(t²) and the rounding error O(eps/t) balance at
        # t ~ eps^{1/3}: relative accuracy about eps^{2/3}
        t = finfo_eps(xp, x.dtype) ** (1.0 / 3.0) / norm_v
        g_plus = self._gradient_only(x + t * v)
        g_minus = self._gradient_only(x - t * v)
        return (g_plus - g_minus) / (2.0 * t)

    def _gradient_only(self, x):
        """∇f(x) without the cost where the user gave the gradient on its own."""
        if self._euclidean_gradient is None:
            return self.euclidean_gradient(x)
        self.n_gradient_evaluations += 1
        g = self._euclidean_gradient(x)
        _check_gradient_shape(g, x)
        return g


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

    __slots__ = ("problem", "x", "_cost", "_egrad", "_grad", "_grad_norm")

    def __init__(self, problem, x, cost=None, euclidean_gradient=None):
        self.problem = problem
        self.x = x
        self._cost = None if cost is None else to_float(cost)
        self._egrad = euclidean_gradient
        self._grad = None
        self._grad_norm = None

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
            self._grad = self.problem.manifold.euclidean_to_riemannian_gradient(
                self.x, self.euclidean_gradient)
        return self._grad

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
        _check_same_shape_as_point(v, self.x)
        h = self.problem.euclidean_hessian(self.x, v)
        return self.problem.manifold.euclidean_to_riemannian_hessian(
            self.x, self.euclidean_gradient, h, v)

    def is_finite(self):
        """Whether f(x) and, when computed, ‖grad f(x)‖ are finite."""
        if not math.isfinite(self.cost):
            return False
        return self._egrad is None or math.isfinite(self.grad_norm)


def _check_same_shape_as_point(v, x):
    if tuple(getattr(v, "shape", ())) != tuple(x.shape):
        raise ValueError(
            f"the tangent vector has shape {tuple(getattr(v, 'shape', ()))} but x has shape "
            f"{tuple(x.shape)}"
        )


def _check_hessian_value(h, x):
    """A user Hessian-vector product must have the shape and field of x."""
    if tuple(getattr(h, "shape", ())) != tuple(x.shape):
        raise ValueError(
            f"euclidean_hessian returned shape {tuple(getattr(h, 'shape', ()))} but x has shape "
            f"{tuple(x.shape)}; it must return ∇²f(x)[v], an array with the shape of x"
        )
    xp = get_namespace(x)
    if is_complex_dtype(xp, h.dtype) and not is_complex_dtype(xp, x.dtype):
        raise ValueError(
            f"euclidean_hessian returned a complex array ({h.dtype}) for a real x ({x.dtype}); "
            f"return a real array (the Hessian of a cost of real matrices is real)"
        )


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


def _unpack_cost_and_gradient(value):
    """(f, ∇f) from a combined function, or an error that says what came back instead."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return value
    what = (f"a sequence of {len(value)} items" if isinstance(value, (tuple, list))
            else f"a {type(value).__name__}" + (f" of shape {tuple(value.shape)}"
                                                 if hasattr(value, "shape") else ""))
    raise TypeError(
        f"with jac=True (cost_and_gradient=...) the function must return a pair "
        f"(cost, euclidean_gradient), got {what}; return both, or pass the gradient as "
        f"jac=<callable> (or jac=None for autograd)"
    )


def _check_gradient_shape(g, x):
    if tuple(getattr(g, "shape", ())) != tuple(x.shape):
        raise ValueError(
            f"the Euclidean gradient has shape {tuple(getattr(g, 'shape', ()))} but x has "
            f"shape {tuple(x.shape)}; the gradient must have the shape of x"
        )
    xp = get_namespace(x)
    if is_complex_dtype(xp, g.dtype) and not is_complex_dtype(xp, x.dtype):
        raise ValueError(
            f"the Euclidean gradient is complex ({g.dtype}) but x is real ({x.dtype}): a real "
            f"manifold needs a real gradient (take its real part if the imaginary part is "
            f"rounding, or use a complex manifold such as Unitary / Stiefel(field='complex'))"
        )
