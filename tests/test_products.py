"""Solvers, autograd and diagnostics on product manifolds (points are tuples of arrays).

Problems with known optima:

* truncated SVD: max tr(UᵀAVN) over St(30, 3) × St(20, 3), N = diag(3, 2, 1);
  the maximizer holds the leading singular vectors (up to signs), checked
  against ``numpy.linalg.svd``;
* Procrustes pairs: Σ_i ‖A_i R_i − B_i‖² over SO(3)³, each R_i the rotation
  of :func:`scipy.linalg.orthogonal_procrustes`;
* generalized Procrustes: k rotated copies X_i = Y Q_iᵀ of a shape Y, solved
  for the rotations and the mean shape on SO(3)ᵏ × ℝ^{m×3} (cost 0,
  R_i = Q_i G for one common rotation G).

Tolerances come from the dtype's eps.
"""

from __future__ import annotations

import math

import autograd.numpy as anp
import numpy as np
import pytest

import orthopt
from orthopt.backend import to_numpy
from orthopt.diagnostics import check_gradient, check_hessian, check_manifold, check_retraction
from orthopt.manifolds import (Euclidean, Grassmann, Product, ProductVector, SpecialOrthogonal,
                               Stiefel, Unitary)
from orthopt.optim import METHODS, Problem, RiemannianGradientDescent
from orthopt.optim.feasibility import FeasibilityGuard

try:
    import array_api_strict as xs
except ImportError:  # pragma: no cover - depends on the environment
    xs = None

EPS = float(np.finfo(np.float64).eps)
#: methods for any product (gradient, conjugate gradient, quasi-Newton, second order)
RIEMANNIAN = [m for m in ("rgd", "rgd-bb", "cg", "lbfgs", "trust-regions") if m in METHODS]
#: methods of the square groups: products of SO(n) / U(n) factors only
GROUP = [m for m in ("givens", "givens-gs", "projunn-d", "projunn-t") if m in METHODS]


# -- truncated SVD on St × St -------------------------------------------------------------


def truncated_svd(m=30, n=20, k=3, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, n))
    w = np.arange(k, 0, -1.0)
    u_ref, sigma, vt_ref = np.linalg.svd(a)
    manifold = Product([Stiefel(m, k), Stiefel(n, k)])
    x0 = manifold.random_point(rng=seed + 1)
    return a, w, manifold, x0, (u_ref[:, :k], sigma[:k], vt_ref[:k].T)


def assert_singular_triplets(a, u, v, reference, eps):
    u_ref, sigma, v_ref = reference
    estimate = np.abs(np.diag(u.T @ a @ v))
    # singular values are quadratic in the residual: a few hundred eps of σ₁
    assert np.max(np.abs(estimate - sigma)) <= 1e3 * eps * sigma[0]
    # singular vectors up to sign: |⟨u_i, u_ref,i⟩| = 1 to eps^{1/3} (linear in the residual)
    for x, x_ref in ((u, u_ref), (v, v_ref)):
        assert np.max(np.abs(np.abs(np.sum(x * x_ref, axis=0)) - 1.0)) <= eps ** (1 / 3)


@pytest.mark.parametrize("method", RIEMANNIAN)
@pytest.mark.parametrize("gradient", ["hand", "autograd"])
def test_truncated_svd_on_stiefel_times_stiefel_matches_numpy_svd(method, gradient):
    a, w, manifold, x0, reference = truncated_svd()

    def cost(x):
        u, v = x
        return -anp.sum(u * (anp.dot(a, v) * w))

    def jac(x):
        u, v = x
        return (-(a @ v) * w, -(a.T @ u) * w)  # a tuple: one block per factor

    res = orthopt.minimize(cost, x0, method=method, manifold=manifold,
                           jac=jac if gradient == "hand" else None,
                           options={"gradient_tolerance": 1e-9, "max_iterations": 5000})
    assert res.success, res.message
    assert isinstance(res.x, ProductVector) and len(res.x) == 2
    u, v = res.x
    assert manifold.check_point(res.x) <= 100 * EPS * math.sqrt(30)
    assert_singular_triplets(a, u, v, reference, EPS)
    assert res.fun == pytest.approx(-float(np.sum(w * reference[1])), rel=1e3 * EPS)


