"""The CuPy backend: the same invariants on the GPU, results stay on the device.

Runs only where CuPy imports and a GPU is present (marker ``gpu``, excluded by
default; run with ``pytest -m gpu tests/gpu``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

cupy = pytest.importorskip("cupy")

from orthopt import (  # noqa: E402
    Euclidean,
    Grassmann,
    Problem,
    Product,
    RiemannianGradientDescent,
    SpecialOrthogonal,
    Stiefel,
    Unitary,
    check_manifold,
)
from orthopt.linalg import expm, expm_frechet, expm_frechet_adjoint, polar  # noqa: E402

pytestmark = pytest.mark.gpu

RETRACTIONS = ("qr", "polar", "cayley", "exp", "givens")
MANIFOLDS = [
    ("stiefel", "float32"), ("stiefel", "float64"),
    ("stiefel-complex", "complex64"), ("stiefel-complex", "complex128"),
    ("so", "float32"), ("so", "float64"),
    ("unitary", "complex64"), ("unitary", "complex128"),
]


def _make(kind, retraction):
    if kind == "stiefel":
        return Stiefel(12, 3, retraction=retraction)
    if kind == "stiefel-complex":
        return Stiefel(12, 3, retraction=retraction, field="complex")
    if kind == "so":
        return SpecialOrthogonal(6, retraction=retraction)
    return Unitary(6, retraction=retraction)


def _eps(dtype_name):
    real = {"complex64": "float32", "complex128": "float64"}.get(dtype_name, dtype_name)
    return float(np.finfo(real).eps)


@pytest.mark.parametrize("kind,dtype_name", MANIFOLDS)
@pytest.mark.parametrize("retraction", RETRACTIONS)
def test_manifold_on_gpu(kind, dtype_name, retraction):
    M = _make(kind, retraction)
    like = cupy.zeros(1, dtype=dtype_name)
    x = M.random_point(rng=0, like=like)
    assert isinstance(x, cupy.ndarray) and x.dtype == like.dtype
    v = M.random_tangent_vector(x, rng=1)
    y = M.retraction(x, 0.5 * v)
    assert isinstance(y, cupy.ndarray) and y.dtype == like.dtype
    gram = cupy.asnumpy(y.conj().T @ y)
    assert np.linalg.norm(gram - np.eye(M.p)) <= 100 * _eps(dtype_name) * math.sqrt(M.n * M.p)
    check = check_manifold(M, rng=2, like=like)
    assert check.passed, str(check)


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_grassmann_euclidean_product_on_gpu(dtype_name):
    """The new manifolds keep CuPy arrays on the device: batches, exp/log, dist."""
    M = Product([Grassmann(12, 3, retraction="polar"), Unitary(3), Euclidean(4, 2)])
    like = cupy.zeros(1, dtype=dtype_name)
    x = M.random_point(rng=0, like=like, shape=(5,))
    y = M.random_point(rng=1, like=like, shape=(5,))
    assert all(isinstance(a, cupy.ndarray) and a.shape[0] == 5 for a in x)
    v = M.random_tangent_vector(x, rng=2)
    z = M.retraction(x, 0.5 * v)
    assert M.check_point(z) <= M.default_atol(like.dtype)
    tol = 1000 * _eps(dtype_name) * math.sqrt(12 * 3)
    assert float(M.dist(x, M.exp(x, 0.5 * v))) == pytest.approx(0.5, abs=tol)
    d = M.batch_dist(x, y)
    assert isinstance(d, cupy.ndarray) and d.shape == (5,)
    assert float(M.dist(x, y)) == pytest.approx(float(cupy.linalg.norm(d)), abs=tol)
    G = Grassmann(12, 3, field="complex")
    xg = G.random_point(rng=3, like=cupy.zeros(1, dtype="complex128"))
    yg = G.random_point(rng=4, like=xg)
    assert float(G.dist(xg, G.exp(xg, G.log(xg, yg)))) <= 1e-10


def test_same_seed_same_point_as_numpy():
    M = Stiefel(7, 3)
    x_gpu = cupy.asnumpy(M.random_point(rng=5, like=cupy.zeros(1)))
    np.testing.assert_allclose(x_gpu, M.random_point(rng=5), atol=1e-12)


@pytest.mark.parametrize("dtype_name", ["float32", "float64", "complex64", "complex128"])
def test_linalg_on_gpu_matches_numpy(dtype_name):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 5)) / 3
    e = rng.standard_normal((5, 5)) / 3
    if dtype_name.startswith("complex"):
        a = a + 1j * rng.standard_normal((5, 5)) / 3
    a, e = a.astype(dtype_name), e.astype(dtype_name)
    tol = 100 * _eps(dtype_name) * 5
    ag, eg = cupy.asarray(a), cupy.asarray(e)
    for got, ref in ((expm(ag), expm(a)), (expm_frechet(ag, eg), expm_frechet(a, e)),
                     (expm_frechet_adjoint(ag, eg), expm_frechet_adjoint(a, e)),
                     (polar(ag + 3 * cupy.eye(5, dtype=dtype_name)),
                      polar(a + 3 * np.eye(5, dtype=dtype_name)))):
        assert isinstance(got, cupy.ndarray) and got.dtype == ag.dtype
        assert np.linalg.norm(cupy.asnumpy(got) - ref) <= tol * max(1.0, np.linalg.norm(ref))


def test_problem_without_gradient_on_cupy_is_a_clear_error():
    M = Stiefel(5, 2)
    x = M.random_point(rng=0, like=cupy.zeros(1))
    with pytest.raises(TypeError, match="gradient"):
        Problem(M, lambda x: (x * x).sum()).cost_and_euclidean_gradient(x)


def test_rgd_on_gpu():
    M = Stiefel(20, 3, retraction="qr")
    a = cupy.asarray(np.diag(np.arange(1.0, 21.0)))
    nn = cupy.asarray(np.diag([3.0, 2.0, 1.0]))
    problem = Problem(M, lambda x: cupy.trace(x.T @ a @ x @ nn),
                      euclidean_gradient=lambda x: 2 * a @ x @ nn)
    x0 = M.random_point(rng=0, like=cupy.zeros(1))
    result = RiemannianGradientDescent(step="bb", gradient_tolerance=1e-7).run(problem, x0=x0)
    assert isinstance(result.x, cupy.ndarray)
    assert result.fun == pytest.approx(10.0, rel=1e-10)
