"""Property suite of the manifolds: manifold × retraction × dtype × backend.

In the style of geoopt's ``test_manifold_basic.py``: every manifold (real and
complex Stiefel, SO(n), U(n)) with every retraction ("qr", "polar", "cayley",
"exp", "givens"), every dtype it accepts and every backend (NumPy,
array-api-strict on its default device and on ``device1``) gets the same
invariants. Hypothesis draws the sizes (1 ≤ p ≤ n ≤ 8) and the seeds; the
explicit ``@example`` rows pin the corner cases n = 1, n = 2, p = 1 and p = n.

Tolerances are multiples of eps(dtype) (of the real part for complex dtypes)
times a size factor, never absolute numbers.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import (
    BACKENDS,
    MANIFOLD_DTYPES,
    RETRACTIONS,
    assert_same_array_kind,
    eps_of,
    feasibility,
    fro,
    host,
    make_manifold,
    skew_defect,
    template,
)
from orthopt import check_manifold, check_retraction
from orthopt.backend import get_namespace, to_float
from orthopt.manifolds import SpecialOrthogonal, Stiefel, Unitary

# CI draws 2 reproducible examples per case (plus the pinned corner cases). A deeper,
# random search: ORTHOPT_HYPOTHESIS_EXAMPLES=50 python -m pytest tests/test_manifolds.py
_DEEP_EXAMPLES = int(os.environ.get("ORTHOPT_HYPOTHESIS_EXAMPLES", "0"))
SETTINGS = settings(
    max_examples=_DEEP_EXAMPLES or 2,
    deadline=None,
    derandomize=not _DEEP_EXAMPLES,  # reproducible CI: the same sizes and seeds every run
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# (n, p): n rows, p columns (ignored for the square manifolds SO(n), U(n))
shapes = st.integers(1, 8).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n)))
seeds = st.integers(0, 2**32 - 1)


def corner_cases(test):
    """Pin n = 1, n = 2, p = 1 and p = n in addition to the drawn sizes."""
    for shape, seed in (((1, 1), 0), ((2, 1), 1), ((2, 2), 2), ((7, 3), 3)):
        test = example(shape=shape, seed=seed)(test)
    return test


def build(kind, dtype_name, backend, shape, seed, retraction="qr"):
    """Manifold, a random point on it and two random unit tangent vectors there."""
    n, p = shape
    M = make_manifold(kind, n, p, retraction)
    like = template(backend, dtype_name)
    rng = np.random.default_rng(seed)
    x = M.random_point(rng=rng, like=like)
    v = M.random_tangent_vector(x, rng=rng)
    w = M.random_tangent_vector(x, rng=rng)
    return M, like, x, v, w, rng


def tolerance(M, dtype_name, factor=100):
    """factor·eps·√(np): the rounding budget of one O(np)-sized matrix computation."""
    return factor * eps_of(dtype_name) * math.sqrt(M.n * M.p)


manifold_params = pytest.mark.parametrize("kind,dtype_name", MANIFOLD_DTYPES)
backend_params = pytest.mark.parametrize("backend", BACKENDS)
retraction_params = pytest.mark.parametrize("retraction", RETRACTIONS)


# ---------------------------------------------------------------------------
# Points and tangent spaces (independent of the retraction)
# ---------------------------------------------------------------------------


@manifold_params
@backend_params
@SETTINGS
@corner_cases
@given(shape=shapes, seed=seeds)
def test_random_point_on_manifold(kind, dtype_name, backend, shape, seed):
    M, like, x, v, _, _ = build(kind, dtype_name, backend, shape, seed)
    assert_same_array_kind(x, like)
    assert tuple(x.shape) == M.point_shape
    tol = tolerance(M, dtype_name)
    assert feasibility(x) <= tol
    assert M.check_point(x) <= tol
    if kind == "so":
        assert abs(np.linalg.det(host(x).astype(np.float64)) - 1.0) <= tol


@manifold_params
@backend_params
@SETTINGS
@corner_cases
@example(shape=(1, 1), seed=138)  # U(1) complex64: a short P_x(u) (random_tangent_vector)
@given(shape=shapes, seed=seeds)
def test_projection_idempotent_and_tangent(kind, dtype_name, backend, shape, seed):
    M, like, x, _, _, rng = build(kind, dtype_name, backend, shape, seed)
    u = M._gaussian(x.shape, rng, get_namespace(x), x.dtype, x)
    pu = M.projection(x, u)
    assert_same_array_kind(pu, like)
    scale = fro(host(u))
    tol = tolerance(M, dtype_name) * scale
    assert skew_defect(x, pu) <= tol
    assert fro(host(M.projection(x, pu)) - host(pu)) <= tol
    # orthogonal projection: the removed part is normal to every tangent vector
    v = M.random_tangent_vector(x, rng=rng)
    assert abs(to_float(M.inner_product(x, u - pu, v))) <= tol


@manifold_params
@backend_params
@SETTINGS
@corner_cases
@example(shape=(2, 1), seed=19784)  # SO(2): u almost normal, P_x(u) short
@given(shape=shapes, seed=seeds)
def test_random_tangent_vector_tangent_unit(kind, dtype_name, backend, shape, seed):
    M, like, x, v, _, _ = build(kind, dtype_name, backend, shape, seed)
    assert_same_array_kind(v, like)
    tol = tolerance(M, dtype_name)
    assert skew_defect(x, v) <= tol
    expected = 1.0 if M.dim > 0 else 0.0  # St(1, 1) = O(1) and SO(1) are points
    assert abs(to_float(M.norm(x, v)) - expected) <= tol


@manifold_params
@backend_params
@SETTINGS
@corner_cases
@given(shape=shapes, seed=seeds)
def test_inner_product_symmetric_and_norm(kind, dtype_name, backend, shape, seed):
    M, like, x, v, w, _ = build(kind, dtype_name, backend, shape, seed)
    tol = tolerance(M, dtype_name)
    vw, wv = to_float(M.inner_product(x, v, w)), to_float(M.inner_product(x, w, v))
    assert abs(vw - wv) <= tol
    # ⟨v, w⟩ = Re tr(vᴴw), the Euclidean metric of the embedding
    assert abs(vw - float(np.real(np.vdot(host(v), host(w))))) <= tol
    nv = to_float(M.norm(x, 3.0 * v))
    assert abs(nv**2 - to_float(M.inner_product(x, 3.0 * v, 3.0 * v))) <= 9 * tol
    assert abs(nv - 3.0 * fro(host(v))) <= 3 * tol
    ip = M.inner_product(x, v, w)
    assert ip.dtype == get_namespace(x).real(x).dtype


@manifold_params
@backend_params
@SETTINGS
@corner_cases
@given(shape=shapes, seed=seeds)
def test_riemannian_gradient_is_projected_euclidean(kind, dtype_name, backend, shape, seed):
    M, like, x, _, _, rng = build(kind, dtype_name, backend, shape, seed)
    g = M._gaussian(x.shape, rng, get_namespace(x), x.dtype, x)
    rg = M.euclidean_to_riemannian_gradient(x, g)
    assert_same_array_kind(rg, like)
    # the projection formula P_x(g) = g − x herm(xᴴg), evaluated on the host
    xh, gh = host(x).astype(np.complex128), host(g).astype(np.complex128)
    a = xh.conj().T @ gh
    expected = gh - xh @ (a + a.conj().T) / 2
    assert fro(host(rg) - expected) <= tolerance(M, dtype_name) * fro(gh)


@manifold_params
@backend_params
@SETTINGS
@corner_cases
@given(shape=shapes, seed=seeds)
def test_transport_is_tangent(kind, dtype_name, backend, shape, seed):
    M, like, x, v, _, rng = build(kind, dtype_name, backend, shape, seed)
    y = M.random_point(rng=rng, like=like)
    tv = M.transport(x, y, v)
    assert_same_array_kind(tv, like)
    tol = tolerance(M, dtype_name)
    assert skew_defect(y, tv) <= tol
    # transport by projection never lengthens a vector
    assert to_float(M.norm(y, tv)) <= to_float(M.norm(x, v)) + tol


# ---------------------------------------------------------------------------
# Retractions
# ---------------------------------------------------------------------------


@manifold_params
@retraction_params
@backend_params
@SETTINGS
@corner_cases
@given(shape=shapes, seed=seeds)
def test_retraction(kind, dtype_name, retraction, backend, shape, seed):
    """On the manifold, R_x(0) = x, d/dt R_x(tv)|₀ = v, dtype and device kept."""
    M, like, x, v, _, _ = build(kind, dtype_name, backend, shape, seed, retraction)
    eps = eps_of(dtype_name)
    tol = tolerance(M, dtype_name)
    for t in (0.3, 1.0):
        y = M.retraction(x, t * v)
        assert_same_array_kind(y, like)
        assert feasibility(y) <= tol, (t, feasibility(y))
        if kind == "so":
            assert np.linalg.det(host(y).astype(np.float64)) > 0
    zero = M.retraction(x, M.zero_vector(x))
    assert fro(host(zero) - host(x)) <= tol
    # central difference: O(h²) truncation + O(eps/h) rounding, balanced at h = eps^(1/3)
    h = eps ** (1 / 3)
    derivative = (host(M.retraction(x, h * v)) - host(M.retraction(x, -h * v))) / (2 * h)
    assert fro(derivative - host(v)) <= 100 * eps ** (2 / 3) * math.sqrt(M.n)


# check_manifold on every manifold × retraction × dtype with NumPy, and in the
# working precision of each manifold on the two array-api-strict devices
CHECK_CASES = [(k, d, r, "numpy") for k, d in MANIFOLD_DTYPES for r in RETRACTIONS] + [
    (k, d, r, b) for k, d in MANIFOLD_DTYPES if d in ("float64", "complex128")
    for r in RETRACTIONS for b in ("strict", "device1")
]


@pytest.mark.parametrize("kind,dtype_name,retraction,backend", CHECK_CASES)
def test_check_manifold_passes(kind, dtype_name, retraction, backend):
    """The diagnostics' own verdict: every invariant holds for every manifold × retraction."""
    n, p = (6, 2) if kind.startswith("stiefel") else (4, 4)
    M = make_manifold(kind, n, p, retraction)
    check = check_manifold(M, rng=7, like=template(backend, dtype_name))
    assert check.passed, str(check)
    assert len(check.rows) >= 14


