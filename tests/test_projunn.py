"""projUNN: exact D/T projections, low-rank approximations, solving, stochastic steps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from orthopt.backend import to_numpy
from orthopt.linalg import newton_schulz_step
from orthopt.manifolds import SpecialOrthogonal, Stiefel, Unitary
from orthopt.optim import Problem, minimize
from orthopt.optim.projunn import (
    ProjUNN,
    low_rank_column,
    low_rank_exact,
    low_rank_lsi,
    projunn_d,
    projunn_t,
)

try:
    import array_api_strict as xs
except ImportError:  # pragma: no cover
    xs = None

EPS = float(np.finfo(np.float64).eps)


def _point_and_factors(rng, n, k, complex_, scale=0.1):
    manifold = Unitary(n) if complex_ else SpecialOrthogonal(n)
    u = manifold.random_point(rng=rng)

    def gauss(shape):
        g = rng.standard_normal(shape)
        return g + 1j * rng.standard_normal(shape) if complex_ else g

    return u, scale * gauss((n, k)), scale * gauss((n, k))


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("k", [1, 2, 8])
def test_projunn_d_is_the_polar_factor(k, complex_):
    rng = np.random.default_rng(k)
    u, a, b = _point_and_factors(rng, 24, k, complex_)
    expected, _ = scipy.linalg.polar(u + a @ b.conj().T)
    out = projunn_d(u, a, b)
    assert out.dtype == u.dtype
    assert np.max(np.abs(out - expected)) <= 1e3 * EPS
    assert np.max(np.abs(out.conj().T @ out - np.eye(24))) <= 1e3 * EPS


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("k", [1, 2, 8])
def test_projunn_t_is_u_times_expm_of_the_skew_projection(k, complex_):
    rng = np.random.default_rng(10 + k)
    u, a, b = _point_and_factors(rng, 24, k, complex_, scale=0.3)
    step = u.conj().T @ a @ b.conj().T
    omega = (step - step.conj().T) / 2
    expected = u @ scipy.linalg.expm(omega)
    out = projunn_t(u, a, b)
    assert out.dtype == u.dtype
    assert np.max(np.abs(out - expected)) <= 1e3 * EPS
    assert np.max(np.abs(out.conj().T @ out - np.eye(24))) <= 1e3 * EPS


@pytest.mark.skipif(xs is None, reason="array-api-strict is not installed")
@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
def test_projections_on_array_api_strict(complex_):
    rng = np.random.default_rng(3)
    u, a, b = _point_and_factors(rng, 10, 2, complex_)
    for fn in (projunn_d, projunn_t):
        out = fn(xs.asarray(u), xs.asarray(a), xs.asarray(b))
        assert isinstance(out, type(xs.asarray(u)))
        assert np.max(np.abs(to_numpy(out) - fn(u, a, b))) <= 100 * EPS


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("rank", [1, 3])
def test_lsi_and_exact_svd_recover_a_rank_k_matrix(rank, complex_):
    rng = np.random.default_rng(4)
    left = rng.standard_normal((20, rank))
    right = rng.standard_normal((20, rank))
    if complex_:
        left = left + 1j * rng.standard_normal((20, rank))
        right = right + 1j * rng.standard_normal((20, rank))
    delta = left @ right.conj().T
    scale = np.max(np.abs(delta))
    for a, b in (low_rank_lsi(delta, rank, rng=5), low_rank_exact(delta, rank)):
        assert a.shape == (20, rank) and b.shape == (20, rank)
        assert np.max(np.abs(a @ b.conj().T - delta)) <= 1e3 * EPS * scale
    # a rank-k truncation of a full matrix: LSI with power iterations is near the SVD's
    full = rng.standard_normal((20, 20)) + 10 * delta
    a_exact, b_exact = low_rank_exact(full, rank)
    a_lsi, b_lsi = low_rank_lsi(full, rank, power_iterations=3, rng=6)
    err_exact = np.linalg.norm(full - a_exact @ b_exact.conj().T)
    err_lsi = np.linalg.norm(full - a_lsi @ b_lsi.conj().T)
    assert (1 - 1e-10) * err_exact <= err_lsi <= 1.05 * err_exact  # SVD is optimal


def test_column_sampler_is_unbiased():
    rng = np.random.default_rng(7)
    delta = rng.standard_normal((6, 5)) * np.asarray([3.0, 1.0, 0.2, 1.5, 0.7])
    samples = 4000
    stack = np.empty((samples, 6, 5))
    for s in range(samples):
        a, b = low_rank_column(delta, 2, rng=rng)
        stack[s] = a @ b.T
    mean = stack.mean(axis=0)
    stderr = stack.std(axis=0) / np.sqrt(samples)
    # 30 entries: 5 standard errors bounds every one with overwhelming probability
    assert np.all(np.abs(mean - delta) <= 5 * stderr + 1e-12)
    # exact when Δ has one nonzero column
    single = np.zeros((6, 5))
    single[:, 2] = rng.standard_normal(6)
    a, b = low_rank_column(single, 1, rng=8)
    assert np.max(np.abs(a @ b.T - single)) <= 10 * EPS


def test_riemannian_step_operator_is_the_projected_gradient():
    rng = np.random.default_rng(9)
    manifold = Unitary(7)
    u = manifold.random_point(rng=10)
    g = rng.standard_normal((7, 7)) + 1j * rng.standard_normal((7, 7))
    op = ProjUNN()._step_operator(u, g, 0.3)
    expected = -0.3 * manifold.euclidean_to_riemannian_gradient(u, g)
    assert np.max(np.abs(op.dense() - expected)) <= 100 * EPS
    v = rng.standard_normal((7, 3))
    assert np.max(np.abs(op.rmatmat(v) - expected.conj().T @ v)) <= 100 * EPS


def _brockett(manifold, rng, backend="numpy"):
    n = manifold.n
    a = rng.standard_normal((n, n))
    if manifold.is_complex:
        a = a + 1j * rng.standard_normal((n, n))
    a = (a + a.conj().T) / 2
    nn = np.diag(np.arange(n, 0, -1.0))
    optimum = float(np.sum(np.linalg.eigvalsh(a) * np.diag(nn)))
    if backend == "strict":
        a, nn = xs.asarray(a), xs.asarray(nn)

        def cost(x):
            return xs.real(xs.sum(xs.conj(x) * (a @ x @ nn)))
    else:
        def cost(x):
            return float(np.real(np.sum(np.conj(x) * (a @ x @ nn))))
    return cost, (lambda x: 2 * a @ x @ nn), optimum


@pytest.mark.parametrize("method", ["projunn-d", "projunn-t"])
@pytest.mark.parametrize("manifold, backend", [(SpecialOrthogonal(4), "numpy"),
                                               (SpecialOrthogonal(3), "strict"),
                                               (Unitary(3), "numpy")],
                         ids=["SO4-numpy", "SO3-strict", "U3-numpy"])
def test_minimize_solves_brockett(manifold, method, backend):
    """Complex inputs on array-api-strict are covered by test_projections_on_array_api_strict."""
    if backend == "strict" and xs is None:
        pytest.skip("array-api-strict is not installed")
    rng = np.random.default_rng(11)
    cost, grad, optimum = _brockett(manifold, rng, backend)
    like = None
    if backend == "strict":
        like = xs.zeros(1, dtype=xs.complex128 if manifold.is_complex else xs.float64)
    x0 = manifold.random_point(rng=12, like=like)
    res = minimize(cost, x0, method=method, jac=grad, manifold=manifold,
                   options=dict(rank=2, max_iterations=3000, gradient_tolerance=1e-5))
    assert type(res.x) is type(x0)
    assert abs(res.fun - optimum) <= 1e-8 * abs(optimum), (res.fun, optimum, res.status)
    assert manifold.feasibility(res.x) <= 1000 * EPS


@pytest.mark.parametrize("approximation", ["lsi", "column", "exact"])
@pytest.mark.parametrize("variant", ["D", "T"])
def test_stochastic_steps_stay_on_the_group_and_descend(variant, approximation):
    rng = np.random.default_rng(13)
    manifold = Stiefel(8, 8)  # O(8)
    cost, grad, optimum = _brockett(manifold, rng)
    x = manifold.random_point(rng=14)
    f0 = cost(x)
    solver = ProjUNN(variant=variant, rank=2, approximation=approximation, lr=0.02,
                     manifold=manifold)
    state = solver.init_state(x, rng=15)
    for _ in range(200):
        noisy = grad(x) + 0.1 * rng.standard_normal((8, 8))
        x, state = solver.step(x, noisy, state)
    assert state.step == 200
    assert manifold.feasibility(x) <= 1000 * EPS
    assert cost(x) < f0 - 0.5 * (f0 - optimum)


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="variant"):
        ProjUNN(variant="X")
    with pytest.raises(ValueError, match="approximation"):
        ProjUNN(approximation="svd")
    with pytest.raises(ValueError, match="rank"):
        ProjUNN(rank=0)
    with pytest.raises(ValueError, match="reorthonormalize_every"):
        ProjUNN(reorthonormalize_every=-1)
    with pytest.raises(ValueError, match="lr"):
        ProjUNN(step="fixed")
    with pytest.raises(ValueError, match="lr"):
        ProjUNN().step(np.eye(3), np.eye(3))
    with pytest.raises(TypeError, match="square"):
        ProjUNN(lr=0.1).step(np.eye(4)[:, :2], np.eye(4)[:, :2])
    problem = Problem(Stiefel(4, 2), lambda x: float(np.sum(x)),
                      euclidean_gradient=lambda x: np.ones_like(x))
    with pytest.raises(TypeError, match="square"):
        ProjUNN().run(problem, rng=0)


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_projunn_d_run_stays_on_the_group(seed):
    # regression: unbounded Armijo growth (steps of length 35-180) let the O(kN^2)
    # polar formula, which assumes U^T U = I, amplify rounding until the iterate was
    # ~2 off SO(20) while the run reported success
    rng = np.random.default_rng(seed)
    n = 20
    a = rng.standard_normal((60, n))
    q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    b = a @ q + 0.5 * rng.standard_normal((60, n))
    ata, atb = a.T @ a, a.T @ b
    manifold = SpecialOrthogonal(n)
    problem = Problem(manifold, lambda x: float(np.sum((a @ x - b) ** 2)),
                      euclidean_gradient=lambda x: 2 * (ata @ x - atb))
    res = ProjUNN(variant="D", max_iterations=600).run(problem, x0=np.eye(n), rng=seed)
    assert manifold.feasibility(res.x) < 100 * np.finfo(np.float64).eps * n
    r, _ = scipy.linalg.orthogonal_procrustes(a, b)
    if np.linalg.det(r) > 0:
        optimum = float(np.sum((a @ r - b) ** 2))
        assert res.fun >= optimum * (1 - 1e-12)


def test_step_accepts_a_seeded_state():
    u = SpecialOrthogonal(8).random_point(rng=0)
    g = np.random.default_rng(1).standard_normal((8, 8))
    solver = ProjUNN(lr=0.1)
    x1, state1 = solver.step(u, g, solver.init_state(u, rng=7))
    x2, _ = solver.step(u, g, solver.init_state(u, rng=np.random.default_rng(7)))
    assert state1.step == 1
    np.testing.assert_array_equal(x1, x2)
    # another seed draws another sketch
    x3, _ = solver.step(u, g, solver.init_state(u, rng=8))
    assert np.max(np.abs(x3 - x1)) > 1e-6


@pytest.mark.parametrize("variant", ["D", "T"])
def test_long_runs_stay_orthogonal_to_rounding(variant):
    """The O(kN²) updates do not remove rounding error already in U; the periodic
    Newton–Schulz restore (default: every N steps) does."""
    n, steps = 8, 1500
    manifold = SpecialOrthogonal(n)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n))
    a = a + a.T
    noise = 0.5 * rng.standard_normal((steps, n, n))
    tol = 10 * EPS * np.sqrt(n)
    errors = {}
    for every in (None, 0):
        x = manifold.random_point(rng=1)
        solver = ProjUNN(variant=variant, rank=1, lr=0.05, reorthonormalize_every=every)
        state = solver.init_state(x, rng=2)
        for k in range(steps):
            x, state = solver.step(x, 2 * a @ x + noise[k], state)
        errors[every] = np.linalg.norm(x.T @ x - np.eye(n))
        assert np.linalg.det(x) > 0
    assert errors[None] <= tol, errors
    assert errors[0] > errors[None], errors


def test_newton_schulz_step_squares_the_orthonormality_error():
    rng = np.random.default_rng(3)
    u = SpecialOrthogonal(6).random_point(rng=4)
    e = 1e-6 * rng.standard_normal((6, 6))
    x = u @ (np.eye(6) + (e + e.T) / 2)
    before = np.linalg.norm(x.T @ x - np.eye(6))
    y = newton_schulz_step(x)
    after = np.linalg.norm(y.T @ y - np.eye(6))
    assert after <= 10 * before ** 2 + 100 * EPS
    np.testing.assert_allclose(y, u, atol=1e-10)


@pytest.mark.parametrize("after", [2, 30])
@pytest.mark.parametrize("what", ["cost", "grad"])
@pytest.mark.parametrize("variant", ["D", "T"])
def test_nonfinite_cost_or_gradient_ends_the_run_with_the_last_finite_iterate(variant, what,
                                                                              after):
    """Was "SVD did not converge" (a second evaluation of the gradient at x₀ went into
    the sketch) and line_search_failed with advice about the precision limit (NaN trials
    counted as a failed search)."""
    manifold = SpecialOrthogonal(6)
    cost, grad, _ = _brockett(manifold, np.random.default_rng(16))
    calls = {"cost": 0, "grad": 0}

    def broken_cost(x):
        calls["cost"] += 1
        return math.nan if what == "cost" and calls["cost"] >= after else cost(x)

    def broken_grad(x):
        calls["grad"] += 1
        g = grad(x)
        return np.full_like(g, np.nan) if what == "grad" and calls["grad"] >= after else g

    x0 = manifold.random_point(rng=17)
    res = ProjUNN(variant=variant, max_iterations=500).run(
        Problem(manifold, broken_cost, euclidean_gradient=broken_grad), x0=x0, rng=18)
    assert res.status == "nonfinite" and not res.success
    assert "precision" not in res.message
    assert np.all(np.isfinite(res.x)) and res.fun == cost(res.x)
    assert manifold.feasibility(res.x) <= 1000 * EPS and np.linalg.det(res.x) > 0
    if after == 2:
        np.testing.assert_array_equal(res.x, x0)
    else:
        assert res.nit >= 1 and res.fun < cost(x0)


def test_run_with_euclidean_column_sketches():
    """Column samples of −∇f: some have a positive slope ⟨grad f, abᴴ⟩ (10 of 300 here
    with "D") and are used with the opposite sign; the cost never increases. Others are
    almost all normal component (‖P_U(abᴴ)‖ ≈ 1e-6‖abᴴ‖ with "T" here): a run stuck on
    them far from the optimum must not end as a success ("precision_limit" before)."""
    manifold = SpecialOrthogonal(6)
    cost, grad, optimum = _brockett(manifold, np.random.default_rng(19))
    problem = Problem(manifold, cost, euclidean_gradient=grad)
    results = {}
    for variant in ("D", "T"):
        res = ProjUNN(variant=variant, direction="euclidean", approximation="column",
                      max_iterations=300).run(problem, rng=20)
        costs = res.history["cost"]
        assert np.all(np.diff(costs) <= 100 * EPS * abs(optimum)), variant
        if res.success:
            assert abs(res.fun - optimum) <= 1e-6 * abs(optimum), (variant, res.status)
        results[variant] = res
    gap0 = results["D"].history["cost"][0] - optimum
    assert results["D"].fun - optimum <= 0.1 * gap0
    assert results["T"].status == "line_search_failed", results["T"].status


def test_step_rule_objects_and_old_names():
    from orthopt.optim import Armijo, Fixed

    assert isinstance(ProjUNN().step_rule, Armijo)
    assert isinstance(ProjUNN(step="fixed", lr=0.1).step_rule, Fixed)
    assert ProjUNN(step_size=Fixed(0.2)).step_rule.lr == 0.2
    with pytest.raises(TypeError, match="not both"):
        ProjUNN(step="fixed", step_size="fixed", lr=0.1)
    with pytest.raises(ValueError, match="Barzilai"):
        ProjUNN(step_size="bb")


def test_stochastic_state_pickles_and_resumes_exactly():
    """The state (rng, step counter) is a picklable dataclass: a checkpoint resumes the
    same sketches and the same periodic restores."""
    import pickle

    manifold = SpecialOrthogonal(5)
    _, grad, _ = _brockett(manifold, np.random.default_rng(21))
    solver = ProjUNN(variant="D", rank=1, lr=0.05, reorthonormalize_every=4)
    x = manifold.random_point(rng=22)
    state = solver.init_state(x, rng=23)
    for _ in range(6):
        x, state = solver.step(x, grad(x), state)
    x_copy, state_copy = x.copy(), pickle.loads(pickle.dumps(state))
    for _ in range(6):
        x, state = solver.step(x, grad(x), state)
        x_copy, state_copy = solver.step(x_copy, grad(x_copy), state_copy)
    np.testing.assert_array_equal(x, x_copy)
    assert state.step == state_copy.step == 12