@pytest.mark.parametrize("method", ["cg", "trust-regions"])
def test_truncated_svd_x0_as_list_and_tuple_give_the_same_run(method):
    a, w, manifold, x0, reference = truncated_svd()

    def cost(x):
        return -anp.sum(x[0] * (anp.dot(a, x[1]) * w))

    results = [orthopt.minimize(cost, start, method=method, manifold=manifold)
               for start in ([x0[0], x0[1]], (x0[0], x0[1]), x0)]
    for res in results:
        assert res.success and res.nit == results[0].nit
        np.testing.assert_array_equal(res.x[0], results[0].x[0])
    assert_singular_triplets(a, *results[0].x, reference, EPS)


@pytest.mark.skipif(xs is None, reason="array-api-strict is not installed")
@pytest.mark.parametrize("method", RIEMANNIAN)
def test_truncated_svd_on_array_api_strict_with_hand_gradients(method):
    a_np, w_np, manifold, x0_np, reference = truncated_svd()
    a, w = xs.asarray(a_np), xs.asarray(w_np)
    x0 = tuple(xs.asarray(part) for part in x0_np)

    def cost(x):
        u, v = x
        return -xs.sum(u * ((a @ v) * w))

    def jac(x):
        u, v = x
        return (-((a @ v) * w), -((a.T @ u) * w))

    def hessian(x, d):
        return (-((a @ d[1]) * w), -((a.T @ d[0]) * w))

    problem = Problem(manifold, cost, euclidean_gradient=jac, euclidean_hessian=hessian)
    module, name, fixed = METHODS[method]
    solver = getattr(__import__(module, fromlist=[name]), name)(
        **fixed, gradient_tolerance=1e-9, max_iterations=5000)
    res = solver.run(problem, x0=x0)
    assert res.success, res.message
    assert all(type(part) is type(x0[0]) for part in res.x)  # stayed array-api-strict
    u, v = (to_numpy(part) for part in res.x)
    assert_singular_triplets(a_np, u, v, reference, EPS)


# -- Procrustes ---------------------------------------------------------------------------


def procrustes_pairs(k=3, m=12, seed=0):
    """Σ_i ‖A_i R_i − B_i‖² on SO(3)^k with the optimal rotations from SciPy."""
    import scipy.linalg

    rng = np.random.default_rng(seed)
    manifold = Product([SpecialOrthogonal(3) for _ in range(k)])
    q = manifold.random_point(rng=seed + 1)
    a = [rng.standard_normal((m, 3)) for _ in range(k)]
    b = [a_i @ q_i + 0.05 * rng.standard_normal((m, 3)) for a_i, q_i in zip(a, q)]
    optimum = []
    for a_i, b_i in zip(a, b):
        r_i, _ = scipy.linalg.orthogonal_procrustes(a_i, b_i)
        assert np.linalg.det(r_i) > 0  # small noise: the O(3) optimum is a rotation
        optimum.append(r_i)

    def cost(x):
        return sum(anp.sum((anp.dot(a_i, r_i) - b_i) ** 2) for a_i, r_i, b_i in zip(a, x, b))

    def jac(x):
        return tuple(2.0 * a_i.T @ (a_i @ r_i - b_i) for a_i, r_i, b_i in zip(a, x, b))

    x0 = manifold.random_point(rng=seed + 2)
    return manifold, cost, jac, x0, optimum, (a, b)


@pytest.mark.parametrize("method", RIEMANNIAN + GROUP)
def test_procrustes_pairs_on_a_product_of_rotations(method):
    manifold, cost, jac, x0, optimum, _ = procrustes_pairs()
    res = orthopt.minimize(cost, x0, method=method, manifold=manifold, jac=jac, rng=0,
                           options={"gradient_tolerance": 1e-8})
    assert res.success, res.message
    for r_i, r_star in zip(res.x, optimum):
        assert np.linalg.det(r_i) > 0
        assert np.max(np.abs(r_i - r_star)) <= EPS ** (1 / 3)
    assert res.fun == pytest.approx(cost(optimum), rel=1e4 * EPS)