@manifold_params
@retraction_params
def test_check_retraction_passes(kind, dtype_name, retraction):
    """R_x(tv) agrees with exp_x(tv) to O(t²): first order (slope ≥ 2), exp itself: inf."""
    n, p = (6, 2) if kind.startswith("stiefel") else (4, 4)
    M = make_manifold(kind, n, p, retraction)
    result = check_retraction(M, x=M.random_point(rng=8, dtype=dtype_name), rng=9)
    assert result.passed, result.message
    assert result.slope >= 1.9
    if retraction == "exp":
        assert result.slope == math.inf
    if retraction in ("polar",) and dtype_name in ("float64", "complex128"):
        # the polar retraction is second order: error O(t³)
        assert result.slope >= 2.8, result.message


thin_shapes = st.integers(3, 8).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(1, (n - 1) // 2)))  # 2p < n


@pytest.mark.parametrize("field", ["real", "complex"])
@backend_params
@SETTINGS
@given(shape=thin_shapes, seed=seeds)
def test_stiefel_cayley_low_rank_equals_dense(field, backend, shape, seed):
    """Wen–Yin's O(np²) form equals (I − W/2)⁻¹(I + W/2)x, W = Pv xᴴ − x(Pv)ᴴ."""
    n, p = shape
    M = Stiefel(n, p, retraction="cayley", field=field)
    like = template(backend, "float64" if field == "real" else "complex128")
    rng = np.random.default_rng(seed)
    x = M.random_point(rng=rng, like=like)
    v = M.random_tangent_vector(x, rng=rng)
    xh, vh = host(x), host(v)
    pv = vh - xh @ (xh.conj().T @ vh) / 2
    w = pv @ xh.conj().T - xh @ pv.conj().T
    ident = np.eye(n)
    dense = np.linalg.solve(ident - w / 2, (ident + w / 2) @ xh)
    got = host(M.retraction(x, v))
    assert fro(got - dense) <= 100 * eps_of("float64") * n
    # W x = v: the curve t ↦ Cayley(tW)x starts in the direction v
    assert fro(w @ xh - vh) <= 100 * eps_of("float64") * n


@pytest.mark.parametrize("n,p", [(5, 1), (6, 2), (4, 4)])
@backend_params
def test_stiefel_exp_is_geodesic(n, p, backend):
    """exp follows a geodesic: constant speed, and the great circle on the sphere."""
    M = Stiefel(n, p, retraction="exp")
    like = template(backend, "float64")
    x = M.random_point(rng=3, like=like)
    v = M.random_tangent_vector(x, rng=4)
    eps = eps_of("float64")
    if p == 1:  # St(n, 1) is the sphere: exp_x(v) = cos‖v‖ x + sin‖v‖ v/‖v‖
        theta = 1.3
        expected = math.cos(theta) * host(x) + math.sin(theta) * host(v)
        assert fro(host(M.exp(x, theta * v)) - expected) <= 100 * eps * n
    # speed ‖γ'(t)‖ = ‖v‖ = 1 along the curve (central differences)
    h = 1e-4
    for t in (0.5, 1.5):
        speed = fro(host(M.exp(x, (t + h) * v)) - host(M.exp(x, (t - h) * v))) / (2 * h)
        assert abs(speed - 1.0) <= 1e-6
    # exp_x(s v) and exp_x(t v) are the same geodesic: exp_x(2tv) = exp_y(t γ'(t))
    t = 0.4
    y = M.exp(x, t * v)
    velocity = (host(M.exp(x, (t + h) * v)) - host(M.exp(x, (t - h) * v))) / (2 * h)
    velocity = M.projection(y, _like(velocity, y))
    assert fro(host(M.exp(y, t * velocity)) - host(M.exp(x, 2 * t * v))) <= 1e-6


def _like(a, ref):
    from orthopt.backend import asarray_like

    return asarray_like(a, like=ref)


# ---------------------------------------------------------------------------
# SO(n), U(n): exp, log, dist, det
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind,dtype_name", [(k, d) for k, d in MANIFOLD_DTYPES
                                             if k in ("so", "unitary")])
