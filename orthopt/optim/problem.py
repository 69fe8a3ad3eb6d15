r"""A cost function on a manifold, with its gradient.

The Euclidean gradient ∇f(x) is the gradient of a smooth extension of f to
the ambient space 𝔽^{n×p}. For complex x it is ∂f/∂Re x + i ∂f/∂Im x, so that
f(x + t d) = f(x) + t Re tr(∇f(x)ᴴ d) + O(t²). The Riemannian gradient is its
projection onto the tangent space (see :mod:`orthopt.manifolds.base`).

Without a gradient, NumPy costs are differentiated by autograd (write them
with ``import autograd.numpy as np``).

On a :class:`~orthopt.manifolds.Product` a point is a tuple (x₁, …, x_m) and
the Euclidean gradient the tuple of blocks (∂f/∂x₁, …, ∂f/∂x_m), each with
its factor's shape and dtype (complex blocks in the same convention); the
cost receives the tuple, and autograd differentiates it factor by factor.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..backend import get_namespace, is_complex_dtype, is_numpy, to_float
from ..manifolds.base import Manifold
from ..manifolds.points import check_like, is_product_point, leaves, point_eps, point_namespace
from ..manifolds.product import ProductVector
from .evaluation import Evaluation  # the per-point layer; importable from here as before

__all__ = ["Problem", "Evaluation"]


class Problem:
    """An optimization problem min_{x ∈ M} f(x).

    Parameters
    ----------
    manifold : Manifold
        Where x lives (Stiefel, SpecialOrthogonal, Unitary).
    cost : callable
        ``cost(x) -> real scalar`` for x of shape (n, p) (a tuple of arrays on a
        Product).
    euclidean_gradient : callable, optional
        ``euclidean_gradient(x) -> array (n, p)``, ∇f(x) in the ambient space; on
        a Product a tuple with one block per factor (a wrong block is named in
        the error).
    cost_and_gradient : callable, optional
        ``cost_and_gradient(x) -> (f, ∇f(x))``, when both share work.
    euclidean_hessian : callable, optional
        ``euclidean_hessian(x, v) -> ∇²f(x)[v]``, shape (n, p), the derivative of
        the Euclidean gradient along v. Without it, NumPy costs get autograd's
        Hessian-vector product and other arrays a central difference of the
        Euclidean gradient (see :class:`Evaluation`).
    batch_shape : tuple (k,), optional
        k independent problems that share one cost: ``cost(x, *args)`` takes
        x of shape (k, n, p) and returns the k costs, shape (k,); gradients
        have shape (k, n, p). Every solver then keeps per-problem steps and
        stopping, and the result's fields are per problem (see
        :mod:`orthopt.optim.batched`). Without it, a stack (k, n, p) with one
        scalar cost is a single problem on the power manifold ℳᵏ.
    args : tuple, optional
        Extra arguments of every function, ``cost(x, *args)`` (SciPy's
        ``args``). With ``batch_shape``, arrays among them are per-problem data
        whose leading axis is the batch axis.

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
                 euclidean_hessian=None, batch_shape=None, args=()):
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
        from .batch_problem import check_batch_args, check_batch_shape

        self.manifold = manifold
        self.batch_shape = check_batch_shape(batch_shape)
        if self.batch_shape:
            _check_batchable(manifold)
        if self.batch_shape:
            self.args = check_batch_args(args, self.batch_shape[0])
        else:
            self.args = ()
            if args != ():  # bind them once: the unbatched evaluation layer calls f(x)
                cost, euclidean_gradient, cost_and_gradient, euclidean_hessian = (
                    _bind(cost, args), _bind(euclidean_gradient, args),
                    _bind(cost_and_gradient, args), _bind(euclidean_hessian, args))
        self._cost = cost
        self._euclidean_gradient = euclidean_gradient
        self._cost_and_gradient = cost_and_gradient
        self._euclidean_hessian = euclidean_hessian
        self._autograd = None
        self._autograd_hvp = None
        self._autograd_gradient = None
        self.n_cost_evaluations = 0
        self.n_gradient_evaluations = 0
        self.n_hessian_evaluations = 0

    def at(self, x):
        """The :class:`Evaluation` of this problem at x: cost, gradients and Hessian on demand."""
        if self.batch_shape:
            raise TypeError(
                f"this Problem is a batch of {self.batch_shape[0]} independent problems "
                f"(batch_shape={self.batch_shape}): its costs have shape {self.batch_shape} and "
                f"it is evaluated by the solvers' batched loop (solver.run(problem, x0)) and by "
                f"orthopt.check_gradient; for one scalar cost of the stack leave out batch_shape")
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
        """∇f(x), shape (n, p), dtype of x (without the cost when a gradient function was given)."""
        if self._euclidean_gradient is not None:
            self.n_gradient_evaluations += 1
            return _check_gradient_shape(self._euclidean_gradient(x), x)
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
        return _check_scalar(f, "cost"), _check_gradient_shape(g, x)

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
            return _check_hessian_value(self._euclidean_hessian(x, v), x)
        if not self.has_gradient:
            return self._autograd_hessian_vector_product(x, v)
        return self._finite_difference_hessian(x, v)

    def euclidean_hessian_operator(self, x):
        """v ↦ ∇²f(x)[v] at one point x, for many v (as :meth:`euclidean_hessian`).

        With autograd the gradient's computation at x is traced once
        (``autograd.make_vjp`` of the gradient) and each product is one
        reverse pass through that trace: the real Hessian is symmetric, so
        the vector-Jacobian product of ∇f is the Hessian-vector product. That
        is about half the work of differentiating ⟨∇f(x), v⟩ afresh for each
        v (which repeats the cost and the gradient every time). Each call
        counts one Hessian evaluation.
        """
        if self._euclidean_hessian is not None or self.has_gradient:
            return lambda v: self.euclidean_hessian(x, v)
        return self._traced_gradient(x, count=False)[1]

    def euclidean_gradient_and_hessian_operator(self, x):
        """(∇f(x), v ↦ ∇²f(x)[v]) with one computation where one gives both, else None.

        With autograd and no hand derivatives, tracing the gradient for the
        Hessian-vector products (:meth:`euclidean_hessian_operator`) computes
        ∇f(x) on the way: a solver that will ask for Hessians at x (trust
        regions, after accepting a step) saves one gradient evaluation per
        point. Counts one gradient evaluation.
        """
        if self._euclidean_hessian is not None or self.has_gradient or \
                not is_numpy(point_namespace(x)):
            return None
        return self._traced_gradient(x, count=True)

    def _traced_gradient(self, x, count):
        """autograd's gradient at x with its trace: (∇f(x), Hessian-vector product)."""
        _require_numpy(x, "pass euclidean_gradient=... (and optionally euclidean_hessian=...)")
        import autograd

        if self._autograd_gradient is None:
            self._autograd_gradient = autograd.grad(self._cost)
        # the conventions match _autograd_hessian_vector_product's: autograd's
        # vjp of its (conjugated) gradient at the plain cotangent v
        vector_jacobian_product, gradient = autograd.make_vjp(self._autograd_gradient)(
            _plain_tuples(x))

        def hessian_vector_product(v):
            self.n_hessian_evaluations += 1
            return _from_autograd(vector_jacobian_product(_plain_tuples(v)), x)

        if count:
            self.n_gradient_evaluations += 1
        return _check_gradient_shape(_from_autograd(gradient, x), x), hessian_vector_product

    def riemannian_hessian(self, x, v):
        """Hess f(x)[v], tangent at x (see :meth:`Evaluation.hess`)."""
        return self.at(x).hess(v)

    # -- automatic differentiation -------------------------------------------------

    def _autograd_value_and_grad(self, x):
        _require_numpy(x, "pass euclidean_gradient=... or cost_and_gradient=... to Problem "
                          "(or minimize(..., jac=...))")
        if self._autograd is None:
            import autograd

            self._autograd = autograd.value_and_grad(self._cost)
        try:
            # autograd knows arrays and plain tuples, not ProductVector
            f, g = self._autograd(_plain_tuples(x))
        except (TypeError, ValueError, AttributeError) as exc:
            if "ArrayBox" in str(exc) or "ArrayVSpace" in str(exc):
                raise TypeError(
                    "autograd could not differentiate the cost: write it with "
                    "`import autograd.numpy as np` (not plain numpy) or pass "
                    f"euclidean_gradient=...; autograd said: {exc}"
                ) from exc
            raise
        return f, _from_autograd(g, x)

    def _autograd_hessian_vector_product(self, x, v):
        """∇²f(x)[v] by reverse-over-reverse autograd.

        With G(x) = orthopt's Euclidean gradient (∂f/∂Re x + i ∂f/∂Im x), the
        real-valued h(x) = Re⟨G(x), v⟩ has Euclidean gradient DG(x)[v]: the
        real Hessian of f is symmetric. autograd returns the conjugate of
        orthopt's convention for complex arrays, hence the two conjugations.
        """
        _require_numpy(x, "pass euclidean_gradient=... (and optionally euclidean_hessian=...)")
        if self._autograd_hvp is None:
            import autograd
            import autograd.numpy as anp

            gradient = autograd.grad(self._cost)

            def paired(g, w):
                # Re⟨G, w⟩, summed over the factors of a product; w is a plain (nested)
                # tuple, g autograd's boxed sequence of the same structure, indexed alike
                if isinstance(w, tuple):
                    return sum(paired(g[i], w[i]) for i in range(len(w)))
                return anp.real(anp.sum(g * w))

            def directional(y, w):
                return paired(gradient(y), w)

            self._autograd_hvp = autograd.grad(directional)
        return _from_autograd(self._autograd_hvp(_plain_tuples(x), _plain_tuples(v)), x)

    def _finite_difference_hessian(self, x, v):
        """(∇f(x + tv) − ∇f(x − tv)) / 2t, t = eps^{1/3}/‖v‖: two gradients, no cost."""
        xp = point_namespace(x)
        norm_v = math.sqrt(sum(to_float(xp.sum(xp.abs(a) ** 2)) for a in leaves(v)))
        if norm_v == 0.0:
            return _zeros_like(xp, x)
        # the truncation error O(t²) and the rounding error O(eps/t) balance at
        # t ~ eps^{1/3}: relative accuracy about eps^{2/3} (of the least precise factor)
        t = point_eps(x) ** (1.0 / 3.0) / norm_v
        g_plus = self._gradient_only(x + t * v)
        g_minus = self._gradient_only(x - t * v)
        return (g_plus - g_minus) / (2.0 * t)

    def _gradient_only(self, x):
        """∇f(x) without the cost where the user gave the gradient on its own."""
        if self._euclidean_gradient is None:
            return self.euclidean_gradient(x)
        self.n_gradient_evaluations += 1
        return _check_gradient_shape(self._euclidean_gradient(x), x)


