"""Batches on dask arrays: chunk by chunk, on any scheduler (orthopt.optim.dask_support)."""

import numpy as np
import pytest

from orthopt.manifolds import SpecialOrthogonal
from orthopt.optim import minimize

da = pytest.importorskip("dask.array")

EPS = np.finfo(np.float64).eps
K = 12


def wahba_cost(x, b):
    """f_i(x_i) = −⟨x_i, b_i⟩, minimized by the polar factor of b_i (module level: picklable)."""
    return -np.sum(x * b, axis=(-2, -1))


def wahba_gradient(x, b):
    return -b


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    b = rng.standard_normal((K, 3, 3))
    x0 = SpecialOrthogonal(3, retraction="qr").random_point(rng=6, shape=(K,))
    return b, x0


def solve(x0, b, method="rgd-bb"):
    return minimize(wahba_cost, x0, method=method, manifold=SpecialOrthogonal(3, retraction="qr"),
                    jac=wahba_gradient, batched=True, args=(b,), rng=0,
                    options={"gradient_tolerance": 1e-9})


def check_equal(res, reference):
    import dask

    x, fun, grad_norm, nit, status, success = dask.compute(
        res.x, res.fun, res.grad_norm, res.nit, res.status, res.success)
    np.testing.assert_array_equal(x, reference.x)
    np.testing.assert_array_equal(fun, reference.fun)
    np.testing.assert_array_equal(nit, reference.nit)
    np.testing.assert_array_equal(status, reference.status)
    np.testing.assert_array_equal(success, reference.success)
    np.testing.assert_array_equal(grad_norm, reference.grad_norm)


@pytest.mark.parametrize("method", ["rgd-bb", "cg"])
def test_dask_chunks_give_the_in_memory_results(data, method):
    b, x0 = data
    reference = solve(x0, b, method)
    # b as a NumPy array: it is cut along the batch axis like x0
    res = solve(da.from_array(x0, chunks=(5, 3, 3)), b, method)
    assert isinstance(res.x, da.Array) and res.x.chunks[0] == (5, 5, 2)
    check_equal(res, reference)


def test_a_two_worker_local_cluster_gives_the_in_memory_results(data):
    distributed = pytest.importorskip("dask.distributed")
    b, x0 = data
    reference = solve(x0, b)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                                  processes=True) as cluster, distributed.Client(cluster):
        res = solve(da.from_array(x0, chunks=(4, 3, 3)), da.from_array(b, chunks=(6, 3, 3)))
        check_equal(res, reference)


def test_chunks_along_the_matrix_axes_are_refused(data):
    b, x0 = data
    with pytest.raises(ValueError, match=r"rechunk\(\{1: -1, 2: -1\}\)"):
        solve(da.from_array(x0, chunks=(4, 2, 3)), b)


def test_solver_classes_send_dask_arrays_to_minimize(data):
    from orthopt.optim import Problem, RiemannianTrustRegions

    b, x0 = data
    problem = Problem(SpecialOrthogonal(3), wahba_cost, euclidean_gradient=wahba_gradient,
                      batch_shape=(K,), args=(b,))
    with pytest.raises(TypeError, match=r"orthopt.minimize\(cost, x0, method=..., batched=True"):
        RiemannianTrustRegions().run(problem, da.from_array(x0, chunks=(4, 3, 3)))


def test_dask_data_with_a_numpy_start(data):
    b, x0 = data
    res = solve(x0, da.from_array(b, chunks=(5, 3, 3)))
    assert res.x.chunks[0] == (5, 5, 2)
    check_equal(res, solve(x0, b))
