"""Stopping criteria as objects, and the keyword options that build them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orthopt.manifolds import SpecialOrthogonal, Stiefel
from orthopt.optim import (
    CostChange,
    GradientNorm,
    MaxEvaluations,
    MaxIterations,
    MaxTime,
    Problem,
    RiemannianConjugateGradient,
    RiemannianGradientDescent,
    StepSize,
    minimize,
)
from orthopt.optim.stopping import AllOf, AnyOf, Progress


def _progress(**kw):
    base = dict(iteration=5, cost=1.0, grad_norm=1e-3, initial_grad_norm=1.0, step_size=0.1,
                step_floor=np.finfo(float).eps, costs=[3.0, 2.0, 1.0], time=1.0,
                n_evaluations=10)
    base.update(kw)
    return Progress(**base)


def _brockett(n=12, p=3, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n))
    a = a + a.T
    w = np.arange(p, 0, -1.0)
    manifold = Stiefel(n, p)
    problem = Problem(manifold, lambda x: float(np.sum(x * (a @ x) * w)),
                      euclidean_gradient=lambda x: 2 * (a @ x) * w)
    eigenvalues = np.linalg.eigvalsh(a)
    return problem, manifold.random_point(rng=seed + 1), float(eigenvalues[:p] @ w)


@pytest.mark.parametrize("criterion, fires, status, converged", [
    (MaxIterations(5), True, "max_iterations", False),
    (MaxIterations(6), False, "max_iterations", False),
    (MaxTime(0.5), True, "max_time", False),
    (MaxEvaluations(11), False, "max_evaluations", False),
    (GradientNorm(1e-3), True, "gradient_tolerance", True),
    (GradientNorm(1e-4), False, "gradient_tolerance", True),
    (GradientNorm(1e-2, relative=True), True, "gradient_tolerance", True),
    (StepSize(0.1), True, "step_tolerance", True),
    (StepSize(0.01), False, "step_tolerance", True),
    (CostChange(1.0), True, "cost_tolerance", True),      # |1 − 2| ≤ 1·max(1, |f|)
    (CostChange(0.5), False, "cost_tolerance", True),
    (CostChange(2.0, window=2), True, "cost_tolerance", True),
    (CostChange(1.0, window=3), False, "cost_tolerance", True),  # not enough history
])
def test_each_criterion_reads_the_progress(criterion, fires, status, converged):
    assert criterion.fired(_progress()) is fires
    assert criterion.status == status and criterion.converged is converged
    assert isinstance(criterion.reason(_progress()), str)


def test_a_rejected_step_never_fires_a_step_criterion():
    assert not StepSize(1.0).fired(_progress(step_size=None))
    # the dtype's eps is a floor under the tolerance
    assert StepSize(0.0).fired(_progress(step_size=1e-17))
    assert not StepSize(0.0).fired(_progress(step_size=1e-15))


def test_combinations_report_the_member_that_fired():
    any_of = MaxIterations(100) | GradientNorm(1e-2) | StepSize(1e-9)
    assert isinstance(any_of, AnyOf) and len(any_of.criteria) == 3  # flattened
    fired = any_of.check(_progress())
    assert isinstance(fired, GradientNorm) and fired.converged
    all_of = GradientNorm(1e-2) & CostChange(1.0)
    assert isinstance(all_of, AllOf)
    assert all_of.check(_progress()) is all_of and all_of.converged
    assert all_of.status == "gradient_tolerance"
    assert (GradientNorm(1e-2) & CostChange(0.1)).check(_progress()) is None
    assert "GradientNorm(0.01) & CostChange(1.0)" == repr(all_of)
    assert "MaxIterations(100) | GradientNorm(0.01) | StepSize(1e-09)" == repr(any_of)


def test_a_criterion_object_drives_a_run_and_is_named_in_the_result():
    problem, x0, optimum = _brockett()
    stopping = MaxIterations(500) | GradientNorm(1e-9)
    res = RiemannianConjugateGradient(stopping=stopping).run(problem, x0=x0)
    assert res.status == "gradient_tolerance" and res.success
    assert isinstance(res.stopping, GradientNorm) and res.stopping.tol == 1e-9
    assert res.grad_norm <= 1e-9 and "below tolerance" in res.message
    assert abs(res.fun - optimum) <= 1e-10 * abs(optimum)
    short = RiemannianConjugateGradient(stopping=MaxIterations(3)).run(problem, x0=x0)
    assert short.status == "max_iterations" and not short.success and short.nit == 3
    assert isinstance(short.stopping, MaxIterations)


def test_keyword_options_and_minimize_options_build_the_same_criterion():
    problem, x0, _ = _brockett(seed=3)
    by_keyword = RiemannianGradientDescent(step_size="bb", max_iterations=7).run(problem, x0)
    by_object = RiemannianGradientDescent(
        step_size="bb", stopping=GradientNorm(1e-6) | MaxIterations(7)).run(problem, x0)
    assert by_keyword.nit == by_object.nit == 7
    assert by_keyword.fun == by_object.fun
    res = minimize(problem._cost, x0, method="rgd-bb", jac=problem._euclidean_gradient,
                   manifold=problem.manifold, options={"max_iterations": 7})
    assert res.nit == 7 and res.fun == by_keyword.fun


def test_max_evaluations_counts_cost_evaluations():
    problem, x0, _ = _brockett(seed=4)
    res = RiemannianGradientDescent(stopping=MaxEvaluations(20)).run(problem, x0)
    assert res.status == "max_evaluations" and 20 <= res.nfev <= 20 + 41


@pytest.mark.parametrize("kwargs, error, match", [
    ({"max_iterations": math.inf}, ValueError, "non-negative integer.*inf"),
    ({"max_iterations": 1.5}, ValueError, "non-negative integer.*1.5"),
    ({"max_iterations": -1}, ValueError, "max_iterations"),
    ({"max_iterations": True}, ValueError, "max_iterations"),
    ({"gradient_tolerance": -1e-3}, ValueError, "gradient_tolerance"),
    ({"max_time": 0}, ValueError, "max_time"),
    ({"stopping": 100}, TypeError, "stopping criterion"),
    ({"stopping": "max_iterations"}, TypeError, "stopping criterion"),
    ({"stopping": MaxIterations(5), "max_iterations": 5}, TypeError, "not both"),
])
def test_bad_stopping_options_get_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        RiemannianGradientDescent(**kwargs)


def test_criteria_combine_only_with_criteria():
    with pytest.raises(TypeError, match="combine"):
        MaxIterations(5) | 3


def test_one_solver_object_runs_two_problems_with_their_own_state():
    """No run state on the solver: two interleaved runs equal two separate runs."""
    p1, x1, _ = _brockett(seed=5)
    p2, x2, _ = _brockett(n=9, p=2, seed=6)
    solver = RiemannianGradientDescent(step_size="bb", max_iterations=15)
    sep1, sep2 = solver.run(p1, x1), solver.run(p2, x2)

    seen = []

    def callback(r):  # run the second problem from inside the first one
        if not seen:
            seen.append(solver.run(p2, x2))

    inter1 = solver.run(p1, x1, callback=callback)
    assert inter1.fun == sep1.fun and seen[0].fun == sep2.fun


def test_the_rng_goes_into_the_run_not_the_solver():
    manifold = SpecialOrthogonal(5)
    a = np.diag(np.arange(1.0, 6.0))
    problem = Problem(manifold, lambda x: float(np.sum((x - a) ** 2)),
                      euclidean_gradient=lambda x: 2 * (x - a))
    solver = RiemannianGradientDescent(max_iterations=3)
    r1, r2 = solver.run(problem, rng=11), solver.run(problem, rng=11)
    assert np.array_equal(r1.x, r2.x)
    assert not any(isinstance(v, np.random.Generator) for v in vars(solver).values())