@pytest.mark.skipif(xs is None, reason="array-api-strict is not installed")
@pytest.mark.parametrize("method", ["cg"] + GROUP)
def test_procrustes_pairs_on_array_api_strict(method):
    manifold, _, _, x0_np, optimum, (a_np, b_np) = procrustes_pairs(k=2)
    a, b = [xs.asarray(v) for v in a_np], [xs.asarray(v) for v in b_np]

    def cost(x):
        return sum(xs.sum((a_i @ r_i - b_i) ** 2) for a_i, r_i, b_i in zip(a, x, b))

    def jac(x):
        return tuple(2.0 * a_i.T @ (a_i @ r_i - b_i) for a_i, r_i, b_i in zip(a, x, b))

    x0 = tuple(xs.asarray(part) for part in x0_np)
    res = orthopt.minimize(cost, x0, method=method, manifold=manifold, jac=jac, rng=0,
                           options={"gradient_tolerance": 1e-8})
    assert res.success, res.message
    for r_i, r_star in zip(res.x, optimum):
        assert np.max(np.abs(to_numpy(r_i) - r_star)) <= EPS ** (1 / 3)


@pytest.mark.parametrize("method", ["rgd-bb", "cg", "lbfgs", "trust-regions"])
def test_generalized_procrustes_rotations_and_a_euclidean_mean_shape(method):
    """min Σ_i ‖X_i R_i − Y‖² over SO(3)ᵏ × ℝ^{m×3} with X_i = Y Q_iᵀ: cost 0, R_i = Q_i G."""
    k, m = 4, 10
    rng = np.random.default_rng(3)
    shape = rng.standard_normal((m, 3))
    rotations = Product([SpecialOrthogonal(3)] * k).random_point(rng=4)
    clouds = [shape @ q.T for q in rotations]
    manifold = Product([SpecialOrthogonal(3)] * k + [Euclidean(m, 3)])

    def cost(x):
        *r, y = x
        return sum(anp.sum((anp.dot(c, r_i) - y) ** 2) for c, r_i in zip(clouds, r))

    x0 = manifold.random_point(rng=5)
    res = orthopt.minimize(cost, x0, method=method, manifold=manifold,
                           options={"gradient_tolerance": 1e-10})
    assert res.success, res.message
    *r, y = res.x
    scale = float(np.sum(shape ** 2))
    assert res.fun <= 1e3 * EPS * scale
    # the common rotation G = Q_0ᵀ R_0 is the gauge freedom; the rest is determined
    gauge = rotations[0].T @ r[0]
    for q_i, r_i in zip(rotations, r):
        np.testing.assert_allclose(r_i, q_i @ gauge, atol=EPS ** (1 / 3))
    np.testing.assert_allclose(y, shape @ gauge, atol=EPS ** (1 / 3) * math.sqrt(scale))


# -- autograd on tuples -------------------------------------------------------------------


def coupled_cost(h):
    """f(U, c) = Re tr(Uᴴ H U)·(1 + ‖c‖²), U complex (or real), c real; hand derivatives."""

    def cost(x):
        u, c = x
        return anp.real(anp.trace(anp.dot(anp.conj(u).T, anp.dot(h, u)))) * (1 + anp.sum(c * c))

    def gradient(x):
        u, c = x
        t = float(np.real(np.trace(u.conj().T @ h @ u)))
        return (2 * (h @ u) * (1 + c @ c), 2 * c * t)

    def hessian(x, d):
        (u, c), (du, dc) = x, d
        t = float(np.real(np.trace(u.conj().T @ h @ u)))
        dt = 2 * float(np.real(np.trace(u.conj().T @ h @ du)))
        return (2 * (h @ du) * (1 + c @ c) + 2 * (h @ u) * (2 * c @ dc), 2 * dc * t + 2 * c * dt)

    return cost, gradient, hessian


