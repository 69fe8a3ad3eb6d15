"""``orthopt.minimize``: every method name, jac forms, callback, progress bar, history, errors."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import scipy.linalg

from orthopt.backend import get_namespace, to_numpy
from orthopt.manifolds import SpecialOrthogonal, Stiefel, Unitary
from orthopt.optim import METHODS, OptimizeResult, infer_manifold, minimize

try:
    import array_api_strict as xs
except ImportError:  # pragma: no cover - test extra missing
    xs = None

EPS = float(np.finfo(np.float64).eps)
ALL_METHODS = ("rgd", "rgd-bb", "cg", "givens", "givens-gs", "projunn-d", "projunn-t")
CORE_METHODS = ("rgd", "rgd-bb", "cg")


def _to_backend(a, backend):
    if backend == "numpy":
        return np.asarray(a)
    if xs is None:
        pytest.skip("array-api-strict is not installed")
    return xs.asarray(np.asarray(a))


def _require(method):
    """Skip methods whose solver module has not landed yet."""
    module = METHODS[method][0]
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        pytest.skip(f"{module} is not available")


def brockett_data(n=8, p=3, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = (q * np.linspace(1.0, 3.0, n)) @ q.T
    w = np.arange(p, 0, -1.0)
    optimum = float(np.sum(np.linalg.eigvalsh(a)[:p] * w))
    x0 = Stiefel(n, p).random_point(rng=seed + 1)
    return a, w, x0, optimum


def procrustes_data(n=5, m=10, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, n))
    b = a @ SpecialOrthogonal(n).random_point(rng=seed + 2) + 1e-2 * rng.standard_normal((m, n))
    r, _ = scipy.linalg.orthogonal_procrustes(a, b)
    optimum = float(np.sum((a @ r - b) ** 2))
    x0 = SpecialOrthogonal(n).random_point(rng=seed + 1)
    return a, b, x0, optimum


# -- every method through minimize ------------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "strict"])
@pytest.mark.parametrize("method", CORE_METHODS)
def test_core_methods_solve_brockett(method, backend):
    a_host, w_host, x0_host, optimum = brockett_data()
    a, w = _to_backend(a_host, backend), _to_backend(w_host, backend)
    x0 = _to_backend(x0_host, backend)

    def cost_and_gradient(x):
        xp = get_namespace(x)
        ax = a @ x
        return xp.sum(x * ax * w), 2 * ax * w

    res = minimize(cost_and_gradient, x0, method=method, jac=True,
                   options={"gradient_tolerance": 0.0, "relative_gradient_tolerance": 1e-7,
                            "max_iterations": 5000})
    assert isinstance(res, OptimizeResult)
    assert res.status == "gradient_tolerance" and res.success
    assert abs(res.fun - optimum) <= 1e-8 * abs(optimum)
    assert type(res.x) is type(x0)


@pytest.mark.parametrize("method", CORE_METHODS)
def test_core_methods_solve_procrustes_against_scipy(method):
    a, b, x0, optimum = procrustes_data()
    res = minimize(lambda x: np.sum((a @ x - b) ** 2), x0, method=method,
                   jac=lambda x: 2 * a.T @ (a @ x - b),
                   options={"gradient_tolerance": 0.0, "relative_gradient_tolerance": 1e-7,
                            "max_iterations": 5000})
    assert res.status == "gradient_tolerance"
    assert abs(res.fun - optimum) <= 1e-8 * abs(optimum)
    assert np.linalg.det(res.x) > 0


@pytest.mark.parametrize("backend", ["numpy", "strict"])
@pytest.mark.parametrize("method", ALL_METHODS)
def test_every_method_runs_on_procrustes(method, backend):
    _require(method)
    a_host, b_host, x0_host, optimum = procrustes_data(seed=3)
    a, b = _to_backend(a_host, backend), _to_backend(b_host, backend)
    x0 = _to_backend(x0_host, backend)
    f0 = float(np.sum((a_host @ x0_host - b_host) ** 2))

    def cost(x):
        xp = get_namespace(x)
        return xp.sum((a @ x - b) ** 2)

    # a smoke test of the plumbing (each solver's accuracy is tested in its own file)
    res = minimize(cost, x0, method=method, jac=lambda x: 2 * a.T @ (a @ x - b),
                   options={"max_iterations": 40})
    assert isinstance(res, OptimizeResult)
    assert type(res.x) is type(x0) and res.x.dtype == x0.dtype
    assert math.isfinite(res.fun) and res.fun < f0
    assert res.fun >= optimum - 1e-8 * abs(optimum)
    x = to_numpy(res.x)
    assert np.linalg.norm(x.T @ x - np.eye(5)) <= 1e3 * EPS
    assert len(res.history["cost"]) == res.nit + 1


@pytest.mark.parametrize("method", ["givens", "givens-gs"])
def test_givens_methods_run_on_stiefel(method):
    _require(method)
    a, w, x0, optimum = brockett_data(seed=4)
    res = minimize(lambda x: np.sum(x * (a @ x) * w), x0, method=method,
                   jac=lambda x: 2 * (a @ x) * w, options={"max_iterations": 100})
    assert res.fun < float(np.sum(x0 * (a @ x0) * w))
    assert res.fun >= optimum - 1e-8 * abs(optimum)


def test_autograd_jac_none():
    import autograd.numpy as anp

    a, w, x0, optimum = brockett_data(seed=5)
    res = minimize(lambda x: anp.sum(x * (a @ x) * w), x0, method="cg",
                   options={"gradient_tolerance": 1e-9})
    assert res.status == "gradient_tolerance"
    assert abs(res.fun - optimum) <= 1e-8 * abs(optimum)


# -- callback, progress bar, history ----------------------------------------------------


def test_callback_can_stop_the_run():
    a, w, x0, _ = brockett_data()
    calls = []

    def callback(intermediate):
        calls.append(intermediate.nit)
        return intermediate.nit >= 3

    res = minimize(lambda x: np.sum(x * (a @ x) * w), x0, method="cg",
                   jac=lambda x: 2 * (a @ x) * w, callback=callback)
    assert res.status == "callback" and res.nit == 3 and calls == [1, 2, 3]
    assert res.message == "the callback asked to stop"


def test_verbose_shows_cost_and_gradient_norm(capsys):
    a, w, x0, _ = brockett_data()
    res = minimize(lambda x: np.sum(x * (a @ x) * w), x0, method="rgd-bb",
                   jac=lambda x: 2 * (a @ x) * w,
                   options={"verbose": True, "max_iterations": 20, "gradient_tolerance": 0.0})
    err = capsys.readouterr().err
    assert res.nit == 20
    assert "cost=" in err and "grad=" in err and "orthopt" in err


def test_history_has_per_iteration_records():
    a, w, x0, _ = brockett_data()
    res = minimize(lambda x: np.sum(x * (a @ x) * w), x0, method="cg",
                   jac=lambda x: 2 * (a @ x) * w, options={"max_iterations": 15,
                                                           "gradient_tolerance": 0.0})
    history = res.history
    assert set(history) == {"cost", "grad_norm", "step_size", "time"}
    for values in history.values():
        assert values.shape == (16,)
    assert history["cost"][-1] == res.fun and history["grad_norm"][-1] == res.grad_norm
    assert history["step_size"][0] == 0.0 and np.all(history["step_size"][1:] > 0)
    assert np.all(np.diff(history["time"]) >= 0)
    assert history["cost"][-1] < history["cost"][0]


# -- manifold inference -------------------------------------------------------------------


def test_infer_manifold():
    rng = np.random.default_rng(0)
    assert isinstance(infer_manifold(Stiefel(6, 2).random_point(rng=rng)), Stiefel)
    rotation = SpecialOrthogonal(4).random_point(rng=rng)
    assert isinstance(infer_manifold(rotation), SpecialOrthogonal)
    reflection = rotation.copy()
    reflection[:, 0] *= -1
    inferred = infer_manifold(reflection)
    assert type(inferred) is Stiefel and inferred.point_shape == (4, 4)
    assert isinstance(infer_manifold(Unitary(3).random_point(rng=rng)), Unitary)
    complex_tall = infer_manifold(Stiefel(5, 2, field="complex").random_point(rng=rng))
    assert complex_tall.is_complex and complex_tall.point_shape == (5, 2)


def test_explicit_manifold_is_used():
    a, b, x0, optimum = procrustes_data()
    res = minimize(lambda x: np.sum((a @ x - b) ** 2), x0, method="cg",
                   jac=lambda x: 2 * a.T @ (a @ x - b),
                   manifold=SpecialOrthogonal(5, retraction="cayley"),
                   options={"gradient_tolerance": 1e-9})
    assert abs(res.fun - optimum) <= 1e-8 * abs(optimum)


# -- bad input ------------------------------------------------------------------------------


def test_unknown_method():
    _, _, x0, _ = brockett_data()
    with pytest.raises(ValueError, match="unknown method 'newton'.*'cg'"):
        minimize(lambda x: 0.0, x0, method="newton")


def test_unknown_option():
    a, w, x0, _ = brockett_data()
    with pytest.raises(TypeError, match="invalid option for method 'cg'.*tolerance_typo"):
        minimize(lambda x: np.sum(x * (a @ x) * w), x0, method="cg",
                 jac=lambda x: 2 * (a @ x) * w, options={"tolerance_typo": 1e-3})


def test_bad_option_value():
    _, _, x0, _ = brockett_data()
    with pytest.raises(ValueError, match="unknown beta"):
        minimize(lambda x: 0.0, x0, method="cg", options={"beta": "xx"})


def test_x0_off_the_manifold():
    _, _, x0, _ = brockett_data()
    with pytest.raises(ValueError, match="not on Stiefel.*projection_onto_manifold"):
        minimize(lambda x: np.sum(x), 1.5 * x0, method="cg", jac=lambda x: np.ones_like(x))


def test_cost_returning_non_scalar():
    _, _, x0, _ = brockett_data()
    with pytest.raises(ValueError, match="must return a scalar, got an array of shape"):
        minimize(lambda x: x.sum(axis=0), x0, method="rgd", jac=lambda x: np.ones_like(x))


def test_x0_with_more_columns_than_rows():
    x0 = np.linalg.qr(np.random.default_rng(0).standard_normal((5, 3)))[0].T
    with pytest.raises(ValueError, match="more columns than rows.*transpose"):
        minimize(lambda x: np.sum(x), x0, method="cg")


def test_bad_jac_and_manifold_types():
    _, _, x0, _ = brockett_data()
    with pytest.raises(TypeError, match="jac must be"):
        minimize(lambda x: 0.0, x0, jac="2-point")
    with pytest.raises(TypeError, match="manifold must be"):
        minimize(lambda x: 0.0, x0, manifold="stiefel")


def test_autograd_only_on_numpy():
    if xs is None:
        pytest.skip("array-api-strict is not installed")
    _, _, x0, _ = brockett_data()
    with pytest.raises(TypeError, match="autograd only differentiates NumPy"):
        minimize(lambda x: xs.sum(x), xs.asarray(x0), method="cg")


def test_result_x_is_not_aliased_to_a_nonfinite_trial():
    a, w, x0, _ = brockett_data()
    res = minimize(lambda x: np.sum(x * (a @ x) * w) if np.abs(x).max() < 2 else np.nan, x0,
                   method="cg", jac=lambda x: 2 * (a @ x) * w, options={"max_iterations": 5})
    assert np.all(np.isfinite(to_numpy(res.x)))


# -- the stochastic step interface across all solvers ---------------------------------------


def _steppers():
    from orthopt.optim import (
        GivensCoordinateDescent,
        ProjUNN,
        RiemannianGradientDescent,
        RiemannianRMSprop,
        RiemannianSGD,
    )

    return {
        "rgd": lambda: RiemannianGradientDescent(lr=0.05),
        "sgd-momentum": lambda: RiemannianSGD(lr=0.05, momentum=0.5),
        "rmsprop": lambda: RiemannianRMSprop(lr=0.01),
        "givens-gs": lambda: GivensCoordinateDescent(rule="gauss-southwell", step=0.2),
        "projunn-d": lambda: ProjUNN(variant="D", rank=2, approximation="exact", lr=0.05),
        "projunn-t": lambda: ProjUNN(variant="T", rank=2, approximation="exact", lr=0.05),
    }


@pytest.mark.parametrize("name", ["rgd", "sgd-momentum", "rmsprop", "givens-gs", "projunn-d",
                                  "projunn-t"])
def test_every_stepper_follows_the_step_interface(name):
    """step(x, egrad, None) → (x, state); state threads through; x stays on SO(n)."""
    solver = _steppers()[name]()
    target = SpecialOrthogonal(6).random_point(rng=21)
    x = SpecialOrthogonal(6).random_point(rng=22)

    def cost(x):
        return float(np.sum((x - target) ** 2))

    f0, state = cost(x), None
    for _ in range(60):
        x, state = solver.step(x, 2 * (x - target), state)
        assert state is not None
    assert np.linalg.norm(x.T @ x - np.eye(6)) <= 1e3 * EPS
    assert np.linalg.det(x) > 0
    assert cost(x) < 0.9 * f0


@pytest.mark.parametrize("method", ["givens", "projunn-t"])
def test_randomized_methods_are_reproducible_with_rng(method):
    from orthopt.optim import minimize as minimize_

    rng = np.random.default_rng(5)
    a = rng.standard_normal((6, 6))
    a = a + a.T
    x0 = np.eye(6)

    def cost(x):
        return float(np.sum(x * (a @ x @ np.diag(np.arange(1.0, 7.0)))))

    def jac(x):
        return a @ x @ np.diag(np.arange(1.0, 7.0)) * 2

    options = {"max_iterations": 15, "gradient_tolerance": 0.0}
    runs = [minimize_(cost, x0, method=method, jac=jac, options=options, rng=3) for _ in range(2)]
    other = minimize_(cost, x0, method=method, jac=jac, options=options, rng=4)
    np.testing.assert_array_equal(runs[0].x, runs[1].x)
    assert not np.array_equal(runs[0].x, other.x)


# -- every method to 1e-8 on the three reference problems --------------------------------


def _square_problem(name, n=5, seed=0):
    """The three reference problems on SO(n), with their optima from LAPACK / SciPy.

    Square so that all seven methods apply (projUNN lives on the group only):

    * Brockett ``tr(XᵀAXN)``, ``N = diag(n, ..., 1)``: optimum ``Σ λ_i(A) N_ii`` pairing
      the ascending eigenvalues with the descending weights;
    * Procrustes ``‖AX − B‖²``: optimum from ``scipy.linalg.orthogonal_procrustes``
      (``B`` is built from a rotation so the O(n) optimum has det +1);
    * dominant subspace ``−tr(X₁ᵀAX₁)`` with ``X₁`` the first two columns: optimum
      ``−(λ_max + λ_second)``.

    Column signs never change the two trace costs, so their optimum over SO(n) equals
    the one over O(n). Returns ``(A, B or diag(N), optimum)``.
    """
    rng = np.random.default_rng(seed)
    if name == "procrustes":
        # noise large enough that the optimum is far from 0 (a relative error means something)
        a = rng.standard_normal((2 * n, n))
        b = a @ SpecialOrthogonal(n).random_point(rng=seed + 2) + 0.3 * rng.standard_normal(
            (2 * n, n))
        r, _ = scipy.linalg.orthogonal_procrustes(a, b)
        assert np.linalg.det(r) > 0
        return a, b, float(np.sum((a @ r - b) ** 2))
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    spectrum = np.linspace(1.0, 3.0, n) if name == "brockett" else np.array(
        [0.5, 0.8, 1.0, 3.0, 4.0])[:n]
    a = (q * spectrum) @ q.T
    if name == "brockett":
        w = np.arange(n, 0, -1.0)
        return a, w, float(np.sum(np.sort(spectrum) * w))
    w = np.zeros(n)
    w[:2] = -1.0
    return a, w, -float(np.sum(np.sort(spectrum)[-2:]))


@pytest.mark.parametrize("backend", ["numpy", "strict"])
@pytest.mark.parametrize("problem_name", ["brockett", "procrustes", "dominant"])
@pytest.mark.parametrize("method", ALL_METHODS)
def test_every_method_reaches_the_optimum(method, problem_name, backend):
    _require(method)
    a_host, b_host, optimum = _square_problem(problem_name)
    a, b = _to_backend(a_host, backend), _to_backend(b_host, backend)
    x0 = _to_backend(SpecialOrthogonal(5).random_point(rng=7), backend)

    if problem_name == "procrustes":
        def cost_and_gradient(x):
            xp = get_namespace(x)
            r = a @ x - b
            return xp.sum(r * r), 2 * a.T @ r
    else:
        # Brockett and the dominant subspace are both tr(XᵀAX diag(w))
        def cost_and_gradient(x):
            xp = get_namespace(x)
            ax = a @ x
            return xp.sum(x * ax * b), 2 * ax * b

    # ‖grad‖ ≤ 1e-6‖grad₀‖ is a cost gap of ~1e-13 here, a few ulps of the cost (≈ 25):
    # below that no line search can measure a decrease, and a run may also stop on
    # its step tolerance
    options = {"gradient_tolerance": 0.0, "relative_gradient_tolerance": 1e-6,
               "max_iterations": 3000}
    if method.startswith("projunn"):
        options["rank"] = 2
    res = minimize(cost_and_gradient, x0, method=method, jac=True, options=options)
    assert res.status in ("gradient_tolerance", "step_tolerance"), (res.status, res.message)
    assert abs(res.fun - optimum) <= 1e-8 * abs(optimum), (res.fun, optimum)
    assert type(res.x) is type(x0) and res.x.dtype == x0.dtype
    x = to_numpy(res.x)
    assert np.linalg.norm(x.T @ x - np.eye(5)) <= 1e3 * EPS and np.linalg.det(x) > 0


def test_x0_as_nested_list_or_integers_like_scipy():
    a = np.diag(np.arange(1.0, 6.0))
    for x0 in (np.eye(5, 2).tolist(), np.eye(5, 2, dtype=int)):
        res = minimize(lambda x: np.sum(x * (a @ x)), x0, method="rgd-bb",
                       jac=lambda x: 2 * a @ x)
        assert res.success and res.x.dtype == np.float64
        assert abs(res.fun - 3.0) <= 1e-10


@pytest.mark.parametrize("options, hint", [({"maxiter": 3}, "'maxiter' → 'max_iterations'"),
                                           ({"gtol": 1e-3}, "'gtol' → 'gradient_tolerance'"),
                                           ({"max_iteration": 3}, "→ 'max_iterations'"),
                                           ({"zzz": 1}, "valid options: ")])
def test_unknown_option_names_the_right_one(options, hint):
    a = np.diag(np.arange(1.0, 6.0))
    with pytest.raises(TypeError, match="invalid option") as info:
        minimize(lambda x: np.sum(x * (a @ x)), np.eye(5, 2), method="cg",
                 jac=lambda x: 2 * a @ x, options=options)
    assert hint in str(info.value)
    if "valid options" in hint:
        assert "max_iterations" in str(info.value) and "args" not in str(info.value)
