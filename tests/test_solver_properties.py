"""Property suite of the second-order tools: check_hessian, trust regions, L-BFGS.

The manifold property suite's axes (tests/test_manifolds.py) applied to the
solvers of the second-generation core: every manifold (real and complex
Stiefel, SO(n), U(n)) × dtype × backend (NumPy, array-api-strict), with
hypothesis drawing the sizes and seeds and ``@example`` rows pinning n = 1,
n = 2, p = 1 and p = n. The cost is Brockett's Re tr(XᴴAXN) with a Hermitian
A and N = diag(p, …, 1), whose minimum Σ λ_i N_ii pairs the p smallest
eigenvalues of A with the largest weights, so every run has a known answer.
Tolerances are multiples of eps(dtype).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import example, given

from conftest import MANIFOLD_DTYPES, eps_of, host, make_manifold, template
from orthopt import check_hessian
from orthopt.backend import asarray_like, get_namespace
from orthopt.optim import Problem, RiemannianLBFGS, RiemannianTrustRegions
from test_manifolds import SETTINGS, corner_cases, seeds, shapes

import pytest

BACKENDS = ("numpy", "strict")


def brockett(kind, dtype_name, backend, shape, seed):
    """(problem with hand gradient and Hessian, x0, optimum, eps) on the drawn manifold."""
    n, p = shape
    manifold = make_manifold(kind, n, p)
    p = manifold.p  # SO(n) and U(n) are square: p = n
    like = template(backend, dtype_name)
    rng = np.random.default_rng(seed)
    complex_field = manifold.is_complex
    g = rng.standard_normal((n, n)) + (1j * rng.standard_normal((n, n)) if complex_field else 0)
    a_host = (g + g.conj().T) / 2
    weights = np.arange(p, 0, -1.0)
    optimum = float(np.sort(np.linalg.eigvalsh(a_host))[:p] @ weights)
    a = asarray_like(a_host, like=like, dtype=like.dtype)
    w = asarray_like(weights, like=like, dtype=like.dtype)

    def cost(x):
        xp = get_namespace(x)
        return xp.real(xp.sum(xp.conj(x) * (a @ x) * w))

    problem = Problem(manifold, cost, euclidean_gradient=lambda x: 2 * (a @ x) * w,
                      euclidean_hessian=lambda x, v: 2 * (a @ v) * w)
    x0 = manifold.random_point(rng=rng, like=like)
    scale = float(np.abs(np.linalg.eigvalsh(a_host)).max() * weights.sum()) + 1.0
    return problem, x0, optimum, scale, eps_of(dtype_name)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind,dtype_name", MANIFOLD_DTYPES)
@SETTINGS
@given(shape=shapes, seed=seeds)
@corner_cases
def test_check_hessian_passes_on_brockett(kind, dtype_name, backend, shape, seed):
    problem, x0, _, _, eps = brockett(kind, dtype_name, backend, shape, seed)
    if problem.manifold.dim == 0:
        return  # SO(1), U(0)-like corners: no direction to differentiate along
    check = check_hessian(problem, x=x0, rng=seed % 1000)
    assert check.symmetry_error <= math.sqrt(eps) and check.tangent_error <= math.sqrt(eps)
    assert check.passed, check.message


@pytest.mark.parametrize("solver", ["trust-regions", "lbfgs"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind,dtype_name", MANIFOLD_DTYPES)
@SETTINGS
@given(shape=shapes, seed=seeds)
@corner_cases
# found by a deeper search: L-BFGS's strong-Wolfe extrapolation tried x + tv with t so
# large that Cholesky-QR's Gram matrix lost definiteness in float32 (LinAlgError)
@example(shape=(7, 1), seed=832811)
# truncated CG asked for a residual below the rounding of Hess[δ] (complex64 U(5)):
# it wandered to a rounding-sized "negative curvature" and the boundary, each step
@example(shape=(5, 1), seed=226)
def test_second_order_solvers_reach_the_brockett_optimum(solver, kind, dtype_name, backend,
                                                         shape, seed):
    problem, x0, optimum, scale, eps = brockett(kind, dtype_name, backend, shape, seed)
    method = RiemannianTrustRegions() if solver == "trust-regions" else RiemannianLBFGS()
    res = method.run(problem, x0=x0, rng=seed % 1000)
    assert res.success, (res.status, res.message)
    assert res.x.dtype == x0.dtype and type(res.x) is type(x0)
    # single precision stops at its resolution: the error budget follows eps
    assert abs(res.fun - optimum) <= 1e3 * eps * scale * math.sqrt(shape[0]), (res.fun,
                                                                                optimum)
    assert problem.manifold.feasibility(res.x) <= problem.manifold.default_atol(
        host(res.x).dtype)


def test_cholesky_qr_falls_back_to_householder_beyond_its_conditioning():
    """cond(a)² beyond 1/eps: NumPy's Cholesky fails; the Q factor still comes back."""
    from orthopt.linalg import cholesky_qr

    a = np.array([[1.0, 1.0], [0.0, 1e-9], [0.0, 0.0]], dtype=np.float32)  # Gram singular
    q, r = cholesky_qr(a)
    assert np.linalg.norm(q.T @ q - np.eye(2)) <= 100 * np.finfo(np.float32).eps
    assert np.all(np.diag(r) > 0)
