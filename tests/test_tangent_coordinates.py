"""Tangent-space coordinates for inner solvers, and the per-point Hessian operator.

On O(n), SO(n) and U(n) trust regions' truncated CG and L-BFGS's pairs work
in the Lie algebra Ω = xᴴv (orthopt.optim.tangent_coordinates); autograd
Hessian-vector products trace the gradient once per point. Each must give
what the ambient formulas give, to rounding.
"""

import math

import autograd.numpy as anp
import numpy as np
import pytest

from orthopt.manifolds import Euclidean, Grassmann, Product, SpecialOrthogonal, Stiefel, Unitary
from orthopt.optim import Problem, RiemannianLBFGS, RiemannianTrustRegions
from orthopt.optim.tangent_coordinates import (AmbientCoordinates, SkewCoordinates,
                                               tangent_coordinates)

from test_check_hessian import SONoWeingarten, StiefelNoWeingarten


def _data(n, complex_, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n))
    b = rng.standard_normal((n, n))
    if complex_:
        a = a + 1j * rng.standard_normal((n, n))
        b = b + 1j * rng.standard_normal((n, n))
    return (a + a.conj().T) / 2, b


def _quartic_problem(manifold, a, b, hand):
    """f(x) = Re tr(xᴴAxN) + Re tr(Bᴴx) + ‖x‖₄⁴: a Hessian with every term nonzero."""
    w = np.arange(b.shape[1], 0, -1.0)

    def cost(x):
        return (anp.real(anp.sum(anp.conj(x) * anp.dot(a, x) * w))
                + anp.real(anp.sum(anp.conj(b) * x)) + anp.sum(anp.abs(x) ** 4))

    if not hand:
        return Problem(manifold, cost)

    def gradient(x):
        return 2 * (a @ x) * w + b + 4 * np.abs(x) ** 2 * x

    def hessian(x, v):
        return (2 * (a @ v) * w + 8 * np.real(np.conj(x) * v) * x
                + 4 * np.abs(x) ** 2 * v)

    return Problem(manifold, cost, euclidean_gradient=gradient, euclidean_hessian=hessian)


GROUPS = [("so", SpecialOrthogonal(6), False), ("o", Stiefel(6, 6), False),
          ("unitary", Unitary(5), True)]


@pytest.mark.parametrize("name,manifold,complex_", GROUPS, ids=[g[0] for g in GROUPS])
@pytest.mark.parametrize("hand", [True, False], ids=["hand", "autograd"])
def test_lie_algebra_hessian_equals_the_ambient_one(name, manifold, complex_, hand):
    a, b = _data(manifold.n, complex_)
    problem = _quartic_problem(manifold, a, b, hand)
    x = manifold.random_point(rng=1)
    v = manifold.random_tangent_vector(x, rng=2)
    u = manifold.random_tangent_vector(x, rng=3)
    evaluation = problem.at(x)
    chart = evaluation.coordinates
    assert isinstance(chart, SkewCoordinates)
    c = chart.from_tangent(v)
    assert np.allclose(c, -c.conj().T, atol=1e-14)  # skew-Hermitian
    assert np.allclose(chart.to_tangent(c), v, atol=1e-13)
    expected = evaluation.hess(v)
    got = chart.to_tangent(evaluation.hess_coordinates(c))
    assert np.linalg.norm(got - expected) <= 1e-12 * np.linalg.norm(expected)
    # the metric is the Frobenius product of the coordinates
    assert math.isclose(chart.inner(chart.from_tangent(u), c),
                        float(manifold.inner_product(x, u, v)), rel_tol=1e-12, abs_tol=1e-14)
    # re-tangentialization keeps only the skew-Hermitian part
    assert np.allclose(chart.retangent(c + np.eye(manifold.n)), c, atol=1e-14)


def test_every_other_manifold_works_in_ambient_coordinates():
    for manifold in (Stiefel(7, 3), Grassmann(6, 2), Euclidean(3, 2),
                     Product([SpecialOrthogonal(3), Euclidean(2)]),
                     # a subclass that changes the Hessian must be asked through its methods
                     StiefelNoWeingarten(5, 5), SONoWeingarten(4)):
        x = manifold.random_point(rng=0)
        assert isinstance(tangent_coordinates(manifold, x), AmbientCoordinates), manifold


def test_trust_regions_take_the_same_steps_in_either_coordinates(monkeypatch):
    """The Lie-algebra path is an exact rewrite: the same iterates as the ambient one."""
    manifold = SpecialOrthogonal(8)
    a, b = _data(8, False, seed=4)
    problem = _quartic_problem(manifold, a, b, hand=True)
    x0 = manifold.random_point(rng=5)
    options = dict(max_iterations=12, gradient_tolerance=0.0)
    fast = RiemannianTrustRegions(**options).run(problem, x0=x0)
    import orthopt.optim.evaluation as evaluation_module

    monkeypatch.setattr(evaluation_module.Evaluation, "coordinates",
                        property(lambda e: AmbientCoordinates(e.problem.manifold, e.x)))
    slow = RiemannianTrustRegions(**options).run(problem, x0=x0)
    assert fast.nit == slow.nit == 12
    assert np.allclose(fast.history["cost"], slow.history["cost"], rtol=1e-10, atol=1e-10)
    assert np.linalg.norm(fast.x - slow.x) <= 1e-8


