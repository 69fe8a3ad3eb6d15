"""Kernels of :mod:`orthopt.linalg` against SciPy references, on every backend.

On array-api-strict the generic routes run (Padé expm, eigh-based logarithm,
``take``/``concat`` Givens kernels); the same assertions hold with the same
eps-derived tolerances, and results must keep the input's dtype and device.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import BACKENDS, assert_same_array_kind, eps_of, fro, host, template
from orthopt.backend import asarray_like
from orthopt.linalg import (
    apply_givens,
    cholesky_qr,
    expm,
    expm_frechet,
    expm_frechet_adjoint,
    givens_coefficients,
    givens_round_robin,
    herm,
    log_unitary,
    polar,
    qr_positive,
    skew,
    solve_triangular,
)

DTYPES = ("float32", "float64", "complex64", "complex128")
# CI: 5 reproducible examples per case; ORTHOPT_HYPOTHESIS_EXAMPLES=N searches deeper, at random
_DEEP_EXAMPLES = int(os.environ.get("ORTHOPT_HYPOTHESIS_EXAMPLES", "0"))
SETTINGS = settings(max_examples=_DEEP_EXAMPLES or 5, deadline=None,
                    derandomize=not _DEEP_EXAMPLES)


def gaussian(rng, shape, dtype_name):
    g = rng.standard_normal(shape)
    if dtype_name.startswith("complex"):
        g = g + 1j * rng.standard_normal(shape)
    return g


def on(backend, dtype_name, a):
    """Host array ``a`` as an array of the backend/device under test."""
    return asarray_like(a, like=template(backend, dtype_name))


def real_inner(a, b):
    """⟨a, b⟩ = Re tr(aᴴb) on the host."""
    return float(np.real(np.vdot(a, b)))


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_herm_skew_split(backend, dtype_name):
    rng = np.random.default_rng(0)
    a = on(backend, dtype_name, gaussian(rng, (4, 4), dtype_name))
    h, s = herm(a), skew(a)
    assert_same_array_kind(h, a)
    tol = 10 * eps_of(dtype_name) * 4
    assert fro(host(h) + host(s) - host(a)) <= tol
    assert fro(host(h) - host(h).conj().T) <= tol
    assert fro(host(s) + host(s).conj().T) <= tol


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@SETTINGS
@given(n=st.integers(1, 7), scale=st.sampled_from([1e-3, 0.5, 3.0, 20.0]), seed=st.integers(0, 99))
def test_expm_matches_scipy(backend, dtype_name, n, scale, seed):
    rng = np.random.default_rng(seed)
    a_host = scale * gaussian(rng, (n, n), dtype_name) / math.sqrt(n)
    a = on(backend, dtype_name, a_host)
    got = expm(a)
    assert_same_array_kind(got, a)
    reference = scipy.linalg.expm(host(a).astype(np.complex128))
    # relative forward error of expm is ≲ cond·eps; κ_exp ≤ e^{2‖A‖} bounds the growth
    tol = 100 * eps_of(dtype_name) * n * math.exp(2 * min(np.linalg.norm(a_host, 2), 5.0))
    assert fro(host(got) - reference) <= tol * max(1.0, fro(reference))


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_expm_of_skew_is_orthogonal(backend, dtype_name):
    rng = np.random.default_rng(1)
    n = 6
    a = on(backend, dtype_name, gaussian(rng, (n, n), dtype_name))
    q = host(expm(skew(a))).astype(np.complex128)
    assert fro(q.conj().T @ q - np.eye(n)) <= 100 * eps_of(dtype_name) * n


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_expm_batched(backend, dtype_name):
    rng = np.random.default_rng(2)
    a = on(backend, dtype_name, gaussian(rng, (3, 4, 4), dtype_name) / 2)
    got = host(expm(a))
    for k in range(3):
        ref = scipy.linalg.expm(host(a)[k].astype(np.complex128))
        assert fro(got[k] - ref) <= 100 * eps_of(dtype_name) * 4 * fro(ref)


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@SETTINGS
@given(n=st.integers(1, 6), seed=st.integers(0, 99))
def test_expm_frechet_matches_central_difference(backend, dtype_name, n, seed):
    """L_A(E) = d/dt expm(A + tE)|₀ against (expm(A + hE) − expm(A − hE))/(2h)."""
    rng = np.random.default_rng(seed)
    a = gaussian(rng, (n, n), dtype_name) / math.sqrt(n)
    e = gaussian(rng, (n, n), dtype_name) / math.sqrt(n)
    got = expm_frechet(on(backend, dtype_name, a), on(backend, dtype_name, e))
    assert_same_array_kind(got, on(backend, dtype_name, a))
    # the difference quotient in float64 on the host: O(h²) error, exact reference
    h = 1e-5
    ac, ec = a.astype(np.complex128), e.astype(np.complex128)
    fd = (scipy.linalg.expm(ac + h * ec) - scipy.linalg.expm(ac - h * ec)) / (2 * h)
    eps = eps_of(dtype_name)
    tol = max(100 * eps, 1e-8) * n * max(1.0, fro(fd))
    assert fro(host(got) - fd) <= tol


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@SETTINGS
@given(n=st.integers(1, 6), seed=st.integers(0, 99))
def test_expm_frechet_adjoint_identity(backend, dtype_name, n, seed):
    """⟨G, L_A(E)⟩ = ⟨L_A^*(G), E⟩ for the real inner product Re tr(XᴴY)."""
    rng = np.random.default_rng(seed)
    a, e, g = (gaussian(rng, (n, n), dtype_name) / math.sqrt(n) for _ in range(3))
    A, E, G = (on(backend, dtype_name, m) for m in (a, e, g))
    lhs = real_inner(host(G), host(expm_frechet(A, E)))
    adjoint = expm_frechet_adjoint(A, G)
    assert_same_array_kind(adjoint, A)
    rhs = real_inner(host(adjoint), host(E))
    scale = fro(host(G)) * fro(host(E)) * math.exp(fro(a))
    assert abs(lhs - rhs) <= 100 * eps_of(dtype_name) * n * scale
    # adjoint vs finite differences of the scalar ⟨G, expm(A + tE)⟩ (float64 host)
    h = 1e-5
    ac, ec = a.astype(np.complex128), e.astype(np.complex128)
    fd = (real_inner(g, scipy.linalg.expm(ac + h * ec))
          - real_inner(g, scipy.linalg.expm(ac - h * ec))) / (2 * h)
    assert abs(rhs - fd) <= max(100 * eps_of(dtype_name), 1e-8) * n * scale


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@SETTINGS
@given(shape=st.integers(1, 8).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n))),
       seed=st.integers(0, 99))
def test_qr_positive_and_cholesky_qr(backend, dtype_name, shape, seed):
    rng = np.random.default_rng(seed)
    n, p = shape
    a = on(backend, dtype_name, gaussian(rng, shape, dtype_name))
    q, r = qr_positive(a)
    assert_same_array_kind(q, a)
    qh, rh = host(q).astype(np.complex128), host(r).astype(np.complex128)
    eps = eps_of(dtype_name)
    tol = 100 * eps * math.sqrt(n * p)
    assert fro(qh.conj().T @ qh - np.eye(p)) <= tol
    assert fro(qh @ rh - host(a)) <= tol * fro(host(a))
    assert np.all(np.abs(np.imag(np.diag(rh))) <= tol)
    assert np.all(np.real(np.diag(rh)) > 0)
    assert fro(np.tril(rh, -1)) == 0.0
    # Cholesky-QR gives the same (unique) factor for a well-conditioned a
    x = qr_positive(on(backend, dtype_name, gaussian(rng, shape, dtype_name)))[0]
    y = x + 0.1 * on(backend, dtype_name, gaussian(rng, shape, dtype_name))
    q2, r2 = cholesky_qr(y)
    assert_same_array_kind(q2, a)
    q1, _ = qr_positive(y)
    assert fro(host(q2) - host(q1)) <= 10 * tol


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("lower", [True, False])
def test_solve_triangular(backend, dtype_name, lower):
    rng = np.random.default_rng(3)
    t = gaussian(rng, (5, 5), dtype_name)
    t = (np.tril(t) if lower else np.triu(t)) + 5 * np.eye(5)
    b = gaussian(rng, (5, 2), dtype_name)
    got = solve_triangular(on(backend, dtype_name, t), on(backend, dtype_name, b), lower=lower)
    assert_same_array_kind(got, on(backend, dtype_name, b))
    assert fro(t @ host(got) - b) <= 100 * eps_of(dtype_name) * 5 * fro(b)


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("step", [0.01, 0.2, 2.0])
def test_polar_routes_agree_with_svd(backend, dtype_name, step):
    """Both routes give u vᴴ of the SVD; Newton–Schulz falls back to eigh for long steps."""
    rng = np.random.default_rng(4)
    n, p = 7, 3
    x, _ = np.linalg.qr(gaussian(rng, (n, p), dtype_name))
    a_host = x + step * gaussian(rng, (n, p), dtype_name) / math.sqrt(n * p)
    a = on(backend, dtype_name, a_host)
    u, _, vh = np.linalg.svd(host(a).astype(np.complex128), full_matrices=False)
    reference = u @ vh
    tol = 100 * eps_of(dtype_name) * math.sqrt(n * p)
    for method in ("eigh", "newton_schulz"):
        got = polar(a, method=method)
        assert_same_array_kind(got, a)
        assert fro(host(got) - reference) <= tol, method
    with pytest.raises(ValueError, match="unknown polar method 'svd'"):
        polar(a, method="svd")


def test_givens_round_robin_schedule():
    for n in range(1, 12):
        rounds = givens_round_robin(n)
        pairs = [(int(i), int(j)) for ii, jj in rounds for i, j in zip(ii, jj)]
        assert sorted(pairs) == [(i, j) for i in range(n) for j in range(i + 1, n)]
        assert len(rounds) == (n - 1 if n % 2 == 0 else n) if n > 1 else len(rounds) == 0
        for ii, jj in rounds:
            touched = np.concatenate([ii, jj])
            assert len(set(touched.tolist())) == touched.size  # disjoint within a round
            assert np.all(ii < jj)


def dense_rotation(n, i, j, omega):
    """exp(ω e_i e_jᴴ − ω̄ e_j e_iᴴ) as an explicit n×n matrix."""
    w = np.zeros((n, n), dtype=np.complex128)
    w[i, j] = omega
    w[j, i] = -np.conj(omega)
    return scipy.linalg.expm(w)


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("axis", [-2, -1])
@SETTINGS
@given(n=st.integers(2, 9), seed=st.integers(0, 99))
def test_givens_round_equals_sequential_rotations(backend, dtype_name, axis, n, seed):
    """One vectorized round of disjoint rotations = the rotations applied one by one."""
    rng = np.random.default_rng(seed)
    rounds = givens_round_robin(n)
    i, j = rounds[seed % len(rounds)]
    omega = gaussian(rng, (len(i),), dtype_name)
    x_host = gaussian(rng, (n, n), dtype_name)
    x = on(backend, dtype_name, x_host)
    c, s = givens_coefficients(on(backend, dtype_name, omega))
    got = apply_givens(x, i, j, c, s, axis=axis)
    assert_same_array_kind(got, x)
    expected = host(x).astype(np.complex128)
    for k in range(len(i)):
        g = dense_rotation(n, i[k], j[k], omega[k])
        expected = g @ expected if axis == -2 else expected @ g.conj().T
    assert fro(host(got) - expected) <= 100 * eps_of(dtype_name) * n * fro(x_host)


@pytest.mark.parametrize("dtype_name", DTYPES)
def test_givens_coefficients_zero_angle(dtype_name):
    c, s = givens_coefficients(np.zeros(3, dtype=dtype_name))
    assert np.all(c == 1) and np.all(s == 0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype_name", ["float64", "complex128", "complex64"])
def test_log_unitary_inverts_expm(backend, dtype_name):
    rng = np.random.default_rng(5)
    n = 5
    omega = gaussian(rng, (n, n), dtype_name)
    omega = (omega - omega.conj().T) / 2
    omega *= 2.0 / np.linalg.norm(omega, 2)  # spectrum inside i(−π, π)
    u = expm(on(backend, dtype_name, omega))
    log = log_unitary(u)
    assert_same_array_kind(log, u)
    assert fro(host(log) - omega) <= 1000 * eps_of(dtype_name) * n
