"""check_gradient / check_retraction / check_manifold return verdicts that can fail."""

from __future__ import annotations

import math

import autograd.numpy as anp
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from conftest import template  # noqa: E402
from orthopt import (  # noqa: E402
    Problem,
    SpecialOrthogonal,
    Stiefel,
    Unitary,
    check_gradient,
    check_manifold,
    check_retraction,
)


def brockett(M, dtype=np.float64):
    a = np.diag(np.arange(1.0, M.n + 1)).astype(dtype)
    nn = np.diag(np.arange(M.p, 0, -1.0)).astype(dtype)
    return a, nn


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("retraction", ["qr", "polar", "cayley", "exp", "givens"])
def test_check_gradient_slope_two_with_autograd(retraction, dtype):
    M = Stiefel(7, 3, retraction=retraction)
    a, nn = brockett(M, dtype)
    problem = Problem(M, lambda x: anp.trace(x.T @ a @ x @ nn))
    x = M.random_point(rng=1, dtype=dtype)
    result = check_gradient(problem, x=x, rng=2)
    tol = 0.1 if dtype == "float64" else 0.25
    assert result.passed, result.message
    assert abs(result.slope - 2.0) <= tol
    assert result.tangent_error <= math.sqrt(float(np.finfo(dtype).eps))
    start, stop = result.window
    assert stop - start == 8


def test_check_gradient_wrong_gradient_has_slope_one():
    """A gradient off by a tangent perturbation leaves an O(t) error: slope 1, not passed."""
    M = Stiefel(6, 2)
    a, nn = brockett(M)
    wrong = np.random.default_rng(3).standard_normal((6, 2))
    problem = Problem(M, lambda x: anp.trace(x.T @ a @ x @ nn),
                      euclidean_gradient=lambda x: 2 * a @ x @ nn + wrong)
    result = check_gradient(problem, rng=4)
    assert not result.passed
    assert abs(result.slope - 1.0) <= 0.1, result.message


def test_check_gradient_complex_unitary():
    M = Unitary(4, retraction="cayley")
    rng = np.random.default_rng(5)
    a = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
    problem = Problem(M, lambda x: anp.real(anp.sum(anp.conj(x) * (a @ x @ a))))
    result = check_gradient(problem, rng=6)
    assert result.passed, result.message


def test_check_gradient_linear_cost_at_rounding_level():
    """On SO(1) every direction is zero: the error stays at rounding level, passed."""
    M = SpecialOrthogonal(1)
    problem = Problem(M, lambda x: anp.sum(x))
    result = check_gradient(problem, rng=0)
    assert result.passed, result.message
    assert math.isnan(result.slope)


def test_check_gradient_plot_returns_figure():
    M = Stiefel(4, 2)
    a, nn = brockett(M)
    problem = Problem(M, lambda x: anp.trace(x.T @ a @ x @ nn))
    result = check_gradient(problem, rng=0, plot=True)
    assert result.figure is not None
    assert len(result.figure.axes) >= 1
    import matplotlib.pyplot as plt

    plt.close(result.figure)


@pytest.mark.parametrize("retraction", ["qr", "polar", "cayley", "givens"])
def test_check_retraction_orders(retraction):
    M = SpecialOrthogonal(5, retraction=retraction)
    result = check_retraction(M, rng=0)
    assert result.passed, result.message
    assert result.zero_step_error <= 100 * np.finfo(float).eps
    # every retraction agrees with exp to second order at least (slope ≥ 2)
    assert result.slope >= 1.9
    assert result.order == pytest.approx(result.slope - 1)


def test_check_retraction_exp_is_exact():
    result = check_retraction(Unitary(3, retraction="exp"), rng=0)
    assert result.passed and result.slope == math.inf


class _BrokenRetraction(Stiefel):
    """x + v without re-orthonormalization: first order but off the manifold."""

    def _retract_qr(self, x, v):
        return x + v


class _SecondOrderWrong(Stiefel):
    """R_x(v) = R_x(2v): lands on the manifold but with derivative 2v."""

    def _retract_qr(self, x, v):
        return super()._retract_qr(x, 2 * v)


@pytest.mark.parametrize("cls", [_BrokenRetraction, _SecondOrderWrong])
def test_check_retraction_detects_broken_retractions(cls):
    M = cls(6, 2, retraction="qr")
    result = check_retraction(M, rng=0)
    assert not result.passed, result.message


@pytest.mark.parametrize("backend", ["numpy", "device1"])
def test_check_manifold_report(backend):
    M = Stiefel(5, 2, retraction="polar")
    check = check_manifold(M, rng=0, like=template(backend, "float64"))
    assert check.passed, str(check)
    text = str(check)
    assert "passed" in text and "projection idempotent" in text
    assert all(ok for *_, ok in check.rows)


def test_check_manifold_detects_a_wrong_projection():
    class BadProjection(Stiefel):
        def projection(self, x, u):
            return u - x @ (x.T @ u)  # drops the skew part: not the tangent projection

    check = check_manifold(BadProjection(6, 2), rng=0)
    assert not check.passed
    failing = {row[0] for row in check.rows if not row[3]}
    # idempotent and tangent, but not orthogonal: only these two rows can see it
    assert failing == {"projection fixes tangent vectors", "Riemannian gradient = P_x(∇f)"}


@pytest.mark.parametrize("case, expected", [
    ("nan_cost", "the cost at x is nan"),
    ("nan_gradient", "the gradient at x has non-finite entries"),
    ("nan_along_curve", "not finite along the curve"),
])
def test_check_gradient_reports_non_finite_values(case, expected):
    """NaN compares false with every bound: a NaN cost once read as 'exact to rounding'."""
    manifold = Stiefel(5, 2)
    x = manifold.random_point(rng=0)

    def cost(y):
        if case == "nan_cost":
            return float("nan")
        if case == "nan_along_curve" and np.linalg.norm(y - x) > 1e-3:
            return float("nan")
        return float(np.sum(y * y))

    def gradient(y):
        return np.full_like(y, np.nan) if case == "nan_gradient" else 2 * y

    result = check_gradient(Problem(manifold, cost, euclidean_gradient=gradient), x=x, rng=1)
    assert not result.passed and expected in result.message
