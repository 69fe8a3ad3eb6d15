"""Bad input: every mistake gets a clear error that says what is wrong and the fix.

Each test asserts on the message content (``match=``), not just the type, so a
refactor that loses the explanation fails here.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from conftest import template
from orthopt import (
    Problem,
    RiemannianGradientDescent,
    SpecialOrthogonal,
    Stiefel,
    Unitary,
)


@pytest.fixture
def stiefel():
    return Stiefel(5, 2)


# -- manifold construction ------------------------------------------------------


def test_p_greater_than_n():
    with pytest.raises(ValueError, match=r"p=3 > n=2.*use p ≤ n"):
        Stiefel(2, 3)


@pytest.mark.parametrize("make", [lambda: Stiefel(0, 1), lambda: SpecialOrthogonal(0),
                                  lambda: Unitary(-2)])
def test_n_less_than_one(make):
    with pytest.raises(ValueError, match=r"n must be at least 1, got n=(0|-2)"):
        make()


def test_p_less_than_one():
    with pytest.raises(ValueError, match="p must be at least 1, got p=0"):
        Stiefel(3, 0)


@pytest.mark.parametrize("value", [3.0, "3", True])
def test_non_integer_size(value):
    with pytest.raises(TypeError, match="n must be an integer"):
        Stiefel(value, 1)


@pytest.mark.parametrize("cls", [Stiefel, SpecialOrthogonal, Unitary])
def test_unknown_retraction_lists_valid_names(cls):
    args = (4, 2) if cls is Stiefel else (4,)
    with pytest.raises(ValueError, match=r"unknown retraction 'householder'") as info:
        cls(*args, retraction="householder")
    for name in ("qr", "polar", "cayley", "exp", "givens"):
        assert repr(name) in str(info.value)


def test_unknown_field():
    with pytest.raises(ValueError, match="field must be 'real' or 'complex'"):
        Stiefel(3, 2, field="quaternion")


# -- points ----------------------------------------------------------------------


def test_wrong_shape(stiefel):
    with pytest.raises(ValueError, match=r"shape \(5, 3\).*Stiefel\(5, 2.*shape \(5, 2\)"):
        stiefel.check_point(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"shape \(10,\)"):
        stiefel.check_point(np.ones(10))


def test_not_an_array(stiefel):
    with pytest.raises(TypeError, match="x must be an array.*got list"):
        stiefel.check_point([[1.0, 0.0]] * 5)


def test_complex_point_on_real_manifold(stiefel):
    x = stiefel.random_point(rng=0).astype(np.complex128)
    with pytest.raises(ValueError, match=r"complex dtype complex128.*real manifold.*'complex'"):
        stiefel.check_point(x)


def test_real_point_on_unitary():
    with pytest.raises(ValueError, match=r"real dtype float64.*complex manifold.*complex128"):
        Unitary(3).check_point(np.eye(3))


def test_integer_dtype(stiefel):
    with pytest.raises(ValueError, match=r"dtype int64.*floating point: float32 or float64"):
        stiefel.check_point(np.eye(5, 2, dtype=np.int64))


@pytest.mark.parametrize("backend", ["numpy", "strict", "device1"])
def test_point_off_manifold_gives_error_and_fix(backend):
    M = Stiefel(5, 2)
    x = M.random_point(rng=1, like=template(backend, "float64"))
    # ‖(2x)ᴴ(2x) − I‖_F = ‖3I₂‖_F = 3√2
    expected = re.escape(f"{3 * math.sqrt(2):.1e}")
    with pytest.raises(ValueError, match=rf"not on Stiefel\(5, 2.*‖xᴴx − I‖ = {expected}.*"
                                         r"projection_onto_manifold"):
        M.check_point(2 * x)


def test_projection_onto_manifold_is_the_advertised_fix(stiefel):
    x = 2 * stiefel.random_point(rng=1) + 0.1
    stiefel.check_point(stiefel.projection_onto_manifold(x))


def test_reflection_on_special_orthogonal():
    M = SpecialOrthogonal(3)
    with pytest.raises(ValueError, match=r"det = -1\.000.*not in SO\(3\).*negate one column"):
        M.check_point(np.diag([1.0, 1.0, -1.0]))
    M.check_point(M.projection_onto_manifold(np.diag([1.0, 1.0, -1.0]) + 0.01))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_point(stiefel, bad):
    x = stiefel.random_point(rng=0)
    x[2, 1] = bad
    with pytest.raises(ValueError, match="NaN or inf"):
        stiefel.check_point(x)


def test_random_point_dtype_of_wrong_field(stiefel):
    with pytest.raises(ValueError, match=r"does not fit Stiefel\(5, 2.*use one of float32"):
        stiefel.random_point(dtype="complex128")
    with pytest.raises(ValueError, match="use one of complex64, complex128"):
        Unitary(2).random_point(dtype="float32")


# -- problems -------------------------------------------------------------------------


def test_cost_returning_non_scalar(stiefel):
    problem = Problem(stiefel, lambda x: x.T @ x)
    with pytest.raises(ValueError, match=r"cost must return a scalar.*shape \(2, 2\).*sum"):
        problem.cost(stiefel.random_point(rng=0))


def test_cost_returning_complex(stiefel):
    problem = Problem(stiefel, lambda x: 1j * float(np.sum(x)))
    with pytest.raises(ValueError, match="complex.*return a real scalar"):
        problem.cost(stiefel.random_point(rng=0))


def test_gradient_of_wrong_shape(stiefel):
    problem = Problem(stiefel, lambda x: float(np.sum(x)), euclidean_gradient=lambda x: x[:, :1])
    with pytest.raises(ValueError, match=r"gradient has shape \(5, 1\).*x has shape \(5, 2\)"):
        problem.cost_and_euclidean_gradient(stiefel.random_point(rng=0))


@pytest.mark.parametrize("backend", ["strict", "device1"])
def test_no_gradient_on_array_api_strict(stiefel, backend):
    x = stiefel.random_point(rng=0, like=template(backend, "float64"))
    problem = Problem(stiefel, lambda x: x[0, 0])
    with pytest.raises(TypeError, match=r"no gradient.*array_api_strict.*euclidean_gradient="):
        problem.cost_and_euclidean_gradient(x)


def test_cost_not_differentiable_by_autograd(stiefel):
    problem = Problem(stiefel, lambda x: float(np.linalg.norm(x)))
    with pytest.raises(TypeError, match=r"autograd could not differentiate.*autograd\.numpy"):
        problem.cost_and_euclidean_gradient(stiefel.random_point(rng=0))


def test_problem_needs_a_manifold():
    with pytest.raises(TypeError, match="manifold must be an orthopt manifold"):
        Problem("Stiefel(5, 2)", lambda x: 0.0)


def test_problem_cost_must_be_callable(stiefel):
    with pytest.raises(TypeError, match="cost must be callable"):
        Problem(stiefel, 3.0)


# -- solver ---------------------------------------------------------------------------


def test_unknown_step_rule():
    with pytest.raises(ValueError, match=r"unknown step rule 'newton'.*'armijo', 'bb', 'fixed'"):
        RiemannianGradientDescent(step="newton")


def test_fixed_step_needs_a_learning_rate():
    with pytest.raises(ValueError, match="needs a learning rate"):
        RiemannianGradientDescent(step="fixed")


def test_a_number_as_step_size_says_to_use_lr():
    with pytest.raises(TypeError, match="lr=0.1"):
        RiemannianGradientDescent(step_size=0.1)


def test_start_point_off_manifold(stiefel):
    problem = Problem(stiefel, lambda x: float(np.sum(x)), euclidean_gradient=np.ones_like)
    with pytest.raises(ValueError, match="not on Stiefel"):
        RiemannianGradientDescent().run(problem, x0=np.ones((5, 2)))


def _brockett(M):
    a = np.diag(np.arange(1.0, M.n + 1))

    def cost(x):
        return float(np.trace(x.T @ a @ x))

    return a, cost


@pytest.mark.parametrize("step", ["fixed", "armijo", "bb"])
def test_nan_cost_during_solve(stiefel, step):
    """The run stops with status "nonfinite" and returns the last finite iterate."""
    a, brockett = _brockett(stiefel)
    calls = {"n": 0}
    iterates = []

    def cost_and_gradient(x):
        calls["n"] += 1
        value = brockett(x) if calls["n"] <= 4 else math.nan
        return value, 2 * a @ x

    problem = Problem(stiefel, None, cost_and_gradient=cost_and_gradient)
    solver = RiemannianGradientDescent(step=step, lr=0.05 if step == "fixed" else None,
                                       max_iterations=100)
    x0 = stiefel.random_point(rng=3)
    result = solver.run(problem, x0=x0, callback=lambda r: iterates.append(r.x.copy()))
    assert result.status == "nonfinite"
    assert not result.success
    assert "non-finite" in result.message
    assert math.isfinite(result.fun)
    assert np.all(np.isfinite(result.x))
    stiefel.check_point(result.x)
    last = iterates[-1] if iterates else x0
    np.testing.assert_array_equal(result.x, last)
    assert result.fun == pytest.approx(brockett(last), rel=1e-12)
    assert np.all(np.isfinite(result.history["cost"]))


@pytest.mark.parametrize("dtype", [np.float16, "float16", "int8"])
def test_unsupported_dtype_names_the_supported_ones(dtype):
    with pytest.raises(ValueError, match="float16|int8") as info:
        Stiefel(3, 2).random_point(rng=0, dtype=dtype)
    assert "not supported" in str(info.value) and "float32, float64" in str(info.value)
    with pytest.raises(ValueError, match="unknown dtype 'foo'"):
        Stiefel(3, 2).random_point(rng=0, dtype="foo")


def test_tangent_vector_of_the_wrong_shape():
    manifold = Stiefel(5, 2)
    x = manifold.random_point(rng=0)
    with pytest.raises(ValueError, match=r"v has shape \(5, 3\) but the point x has shape \(5, 2\)"):
        manifold.retraction(x, np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"shape \(3, 5, 2\) but the point x has shape \(2, 5, 2\)"):
        manifold.retraction(np.stack([x, x]), np.zeros((3, 5, 2)))
