"""Batches of independent problems: per-problem runs, vectorized (orthopt.optim.batched)."""

import autograd.numpy as anp
import numpy as np
import pytest

from orthopt.manifolds import SpecialOrthogonal, Stiefel
from orthopt.optim import (Fixed, GradientNorm, MaxIterations, Problem,
                           RiemannianConjugateGradient, RiemannianGradientDescent, minimize)

EPS = np.finfo(np.float64).eps
#: batched and single runs differ only in the summation order of inner products
TOL = 1e6 * EPS

K, N, P = 5, 6, 2


def brockett_cost(x, a):
    """f_i(x_i) = tr(x_iᵀ A_i x_i D), one value per problem."""
    d = anp.array([2.0, 1.0])
    return anp.sum(anp.sum(x * anp.matmul(a, x), axis=-2) * d, axis=-1)


def brockett_gradient(x, a):
    return 2.0 * anp.matmul(a, x) * np.array([2.0, 1.0])


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    g = rng.standard_normal((K, N, N))
    a = g + np.swapaxes(g, -1, -2)
    x0 = Stiefel(N, P).random_point(rng=4, shape=(K,))
    return a, x0


def single_run(method, a_i, x0_i, options, jac=None):
    return minimize(lambda x: brockett_cost(x[None], a_i[None])[0], x0_i, method=method,
                    manifold=Stiefel(N, P), options=options,
                    jac=None if jac is None else (lambda x: jac(x, a_i)))


CASES = [
    ("rgd", {}),
    ("rgd-bb", {}),
    ("rgd", {"step": "fixed", "lr": 0.05, "max_iterations": 60}),
    ("cg", {}),
    ("cg", {"beta": "pr"}),
    ("cg", {"beta": "hs"}),
    ("cg", {"beta": "fr", "restart_every": 5}),
    ("cg", {"step_size": "armijo"}),
    ("cg", {"step_size": Fixed(0.02), "max_iterations": 40}),
    ("lbfgs", {}),
    ("lbfgs", {"memory": 2}),
    ("trust-regions", {}),
    ("trust-regions", {"max_inner_iterations": 2, "initial_radius": 0.05}),
    ("givens-gs", {}),
    ("givens-gs", {"side": "left", "step_size": "armijo"}),
    ("givens-gs", {"side": "left", "step_size": "fixed", "lr": 0.1, "max_iterations": 60}),
]


@pytest.mark.parametrize("method, options", CASES)
def test_each_problem_follows_its_single_run(data, method, options):
    """Ten iterations: every iterate equals the single run's to rounding."""
    a, x0 = data
    options = dict(options, stopping=MaxIterations(10) | GradientNorm(1e-5))
    options.pop("max_iterations", None)
    res = minimize(brockett_cost, x0, method=method, manifold=Stiefel(N, P), batched=True,
                   args=(a,), options=options)
    assert res.x.shape == (K, N, P)
    for name in ("fun", "grad_norm", "nit", "status", "success", "nfev"):
        assert res[name].shape == (K,), name
    for i in range(K):
        single = single_run(method, a[i], x0[i], options)
        np.testing.assert_allclose(res.x[i], single.x, atol=1e4 * EPS, err_msg=f"problem {i}")
        assert res.nit[i] == single.nit
        assert res.nfev[i] == single.nfev or method != "rgd-bb"
        assert res.status[i] == single.status
        np.testing.assert_allclose(res.fun[i], single.fun, rtol=1e4 * EPS)


@pytest.mark.parametrize("method, options", CASES)
def test_each_problem_converges_as_its_single_run(data, method, options):
    """To convergence: the same verdict and optimum; rounding (the summation order of
    inner products) can shift the last iterations of slowly converging runs."""
    a, x0 = data
    options = dict(options, gradient_tolerance=1e-6)
    res = minimize(brockett_cost, x0, method=method, manifold=Stiefel(N, P), batched=True,
                   args=(a,), options=options)
    for i in range(K):
        single = single_run(method, a[i], x0[i], options)
        assert res.status[i] == single.status and res.success[i] == single.success
        np.testing.assert_allclose(res.fun[i], single.fun, rtol=1e-11)