@backend_params
@SETTINGS
@corner_cases
@given(shape=shapes, seed=seeds)
def test_log_inverts_exp(kind, dtype_name, backend, shape, seed):
    n = shape[0]
    M, like, x, v, _, rng = build(kind, dtype_name, backend, (n, n), seed, "exp")
    small = 0.5 * v  # spectral norm < π: inside the injectivity radius
    y = M.exp(x, small)
    back = M.log(x, y)
    assert_same_array_kind(back, like)
    tol = tolerance(M, dtype_name, factor=1000)
    assert fro(host(back) - host(small)) <= tol
    assert abs(to_float(M.dist(x, y)) - to_float(M.norm(x, small))) <= tol
    # exp_x(v) = x expm(xᴴv) on the group (SciPy reference on the host)
    xh = host(x).astype(np.complex128)
    reference = xh @ scipy.linalg.expm(xh.conj().T @ host(small).astype(np.complex128))
    assert fro(host(y) - reference) <= tolerance(M, dtype_name)


@backend_params
@pytest.mark.parametrize("retraction", RETRACTIONS)
def test_special_orthogonal_det_plus_one(backend, retraction):
    M = SpecialOrthogonal(5, retraction=retraction)
    like = template(backend, "float64")
    rng = np.random.default_rng(11)
    for _ in range(4):
        x = M.random_point(rng=rng, like=like)
        y = M.retraction(x, 2.0 * M.random_tangent_vector(x, rng=rng))
        for z in (x, y):
            assert abs(np.linalg.det(host(z)) - 1.0) <= 100 * eps_of("float64") * 5


