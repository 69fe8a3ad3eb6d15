"""check_hessian and the Hessian-vector products it checks (Evaluation.hess).

Every manifold × dtype, three sources of ∇²f(x)[v] (the user's, autograd's,
a central difference of a hand gradient), two costs whose optima are known
(Brockett, Procrustes); then Hessians that are wrong in each way the check
looks for, which must fail.
"""

from __future__ import annotations

import math

import autograd.numpy as anp
import matplotlib
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

matplotlib.use("Agg")

from conftest import MANIFOLD_DTYPES, eps_of, make_manifold, template  # noqa: E402
from orthopt import Problem, SpecialOrthogonal, Stiefel, Unitary, check_hessian  # noqa: E402
from orthopt.backend import to_numpy  # noqa: E402


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # multithreaded OpenBLAS on these shared machines turns 3×3 solves into 20 ms
    with threadpool_limits(limits=1, user_api="blas"):
        yield


SIZES = {"stiefel": (7, 3), "stiefel-complex": (7, 3), "so": (5, 5), "unitary": (4, 4)}


def data(kind, dtype, seed=0):
    """A Hermitian A, N = diag(p, …, 1) and a target B, in ``dtype``."""
    n, p = SIZES[kind]
    rng = np.random.default_rng(seed)
    complex_ = dtype.startswith("complex")
    a = rng.standard_normal((n, n)) + (1j * rng.standard_normal((n, n)) if complex_ else 0)
    a = (a + a.conj().T) / 2
    nn = np.diag(np.arange(p, 0, -1.0))
    b = rng.standard_normal((n, p)) + (1j * rng.standard_normal((n, p)) if complex_ else 0)
    return a.astype(dtype), nn.astype(dtype), b.astype(dtype)


def brockett_problem(manifold, a, nn, source):
    """f(x) = Re tr(xᴴAxN); ∇f = 2AxN, ∇²f[v] = 2AvN."""
    def cost(x):
        return anp.real(anp.trace(anp.conj(x.T) @ a @ x @ nn))

    if source == "autograd":
        return Problem(manifold, cost)
    gradient = lambda x: 2 * a @ x @ nn  # noqa: E731
    if source == "finite-difference":
        return Problem(manifold, cost, euclidean_gradient=gradient)
    return Problem(manifold, cost, euclidean_gradient=gradient,
                   euclidean_hessian=lambda x, v: 2 * a @ v @ nn)


def procrustes_problem(manifold, b, source):
    """f(x) = ½‖x − B‖²; ∇f = x − B, ∇²f[v] = v (all curvature is the Weingarten term)."""
    def cost(x):
        return 0.5 * anp.real(anp.sum(anp.conj(x - b) * (x - b)))

    if source == "autograd":
        return Problem(manifold, cost)
    if source == "finite-difference":
        return Problem(manifold, cost, euclidean_gradient=lambda x: x - b)
    return Problem(manifold, cost, euclidean_gradient=lambda x: x - b,
                   euclidean_hessian=lambda x, v: v)


def slope_tolerance(dtype):
    return 0.15 if eps_of(dtype) < 1e-10 else 0.4


# -- passes on right Hessians ------------------------------------------------------------


@pytest.mark.parametrize("source", ["hand", "autograd", "finite-difference"])
@pytest.mark.parametrize("cost", ["brockett", "procrustes"])
@pytest.mark.parametrize("kind,dtype", MANIFOLD_DTYPES)
def test_check_hessian_passes(kind, dtype, cost, source):
    n, p = SIZES[kind]
    manifold = make_manifold(kind, n, p)
    a, nn, b = data(kind, dtype)
    problem = (brockett_problem(manifold, a, nn, source) if cost == "brockett"
               else procrustes_problem(manifold, b, source))
    x = manifold.random_point(rng=1, dtype=dtype)
    eps = eps_of(dtype)
    for seed in (2, 3):
        check = check_hessian(problem, x=x, rng=seed)
        assert check.passed, check.message
        # O(t³): slope 3, or above where the t³ coefficient happens to be small
        assert check.slope >= 3.0 - slope_tolerance(dtype), check.message
        assert check.curve == "exp"
        assert check.finite_difference == (source == "finite-difference")
        assert check.tangent_error <= math.sqrt(eps)
        symmetry_tol = eps ** (1 / 3) if source == "finite-difference" else math.sqrt(eps)
        assert check.symmetry_error <= symmetry_tol
        start, stop = check.window
        assert stop - start == 8
        assert ("finite differences" in check.message) == (source == "finite-difference")


