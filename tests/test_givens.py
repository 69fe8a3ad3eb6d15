"""Givens coordinate descent: coordinate derivative, rules, exact angles, solving."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from orthopt.backend import to_numpy
from orthopt.manifolds import SpecialOrthogonal, Stiefel, Unitary
from orthopt.optim import Problem, minimize
from orthopt.optim.coordinate import (
    GivensCoordinateDescent,
    coordinate_generator,
    minimize_trig2,
    rotate,
    rotate_rows_inplace,
    select_gauss_southwell,
)

try:
    import array_api_strict as xs
except ImportError:  # pragma: no cover
    xs = None

EPS = float(np.finfo(np.float64).eps)


def _hermitian(rng, n, complex_=False):
    a = rng.standard_normal((n, n))
    if complex_:
        a = a + 1j * rng.standard_normal((n, n))
    return (a + a.conj().T) / 2


def _quartic_problem(rng, manifold):
    """A non-quadratic cost with its gradient: Re tr(xᴴAxN) + Re tr(Cᴴx) + ¼Σ|x|⁴."""
    n, p = manifold.point_shape
    cplx = manifold.is_complex
    a = _hermitian(rng, n, cplx)
    nn = np.diag(np.arange(p, 0, -1.0))
    c = rng.standard_normal((n, p)) + (1j * rng.standard_normal((n, p)) if cplx else 0)

    def cost(x):
        return float(np.real(np.trace(x.conj().T @ a @ x @ nn) + np.vdot(c, x))
                     + 0.25 * np.sum(np.abs(x) ** 4))

    def grad(x):
        return 2 * a @ x @ nn + c + np.abs(x) ** 2 * x

    return cost, grad


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("manifold", [SpecialOrthogonal(5), Stiefel(6, 2), Unitary(4),
                                      Stiefel(5, 3, field="complex")], ids=repr)
def test_coordinate_derivative_matches_finite_differences(manifold, side):
    """d/dθ f(G_ij(θu)x)|₀ = 2Re(conj(Ω_ij)u) for pairs, Im Ω_ii for phases; on the
    right, f(x exp(K_ij(θu))) with Ψ = skew(xᴴ∇f) in place of Ω."""
    rng = np.random.default_rng(0)
    cost, grad = _quartic_problem(rng, manifold)
    x = manifold.random_point(rng=1)
    omega = coordinate_generator(x, grad(x), side)
    # Ω from the Riemannian gradient is the same matrix
    riem = manifold.euclidean_to_riemannian_gradient(x, grad(x))
    assert np.max(np.abs(coordinate_generator(x, riem, side) - omega)) <= 100 * EPS
    n = manifold.n if side == "left" else manifold.p
    assert omega.shape == (n, n)
    h = 1e-5
    coords = [(0, 1)] + ([(1, n - 1)] if n > 2 else []) + ([(2, n - 1)] if n > 3 else [])
    if manifold.is_complex:
        coords += [(0, 0), (1, 1)]
    for i, j in coords:
        for u in ([1.0] if not manifold.is_complex else [1.0, 1j, np.exp(0.7j)]):
            if i == j:
                u = 1j  # a phase: ω = iα
            plus = cost(rotate(x, [i], [j], np.asarray([h * u]), side))
            minus = cost(rotate(x, [i], [j], np.asarray([-h * u]), side))
            numeric = (plus - minus) / (2 * h)
            if i == j:
                analytic = float(np.imag(omega[i, i]))
            else:
                analytic = 2 * float(np.real(np.conj(omega[i, j]) * u))
            scale = max(1.0, float(np.max(np.abs(omega))))
            assert abs(numeric - analytic) <= 1e-7 * scale, (i, j, u, numeric, analytic)


def test_gauss_southwell_picks_the_largest_entries():
    rng = np.random.default_rng(1)
    n = 9
    w = rng.standard_normal((n, n))
    omega = (w - w.T) / 2
    i, j = select_gauss_southwell(omega, block=1)
    iu, ju = np.triu_indices(n, k=1)
    best = np.argmax(np.abs(omega[iu, ju]))
    assert (int(i[0]), int(j[0])) == (int(iu[best]), int(ju[best]))

    i, j = select_gauss_southwell(omega, block=4)
    assert len(i) == 4
    used = np.concatenate([i, j])
    assert len(set(used.tolist())) == 8, "block coordinates must be disjoint"
    scores = np.abs(omega[i, j])
    assert np.all(np.diff(scores) <= 0) and scores[0] == np.max(np.abs(omega))
    # greedy: every better coordinate left out shares an index with a chosen one
    chosen = set(zip(i.tolist(), j.tolist()))
    for a, b in zip(iu, ju):
        if (a, b) not in chosen and abs(omega[a, b]) > scores[-1]:
            assert a in used or b in used

    # complex: phases compete with score |Ω_ii|/√2
    wc = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    omega_c = (wc - wc.conj().T) / 2
    omega_c[4, 4] = 10j
    i, j = select_gauss_southwell(omega_c, block=1)
    assert (int(i[0]), int(j[0])) == (4, 4)
    omega_c[4, 4] = 1e-3j
    i, j = select_gauss_southwell(omega_c, block=1)
    assert i[0] != j[0]


@pytest.mark.parametrize("complex_", [False, True])
def test_block_round_equals_sequential_rotations(complex_):
    rng = np.random.default_rng(2)
    manifold = Unitary(7) if complex_ else Stiefel(7, 3)
    x = manifold.random_point(rng=3)
    i = np.asarray([0, 2, 5, 1] if complex_ else [0, 2, 5])
    j = np.asarray([1, 6, 4, 1] if complex_ else [1, 6, 4])  # (1, 1): a phase
    omega = rng.standard_normal(len(i))
    if complex_:
        omega = omega + 1j * rng.standard_normal(len(i))
        omega[3] = 0.8j
    together = rotate(x, i, j, omega)
    sequential = x
    for k in range(len(i)):
        sequential = rotate(sequential, i[k:k + 1], j[k:k + 1], omega[k:k + 1])
    assert np.max(np.abs(together - sequential)) <= 10 * EPS
    # against the explicit product of n×n rotation matrices
    n = manifold.n
    g = np.eye(n, dtype=x.dtype)
    for k in range(len(i)):
        gen = np.zeros((n, n), dtype=complex)
        if i[k] == j[k]:
            gen[i[k], i[k]] = omega[k]
        else:
            gen[i[k], j[k]] = omega[k]
            gen[j[k], i[k]] = -np.conj(omega[k])
        g = scipy.linalg.expm(gen if complex_ else gen.real) @ g
    assert np.max(np.abs(together - g @ x)) <= 100 * EPS
    if xs is not None:
        xs_out = rotate(xs.asarray(x), i, j, omega)
        assert np.max(np.abs(to_numpy(xs_out) - together)) <= 10 * EPS
    # the right action: x ∏ exp(K_k), K_k = ω_k e_i e_jᴴ − ω̄_k e_j e_iᴴ of size p×p
    p = manifold.p
    keep = (i < p) & (j < p)
    ir, jr, omr = i[keep], j[keep], omega[keep]
    assert len(ir) >= 1
    g = np.eye(p, dtype=x.dtype)
    for k in range(len(ir)):
        gen = np.zeros((p, p), dtype=complex)
        gen[ir[k], jr[k]] += omr[k]
        if ir[k] != jr[k]:
            gen[jr[k], ir[k]] -= np.conj(omr[k])
        g = g @ scipy.linalg.expm(gen if complex_ else gen.real)
    right = rotate(x, ir, jr, omr, "right")
    assert np.max(np.abs(right - x @ g)) <= 100 * EPS
    if xs is not None:
        xs_out = rotate(xs.asarray(x), ir, jr, omr, "right")
        assert np.max(np.abs(to_numpy(xs_out) - right)) <= 10 * EPS
    if not complex_:
        y = x.copy()
        rotate_rows_inplace(y, 0, 4, math.cos(omega[0]), math.sin(omega[0]))
        assert np.max(np.abs(y - rotate(x, [0], [4], omega[:1]))) <= 10 * EPS


def test_minimize_trig2_is_the_global_minimum():
    rng = np.random.default_rng(4)
    grid = np.linspace(-np.pi, np.pi, 200001)
    for _ in range(20):
        coef = rng.standard_normal(5)
        theta, value = minimize_trig2(coef)
        a, b1, c1, b2, c2 = coef
        f = (a + b1 * np.cos(grid) + c1 * np.sin(grid)
             + b2 * np.cos(2 * grid) + c2 * np.sin(2 * grid))
        assert value <= f.min() + 1e-9
        assert abs(value - (a + b1 * np.cos(theta) + c1 * np.sin(theta)
                            + b2 * np.cos(2 * theta) + c2 * np.sin(2 * theta))) <= 10 * EPS * 10
    assert minimize_trig2([1.0, 0, 0, 0, 0]) == (0.0, 1.0)


def _brockett(manifold, rng, backend="numpy"):
    n, p = manifold.point_shape
    cplx = manifold.is_complex
    a = _hermitian(rng, n, cplx)
    nn = np.diag(np.arange(p, 0, -1.0))
    optimum = float(np.sum(np.linalg.eigvalsh(a)[:p] * np.diag(nn)))
    if backend == "strict":
        a, nn = xs.asarray(a), xs.asarray(nn)

        def cost(x):
            return xs.real(xs.sum(xs.conj(x) * (a @ x @ nn))) if cplx else xs.sum(x * (a @ x @ nn))
    else:
        def cost(x):
            return float(np.real(np.trace(x.conj().T @ a @ x @ nn)))

    return Problem(manifold, cost, euclidean_gradient=lambda x: 2 * a @ x @ nn), optimum


@pytest.mark.parametrize("side", ["left", "right", "both"])
@pytest.mark.parametrize("block", [1, 3])
@pytest.mark.parametrize("manifold", [SpecialOrthogonal(6), Unitary(4)], ids=repr)
def test_cyclic_sweep_with_exact_angles_never_increases_a_quadratic_cost(manifold, block, side):
    rng = np.random.default_rng(5)
    problem, _ = _brockett(manifold, rng)
    n = manifold.n
    sweep = (n * (n - 1) // 2 + (n if manifold.is_complex else 0)) * (2 if side == "both" else 1)
    solver = GivensCoordinateDescent(rule="cyclic", block=block, step="exact", side=side,
                                     max_iterations=2 * math.ceil(sweep / block),
                                     gradient_tolerance=0.0, step_tolerance=0.0)
    res = solver.run(problem, rng=6)
    assert res.nit == solver.max_iterations
    cost = res.history["cost"]
    increase = np.max(np.diff(cost))
    assert increase <= 100 * EPS * np.max(np.abs(cost)), increase
    assert cost[-1] < cost[0]


@pytest.mark.parametrize("backend", ["numpy", "strict"])
@pytest.mark.parametrize("manifold", [SpecialOrthogonal(4), Stiefel(4, 2), Unitary(3)], ids=repr)
def test_gauss_southwell_solves_brockett(manifold, backend):
    if backend == "strict" and xs is None:
        pytest.skip("array-api-strict is not installed")
    rng = np.random.default_rng(7)
    problem, optimum = _brockett(manifold, rng, backend)
    like = xs.zeros(1, dtype=xs.complex128 if manifold.is_complex else xs.float64) \
        if backend == "strict" else None
    x0 = manifold.random_point(rng=8, like=like)
    res = GivensCoordinateDescent(rule="gauss-southwell", max_iterations=3000,
                                  gradient_tolerance=1e-5).run(problem, x0=x0)
    assert type(res.x) is type(x0)
    assert abs(res.fun - optimum) <= 1e-8 * abs(optimum), (res.fun, optimum, res.status)
    assert manifold.feasibility(res.x) <= 1000 * EPS


@pytest.mark.parametrize("options", [dict(rule="random", block=3, step="armijo"),
                                     dict(rule="cyclic", block=2, step="exact"),
                                     dict(rule="gauss-southwell", block=2, step="armijo")],
                         ids=lambda o: f"{o['rule']}-{o['block']}-{o['step']}")
def test_other_rules_solve_brockett_on_stiefel(options):
    rng = np.random.default_rng(9)
    manifold = Stiefel(5, 2)
    problem, optimum = _brockett(manifold, rng)
    res = GivensCoordinateDescent(max_iterations=4000, gradient_tolerance=1e-5,
                                  **options).run(problem, rng=10)
    assert abs(res.fun - optimum) <= 1e-8 * abs(optimum), (res.fun, optimum, res.status)


@pytest.mark.parametrize("backend", ["numpy", "strict"])
@pytest.mark.parametrize("method", ["givens", "givens-gs"])
def test_minimize_solves_procrustes(method, backend):
    """min ‖Ax − B‖² over SO(4), against scipy.linalg.orthogonal_procrustes."""
    if backend == "strict" and xs is None:
        pytest.skip("array-api-strict is not installed")
    rng = np.random.default_rng(11)
    n = 4
    a = rng.standard_normal((n, n))
    r0 = SpecialOrthogonal(n).random_point(rng=12)
    b = a @ r0 + 0.3 * rng.standard_normal((n, n))
    r_opt, _ = scipy.linalg.orthogonal_procrustes(a, b)
    assert np.linalg.det(r_opt) > 0  # the O(n) optimum is in SO(n) for this seed
    optimum = float(np.sum((a @ r_opt - b) ** 2))
    x0 = SpecialOrthogonal(n).random_point(rng=13)
    if backend == "strict":
        a, b, x0 = xs.asarray(a), xs.asarray(b), xs.asarray(x0)

    def cost(x):
        r = a @ x - b
        return float(np.sum(r ** 2)) if backend == "numpy" else xs.sum(r * r)

    res = minimize(cost, x0, method=method, jac=lambda x: 2 * a.T @ (a @ x - b),
                   options=dict(max_iterations=3000, gradient_tolerance=1e-5, block=2))
    assert abs(res.fun - optimum) <= 1e-8 * abs(optimum), (res.fun, optimum, res.status)
    assert np.max(np.abs(to_numpy(res.x) - r_opt)) <= 1e-4


def test_stochastic_step_and_errors():
    rng = np.random.default_rng(14)
    manifold = SpecialOrthogonal(6)
    problem, optimum = _brockett(manifold, rng)
    x = manifold.random_point(rng=15)
    f0 = problem.cost(x)
    x_start = x
    solver = GivensCoordinateDescent(rule="cyclic", block=3, lr=0.05)
    state = solver.init_state(x, rng=0)
    for _ in range(600):
        x, state = solver.step(x, problem.euclidean_gradient(x), state)
    assert manifold.feasibility(x) <= 1000 * EPS
    assert problem.cost(x) < f0
    assert abs(problem.cost(x) - optimum) <= 1e-2 * abs(optimum)
    # the first version's name of the angle scale gives the same steps
    old, old_state = x_start, None
    old_solver = GivensCoordinateDescent(rule="cyclic", block=3, step=0.05)
    for _ in range(600):
        old, old_state = old_solver.step(old, problem.euclidean_gradient(old), old_state)
    np.testing.assert_array_equal(old, x)
    with pytest.raises(ValueError, match="lr=<float>"):
        GivensCoordinateDescent(step="exact").step(x, x, None)
    with pytest.raises(ValueError, match="rule"):
        GivensCoordinateDescent(rule="greedy")
    with pytest.raises(ValueError, match="block"):
        GivensCoordinateDescent(block=0)
    with pytest.raises(ValueError, match="step"):
        GivensCoordinateDescent(step="wolfe")


def _greedy_reference(omega, block, complex_phases):
    """Block Gauss–Southwell by a full stable sort of all n² scores (the definition)."""
    n = omega.shape[0]
    weight = np.triu(np.ones((n, n)), k=1) + (np.eye(n) / math.sqrt(2) if complex_phases else 0)
    scores = (np.abs(omega) * weight).ravel()
    used, chosen = set(), []
    for k in np.argsort(-scores, kind="stable"):
        if scores[k] <= 0 or len(chosen) == block:
            break
        a, b = divmod(int(k), n)
        if a in used or b in used:
            continue
        used.update((a, b))
        chosen.append((a, b))
    return chosen


@pytest.mark.parametrize("n, block", [(2, 2), (5, 3), (12, 4), (40, 16), (64, 32)])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("complex_", [False, True])
def test_block_gauss_southwell_equals_full_sort(n, block, ties, complex_):
    # the ranked-prefix selection (partition / device sort) must pick exactly what a full
    # stable sort picks, ties included (integer entries make many equal scores)
    rng = np.random.default_rng(n + block)
    w = rng.integers(-3, 4, (n, n)).astype(float) if ties else rng.standard_normal((n, n))
    if complex_:
        w = w + 1j * (rng.integers(-3, 4, (n, n)) if ties else rng.standard_normal((n, n)))
    omega = (w - w.conj().T) / 2
    expected = _greedy_reference(omega, block, complex_)
    i, j = select_gauss_southwell(omega, block=block)
    assert list(zip(i.tolist(), j.tolist())) == expected
    if xs is not None:
        i, j = select_gauss_southwell(xs.asarray(omega), block=block)
        assert list(zip(i.tolist(), j.tolist())) == expected


# -- the right action --------------------------------------------------------------


@pytest.mark.parametrize("manifold", [SpecialOrthogonal(6), Unitary(4)], ids=repr)
def test_right_exact_angle_is_the_global_minimum_along_the_coordinate(manifold):
    """One Gauss–Southwell iteration on the right lands at the minimum of θ ↦ f(x exp(K(θu)))
    for the chosen coordinate (a quadratic cost: the trigonometric model is exact)."""
    rng = np.random.default_rng(16)
    problem, _ = _brockett(manifold, rng)
    x0 = manifold.random_point(rng=17)
    psi = coordinate_generator(x0, problem.euclidean_gradient(x0), "right")
    i, j = select_gauss_southwell(psi, 1)
    u = psi[i[0], j[0]] / abs(psi[i[0], j[0]]) if manifold.is_complex else 1.0
    grid = np.linspace(-np.pi, np.pi, 20001)
    along = [problem.cost(rotate(x0, i, j, np.asarray([t * u]), "right")) for t in grid]
    res = GivensCoordinateDescent(side="right", max_iterations=1, gradient_tolerance=0.0).run(
        problem, x0=x0)
    assert res.nit == 1
    scale = max(1.0, abs(min(along)))
    # below every grid value (the grid misses the minimizer by ≤ π·1e-4: O(1e-7) in f)
    assert res.fun <= min(along) + 1e3 * EPS * scale
    assert res.fun >= min(along) - 1e-6 * scale
    # and the step moved exactly the chosen columns
    changed = np.flatnonzero(np.max(np.abs(res.x - x0), axis=0) > 0)
    assert set(changed.tolist()) == {int(i[0]), int(j[0])}   # a pair, or one phase column


def test_right_action_solves_brockett_where_the_left_one_crawls():
    """Issue 13's observation on SO(n): with A dense, the column rotations (Jacobi's
    coordinates) resolve tr(XᵀAXN) far faster than the row rotations; "both" keeps
    the speed of the better side."""
    n = 10
    manifold = SpecialOrthogonal(n)
    rng = np.random.default_rng(18)
    problem, optimum = _brockett(manifold, rng)
    x0 = manifold.random_point(rng=19)
    errors = {}
    for side in ("left", "right", "both"):
        res = GivensCoordinateDescent(side=side, max_iterations=600).run(problem, x0=x0)
        errors[side] = abs(res.fun - optimum) / abs(optimum)
        assert np.all(np.diff(res.history["cost"]) <= 100 * EPS * abs(optimum)), side
        assert manifold.feasibility(res.x) <= 1000 * EPS and np.linalg.det(res.x) > 0
    assert errors["right"] <= 1e-8 and errors["both"] <= 1e-8, errors
    assert errors["left"] >= 100 * errors["both"], errors


def test_right_action_on_tall_stiefel():
    """Column rotations of a tall x keep span(x): alone they are refused, with the left
    ones they are offered ("both", the default)."""
    manifold = Stiefel(6, 3)
    rng = np.random.default_rng(20)
    problem, optimum = _brockett(manifold, rng)
    with pytest.raises(ValueError, match="side='both'"):
        GivensCoordinateDescent(side="right").run(problem, rng=0)
    res = GivensCoordinateDescent(max_iterations=3000).run(problem, rng=21)
    assert abs(res.fun - optimum) <= 1e-8 * abs(optimum), (res.fun, optimum, res.status)
    with pytest.raises(ValueError, match="side"):
        GivensCoordinateDescent(side="columns")


@pytest.mark.parametrize("rule, block", [("random", 1), ("cyclic", 2), ("gauss-southwell", 3)])
def test_right_and_both_sides_solve_brockett_on_unitary(rule, block):
    manifold = Unitary(4)
    rng = np.random.default_rng(22)
    problem, optimum = _brockett(manifold, rng)
    for side in ("right", "both"):
        res = GivensCoordinateDescent(rule=rule, block=block, side=side,
                                      max_iterations=4000).run(problem, rng=23)
        assert abs(res.fun - optimum) <= 1e-8 * abs(optimum), (side, res.fun, res.status)
        assert manifold.feasibility(res.x) <= 1000 * EPS


# -- non-finite values ---------------------------------------------------------------


def _turns_nan(manifold, what, after, seed=24):
    """Brockett whose cost or gradient is NaN from its ``after``-th call on."""
    problem, _ = _brockett(manifold, np.random.default_rng(seed))
    calls = {"cost": 0, "grad": 0}

    def cost(x):
        calls["cost"] += 1
        return math.nan if what == "cost" and calls["cost"] >= after else problem.cost(x)

    def grad(x):
        calls["grad"] += 1
        g = problem.euclidean_gradient(x)
        return np.full_like(g, np.nan) if what == "grad" and calls["grad"] >= after else g

    return Problem(manifold, cost, euclidean_gradient=grad), calls


@pytest.mark.parametrize("after", [2, 40])
@pytest.mark.parametrize("what", ["cost", "grad"])
@pytest.mark.parametrize("options", [dict(rule="random"), dict(rule="gauss-southwell"),
                                     dict(rule="cyclic", block=3, step="armijo")],
                         ids=lambda o: "-".join(str(v) for v in o.values()))
def test_nonfinite_cost_or_gradient_ends_the_run_with_the_last_finite_iterate(options, what,
                                                                              after):
    """Was LinAlgError from numpy.roots (the exact angle's eigenproblem) on NaN samples."""
    manifold = SpecialOrthogonal(6)
    problem, calls = _turns_nan(manifold, what, after)
    x0 = manifold.random_point(rng=25)
    res = GivensCoordinateDescent(max_iterations=500, **options).run(problem, x0=x0, rng=26)
    assert res.status == "nonfinite" and not res.success
    assert np.all(np.isfinite(res.x)) and math.isfinite(res.fun)
    assert manifold.feasibility(res.x) <= 1000 * EPS and np.linalg.det(res.x) > 0
    reference, _ = _brockett(manifold, np.random.default_rng(24))
    assert res.fun == reference.cost(res.x)
    if after == 2:
        np.testing.assert_array_equal(res.x, x0)
    else:
        assert res.nit >= 1 and res.fun < reference.cost(x0)
    assert calls[what] >= after


def test_exact_angles_fall_back_to_a_search_where_the_samples_are_not_finite():
    """A cost that is NaN far from x₀ (an unbounded barrier): the samples at θ = π/2, π,
    −π/2 fall outside, the round searches along the coordinate gradient instead."""
    manifold = SpecialOrthogonal(6)
    problem, _ = _brockett(manifold, np.random.default_rng(27))
    x0 = manifold.random_point(rng=28)

    outside = {"n": 0}

    def cost(x):
        if np.max(np.abs(x - x0)) < 0.5:
            return problem.cost(x)
        outside["n"] += 1
        return math.nan

    barrier = Problem(manifold, cost, euclidean_gradient=problem.euclidean_gradient)
    res = GivensCoordinateDescent(max_iterations=40).run(barrier, x0=x0)
    assert outside["n"] > 0
    assert res.status in ("max_iterations", "step_tolerance", "precision_limit"), res.status
    costs = res.history["cost"]
    assert res.nit >= 10 and np.all(np.isfinite(costs))
    assert np.all(np.diff(costs) < 0) and costs[-1] < costs[0] - 0.1 * abs(costs[0])
    assert np.max(np.abs(res.x - x0)) < 0.5


def test_trig_model_needs_finite_samples():
    from orthopt.optim.trig_polynomial import fit_trig2

    assert fit_trig2(1.0, -0.5, 2.0, math.nan, 0.5) is None
    with pytest.raises(ValueError, match="non-finite"):
        minimize_trig2([1.0, math.nan, 0.0, 0.0, 0.0])
    coef = fit_trig2(1.0, -0.5, 2.0, 3.0, 0.5)
    from orthopt.optim.trig_polynomial import trig2

    for theta, value in ((0.0, 1.0), (np.pi / 2, 2.0), (np.pi, 3.0), (-np.pi / 2, 0.5)):
        assert abs(trig2(coef, theta) - value) <= 10 * EPS
    h = 1e-6
    assert abs((trig2(coef, h) - trig2(coef, -h)) / (2 * h) + 0.5) <= 1e-8


def test_stochastic_state_pickles_and_resumes_exactly():
    """The random rule's generator lives in the (picklable) state: a checkpoint resumes
    the same draws."""
    import pickle

    manifold = SpecialOrthogonal(6)
    problem, _ = _brockett(manifold, np.random.default_rng(29))
    solver = GivensCoordinateDescent(rule="random", block=2, lr=0.1)
    x = manifold.random_point(rng=30)
    state = solver.init_state(x, rng=31)
    for _ in range(5):
        x, state = solver.step(x, problem.euclidean_gradient(x), state)
    x_copy, state_copy = x.copy(), pickle.loads(pickle.dumps(state))
    for _ in range(5):
        x, state = solver.step(x, problem.euclidean_gradient(x), state)
        x_copy, state_copy = solver.step(x_copy, problem.euclidean_gradient(x_copy), state_copy)
    np.testing.assert_array_equal(x, x_copy)
    other = solver.init_state(x, rng=32)
    assert not np.array_equal(solver.step(x, problem.euclidean_gradient(x), other)[0],
                              solver.step(x, problem.euclidean_gradient(x), state)[0])
