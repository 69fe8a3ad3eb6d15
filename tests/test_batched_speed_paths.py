"""The SO(3) axis fast path of batched trust regions agrees with the general formulas."""

import numpy as np
import pytest

from orthopt.manifolds import SpecialOrthogonal, Stiefel
from orthopt.optim import minimize
from orthopt.optim.batch_problem import BatchEvaluator
from orthopt.optim.batch_tangent import AmbientTangents, RotationAxes, tangents_for
from orthopt.optim.problem import Problem
from orthopt.so3 import axis_vector, cross_matrix, skew_axis, weingarten_operator

DTYPES = [np.float32, np.float64]


def tolerance(dtype):
    return 100 * np.finfo(dtype).eps


@pytest.mark.parametrize("dtype", DTYPES)
def test_axis_kernels_invert_each_other(dtype):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((7, 3)).astype(dtype)
    omega = cross_matrix(w)
    assert omega.dtype == dtype
    np.testing.assert_array_equal(omega, -np.swapaxes(omega, -1, -2))
    np.testing.assert_array_equal(axis_vector(omega), w)
    u = rng.standard_normal((7, 3)).astype(dtype)
    np.testing.assert_allclose((omega @ u[..., None])[..., 0], np.cross(w, u),
                               atol=tolerance(dtype))
    a = rng.standard_normal((7, 3, 3)).astype(dtype)
    np.testing.assert_allclose(skew_axis(a), axis_vector((a - np.swapaxes(a, -1, -2)) / 2),
                               atol=tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_weingarten_operator_is_the_axis_of_skew_omega_s(dtype):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((5, 3, 3)).astype(dtype)
    w = rng.standard_normal((5, 3)).astype(dtype)
    s = (a + np.swapaxes(a, -1, -2)) / 2
    product = cross_matrix(w) @ s
    expected = skew_axis(product)
    got = np.einsum("ijk,ik->ij", weingarten_operator(a), w)
    np.testing.assert_allclose(got, expected, atol=10 * tolerance(dtype))


def wahba_cost(x, b):
    return -np.sum(x * b, axis=(-2, -1))


def wahba_gradient(x, b):
    return -b


def quartic_cost(x, b):
    """A cost with a nonzero Euclidean Hessian: Σ (x − B)⁴ entrywise."""
    return np.sum((x - b) ** 4, axis=(-2, -1))


def quartic_gradient(x, b):
    return 4 * (x - b) ** 3


def quartic_hessian(x, v, b):
    return 12 * (x - b) ** 2 * v


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("manifold", [SpecialOrthogonal(3, retraction="cayley"),
                                      Stiefel(3, 3, retraction="polar"),
                                      SpecialOrthogonal(3, retraction="exp"),
                                      SpecialOrthogonal(3, retraction="qr")])
def test_rotation_axes_match_ambient_tangents(dtype, manifold):
    rng = np.random.default_rng(2)
    k = 6
    b = rng.standard_normal((k, 3, 3)).astype(dtype)
    x = manifold.random_point(rng=3, shape=(k,)).astype(dtype)
    problem = Problem(manifold, quartic_cost, euclidean_gradient=quartic_gradient,
                      euclidean_hessian=quartic_hessian, batch_shape=(k,), args=(b,))
    evaluator = BatchEvaluator(problem)
    everyone = np.arange(k)
    current = evaluator.evaluate(x, everyone)
    axes = tangents_for(evaluator, current, everyone)
    ambient = AmbientTangents(evaluator, current, everyone)
    assert isinstance(axes, RotationAxes)
    tol = 10 * tolerance(dtype)
    # the evaluator's fast gradient is the manifold's
    np.testing.assert_allclose(current.gradient, manifold.euclidean_to_riemannian_gradient(
        x, quartic_gradient(x, b)), atol=tol)
    np.testing.assert_allclose(axes.ambient(axes.gradient), ambient.gradient, atol=tol)
    w = rng.standard_normal((k, 3)).astype(dtype) / 4
    u = rng.standard_normal((k, 3)).astype(dtype)
    np.testing.assert_allclose(axes.inner(w, u),
                               ambient.inner(axes.ambient(w), axes.ambient(u)), rtol=tol)
    mask = np.array([True, False, True, True, False, True])
    np.testing.assert_allclose(axes.ambient(axes.hess(w[mask], mask), mask),
                               ambient.hess(axes.ambient(w[mask], mask), mask), atol=100 * tol)
    y = axes.retraction(w)
    np.testing.assert_allclose(y, manifold.retraction(x, axes.ambient(w)), atol=tol)
    np.testing.assert_allclose(np.swapaxes(y, -1, -2) @ y, np.broadcast_to(np.eye(3), y.shape),
                               atol=tol)


def test_fast_path_only_where_it_applies():
    k = 2
    b = np.zeros((k, 4, 4))
    problem = Problem(SpecialOrthogonal(4), wahba_cost, euclidean_gradient=wahba_gradient,
                      batch_shape=(k,), args=(b,))
    evaluator = BatchEvaluator(problem)
    current = evaluator.evaluate(SpecialOrthogonal(4).random_point(rng=0, shape=(k,)),
                                 np.arange(k))
    assert isinstance(tangents_for(evaluator, current, np.arange(k)), AmbientTangents)
    three = Problem(SpecialOrthogonal(3), wahba_cost, euclidean_gradient=wahba_gradient,
                    batch_shape=(k,), args=(np.zeros((k, 3, 3)),))
    evaluator = BatchEvaluator(three)
    current = evaluator.evaluate(SpecialOrthogonal(3).random_point(rng=0, shape=(k,)),
                                 np.arange(k))
    assert isinstance(tangents_for(evaluator, current, np.arange(k),
                                   preconditioner=lambda x, v: v), AmbientTangents)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batched_wahba_matches_single_runs_and_svd(dtype):
    k = 20
    rng = np.random.default_rng(4)
    b = rng.standard_normal((k, 3, 3)).astype(dtype)
    manifold = SpecialOrthogonal(3, retraction="cayley")
    x0 = manifold.random_point(rng=5, shape=(k,)).astype(dtype)
    hess = lambda x, v, b: 0 * v  # noqa: E731
    options = {"gradient_tolerance": 1e-9 if dtype == np.float64 else 1e-4}
    res = minimize(wahba_cost, x0, jac=wahba_gradient, hess=hess, manifold=manifold,
                   batched=True, args=(b,), options=options)
    u, s, vt = np.linalg.svd(b.astype(np.float64))
    det = np.sign(np.linalg.det(u @ vt))
    optimum = -(s[:, 0] + s[:, 1] + det * s[:, 2])
    assert res.success.all()
    np.testing.assert_allclose(res.fun, optimum, rtol=100 * np.finfo(dtype).eps)
    for i in range(0, k, 5):
        one = minimize(wahba_cost, x0[i], jac=wahba_gradient, hess=hess, manifold=manifold,
                       args=(b[i],), options=options)
        np.testing.assert_allclose(res.fun[i], one.fun, rtol=100 * np.finfo(dtype).eps)
        assert abs(int(res.nit[i]) - int(one.nit)) <= 1
