"""Sparse PCA on the solver core (issue 13, item 10): ManPG as a Solver over a composite
problem, the refit as a manifold plus a core solver, one result type."""

import math

import numpy as np
import pytest

from orthopt import check_gradient
from orthopt.decomposition import load_pitprops, manpg, orthogonality_error
from orthopt.decomposition.composite import CompositeProblem
from orthopt.decomposition.manpg import ManPG, sparse_pca_problem
from orthopt.decomposition.problem import captured_variance
from orthopt.decomposition.refit import (
    SupportStiefel,
    project_to_support_manifold,
    refit_on_support,
)
from orthopt.manifolds import Stiefel
from orthopt.optim import GradientNorm, MaxIterations, OptimizeResult, Problem

EPS = np.finfo(np.float64).eps
R = 6


@pytest.fixture(scope="module")
def pitprops():
    return load_pitprops()[0]


@pytest.fixture(scope="module")
def pca_start(pitprops):
    return np.linalg.eigh(pitprops)[1][:, ::-1][:, :R].copy()


# ------------------------------------------------------------------ ManPG


def test_manpg_is_a_core_solver(pitprops, pca_start):
    """A ManPG object with criterion objects; the result says which one fired."""
    problem = sparse_pca_problem(pitprops, R, 0.5)
    stopping = GradientNorm(1e-8) | MaxIterations(1000)
    res = ManPG(stopping=stopping).run(problem, pca_start)
    assert isinstance(res, OptimizeResult)
    assert res.status == "gradient_tolerance" and res.success
    assert isinstance(res.stopping, GradientNorm) and res.stopping.tol == 1e-8
    # grad_norm is ManPG's stationarity measure ‖V‖/t, what GradientNorm read
    assert res.grad_norm <= 1e-8
    assert res.history["grad_norm"][-1] == res.grad_norm
    assert orthogonality_error(res.x) <= 100 * EPS * R
    # fun is F = f + α‖x‖₁ at x
    value = captured_variance(res.x, pitprops @ res.x, "total")[0]
    assert res.fun == pytest.approx(-value + 0.5 * np.abs(res.x).sum(), rel=10 * EPS)
    # the function is a thin wrapper around the same solver
    wrapped = manpg(pitprops, R, 0.5, init=pca_start, tol=1e-8)
    assert wrapped.nit == res.nit
    np.testing.assert_array_equal(wrapped.x, res.x)
    assert wrapped.stationarity == wrapped.grad_norm
    assert isinstance(wrapped, OptimizeResult)


def test_manpg_iteration_budget(pitprops, pca_start):
    res = ManPG(stopping=MaxIterations(5) | GradientNorm(1e-12)).run(
        sparse_pca_problem(pitprops, R, 0.5), pca_start)
    assert res.status == "max_iterations" and not res.success
    assert isinstance(res.stopping, MaxIterations)
    assert res.nit == 5 and len(res.history["cost"]) == 6
    # keyword options build the same criterion
    res2 = ManPG(max_iterations=5, gradient_tolerance=1e-12).run(
        sparse_pca_problem(pitprops, R, 0.5), pca_start)
    assert res2.status == "max_iterations" and res2.nit == 5
    np.testing.assert_array_equal(res2.x, res.x)


def test_manpg_takes_armijo_steps_of_its_own_rule(pitprops):
    """Every accepted step meets F(x⁺) ≤ F(x) − β‖V‖²/(2t) (the core test with c₁ = ½ and
    φ'(0) = −‖V‖²/t), where the decrease is above the rounding of F."""
    res = manpg(pitprops, R, 0.5, tol=1e-9)
    cost = res.history["cost"]
    step = res.history["step_size"][1:]          # β‖V‖
    measure = res.history["grad_norm"][:-1]      # ‖V‖/t at the point the step left
    decrease = cost[:-1] - cost[1:]
    required = 0.5 * step * measure              # β‖V‖²/(2t)
    resolvable = required > 1e3 * EPS * np.abs(cost[1:])
    assert resolvable.sum() >= 50
    assert np.all(decrease[resolvable] >= required[resolvable] * (1 - 1e-8))
    # and nowhere an increase beyond rounding
    assert np.all(decrease >= -10 * EPS * np.abs(cost[1:]))