@pytest.mark.parametrize("manifold,complex_", [(SpecialOrthogonal(10), False),
                                               (Unitary(6), True)], ids=["so", "unitary"])
def test_lbfgs_keeps_its_pairs_in_the_lie_algebra(manifold, complex_, monkeypatch):
    """No transport at all on the groups (it would cost 4m + 4 products per iteration),
    and the optimum of Brockett (sum of weighted smallest eigenvalues) is still reached."""
    n = manifold.n
    a, _ = _data(n, complex_, seed=6)
    w = np.arange(n, 0, -1.0)
    problem = Problem(manifold, lambda x: np.real(np.sum(np.conj(x) * (a @ x) * w)),
                      euclidean_gradient=lambda x: 2 * (a @ x) * w)

    def refuse(*args):
        raise AssertionError("L-BFGS transported a vector on a group")

    monkeypatch.setattr(type(manifold), "transport", refuse)
    res = RiemannianLBFGS(gradient_tolerance=1e-9).run(problem, x0=manifold.random_point(rng=7))
    assert res.success, res.message
    optimum = float(np.sort(np.linalg.eigvalsh(a)) @ w)
    assert abs(res.fun - optimum) <= 1e-9 * abs(optimum)


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
def test_autograd_hessian_operator_matches_reverse_over_reverse(complex_):
    manifold = Unitary(4) if complex_ else Stiefel(6, 3)
    n = manifold.n
    a, b = _data(n, complex_, seed=8)
    b = b[:, :manifold.p]
    problem = _quartic_problem(manifold, a, b, hand=False)
    x = manifold.random_point(rng=9)
    v = manifold.random_tangent_vector(x, rng=10)
    operator = problem.euclidean_hessian_operator(x)
    before = problem.n_hessian_evaluations
    h1, h2 = operator(v), operator(2 * v)
    assert problem.n_hessian_evaluations == before + 2
    expected = problem._autograd_hessian_vector_product(x, v)
    assert h1.dtype == x.dtype
    assert np.linalg.norm(h1 - expected) <= 1e-12 * np.linalg.norm(expected)
    assert np.linalg.norm(h2 - 2 * expected) <= 1e-12 * np.linalg.norm(expected)
    # and it is the Hessian: the hand-written one agrees
    hand = _quartic_problem(manifold, a, b, hand=True)
    assert np.allclose(h1, hand.euclidean_hessian(x, v), atol=1e-11)


def test_autograd_hessian_operator_on_a_product():
    manifold = Product([Stiefel(5, 2), Euclidean(3)])
    a = np.random.default_rng(11).standard_normal((5, 5))

    def cost(point):
        x, t = point
        return anp.sum(x * anp.dot(a, x)) + anp.sum(t ** 4) + anp.sum(x[:3, 0] * t)

    problem = Problem(manifold, cost)
    x = manifold.random_point(rng=12)
    v = manifold.random_tangent_vector(x, rng=13)
    got = problem.euclidean_hessian_operator(x)(v)
    expected = problem._autograd_hessian_vector_product(x, v)
    for g, e in zip(got, expected):
        assert np.allclose(g, e, atol=1e-12)


def test_one_autograd_trace_gives_the_gradient_and_the_hessian_operator():
    manifold = SpecialOrthogonal(5)
    a, b = _data(5, False, seed=14)
    problem = _quartic_problem(manifold, a, b, hand=False)
    x = manifold.random_point(rng=15)
    v = manifold.random_tangent_vector(x, rng=16)
    reference = problem.at(x)
    expected_gradient, expected_hess = reference.gradient, reference.hess(v)
    evaluation = problem.at(x)
    evaluation.cost  # noqa: B018 (a proposal's cost is known before its gradient)
    before = problem.n_gradient_evaluations
    evaluation.prepare_hessian()
    assert problem.n_gradient_evaluations == before + 1
    assert np.allclose(evaluation.gradient, expected_gradient, atol=1e-13)
    assert np.allclose(evaluation.hess(v), expected_hess, atol=1e-12)
    assert problem.n_gradient_evaluations == before + 1  # the Hessian needed no other
    # hand derivatives: nothing to share, nothing computed ahead
    hand = _quartic_problem(manifold, a, b, hand=True).at(x)
    hand.cost  # noqa: B018
    assert not hand.prepare_hessian().has_gradient


def test_trust_regions_with_autograd_run_the_cost_twice_per_step():
    """Per iteration: f at the proposal, and one trace of ∇f at an accepted one that
    serves the gradient and every Hessian-vector product (a separate gradient pass
    made it three)."""
    manifold = SpecialOrthogonal(6)
    a, b = _data(6, False, seed=17)
    traced = _quartic_problem(manifold, a, b, hand=False)
    calls = {"cost": 0}

    def cost(x):
        calls["cost"] += 1
        return traced._cost(x)

    res = RiemannianTrustRegions(gradient_tolerance=1e-9).run(
        Problem(manifold, cost), x0=manifold.random_point(rng=18))
    assert res.success
    # x0: cost and gradient in one pass, then its trace; each iteration: f(proposal)
    # and, when accepted, its trace
    assert calls["cost"] <= 2 + 2 * res.nit, (calls["cost"], res.nit)
