"""RiemannianTrustRegions and RiemannianLBFGS: known optima, rates, precision, API.

Brockett: min Re tr(xᴴAxN), N = diag(p, …, 1): the optimum pairs the p
smallest eigenvalues of A with N in reverse order, x = their eigenvectors
(columns up to a phase). Procrustes: min ½‖x − B‖², the polar factor of B
(on SO(n) with the sign of the last singular pair fixed so that det = 1).
"""

from __future__ import annotations

import math

import autograd.numpy as anp
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from conftest import MANIFOLD_DTYPES, eps_of, make_manifold, template
from orthopt import (
    Problem,
    RiemannianGradientDescent,
    RiemannianLBFGS,
    RiemannianTrustRegions,
    SpecialOrthogonal,
    Stiefel,
    minimize,
)
from orthopt.backend import to_numpy
from orthopt.optim import METHODS, RiemannianConjugateGradient, StrongWolfe
from orthopt.optim.trust_regions import EXCEEDED_RADIUS, truncated_conjugate_gradient


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # multithreaded OpenBLAS on these shared machines turns 3×3 solves into 20 ms
    with threadpool_limits(limits=1, user_api="blas"):
        yield


SIZES = {"stiefel": (10, 3), "stiefel-complex": (8, 3), "so": (6, 6), "unitary": (5, 5)}
SOLVERS = {"trust-regions": RiemannianTrustRegions, "lbfgs": RiemannianLBFGS}
SUCCESS = {"gradient_tolerance", "step_tolerance", "precision_limit"}


def brockett_data(kind, dtype, seed=0):
    n, p = SIZES[kind]
    rng = np.random.default_rng(seed)
    complex_ = dtype.startswith("complex")
    a = rng.standard_normal((n, n)) + (1j * rng.standard_normal((n, n)) if complex_ else 0)
    a = (a + a.conj().T) / 2
    nn = np.diag(np.arange(p, 0, -1.0))
    w, vectors = np.linalg.eigh(a)
    optimum = float(np.sum(w[:p] * np.diag(nn)))
    return a.astype(dtype), nn.astype(dtype), optimum, vectors[:, :p]


def brockett(manifold, a, nn, hessian=True, autograd=False):
    cost = lambda x: anp.real(anp.trace(anp.conj(x.T) @ a @ x @ nn))  # noqa: E731
    if autograd:
        return Problem(manifold, cost)
    kwargs = {"euclidean_hessian": lambda x, v: 2 * a @ v @ nn} if hessian else {}
    return Problem(manifold, cost, euclidean_gradient=lambda x: 2 * a @ x @ nn, **kwargs)


def procrustes_optimum(manifold, b):
    u, _, vh = np.linalg.svd(b, full_matrices=False)
    if isinstance(manifold, SpecialOrthogonal) and np.linalg.det(u @ vh) < 0:
        u[:, -1] = -u[:, -1]
    return u @ vh


def run(method, problem, x0, **options):
    return SOLVERS[method](**options).run(problem, x0=x0)


# -- known optima in double precision -------------------------------------------------------


@pytest.mark.parametrize("method", sorted(SOLVERS))
@pytest.mark.parametrize("kind,dtype", [(k, d) for k, d in MANIFOLD_DTYPES
                                        if d in ("float64", "complex128")])
def test_brockett_optimum(kind, dtype, method):
    n, p = SIZES[kind]
    manifold = make_manifold(kind, n, p)
    a, nn, optimum, vectors = brockett_data(kind, dtype)
    problem = brockett(manifold, a, nn, autograd=(method == "lbfgs"))
    res = run(method, problem, manifold.random_point(rng=1), gradient_tolerance=1e-10)
    assert res.success and res.status == "gradient_tolerance", res.message
    assert abs(res.fun - optimum) <= 1e-10 * abs(optimum)
    # the columns are the eigenvectors, up to a phase each
    overlap = np.abs(vectors.conj().T @ res.x)
    np.testing.assert_allclose(overlap, np.eye(p), atol=1e-8)
    assert res.x.dtype == np.dtype(dtype)
    if method == "trust-regions":
        assert res.nhev > 0
    else:
        assert res.nhev == 0


@pytest.mark.parametrize("method", sorted(SOLVERS))
@pytest.mark.parametrize("kind,dtype", [(k, d) for k, d in MANIFOLD_DTYPES
                                        if d in ("float64", "complex128")])
