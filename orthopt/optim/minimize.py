"""``orthopt.minimize``: a SciPy-shaped entry point to every solver.

    res = orthopt.minimize(cost, x0, method="rgd-bb", jac=None)

The manifold is inferred from ``x0`` when not given: a real tall matrix lives
on Stiefel(n, p); a real square matrix with det > 0 on SO(n) (det < 0: the
orthogonal group Stiefel(n, n)); a complex square matrix on U(n); a complex
tall matrix on the complex Stiefel manifold. A tuple (or list) of such
matrices, ``x0 = (U0, V0)``, lives on the :class:`~orthopt.manifolds.Product`
of their manifolds; a product with other factors (a free ``Euclidean``
factor, a Grassmann factor) must be named: ``manifold=Product([...])``.
"""

from __future__ import annotations

import difflib
import importlib
import inspect

import numpy as np

from ..backend import get_namespace, is_complex_dtype, to_float
from ..manifolds import Product, SpecialOrthogonal, Stiefel, Unitary
from ..manifolds.base import Manifold
from ..manifolds.points import as_point, is_product_point
from .problem import Problem

__all__ = ["minimize", "infer_manifold", "METHODS", "DEFAULT_METHOD"]

#: method name → (module, class name, fixed constructor arguments)
METHODS = {
    "rgd": ("orthopt.optim.rgd", "RiemannianGradientDescent", {"step": "armijo"}),
    "rgd-bb": ("orthopt.optim.rgd", "RiemannianGradientDescent", {"step": "bb"}),
    "cg": ("orthopt.optim.cg", "RiemannianConjugateGradient", {}),
    "lbfgs": ("orthopt.optim.lbfgs", "RiemannianLBFGS", {}),
    "trust-regions": ("orthopt.optim.trust_regions", "RiemannianTrustRegions", {}),
    "givens": ("orthopt.optim.coordinate", "GivensCoordinateDescent", {"rule": "random"}),
    "givens-gs": ("orthopt.optim.coordinate", "GivensCoordinateDescent",
                  {"rule": "gauss-southwell"}),
    "projunn-d": ("orthopt.optim.projunn", "ProjUNN", {"variant": "D"}),
    "projunn-t": ("orthopt.optim.projunn", "ProjUNN", {"variant": "T"}),
}


def infer_manifold(x, retraction=None):
    """The natural manifold of a point x (see the module docstring).

    Parameters
    ----------
    x : array, shape (n, p), or tuple of such arrays
        A tuple gives the Product of the factors' manifolds; each factor must
        have orthonormal columns (else the error names it and asks for
        ``manifold=Product([...])``).
    retraction : str, optional
        Retraction of the returned manifold (its default when omitted).
    """
    if _is_tuple_of_arrays(x):
        return _infer_product(x, retraction)
    if getattr(x, "ndim", None) != 2:
        raise ValueError(
            f"x0 must be a 2-D array (an n×p matrix), got shape {getattr(x, 'shape', None)}; "
            f"pass manifold=... explicitly for other shapes"
        )
    xp = get_namespace(x)
    n, p = x.shape
    kwargs = {} if retraction is None else {"retraction": retraction}
    if p > n:
        raise ValueError(
            f"x0 has shape ({n}, {p}) with more columns than rows; orthonormal columns need "
            f"p ≤ n (transpose x0)"
        )
    if is_complex_dtype(xp, x.dtype):
        return Unitary(n, **kwargs) if n == p else Stiefel(n, p, field="complex", **kwargs)
    if n == p and to_float(xp.linalg.det(x)) > 0:
        return SpecialOrthogonal(n, **kwargs)
    return Stiefel(n, p, **kwargs)


def _infer_product(x, retraction):
    """Product of the inferred factors of a tuple x, or an error naming the factor that has none."""
    factors = []
    for i, a in enumerate(x):
        shape = tuple(getattr(a, "shape", ()))
        m = None
        if len(shape) == 2 and shape[1] <= shape[0]:
            m = infer_manifold(a, retraction)
            error = m.feasibility(a)
            reason = f"‖xᴴx − I‖ = {error:.1e}"
            if error > m.default_atol(a.dtype, get_namespace(a)):
                m = None
        else:
            reason = "not an n×p matrix with p ≤ n"
        if m is None:
            raise ValueError(
                f"factor {i} of x0 (shape {shape}) is not a matrix with orthonormal columns "
                f"({reason}), so its manifold cannot be inferred; pass manifold=Product([...]) "
                f"naming every factor (Euclidean(*shape) for an unconstrained one)"
            )
        factors.append(m)
    return Product(factors)