def test_check_hessian_float64_slope_is_three_within_a_hundredth():
    """In double precision the fitted window sits in the asymptotic regime."""
    manifold = Stiefel(7, 3)
    a, nn, _ = data("stiefel", "float64")
    for seed in range(5):
        check = check_hessian(brockett_problem(manifold, a, nn, "hand"), rng=seed)
        assert abs(check.slope - 3.0) <= 0.02, check.message


# -- fails on wrong ones ---------------------------------------------------------------------


class _NoWeingarten:
    """Mixin: the Riemannian Hessian as the projected Euclidean one (the classic mistake)."""

    def euclidean_to_riemannian_hessian(self, x, euclidean_gradient, euclidean_hessian, v):
        return self.projection(x, euclidean_hessian)


class StiefelNoWeingarten(_NoWeingarten, Stiefel):
    pass


class SONoWeingarten(_NoWeingarten, SpecialOrthogonal):
    pass


class UnitaryNoWeingarten(_NoWeingarten, Unitary):
    pass


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cost", ["brockett", "procrustes"])
def test_missing_weingarten_term_fails_with_slope_two(cost, dtype):
    manifold = StiefelNoWeingarten(7, 3)
    a, nn, b = data("stiefel", dtype)
    problem = (brockett_problem(manifold, a, nn, "hand") if cost == "brockett"
               else procrustes_problem(manifold, b, "hand"))
    check = check_hessian(problem, x=manifold.random_point(rng=1, dtype=dtype), rng=2)
    assert not check.passed
    assert abs(check.slope - 2.0) <= (0.1 if dtype == "float64" else 0.3), check.message
    assert "wrong" in check.message


@pytest.mark.parametrize("manifold", [SONoWeingarten(5), UnitaryNoWeingarten(4)],
                         ids=["so", "unitary"])
def test_missing_weingarten_term_fails_on_groups(manifold):
    kind = "so" if isinstance(manifold, SpecialOrthogonal) else "unitary"
    dtype = "float64" if kind == "so" else "complex128"
    a, nn, _ = data(kind, dtype)
    check = check_hessian(brockett_problem(manifold, a, nn, "hand"), rng=2)
    assert not check.passed
    assert abs(check.slope - 2.0) <= 0.1, check.message


@pytest.mark.parametrize("kind,dtype", MANIFOLD_DTYPES)
def test_scaled_hessian_fails(kind, dtype):
    """∇²f[v] off by a factor 2: ⟨Hess[v], v⟩ is wrong, the error is O(t²)."""
    n, p = SIZES[kind]
    manifold = make_manifold(kind, n, p)
    a, nn, _ = data(kind, dtype)
    problem = Problem(manifold, lambda x: anp.real(anp.trace(anp.conj(x.T) @ a @ x @ nn)),
                      euclidean_gradient=lambda x: 2 * a @ x @ nn,
                      euclidean_hessian=lambda x, v: 4 * a @ v @ nn)
    check = check_hessian(problem, x=manifold.random_point(rng=1, dtype=dtype), rng=2)
    assert not check.passed
    if eps_of(dtype) < 1e-10:
        assert abs(check.slope - 2.0) <= 0.1, check.message
    else:
        # in single precision the t² and t³ terms may cancel inside the short window
        # (E(t) dips through zero): the slope is then anything below 3
        assert check.slope < 3.0 - slope_tolerance(dtype), check.message


def test_asymmetric_hessian_fails_on_symmetry_alone():
    """Adding Kv with K skew keeps ⟨Hess[v], v⟩ (slope 3) but breaks self-adjointness."""
    manifold = Stiefel(7, 3)
    a, nn, _ = data("stiefel", "float64")
    k = np.random.default_rng(5).standard_normal((7, 7))
    k = k - k.T
    problem = Problem(manifold, lambda x: anp.trace(x.T @ a @ x @ nn),
                      euclidean_gradient=lambda x: 2 * a @ x @ nn,
                      euclidean_hessian=lambda x, v: 2 * a @ v @ nn + k @ v)
    check = check_hessian(problem, rng=2)
    assert check.slope >= 3.0 - 0.15, check.message  # the quadratic form is right
    assert not check.passed
    assert check.symmetry_error > 1e-3
    assert "not symmetric" in check.message


class StiefelNormalHessian(Stiefel):
    """A Hessian with a normal component: x·I added to the tangent answer."""

    def euclidean_to_riemannian_hessian(self, x, euclidean_gradient, euclidean_hessian, v):
        tangent = super().euclidean_to_riemannian_hessian(x, euclidean_gradient,
                                                          euclidean_hessian, v)
        return tangent + x * float(np.linalg.norm(v))


def test_non_tangent_hessian_fails():
    manifold = StiefelNormalHessian(7, 3)
    a, nn, _ = data("stiefel", "float64")
    check = check_hessian(brockett_problem(manifold, a, nn, "hand"), rng=2)
    assert not check.passed
    assert check.tangent_error > 0.1
    assert "not tangent" in check.message


