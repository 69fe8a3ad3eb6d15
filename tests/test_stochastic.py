"""Riemannian SGD (momentum) and RMSprop steppers."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

from orthopt.backend import to_numpy
from orthopt.manifolds import SpecialOrthogonal, Stiefel, Unitary
from orthopt.optim import Problem
from orthopt.optim.stochastic import RiemannianRMSprop, RiemannianSGD

try:
    import array_api_strict as xs
except ImportError:  # pragma: no cover
    xs = None

EPS = float(np.finfo(np.float64).eps)

MANIFOLDS = [Stiefel(8, 3), SpecialOrthogonal(6, retraction="cayley"), Unitary(4, retraction="qr")]


def _brockett(manifold, seed=0):
    rng = np.random.default_rng(seed)
    n, p = manifold.point_shape
    a = rng.standard_normal((n, n))
    if manifold.is_complex:
        a = a + 1j * rng.standard_normal((n, n))
    a = (a + a.conj().T) / 2
    nn = np.diag(np.arange(p, 0, -1.0))
    optimum = float(np.sum(np.linalg.eigvalsh(a)[:p] * np.diag(nn)))

    def cost(x):
        return float(np.real(np.sum(np.conj(x) * (a @ x @ nn))))

    return cost, (lambda x: 2 * a @ x @ nn), optimum


def _steppers(manifold):
    return [RiemannianSGD(lr=0.02, manifold=manifold),
            RiemannianSGD(lr=0.01, momentum=0.8, manifold=manifold),
            RiemannianRMSprop(lr=0.005, precondition="riemannian", manifold=manifold)]


def _nearest_point_cost(manifold, seed=0):
    """f(x) = ½‖x − B‖², B on the manifold: minimum 0 at x = B."""
    b = manifold.random_point(rng=seed)
    return (lambda x: 0.5 * float(np.sum(np.abs(x - b) ** 2))), (lambda x: x - b)


@pytest.mark.parametrize("manifold", MANIFOLDS, ids=repr)
def test_steppers_stay_on_the_manifold_and_decrease_the_cost(manifold):
    cost, grad, optimum = _brockett(manifold)
    rng = np.random.default_rng(1)
    for stepper in _steppers(manifold):
        x = manifold.random_point(rng=2)
        f0 = cost(x)
        state = None
        for _ in range(400):
            noisy = grad(x) + 0.05 * (rng.standard_normal(x.shape)
                                      + (1j * rng.standard_normal(x.shape)
                                         if manifold.is_complex else 0))
            x, state = stepper.step(x, noisy, state)
        assert state.step == 400
        assert manifold.feasibility(x) <= 100 * EPS * manifold.n, type(stepper).__name__
        # most of the gap to the optimum is closed despite the gradient noise
        assert cost(x) - optimum <= 0.05 * (f0 - optimum), (type(stepper).__name__, cost(x))


@pytest.mark.parametrize("manifold", MANIFOLDS, ids=repr)
def test_euclidean_rmsprop_decreases_a_nearest_point_cost(manifold):
    """The RNN papers' rule (precondition ∇f, then project) on a cost whose
    gradient is mostly tangent."""
    cost, grad = _nearest_point_cost(manifold, seed=20)
    x = manifold.random_point(rng=21)
    f0 = cost(x)
    stepper = RiemannianRMSprop(lr=0.01, manifold=manifold)
    state = None
    for _ in range(300):
        x, state = stepper.step(x, grad(x), state)
    assert manifold.feasibility(x) <= 100 * EPS * manifold.n
    assert cost(x) <= 0.05 * f0, (cost(x), f0)


@pytest.mark.parametrize("stepper_class", [RiemannianSGD, RiemannianRMSprop])
def test_state_round_trips(stepper_class):
    manifold = Stiefel(7, 2)
    cost, grad, _ = _brockett(manifold, seed=3)
    kwargs = {"momentum": 0.9} if stepper_class is RiemannianSGD else {}
    stepper = stepper_class(lr=0.01, manifold=manifold, **kwargs)
    x, state = manifold.random_point(rng=4), None
    for _ in range(5):
        x, state = stepper.step(x, grad(x), state)
    restored = pickle.loads(pickle.dumps(state))
    key = "momentum" if stepper_class is RiemannianSGD else "square_average"
    assert np.array_equal(getattr(restored, key), getattr(state, key))
    # a checkpoint that stores the fields as a dict restores the same state
    rebuilt = type(state)(**dataclasses.asdict(state))
    assert np.array_equal(getattr(rebuilt, key), getattr(state, key))
    assert rebuilt.step == state.step == 5
    x_a, x_b, s_a, s_b = x, x.copy(), state, restored
    for _ in range(5):
        x_a, s_a = stepper.step(x_a, grad(x_a), s_a)
        x_b, s_b = stepper.step(x_b, grad(x_b), s_b)
    assert np.array_equal(x_a, x_b)
    assert s_a.step == s_b.step == 10


def test_rmsprop_matches_the_formula():
    """One step: v = (1−α)g², d = g/(√v + ε), x₁ = R_x(−η P_x(d))."""
    manifold = Stiefel(5, 2, retraction="polar")
    x = manifold.random_point(rng=5)
    g = np.random.default_rng(6).standard_normal((5, 2))
    x1, state = RiemannianRMSprop(lr=0.1, alpha=0.9, eps=1e-8, manifold=manifold).step(x, g)
    v = 0.1 * g * g
    expected = manifold.retraction(x, -0.1 * manifold.projection(x, g / (np.sqrt(v) + 1e-8)))
    assert np.max(np.abs(x1 - expected)) <= 10 * EPS
    assert np.max(np.abs(state.square_average - v)) <= 10 * EPS


def test_sgd_momentum_is_transported_to_the_tangent_space():
    manifold = Stiefel(6, 3)
    _, grad, _ = _brockett(manifold, seed=7)
    stepper = RiemannianSGD(lr=0.05, momentum=0.9, manifold=manifold)
    x, state = manifold.random_point(rng=8), None
    for _ in range(3):
        x, state = stepper.step(x, grad(x), state)
        m = state.momentum
        defect = x.T @ m + m.T @ x
        assert np.max(np.abs(defect)) <= 100 * EPS


def test_run_uses_the_full_gradient():
    manifold = SpecialOrthogonal(5)
    cost, grad, optimum = _brockett(manifold, seed=9)
    problem = Problem(manifold, cost, euclidean_gradient=grad)
    res = RiemannianSGD(lr=0.02, momentum=0.5, max_iterations=3000,
                        gradient_tolerance=1e-7).run(problem, rng=10)
    assert res.status == "gradient_tolerance"
    assert abs(res.fun - optimum) <= 1e-8 * abs(optimum)
    res = RiemannianRMSprop(lr=1e-3, precondition="riemannian",
                            max_iterations=200).run(problem, rng=10)
    assert res.fun < res.history["cost"][0]


@pytest.mark.skipif(xs is None, reason="array-api-strict is not installed")
@pytest.mark.parametrize("stepper_class", [RiemannianSGD, RiemannianRMSprop])
def test_array_api_strict(stepper_class):
    manifold = Unitary(4)
    cost, grad, _ = _brockett(manifold, seed=11)
    x_np = manifold.random_point(rng=12)
    x = xs.asarray(x_np)
    kwargs = {"momentum": 0.5} if stepper_class is RiemannianSGD else {}
    stepper = stepper_class(lr=0.01, **kwargs)  # manifold inferred: complex square → U(4)
    state = None
    x_ref, state_ref = x_np, None
    for _ in range(10):
        x, state = stepper.step(x, xs.asarray(grad(to_numpy(x))), state)
        x_ref, state_ref = stepper.step(x_ref, grad(x_ref), state_ref)
    assert isinstance(x, type(xs.asarray(x_np)))
    assert np.max(np.abs(to_numpy(x) - x_ref)) <= 1e3 * EPS


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="lr"):
        RiemannianSGD(lr=0)
    with pytest.raises(ValueError, match="momentum"):
        RiemannianSGD(lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="alpha"):
        RiemannianRMSprop(lr=0.1, alpha=1.5)
    with pytest.raises(ValueError, match="eps"):
        RiemannianRMSprop(lr=0.1, eps=0)
    with pytest.raises(ValueError, match="precondition"):
        RiemannianRMSprop(lr=0.1, precondition="adam")
