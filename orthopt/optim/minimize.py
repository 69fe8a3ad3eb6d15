"""``orthopt.minimize``: a SciPy-shaped entry point to every solver.

    res = orthopt.minimize(cost, x0, method="rgd-bb", jac=None)

The manifold is inferred from ``x0`` when not given: a real tall matrix lives
on Stiefel(n, p); a real square matrix with det > 0 on SO(n) (det < 0: the
orthogonal group Stiefel(n, n)); a complex square matrix on U(n); a complex
tall matrix on the complex Stiefel manifold.
"""

from __future__ import annotations

import difflib
import importlib
import inspect

import numpy as np

from ..backend import get_namespace, is_complex_dtype, to_float
from ..manifolds import SpecialOrthogonal, Stiefel, Unitary
from ..manifolds.base import Manifold
from .problem import Problem

__all__ = ["minimize", "infer_manifold", "METHODS"]

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
    x : array, shape (n, p)
    retraction : str, optional
        Retraction of the returned manifold (its default when omitted).
    """
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


def minimize(cost, x0, method="rgd", jac=None, manifold=None, options=None, callback=None,
             rng=None):
    """Minimize ``cost`` over a manifold of matrices with orthonormal columns.

    Parameters
    ----------
    cost : callable
        ``cost(x) -> float``; with ``jac=True``, ``cost(x) -> (float, gradient)``.
    x0 : array, shape (n, p)
        Starting point (must satisfy x0ᴴx0 = I). A nested list becomes a NumPy
        array and integer entries become float64, as in SciPy.
    method : str, default "rgd"
        One of :data:`METHODS`:

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
        None: autograd differentiates ``cost`` (NumPy only); a callable
        returning the Euclidean gradient ∇f(x) of shape (n, p); True: ``cost``
        returns (f, ∇f).
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
    if method not in METHODS:
        raise ValueError(
            f"unknown method {method!r}; valid: {', '.join(repr(m) for m in sorted(METHODS))}"
        )
    if not hasattr(x0, "shape"):  # a nested list, as SciPy accepts
        x0 = np.asarray(x0)
    if isinstance(x0, np.ndarray) and x0.dtype.kind in "biu":
        x0 = x0.astype(np.float64)  # integer entries: a float64 start, like SciPy
    if manifold is None:
        manifold = infer_manifold(x0)
    elif not isinstance(manifold, Manifold):
        raise TypeError(f"manifold must be an orthopt manifold, got {type(manifold).__name__}")
    if jac is True:
        problem = Problem(manifold, None, cost_and_gradient=cost)
    elif jac is None or jac is False:
        problem = Problem(manifold, cost)
    elif callable(jac):
        problem = Problem(manifold, cost, euclidean_gradient=jac)
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