def test_manpg_float32_stops_at_its_precision(pitprops):
    """The acceptance test's rounding slack follows the dtype: in float32 ManPG reaches a
    stationarity measure of float32 precision and stops with a convergence status."""
    a32 = pitprops.astype(np.float32)
    res = manpg(a32, R, 0.5, tol=1e-9)
    assert res.x.dtype == np.float32
    assert res.status in ("gradient_tolerance", "precision_limit") and res.success
    assert res.stationarity <= 1e-2
    assert orthogonality_error(res.x) <= 1000 * np.finfo(np.float32).eps * math.sqrt(13)
    ref = manpg(pitprops, R, 0.5, tol=1e-9)
    assert res.fun == pytest.approx(ref.fun, rel=1e-5)


def _counting_problem(pitprops, nan_after):
    """The sparse-PCA composite problem whose smooth part turns NaN after some calls."""
    calls = []

    def cost_and_gradient(y):
        calls.append(1)
        value, gradient = captured_variance(y, pitprops @ y, "total")
        if len(calls) > nan_after:
            return math.nan, gradient * math.nan
        return -value, -gradient

    smooth = Problem(Stiefel(13, R, retraction="polar"), lambda y: cost_and_gradient(y)[0],
                     cost_and_gradient=cost_and_gradient)
    t = 1 / (2 * np.linalg.eigvalsh(pitprops)[-1])
    return CompositeProblem(smooth, 0.5, lr=t)


@pytest.mark.parametrize("nan_after", [0, 10])
def test_manpg_nonfinite_cost(pitprops, pca_start, nan_after):
    """A cost that turns NaN stops the run with status "nonfinite" and the last finite
    iterate, on the manifold (at the start: no iteration at all)."""
    problem = _counting_problem(pitprops, nan_after)
    res = ManPG(max_iterations=100).run(problem, pca_start)
    assert res.status == "nonfinite" and not res.success
    if nan_after == 0:
        assert res.nit == 0
        np.testing.assert_array_equal(res.x, pca_start)
    else:
        assert 1 <= res.nit < 10
        assert math.isfinite(res.fun) and np.all(np.isfinite(res.x))
        assert orthogonality_error(res.x) <= 100 * EPS * R


def test_manpg_needs_a_composite_problem(pitprops, pca_start):
    plain = Problem(Stiefel(13, R), lambda y: -np.trace(y.T @ pitprops @ y),
                    euclidean_gradient=lambda y: -2 * pitprops @ y)
    with pytest.raises(TypeError, match="CompositeProblem"):
        ManPG(max_iterations=3).run(plain, pca_start)
    with pytest.raises(ValueError, match="lr"):
        CompositeProblem(plain, 0.5, 0.0)
    with pytest.raises(ValueError, match="l1_weight"):
        CompositeProblem(plain, -1.0, 0.1)


def test_composite_measure_is_the_gradient_norm_without_l1(pitprops, pca_start):
    """With α = 0, V = −t·grad f, so the measure ‖V‖/t is ‖grad f‖."""
    rng = np.random.default_rng(0)
    x, _ = np.linalg.qr(rng.standard_normal((13, R)))
    problem = sparse_pca_problem(pitprops, R, 0.0)
    evaluation = problem.at(x)
    assert evaluation.grad_norm == pytest.approx(
        np.linalg.norm(evaluation.gradient), rel=1e-10)


# ------------------------------------------------------------------ the refit


@pytest.fixture(scope="module")
def support_point(pitprops):
    """A point of 𝓜_S whose columns overlap (S from ManPG at α = 0.2)."""
    x = manpg(pitprops, R, 0.2, tol=1e-7).x
    support = np.abs(x) > 1e-5
    z, error = project_to_support_manifold(x, support.astype(float))
    assert error <= 10 * EPS * R
    return z, support


def _slope(t, errors, floor):
    keep = errors > floor
    return np.polyfit(np.log(t[keep]), np.log(errors[keep]), 1)[0]


def test_support_manifold_retraction(support_point):
    x, support = support_point
    manifold = SupportStiefel(support)
    assert manifold.feasibility(x) <= 10 * EPS * R
    rng = np.random.default_rng(1)
    v = manifold.random_tangent_vector(x, rng=rng)
    assert np.all(v[~support] == 0.0)
    np.testing.assert_allclose(manifold.retraction(x, 0 * v), x, atol=10 * EPS)
    t = np.logspace(-5, -1, 13)
    errors = []
    for ti in t:
        y = manifold.retraction(x, ti * v)
        assert manifold.feasibility(y) <= 10 * EPS * R   # on 𝓜_S: orthonormal, zeros kept
        errors.append(np.linalg.norm(y - x - ti * v))
    # R_x(tv) = x + tv + O(t²): a first-order retraction (the correction is normal)
    assert _slope(t, np.asarray(errors), 1e3 * EPS) == pytest.approx(2.0, abs=0.1)
    h = EPS ** (1 / 3)
    velocity = (manifold.retraction(x, h * v) - manifold.retraction(x, -h * v)) / (2 * h)
    assert np.linalg.norm(velocity - v) <= 100 * EPS ** (2 / 3)


