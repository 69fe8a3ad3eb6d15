"""The product-only retraction kernels: Taylor expm, binomial Gram powers, Cayley, SO(3).

Accuracy is asserted against SciPy (and, for the conditioning floor at large
norms, against a 40-digit mpmath reference) over norms 1e-8..1e3, the four
dtypes, stacks with mixed norms and the array-api-strict backends; tolerances
are multiples of the dtype's eps.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from conftest import BACKENDS, assert_same_array_kind, eps_of, fro, host, template
from orthopt.backend import asarray_like
from orthopt.binomial import binomial_degree, gram_power, polar_newton_schulz
from orthopt.cayley import cayley_square
from orthopt.expm import _T8, _T12, _T18, expm_skew, expm_taylor, taylor_degree
from orthopt.linalg import polar, skew
from orthopt.so3 import cayley_so3, exp_so3, polar_so3

DTYPES = ("float32", "float64", "complex64", "complex128")
NORMS = tuple(10.0**k for k in range(-8, 4))


def on(backend, dtype_name, a):
    return asarray_like(a, like=template(backend, dtype_name))


def random_skew(rng, n, dtype_name, norm2, batch=()):
    """Skew-Hermitian matrices with spectral norm ``norm2`` (host, complex128/float64)."""
    g = rng.standard_normal(batch + (n, n))
    if dtype_name.startswith("complex"):
        g = g + 1j * rng.standard_normal(batch + (n, n))
    a = (g - np.swapaxes(g, -1, -2).conj()) / 2
    return a * (norm2 / np.linalg.norm(a, ord=2, axis=(-2, -1), keepdims=True))


def expm_tolerance(dtype_name, norm2):
    """50 eps below ‖A‖ = 10 (1e-14 in float64), then growing like the condition number ‖A‖."""
    return 50 * eps_of(dtype_name) * max(1.0, norm2 / 10)


# ---------------------------------------------------------------------------
# The evaluation formulas are the Taylor polynomials
# ---------------------------------------------------------------------------


def _taylor_error(coefficients, degree):
    return max(abs(c * math.factorial(k) - 1) for k, c in enumerate(coefficients[:degree + 1]))


def test_degree_8_12_18_formulas_expand_to_taylor_polynomials():
    P = np.polynomial.Polynomial
    x, one = P([0, 1]), P([1])
    c = _T8
    a2 = x * x
    a4 = a2 * (c["x1"] * x + c["x2"] * a2)
    a8 = (c["x3"] * a2 + a4) * (c["x4"] * one + c["x5"] * x + c["x6"] * a2 + c["x7"] * a4)
    t8 = one + x + c["y2"] * a2 + a8
    assert t8.degree() == 8 and _taylor_error(t8.coef, 8) < 1e-14
    powers = (one, x, x**2, x**3)
    b = [sum(coef * p for coef, p in zip(row, powers)) for row in _T12]
    a6 = b[2] + b[3] * b[3]
    t12 = b[0] + (b[1] + a6) * a6
    assert t12.degree() == 12 and _taylor_error(t12.coef, 12) < 1e-14
    powers = (one, x, x**2, x**3, x**6)
    b = [sum(coef * p for coef, p in zip(row, powers)) for row in _T18]
    a9 = b[3] + b[0] * b[4]
    t18 = b[1] + (b[2] + a9) * a9
    assert t18.degree() == 18 and _taylor_error(t18.coef, 18) < 1e-14


def test_degree_selection():
    # a retraction step ‖v‖_F = 0.1 at n = 1024 has ‖Ω‖₂ ≲ ‖Ω²‖_F^{1/2} ≈ 0.021: degree 8
    assert taylor_degree(0.021) == (8, 0)
    assert taylor_degree(1e-17) == (1, 0)
    assert taylor_degree(1e-8) == (2, 0)
    assert taylor_degree(1e-4) == (4, 0)
    assert taylor_degree(0.2) == (12, 0)
    assert taylor_degree(1.0) == (18, 0)
    assert taylor_degree(1e3) == (18, 10)
    assert taylor_degree(0.021, "float32") == (4, 0)
    with pytest.raises(ValueError, match="non-finite"):
        taylor_degree(float("nan"))


# ---------------------------------------------------------------------------
# expm: accuracy over norms, dtypes, sizes, backends and stacks
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("n", [2, 3, 5, 8, 20])
def test_expm_skew_matches_scipy_over_norms(dtype_name, n):
    rng = np.random.default_rng(n)
    for norm2 in NORMS:
        a = random_skew(rng, n, dtype_name, norm2).astype(dtype_name)
        reference = scipy.linalg.expm(a.astype(np.complex128))
        got = expm_skew(a)
        assert got.dtype == a.dtype
        error = np.linalg.norm(got - reference, 2)
        assert error <= expm_tolerance(dtype_name, norm2), (norm2, error)
        # the general-matrix route (‖A‖₁ bound, no symmetric products) is looser
        error = np.linalg.norm(expm_taylor(a) - reference, 2)
        assert error <= 4 * expm_tolerance(dtype_name, norm2), (norm2, error)


@pytest.mark.parametrize("dtype_name", DTYPES)
def test_expm_taylor_of_general_matrices(dtype_name):
    rng = np.random.default_rng(7)
    for scale in (1e-6, 0.05, 0.5, 2.0, 8.0):
        g = rng.standard_normal((6, 6))
        if dtype_name.startswith("complex"):
            g = g + 1j * rng.standard_normal((6, 6))
        a = (scale * g / np.linalg.norm(g, 2)).astype(dtype_name)
        reference = scipy.linalg.expm(a.astype(np.complex128))
        error = np.linalg.norm(expm_taylor(a) - reference, 2) / np.linalg.norm(reference, 2)
        assert error <= 50 * eps_of(dtype_name) * max(1.0, scale), (scale, error)


def test_expm_skew_is_within_the_conditioning_floor_at_large_norms():
    """At ‖A‖ = 1e3 no method meets 1e-14: SciPy itself is ~1e-13 off the truth.

    exp is ‖A‖-conditioned at a normal A: rounding the scaled matrix alone
    moves the result by ~‖A‖·u. Against a 40-digit reference orthopt's error
    stays within the same floor as SciPy's.
    """
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    rng = np.random.default_rng(1)
    for norm2 in (10.0, 1e2, 1e3):
        a = random_skew(rng, 8, "float64", norm2)
        truth = np.array(mpmath.expm(mpmath.matrix(a.tolist())).tolist(), dtype=float)
        ours = np.linalg.norm(expm_skew(a) - truth, 2)
        theirs = np.linalg.norm(scipy.linalg.expm(a) - truth, 2)
        floor = 4 * eps_of("float64") * norm2
        assert ours <= max(2 * theirs, floor), (norm2, ours, theirs)


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("n", [3, 6])
def test_expm_skew_stack_with_mixed_norms(dtype_name, n):
    """Every matrix of a stack gets its own degree and squarings, results in order."""
    rng = np.random.default_rng(3)
    norms = np.array([1e-9, 1e3, 0.02, 1e-5, 0.3, 5.0, 1e-9, 40.0, 0.02, 1.0, 2e2, 1e-3])
    a = random_skew(rng, n, dtype_name, 1.0, batch=(2, 6))
    a = (a * norms.reshape(2, 6, 1, 1)).astype(dtype_name)
    got = expm_skew(a)
    assert got.shape == a.shape and got.dtype == a.dtype
    for index in np.ndindex(2, 6):
        reference = scipy.linalg.expm(a[index].astype(np.complex128))
        error = np.linalg.norm(got[index] - reference, 2)
        assert error <= expm_tolerance(dtype_name, norms.reshape(2, 6)[index]), (index, error)


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n", [2, 3, 7])
def test_expm_skew_on_every_backend(backend, dtype_name, n):
    rng = np.random.default_rng(11)
    norms = np.array([1e-6, 0.1, 3.0, 300.0])
    host_a = random_skew(rng, n, dtype_name, 1.0, batch=(4,)) * norms[:, None, None]
    a = on(backend, dtype_name, host_a)
    got = expm_skew(a)
    assert_same_array_kind(got, a)
    scaled = expm_skew(2 * a, scale=0.5)
    for k in range(4):
        reference = scipy.linalg.expm(host(a)[k].astype(np.complex128))
        tol = expm_tolerance(dtype_name, norms[k])
        assert np.linalg.norm(host(got)[k] - reference, 2) <= tol
        assert np.linalg.norm(host(scaled)[k] - reference, 2) <= tol


def test_expm_rejects_non_finite_input():
    a = np.zeros((3, 5, 5))
    a[1, 0, 1] = np.nan
    with pytest.raises(ValueError, match="inf or nan"):
        expm_taylor(a)


# ---------------------------------------------------------------------------
# Binomial Gram powers and the Newton–Schulz polar factor
# ---------------------------------------------------------------------------


def test_binomial_degree():
    u = eps_of("float64") / 2
    assert binomial_degree(0.0, u) == 1
    assert binomial_degree(1e-17, u) == 1
    assert binomial_degree(1e-4, u) == 4
    assert binomial_degree(0.99, u) is None
    assert binomial_degree(1.5, u) is None


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("alpha", [-1.0, -0.5])
def test_gram_power_matches_eigh(dtype_name, alpha):
    rng = np.random.default_rng(5)
    for size in (1e-10, 1e-4, 1e-2, 0.1):
        g = rng.standard_normal((2, 7, 7))
        if dtype_name.startswith("complex"):
            g = g + 1j * rng.standard_normal((2, 7, 7))
        e = g @ np.swapaxes(g, -1, -2).conj()
        e = size * e / np.linalg.norm(e, 2, axis=(-2, -1), keepdims=True)
        power, degree = gram_power(e.astype(dtype_name), alpha)
        assert degree >= 1 and power.dtype == np.dtype(dtype_name)
        w, v = np.linalg.eigh(np.eye(7) + e)
        reference = (v * (w**alpha)[..., None, :]) @ np.swapaxes(v, -1, -2).conj()
        assert np.max(np.abs(power - reference)) <= 20 * eps_of(dtype_name), size
    far, degree = gram_power(np.eye(3) * 1.5, alpha)
    assert far is None and degree == 0


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(6, 6), (9, 4), (3, 5, 5)])
def test_newton_schulz_polar_reaches_working_precision(backend, dtype_name, shape):
    rng = np.random.default_rng(6)
    for step in (1e-8, 0.1, 0.6):
        g = rng.standard_normal(shape)
        if dtype_name.startswith("complex"):
            g = g + 1j * rng.standard_normal(shape)
        q, _ = np.linalg.qr(g)
        d = rng.standard_normal(shape)
        d = d / np.linalg.norm(d, 2, axis=(-2, -1), keepdims=True)
        a = on(backend, dtype_name, q + step * d)
        got = polar(a, method="newton_schulz")
        assert_same_array_kind(got, a)
        u, _, vh = np.linalg.svd(host(a).astype(np.complex128), full_matrices=False)
        p = shape[-1]
        assert np.max(np.abs(host(got) - u @ vh)) <= 50 * eps_of(dtype_name) * math.sqrt(p)
        gram = np.swapaxes(host(got), -1, -2).conj() @ host(got)
        defect = np.max(np.linalg.norm(gram - np.eye(p), axis=(-2, -1)))
        assert defect <= 50 * eps_of(dtype_name) * p


def test_newton_schulz_gives_up_beyond_its_region():
    # ‖aᴴa − I‖₂ ≥ 1: the series diverges, the kernel says so and polar() uses eigh
    a = np.diag([1.0, 2.0, 0.5])
    assert polar_newton_schulz(a) is None
    np.testing.assert_allclose(polar(a, method="newton_schulz"), np.eye(3), atol=1e-15)


# ---------------------------------------------------------------------------
# Cayley of square points and the SO(3) closed forms
# ---------------------------------------------------------------------------


def _cayley_reference(x, omega):
    ident = np.eye(x.shape[-1])
    return x @ np.linalg.solve(ident - omega / 2, ident + omega / 2)


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(5, 5), (4, 6, 6), (2, 3, 3)])
def test_cayley_square_matches_the_solve(backend, dtype_name, shape):
    rng = np.random.default_rng(8)
    for step in (1e-8, 0.1, 1.0, 4.0):  # 4.0: ‖E‖₂ > 1, the series gives way to a solve
        g = rng.standard_normal(shape)
        h = rng.standard_normal(shape)
        if dtype_name.startswith("complex"):
            g, h = g + 1j * rng.standard_normal(shape), h + 1j * rng.standard_normal(shape)
        x, _ = np.linalg.qr(g)
        omega = skew(h)
        omega = step * omega / np.linalg.norm(omega, 2, axis=(-2, -1), keepdims=True)
        xd = on(backend, dtype_name, x)
        vd = on(backend, dtype_name, x @ omega)
        got = cayley_square(xd, vd)
        assert_same_array_kind(got, xd)
        reference = _cayley_reference(host(xd).astype(np.complex128),
                                      np.swapaxes(host(xd), -1, -2).conj() @ host(vd))
        tol = 50 * eps_of(dtype_name) * shape[-1] * max(1.0, step)
        assert np.max(np.abs(host(got) - reference)) <= tol, step


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_so3_closed_forms(backend, dtype_name):
    rng = np.random.default_rng(9)
    norms = np.array([0.0, 1e-9, 1e-3, 0.5, 3.0, 100.0])
    omega_host = skew(rng.standard_normal((6, 3, 3)))
    omega_host = omega_host / np.linalg.norm(omega_host, axis=(-2, -1), keepdims=True)
    omega_host = np.nan_to_num(omega_host * norms[:, None, None] * math.sqrt(2))
    omega = on(backend, dtype_name, omega_host)
    results = {"exp": exp_so3(omega), "cayley": cayley_so3(omega), "polar": polar_so3(omega)}
    ident = np.eye(3)
    for k, norm in enumerate(norms):
        om = host(omega)[k].astype(np.float64)
        u, _, vh = np.linalg.svd(ident + om)
        references = {"exp": scipy.linalg.expm(om),
                      "cayley": np.linalg.solve(ident - om / 2, ident + om / 2),
                      "polar": u @ vh}
        for name, reference in references.items():
            got = host(results[name])[k]
            assert_same_array_kind(results[name], omega)
            tol = 20 * eps_of(dtype_name) * max(1.0, norm if name == "exp" else 1.0)
            assert np.max(np.abs(got - reference)) <= tol, (name, norm)


@pytest.mark.parametrize("retraction", ["cayley", "exp", "polar"])
@pytest.mark.parametrize("dtype_name", ["float64", "float32"])
def test_rounding_drift_stays_a_random_walk(retraction, dtype_name):
    """Multiplicative retractions carry xᴴx − I along; none may amplify it.

    (A Cayley step normalized by yᴴy instead of I + vᴴv/4 triples the drift
    every step and leaves the manifold within ~30 steps.)
    """
    from orthopt.manifolds import SpecialOrthogonal

    manifold = SpecialOrthogonal(16, retraction=retraction)
    rng = np.random.default_rng(0)
    x = manifold.random_point(rng=0, dtype=dtype_name)
    steps = 300
    for _ in range(steps):
        v = manifold.random_tangent_vector(x, rng=rng) * 0.5
        x = manifold.retraction(x, v.astype(dtype_name))
    assert manifold.feasibility(x) <= 100 * eps_of(dtype_name) * 16 * math.sqrt(steps)


@pytest.mark.parametrize("retraction", ["exp", "cayley"])
def test_multiplicative_drift_grows_like_sqrt_k_not_k(retraction):
    """A constant term computed as 1 + δ (not exactly 1) makes the drift linear in k.

    Measured on SO(16), steps of length 0.5: a random walk reaches ~5 eps·√k;
    the degree-12 formula with its constant left as a product of coefficients
    gave ~2 eps·k (4e-13 after 1000 steps). The bound sits between the two.
    """
    from orthopt.manifolds import SpecialOrthogonal

    manifold = SpecialOrthogonal(16, retraction=retraction)
    rng = np.random.default_rng(0)
    x = manifold.random_point(rng=0)
    steps = 1000
    for _ in range(steps):
        x = manifold.retraction(x, manifold.random_tangent_vector(x, rng=rng) * 0.5)
    assert manifold.feasibility(x) <= 20 * eps_of("float64") * math.sqrt(steps)
