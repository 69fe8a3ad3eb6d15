"""The evaluation layer: each quantity at a point once, Hessian-vector products, bad input."""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest

from orthopt.manifolds import SpecialOrthogonal, Stiefel, Unitary
from orthopt.optim import Problem, RiemannianConjugateGradient, minimize

EPS = float(np.finfo(np.float64).eps)


def _brockett(manifold, **kw):
    n, p = manifold.n, manifold.p
    a = np.diag(np.arange(1.0, n + 1))
    w = np.diag(np.arange(p, 0, -1.0))
    calls = {"cost": 0, "grad": 0}

    def cost(x):
        calls["cost"] += 1
        return anp.trace(x.T @ a @ x @ w)

    def grad(x):
        calls["grad"] += 1
        return 2 * a @ x @ w

    return Problem(manifold, cost, euclidean_gradient=grad, **kw), calls, a, w


def test_each_quantity_is_computed_once_per_point():
    manifold = Stiefel(6, 2)
    problem, calls, a, w = _brockett(manifold,
                                     euclidean_hessian=lambda x, v: 2 * a @ v @ w)
    x = manifold.random_point(rng=0)
    e = problem.at(x)
    for _ in range(3):
        e.cost, e.gradient, e.grad_norm, e.euclidean_gradient
    assert calls == {"cost": 1, "grad": 1}
    v = manifold.random_tangent_vector(x, rng=1)
    h1, h2 = e.hess(v), e.hess(2 * v)
    assert calls == {"cost": 1, "grad": 1}          # Hessians reuse ∇f(x)
    assert problem.n_hessian_evaluations == 2
    np.testing.assert_allclose(h2, 2 * h1, rtol=0, atol=10 * EPS * np.linalg.norm(h1))


def test_result_counts_hessian_evaluations():
    manifold = Stiefel(6, 2)
    problem, _, _, _ = _brockett(manifold)
    res = RiemannianConjugateGradient(max_iterations=5).run(problem, rng=0)
    assert res.nhev == 0 and res.nfev >= 5 and res.ngev >= 5


@pytest.mark.parametrize("manifold", [Stiefel(7, 3), SpecialOrthogonal(5), Unitary(4)])
def test_autograd_hessian_vector_product_matches_a_hand_hessian(manifold):
    rng = np.random.default_rng(3)
    n = manifold.n
    dtype = complex if manifold.is_complex else float
    a = rng.standard_normal((n, n)) + (1j * rng.standard_normal((n, n)) if manifold.is_complex
                                       else 0)
    a = (a + a.conj().T).astype(dtype)

    def cost(x):
        return anp.real(anp.trace(anp.conj(x.T) @ a @ x @ anp.diag(anp.arange(1.0, manifold.p
                                                                                + 1))))

    w = np.diag(np.arange(1.0, manifold.p + 1))
    auto = Problem(manifold, cost)
    hand = Problem(manifold, cost, euclidean_gradient=lambda x: 2 * a @ x @ w,
                   euclidean_hessian=lambda x, v: 2 * a @ v @ w)
    x = manifold.random_point(rng=4)
    v = manifold.random_tangent_vector(x, rng=5)
    np.testing.assert_allclose(auto.euclidean_gradient(x), hand.euclidean_gradient(x),
                               atol=1e3 * EPS)
    h_auto, h_hand = auto.at(x).hess(v), hand.at(x).hess(v)
    assert np.linalg.norm(h_auto - h_hand) <= 1e3 * EPS * np.linalg.norm(h_hand)


def test_jac_true_returning_a_scalar_says_what_to_return():
    x0 = Stiefel(5, 2).random_point(rng=0)
    with pytest.raises(TypeError, match="pair.*cost, euclidean_gradient.*float"):
        minimize(lambda x: float(np.sum(x)), x0, jac=True)


def test_a_complex_gradient_on_a_real_manifold_is_an_error():
    x0 = Stiefel(5, 2).random_point(rng=0)
    with pytest.raises(ValueError, match="complex.*real"):
        minimize(lambda x: float(np.sum(x)), x0, jac=lambda x: (1 + 1j) * np.ones_like(x))


@pytest.mark.parametrize("hessian, match", [
    (lambda x, v: np.ones((3, 3)), "shape"),
    (lambda x, v: (1 + 1j) * v, "complex"),
])
def test_a_bad_euclidean_hessian_is_reported(hessian, match):
    manifold = Stiefel(5, 2)
    problem, _, _, _ = _brockett(manifold, euclidean_hessian=hessian)
    x = manifold.random_point(rng=0)
    with pytest.raises(ValueError, match=match):
        problem.at(x).hess(manifold.random_tangent_vector(x, rng=1))


def test_finite_difference_hessian_on_a_non_numpy_backend():
    xs = pytest.importorskip("array_api_strict")
    manifold = Stiefel(6, 2)
    a = np.diag(np.arange(1.0, 7.0))
    w = np.diag([2.0, 1.0])
    a_s, w_s = xs.asarray(a), xs.asarray(w)
    problem = Problem(manifold, lambda x: xs.sum(x * (a_s @ x @ w_s)),
                      euclidean_gradient=lambda x: 2 * a_s @ x @ w_s)
    exact = Problem(manifold, lambda x: np.sum(x * (a @ x @ w)),
                    euclidean_gradient=lambda x: 2 * a @ x @ w,
                    euclidean_hessian=lambda x, v: 2 * a @ v @ w)
    x = manifold.random_point(rng=2)
    v = manifold.random_tangent_vector(x, rng=3)
    h = np.asarray(problem.at(xs.asarray(x)).hess(xs.asarray(v)))
    h_exact = exact.at(x).hess(v)
    assert np.linalg.norm(h - h_exact) <= EPS ** (2 / 3) * 10 * np.linalg.norm(h_exact)