@pytest.mark.parametrize("field", ["real", "complex"])
def test_autograd_gradient_and_hessian_of_a_cost_of_tuples(field):
    rng = np.random.default_rng(0)
    h = rng.standard_normal((5, 5))
    if field == "complex":
        h = h + 1j * rng.standard_normal((5, 5))
    h = h + h.conj().T
    manifold = Product([Stiefel(5, 2, field=field), Euclidean(3)])
    cost, gradient, hessian = coupled_cost(h)
    x = manifold.random_point(rng=1)
    d = ProductVector((rng.standard_normal((5, 2)) + (1j * rng.standard_normal((5, 2))
                                                       if field == "complex" else 0),
                       rng.standard_normal(3)))
    problem = Problem(manifold, cost)
    g = problem.euclidean_gradient(x)
    h_d = problem.euclidean_hessian(x, d)
    assert isinstance(g, ProductVector) and isinstance(h_d, ProductVector)
    for got, want, part in zip(g, gradient(x), x):
        assert got.dtype == part.dtype
        np.testing.assert_allclose(got, want, atol=100 * EPS * np.max(np.abs(want)))
    for got, want in zip(h_d, hessian(x, d)):
        np.testing.assert_allclose(got, want, atol=100 * EPS * np.max(np.abs(want)))
    # the Riemannian Hessian of autograd and of the hand derivatives agree
    hand = Problem(manifold, cost, euclidean_gradient=gradient, euclidean_hessian=hessian)
    v = manifold.random_tangent_vector(x, rng=2)
    for got, want in zip(problem.at(x).hess(v), hand.at(x).hess(v)):
        np.testing.assert_allclose(got, want, atol=1e3 * EPS * np.max(np.abs(want)))


def test_autograd_keeps_each_factors_dtype_and_a_float32_factor_sets_the_precision():
    a = np.diag(np.arange(1.0, 7.0))
    manifold = Product([Stiefel(6, 2), Euclidean(3)])
    x0 = (manifold[0].random_point(rng=1, dtype="float32"), np.ones(3))

    def cost(x):
        u, c = x
        return anp.trace(anp.dot(u.T, anp.dot(a, u))) + anp.sum((c - 2.0) ** 2)

    g = Problem(manifold, cost).euclidean_gradient(ProductVector(x0))
    assert (g[0].dtype, g[1].dtype) == (np.float32, np.float64)
    res = orthopt.minimize(cost, x0, method="rgd-bb", manifold=manifold)
    assert res.success, res.message
    assert (res.x[0].dtype, res.x[1].dtype) == (np.float32, np.float64)
    eps32 = float(np.finfo(np.float32).eps)
    assert res.fun == pytest.approx(3.0, abs=100 * eps32 * 3.0)


def test_nested_product_with_a_complex_factor():
    rng = np.random.default_rng(0)
    h = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
    h = h + h.conj().T
    manifold = Product([Product([Unitary(2), Euclidean(2)]), Stiefel(4, 2, field="complex")])

    def cost(x):
        (w, c), u = x
        return (anp.sum(anp.abs(w - anp.eye(2)) ** 2) + anp.sum((c - 1.0) ** 2)
                + anp.real(anp.trace(anp.dot(anp.conj(u).T, anp.dot(h, u)))))

    res = orthopt.minimize(cost, manifold.random_point(rng=1), method="cg", manifold=manifold,
                           options={"gradient_tolerance": 1e-9})
    assert res.success, res.message
    assert res.fun == pytest.approx(float(np.sum(np.linalg.eigvalsh(h)[:2])), abs=1e3 * EPS)


# -- stochastic steps and the feasibility guard ------------------------------------------------


def test_stochastic_step_on_a_product():
    a = np.diag(np.arange(1.0, 6.0))
    manifold = Product([Stiefel(5, 2), Euclidean(2)])
    solver = RiemannianGradientDescent(lr=0.1, manifold=manifold)
    x = manifold.random_point(rng=0)
    state = solver.init_state(x, rng=0)
    for _ in range(300):
        u, c = x
        x, state = solver.step(x, (2 * a @ u, 2 * (c - 3.0)), state)  # min tr(UᵀAU) + ‖c − 3‖²
    assert float(np.trace(x[0].T @ a @ x[0])) == pytest.approx(3.0, abs=1e3 * EPS)
    np.testing.assert_allclose(x[1], 3.0, atol=1e3 * EPS)
    with pytest.raises(ValueError, match=r"euclidean_gradient \(in factor 1\) has shape \(3,\)"):
        solver.step(x, (a @ x[0], np.zeros(3)), state)