def _is_tuple_of_arrays(x):
    """A product point: a tuple/list of arrays (or of such tuples), not a nested list of numbers."""
    return is_product_point(x) and len(x) > 0 and all(
        getattr(a, "ndim", 0) >= 1 or _is_tuple_of_arrays(a) for a in x)


def _as_float_arrays(x0):
    """Nested lists → NumPy arrays and integer arrays → float64 (as SciPy), factor by factor."""
    if _is_tuple_of_arrays(x0):
        return type(x0)(_as_float_arrays(a) for a in x0) if isinstance(x0, tuple) else \
            [_as_float_arrays(a) for a in x0]
    if not hasattr(x0, "shape"):  # a nested list, as SciPy accepts
        x0 = np.asarray(x0)
    if isinstance(x0, np.ndarray) and x0.dtype.kind in "biu":
        x0 = x0.astype(np.float64)  # integer entries: a float64 start, like SciPy
    return x0


#: the method of ``minimize(cost, x0)``: trust regions solved all 78 runs of the textbook
#: suite with default options (L-BFGS 77, CG 73, RGD-BB 72, Armijo RGD 60) and stayed
#: within 1.5× of pymanopt's best method on every problem of benchmarks/solvers.py
#: (benchmarks/results/defaults.json, solvers.json)
DEFAULT_METHOD = "trust-regions"


