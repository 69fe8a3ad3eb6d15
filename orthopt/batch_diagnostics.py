r"""The Taylor tests of :func:`orthopt.check_gradient` and :func:`orthopt.check_hessian`
for a batch of independent problems.

For a batched problem (``Problem(..., batch_shape=(k,))``) every problem
gets its own verdict: along a unit tangent direction d_i at x_i, the error

    E_i(t) = |f_i(R_{x_i}(t d_i)) − f_i(x_i) − t ⟨grad f_i(x_i), d_i⟩|

must fall with slope 2 on a log–log plot. One batched cost evaluation per t
gives the k errors at once; the slope of each is fitted on its own straightest
window above its rounding level, exactly as the single-problem check does.
The Hessian check runs the single-problem :func:`~orthopt.check_hessian` on
each problem (:func:`problem_view`), with its noise model and tolerances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .backend import finfo_eps, get_namespace, to_numpy

__all__ = ["BatchGradientCheck", "BatchHessianCheck", "check_gradient_batch",
           "check_hessian_batch", "problem_view"]


@dataclass
class BatchGradientCheck:
    """Per-problem verdicts of :func:`check_gradient` on a batch.

    Attributes
    ----------
    slope : numpy.ndarray, shape (k,)
        Fitted log–log slope of each problem's Taylor error (≈ 2 when right).
    passed : numpy.ndarray of bool, shape (k,)
    t : numpy.ndarray, shape (T,)
    errors : numpy.ndarray, shape (T, k)
        E_i(t) for every t of the grid and every problem.
    tangent_error : numpy.ndarray, shape (k,)
        ‖g_i − P_{x_i}(g_i)‖/‖g_i‖.
    message : numpy.ndarray of str, shape (k,)
    """

    slope: np.ndarray
    passed: np.ndarray
    t: np.ndarray
    errors: np.ndarray
    tangent_error: np.ndarray
    message: np.ndarray


def check_gradient_batch(problem, x=None, d=None, rng=None):
    """Taylor test of each problem of a batch (see :func:`orthopt.check_gradient`).

    Parameters
    ----------
    problem : Problem
        With ``batch_shape=(k,)``.
    x : array, shape (k, n, p), optional
        Points of the check (random when omitted).
    d : array, shape (k, n, p), optional
        Directions (random unit tangent vectors when omitted; projected and
        normalized per problem otherwise).
    rng : None, int or numpy.random.Generator

    Returns
    -------
    BatchGradientCheck
    """
    from .diagnostics import _fit_slope, _t_grid
    from .optim.batch_line_search import column
    from .optim.batch_problem import BatchEvaluator

    manifold = problem.manifold
    (k,) = problem.batch_shape
    rng = np.random.default_rng(rng)
    if x is None:
        x = manifold.random_point(rng=rng, shape=(k,))
    eps = finfo_eps(get_namespace(x), x.dtype)
    d = manifold.random_tangent_vector(x, rng=rng) if d is None else manifold.projection(x, d)
    norms = to_numpy(manifold.batch_norm(x, d)).astype(np.float64)
    d = d / column(np.maximum(norms, 1e-300), x)
    evaluator = BatchEvaluator(problem)
    everyone = np.arange(k)
    at_x = evaluator.evaluate(x, everyone)
    f0 = at_x.cost
    slope0 = to_numpy(manifold.batch_inner_product(x, at_x.gradient, d)).astype(np.float64)
    normal = at_x.gradient - manifold.projection(x, at_x.gradient)
    tangent_error = to_numpy(manifold.batch_norm(x, normal)).astype(np.float64) / np.maximum(
        at_x.grad_norm, 1e-300)
    t = _t_grid(eps)
    with np.errstate(invalid="ignore", over="ignore"):
        errors = np.stack([
            np.abs(evaluator.evaluate(manifold.retraction(x, float(ti) * d), everyone).cost
                   - f0 - ti * slope0) for ti in t])
    tolerance = 0.1 if eps < 1e-10 else 0.25
    slope = np.full(k, np.nan)
    passed = np.zeros(k, dtype=bool)
    message = []
    for i in range(k):
        tangent_ok = tangent_error[i] <= np.sqrt(eps)
        if not (np.isfinite(f0[i]) and np.isfinite(at_x.grad_norm[i])
                and np.all(np.isfinite(errors[:, i]))):
            message.append("the cost or gradient is not finite at x or along R_x(t d)")
            continue
        floor = 100 * eps * max(1.0, abs(f0[i]))
        slope[i], _ = _fit_slope(t, errors[:, i], floor, width=8)
        if np.isnan(slope[i]):
            passed[i] = tangent_ok and bool(np.all(errors[:, i] <= 10 * floor))
            text = "Taylor error at rounding level for every t: the first-order model is exact"
        else:
            passed[i] = tangent_ok and abs(slope[i] - 2.0) <= tolerance
            text = f"Taylor error slope {slope[i]:.3f} (expected 2 ± {tolerance})"
        if not tangent_ok:
            text += f"; the gradient is not tangent (relative normal part {tangent_error[i]:.1e})"
        message.append(text)
    return BatchGradientCheck(slope, passed, t, errors, tangent_error, np.array(message))


@dataclass
class BatchHessianCheck:
    """Per-problem verdicts of :func:`orthopt.check_hessian` on a batch.

    Attributes
    ----------
    slope : numpy.ndarray, shape (k,)
        Fitted slope of each problem's second-order Taylor error (≈ 3 when right).
    passed : numpy.ndarray of bool, shape (k,)
    message : numpy.ndarray of str, shape (k,)
    checks : list of HessianCheck
        The full verdict of each problem (errors, symmetry, tangency; ``.plot()``).
    """

    slope: np.ndarray
    passed: np.ndarray
    message: np.ndarray
    checks: list


def problem_view(problem, i):
    """Problem i of a batch as a single :class:`~orthopt.optim.Problem` of x (n, p).

    Its functions call the batch's on a stack of one point, with row i of
    every per-problem argument: the same arithmetic as the batch, one problem.
    """
    from .optim.problem import Problem

    args = tuple(arg[i:i + 1, ...] if getattr(arg, "ndim", 0) else arg for arg in problem.args)

    def one(y):
        return get_namespace(y).expand_dims(y, axis=0)

    def first(value):
        return value[0, ...] if getattr(value, "ndim", 0) > 1 else value[0]

    cost = gradient = combined = hessian = None
    if problem._cost is not None:
        def cost(y):
            return first(problem._cost(one(y), *args))
    if problem._euclidean_gradient is not None:
        def gradient(y):
            return first(problem._euclidean_gradient(one(y), *args))
    if problem._cost_and_gradient is not None:
        def combined(y):
            f, g = problem._cost_and_gradient(one(y), *args)
            return first(f), first(g)
    if problem._euclidean_hessian is not None:
        def hessian(y, v):
            return first(problem._euclidean_hessian(one(y), one(v), *args))
    return Problem(problem.manifold, cost, euclidean_gradient=gradient,
                   cost_and_gradient=combined, euclidean_hessian=hessian)


def check_hessian_batch(problem, x=None, v=None, rng=None):
    """:func:`orthopt.check_hessian` for each problem of a batch (one verdict each).

    Each problem is checked alone, through :func:`problem_view`, with the
    single-problem check's noise model and tolerances: a diagnostic, not a
    hot loop, so correctness over speed.

    Parameters
    ----------
    problem : Problem
        With ``batch_shape=(k,)``.
    x, v : array, shape (k, n, p), optional
        Points and directions (random when omitted).
    rng : None, int or numpy.random.Generator

    Returns
    -------
    BatchHessianCheck
    """
    from .hessian_check import check_hessian

    (k,) = problem.batch_shape
    rng = np.random.default_rng(rng)
    if x is None:
        x = problem.manifold.random_point(rng=rng, shape=(k,))
    checks = [check_hessian(problem_view(problem, i), x[i, ...],
                            None if v is None else v[i, ...], rng=rng) for i in range(k)]
    return BatchHessianCheck(np.array([c.slope for c in checks]),
                             np.array([c.passed for c in checks]),
                             np.array([c.message for c in checks]), checks)
