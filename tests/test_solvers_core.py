"""Gradient descent and conjugate gradients: convergence, stopping rules, steps.

Every solver is run on three problems whose optimum is known in closed form,
on NumPy and on array-api-strict (hand-written gradients there: autograd only
differentiates NumPy code):

* Brockett   min tr(xᵀ A x N) on St(n, p), N = diag(p, …, 1): the optimum
  Σ_i λ_i N_ii pairs the p smallest eigenvalues λ₁ ≤ … ≤ λ_p of A with the
  largest weights (von Neumann's trace inequality).
* Procrustes min ‖A x − B‖²_F on SO(n), B = A Q_true + noise: the O(n)
  minimizer is SciPy's ``orthogonal_procrustes`` and, for small noise, it has
  det +1 so it is also the SO(n) minimizer.
* Dominant subspace  min −tr(xᵀ A x) on St(n, p): optimum −(sum of the p
  largest eigenvalues).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from orthopt.backend import get_namespace, to_numpy
from orthopt.manifolds import SpecialOrthogonal, Stiefel
from orthopt.optim import (
    Problem,
    RiemannianConjugateGradient,
    RiemannianGradientDescent,
    Armijo,
    StrongWolfe,
    minimize,
)
from orthopt.optim.solver import SolverState, _message

try:
    import array_api_strict as xs
except ImportError:  # pragma: no cover - test extra missing
    xs = None

EPS = float(np.finfo(np.float64).eps)
BACKENDS = ("numpy", "strict")


def _to_backend(a, backend):
    if backend == "numpy":
        return np.asarray(a)
    if xs is None:
        pytest.skip("array-api-strict is not installed")
    return xs.asarray(np.asarray(a))


# -- the three test problems ----------------------------------------------------------


def brockett(backend, n=10, p=3, seed=0):
    """(problem, x0, optimal cost) for min tr(xᵀAxN) on St(n, p)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    eigenvalues = np.linspace(1.0, 3.0, n)
    a_host = (q * eigenvalues) @ q.T
    weights = np.arange(p, 0, -1.0)
    optimum = float(np.sum(np.linalg.eigvalsh(a_host)[:p] * weights))
    a = _to_backend(a_host, backend)
    w = _to_backend(weights, backend)

    def cost_and_gradient(x):
        xp = get_namespace(x)
        ax = a @ x
        return xp.sum(x * ax * w), 2 * ax * w

    manifold = Stiefel(n, p)
    x0 = _to_backend(manifold.random_point(rng=seed + 1), backend)
    return Problem(manifold, None, cost_and_gradient=cost_and_gradient), x0, optimum


def procrustes(backend, n=6, m=12, seed=0):
    """(problem, x0, optimal cost) for min ‖Ax − B‖² on SO(n)."""
    rng = np.random.default_rng(seed)
    a_host = rng.standard_normal((m, n))
    q_true = SpecialOrthogonal(n).random_point(rng=seed + 2)
    b_host = a_host @ q_true + 1e-2 * rng.standard_normal((m, n))
    r, _ = scipy.linalg.orthogonal_procrustes(a_host, b_host)
    assert np.linalg.det(r) > 0  # the O(n) optimum is a rotation
    optimum = float(np.sum((a_host @ r - b_host) ** 2))
    a, b = _to_backend(a_host, backend), _to_backend(b_host, backend)

    def cost(x):
        xp = get_namespace(x)
        return xp.sum((a @ x - b) ** 2)

    def gradient(x):
        return 2 * (a.T @ (a @ x - b))

    manifold = SpecialOrthogonal(n, retraction="qr")
    x0 = _to_backend(manifold.random_point(rng=seed + 1), backend)
    return Problem(manifold, cost, euclidean_gradient=gradient), x0, optimum