def test_solver_classes_take_a_batched_problem(data):
    a, x0 = data
    problem = Problem(Stiefel(N, P), brockett_cost, euclidean_gradient=brockett_gradient,
                      batch_shape=(K,), args=(a,))
    res = RiemannianConjugateGradient(gradient_tolerance=1e-9).run(problem, x0)
    eigenvalues = np.linalg.eigvalsh(a)
    optimum = 2 * eigenvalues[:, 0] + eigenvalues[:, 1]  # tr(XᵀAXD) ≥ 2λ₁ + λ₂
    np.testing.assert_allclose(res.fun, optimum, rtol=1e4 * EPS * N)
    assert res.success.all() and res.status.dtype.kind == "U"
    # a random batch of starting points when x0 is omitted
    res = RiemannianGradientDescent(step_size="bb").run(problem, rng=0)
    np.testing.assert_allclose(res.fun, optimum, rtol=1e4 * EPS * N)


def wahba_cost(x, b):
    return -anp.sum(x * b, axis=(-2, -1))


def test_converged_problem_is_frozen_and_nit_is_per_problem():
    """Problem 0 starts at its optimum, problem 1 is rotated away from it."""
    rng = np.random.default_rng(0)
    manifold = SpecialOrthogonal(3)
    b = rng.standard_normal((3, 3, 3))
    b *= np.sign(np.linalg.det(b))[:, None, None]  # det b > 0: the optimum u vᵀ is in SO(3)
    u, s, vt = np.linalg.svd(b)
    optimum = u @ vt
    x0 = manifold.random_point(rng=1, shape=(3,))
    x0[0] = optimum[0]
    seen = []
    res = minimize(wahba_cost, x0, method="rgd-bb", manifold=manifold, batched=True, args=(b,),
                   callback=lambda r: seen.append(r.x[0].copy()),
                   options={"gradient_tolerance": 1e-10})
    assert res.nit[0] == 0 and res.nfev[0] == 1  # converged at the start: one evaluation
    assert (res.nit[1:] > 5).all()
    assert all(np.array_equal(x, x0[0]) for x in seen)  # never moved
    assert res.status[0] == "gradient_tolerance" and res.success.all()
    np.testing.assert_allclose(res.fun, -s.sum(axis=-1), rtol=1e3 * EPS)
    # the history of a frozen problem repeats its values
    assert res.history["cost"].shape == (res.nit.max() + 1, 3)
    assert np.all(res.history["cost"][:, 0] == res.fun[0])


def test_iteration_budget_stops_each_problem():
    a = np.stack([np.diag([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])] * 2)
    x0 = Stiefel(N, P).random_point(rng=2, shape=(2,))
    x0[0] = np.eye(N, P)  # a critical point: stops at once
    res = minimize(brockett_cost, x0, method="cg", manifold=Stiefel(N, P), batched=True,
                   args=(a,), options={"stopping": MaxIterations(3) | GradientNorm(1e-9)})
    assert list(res.nit) == [0, 3]
    assert list(res.status) == ["gradient_tolerance", "max_iterations"]
    assert list(res.success) == [True, False]


def test_summed_batch_still_one_problem(data):
    a, x0 = data
    res = minimize(lambda x: anp.sum(brockett_cost(x, a)), x0, method="rgd-bb",
                   manifold=Stiefel(N, P), options={"gradient_tolerance": 1e-9})
    assert np.ndim(res.fun) == 0 and isinstance(res.nit, int)
    batched = minimize(brockett_cost, x0, method="rgd-bb", manifold=Stiefel(N, P),
                       batched=True, args=(a,), options={"gradient_tolerance": 1e-9})
    np.testing.assert_allclose(res.fun, batched.fun.sum(), rtol=1e3 * EPS)