def minimize(cost, x0, method=None, jac=None, manifold=None, options=None, callback=None,
             rng=None, args=(), batched=False, hess=None):
    """Minimize ``cost`` over a manifold of matrices with orthonormal columns.

    Parameters
    ----------
    cost : callable
        ``cost(x) -> float``; with ``jac=True``, ``cost(x) -> (float, gradient)``.
    x0 : array, shape (n, p), or tuple of arrays
        Starting point (must satisfy x0ᴴx0 = I). A nested list becomes a NumPy
        array and integer entries become float64, as in SciPy. On a
        ``Product([M1, M2, ...])``: a tuple or list with one array per factor,
        ``(U0, V0)``; without ``manifold``, a tuple of matrices with
        orthonormal columns gives the product of their inferred manifolds.
    method : str, optional
        One of :data:`METHODS`; default :data:`DEFAULT_METHOD`, ``"trust-regions"``,
        the most robust on generic problems by our measurement (every problem of
        the textbook suite solved with default options; quadratic convergence
        near a minimizer):

        ===============  ==========================================================
        "rgd"            Riemannian gradient descent, Armijo backtracking
        "rgd-bb"         gradient descent with Barzilai–Borwein steps and the
                         Zhang–Hager nonmonotone line search (often the fastest)
        "cg"             conjugate gradients (Hager–Zhang β, strong Wolfe search);
                         ``options={"beta": "hs"}`` etc. pick another rule
        "lbfgs"          limited-memory BFGS (10 pairs, strong Wolfe search)
        "trust-regions"  Riemannian trust regions, truncated-CG inner solver; uses
                         Hessian-vector products (autograd, or finite
                         differences of ``jac``); superlinear near a minimizer
        "givens"         Givens coordinate descent, random coordinates
        "givens-gs"      Givens coordinate descent, Gauss–Southwell rule
        "projunn-d"      projUNN-D (polar projection of a rank-k step), O(n)/U(n)
        "projunn-t"      projUNN-T (exponential of a rank-k tangent step), O(n)/U(n)
        ===============  ==========================================================
    jac : None, callable or True
        None: autograd differentiates ``cost`` (NumPy only; on a product the
        cost receives a tuple); a callable returning the Euclidean gradient
        ∇f(x) of shape (n, p) — on a product a tuple (∂f/∂x₁, ∂f/∂x₂, ...);
        True: ``cost`` returns (f, ∇f).
    manifold : Manifold, optional
        Defaults to :func:`infer_manifold` (x0).
    options : dict, optional
        Keyword arguments of the solver (stopping rules, step rule, verbose...).
        An unknown name raises TypeError naming the closest valid one (SciPy's
        ``maxiter``, ``gtol``, ``xtol``, ``ftol``, ``disp`` are mapped to
        ``max_iterations``, ``gradient_tolerance``, ``step_tolerance``,
        ``cost_tolerance``, ``verbose`` in the message).
    callback : callable, optional
        ``callback(intermediate_result)`` after every iteration, with an
        :class:`OptimizeResult` holding ``x``, ``fun``, ``grad_norm``, ``nit``;
        return True (or raise StopIteration) to stop with status "callback".
    rng : None, int or numpy.random.Generator, optional
        Seed of the randomized methods ("givens" draws random pairs,
        "projunn-d"/"projunn-t" draw random sketches); the same seed gives
        the same run.
    hess : callable, optional
        ``hess(x, v, *args)``, the Euclidean Hessian-vector product ∇²f(x)[v]
        (SciPy's ``hessp``), for "trust-regions". Default: autograd's (no
        ``jac``) or a finite difference of the gradient.
    args : tuple, optional
        Extra arguments of ``cost`` (and ``jac``): ``cost(x, *args)``, as in SciPy.
    batched : bool, default False
        x0 of shape (k, n, p) is k independent problems: ``cost(x, *args)``
        returns one value per problem, shape (k,), the arrays in ``args`` carry
        per-problem data along their leading axis, and the gradient has one
        matrix per problem. Every problem gets its own step sizes and stopping
        (:mod:`orthopt.optim.batched`); ``res.fun``, ``res.grad_norm``,
        ``res.nit``, ``res.status``, ``res.success`` have shape (k,). Methods:
        "trust-regions", "lbfgs", "cg", "rgd", "rgd-bb", "givens-gs", "givens"
        (Givens: ``block=1``, NumPy arrays, no products); projUNN raises
        NotImplementedError. A dask array x0 chunked
        along the batch axis is solved chunk by chunk on the active dask
        scheduler and the result's arrays are dask arrays
        (:mod:`orthopt.optim.dask_support`). Without ``batched``, a stack with
        a scalar cost is one problem on ℳᵏ (the summed batch).

    Notes
    -----
    ``options={"verbose": True}`` shows a tqdm progress bar with the cost and
    the gradient norm; ``res.history`` holds the per-iteration ``cost``,
    ``grad_norm``, ``step_size`` and ``time`` (entry 0: the start point).

    Returns
    -------
    OptimizeResult

    Examples
    --------
    >>> import numpy as np, orthopt
    >>> A = np.diag(np.arange(1.0, 7.0))
    >>> x0 = np.linalg.qr(np.random.default_rng(0).standard_normal((6, 2)))[0]
    >>> res = orthopt.minimize(lambda x: np.trace(x.T @ A @ x), x0, method="rgd-bb",
    ...                        jac=lambda x: 2 * A @ x)
    >>> round(res.fun, 8)
    3.0
    """
    if method is None:
        method = DEFAULT_METHOD
    if method not in METHODS:
        raise ValueError(
            f"unknown method {method!r}; valid: {', '.join(repr(m) for m in sorted(METHODS))}"
        )
    if manifold is not None and not isinstance(manifold, Manifold):
        raise TypeError(f"manifold must be an orthopt manifold, got {type(manifold).__name__}")
    if batched:
        x0, manifold, batch = _batch_start(cost, x0, method, manifold, jac, options, rng, args,
                                           hess)
        if batch is None:  # dask: solved chunk by chunk
            return x0
    else:
        if isinstance(manifold, Product) or (manifold is None and _is_tuple_of_arrays(x0)):
            x0 = _as_float_arrays(x0)  # one point per factor
        elif _is_tuple_of_arrays(x0) and len({tuple(getattr(a, "shape", ())) for a in x0}) > 1:
            raise TypeError(
                f"x0 is a {type(x0).__name__} of {len(x0)} arrays of different shapes but manifold "
                f"is {manifold!r}; for one point per factor pass manifold=Product([...]) with one "
                f"manifold per array"
            )
        else:  # one array, a nested list, or a list of equal arrays (a stack, as NumPy reads it)
            x0 = _as_float_arrays(np.asarray(x0) if not hasattr(x0, "shape") else x0)
        if manifold is None:
            manifold = infer_manifold(x0)
        x0 = as_point(manifold, x0, "x0")  # (U0, V0) or [U0, V0] on a Product: a ProductVector
        batch = {"args": args} if args != () else {}
    if hess is not None:
        if not callable(hess):
            raise TypeError(f"hess must be a callable hess(x, v), got {type(hess).__name__}")
        batch = dict(batch, euclidean_hessian=hess)
    if jac is True:
        problem = Problem(manifold, None, cost_and_gradient=cost, **batch)
    elif jac is None or jac is False:
        problem = Problem(manifold, cost, **batch)
    elif callable(jac):
        problem = Problem(manifold, cost, euclidean_gradient=jac, **batch)
    else:
        raise TypeError(f"jac must be None, True or a callable, got {type(jac).__name__}")
    module, name, fixed = METHODS[method]
    solver_class = getattr(importlib.import_module(module), name)
    kwargs = dict(fixed)
    kwargs.update(options or {})
    try:
        solver = solver_class(**kwargs)
    except TypeError as exc:
        raise TypeError(f"invalid option for method {method!r} ({name}): {exc}"
                        f"{_option_hint(solver_class, kwargs)}") from exc
    return solver.run(problem, x0=x0, callback=callback, rng=rng)