def test_procrustes_optimum(kind, dtype, method):
    n, p = SIZES[kind]
    manifold = make_manifold(kind, n, p)
    rng = np.random.default_rng(2)
    b = rng.standard_normal((n, p)) + (1j * rng.standard_normal((n, p))
                                       if dtype.startswith("complex") else 0)
    expected = procrustes_optimum(manifold, b)
    problem = Problem(manifold, lambda x: 0.5 * anp.real(anp.sum(anp.conj(x - b) * (x - b))))
    res = run(method, problem, manifold.random_point(rng=3), gradient_tolerance=1e-10)
    assert res.success, res.message
    optimum = 0.5 * float(np.sum(np.abs(expected - b) ** 2))
    assert abs(res.fun - optimum) <= 1e-10 * abs(optimum)
    assert np.linalg.norm(res.x - expected) <= 1e-8


@pytest.mark.parametrize("backend", ["strict", "device1"])
@pytest.mark.parametrize("method,hessian", [("trust-regions", False), ("trust-regions", True),
                                            ("lbfgs", False)])
@pytest.mark.parametrize("kind,dtype", [("stiefel", "float64"), ("unitary", "complex128")])
def test_array_api_strict(kind, dtype, method, hessian, backend):
    """Not NumPy: a hand gradient; TR takes the user's Hessian or differences of the gradient."""
    like = template(backend, dtype)
    xp = like.__array_namespace__()
    n, p = SIZES[kind]
    manifold = make_manifold(kind, n, p)
    a_np, nn_np, optimum, _ = brockett_data(kind, dtype)
    a = xp.asarray(a_np, device=like.device)
    nn = xp.asarray(nn_np, device=like.device)
    kwargs = {"euclidean_hessian": lambda x, v: 2 * a @ v @ nn} if hessian else {}
    problem = Problem(manifold, lambda x: xp.real(xp.linalg.trace(xp.conj(x.mT) @ a @ x @ nn)),
                      euclidean_gradient=lambda x: 2 * a @ x @ nn, **kwargs)
    x0 = manifold.random_point(rng=1, like=like)
    res = run(method, problem, x0, gradient_tolerance=1e-10)
    assert res.success, res.message
    assert abs(res.fun - optimum) <= 1e-10 * abs(optimum)
    assert res.x.device == like.device and res.x.dtype == like.dtype


@pytest.mark.parametrize("method,hessian", [("trust-regions", False), ("trust-regions", True),
                                            ("lbfgs", False)])
@pytest.mark.parametrize("kind,dtype", [("so", "float32"), ("stiefel-complex", "complex64")])
def test_array_api_strict_single_precision(kind, dtype, method, hessian):
    like = template("strict", dtype)
    xp = like.__array_namespace__()
    n, p = SIZES[kind]
    manifold = make_manifold(kind, n, p)
    a_np, nn_np, optimum, _ = brockett_data(kind, dtype)
    a, nn = xp.asarray(a_np), xp.asarray(nn_np)
    kwargs = {"euclidean_hessian": lambda x, v: 2 * a @ v @ nn} if hessian else {}
    problem = Problem(manifold, lambda x: xp.real(xp.linalg.trace(xp.conj(x.mT) @ a @ x @ nn)),
                      euclidean_gradient=lambda x: 2 * a @ x @ nn, **kwargs)
    res = run(method, problem, manifold.random_point(rng=1, like=like), gradient_tolerance=1e-9)
    assert res.success and res.status in SUCCESS, res.message
    assert res.x.dtype == like.dtype
    assert abs(res.fun - optimum) <= 100 * eps_of(dtype) * abs(optimum)


# -- single precision: success at its precision ---------------------------------------------------


@pytest.mark.parametrize("method", sorted(SOLVERS))
@pytest.mark.parametrize("kind,dtype", [(k, d) for k, d in MANIFOLD_DTYPES
                                        if d in ("float32", "complex64")])
def test_single_precision_ends_with_success(kind, dtype, method):
    n, p = SIZES[kind]
    manifold = make_manifold(kind, n, p)
    a, nn, optimum, _ = brockett_data(kind, dtype)
    res = run(method, brockett(manifold, a, nn), manifold.random_point(rng=1, dtype=dtype),
              gradient_tolerance=1e-9)  # below what single precision resolves
    assert res.success and res.status in SUCCESS, res.message
    assert res.x.dtype == np.dtype(dtype)
    assert abs(res.fun - optimum) <= 100 * eps_of(dtype) * abs(optimum)
    if method == "trust-regions":
        # the precision limit is recognized within a few steps of reaching it
        assert res.nit <= 40, (res.nit, res.status)