def test_args_of_a_single_problem():
    a = np.diag(np.arange(1.0, 7.0))
    res = minimize(lambda x, m: anp.trace(x.T @ m @ x), Stiefel(N, P).random_point(rng=0),
                   method="rgd-bb", manifold=Stiefel(N, P), args=(a,))
    np.testing.assert_allclose(res.fun, 3.0, rtol=1e3 * EPS)


# -- bad input -----------------------------------------------------------------------------

def test_a_scalar_cost_is_refused(data):
    a, x0 = data
    with pytest.raises(ValueError, match=r"one value per problem, shape \(5,\), got a scalar"):
        minimize(lambda x, m: anp.sum(brockett_cost(x, m)), x0, method="rgd",
                 manifold=Stiefel(N, P), batched=True, args=(a,))
    with pytest.raises(ValueError, match=r"shape \(5,\), got an array of shape \(5, 2\)"):
        minimize(lambda x, m: anp.sum(x, axis=-2), x0, method="rgd", manifold=Stiefel(N, P),
                 batched=True, args=(a,))


def test_mixed_shapes_and_misaligned_data_are_refused(data):
    a, x0 = data
    points = [Stiefel(N, P).random_point(rng=0), Stiefel(N, 3).random_point(rng=1)]
    with pytest.raises(ValueError, match=r"mixed shapes: x0\[0\] has shape \(6, 2\) but "
                                         r"x0\[1\] has shape \(6, 3\)"):
        minimize(brockett_cost, points, method="rgd", batched=True, args=(a[:2],))
    with pytest.raises(ValueError, match=r"args\[0\] has shape \(4, 6, 6\) but the batch has 5"):
        minimize(brockett_cost, x0, method="rgd", manifold=Stiefel(N, P), batched=True,
                 args=(a[:4],))
    with pytest.raises(ValueError, match=r"batch_shape must be \(k,\)"):
        Problem(Stiefel(N, P), brockett_cost, batch_shape=(2, 3))
    problem = Problem(Stiefel(N, P), brockett_cost, batch_shape=(K,), args=(a,))
    with pytest.raises(ValueError, match=r"x0 has shape \(4, 6, 2\) but a batch of 5 points"):
        RiemannianGradientDescent().run(problem, x0[:4])
    with pytest.raises(ValueError, match=r"shape \(k, n, p\)"):
        minimize(brockett_cost, x0[0], method="rgd", manifold=Stiefel(N, P), batched=True)


def test_methods_without_a_batched_form_say_which_have_one(data):
    """Every method of minimize runs batched; a solver class without a batched form (the
    stochastic steppers) says which have one."""
    from orthopt.optim import METHODS, RiemannianSGD
    from orthopt.optim.batched import BATCHED_METHODS

    assert set(BATCHED_METHODS) == set(METHODS)
    problem = Problem(SpecialOrthogonal(3), wahba_cost, batch_shape=(2,),
                      args=(np.ones((2, 3, 3)),))
    with pytest.raises(NotImplementedError, match=r"RiemannianSGD does not run batches.*"
                                                  r"RiemannianTrustRegions.*ProjUNN"):
        RiemannianSGD(lr=0.1).run(problem, SpecialOrthogonal(3).random_point(rng=0, shape=(2,)))


# -- another array library ------------------------------------------------------------------