def test_feasibility_guard_repairs_each_orthonormal_factor_and_skips_euclidean_ones():
    manifold = Product([SpecialOrthogonal(6), Euclidean(4), Stiefel(5, 2)])
    x = manifold.random_point(rng=0)
    guard = FeasibilityGuard(manifold, x, np.random.default_rng(1))
    assert guard.restore(x) is x  # feasible: the same object (the loop tests identity)
    drift = 1e3 * EPS
    off = ProductVector((x[0] + drift * np.ones((6, 6)), x[1] + 1.0, x[2]))
    fixed = guard.restore_exactly(off)
    assert fixed is not off and guard.n_restorations == 1
    assert manifold[0].feasibility(fixed[0]) <= 10 * EPS * math.sqrt(6)
    assert fixed[1] is off[1] and fixed[2] is off[2]  # untouched factors are not copied
    assert np.linalg.det(fixed[0]) > 0


# -- errors -------------------------------------------------------------------------------------


def test_wrong_number_of_factors_in_x0_names_both_counts():
    manifold = Product([Stiefel(5, 2), Euclidean(3)])
    x = manifold.random_point(rng=0)
    with pytest.raises(ValueError, match=r"x0 has 1 factors but Product\(.*\) has 2"):
        orthopt.minimize(lambda x: 0.0, [x[0]], manifold=manifold)
    with pytest.raises(ValueError, match=r"x0 has 3 factors"):
        RiemannianGradientDescent().run(Problem(manifold, lambda x: 0.0), x0=(*x, x[1]))


def test_gradient_of_the_wrong_shape_names_the_factor():
    manifold = Product([Stiefel(5, 2), Euclidean(3)])
    x0 = manifold.random_point(rng=0)
    with pytest.raises(ValueError, match=r"gradient \(in factor 1\) has shape \(2,\) but "
                                         r"factor 1 of x has shape \(3,\)"):
        orthopt.minimize(lambda x: 0.0, x0, manifold=manifold,
                         jac=lambda x: (np.zeros((5, 2)), np.zeros(2)))
    with pytest.raises(ValueError, match=r"must be a tuple of 2 arrays.*got a ndarray"):
        orthopt.minimize(lambda x: 0.0, x0, manifold=manifold, jac=lambda x: np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"factor 0\) is complex"):
        orthopt.minimize(lambda x: 0.0, x0, manifold=manifold,
                         jac=lambda x: (np.zeros((5, 2), complex), np.zeros(3)))
    with pytest.raises(ValueError, match=r"∇²f\(x\)\[v\] \(in factor 0\) has shape \(2, 5\)"):
        problem = Problem(manifold, lambda x: 0.0, euclidean_gradient=lambda x: x,
                          euclidean_hessian=lambda x, v: (v[0].T, v[1]))
        problem.at(x0).hess(manifold.random_tangent_vector(x0, rng=1))


def test_x0_tuple_without_manifold_infers_the_product_or_says_to_name_it():
    a = np.diag(np.arange(1.0, 7.0))
    u0 = Stiefel(6, 2).random_point(rng=0)
    r0 = SpecialOrthogonal(3).random_point(rng=1)

    def cost(x):
        u, r = x
        return anp.trace(anp.dot(u.T, anp.dot(a, u))) + anp.sum((r - anp.eye(3)) ** 2)

    res = orthopt.minimize(cost, [u0, r0], method="cg")
    assert res.success and res.fun == pytest.approx(3.0, abs=1e3 * EPS)
    with pytest.raises(ValueError, match=r"factor 1 of x0 \(shape \(3,\)\) is not a matrix with "
                                         r"orthonormal.*manifold=Product\(\[\.\.\.\]\).*Euclidean"):
        orthopt.minimize(cost, (u0, np.ones(3)))
    with pytest.raises(ValueError, match=r"factor 1 of x0 \(shape \(3, 3\)\).*‖xᴴx − I‖ = "):
        orthopt.minimize(cost, (u0, 2 * r0))
    with pytest.raises(TypeError, match=r"x0 is a tuple of 2 arrays of different shapes but "
                                        r"manifold is Stiefel.*manifold=Product"):
        orthopt.minimize(cost, (u0, r0), manifold=Stiefel(6, 2))


