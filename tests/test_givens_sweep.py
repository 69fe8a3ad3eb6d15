"""The blocked Givens sweep behind retraction="givens" (sizes above one block)."""

import numpy as np
import pytest
import scipy.linalg

from orthopt.diagnostics import check_retraction
from orthopt.manifolds import SpecialOrthogonal, Stiefel, Unitary
from orthopt.manifolds.stiefel import _givens_rounds, _givens_sweep

EPS = np.finfo(np.float64).eps


def _skew_with(n, entries, dtype=np.float64):
    w = np.zeros((n, n), dtype=dtype)
    for (i, j), value in entries.items():
        w[i, j] = value
        w[j, i] = -np.conj(value)
    return w


@pytest.mark.parametrize("n", [70, 97])
def test_commuting_rotations_are_exact(n):
    # rotations in disjoint planes commute, so any order gives exactly expm(w)
    w = _skew_with(n, {(3, n - 1): 0.4, (5, 9): -0.3, (40, 41): 0.2, (1, 66): 1.1})
    np.testing.assert_allclose(_givens_sweep(w, np.eye(n)), scipy.linalg.expm(w), atol=10 * EPS)


def test_complex_rotation_and_phases_are_exact():
    n = 80
    w = _skew_with(n, {(2, 71): 0.3 + 0.4j, (10, 11): -0.2j}, dtype=np.complex128)
    w[7, 7] = 0.5j
    np.testing.assert_allclose(_givens_sweep(w, np.eye(n)), scipy.linalg.expm(w), atol=10 * EPS)


def test_blocked_and_round_robin_orders_agree_to_second_order():
    manifold = SpecialOrthogonal(70)
    x = manifold.random_point(rng=0)
    v = manifold.random_tangent_vector(x, rng=1)
    w = v @ x.T
    w = (w - w.T) / 2
    gaps = [np.abs(_givens_sweep(t * w, x) - _givens_rounds(t * w, x)).max() for t in (1e-2, 1e-3)]
    # both are products of the same rotations in different orders: they differ at O(t²)
    assert 80 < gaps[0] / gaps[1] < 120


@pytest.mark.parametrize("manifold", [SpecialOrthogonal(70, retraction="givens"),
                                      Unitary(67, retraction="givens"),
                                      Stiefel(100, 60, retraction="givens")])
def test_blocked_givens_is_a_retraction(manifold):
    check = check_retraction(manifold, rng=3)
    assert check.passed, check.message
    assert check.feasibility <= 100 * EPS * np.sqrt(manifold.n)
