"""The textbook suite: ``orthopt.minimize(cost, x0)`` with no other argument solves each
problem of :mod:`textbook_problems` to its known optimum.

"Solves" means: ``res.success``, the cost within 1e-8 of the optimum
(relative, absolute for a zero optimum), ``res.x`` on the manifold with the
dtype of x0, and ``res.x`` accepted as the start of a warm restart that
succeeds at once. The default test run uses the small sizes (about a
second in all); ``-m slow`` adds the large ones.

The second part is the defaults target of issue 13: with default options,
every gradient method reaches 1e-8 relative cost on Brockett tr(XᵀAXN), A
dense symmetric, on SO(20) and St(100, 5).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import orthopt
from orthopt.optim.minimize import DEFAULT_METHOD, METHODS

sys.path.insert(0, os.path.dirname(__file__))
import textbook_problems as tp  # noqa: E402

@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Multithreaded OpenBLAS on a loaded 2-core machine runs 5–100× slower at times
    (DESIGN.md, Measuring); these solves are small, one thread is the fastest."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


#: the accuracy the issue asks for: relative to |f*|, absolute when f* = 0
TARGET = 1e-8


#: (problem, method) pairs known to miss the target within the default budget, with why.
#: Each entry is a strict xfail: when the method gets better, the test says so.
KNOWN_MISSES = {}   # none with trust regions, the default (rgd missed Brockett here before)


def _mark_known_miss(problem, method):
    reason = KNOWN_MISSES.get((problem, method))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(problem, marks=marks, id=problem)


def _check_solved(instance, res, x0):
    eps = np.finfo(x0.dtype).eps
    manifold = instance.orthopt_manifold()
    assert res.success, f"{res.status}: {res.message} (‖grad‖ = {res.grad_norm:.1e})"
    error = instance.relative_error(res.fun)
    assert error <= TARGET, f"(f − f*)/|f*| = {error:.2e} after {res.nit} iterations"
    # never below the optimum by more than rounding of the cost
    assert error >= -100 * eps, f"below the known optimum: {error:.2e}"
    assert res.x.shape == x0.shape and res.x.dtype == x0.dtype
    assert manifold.feasibility(res.x) <= manifold.default_atol(x0.dtype)
    assert res.fun == pytest.approx(float(instance.cost(res.x)), rel=100 * eps, abs=100 * eps)


def _check_warm_restart(instance, res):
    again = orthopt.minimize(instance.cost, res.x)
    assert again.success, f"warm restart: {again.status}: {again.message}"
    if res.status == "gradient_tolerance":
        # the same default tolerance holds at the start: nothing to do
        assert again.nit == 0
    assert instance.relative_error(again.fun) <= TARGET


@pytest.mark.parametrize("name", [_mark_known_miss(name, DEFAULT_METHOD)
                                  for name in tp.PROBLEMS])
def test_default_minimize_solves_textbook_problem(name):
    instance = tp.make(name, seed=0)
    res = orthopt.minimize(instance.cost, instance.x0)
    _check_solved(instance, res, instance.x0)
    _check_warm_restart(instance, res)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("name", [_mark_known_miss(name, DEFAULT_METHOD)
                                  for name in tp.PROBLEMS])
def test_default_minimize_solves_large_textbook_problem(name, seed):
    instance = tp.make(name, seed=seed, size="large")
    res = orthopt.minimize(instance.cost, instance.x0)
    _check_solved(instance, res, instance.x0)


def test_suite_covers_the_manifolds():
    """At least ten problems, a complex one, a square one (n = p), the sphere."""
    instances = [tp.make(name) for name in tp.PROBLEMS]
    assert len(instances) >= 10
    kinds = {instance.manifold for instance in instances}
    assert {"stiefel", "stiefel-complex", "so", "unitary"} <= kinds
    assert any(instance.n == instance.p for instance in instances)
    assert any(instance.p == 1 for instance in instances)


@pytest.mark.parametrize("name", list(tp.PROBLEMS))
def test_known_optimum_and_hand_gradient(name):
    """The closed-form minimizer is on the manifold and attains the optimum; the
    hand-written gradient is autograd's; the start is a point of the manifold."""
    import autograd

    instance = tp.make(name, seed=3)
    eps = np.finfo(np.float64).eps
    manifold = instance.orthopt_manifold()
    assert manifold.feasibility(instance.minimizer) <= manifold.default_atol(np.float64)
    manifold.check_point(instance.x0)
    if instance.manifold == "so":
        assert np.linalg.det(instance.x0) > 0 and np.linalg.det(instance.minimizer) > 0
    assert abs(instance.relative_error(instance.cost(instance.minimizer))) <= 1000 * eps
    expected = autograd.grad(instance.cost)(instance.x0)
    if instance.is_complex:
        expected = np.conj(expected)  # autograd's ∂/∂Re − i∂/∂Im; orthopt's ∂/∂Re + i∂/∂Im
    np.testing.assert_allclose(instance.gradient(instance.x0), expected,
                               rtol=1e3 * eps, atol=1e3 * eps * np.abs(expected).max())


# -- issue 13's defaults target: Brockett on SO(20) and St(100, 5) ---------------------------

BROCKETT_METHODS = ("rgd", "rgd-bb", "cg", "trust-regions", "lbfgs")

#: method → reason it misses the defaults target today (strict xfail)
BROCKETT_KNOWN_MISSES = {}   # Armijo rgd missed both before its Barzilai–Borwein first trials


def _brockett_instance(shape):
    if shape == "SO(20)":
        return tp.brockett_so(seed=0, n=20)
    return tp.brockett_stiefel(seed=0, n=100, p=5)


@pytest.mark.parametrize("shape", ["SO(20)", "St(100, 5)"])
@pytest.mark.parametrize("method", [
    pytest.param(m, marks=[pytest.mark.xfail(strict=True, reason=BROCKETT_KNOWN_MISSES[m])]
                 if m in BROCKETT_KNOWN_MISSES else [])
    for m in BROCKETT_METHODS])
def test_default_options_reach_brockett_optimum(method, shape):
    if method not in METHODS:
        pytest.skip(f"method {method!r} is not registered in orthopt.optim.minimize.METHODS "
                    f"on this branch")
    instance = _brockett_instance(shape)
    res = orthopt.minimize(instance.cost, instance.x0, method=method)
    _check_solved(instance, res, instance.x0)


def test_cg_at_the_optimum_of_rotation_averaging_reports_success():
    """CG's retry along −grad used to start from a unit-length step (1e6 here): its failure
    was blamed on the search, not the precision limit, and the run at the optimum ended
    line_search_failed."""
    instance = tp.rotation_averaging(seed=1, k=200)
    res = orthopt.minimize(instance.cost, instance.x0, method="cg")
    assert res.success, (res.status, res.message)
