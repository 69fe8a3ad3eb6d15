"""Feasibility is kept inside the solvers: no run ends infeasible from rounding drift."""

from __future__ import annotations

import numpy as np
import pytest

from orthopt.manifolds import SpecialOrthogonal, Stiefel
from orthopt.optim import Problem, RiemannianConjugateGradient, RiemannianGradientDescent
from orthopt.optim.feasibility import FeasibilityGuard

EPS = float(np.finfo(np.float64).eps)


def _so3_batch(seed, k=50):
    rng = np.random.default_rng(seed)
    manifold = SpecialOrthogonal(3)   # default retraction: exp
    a = rng.standard_normal((k, 3, 3))
    b = rng.standard_normal((k, 3, 3))
    problem = Problem(manifold, lambda x: float(np.sum((a @ x - b) ** 2)),
                      euclidean_gradient=lambda x: 2 * np.swapaxes(a, -1, -2) @ (a @ x - b))
    x0 = np.stack([manifold.random_point(rng=rng) for _ in range(k)])
    return problem, x0


@pytest.mark.parametrize("seed", range(15))
def test_a_batch_of_so3_problems_with_the_exp_retraction_stays_feasible(seed):
    """Before the guard, 5 of these 15 seeds ended "infeasible" (drift up to 1.8e-11)."""
    problem, x0 = _so3_batch(seed)
    res = RiemannianGradientDescent(step_size="bb", max_iterations=5000,
                                    gradient_tolerance=1e-12).run(problem, x0=x0)
    assert res.status != "infeasible" and res.success, res.status
    assert problem.manifold.feasibility(res.x) <= 10 * EPS * np.sqrt(3) * 50
    # the result is a valid start of a warm restart
    again = RiemannianGradientDescent(step_size="bb").run(problem, x0=res.x)
    assert again.success and again.nit <= 2


def test_the_guard_repairs_rounding_drift_and_keeps_the_rotation():
    rng = np.random.default_rng(1)
    manifold = SpecialOrthogonal(40)
    x = manifold.random_point(rng=rng)
    drifted = x + 1e-11 * rng.standard_normal(x.shape)
    guard = FeasibilityGuard(manifold, x, np.random.default_rng(2))
    assert guard.residual(x) <= 10 * EPS * np.sqrt(40)
    restored = guard.restore(drifted)
    assert guard.n_restorations == 1
    assert manifold.feasibility(restored) <= 100 * EPS * np.sqrt(40)
    assert np.linalg.det(restored) > 0
    assert np.linalg.norm(restored - x) <= np.linalg.norm(drifted - x)  # no larger move
    assert guard.restore(restored) is restored            # nothing to do: no work


def test_the_guard_leaves_a_broken_step_visible():
    """A 1 % error is not rounding: repairing it would hide a bug, so the run ends infeasible."""
    manifold = Stiefel(6, 3)
    x = manifold.random_point(rng=0)
    guard = FeasibilityGuard(manifold, x, np.random.default_rng(0))
    assert guard.restore(1.01 * x) is not None
    assert manifold.feasibility(guard.restore(1.01 * x)) > 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("solver", [RiemannianGradientDescent(step_size="bb",
                                                              gradient_tolerance=1e-12,
                                                              max_iterations=3000),
                                    RiemannianConjugateGradient(gradient_tolerance=1e-12,
                                                                max_iterations=3000)])
def test_long_runs_on_so200_stay_feasible(solver):
    """rgd-bb on SO(200) used to end "infeasible" after about 1 400 iterations."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((200, 200))
    a = a + a.T
    w = np.diag(np.linspace(1.0, 2.0, 200))
    manifold = SpecialOrthogonal(200)
    problem = Problem(manifold, lambda x: float(np.sum(x * (a @ x @ w))),
                      euclidean_gradient=lambda x: 2 * a @ x @ w)
    res = solver.run(problem, rng=1)
    assert res.status != "infeasible", res.status
    assert manifold.feasibility(res.x) <= manifold.default_atol(np.float64)