@pytest.mark.parametrize("method", ["rgd", "rgd-bb", "cg", "lbfgs", "trust-regions"])
@pytest.mark.parametrize("device", [None, "device1"])
def test_array_api_strict_batches_match_numpy(data, method, device):
    xs = pytest.importorskip("array_api_strict")
    from orthopt.backend import to_numpy

    a, x0 = data
    device = None if device is None else xs.Device(device)

    def cost(x, m):
        return xs.sum(xs.sum(x * (m @ x), axis=-2) * xs.asarray([2.0, 1.0], device=x.device),
                      axis=-1)

    def gradient(x, m):
        return 2.0 * (m @ x) * xs.asarray([2.0, 1.0], device=x.device)

    options = {"gradient_tolerance": 1e-6}
    res = minimize(cost, xs.asarray(x0, device=device), method=method, manifold=Stiefel(N, P),
                   jac=gradient, batched=True, args=(xs.asarray(a, device=device),),
                   options=options)
    reference = minimize(brockett_cost, x0, method=method, manifold=Stiefel(N, P),
                         jac=brockett_gradient, batched=True, args=(a,), options=options)
    if device is not None:
        assert res.x.device == device
    np.testing.assert_allclose(to_numpy(res.x), reference.x, atol=1e4 * EPS)
    np.testing.assert_array_equal(res.nit, reference.nit)
    np.testing.assert_array_equal(res.status, reference.status)


def test_check_gradient_gives_per_problem_verdicts(data):
    from orthopt import check_gradient

    a, x0 = data

    def wrong_gradient(x, m):  # right for problems 0-2, off by a factor 2 for 3 and 4
        factor = np.array([1.0, 1.0, 1.0, 2.0, 2.0])[:, None, None]
        return brockett_gradient(x, m) * factor

    good = Problem(Stiefel(N, P), brockett_cost, euclidean_gradient=brockett_gradient,
                   batch_shape=(K,), args=(a,))
    check = check_gradient(good, x0, rng=0)
    assert check.passed.shape == (K,) and check.passed.all()
    np.testing.assert_allclose(check.slope, 2.0, atol=0.1)
    bad = Problem(Stiefel(N, P), brockett_cost, euclidean_gradient=wrong_gradient,
                  batch_shape=(K,), args=(a,))
    check = check_gradient(bad, x0, rng=0)
    assert list(check.passed) == [True, True, True, False, False]
    np.testing.assert_allclose(check.slope[3:], 1.0, atol=0.1)
    # autograd differentiates a (k,)-valued cost: one gradient per problem
    check = check_gradient(Problem(Stiefel(N, P), brockett_cost, batch_shape=(K,), args=(a,)),
                           rng=1)
    assert check.passed.all()


def test_default_method_and_hand_hessian(data):
    """minimize's default (trust regions) runs batches; hess= gives exact Hessian products."""
    a, x0 = data

    def hessian(x, v, m):
        return 2.0 * anp.matmul(m, v) * np.array([2.0, 1.0])

    eigenvalues = np.linalg.eigvalsh(a)
    optimum = 2 * eigenvalues[:, 0] + eigenvalues[:, 1]
    res = minimize(brockett_cost, x0, jac=brockett_gradient, hess=hessian,
                   manifold=Stiefel(N, P), batched=True, args=(a,),
                   options={"gradient_tolerance": 1e-9})
    np.testing.assert_allclose(res.fun, optimum, rtol=1e4 * EPS * N)
    assert res.success.all() and (res.nhev > 0).all()
    # the same runs as with autograd's Hessian-vector products, to rounding
    auto = minimize(brockett_cost, x0, manifold=Stiefel(N, P), batched=True, args=(a,),
                    options={"gradient_tolerance": 1e-9})
    np.testing.assert_array_equal(auto.nit, res.nit)


def test_single_problem_tools_refuse_a_batch_with_advice(data):
    a, x0 = data
    problem = Problem(Stiefel(N, P), brockett_cost, batch_shape=(K,), args=(a,))
    with pytest.raises(TypeError, match=r"batch of 5 independent problems.*solver.run"):
        problem.at(x0)


