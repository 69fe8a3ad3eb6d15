r"""k independent problems evaluated at once.

A batched :class:`~orthopt.optim.problem.Problem` (``batch_shape=(k,)``)
holds k problems min_{x_i ∈ ℳ} f_i(x_i), i = 1..k, that share one cost
function: ``cost(x, *args)`` takes the stack x of shape (k, n, p) and the
per-problem data ``args`` (arrays whose leading axis is the batch axis, as
SciPy's ``args``) and returns the k costs, shape (k,). The Euclidean
gradient has one matrix per problem, shape (k, n, p).

Since the problems are independent, f_i depends on x_i only, so the
gradient of the scalar F(x) = Σ_i f_i(x_i) with respect to x_i is ∇f_i(x_i):
one reverse pass of autograd over the (k,)-valued cost (a vector–Jacobian
product with the vector of ones) gives every problem's gradient and cost.

A solver freezes the problems that have stopped: it evaluates the cost on
the stack of the problems still running, with the rows of ``args`` that
belong to them (:meth:`BatchEvaluator.evaluate` with a mask), so a converged
problem costs no further evaluations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend import asarray_like, get_namespace, is_complex_dtype, is_numpy, to_numpy

__all__ = ["BatchEvaluator", "BatchPoint", "check_batch_shape", "check_batch_args",
           "select_args"]


def check_batch_shape(batch_shape):
    """``batch_shape`` as a tuple (k,), or an error that says how to write it."""
    if batch_shape is None or batch_shape == ():
        return ()
    if isinstance(batch_shape, (int, np.integer)) and not isinstance(batch_shape, bool):
        batch_shape = (int(batch_shape),)
    if not isinstance(batch_shape, tuple) or len(batch_shape) != 1 or isinstance(
            batch_shape[0], bool) or not isinstance(batch_shape[0], (int, np.integer)) \
            or batch_shape[0] < 1:
        raise ValueError(
            f"batch_shape must be (k,) with k ≥ 1 problems, got {batch_shape!r}; for a grid "
            f"of problems flatten it to one axis (x0.reshape(-1, n, p))"
        )
    return (int(batch_shape[0]),)


def check_batch_args(args, k):
    """The per-problem data as a tuple; every array must have the batch axis first."""
    if not isinstance(args, tuple):
        args = (args,) if hasattr(args, "shape") else tuple(args)
    for i, arg in enumerate(args):
        shape = getattr(arg, "shape", None)
        if shape is None or len(shape) == 0:
            continue  # scalars are shared by every problem
        if shape[0] != k:
            raise ValueError(
                f"args[{i}] has shape {tuple(shape)} but the batch has {k} problems: "
                f"per-problem data need the leading axis {k}. Data shared by every problem "
                f"go into the cost instead (cost=lambda x, *a: f(x, *a, shared))"
            )
    return args


def select_args(args, mask):
    """The rows of the per-problem data that belong to the problems selected by ``mask``."""
    if mask is None:
        return args
    selected = []
    for arg in args:
        if getattr(arg, "ndim", 0) == 0:
            selected.append(arg)
        else:
            selected.append(arg[_mask_for(arg, mask)])
    return tuple(selected)


def _mask_for(array, mask):
    """A host boolean mask in the namespace and on the device of ``array``."""
    xp = get_namespace(array)
    if is_numpy(xp):
        return mask
    return asarray_like(mask, like=array, dtype=xp.bool)


@dataclass
class BatchPoint:
    """m problems evaluated at m points: everything a batched solver asks about them.

    Attributes
    ----------
    x : array, shape (m, n, p)
    cost : numpy.ndarray of float64, shape (m,)
        f_i(x_i), on the host (the per-problem scalars steer the solver).
    euclidean_gradient, gradient : array, shape (m, n, p)
        ∇f_i(x_i) and grad f_i(x_i) = P_{x_i}(∇f_i(x_i)).
    grad_norm : numpy.ndarray of float64, shape (m,)
        ‖grad f_i(x_i)‖.
    """

    x: object
    cost: np.ndarray
    euclidean_gradient: object
    gradient: object
    grad_norm: np.ndarray

    def take(self, mask):
        """The points selected by a host boolean mask of shape (m,) (itself when all are)."""
        if mask.all():
            return self
        device_mask = _mask_for(self.x, mask)
        return BatchPoint(self.x[device_mask], self.cost[mask],
                          self.euclidean_gradient[device_mask], self.gradient[device_mask],
                          self.grad_norm[mask])

    def put(self, mask, other):
        """Overwrite the points selected by ``mask`` with ``other`` (in place).

        When ``mask`` selects every point, this point takes ``other``'s arrays
        (no copy): a BatchPoint is never changed in place except through put.
        """
        if mask.all():
            self.x, self.cost, self.euclidean_gradient = other.x, other.cost, \
                other.euclidean_gradient
            self.gradient, self.grad_norm = other.gradient, other.grad_norm
            return
        device_mask = _mask_for(self.x, mask)
        self.x[device_mask] = other.x
        self.cost[mask] = other.cost
        self.euclidean_gradient[device_mask] = other.euclidean_gradient
        self.gradient[device_mask] = other.gradient
        self.grad_norm[mask] = other.grad_norm

    def copy(self):
        xp = get_namespace(self.x)
        return BatchPoint(xp.asarray(self.x, copy=True), self.cost.copy(),
                          xp.asarray(self.euclidean_gradient, copy=True),
                          xp.asarray(self.gradient, copy=True), self.grad_norm.copy())


class BatchEvaluator:
    """Evaluate a batched problem on any subset of its problems, counting per problem.

    Parameters
    ----------
    problem : Problem
        With ``batch_shape == (k,)``.

    Attributes
    ----------
    nfev, ngev : numpy.ndarray of int, shape (k,)
        Cost and gradient evaluations of each problem.
    """

    def __init__(self, problem):
        self.problem = problem
        (k,) = problem.batch_shape
        self.nfev = np.zeros(k, dtype=np.int64)
        self.ngev = np.zeros(k, dtype=np.int64)
        self.nhev = np.zeros(k, dtype=np.int64)

    def evaluate(self, x, problems):
        """Cost, gradients and gradient norms of the problems ``problems`` at x.

        Parameters
        ----------
        x : array, shape (m, n, p)
            One point for each selected problem.
        problems : numpy.ndarray of int, shape (m,)
            Which problems (indices into the batch) the points belong to.

        Returns
        -------
        BatchPoint
        """
        problem = self.problem
        args = self._args_of(problems)
        self.nfev[problems] += 1
        self.ngev[problems] += 1
        cost, egrad = _cost_and_gradient(problem, x, args)
        manifold = problem.manifold
        from .batch_tangent import is_rotation_stack, rotation_gradient

        if is_rotation_stack(manifold, x) and type(egrad) is np.ndarray:
            grad, grad_norm = rotation_gradient(x, egrad)  # two stacked 3×3 products, no reduce
            return BatchPoint(x, cost, egrad, grad, grad_norm)
        grad = manifold.euclidean_to_riemannian_gradient(x, egrad)
        grad_norm = to_numpy(manifold.batch_norm(x, grad)).astype(np.float64)
        return BatchPoint(x, cost, egrad, grad, grad_norm)

    def _args_of(self, problems):
        """The per-problem data of ``problems`` (all of ``args`` when that is every problem)."""
        k = self.problem.batch_shape[0]
        if len(problems) == k:
            return select_args(self.problem.args, None)
        mask = np.zeros(k, dtype=bool)
        mask[problems] = True
        return select_args(self.problem.args, mask)

    def cost(self, x, problems):
        """The costs f_i(x_i) of the problems ``problems`` (host float64, shape (m,)), no gradient.

        For methods that sample the cost along a curve (the exact angles of
        Givens coordinate descent); counts one cost evaluation per problem.
        """
        problem = self.problem
        args = self._args_of(problems)
        self.nfev[problems] += 1
        if problem._cost is None:  # only a cost-and-gradient function (jac=True)
            self.ngev[problems] += 1
            return _check_costs(problem._cost_and_gradient(x, *args)[0], x.shape[0])
        return _check_costs(problem._cost(x, *args), x.shape[0])

    def hess(self, x, euclidean_gradient, v, problems):
        """Hess f_i(x_i)[v_i] at the points x (m, n, p) with gradients ∇f_i(x_i), tangent at x_i.

        The Euclidean Hessian-vector product comes from ``euclidean_hessian``
        when given, else from autograd (a cost without a hand gradient: the
        gradient of Σ_i ⟨∇f_i(x_i), v_i⟩), else from the central difference
        of the gradient with t_i = eps^{1/3}/‖v_i‖ per problem, as
        :meth:`Problem.euclidean_hessian` does for one problem.
        """
        h = self.euclidean_hess(x, v, problems)
        return self.problem.manifold.euclidean_to_riemannian_hessian(x, euclidean_gradient, h, v)

    def euclidean_hess(self, x, v, problems):
        """∇²f_i(x_i)[v_i], shape (m, n, p), counted as one Hessian product per problem.

        See :meth:`hess` for where it comes from; v is tangent at x_i.
        """
        problem = self.problem
        args = select_args(problem.args, self._mask(problems))
        self.nhev[problems] += 1
        if problem._euclidean_hessian is not None:
            h = problem._euclidean_hessian(x, v, *args)
        elif not problem.has_gradient:
            h = _autograd_hessian(problem, x, v, args)
        else:
            h = self._finite_difference(x, v, args, problems)
        _check_gradients(h, x)
        return h

    def _mask(self, problems):
        k = self.problem.batch_shape[0]
        if len(problems) == k:
            return None
        mask = np.zeros(k, dtype=bool)
        mask[problems] = True
        return mask

    def _finite_difference(self, x, v, args, problems):
        from ..backend import finfo_eps
        from .batch_line_search import column

        xp = get_namespace(x)
        axes = tuple(range(1, v.ndim))
        norms = to_numpy(xp.sqrt(xp.sum(xp.abs(v) ** 2, axis=axes))).astype(np.float64)
        with np.errstate(divide="ignore"):
            t = np.where(norms > 0, finfo_eps(xp, x.dtype) ** (1.0 / 3.0) / norms, 0.0)
        step = column(t, x)
        self.ngev[problems] += 2
        plus = _cost_and_gradient(self.problem, x + step * v, args)[1]
        minus = _cost_and_gradient(self.problem, x - step * v, args)[1]
        return (plus - minus) / column(np.where(t > 0, 2.0 * t, 1.0), x)


def _autograd_hessian(problem, x, v, args):
    """Σ_i ∇²f_i(x_i)[v_i] by reverse-over-reverse autograd.

    As ``Problem._autograd_hessian_vector_product``, on Σ_i f_i.
    """
    import autograd
    import autograd.numpy as anp

    def total(y):
        return anp.sum(problem._cost(y, *args))

    gradient = autograd.grad(total)
    h = np.asarray(autograd.grad(lambda y: anp.real(anp.sum(gradient(y) * v)))(x))
    if np.iscomplexobj(h):
        h = np.conj(h)
    return h.astype(x.dtype, copy=False)


def _cost_and_gradient(problem, x, args):
    m = x.shape[0]
    if problem._cost_and_gradient is not None:
        value = problem._cost_and_gradient(x, *args)
        if not (isinstance(value, (tuple, list)) and len(value) == 2):
            raise TypeError("with jac=True the batched cost must return a pair (costs of shape "
                            "(k,), gradients of shape (k, n, p))")
        f, g = value
    elif problem._euclidean_gradient is not None:
        f, g = problem._cost(x, *args), problem._euclidean_gradient(x, *args)
    else:
        f, g = _autograd(problem, x, args, m)
    cost = _check_costs(f, m)
    _check_gradients(g, x)
    return cost, g


def _autograd(problem, x, args, m):
    xp = get_namespace(x)
    if not is_numpy(xp):
        raise TypeError(
            f"the batched problem has no gradient and x is a {xp.__name__} array: autograd "
            f"only differentiates NumPy code; pass jac=... (euclidean_gradient=...)"
        )
    import autograd

    # the problems are independent: the vector–Jacobian product with ones is the
    # gradient of Σ f_i, whose block i is ∇f_i(x_i)
    vjp, f = autograd.make_vjp(lambda y: problem._cost(y, *args))(x)
    _check_costs(f, m)
    g = np.asarray(vjp(np.ones(np.shape(f), dtype=np.asarray(f).dtype)))
    if np.iscomplexobj(g):
        g = np.conj(g)  # autograd's convention is ∂f/∂Re − i ∂f/∂Im
    return f, g.astype(x.dtype, copy=False)


def _check_costs(f, m):
    shape = tuple(getattr(f, "shape", ()))
    if shape != (m,):
        got = "a scalar" if shape == () else f"an array of shape {shape}"
        raise ValueError(
            f"a batched cost must return one value per problem, shape ({m},), got {got}; "
            f"reduce over the matrix axes only (e.g. np.sum(..., axis=(-2, -1))). For one "
            f"scalar cost of the whole stack (a summed batch) leave out batch_shape / batched=True"
        )
    xp = get_namespace(f)
    if is_complex_dtype(xp, f.dtype):
        raise ValueError("the batched cost returned complex values; return real costs "
                         "(e.g. their real parts)")
    return to_numpy(f).astype(np.float64)


def _check_gradients(g, x):
    if tuple(getattr(g, "shape", ())) != tuple(x.shape):
        raise ValueError(
            f"the batched Euclidean gradient has shape {tuple(getattr(g, 'shape', ()))} but x "
            f"has shape {tuple(x.shape)}: return one gradient matrix per problem"
        )