# ---------------------------------------------------------------------------
# Haar sampling
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("M", [Stiefel(4, 2), Stiefel(3, 3), SpecialOrthogonal(3),
                               Unitary(3), Stiefel(4, 2, field="complex")],
                         ids=repr)
def test_haar_moments(M):
    """E[x] = 0 and E|x_ij|² = 1/n under the Haar measure (entrywise)."""
    rng = np.random.default_rng(2024)
    k = 2000
    samples = np.stack([M.random_point(rng=rng) for _ in range(k)])
    n = M.n
    # x_ij has variance 1/n: the sample mean has standard error 1/√(nk)
    assert np.max(np.abs(samples.mean(axis=0))) <= 5 / math.sqrt(n * k)
    second = (np.abs(samples) ** 2).mean(axis=0)
    # |x_ij|² has variance ≤ 2/n² (real) — bound the error by 6 standard errors
    assert np.max(np.abs(second - 1 / n)) <= 6 * math.sqrt(2) / (n * math.sqrt(k))


@pytest.mark.parametrize("M", [SpecialOrthogonal(2), Unitary(1)], ids=repr)
def test_haar_angle_uniform(M):
    """SO(2) and U(1) are circles: the Haar angle is uniform on (−π, π]."""
    rng = np.random.default_rng(12345)
    xs_ = [M.random_point(rng=rng) for _ in range(2000)]
    if isinstance(M, Unitary):
        angles = np.array([np.angle(x[0, 0]) for x in xs_])
    else:
        angles = np.array([math.atan2(x[1, 0], x[0, 0]) for x in xs_])
    result = scipy.stats.kstest(angles, scipy.stats.uniform(loc=-math.pi, scale=2 * math.pi).cdf)
    assert result.pvalue > 1e-3, result