def test_check_hessian_gives_per_problem_verdicts(data):
    from orthopt import check_hessian

    a, x0 = data

    def right(x, v, m):
        return 2.0 * anp.matmul(m, v) * np.array([2.0, 1.0])

    problem = Problem(Stiefel(N, P), brockett_cost, euclidean_gradient=brockett_gradient,
                      euclidean_hessian=right, batch_shape=(K,), args=(a,))
    check = check_hessian(problem, x0, rng=0)
    assert check.passed.shape == (K,) and check.passed.all()
    np.testing.assert_allclose(check.slope, 3.0, atol=0.15)
    # wrong (a factor 3) for problems 3 and 4, recognized by their data (each problem is
    # checked alone, on its own row of the data)
    wrong = Problem(Stiefel(N, P), brockett_cost, euclidean_gradient=brockett_gradient,
                    euclidean_hessian=lambda x, v, m: right(x, v, m) * np.where(
                        np.isin(m[:, 0, 0], a[3:, 0, 0]), 3.0, 1.0)[:, None, None],
                    batch_shape=(K,), args=(a,))
    assert list(check_hessian(wrong, x0, rng=0).passed) == [True, True, True, False, False]
    # autograd's Hessian of the (k,)-valued cost, per problem
    assert check_hessian(Problem(Stiefel(N, P), brockett_cost, batch_shape=(K,), args=(a,)),
                         rng=1).passed.all()


@pytest.mark.parametrize("method", ["rgd-bb", "cg", "lbfgs", "trust-regions"])
def test_single_precision_batches_reach_the_single_runs_verdicts(data, method):
    a, x0 = data
    a, x0 = a.astype(np.float32), x0.astype(np.float32)
    eps = np.finfo(np.float32).eps
    options = {"gradient_tolerance": 1e-4}
    weights = np.array([2.0, 1.0], dtype=np.float32)

    def cost(x, m):
        return np.sum(np.sum(x * (m @ x), axis=-2) * weights, axis=-1)

    def gradient(x, m):
        return 2.0 * (m @ x) * weights

    res = minimize(cost, x0, method=method, jac=gradient, manifold=Stiefel(N, P),
                   batched=True, args=(a,), options=options)
    assert res.x.dtype == np.float32
    for i in range(K):
        single = minimize(lambda x, m=a[i]: cost(x[None], m[None])[0], x0[i], method=method,
                          jac=lambda x, m=a[i]: gradient(x[None], m[None])[0],
                          manifold=Stiefel(N, P), options=options)
        assert res.status[i] == single.status
        np.testing.assert_allclose(res.fun[i], single.fun, rtol=100 * eps)


def test_a_list_of_starting_points_and_a_progress_bar(data, capsys):
    a, x0 = data
    res = minimize(brockett_cost, list(x0), method="rgd-bb", manifold=Stiefel(N, P),
                   batched=True, args=(a,), options={"gradient_tolerance": 1e-6,
                                                     "verbose": True})
    reference = minimize(brockett_cost, x0, method="rgd-bb", manifold=Stiefel(N, P),
                         batched=True, args=(a,), options={"gradient_tolerance": 1e-6})
    np.testing.assert_array_equal(res.x, reference.x)
    assert "running=0" in capsys.readouterr().err


def test_batches_of_product_points_are_refused_with_advice():
    from orthopt import Product

    pair = Product([Stiefel(5, 2), Stiefel(4, 2)])
    with pytest.raises(NotImplementedError, match=r"not supported yet.*one by one"):
        minimize(lambda x: x[0][..., 0, 0], (np.zeros((3, 5, 2)), np.zeros((3, 4, 2))),
                 manifold=pair, batched=True)
    with pytest.raises(NotImplementedError, match=r"not supported yet"):
        Problem(pair, lambda x: x[0][..., 0, 0], batch_shape=(3,))


