"""Stacks of points (k, n, p): every manifold operation acts per matrix."""

import numpy as np
import pytest

from orthopt.manifolds import SpecialOrthogonal, Stiefel, Unitary

MANIFOLDS = [
    lambda r: Stiefel(7, 3, retraction=r),
    lambda r: Stiefel(6, 4, retraction=r),
    lambda r: SpecialOrthogonal(4, retraction=r),
    lambda r: Unitary(3, retraction=r),
    lambda r: Stiefel(9, 2, retraction=r, field="complex"),
]


@pytest.mark.parametrize("make", MANIFOLDS)
@pytest.mark.parametrize("retraction", Stiefel.RETRACTIONS)
def test_batched_operations_equal_per_matrix(make, retraction):
    manifold = make(retraction)
    points = [manifold.random_point(rng=i) for i in range(3)]
    tangents = [manifold.random_tangent_vector(x, rng=10 + i) for i, x in enumerate(points)]
    x, v = np.stack(points), np.stack(tangents)
    eps = np.finfo(np.float64).eps
    tol = 100 * eps * np.sqrt(manifold.n)

    cases = {
        "retraction": (manifold.retraction(x, 0.3 * v),
                       [manifold.retraction(a, 0.3 * b) for a, b in zip(points, tangents)]),
        "exp": (manifold.exp(x, 0.3 * v), [manifold.exp(a, 0.3 * b) for a, b in zip(points, tangents)]),
        "projection": (manifold.projection(x, 2 * v + 1),
                       [manifold.projection(a, 2 * b + 1) for a, b in zip(points, tangents)]),
    }
    for name, (batched, single) in cases.items():
        np.testing.assert_allclose(batched, np.stack(single), atol=tol, err_msg=name)
    # per point (k independent problems) and summed (one point of the power manifold Mᵏ)
    inner = manifold.batch_inner_product(x, v, v)
    assert inner.shape == (3,)
    np.testing.assert_allclose(inner, 1.0, atol=tol)
    total = manifold.inner_product(x, v, v)
    assert total.shape == ()
    np.testing.assert_allclose(total, 3.0, atol=3 * tol)
    np.testing.assert_allclose(manifold.norm(x, v), np.sqrt(3.0), atol=3 * tol)
    np.testing.assert_allclose(manifold.batch_norm(x, v), 1.0, atol=tol)
    assert manifold.check_point(manifold.retraction(x, 0.3 * v)) <= tol
    if manifold.p == manifold.n:
        y = manifold.exp(x, 0.3 * v)
        np.testing.assert_allclose(manifold.log(x, y), 0.3 * v, atol=tol)