@pytest.mark.parametrize("method", GROUP)
def test_group_methods_name_the_factor_that_is_not_a_square_group(method):
    manifold = Product([SpecialOrthogonal(3), Stiefel(5, 2)])
    x0 = manifold.random_point(rng=0)
    with pytest.raises(TypeError, match=r"every factor to be a square orthogonal or unitary "
                                        r"group.*factor 1 of Product.* is Stiefel\(5, 2"):
        orthopt.minimize(lambda x: anp.sum(x[0]) + anp.sum(x[1]), x0, method=method,
                         manifold=manifold)
    nested = Product([Product([SpecialOrthogonal(3), SpecialOrthogonal(2)]), Unitary(2)])
    with pytest.raises(TypeError, match=r"factor 0 .* is itself a product: flatten it"):
        orthopt.minimize(lambda x: anp.sum(anp.real(x[1])), nested.random_point(rng=0),
                         method=method, manifold=nested)


@pytest.mark.parametrize("method", GROUP)
def test_group_methods_on_rotations_times_a_unitary_group(method):
    """min ‖R − Q‖² + ‖W − V‖² over SO(4) × U(3): the minimizer is (Q, V)."""
    manifold = Product([SpecialOrthogonal(4), Unitary(3)])
    q, v = manifold.random_point(rng=0)

    def cost(x):
        return anp.sum((x[0] - q) ** 2) + anp.sum(anp.abs(x[1] - v) ** 2)

    def jac(x):
        return (2 * (x[0] - q), 2 * (x[1] - v))

    res = orthopt.minimize(cost, manifold.random_point(rng=1), method=method, manifold=manifold,
                           jac=jac, rng=0, options={"gradient_tolerance": 1e-8})
    assert res.success, res.message
    assert res.x[0].dtype == np.float64 and res.x[1].dtype == np.complex128
    np.testing.assert_allclose(res.x[0], q, atol=EPS ** (1 / 3))
    np.testing.assert_allclose(res.x[1], v, atol=EPS ** (1 / 3))


@pytest.mark.parametrize("solver", ["givens", "projunn"])
def test_group_methods_stochastic_step_on_a_product(solver):
    from orthopt.optim import GivensCoordinateDescent, ProjUNN

    manifold = Product([SpecialOrthogonal(4), SpecialOrthogonal(3)])
    q = manifold.random_point(rng=0)
    stepper = (GivensCoordinateDescent(lr=0.2, manifold=manifold, block=2) if solver == "givens"
               else ProjUNN(lr=0.2, rank=2, manifold=manifold))
    x = manifold.random_point(rng=1)
    state = stepper.init_state(x, rng=0)
    for _ in range(400):
        x, state = stepper.step(x, (2 * (x[0] - q[0]), 2 * (x[1] - q[1])), state)
    assert manifold.check_point(x) <= 100 * EPS
    for got, want in zip(x, q):
        np.testing.assert_allclose(got, want, atol=1e-6)


# -- diagnostics --------------------------------------------------------------------------------


MANIFOLDS = {
    "grassmann": lambda: Grassmann(6, 2),
    "grassmann-complex": lambda: Grassmann(5, 2, field="complex"),
    "euclidean": lambda: Euclidean(3, 2),
    "euclidean-complex": lambda: Euclidean(4, field="complex"),
    "product": lambda: Product([Stiefel(6, 2), Grassmann(5, 2), Euclidean(3)]),
    "nested-product": lambda: Product([Product([SpecialOrthogonal(3), Euclidean(2)]),
                                       Unitary(2)]),
}


@pytest.mark.parametrize("kind", sorted(MANIFOLDS))
@pytest.mark.parametrize("precision", ["single", "double"])
def test_check_manifold_and_check_retraction_pass(kind, precision):
    manifold = MANIFOLDS[kind]()
    dtype = {("single", True): "complex64", ("single", False): "float32",
             ("double", True): "complex128", ("double", False): "float64"}[
        (precision, manifold.field == "complex")]
    check = check_manifold(manifold, rng=0, dtype=dtype)
    assert check.passed, str(check)
    names = [row[0] for row in check.rows]
    assert "projection fixes tangent vectors" in names and "Riemannian gradient = P_x(∇f)" in names
    assert check_retraction(manifold, rng=1).passed


def test_check_manifold_catches_a_projection_onto_the_wrong_tangent_space():
    class WrongGrassmann(Grassmann):
        def projection(self, x, u):  # Stiefel's tangent space, not the horizontal one
            return Stiefel.projection(self, x, u)

    check = check_manifold(WrongGrassmann(6, 2), rng=0)
    failed = {row[0] for row in check.rows if not row[3]}
    assert "projection tangent" in failed and not check.passed