def test_haar_so3_rotation_angle():
    """SO(3): the rotation angle θ (tr x = 1 + 2cos θ) has density (1 − cos θ)/π."""
    rng = np.random.default_rng(99)
    M = SpecialOrthogonal(3)
    theta = np.array([math.acos(np.clip((np.trace(M.random_point(rng=rng)) - 1) / 2, -1, 1))
                      for _ in range(2000)])

    def cdf(t):
        return (t - np.sin(t)) / math.pi

    assert scipy.stats.kstest(theta, cdf).pvalue > 1e-3


@pytest.mark.parametrize("kind,dtype_name", [("stiefel", "float64"), ("so", "float32"),
                                             ("unitary", "complex128")])
def test_random_point_same_seed_same_point_on_every_backend(kind, dtype_name):
    M = make_manifold(kind, 5, 3)
    points = [host(M.random_point(rng=42, like=template(b, dtype_name))) for b in BACKENDS]
    for other in points[1:]:
        assert fro(other - points[0]) <= 100 * eps_of(dtype_name) * 5


@pytest.mark.parametrize("kind,dtype_name", MANIFOLD_DTYPES)
def test_random_point_dtype_argument(kind, dtype_name):
    M = make_manifold(kind, 4, 2)
    x = M.random_point(rng=0, dtype=dtype_name)
    assert x.dtype == np.dtype(dtype_name)
    assert feasibility(x) <= tolerance(M, dtype_name)


# ---------------------------------------------------------------------------
# Batches of points
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("retraction", ["qr", "polar", "cayley", "exp"])
@pytest.mark.parametrize("field", ["real", "complex"])
def test_batched_retraction_matches_loop(retraction, field):
    M = Stiefel(6, 2, retraction=retraction, field=field)
    rng = np.random.default_rng(5)
    x = np.stack([M.random_point(rng=rng) for _ in range(3)])
    v = np.stack([M.random_tangent_vector(xi, rng=rng) for xi in x])
    batched = M.retraction(x, 0.2 * v)
    for k in range(3):
        assert fro(batched[k] - M.retraction(x[k], 0.2 * v[k])) <= 100 * eps_of("float64") * 6