def _require_numpy(x, advice):
    """autograd differentiates NumPy code only: a clear error for any other array library."""
    xp = point_namespace(x)
    if not is_numpy(xp):
        raise TypeError(
            f"Problem has no gradient and x is a {xp.__name__} array: autograd only "
            f"differentiates NumPy code. {advice[0].upper()}{advice[1:]}"
        )


def _plain_tuples(x):
    """x with every ProductVector (nested ones too) as a plain tuple, which autograd accepts."""
    return tuple(_plain_tuples(a) for a in x) if is_product_point(x) else x


def _from_autograd(g, x):
    """autograd's gradient in orthopt's convention, shaped like x.

    autograd returns ∂f/∂Re − i ∂f/∂Im for complex arrays, orthopt uses
    ∂f/∂Re + i ∂f/∂Im: conjugate complex parts. Each part gets its factor's
    dtype (autograd may promote float32 to float64); tuples become ProductVector.
    """
    if is_product_point(x):
        return ProductVector(_from_autograd(part, a) for part, a in zip(g, x))
    g = np.asarray(g)
    if np.iscomplexobj(g):
        g = np.conj(g)
    return g.astype(x.dtype, copy=False)


def _zeros_like(xp, x):
    if is_product_point(x):
        return ProductVector(_zeros_like(xp, a) for a in x)
    return xp.zeros_like(x)


def _check_batchable(manifold):
    """Batches of independent problems need points that are single arrays."""
    from ..manifolds.product import Product

    if isinstance(manifold, Product):
        raise NotImplementedError(
            f"batches of independent problems on {manifold!r} are not supported yet: batched "
            f"solvers take manifolds of single arrays (Stiefel, SO(n), U(n), Grassmann, "
            f"Euclidean); solve the product problems one by one")


def _bind(function, args):
    """``function(x, ...)`` with the extra arguments ``args`` appended (None stays None)."""
    if function is None:
        return None
    args = args if isinstance(args, tuple) else (args,)
    return lambda *leading: function(*leading, *args)


def _check_hessian_value(h, x):
    """A user Hessian-vector product must have the shape and field of x (factor by factor)."""
    return check_like(h, x, "euclidean_hessian's value ∇²f(x)[v]")


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
    """The Euclidean gradient with the structure of x: shapes (and field) factor by factor."""
    return check_like(g, x, "the Euclidean gradient")