def test_trust_regions_precision_limit_in_double():
    manifold = Stiefel(10, 3)
    a, nn, optimum, _ = brockett_data("stiefel", "float64")
    res = run("trust-regions", brockett(manifold, a, nn), manifold.random_point(rng=1),
              gradient_tolerance=1e-30)
    assert res.success and res.status in ("precision_limit", "step_tolerance"), res.message
    assert res.nit <= 40
    assert abs(res.fun - optimum) <= 1e-13 * abs(optimum)


# -- rates --------------------------------------------------------------------------------------


def accepted_grad_norms(res):
    """‖grad‖ after each accepted step (rejected steps repeat the previous value)."""
    history = res.history
    keep = np.concatenate([[True], history["step_size"][1:] > 0])
    return history["grad_norm"][keep]


@pytest.mark.parametrize("hessian", ["hand", "finite-difference"])
def test_trust_regions_converges_superlinearly(hessian):
    manifold = Stiefel(20, 4)
    rng = np.random.default_rng(4)
    a = rng.standard_normal((20, 20))
    a = (a + a.T) / 2
    nn = np.diag(np.arange(4, 0, -1.0))
    problem = brockett(manifold, a, nn, hessian=(hessian == "hand"))
    x0 = manifold.random_point(rng=5)
    res = run("trust-regions", problem, x0, gradient_tolerance=1e-11)
    assert res.success, res.message
    g = accepted_grad_norms(res)
    # the last steps, above the rounding floor of the gradient (measured: 0.5, 5.7e-2,
    # 2.6e-3, 4.7e-6, 1.6e-11 then 2.4e-14 with the exact Hessian)
    floor = 1e3 * np.finfo(np.float64).eps * g[0]
    tail = g[(g < 1.0) & (g > floor)]
    assert len(tail) >= 4, g
    ratios = tail[1:] / tail[:-1]
    # superlinear: the contraction factor itself goes to 0
    assert np.all(ratios[1:] < ratios[:-1]), ratios
    assert ratios[-1] <= 1e-4, ratios
    # quadratic: ‖g_{k+1}‖ ≤ C‖g_k‖² (measured C ≤ 1.0 for both Hessians)
    assert np.all(tail[1:] <= 2.0 * tail[:-1] ** 2), tail
    # a first-order method on the same problem contracts linearly: its last ratios stay large
    cg = RiemannianConjugateGradient(gradient_tolerance=1e-11).run(problem, x0=x0)
    cg_ratios = cg.history["grad_norm"][-6:][1:] / cg.history["grad_norm"][-6:][:-1]
    assert np.median(cg_ratios) > 0.1


