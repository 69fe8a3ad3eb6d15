"""A cost that turns NaN mid-run in one problem of a batch: that problem ends
"nonfinite" at its last finite iterate, on the manifold; the others converge.
The same contract as the single-problem solvers (tests/test_faults.py)."""

import numpy as np
import pytest

from orthopt import minimize
from orthopt.manifolds import SpecialOrthogonal

K, N = 6, 4
BROKEN = 2
WEIGHTS = np.arange(N, 0, -1.0)


def _batch():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((K, N, N))
    return a + np.swapaxes(a, 1, 2)


@pytest.mark.parametrize("method", ["trust-regions", "rgd-bb", "rgd", "cg", "lbfgs",
                                    "givens-gs", "givens"])
def test_one_problem_turning_nan_ends_nonfinite_alone(method):
    a = _batch()
    calls = {"cost": 0}

    def broken(data):
        # problem BROKEN (recognized by its data: the batch passes only running rows)
        # is NaN from the 6th batched cost call on
        return (data[:, 0, 0] == a[BROKEN, 0, 0]) & (calls["cost"] > 5)

    def cost(x, data):
        calls["cost"] += 1
        f = np.einsum("kij,kij->k", x, (data @ x) * WEIGHTS)
        return np.where(broken(data), np.nan, f)

    def gradient(x, data):
        g = 2 * (data @ x) * WEIGHTS
        return np.where(broken(data)[:, None, None], np.nan, g)

    manifold = SpecialOrthogonal(N)
    x0 = manifold.random_point(rng=1, shape=(K,))
    res = minimize(cost, x0, manifold=manifold, jac=gradient, batched=True, args=(a,),
                   method=method)
    assert res.status[BROKEN] == "nonfinite", res.status
    others = np.arange(K) != BROKEN
    assert res.success[others].all(), res.status
    assert np.isfinite(res.x).all() and np.isfinite(res.fun[BROKEN])
    gram = np.swapaxes(res.x, 1, 2) @ res.x
    assert np.abs(gram - np.eye(N)).max() <= 1e-12