def _sine_cost(manifold, a):
    """A cost on Grassmann / Euclidean / product points: trace terms and sines."""
    def on(m, x):
        if isinstance(m, Product):
            return sum(on(f, part) for f, part in zip(m.manifolds, x))
        if isinstance(m, Euclidean):
            return anp.sum(anp.sin(anp.real(x))) + anp.sum(anp.cos(anp.imag(x)))
        k = x.shape[0]
        return anp.real(anp.trace(anp.dot(anp.conj(x).T, anp.dot(a[:k, :k], x))))

    return lambda x: on(manifold, x)


@pytest.mark.parametrize("kind", sorted(MANIFOLDS))
def test_check_gradient_and_check_hessian_pass_with_autograd(kind):
    manifold = MANIFOLDS[kind]()
    problem = Problem(manifold, _sine_cost(manifold, np.diag(np.arange(1.0, 7.0))))
    gradient = check_gradient(problem, rng=0)
    assert gradient.passed, gradient.message
    assert abs(gradient.slope - 2.0) <= 0.1
    hessian = check_hessian(problem, rng=0)
    assert hessian.passed, hessian.message


def test_check_gradient_fails_when_one_factor_of_the_gradient_is_wrong():
    a = np.diag(np.arange(1.0, 7.0))
    manifold = Product([Stiefel(6, 2), Euclidean(3)])

    def cost(x):
        return float(np.trace(x[0].T @ a @ x[0]) + np.sum(x[1] ** 2))

    right = Problem(manifold, cost, euclidean_gradient=lambda x: (2 * a @ x[0], 2 * x[1]))
    wrong = Problem(manifold, cost, euclidean_gradient=lambda x: (2 * a @ x[0], x[1]))
    assert check_gradient(right, rng=0).passed
    verdict = check_gradient(wrong, rng=0)
    assert not verdict.passed and abs(verdict.slope - 1.0) <= 0.1


@pytest.mark.parametrize("stepper", ["sgd-momentum", "rmsprop"])
def test_stochastic_steppers_on_a_product_act_factor_by_factor(stepper):
    """On a separable cost, a product step is the factors' own steps side by side."""
    from orthopt.optim import RiemannianRMSprop, RiemannianSGD

    def make(manifold):
        if stepper == "rmsprop":
            return RiemannianRMSprop(lr=0.01, manifold=manifold)
        return RiemannianSGD(lr=0.05, momentum=0.5, manifold=manifold)

    a = np.diag(np.arange(1.0, 6.0))
    factors = [Stiefel(5, 2), Euclidean(3, field="complex")]
    manifold = Product(factors)
    x = manifold.random_point(rng=0)
    singles = list(x)
    solver, state = make(manifold), None
    solvers = [make(m) for m in factors]
    states = [s.init_state(part, rng=0) for s, part in zip(solvers, singles)]
    state = solver.init_state(x, rng=0)

    def gradient(u, c):
        return 2 * a @ u, 2 * (c - 3.0)

    for _ in range(20):
        x, state = solver.step(x, gradient(*x), state)
        blocks = gradient(*singles)
        for k, (s, part, g) in enumerate(zip(solvers, singles, blocks)):
            singles[k], states[k] = s.step(part, g, states[k])
    for got, want in zip(x, singles):
        np.testing.assert_allclose(got, want, rtol=0, atol=10 * EPS)
    assert manifold.check_point(x) <= 100 * EPS


@pytest.mark.parametrize("method", ["cg", "lbfgs", "trust-regions"])
def test_summed_batch_of_product_points(method):
    """k product points with one scalar cost: every factor carries the batch axis."""
    manifold = Product([SpecialOrthogonal(3), Euclidean(3)])
    x0 = manifold.random_point(rng=0, shape=(4,))
    target = manifold.random_point(rng=1, shape=(4,))

    def cost(x):
        return anp.sum((x[0] - target[0]) ** 2) + anp.sum((x[1] - target[1]) ** 2)

    res = orthopt.minimize(cost, x0, method=method, manifold=manifold,
                           options={"gradient_tolerance": 1e-9})
    assert res.success, res.message
    assert [part.shape for part in res.x] == [(4, 3, 3), (4, 3)]
    for got, want in zip(res.x, target):
        np.testing.assert_allclose(got, want, atol=EPS ** (1 / 3))