@pytest.mark.parametrize("method", ["rgd-bb", "cg", "lbfgs", "trust-regions"])
def test_batches_on_grassmann_and_euclidean(method):
    """Points of other shapes: subspaces (n, p) and vectors (d,)."""
    import importlib

    from orthopt import Euclidean, Grassmann
    from orthopt.optim.minimize import METHODS

    module, name, fixed = METHODS[method]
    solver = getattr(importlib.import_module(module), name)(gradient_tolerance=1e-9, **fixed)
    rng = np.random.default_rng(7)
    g = rng.standard_normal((4, 6, 6))
    a = g + np.swapaxes(g, -1, -2)
    problem = Problem(Grassmann(6, 2),
                      lambda x, m: anp.sum(x * anp.matmul(m, x), axis=(-2, -1)),
                      batch_shape=(4,), args=(a,))
    res = solver.run(problem, rng=0)
    np.testing.assert_allclose(res.fun, np.linalg.eigvalsh(a)[:, :2].sum(axis=-1),
                               rtol=1e4 * EPS)
    centers = rng.standard_normal((4, 3))
    problem = Problem(Euclidean(3), lambda x, c: anp.sum((x - c) ** 2 * np.arange(1.0, 4.0),
                                                         axis=-1),
                      batch_shape=(4,), args=(centers,))
    res = solver.run(problem, np.zeros((4, 3)))
    np.testing.assert_allclose(res.x, centers, atol=1e-9)


# -- Givens coordinate descent ----------------------------------------------------------------