def dominant_subspace(backend, n=12, p=3, seed=0):
    """(problem, x0, optimal cost) for min −tr(xᵀAx) on St(n, p)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    spectrum = np.concatenate([np.linspace(0.5, 1.5, n - p), np.linspace(3.0, 4.0, p)])
    a_host = (q * spectrum) @ q.T
    optimum = -float(np.sum(spectrum[-p:]))
    a = _to_backend(a_host, backend)

    def cost_and_gradient(x):
        xp = get_namespace(x)
        ax = a @ x
        return -xp.sum(x * ax), -2 * ax

    manifold = Stiefel(n, p, retraction="polar")
    x0 = _to_backend(manifold.random_point(rng=seed + 1), backend)
    return Problem(manifold, None, cost_and_gradient=cost_and_gradient), x0, optimum


PROBLEMS = {"brockett": brockett, "procrustes": procrustes, "dominant": dominant_subspace}

SOLVERS = {
    "rgd-armijo": lambda **kw: RiemannianGradientDescent(step="armijo", **kw),
    "rgd-bb": lambda **kw: RiemannianGradientDescent(step="bb", **kw),
    "cg-hs": lambda **kw: RiemannianConjugateGradient(beta="hs", **kw),
    "cg-pr": lambda **kw: RiemannianConjugateGradient(beta="pr", **kw),
    "cg-fr": lambda **kw: RiemannianConjugateGradient(beta="fr", **kw),
    "cg-hz": lambda **kw: RiemannianConjugateGradient(beta="hz", **kw),
    "cg-hs-secant": lambda **kw: RiemannianConjugateGradient(beta="hs", initial_step="secant",
                                                             **kw),
    "cg-hz-armijo": lambda **kw: RiemannianConjugateGradient(beta="hz", line_search="armijo",
                                                             **kw),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("problem_name", sorted(PROBLEMS))
@pytest.mark.parametrize("solver_name", sorted(SOLVERS))
def test_solver_reaches_known_optimum(solver_name, problem_name, backend):
    problem, x0, optimum = PROBLEMS[problem_name](backend)
    solver = SOLVERS[solver_name](max_iterations=5000, gradient_tolerance=0.0,
                                  relative_gradient_tolerance=1e-7, step_tolerance=0.0)
    res = solver.run(problem, x0=x0)
    assert res.status == "gradient_tolerance", res.message
    assert abs(res.fun - optimum) <= 1e-8 * abs(optimum)
    # the result stays on the manifold, in the input's array library and dtype
    assert type(res.x) is type(x0) and res.x.dtype == x0.dtype
    assert problem.manifold.feasibility(res.x) <= 100 * EPS * math.sqrt(x0.shape[0])
    assert res.nit == len(res.history["cost"]) - 1
    assert res.nfev >= res.nit and res.ngev >= res.nit


@pytest.mark.parametrize("solver_name", ["rgd-bb", "cg-hs"])
def test_autograd_cost_on_numpy(solver_name):
    import autograd.numpy as anp

    rng = np.random.default_rng(3)
    n, p = 9, 2
    a = rng.standard_normal((n, n))
    a = a + a.T
    weights = anp.array([2.0, 1.0])
    optimum = float(np.sum(np.linalg.eigvalsh(a)[:p] * weights))
    manifold = Stiefel(n, p)
    problem = Problem(manifold, lambda x: anp.sum(x * (a @ x) * weights))
    solver = SOLVERS[solver_name](max_iterations=5000, gradient_tolerance=0.0,
                                  relative_gradient_tolerance=1e-7)
    res = solver.run(problem, x0=manifold.random_point(rng=4))
    assert res.status == "gradient_tolerance"
    assert abs(res.fun - optimum) <= 1e-8 * abs(optimum)


def test_cg_needs_fewer_iterations_than_gradient_descent():
    problem, x0, _ = brockett("numpy", n=30, p=4, seed=5)
    options = dict(max_iterations=20000, gradient_tolerance=0.0, relative_gradient_tolerance=1e-6,
                   step_tolerance=0.0)
    cg = RiemannianConjugateGradient(beta="hs", **options).run(problem, x0=x0)
    # classic steepest descent: Armijo from twice the last step (no Barzilai–Borwein guess)
    rgd = RiemannianGradientDescent(step_size=Armijo(guess="growth"), **options).run(problem,
                                                                                   x0=x0)
    assert cg.status == rgd.status == "gradient_tolerance"
    assert cg.nit < rgd.nit / 2


def test_cg_restarts_on_schedule():
    problem, x0, optimum = brockett("numpy", seed=6)
    solver = RiemannianConjugateGradient(beta="pr", restart_every=3, relative_gradient_tolerance=1e-7,
                                         gradient_tolerance=0.0, max_iterations=3000)
    res = solver.run(problem, x0=x0)
    assert res.status == "gradient_tolerance"
    assert abs(res.fun - optimum) <= 1e-8 * abs(optimum)


@pytest.mark.parametrize("beta", ["hs", "pr", "fr", "hz"])
def test_cg_direction_is_always_a_tangent_descent_direction(beta):
    problem, x0, _ = brockett("numpy", n=15, p=3, seed=7)
    manifold = problem.manifold
    solver = RiemannianConjugateGradient(beta=beta, max_iterations=40, gradient_tolerance=0.0)
    seen = []
    original = solver._direction

    def recording(manifold_, x, grad, grad_norm2, state):
        direction, slope, direction_norm2 = original(manifold_, x, grad, grad_norm2, state)
        assert direction_norm2 == pytest.approx(float(np.sum(direction**2)), rel=1e-12)
        seen.append((x, grad, direction, slope))
        return direction, slope, direction_norm2

    solver._direction = recording
    solver.run(problem, x0=x0)
    assert len(seen) == 40
    for x, grad, direction, slope in seen:
        assert slope == pytest.approx(float(manifold.inner_product(x, grad, direction)),
                                      rel=1e-12)
        assert slope < 0
        xd = x.T @ direction  # tangent: xᵀd + dᵀx = 0
        assert np.linalg.norm(xd + xd.T) <= 1e3 * EPS * (1.0 + np.linalg.norm(direction))
    # the conjugate update is used (not only steepest-descent restarts)
    assert sum(not np.allclose(d, -g) for _, g, d, _ in seen) >= 20


# -- strong-Wolfe line search ------------------------------------------------------------


@pytest.mark.parametrize("initial_step", [1e-4, 1e-1, 10.0, 1e3])
def test_strong_wolfe_conditions_hold(initial_step):
    problem, x0, _ = brockett("numpy", n=12, p=3, seed=8)
    manifold = problem.manifold
    cost, grad = problem.cost_and_riemannian_gradient(x0)
    direction = -grad
    slope = float(manifold.inner_product(x0, grad, direction))
    c1, c2 = 1e-4, 0.1
    rule = StrongWolfe(sufficient_decrease=c1, curvature=c2, max_evaluations=25,
                       initial_step=initial_step)
    res = rule.search(problem, problem.at(x0), direction, slope, rule.start())
    assert res.status is None
    assert res.cost <= float(cost) + c1 * res.step * slope
    new = res.evaluation
    new_slope = float(manifold.inner_product(new.x, new.gradient, direction))
    assert abs(new_slope) <= c2 * abs(slope)
    np.testing.assert_allclose(new.x, manifold.retraction(x0, res.step * direction),
                               rtol=0, atol=10 * EPS)
    # the evaluation carries the gradient of its own point, computed during the search
    assert new.has_gradient
    np.testing.assert_allclose(new.gradient, problem.riemannian_gradient(new.x), rtol=0,
                               atol=1e3 * EPS)


def test_strong_wolfe_shortens_through_nonfinite_trials():
    problem, x0, _ = brockett("numpy", seed=9)
    manifold = problem.manifold
    inner = problem._cost_and_gradient

    def guarded(x):  # NaN far from x0: as if the model blew up for long steps
        f, g = inner(x)
        return (f, g) if np.linalg.norm(x - x0) < 0.5 else (np.nan, g * np.nan)

    problem._cost_and_gradient = guarded
    cost, grad = problem.cost_and_riemannian_gradient(x0)
    slope = -float(manifold.inner_product(x0, grad, grad))
    rule = StrongWolfe(max_evaluations=25, initial_step=100.0)
    res = rule.search(problem, problem.at(x0), -grad, slope, rule.start())
    assert res.status is None and math.isfinite(res.cost) and res.cost < float(cost)


def test_strong_wolfe_reports_all_nonfinite():
    problem, x0, _ = brockett("numpy", seed=10)
    cost, grad = problem.cost_and_riemannian_gradient(x0)
    problem._cost_and_gradient = lambda x: (np.nan, np.full(x.shape, np.nan))
    current = problem.at(x0)
    current._cost = float(cost)
    rule = StrongWolfe(max_evaluations=5, initial_step=1.0)
    res = rule.search(problem, current, -grad, -1.0, rule.start())
    assert res.status == "nonfinite" and res.evaluation.x is x0 and res.step == 0.0


# -- stopping rules ------------------------------------------------------------------------


def _brockett_numpy(seed=11):
    return brockett("numpy", n=20, p=3, seed=seed)


@pytest.mark.parametrize("solver_name", ["rgd-bb", "cg-hz"])
def test_stop_on_absolute_gradient_tolerance(solver_name):
    problem, x0, _ = _brockett_numpy()
    res = SOLVERS[solver_name](gradient_tolerance=1e-3).run(problem, x0=x0)
    assert res.status == "gradient_tolerance" and res.success
    assert res.grad_norm <= 1e-3
    assert res.history["grad_norm"][-2] > 1e-3  # it did not stop later than needed


def test_stop_on_relative_gradient_tolerance():
    problem, x0, _ = _brockett_numpy()
    res = RiemannianConjugateGradient(gradient_tolerance=0.0,
                                      relative_gradient_tolerance=1e-4).run(problem, x0=x0)
    g0 = res.history["grad_norm"][0]
    assert res.status == "gradient_tolerance"
    assert res.grad_norm <= 1e-4 * g0 < res.history["grad_norm"][-2]


def test_stop_on_step_tolerance():
    problem, x0, _ = _brockett_numpy()
    res = RiemannianGradientDescent(step="armijo", gradient_tolerance=0.0,
                                    step_tolerance=1e-3).run(problem, x0=x0)
    assert res.status == "step_tolerance" and res.success
    assert res.history["step_size"][-1] <= 1e-3
    assert np.all(res.history["step_size"][1:-1] > 1e-3)


def test_stop_on_cost_tolerance():
    problem, x0, _ = _brockett_numpy()
    res = RiemannianConjugateGradient(gradient_tolerance=0.0, cost_tolerance=1e-6).run(
        problem, x0=x0)
    assert res.status == "cost_tolerance" and res.success
    cost = res.history["cost"]
    assert abs(cost[-1] - cost[-2]) <= 1e-6 * max(1.0, abs(cost[-1]))


@pytest.mark.parametrize("solver_name", sorted(SOLVERS))
def test_stop_on_max_iterations(solver_name):
    problem, x0, _ = _brockett_numpy()
    res = SOLVERS[solver_name](max_iterations=7, gradient_tolerance=0.0).run(problem, x0=x0)
    assert res.status == "max_iterations" and not res.success
    assert res.nit == 7 and len(res.history["cost"]) == 8
    assert res.fun == res.history["cost"][-1]


def test_stop_on_max_time():
    problem, x0, _ = _brockett_numpy()
    inner = problem._cost_and_gradient

    def slow(x):
        import time

        time.sleep(0.01)
        return inner(x)

    problem._cost_and_gradient = slow
    res = RiemannianConjugateGradient(max_time=0.1, gradient_tolerance=0.0,
                                      max_iterations=10**6).run(problem, x0=x0)
    assert res.status == "max_time"
    assert 0.1 <= res.time < 1.0
    assert 1 <= res.nit < 10


@pytest.mark.parametrize("how", ["return", "raise"])
def test_stop_from_callback(how):
    problem, x0, _ = _brockett_numpy()
    seen = []

    def callback(intermediate):
        seen.append((intermediate.nit, intermediate.fun, intermediate.grad_norm))
        if intermediate.nit == 4:
            if how == "raise":
                raise StopIteration
            return True
        return None

    res = RiemannianConjugateGradient(gradient_tolerance=0.0).run(problem, x0=x0,
                                                                  callback=callback)
    assert res.status == "callback" and res.nit == 4
    assert [s[0] for s in seen] == [1, 2, 3, 4]
    np.testing.assert_array_equal([s[1] for s in seen], res.history["cost"][1:])


@pytest.mark.parametrize("solver_name", sorted(SOLVERS))
def test_nonfinite_cost_returns_last_finite_iterate(solver_name):
    problem, x0, _ = _brockett_numpy()
    inner = problem._cost_and_gradient
    budget = {"left": 12}
    iterates = []

    def breaks_down(x):
        budget["left"] -= 1
        if budget["left"] < 0:
            return np.nan, np.full(x.shape, np.nan)
        return inner(x)

    def callback(intermediate):
        iterates.append(intermediate.x)

    problem._cost_and_gradient = breaks_down
    res = SOLVERS[solver_name](gradient_tolerance=0.0).run(problem, x0=x0, callback=callback)
    assert res.status == "nonfinite" and not res.success
    assert math.isfinite(res.fun) and math.isfinite(res.grad_norm)
    assert np.all(np.isfinite(res.x))
    last = iterates[-1] if iterates else x0
    np.testing.assert_array_equal(res.x, last)
    assert res.fun == res.history["cost"][-1]


def test_nonfinite_start_stops_at_once():
    problem, x0, _ = _brockett_numpy()
    problem._cost_and_gradient = lambda x: (np.inf, np.zeros_like(x))
    res = RiemannianConjugateGradient().run(problem, x0=x0)
    assert res.status == "nonfinite" and res.nit == 0
    assert res.x is x0


@pytest.mark.parametrize("solver_name", ["rgd-bb", "cg-hz", "cg-hz-armijo"])
def test_keyboard_interrupt_in_cost(solver_name):
    problem, x0, _ = _brockett_numpy()
    inner = problem._cost_and_gradient
    budget = {"left": 10}

    def interrupted(x):
        budget["left"] -= 1
        if budget["left"] < 0:
            raise KeyboardInterrupt
        return inner(x)

    problem._cost_and_gradient = interrupted
    res = SOLVERS[solver_name](gradient_tolerance=0.0).run(problem, x0=x0)
    assert res.status == "interrupted" and not res.success
    assert res.nit >= 1 and math.isfinite(res.fun)
    assert problem.manifold.feasibility(res.x) <= 1e3 * EPS


# -- bad input --------------------------------------------------------------------------------


def test_x0_off_the_manifold_is_rejected():
    problem, x0, _ = _brockett_numpy()
    with pytest.raises(ValueError, match="not on Stiefel"):
        RiemannianConjugateGradient().run(problem, x0=2 * x0)


def test_cost_returning_an_array_is_rejected():
    manifold = Stiefel(5, 2)
    problem = Problem(manifold, lambda x: x.T @ x, euclidean_gradient=lambda x: x)
    with pytest.raises(ValueError, match="must return a scalar"):
        RiemannianConjugateGradient().run(problem, x0=manifold.random_point(rng=0))


@pytest.mark.parametrize("kwargs, match", [
    ({"beta": "dy"}, "unknown beta"),
    ({"line_search": "exact"}, "unknown line search"),
    ({"restart_every": 0}, "restart_every"),
    ({"initial_step": "bb"}, "initial_step"),
    ({"lr": -1.0}, "lr"),
    ({"max_iterations": -1}, "max_iterations"),
    ({"gradient_tolerance": -1.0}, "gradient_tolerance"),
    ({"max_time": 0}, "max_time"),
])
def test_cg_rejects_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RiemannianConjugateGradient(**kwargs)


@pytest.mark.parametrize("make, match", [
    (lambda: StrongWolfe(curvature=1e-5), "curvature"),
    (lambda: StrongWolfe(max_evaluations=0), "max_evaluations"),
])
def test_step_rules_reject_bad_options(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_solver_rejects_non_manifold():
    with pytest.raises(TypeError, match="orthopt manifold"):
        RiemannianGradientDescent(manifold="stiefel")


# -- stochastic step interface -------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_rgd_step_is_a_retracted_gradient_step(backend):
    rng = np.random.default_rng(12)
    manifold = Stiefel(7, 3, retraction="qr")
    x = _to_backend(manifold.random_point(rng=rng), backend)
    g = _to_backend(rng.standard_normal((7, 3)), backend)
    solver = RiemannianGradientDescent(lr=0.05, manifold=manifold)
    state = solver.init_state(x, rng=0)
    x_new, state = solver.step(x, g, state)
    expected = manifold.retraction(x, -0.05 * manifold.projection(x, g))
    np.testing.assert_allclose(to_numpy(x_new), to_numpy(expected), rtol=0, atol=10 * EPS)
    assert type(x_new) is type(x) and x_new.dtype == x.dtype
    assert isinstance(state, SolverState)
    x_next, state = solver.step(x_new, g, state)
    assert manifold.feasibility(x_next) <= 100 * EPS


def test_step_infers_and_caches_the_manifold(monkeypatch):
    import sys

    minimize_module = sys.modules["orthopt.optim.minimize"]

    calls = []
    real = minimize_module.infer_manifold
    monkeypatch.setattr(minimize_module, "infer_manifold",
                        lambda x, *a, **k: calls.append(1) or real(x, *a, **k))
    x = SpecialOrthogonal(5).random_point(rng=13)
    a = np.diag(np.arange(1.0, 6.0))
    solver = RiemannianGradientDescent(lr=0.08)
    state = None
    for _ in range(300):
        x, state = solver.step(x, 2 * (x - a), state)  # min ‖x − A‖² over SO(5)
    assert len(calls) == 1
    assert isinstance(solver._step_manifold(x), SpecialOrthogonal)
    # the nearest rotation to a positive diagonal matrix is the identity
    np.testing.assert_allclose(x, np.eye(5), atol=1e-8)


def test_step_minimizes_a_stochastic_dominant_subspace_problem():
    rng = np.random.default_rng(14)
    n, p = 8, 2
    basis, _ = np.linalg.qr(rng.standard_normal((n, n)))
    scales = np.array([3.0, 2.5] + [0.5] * (n - 2))
    x = Stiefel(n, p).random_point(rng=15)
    solver = RiemannianGradientDescent(lr=0.02)
    state = None
    for _ in range(1500):
        batch = (rng.standard_normal((16, n)) * scales) @ basis.T
        g = -2 * batch.T @ (batch @ x) / 16  # ∇ of −‖batch x‖²/16
        x, state = solver.step(x, g, state)
    # the top-2 principal subspace is spanned by the first two columns of `basis`
    top = basis[:, :2]
    assert np.linalg.norm(top @ (top.T @ x) - x) < 0.15


def test_step_checks_shapes_and_learning_rate():
    x = Stiefel(5, 2).random_point(rng=0)
    with pytest.raises(ValueError, match="shape"):
        RiemannianGradientDescent(lr=0.1).step(x, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="lr="):
        RiemannianGradientDescent(step="armijo").step(x, np.zeros((5, 2)))


def test_cg_step_explains_what_to_use_instead():
    x = Stiefel(5, 2).random_point(rng=0)
    with pytest.raises(NotImplementedError, match="RiemannianSGD"):
        RiemannianConjugateGradient().step(x, np.zeros((5, 2)))


def test_a_run_that_leaves_the_manifold_is_not_a_success():
    # a solver whose steps drift off the manifold (here: a deliberately broken
    # retraction) must not report convergence on the infeasible point
    from orthopt.optim import Step

    problem, x0, _ = _brockett_numpy()

    class Drifting(RiemannianGradientDescent):
        def _iterate(self, problem, current, state):
            return Step(problem.at(1.01 * current.x), 1e-20)   # below step_tolerance

    res = Drifting().run(problem, x0=x0)
    assert res.status == "infeasible" and not res.success
    assert "off the manifold" in res.message
    healthy = RiemannianGradientDescent(max_iterations=3).run(problem, x0=x0)
    assert healthy.status == "max_iterations"


def test_line_search_failure_explains_precision_and_gradient():
    """A gradient of the wrong sign: no step decreases the cost, and the message says what
    the two usual causes are, with the resolution of the dtype at hand."""
    manifold = Stiefel(5, 2)
    a = np.diag(np.arange(1.0, 6.0))
    problem = Problem(manifold, None,
                      cost_and_gradient=lambda x: (np.sum(x * (a @ x)), -2 * a @ x))
    x0 = manifold.random_point(rng=0)
    res = RiemannianGradientDescent(step="armijo").run(problem, x0=x0)
    assert res.status == "line_search_failed" and not res.success
    assert np.array_equal(res.x, x0)
    assert "float64" in res.message and "2e-15" in res.message
    assert "check_gradient" in res.message and "solve in float64" not in res.message
    # in single precision the advice includes double precision
    message = _message("line_search_failed", x0.astype(np.float32))
    assert "float32" in message and "1e-06" in message and "solve in float64" in message


@pytest.mark.parametrize("seed", range(5))
def test_float32_wrong_gradient_is_never_a_success(seed):
    """In float32 a step of a few ulps changes the cost by rounding alone; a search that
    accepted such a 'decrease' would end a run with a wrong gradient as a success."""
    manifold = Stiefel(5, 2)
    a = np.diag(np.arange(1.0, 6.0)).astype(np.float32)
    problem = Problem(manifold, None,
                      cost_and_gradient=lambda x: (np.sum(x * (a @ x)), -2 * a @ x))
    res = RiemannianGradientDescent(step="armijo").run(
        problem, x0=manifold.random_point(rng=seed, dtype="float32"))
    assert res.status == "line_search_failed" and not res.success


@pytest.mark.parametrize("method", ["givens-gs", "rgd-bb"])
def test_float32_runs_stop_at_their_precision(method):
    """A float32 run cannot reach ‖grad‖ ≤ 1e-6 on a cost of size 10; it must stop near
    the optimum (to float32 accuracy) well before max_iterations, not wander there."""
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    spectrum = np.linspace(1.0, 3.0, 6)
    a = ((q * spectrum) @ q.T).astype(np.float32)
    w = np.array([2.0, 1.0], dtype=np.float32)
    optimum = float(np.sum(spectrum[:2] * w))
    manifold = Stiefel(6, 2)
    res = minimize(lambda x: (np.sum(x * (a @ x) * w), 2 * (a @ x) * w),
                   manifold.random_point(rng=3, dtype="float32"), method=method, jac=True,
                   manifold=manifold, options={"max_iterations": 1000})
    assert res.success, (res.status, res.message)
    assert res.nit < 1000 and res.x.dtype == np.float32
    assert abs(res.fun - optimum) <= 1e3 * np.finfo(np.float32).eps * optimum