def test_support_manifold_projection(support_point):
    x, support = support_point
    manifold = SupportStiefel(support)
    rng = np.random.default_rng(2)
    u = rng.standard_normal(x.shape)
    p = manifold.projection(x, u)
    np.testing.assert_allclose(manifold.projection(x, p), p, atol=1e3 * EPS)
    assert np.linalg.norm(x.T @ p + p.T @ x) <= 1e3 * EPS
    y = manifold.random_point(rng=3)
    assert manifold.feasibility(y) <= 10 * EPS * R and np.all(y[~support] == 0.0)
    # a stack of vectors (L-BFGS transports its pairs at once) is projected one by one
    stack = np.stack([u, 2 * u])
    np.testing.assert_allclose(manifold.projection(x, stack)[1], 2 * p, atol=1e3 * EPS)


@pytest.mark.parametrize("variance", ["total", "adjusted"])
def test_refit_problem_gradient_and_hessian(pitprops, support_point, variance):
    """Taylor tests on 𝓜_S: slope 2 for the gradient, slope 3 for the Hessian (the Newton
    retraction is second order, and the Weingarten term −P(vΛ) is right)."""
    x, support = support_point
    manifold = SupportStiefel(support)

    def cost_and_gradient(y):
        value, gradient = captured_variance(y, pitprops @ y, variance)
        return -value, -gradient

    def hessian(y, v):  # of −tr(yᵀAy); the adjusted variance gets a central difference
        return -2 * pitprops @ v

    problem = Problem(manifold, lambda y: cost_and_gradient(y)[0],
                      cost_and_gradient=cost_and_gradient,
                      euclidean_hessian=hessian if variance == "total" else None)
    assert check_gradient(problem, x, rng=3).passed
    rng = np.random.default_rng(4)
    v = manifold.random_tangent_vector(x, rng=rng)
    e = problem.at(x)
    first = np.sum(e.gradient * v)
    second = np.sum(e.hess(v) * v)
    t = np.logspace(-4, -2, 9)
    errors = np.array([abs(problem.cost(manifold.retraction(x, ti * v)) - e.cost - ti * first
                           - ti ** 2 / 2 * second) for ti in t])
    assert _slope(t, errors, 1e3 * EPS * abs(e.cost)) == pytest.approx(3.0, abs=0.2)


def test_refit_runs_on_the_core(pitprops):
    x = manpg(pitprops, R, 0.5, tol=1e-9).x
    res = refit_on_support(pitprops, x, tol=1e-10)
    assert isinstance(res, OptimizeResult)
    assert res.status == "gradient_tolerance" and isinstance(res.stopping, GradientNorm)
    assert res.stationarity == res.grad_norm <= 1e-10
    assert res.extra["feasible"] and res.extra["feasibility"] <= 10 * EPS * R
    assert -res.fun >= res.extra["start_variance"]


def test_manpg_lr_is_the_proximal_step(pitprops, pca_start):
    """``lr`` (the problem's) is t₀ of the gradient step B = X − t∇f and of ‖V_t‖/t."""
    problem = sparse_pca_problem(pitprops, R, 0.5, lr=0.05)
    res = ManPG(stopping=MaxIterations(0)).run(problem, pca_start)
    expected = problem.at(pca_start).proximal_step(0.05).stationarity
    assert res.grad_norm == pytest.approx(expected, rel=1e-10)
    default = sparse_pca_problem(pitprops, R, 0.5)
    assert default.lr == pytest.approx(1 / (2 * np.linalg.eigvalsh(pitprops)[-1]), rel=1e-12)
    assert res.grad_norm != pytest.approx(default.at(pca_start).grad_norm, rel=1e-3)
    # the function's old name for it still works
    old = manpg(pitprops, R, 0.5, step_size=0.05, max_iter=3)
    new = manpg(pitprops, R, 0.5, lr=0.05, max_iter=3)
    np.testing.assert_array_equal(old.x, new.x)
    assert new.extra["lr"] == 0.05