def test_dimensions():
    assert Stiefel(5, 2).dim == 5 * 2 - 3
    assert Stiefel(5, 2, field="complex").dim == 2 * 10 - 4
    assert SpecialOrthogonal(4).dim == 6
    assert SpecialOrthogonal(1).dim == 0
    assert Unitary(3).dim == 9


# ---------------------------------------------------------------------------
# Givens sweep: the documented order of the rotations
# ---------------------------------------------------------------------------


def _dense_givens(m, i, j, omega):
    """exp(ω e_i e_jᴴ − ω̄ e_j e_iᴴ) as a dense m×m matrix (host, complex128)."""
    w = np.zeros((m, m), dtype=np.complex128)
    w[i, j] = omega
    w[j, i] = -np.conj(omega)
    return scipy.linalg.expm(w)


def _reference_sweep(w, y, block_size):
    """The blocked order of ``_givens_sweep``'s docstring, one dense rotation at a time."""
    from orthopt.linalg import givens_round_robin

    m = w.shape[0]
    y = y.astype(np.complex128)
    if np.iscomplexobj(w):
        y = np.exp(np.diag(w))[:, None] * y
    pairs = []
    if m <= 2 * block_size:
        for i, j in givens_round_robin(m):
            pairs += list(zip(i, j))
    else:
        b = block_size
        n_blocks = -(-m // b)
        for i, j in givens_round_robin(b):  # 1. within each block
            for blk in range(n_blocks):
                pairs += [(blk * b + ii, blk * b + jj) for ii, jj in zip(i, j)]
        for first, second in givens_round_robin(n_blocks):  # 2. across blocks
            for bi, bj in zip(first, second):
                for r in range(b):
                    pairs += [(bi * b + a, bj * b + (a + r) % b) for a in range(b)]
        pairs = [(i, j) for i, j in pairs if i < m and j < m]  # padding rows: identity
    for i, j in pairs:
        y = _dense_givens(m, i, j, w[i, j]) @ y
    return y


@pytest.mark.parametrize("field", ["real", "complex"])
@pytest.mark.parametrize("m,block_size", [(5, 4), (7, 2), (9, 3), (12, 3)])
def test_givens_sweep_matches_documented_rotation_order(field, m, block_size):
    """Each rotation G_ij(w_ij) exactly once, in the order the docstring states."""
    from orthopt.manifolds.stiefel import _givens_sweep

    rng = np.random.default_rng(m)
    w = rng.standard_normal((m, m))
    if field == "complex":
        w = w + 1j * rng.standard_normal((m, m))
    w = (w - w.conj().T) / 2
    y = rng.standard_normal((m, 3))
    if field == "complex":
        y = y + 1j * rng.standard_normal((m, 3))
    got = _givens_sweep(w, y, block_size=block_size)
    expected = _reference_sweep(w, y, block_size)
    assert fro(got - expected) <= 1000 * eps_of("float64") * m * fro(y)


@pytest.mark.parametrize("retraction", ["givens", "cayley", "qr"])
@pytest.mark.parametrize("shape", [(70, 70), (150, 40)])
def test_large_retraction_blocked_paths(retraction, shape):
    """Sizes past the Givens block threshold (2·32 rows): on the manifold, first order."""
    n, p = shape
    if n == p:
        M = SpecialOrthogonal(n, retraction=retraction)
    else:
        M = Stiefel(n, p, retraction=retraction)
    x = M.random_point(rng=1)
    v = M.random_tangent_vector(x, rng=2)
    eps = eps_of("float64")
    y = M.retraction(x, v)
    assert feasibility(y) <= 100 * eps * math.sqrt(n * p)
    h = eps ** (1 / 3)
    derivative = (M.retraction(x, h * v) - M.retraction(x, -h * v)) / (2 * h)
    assert fro(derivative - v) <= 100 * eps ** (2 / 3) * math.sqrt(n)
    assert fro(M.retraction(x, M.zero_vector(x)) - x) <= 100 * eps * math.sqrt(n * p)