def _any_manifold(point):
    return infer_manifold(np.asarray(point) if not hasattr(point, "shape") else point)


def _batch_start(cost, x0, method, manifold, jac, options, rng, args, hess):
    """(x0, manifold, Problem keywords) of minimize(..., batched=True); a dask x0 is solved
    here, chunk by chunk, and comes back as (result, None, None)."""
    from .dask_support import is_dask_array, minimize_dask
    from .problem import _check_batchable

    if manifold is not None:
        _check_batchable(manifold)
    dask_args = [arg for arg in args if is_dask_array(arg)]
    if dask_args and not is_dask_array(x0) and hasattr(x0, "shape"):
        import dask.array as da  # per-problem data on dask: x0 follows their chunks

        x0 = da.from_array(x0, chunks=(dask_args[0].chunks[0],) + tuple(x0.shape[1:]))
    if is_dask_array(x0):
        return minimize_dask(cost, x0, method=method, jac=jac, manifold=manifold,
                             options=options, rng=rng, args=args, hess=hess), None, None
    if isinstance(x0, (list, tuple)):
        from .batched import check_batch_start

        x0 = check_batch_start(Problem(manifold or _any_manifold(x0[0]), cost,
                                       batch_shape=(len(x0),)), list(x0), None)
    x0 = _as_float_arrays(np.asarray(x0) if not hasattr(x0, "shape") else x0)
    batch = _batch_options(x0, method, args)
    if manifold is None:
        manifold = infer_manifold(x0[0])
    return x0, manifold, batch


def _batch_options(x0, method, args):
    """Problem's batch keywords for minimize(..., batched=True), or a clear error."""
    from .batched import BATCHED_METHODS

    if method not in BATCHED_METHODS:
        raise NotImplementedError(
            f"method {method!r} does not run batches of independent problems yet; "
            f"batched=True works with {', '.join(repr(m) for m in BATCHED_METHODS)}")
    if getattr(x0, "ndim", 0) != 3:
        raise ValueError(
            f"with batched=True x0 must be a stack of k starting points, shape (k, n, p), got "
            f"shape {tuple(getattr(x0, 'shape', ()))}; M.random_point(shape=(k,)) makes one")
    return {"batch_shape": (x0.shape[0],), "args": args}


# SciPy's option names for the same stopping rules
_SCIPY_OPTIONS = {"maxiter": "max_iterations", "gtol": "gradient_tolerance",
                  "xtol": "step_tolerance", "ftol": "cost_tolerance", "disp": "verbose"}


def _option_hint(solver_class, kwargs):
    """'; did you mean ...' for option names the solver does not take (SciPy's included)."""
    accepted = set()
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    for klass in solver_class.__mro__[:-1]:  # not object
        init = klass.__dict__.get("__init__")
        if init is not None:
            accepted.update(name for name, parameter in inspect.signature(init).parameters.items()
                            if name != "self" and parameter.kind in named)
    hints = []
    for key in kwargs:
        if key in accepted:
            continue
        guess = _SCIPY_OPTIONS.get(key) or next(
            iter(difflib.get_close_matches(key, sorted(accepted), n=1)), None)
        if guess is not None:
            hints.append(f"{key!r} → {guess!r}")
    return f"; did you mean {', '.join(hints)}?" if hints else (
        f"; valid options: {', '.join(sorted(accepted))}")