def brockett_so_batch(k, n, seed):
    """k Brockett problems tr(x_iᵀ A_i x_i N) on SO(n) with N = diag(n, …, 1), their optima
    Σ_j λ_j(A_i) N_jj (eigenvalues ascending against weights descending) and minimizers."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((k, n, n))
    a = g + np.swapaxes(g, -1, -2)
    weights = np.arange(n, 0, -1.0)
    eigenvalues, vectors = np.linalg.eigh(a)
    vectors[:, :, 0] *= np.sign(np.linalg.det(vectors))[:, None]  # into SO(n)
    # one row (1, n) of weights per problem: every argument of a batched cost is per problem
    return a, np.broadcast_to(weights, (k, 1, n)), eigenvalues @ weights, vectors


def brockett_so_cost(x, a, weights):
    return anp.sum(x * anp.matmul(a, x) * weights, axis=(-2, -1))


def brockett_so_gradient(x, a, weights):
    return 2.0 * np.matmul(a, x) * weights


@pytest.mark.parametrize("method", ["givens-gs", "givens"])
def test_batched_givens_reaches_each_optimum_and_freezes_a_converged_problem(method):
    k, n = 6, 6
    a, weights, optimum, minimizers = brockett_so_batch(k, n, seed=5)
    manifold = SpecialOrthogonal(n)
    x0 = manifold.random_point(rng=6, shape=(k,))
    x0[0] = minimizers[0]  # at its optimum: frozen from the start
    seen = []
    res = minimize(brockett_so_cost, x0, method=method, manifold=manifold, batched=True,
                   args=(a, weights), jac=brockett_so_gradient, rng=7,
                   callback=lambda r: seen.append(r.x[0].copy()))
    assert res.success.all(), res.status
    scale = np.abs(optimum).max()
    np.testing.assert_allclose(res.fun, optimum, rtol=0, atol=1e-8 * scale)
    assert res.nit[0] == 0 and res.nfev[0] == 1 and res.status[0] == "gradient_tolerance"
    assert all(np.array_equal(x, x0[0]) for x in seen)  # never moved
    assert len(np.unique(res.nit[1:])) > 1  # each problem stops on its own
    assert np.all(res.history["cost"][:, 0] == res.fun[0])
    np.testing.assert_allclose(np.swapaxes(res.x, -1, -2) @ res.x, np.broadcast_to(
        np.eye(n), (k, n, n)), atol=100 * n * EPS)
    assert np.allclose(np.linalg.det(res.x), 1.0)


@pytest.mark.parametrize("side", ["both", "left", "right"])
def test_batched_gauss_southwell_chooses_the_single_runs_coordinates(side):
    """Twelve iterations on SO(6): every problem takes the coordinates and angles of its
    single run (the same arithmetic: equal to the last bit is allowed, rounding required)."""
    k, n = 4, 6
    a, weights, _, _ = brockett_so_batch(k, n, seed=8)
    manifold = SpecialOrthogonal(n)
    x0 = manifold.random_point(rng=9, shape=(k,))
    options = {"side": side, "max_iterations": 12, "gradient_tolerance": 1e-12}
    res = minimize(brockett_so_cost, x0, method="givens-gs", manifold=manifold, batched=True,
                   args=(a, weights), jac=brockett_so_gradient, options=options)
    for i in range(k):
        single = minimize(lambda x, m=a[i]: brockett_so_cost(x, m, weights[i]), x0[i],
                          method="givens-gs", manifold=manifold,
                          jac=lambda x, m=a[i]: brockett_so_gradient(x, m, weights[i]),
                          options=options)
        assert res.nit[i] == single.nit == 12 and res.nfev[i] == single.nfev
        np.testing.assert_allclose(res.x[i], single.x, rtol=0, atol=10 * EPS)
        np.testing.assert_allclose(res.history["cost"][:, i], single.history["cost"],
                                   rtol=10 * EPS)
        np.testing.assert_allclose(res.history["step_size"][1:, i],
                                   single.history["step_size"][1:], rtol=1e3 * EPS)


def test_batched_random_givens_is_reproducible_and_refuses_what_it_lacks():
    k, n = 3, 5
    a, weights, optimum, _ = brockett_so_batch(k, n, seed=10)
    manifold = SpecialOrthogonal(n)
    x0 = manifold.random_point(rng=11, shape=(k,))
    runs = [minimize(brockett_so_cost, x0, method="givens", manifold=manifold, batched=True,
                     args=(a, weights), jac=brockett_so_gradient, rng=12,
                     options={"max_iterations": 30}) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].x, runs[1].x)
    assert (runs[0].fun < brockett_so_cost(x0, a, weights)).all()
    with pytest.raises(NotImplementedError, match=r"block=1"):
        minimize(brockett_so_cost, x0, method="givens-gs", manifold=manifold, batched=True,
                 args=(a, weights), options={"block": 2})
    xs = pytest.importorskip("array_api_strict")
    with pytest.raises(NotImplementedError, match=r"NumPy arrays"):
        minimize(lambda x, m: xs.sum(x * (m @ x), axis=(-2, -1)), xs.asarray(x0),
                 method="givens-gs", manifold=manifold, batched=True, args=(xs.asarray(a),),
                 jac=lambda x, m: 2.0 * (m @ x))


@pytest.mark.parametrize("options", [{"rule": "cyclic"},
                                     {"rule": "cyclic", "side": "left", "step_size": "armijo"}])
def test_batched_cyclic_givens_follows_its_single_runs(options):
    """The cyclic rule walks the single run's sweep, one position per problem; on St(5, 3)
    with both sides (left and column rotations)."""
    from orthopt.optim import GivensCoordinateDescent

    k, n, p = 3, 5, 3
    a, weights, _, _ = brockett_so_batch(k, n, seed=13)
    weights = weights[..., :p]
    manifold = Stiefel(n, p)
    x0 = manifold.random_point(rng=14, shape=(k,))
    solver = GivensCoordinateDescent(max_iterations=40, **options)
    res = solver.run(Problem(manifold, brockett_so_cost, euclidean_gradient=brockett_so_gradient,
                             batch_shape=(k,), args=(a, weights)), x0)
    for i in range(k):
        single = solver.run(Problem(
            manifold, lambda x, m=a[i]: brockett_so_cost(x, m, weights[i]),
            euclidean_gradient=lambda x, m=a[i]: brockett_so_gradient(x, m, weights[i])), x0[i])
        assert res.nit[i] == single.nit and res.nfev[i] == single.nfev
        assert res.status[i] == single.status
        np.testing.assert_allclose(res.x[i], single.x, rtol=0, atol=10 * EPS)
        np.testing.assert_allclose(res.history["step_size"][1:, i],
                                   single.history["step_size"][1:], rtol=1e3 * EPS)


def test_batched_trig_models_take_the_scalar_minimizers():
    """One arithmetic for one model and for m: the angles agree to the last bit, also for
    models of lower degree (b₂ = c₂ = 0), constant ones and the sign-flip ties (b₁ = c₁ ≈ 0)."""
    from orthopt.optim.trig_polynomial import minimize_trig2, minimize_trig2_batch

    rng = np.random.default_rng(15)
    coef = rng.standard_normal((5, 400))
    coef[1:3, 100:200] *= 1e-17     # θ and θ + π nearly tie
    coef[3:, 200:210] = 0.0         # degree 1
    coef[1:, 210:215] = 0.0         # constant
    theta, value = minimize_trig2_batch(coef)
    scalar = np.array([minimize_trig2(coef[:, i]) for i in range(coef.shape[1])])
    np.testing.assert_array_equal(theta, scalar[:, 0])
    np.testing.assert_array_equal(value, scalar[:, 1])
    assert np.all(theta[210:215] == 0.0) and np.all(np.abs(theta) <= np.pi)
    # a global minimizer: no grid angle does better (beyond rounding)
    grid = np.linspace(-np.pi, np.pi, 2001)[:, None]
    a, b1, c1, b2, c2 = coef
    on_grid = (a + b1 * np.cos(grid) + c1 * np.sin(grid) + b2 * np.cos(2 * grid)
               + c2 * np.sin(2 * grid)).min(axis=0)
    assert np.all(value <= on_grid + 10 * EPS * np.abs(coef).sum(axis=0))


@pytest.mark.parametrize("options", [{}, {"side": "right", "step_size": "armijo"},
                                     {"rule": "cyclic"}])
def test_batched_givens_on_unitary_follows_its_single_runs(options):
    """U(4) with phases as coordinates: Re tr(xᴴAxN) + Re⟨B, x⟩ (the linear term makes the
    phase derivatives nonzero); every problem takes its single run's steps."""
    from orthopt.manifolds import Unitary
    from orthopt.optim import GivensCoordinateDescent

    k, n = 3, 4
    rng = np.random.default_rng(16)
    g = rng.standard_normal((k, n, n)) + 1j * rng.standard_normal((k, n, n))
    a = g + np.conj(np.swapaxes(g, -1, -2))
    b = rng.standard_normal((k, n, n)) + 1j * rng.standard_normal((k, n, n))
    weights = np.arange(n, 0, -1.0)

    def cost(x, m, c):
        return np.real(np.sum(np.conj(x) * (m @ x) * weights, axis=(-2, -1))
                       + np.sum(np.conj(c) * x, axis=(-2, -1)))

    def gradient(x, m, c):
        return 2.0 * (m @ x) * weights + c

    manifold = Unitary(n)
    x0 = manifold.random_point(rng=17, shape=(k,))
    solver = GivensCoordinateDescent(max_iterations=30, **options)
    res = solver.run(Problem(manifold, cost, euclidean_gradient=gradient, batch_shape=(k,),
                             args=(a, b)), x0)
    assert res.x.dtype == np.complex128 and (res.fun < cost(x0, a, b)).all()
    for i in range(k):
        single = solver.run(Problem(manifold, lambda x, m=a[i], c=b[i]: cost(x, m, c),
                                    euclidean_gradient=lambda x, m=a[i], c=b[i]: gradient(
                                        x, m, c)), x0[i])
        assert res.nit[i] == single.nit and res.nfev[i] == single.nfev
        np.testing.assert_allclose(res.x[i], single.x, rtol=0, atol=10 * EPS)
        np.testing.assert_allclose(res.history["step_size"][1:, i],
                                   single.history["step_size"][1:], rtol=1e3 * EPS)