def ill_conditioned_brockett(n=12, p=3, condition=100.0, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = q @ np.diag(np.logspace(0.0, math.log10(condition), n)) @ q.T
    nn = np.diag(np.arange(p, 0, -1.0))
    return Stiefel(n, p), a, nn


def test_lbfgs_takes_fewer_iterations_than_bb_on_ill_conditioned_brockett():
    manifold, a, nn = ill_conditioned_brockett()
    problem = brockett(manifold, a, nn, hessian=False)
    lbfgs_iterations, bb_iterations = [], []
    for seed in (1, 2, 3):
        x0 = manifold.random_point(rng=seed)
        lbfgs = RiemannianLBFGS(gradient_tolerance=1e-8).run(problem, x0=x0)
        bb = RiemannianGradientDescent(step_size="bb", gradient_tolerance=1e-8).run(problem,
                                                                                   x0=x0)
        assert lbfgs.success and bb.success
        assert abs(lbfgs.fun - bb.fun) <= 1e-12 * abs(bb.fun)
        lbfgs_iterations.append(lbfgs.nit)
        bb_iterations.append(bb.nit)
    # measured: 280/534, 252/527, 266/402 iterations
    assert all(m < b for m, b in zip(lbfgs_iterations, bb_iterations)), (lbfgs_iterations,
                                                                        bb_iterations)
    assert sum(lbfgs_iterations) <= 0.75 * sum(bb_iterations)


def test_lbfgs_memory_one_and_larger_memory_both_converge():
    manifold, a, nn = ill_conditioned_brockett()
    problem = brockett(manifold, a, nn, hessian=False)
    x0 = manifold.random_point(rng=1)
    results = {m: RiemannianLBFGS(memory=m, gradient_tolerance=1e-8).run(problem, x0=x0)
               for m in (1, 10, 30)}
    assert all(r.success for r in results.values())
    # more memory, better curvature model
    assert results[30].nit <= results[10].nit < results[1].nit


# -- steps, extras, counters ----------------------------------------------------------------------


class RecordingTrustRegions(RiemannianTrustRegions):
    """Keeps every Step (the loop itself only keeps the history arrays)."""

    def _start(self, problem, current, rng):
        self.steps = []
        return super()._start(problem, current, rng)

    def _iterate(self, problem, current, state):
        step = super()._iterate(problem, current, state)
        self.steps.append(step)
        return step


def test_trust_regions_step_extras_and_rejections():
    """A first radius far too large: rejected steps, never a step-size stop."""
    manifold = Stiefel(10, 3)
    a, nn, optimum, _ = brockett_data("stiefel", "float64")
    # rejected steps have length 0, below any step tolerance: they must not stop the run
    solver = RecordingTrustRegions(initial_radius=50.0, max_radius=100.0,
                                   gradient_tolerance=1e-10)
    res = solver.run(brockett(manifold, a, nn), x0=manifold.random_point(rng=1))
    assert res.success and res.status == "gradient_tolerance", res.message
    assert abs(res.fun - optimum) <= 1e-10 * abs(optimum)
    rejected = [s for s in solver.steps if not s.accepted]
    assert rejected, "a radius of 50 on a manifold of diameter ~2 must be rejected first"
    assert all(s.step_size == 0.0 and s.status is None for s in rejected)
    assert not solver.steps[0].accepted and solver.steps[0].extra["radius"] == 50.0 / 4.0
    assert np.count_nonzero(res.history["step_size"][1:] == 0.0) == len(rejected)
    keys = {"inner_iterations", "inner_stop", "rho", "radius", "model_decrease",
            "total_inner_iterations"}
    assert all(keys <= set(s.extra) for s in solver.steps)
    # one Hessian-vector product per inner iteration, and nothing else asks for one
    assert res.nhev == sum(s.extra["inner_iterations"] for s in solver.steps)
    assert solver.steps[-1].extra["total_inner_iterations"] == res.nhev
    # one cost per proposal, the gradient once per accepted step (plus the start)
    assert res.ngev == 1 + sum(s.accepted for s in solver.steps)


def test_trust_regions_radius_schedule():
    manifold = Stiefel(10, 3)
    a, nn, _, _ = brockett_data("stiefel", "float64")
    solver = RecordingTrustRegions(gradient_tolerance=1e-10)
    solver.run(brockett(manifold, a, nn), x0=manifold.random_point(rng=1))
    radius = manifold.typical_dist / 8.0  # Manopt's Δ₀ = Δ̄/8
    for step in solver.steps:
        rho, stop = step.extra["rho"], step.extra["inner_stop"]
        if not rho >= 0.25:
            radius /= 4.0
        elif rho > 0.75 and stop in ("negative curvature", EXCEEDED_RADIUS):
            radius = min(2.0 * radius, manifold.typical_dist)
        assert step.extra["radius"] == pytest.approx(radius, rel=1e-12)
        assert step.accepted == (rho > 0.1)


def test_wrong_gradient_collapses_the_region_and_fails():
    manifold = Stiefel(10, 3)
    a, nn, _, _ = brockett_data("stiefel", "float64")
    shift = np.random.default_rng(7).standard_normal((10, 3))
    problem = Problem(manifold, lambda x: np.trace(x.T @ a @ x @ nn),
                      euclidean_gradient=lambda x: 2 * a @ x @ nn + shift,
                      euclidean_hessian=lambda x, v: 2 * a @ v @ nn)
    res = RiemannianTrustRegions(max_iterations=500).run(problem, x0=manifold.random_point(rng=1))
    assert not res.success
    assert res.status == "trust_region_collapsed", res.status
    assert "check_hessian" in res.message
    assert res.nit < 100


def test_preconditioner_is_applied_to_tangent_residuals():
    manifold = Stiefel(10, 3)
    a, nn, optimum, _ = brockett_data("stiefel", "float64")
    calls = []

    def preconditioner(x, r):
        calls.append(float(np.linalg.norm(x.T @ r + r.T @ x)))
        return 0.5 * r

    res = RiemannianTrustRegions(preconditioner=preconditioner, gradient_tolerance=1e-10).run(
        brockett(manifold, a, nn), x0=manifold.random_point(rng=1))
    assert res.success and abs(res.fun - optimum) <= 1e-10 * abs(optimum)
    assert calls and max(calls) <= 1e-12


def test_truncated_cg_stops_on_the_boundary_with_the_right_length():
    manifold = Stiefel(10, 3)
    a, nn, _, _ = brockett_data("stiefel", "float64")
    problem = brockett(manifold, a, nn)
    evaluation = problem.at(manifold.random_point(rng=1))
    inner = truncated_conjugate_gradient(manifold, evaluation, radius=1e-3)
    assert inner.stop in (EXCEEDED_RADIUS, "negative curvature")
    assert float(np.linalg.norm(inner.eta)) == pytest.approx(1e-3, rel=1e-12)
    assert inner.model_decrease > 0
    # a large radius: the model's minimizer, the residual below its target
    inner = truncated_conjugate_gradient(manifold, evaluation, radius=1e3, kappa=1e-8)
    if inner.stop.startswith("reached"):
        residual = evaluation.gradient + evaluation.hess(inner.eta)
        assert np.linalg.norm(residual) <= 1e-6 * evaluation.grad_norm


# -- minimize and the constructor -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["trust-regions", "lbfgs"])
def test_minimize_methods(method):
    assert method in METHODS
    a, nn, optimum, _ = brockett_data("so", "float64")
    x0 = SpecialOrthogonal(6).random_point(rng=1)
    res = minimize(lambda x: anp.trace(x.T @ a @ x @ nn), x0, method=method,
                   options={"gradient_tolerance": 1e-10})
    assert res.success and abs(res.fun - optimum) <= 1e-10 * abs(optimum)


def test_minimize_trust_regions_with_jac_uses_finite_differences():
    a, nn, optimum, _ = brockett_data("stiefel", "float64")
    x0 = Stiefel(10, 3).random_point(rng=1)
    res = minimize(lambda x: np.trace(x.T @ a @ x @ nn), x0, method="trust-regions",
                   jac=lambda x: 2 * a @ x @ nn, options={"gradient_tolerance": 1e-10})
    assert res.success and abs(res.fun - optimum) <= 1e-10 * abs(optimum)
    assert res.ngev > 2 * res.nhev  # two gradients per Hessian-vector product


@pytest.mark.parametrize("kwargs,match", [
    ({"max_radius": -1.0}, "max_radius"),
    ({"initial_radius": 2.0, "max_radius": 1.0}, "exceeds max_radius"),
    ({"accept_ratio": 0.5}, "accept_ratio"),
    ({"kappa": 1.5}, "kappa"),
    ({"theta": 0.0}, "theta"),
    ({"max_inner_iterations": 0}, "max_inner_iterations"),
    ({"rho_regularization": -1.0}, "rho_regularization"),
])
def test_trust_regions_rejects_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RiemannianTrustRegions(**kwargs)
    with pytest.raises(TypeError, match="preconditioner"):
        RiemannianTrustRegions(preconditioner="jacobi")


def test_lbfgs_rejects_bad_options_and_has_no_stochastic_step():
    with pytest.raises(ValueError, match="memory"):
        RiemannianLBFGS(memory=0)
    with pytest.raises(TypeError, match="step_size"):
        RiemannianLBFGS(step_size="wolfe")
    solver = RiemannianLBFGS(step_size=StrongWolfe(curvature=0.5))
    x = Stiefel(5, 2).random_point(rng=0)
    with pytest.raises(NotImplementedError, match="RiemannianSGD"):
        solver.step(x, x, solver.init_state(x, rng=0))


def test_lbfgs_extras():
    manifold, a, nn = ill_conditioned_brockett(condition=10.0)
    steps = []

    class Recording(RiemannianLBFGS):
        def _iterate(self, problem, current, state):
            step = super()._iterate(problem, current, state)
            steps.append(step)
            return step

    res = Recording(memory=4).run(brockett(manifold, a, nn, hessian=False), rng=1)
    assert res.success
    assert steps[0].extra["restarted"] and steps[0].extra["pairs"] == 0
    assert max(s.extra["pairs"] for s in steps if s.status is None) == 4
    assert all(s.extra["skipped"] >= 0 for s in steps if s.status is None)
    assert to_numpy(res.x).shape == (12, 3)


def test_trust_regions_report_a_cost_that_turns_nan_as_nonfinite():
    """The default method: a cost that turns NaN mid-run ends "nonfinite" with the last
    finite iterate on the manifold (it ended "trust_region_collapsed" before)."""
    import orthopt

    a = np.diag(np.arange(1.0, 7.0))
    x0 = np.linalg.qr(np.random.default_rng(0).standard_normal((6, 2)))[0]
    calls = {"n": 0}

    def cost(x):
        calls["n"] += 1
        return np.nan if calls["n"] > 6 else float(np.trace(x.T @ a @ x))

    res = orthopt.minimize(cost, x0, jac=lambda x: 2 * a @ x)
    assert res.status == "nonfinite" and not res.success
    assert np.isfinite(res.fun) and np.all(np.isfinite(res.x))
    assert orthopt.Stiefel(6, 2).feasibility(res.x) <= 100 * np.finfo(float).eps