# -- other arrays, errors, plot -----------------------------------------------------------------


@pytest.mark.parametrize("backend", ["strict", "device1"])
@pytest.mark.parametrize("with_hessian", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_check_hessian_on_array_api_strict(backend, with_hessian, dtype):
    """Non-NumPy arrays: a hand gradient gives a finite-difference Hessian, checked as well."""
    like = template(backend, dtype)
    xp = like.__array_namespace__()
    manifold = Stiefel(6, 2)
    a = xp.asarray(np.diag(np.arange(1.0, 7.0)), dtype=like.dtype, device=like.device)
    nn = xp.asarray(np.diag([2.0, 1.0]), dtype=like.dtype, device=like.device)
    kwargs = {"euclidean_hessian": lambda x, v: 2 * a @ v @ nn} if with_hessian else {}
    problem = Problem(manifold, lambda x: xp.linalg.trace(x.mT @ a @ x @ nn),
                      euclidean_gradient=lambda x: 2 * a @ x @ nn, **kwargs)
    x = manifold.random_point(rng=0, like=like)
    check = check_hessian(problem, x=x, rng=1)
    assert check.passed, check.message
    assert check.finite_difference == (not with_hessian)
    assert ("finite differences" in check.message) == (not with_hessian)


def test_check_hessian_without_any_derivative_on_strict_arrays_raises():
    like = template("strict", "float64")
    xp = like.__array_namespace__()
    manifold = Stiefel(6, 2)
    problem = Problem(manifold, lambda x: xp.sum(x * x))
    with pytest.raises(TypeError, match="euclidean_gradient=") as info:
        check_hessian(problem, x=manifold.random_point(rng=0, like=like))
    assert "autograd" in str(info.value)


def test_check_hessian_reports_nonfinite_cost():
    manifold = Stiefel(5, 2)
    problem = Problem(manifold, lambda x: anp.log(x[0, 0] - 2.0))  # |x₀₀| ≤ 1: log < 0 is NaN
    with np.errstate(invalid="ignore"):
        check = check_hessian(problem, rng=0)
    assert not check.passed
    assert "not finite" in check.message


def test_check_hessian_plot_has_slope_two_and_three_guides():
    manifold = Stiefel(7, 3)
    a, nn, _ = data("stiefel", "float64")
    check = check_hessian(brockett_problem(manifold, a, nn, "hand"), plot=True, rng=0)
    ax = check.figure.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert "slope 2" in labels and "slope 3" in labels
    measured = ax.get_lines()[0]
    np.testing.assert_allclose(measured.get_xdata(), check.t)


def test_check_hessian_projects_a_given_direction():
    manifold = Stiefel(7, 3)
    a, nn, _ = data("stiefel", "float64")
    problem = brockett_problem(manifold, a, nn, "hand")
    x = manifold.random_point(rng=1)
    ambient = np.random.default_rng(2).standard_normal((7, 3))
    check = check_hessian(problem, x=x, v=ambient, rng=3)
    assert check.passed, check.message


# -- the Hessian-vector products themselves ------------------------------------------------------


def _pymanopt_hessian(manifold, x, egrad, ehess, v):
    """pymanopt's formula; its groups store tangent vectors as Ω = xᴴv."""
    pymanopt = pytest.importorskip("pymanopt")
    if isinstance(manifold, SpecialOrthogonal):
        group = pymanopt.manifolds.SpecialOrthogonalGroup(manifold.n)
        return x @ group.euclidean_to_riemannian_hessian(x, egrad, ehess, x.T @ v)
    if isinstance(manifold, Unitary):
        group = pymanopt.manifolds.UnitaryGroup(manifold.n)
        return x @ group.euclidean_to_riemannian_hessian(x, egrad, ehess, x.conj().T @ v)
    return pymanopt.manifolds.Stiefel(manifold.n, manifold.p).euclidean_to_riemannian_hessian(
        x, egrad, ehess, v)


@pytest.mark.parametrize("kind,dtype", [("stiefel", "float64"), ("so", "float64"),
                                        ("unitary", "complex128")])
def test_weingarten_term_agrees_with_pymanopt(kind, dtype):
    n, p = SIZES[kind]
    manifold = make_manifold(kind, n, p)
    a, nn, _ = data(kind, dtype)
    problem = brockett_problem(manifold, a, nn, "hand")
    x = manifold.random_point(rng=1, dtype=dtype)
    v = manifold.random_tangent_vector(x, rng=2)
    ours = problem.at(x).hess(v)
    reference = _pymanopt_hessian(manifold, x, 2 * a @ x @ nn, 2 * a @ v @ nn, v)
    assert np.linalg.norm(ours - reference) <= 100 * eps_of(dtype) * np.linalg.norm(reference)


@pytest.mark.parametrize("kind,dtype", MANIFOLD_DTYPES)
def test_three_hessian_sources_agree(kind, dtype):
    """Hand, autograd and finite-difference products agree to their accuracy."""
    n, p = SIZES[kind]
    manifold = make_manifold(kind, n, p)
    a, nn, _ = data(kind, dtype)
    x = manifold.random_point(rng=1, dtype=dtype)
    v = manifold.random_tangent_vector(x, rng=2)
    reference = brockett_problem(manifold, a, nn, "hand").at(x).hess(v)
    scale = float(np.linalg.norm(reference))
    eps = eps_of(dtype)
    autograd_h = brockett_problem(manifold, a, nn, "autograd").at(x).hess(v)
    fd_h = brockett_problem(manifold, a, nn, "finite-difference").at(x).hess(v)
    assert autograd_h.dtype == fd_h.dtype == np.dtype(dtype)
    assert np.linalg.norm(autograd_h - reference) <= 100 * eps * scale
    # central differences: relative accuracy about eps^(2/3)
    assert np.linalg.norm(fd_h - reference) <= 10 * eps ** (2 / 3) * scale


def test_finite_difference_hessian_costs_two_gradients_and_no_cost():
    manifold = Stiefel(7, 3)
    a, nn, _ = data("stiefel", "float64")
    problem = brockett_problem(manifold, a, nn, "finite-difference")
    x = manifold.random_point(rng=1)
    evaluation = problem.at(x)
    evaluation.evaluate_gradient()
    counts = (problem.n_cost_evaluations, problem.n_gradient_evaluations)
    evaluation.hess(manifold.random_tangent_vector(x, rng=2))
    assert problem.n_cost_evaluations == counts[0]
    assert problem.n_gradient_evaluations == counts[1] + 2
    assert problem.n_hessian_evaluations == 1


def test_finite_difference_hessian_on_strict_arrays_matches_numpy():
    like = template("device1", "float64")
    xp = like.__array_namespace__()
    manifold = Unitary(4)
    a_np, nn_np, _ = data("unitary", "complex128")
    a = xp.asarray(a_np, device=like.device)
    nn = xp.asarray(nn_np, device=like.device)
    x_np = manifold.random_point(rng=1)
    v_np = manifold.random_tangent_vector(x_np, rng=2)
    problem = Problem(manifold, lambda x: xp.real(xp.linalg.trace(xp.conj(x.mT) @ a @ x @ nn)),
                      euclidean_gradient=lambda x: 2 * a @ x @ nn)
    x = xp.asarray(x_np, device=like.device)
    h = problem.at(x).hess(xp.asarray(v_np, device=like.device))
    assert h.device == like.device
    reference = brockett_problem(manifold, a_np, nn_np, "hand").at(x_np).hess(v_np)
    assert np.linalg.norm(to_numpy(h) - reference) <= 10 * 2.2e-16 ** (2 / 3) * np.linalg.norm(
        reference)


def test_single_precision_check_reports_a_wrong_gradient():
    """In single precision the cost is evaluated in double and the first-order term is
    measured; a wrong gradient shows there (and fails) instead of hiding the t³ term."""
    manifold = Stiefel(7, 3)
    a, nn, _ = data("stiefel", "float32")
    shift = np.random.default_rng(3).standard_normal((7, 3)).astype("float32")
    problem = Problem(manifold, lambda x: anp.trace(x.T @ a @ x @ nn),
                      euclidean_gradient=lambda x: 2 * a @ x @ nn + shift,
                      euclidean_hessian=lambda x, v: 2 * a @ v @ nn)
    check = check_hessian(problem, x=manifold.random_point(rng=1, dtype="float32"), rng=2)
    assert not check.passed
    assert "gradient is wrong" in check.message


def test_single_precision_cost_that_rejects_double_is_checked_in_single():
    manifold = Stiefel(7, 3)
    a, nn, _ = data("stiefel", "float32")

    def cost(x):
        if x.dtype != np.float32:
            raise TypeError("this cost only takes float32")
        return np.trace(x.T @ a @ x @ nn)

    problem = Problem(manifold, cost, euclidean_gradient=lambda x: 2 * a @ x @ nn,
                      euclidean_hessian=lambda x, v: 2 * a @ v @ nn)
    check = check_hessian(problem, x=manifold.random_point(rng=1, dtype="float32"), rng=2)
    assert check.passed, check.message
    assert check.slope >= 3.0 - 0.4
