"""Property suite of the manifold interface: Grassmann, Euclidean and products.

The same invariants as ``test_manifolds.py`` (which covers Stiefel, SO(n) and
U(n) with their own tangent-space formula), written against the interface of
:class:`orthopt.manifolds.Manifold` only, so that quotient manifolds, flat
spaces and products of them fit: parametrized over manifold × retraction ×
dtype × backend (NumPy, array-api-strict on its default device and on
``device1``), sizes drawn by hypothesis with n = 1, 2, p = 1 and p = n pinned.

The product cases are Product([Stiefel(n, p), SO(p), Euclidean(n, p)]) (real,
the factors' retraction under test) and Product([Grassmann(n, p), U(p),
Euclidean(n, p, complex)]) (real and complex factors together; it has a log).

Tolerances are multiples of eps(dtype) times √(number of entries).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
from hypothesis import example, given

from conftest import BACKENDS, assert_same_array_kind, eps_of, host, template
from test_manifolds import SETTINGS, corner_cases, seeds, shapes
from orthopt import check_manifold, check_retraction
from orthopt.backend import asarray_like, device_of, to_float
from orthopt.manifolds import (
    Euclidean,
    Grassmann,
    OrthonormalColumns,
    Product,
    ProductVector,
    SpecialOrthogonal,
    Stiefel,
    Unitary,
)

GRASSMANN_RETRACTIONS = ("qr", "polar", "exp")

#: (kind, dtype name, retraction)
CASES = (
    [("grassmann", d, r) for d in ("float32", "float64") for r in GRASSMANN_RETRACTIONS]
    + [("grassmann-complex", d, r) for d in ("complex64", "complex128")
       for r in GRASSMANN_RETRACTIONS]
    + [("euclidean", d, "exp") for d in ("float32", "float64")]
    + [("euclidean-complex", d, "exp") for d in ("complex64", "complex128")]
    # each factor's retractions have their own suite (test_manifolds.py); here two suffice
    # to show that a product applies them factor by factor
    + [("product", d, r) for d in ("float32", "float64") for r in ("qr", "givens")]
    + [("product-mixed", d, r) for d in ("float32", "float64") for r in GRASSMANN_RETRACTIONS]
)
#: the kinds whose every factor has a logarithm (and a distance)
HAS_LOG = ("grassmann", "grassmann-complex", "euclidean", "euclidean-complex", "product-mixed")


def make(kind, n, p, retraction):
    if kind == "grassmann":
        return Grassmann(n, p, retraction=retraction)
    if kind == "grassmann-complex":
        return Grassmann(n, p, field="complex", retraction=retraction)
    if kind == "euclidean":
        return Euclidean(n, p)
    if kind == "euclidean-complex":
        return Euclidean(n, p, field="complex")
    if kind == "product":
        return Product([Stiefel(n, p, retraction=retraction),
                        SpecialOrthogonal(p, retraction=retraction), Euclidean(n, p)])
    if kind == "product-mixed":
        return Product([Grassmann(n, p, retraction=retraction), Unitary(p, retraction=retraction),
                        Euclidean(n, p, field="complex")])
    raise ValueError(kind)


# ---------------------------------------------------------------------------
# Host-side references (NumPy, float64/complex128), factor by factor
# ---------------------------------------------------------------------------


def factors(M, x):
    """[(factor manifold, host array)] — one entry for a plain manifold."""
    if isinstance(M, Product):
        assert isinstance(x, tuple) and len(x) == len(M.manifolds)
        return [pair for m, a in zip(M.manifolds, x) for pair in factors(m, a)]
    return [(M, np.asarray(host(x)).astype(np.complex128))]


def _ct(a):
    return np.conj(np.swapaxes(a, -1, -2))


def fro(a):
    return float(np.linalg.norm(np.ravel(a)))


def host_feasibility(M, x):
    """‖xᴴx − I‖_F for orthonormal factors, 0 for Euclidean ones (the largest)."""
    worst = 0.0
    for m, a in factors(M, x):
        if isinstance(m, OrthonormalColumns):
            worst = max(worst, fro(_ct(a) @ a - np.eye(a.shape[-1])))
    return worst


def tangent_defect(M, x, v):
    """How far v is from T_x by each factor's definition (not by M.projection)."""
    worst = 0.0
    for (m, a), (_, b) in zip(factors(M, x), factors(M, v)):
        if isinstance(m, Grassmann):
            worst = max(worst, fro(_ct(a) @ b))  # horizontal: xᴴv = 0
        elif isinstance(m, OrthonormalColumns):
            s = _ct(a) @ b
            worst = max(worst, fro(s + _ct(s)))  # xᴴv skew-Hermitian
    return worst


def difference(M, a, b):
    """Frobenius norm of a − b over all factors, on the host."""
    return math.sqrt(sum(fro(p - q) ** 2 for (_, p), (_, q) in zip(factors(M, a), factors(M, b))))


def subspace_gap(M, a, b):
    """Like :func:`difference`, but Grassmann factors compare projectors yyᴴ (the subspaces)."""
    total = 0.0
    for (m, p), (_, q) in zip(factors(M, a), factors(M, b)):
        if isinstance(m, Grassmann):
            total += fro(p @ _ct(p) - q @ _ct(q)) ** 2
        else:
            total += fro(p - q) ** 2
    return math.sqrt(total)


def size(M):
    shapes_ = M.point_shape if isinstance(M, Product) else (M.point_shape,)
    return sum(math.prod(s) for s in shapes_)


def tolerance(M, dtype_name, factor=100):
    return factor * eps_of(dtype_name) * math.sqrt(size(M))


def same_kind(result, like):
    """Library and device of ``like``; its dtype, or for products its precision."""
    if not isinstance(result, tuple):
        assert_same_array_kind(result, like)
        return
    precision = np.finfo(host(like).dtype).eps
    for part in result:
        assert type(part) is type(like)
        assert device_of(part) == device_of(like)
        assert np.finfo(host(part).dtype).eps == precision


def build(kind, dtype_name, backend, shape, seed, retraction):
    n, p = shape
    M = make(kind, n, p, retraction)
    like = template(backend, dtype_name)
    rng = np.random.default_rng(seed)
    x = M.random_point(rng=rng, like=like)
    v = M.random_tangent_vector(x, rng=rng)
    w = M.random_tangent_vector(x, rng=rng)
    return M, like, x, v, w, rng


def ambient(M, x, rng):
    """A random ambient array (tuple) at x: a Gaussian of x's shape, dtype and device."""
    def one(a):
        g = rng.standard_normal(tuple(a.shape))
        if "complex" in str(a.dtype):
            g = g + 1j * rng.standard_normal(tuple(a.shape))
        return asarray_like(g, like=a)

    if isinstance(x, tuple):
        return ProductVector(one(a) for a in x)
    return one(x)


cases = pytest.mark.parametrize("kind,dtype_name,retraction", CASES)
backends = pytest.mark.parametrize("backend", BACKENDS)


# ---------------------------------------------------------------------------
# Points, tangent vectors, metric
# ---------------------------------------------------------------------------


@cases
@backends
@SETTINGS
@corner_cases
@given(shape=shapes, seed=seeds)
def test_random_point_and_tangent_vectors(kind, dtype_name, retraction, backend, shape, seed):
    M, like, x, v, w, rng = build(kind, dtype_name, backend, shape, seed, retraction)
    same_kind(x, like)
    same_kind(v, like)
    tol = tolerance(M, dtype_name)
    assert host_feasibility(M, x) <= tol
    assert M.check_point(x) <= tol
    assert tangent_defect(M, x, v) <= tol
    expected = 1.0 if M.dim > 0 else 0.0
    assert abs(to_float(M.norm(x, v)) - expected) <= tol
    zero = M.zero_vector(x)
    assert difference(M, zero, 0.0 * v) == 0.0


@cases
@backends
@SETTINGS
@corner_cases
@given(shape=shapes, seed=seeds)
def test_projection_idempotent_tangent_orthogonal(kind, dtype_name, retraction, backend, shape,
                                                  seed):
    M, like, x, v, _, rng = build(kind, dtype_name, backend, shape, seed, retraction)
    u = ambient(M, x, rng)
    pu = M.projection(x, u)
    same_kind(pu, like)
    scale = math.sqrt(to_float(M.inner_product(x, u, u)))
    tol = tolerance(M, dtype_name) * scale
    assert tangent_defect(M, x, pu) <= tol
    assert difference(M, M.projection(x, pu), pu) <= tol
    # orthogonal: the removed part is normal to every tangent vector
    assert abs(to_float(M.inner_product(x, u - pu, v))) <= tol
    # the Riemannian gradient of these embedded / quotient metrics is P_x(∇f)
    assert difference(M, M.euclidean_to_riemannian_gradient(x, u), pu) <= tol
    # transport lands in the tangent space of the new point and never lengthens
    y = M.random_point(rng=rng, like=like)
    tv = M.transport(x, y, v)
    assert tangent_defect(M, y, tv) <= tolerance(M, dtype_name)
    assert to_float(M.norm(y, tv)) <= to_float(M.norm(x, v)) + tolerance(M, dtype_name)


@cases
@backends
@SETTINGS
@corner_cases
@given(shape=shapes, seed=seeds)
def test_inner_product_symmetric_and_embedded(kind, dtype_name, retraction, backend, shape, seed):
    M, like, x, v, w, _ = build(kind, dtype_name, backend, shape, seed, retraction)
    tol = tolerance(M, dtype_name)
    vw, wv = to_float(M.inner_product(x, v, w)), to_float(M.inner_product(x, w, v))
    assert abs(vw - wv) <= tol
    # the sum of the factors' Re tr(vᴴw)
    reference = sum(float(np.real(np.vdot(a, b)))
                    for (_, a), (_, b) in zip(factors(M, v), factors(M, w)))
    assert abs(vw - reference) <= tol
    assert abs(to_float(M.norm(x, 3.0 * v)) - 3.0 * to_float(M.norm(x, v))) <= 3 * tol


# ---------------------------------------------------------------------------
# Retractions and the exponential
# ---------------------------------------------------------------------------


@cases
@backends
@SETTINGS
@corner_cases
@given(shape=shapes, seed=seeds)
def test_retraction(kind, dtype_name, retraction, backend, shape, seed):
    """On the manifold, R_x(0) = x, d/dt R_x(tv)|₀ = v; exp lands on the manifold too."""
    M, like, x, v, _, _ = build(kind, dtype_name, backend, shape, seed, retraction)
    eps = eps_of(dtype_name)
    tol = tolerance(M, dtype_name)
    for t in (0.3, 1.0):
        y = M.retraction(x, t * v)
        same_kind(y, like)
        assert host_feasibility(M, y) <= tol
        assert host_feasibility(M, M.exp(x, t * v)) <= tol
    assert difference(M, M.retraction(x, M.zero_vector(x)), x) <= tol
    h = eps ** (1 / 3)
    up, down = M.retraction(x, h * v), M.retraction(x, -h * v)
    derivative = [(a - b) / (2 * h) for (_, a), (_, b) in zip(factors(M, up), factors(M, down))]
    error = math.sqrt(sum(fro(d - b) ** 2 for d, (_, b) in zip(derivative, factors(M, v))))
    assert error <= 100 * eps ** (2 / 3) * math.sqrt(size(M))


def _fit_slope(t, errors):
    return float(np.polyfit(np.log10(t), np.log10(errors), 1)[0])


@pytest.mark.parametrize("kind,dtype_name,retraction",
                         [c for c in CASES if c[1] in ("float64", "complex128")])
def test_retraction_agrees_with_exp_to_second_order(kind, dtype_name, retraction):
    """‖R_x(tv) − exp_x(tv)‖ = O(t²): slope ≥ 2 on a log–log plot (R = exp: rounding)."""
    M = make(kind, 6, 2, retraction)
    x = M.random_point(rng=8, dtype=dtype_name)
    v = M.random_tangent_vector(x, rng=9)
    t = np.logspace(-3, -1, 9)
    errors = np.array([difference(M, M.retraction(x, ti * v), M.exp(x, ti * v)) for ti in t])
    if np.all(errors <= 100 * eps_of(dtype_name) * math.sqrt(size(M))):
        return  # the retraction is the exponential map
    assert _fit_slope(t, errors) >= 1.9
    if isinstance(M, Grassmann):
        # the diagnostics' own verdict: on the manifold, R_x(0) = x, first order
        result = check_retraction(M, x=x, v=v)
        assert result.passed, result.message


@pytest.mark.parametrize("field", ["real", "complex"])
@pytest.mark.parametrize("retraction", GRASSMANN_RETRACTIONS)
def test_check_manifold_on_grassmann(field, retraction):
    """check_manifold's verdict, except the two rows that hard-code the Stiefel tangent space.

    ``diagnostics.check_manifold`` builds a tangent vector xΩ + (I − xxᴴ)K and a
    reference gradient ∇f − x herm(xᴴ∇f) from the Stiefel formulas; on the
    Grassmann manifold the horizontal space drops the xΩ part, so those two
    rows measure the vertical component, not an error.
    """
    M = Grassmann(6, 2, field=field, retraction=retraction)
    check = check_manifold(M, rng=7)
    stiefel_only = {"projection fixes tangent vectors", "Riemannian gradient = P_x(∇f)"}
    failed = {name for name, _, _, ok in check.rows if not ok}
    assert failed <= stiefel_only, str(check)


# ---------------------------------------------------------------------------
# Logarithm and distance
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind,dtype_name,retraction",
                         [c for c in CASES if c[0] in HAS_LOG and c[2] in ("qr", "exp")])
@backends
@SETTINGS
@corner_cases
@given(shape=shapes, seed=seeds)
def test_exp_log_inverse_and_dist(kind, dtype_name, retraction, backend, shape, seed):
    M, like, x, v, _, rng = build(kind, dtype_name, backend, shape, seed, retraction)
    tol = tolerance(M, dtype_name, factor=1000)
    y = M.random_point(rng=rng, like=like)
    # exp_x(log_x(y)) = y (for Grassmann: the same subspace)
    back = M.exp(x, M.log(x, y))
    same_kind(back, like)
    assert subspace_gap(M, back, y) <= tol
    # log_x(exp_x(v)) = v inside the injectivity radius (π/2 on Grassmann, π on U(p))
    small = 0.5 * v
    assert difference(M, M.log(x, M.exp(x, small)), small) <= tol
    assert abs(to_float(M.dist(x, M.exp(x, small))) - 0.5 * to_float(M.norm(x, v))) <= tol
    # a metric: symmetric, zero on the diagonal
    assert abs(to_float(M.dist(x, y)) - to_float(M.dist(y, x))) <= tol
    assert to_float(M.dist(x, x)) <= tol
    assert tangent_defect(M, x, M.log(x, y)) <= tol


@pytest.mark.parametrize("field", ["real", "complex"])
@backends
@SETTINGS
@corner_cases
@example(shape=(6, 3), seed=5)
@given(shape=shapes, seed=seeds)
def test_grassmann_dist_is_norm_of_principal_angles(field, backend, shape, seed):
    """dist = ‖θ‖₂ with θ from scipy.linalg.subspace_angles, for any representatives."""
    n, p = shape
    M = Grassmann(n, p, field=field)
    dtype_name = "float64" if field == "real" else "complex128"
    like = template(backend, dtype_name)
    rng = np.random.default_rng(seed)
    x, y = M.random_point(rng=rng, like=like), M.random_point(rng=rng, like=like)
    expected = float(np.linalg.norm(scipy.linalg.subspace_angles(host(x), host(y))))
    tol = 1000 * eps_of(dtype_name) * math.sqrt(n * p)
    assert abs(to_float(M.dist(x, y)) - expected) <= tol
    # invariant under a change of basis y → yQ (Q unitary): the same subspace
    q, _ = np.linalg.qr(rng.standard_normal((p, p)) + (1j * rng.standard_normal((p, p))
                                                       if field == "complex" else 0))
    y_rotated = y @ asarray_like(q, like=y)
    assert abs(to_float(M.dist(x, y_rotated)) - expected) <= tol
    assert subspace_gap(M, M.exp(x, M.log(x, y_rotated)), y) <= tol


def test_grassmann_dist_small_and_right_angles():
    """Stable at both ends: θ = 1e-9 (no cancellation in cos θ) and θ = π/2 exactly."""
    M = Grassmann(4, 1)
    x = np.array([[1.0], [0.0], [0.0], [0.0]])
    for theta in (1e-9, 0.3, math.pi / 2):
        y = np.array([[math.cos(theta)], [math.sin(theta)], [0.0], [0.0]])
        assert abs(float(M.dist(x, y)) - theta) <= 4 * eps_of("float64") * max(theta, 1.0)
        assert abs(float(M.dist(x, -y)) - theta) <= 4 * eps_of("float64") * max(theta, 1.0)


@pytest.mark.parametrize("kind", ["o", "so", "unitary"])
@pytest.mark.parametrize("n", [1, 2, 5])
def test_group_exp_log_inverse(kind, n):
    """O(n) (Stiefel(n, n)), SO(n), U(n): exp_x(log_x(y)) = y and ‖log‖ = dist."""
    M = {"o": Stiefel(n, n), "so": SpecialOrthogonal(n), "unitary": Unitary(n)}[kind]
    rng = np.random.default_rng(n)
    x = M.random_point(rng=rng)
    y = M.exp(x, 2.0 * M.random_tangent_vector(x, rng=rng))
    if kind == "o":  # two points of the same component of O(n)
        y = x @ SpecialOrthogonal(n).random_point(rng=rng)
    v = M.log(x, y)
    tol = 1000 * eps_of("float64") * n
    assert fro(M.exp(x, v) - y) <= tol
    assert abs(float(M.dist(x, y)) - float(M.norm(x, v))) <= tol
    assert abs(float(M.dist(x, y)) - float(M.dist(y, x))) <= tol


# ---------------------------------------------------------------------------
# Riemannian Hessian: second-order Taylor expansion along geodesics
# ---------------------------------------------------------------------------


def _quadratic_cost(M, rng):
    """f, ∇f, ∇²f[v] of a cost invariant under x → xQ (for Grassmann factors),
    with a cross term between two factors for products."""
    def sym(k):
        a = rng.standard_normal((k, k)) + 1j * rng.standard_normal((k, k))
        return (a + a.conj().T) / 2

    if isinstance(M, Product):
        (g, u, e) = M.manifolds
        a, b = sym(g.n), sym(u.n)
        c = rng.standard_normal((g.n, g.n))

        def cost(x):
            x1, x2, x3 = x
            return float(np.real(np.trace(x1.conj().T @ a @ x1) + np.trace(b @ x2)
                                 + np.vdot(x3, x3) + np.vdot(x3, c @ x1)))

        def grad(x):
            x1, x2, x3 = x
            return ProductVector((2 * a @ x1 + c.T @ x3, b, 2 * x3 + c @ x1))

        def hess(x, v):
            v1, v2, v3 = v
            return ProductVector((2 * a @ v1 + c.T @ v3, 0 * v2, 2 * v3 + c @ v1))

        return cost, grad, hess
    a = sym(M.point_shape[0])
    if not M.is_complex:
        a = a.real
    # tr(xᴴAx) alone is constant on U(n) and O(n); N = diag(1, …, p) breaks the symmetry
    # (the Grassmann cost must keep it: f(xQ) = f(x))
    p = M.point_shape[-1]
    weights = np.eye(p) if isinstance(M, (Grassmann, Euclidean)) else np.diag(np.arange(1.0, p + 1))

    def cost(x):
        return float(np.real(np.trace(x.conj().T @ a @ x @ weights)))

    return cost, (lambda x: 2 * a @ x @ weights), (lambda x, v: 2 * a @ v @ weights)


@pytest.mark.parametrize("M", [Grassmann(6, 2), Grassmann(5, 3, field="complex"),
                               Stiefel(6, 2), Unitary(3), Euclidean(4, 2),
                               Product([Grassmann(5, 2), Unitary(2),
                                        Euclidean(5, 2, field="complex")])],
                         ids=repr)
def test_riemannian_hessian_second_order_taylor(M):
    """f(exp_x(tv)) − f(x) − t⟨grad, v⟩ − t²/2 ⟨Hess[v], v⟩ = O(t³): slope 3."""
    rng = np.random.default_rng(3)
    cost, egrad, ehess = _quadratic_cost(M, rng)
    x = M.random_point(rng=rng)
    v = M.random_tangent_vector(x, rng=rng)
    grad = M.euclidean_to_riemannian_gradient(x, egrad(x))
    hess = M.euclidean_to_riemannian_hessian(x, egrad(x), ehess(x, v), v)
    assert tangent_defect(M, x, hess) <= 1e-12
    f0 = cost(x)
    slope, curvature = float(M.inner_product(x, grad, v)), float(M.inner_product(x, hess, v))
    t = np.logspace(-3, -1.5, 7)
    errors = np.array([abs(cost(M.exp(x, ti * v)) - f0 - ti * slope - ti ** 2 / 2 * curvature)
                       for ti in t])
    if isinstance(M, Euclidean):  # a quadratic on a flat space: the model is exact
        assert np.all(errors <= 100 * eps_of("float64") * max(1.0, abs(f0))), errors
        return
    assert _fit_slope(t, errors) >= 2.8, errors


# ---------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------


BATCH_MANIFOLDS = [
    Grassmann(6, 2, retraction="polar"), Grassmann(4, 3, field="complex", retraction="exp"),
    Euclidean(3, 2), Stiefel(5, 2), SpecialOrthogonal(3), Unitary(2),
    Product([Stiefel(5, 2), SpecialOrthogonal(3), Euclidean(3, 2)]),
    Product([Grassmann(5, 2), Unitary(2), Euclidean(3, field="complex")]),
]


def _item(x, k):
    return ProductVector(a[k, ...] for a in x) if isinstance(x, tuple) else x[k, ...]


@pytest.mark.parametrize("M", BATCH_MANIFOLDS, ids=repr)
@pytest.mark.parametrize("backend", ["numpy", "device1"])
def test_batches_act_point_by_point(M, backend):
    """random_point(shape=(k,)) stacks k points; every method equals a loop over them."""
    like = template(backend, "complex128" if M.field == "complex" else "float64")
    k = 3
    x = M.random_point(rng=1, shape=(k,), like=None if backend == "numpy" else like)
    y = M.random_point(rng=2, shape=k, like=None if backend == "numpy" else like)
    for part, shape in zip(x if isinstance(x, tuple) else (x,),
                           M.point_shape if isinstance(M, Product) else (M.point_shape,)):
        assert tuple(part.shape) == (k,) + shape
    assert M.batch_shape(x) == (k,)
    v = M.random_tangent_vector(x, rng=3)
    tol = 100 * eps_of("float64") * math.sqrt(size(M))
    # summed semantics: one unit vector of the power manifold Mᵏ
    assert abs(to_float(M.norm(x, v)) - 1.0) <= tol
    per_point = M.batch_inner_product(x, v, v)
    assert tuple(per_point.shape) == (k,)
    assert abs(float(np.sum(host(per_point))) - 1.0) <= tol
    assert np.allclose(host(M.batch_norm(x, v)) ** 2, host(per_point), atol=tol)
    retracted = M.retraction(x, v)
    projected = M.projection(x, 2 * v + ambient(M, x, np.random.default_rng(0)))
    for i in range(k):
        xi, vi = _item(x, i), _item(v, i)
        assert difference(M, _item(retracted, i), M.retraction(xi, vi)) <= tol
        assert abs(float(host(per_point)[i]) - to_float(M.inner_product(xi, vi, vi))) <= tol
        assert tangent_defect(M, xi, _item(projected, i)) <= 10 * tol
    assert M.check_point(retracted) <= tol
    try:
        d = M.batch_dist(x, y)
    except NotImplementedError:  # Stiefel(n, p < n) has no logarithm
        return
    assert tuple(d.shape) == (k,)
    for i in range(k):
        assert abs(float(host(d)[i]) - to_float(M.dist(_item(x, i), _item(y, i)))) <= 10 * tol
    assert abs(to_float(M.dist(x, y)) - float(np.linalg.norm(host(d)))) <= 10 * tol


def test_random_point_batch_matches_single_draw_distribution():
    """shape=(k,) draws independent points: the first one is not reused."""
    M = Grassmann(5, 2)
    x = M.random_point(rng=0, shape=(2,))
    assert fro(x[0] - x[1]) > 0.1
    assert M.random_point(rng=0).shape == (5, 2)
    with pytest.raises(ValueError, match="shape must be a tuple of non-negative integers"):
        M.random_point(shape=(2.5,))


# ---------------------------------------------------------------------------
# Clear errors
# ---------------------------------------------------------------------------


def test_product_point_with_wrong_number_of_factors():
    M = Product([Stiefel(5, 2), SpecialOrthogonal(3), Euclidean(3, 2)])
    x = M.random_point(rng=0)
    with pytest.raises(ValueError, match=r"x has 2 factors but Product\(.*\) has 3: expected a "
                                         r"tuple of 3 arrays with shapes "
                                         r"\(\(5, 2\), \(3, 3\), \(3, 2\)\), given 2"):
        M.check_point(x[:2])
    with pytest.raises(ValueError, match=r"v has 4 factors but .* has 3"):
        M.retraction(x, tuple(x) + (x[0],))
    with pytest.raises(TypeError,
                       match=r"x must be a tuple of 3 arrays, one per factor.*got ndarray"):
        M.projection(x[0], x)


def test_product_factor_errors_name_the_factor():
    M = Product([Stiefel(5, 2), Euclidean(3, 2)])
    x = M.random_point(rng=0)
    with pytest.raises(ValueError, match=r"factor 0 of the product point \(Stiefel\(5, 2.*"
                                         r"not on Stiefel\(5, 2.*projection_onto_manifold"):
        M.check_point((2 * x[0], x[1]))
    with pytest.raises(ValueError, match=r"factor 1 .*Euclidean\(3, 2\).*shape \(2, 3\)"):
        M.check_point((x[0], x[1].T))


def test_product_mixed_batch_shapes():
    M = Product([Stiefel(5, 2), Euclidean(3, 2)])
    x = M.random_point(rng=0, shape=(4,))
    mixed = (x[0], x[1][:3])
    with pytest.raises(ValueError,
                       match=r"different batch shapes \(factor 0 \(4,\), factor 1 \(3,\)\)"):
        M.check_point(mixed)
    with pytest.raises(ValueError, match="different batch shapes"):
        M.batch_inner_product(mixed, mixed, mixed)


def test_mixed_shapes_point_and_tangent_vector():
    """A (k, n, p) point with a tangent vector of another stack shape: no silent broadcasting."""
    M = Grassmann(5, 2)
    x = M.random_point(rng=0, shape=(3,))
    with pytest.raises(ValueError, match=r"shape \(5, 2\) but the point x has shape \(3, 5, 2\)"):
        M.retraction(x, M.random_tangent_vector(x[0], rng=1))
    with pytest.raises(ValueError,
                       match=r"shape \(2, 5, 2\) but the point x has shape \(3, 5, 2\)"):
        Euclidean(5, 2).retraction(x, x[:2])


def test_grassmann_point_not_orthonormal():
    M = Grassmann(5, 2)
    x = np.random.default_rng(0).standard_normal((5, 2))
    with pytest.raises(ValueError, match=r"x is not on Grassmann\(5, 2.*‖xᴴx − I‖ = .*"
                                         r"projection_onto_manifold"):
        M.check_point(x)
    # the fix keeps the subspace: the polar factor spans the columns of x
    y = M.projection_onto_manifold(x)
    assert M.check_point(y) <= 1e-13
    assert float(M.dist(y, np.linalg.qr(x)[0])) <= 1e-7
    with pytest.raises(ValueError, match=r"shape \(5, 3\).*Grassmann\(5, 2.*shape \(5, 2\)"):
        M.check_point(np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"complex dtype.*real manifold"):
        M.check_point(y.astype(np.complex128))


def test_stiefel_log_not_available_for_p_less_than_n():
    with pytest.raises(NotImplementedError,
                       match=r"no closed form.*Grassmann\(5, 2\).*SpecialOrthogonal"):
        Stiefel(5, 2).log(*[Stiefel(5, 2).random_point(rng=i) for i in range(2)])
    with pytest.raises(NotImplementedError, match="no closed form"):
        Stiefel(5, 2).dist(Stiefel(5, 2).random_point(rng=0), Stiefel(5, 2).random_point(rng=1))


def test_orthogonal_group_log_across_components():
    M = Stiefel(3, 3)
    x = M.random_point(rng=0)
    y = x * np.array([-1.0, 1.0, 1.0])  # det(xᵀy) = −1
    with pytest.raises(ValueError, match=r"different components of O\(3\).*det\(xᵀy\) = -1.000"):
        M.log(x, y)


@pytest.mark.parametrize("M", [SpecialOrthogonal(3), Unitary(2), Stiefel(2, 2)], ids=repr)
def test_group_log_at_cut_locus(M):
    """xᴴy with an eigenvalue −1 (a rotation by π): the log is not unique, say so."""
    x = M.random_point(rng=0)
    turn = -np.eye(M.n)
    if isinstance(M, SpecialOrthogonal):
        turn[2, 2] = 1.0  # rotation by π about the third axis, det = +1
    y = x @ turn.astype(x.dtype)
    with pytest.raises(ValueError, match=r"eigenvalue −1.*cut locus.*not unique"):
        M.log(x, y)
    with pytest.raises(ValueError, match="cut locus"):
        M.dist(x, y)


def test_euclidean_and_product_construction_errors():
    with pytest.raises(ValueError, match="needs the shape of a point"):
        Euclidean()
    with pytest.raises(ValueError, match="positive integers"):
        Euclidean(3, 0)
    with pytest.raises(ValueError, match="at least one factor"):
        Product([])
    with pytest.raises(TypeError, match=r"factor 1 of Product is str"):
        Product([Stiefel(3, 1), "sphere"])
    with pytest.raises(TypeError, match=r"a list of manifolds"):
        Product(Stiefel(3, 1))
    with pytest.raises(ValueError, match="not supported for a product point"):
        Product([Euclidean(2)]).random_point(dtype="float16")


def test_dimensions_and_descriptions():
    assert Grassmann(5, 2).dim == 6
    assert Grassmann(5, 2, field="complex").dim == 12
    assert Grassmann(3, 3).dim == 0
    assert Euclidean(3, 2).dim == 6
    assert Euclidean(4, field="complex").dim == 8
    M = Product([Stiefel(5, 2), SpecialOrthogonal(3), Euclidean(3, 2)])
    assert M.dim == 7 + 3 + 6
    assert M.point_shape == ((5, 2), (3, 3), (3, 2))
    assert M.retraction_name == ("qr", "exp", "exp")
    # √Σ dᵢ²: Stiefel √p, SO(n) π√n (Manopt's rotationsfactory), Euclidean √(dim)
    assert M.typical_dist == pytest.approx(math.sqrt(2 + math.pi ** 2 * 3 + 6))
    assert Unitary(4).typical_dist == pytest.approx(2 * math.pi)
    assert M.feasibility(M.random_point(rng=0)) <= 1e-13
    assert Euclidean(3, 2).feasibility(np.ones((3, 2))) == 0.0
    assert Grassmann(6, 2).typical_dist == pytest.approx(math.pi / 2 * math.sqrt(2))
    expected = "Grassmann(4, 2, retraction='qr', field='complex')"
    assert repr(Grassmann(4, 2, field="complex")) == expected


def test_product_vector_arithmetic():
    a = ProductVector((np.ones(2), np.full((2, 2), 2.0)))
    b = (np.ones(2), np.ones((2, 2)))
    for got, expected in [(a + b, (2, 3)), (b + a, (2, 3)), (a - b, (0, 1)), (b - a, (0, -1)),
                          (2 * a, (2, 4)), (a * 2, (2, 4)), (np.float64(2) * a, (2, 4)),
                          (a / 2, (0.5, 1)), (-a, (-1, -2))]:
        assert isinstance(got, ProductVector)
        assert [float(np.max(g)) for g in got] == [float(e) for e in expected]
    with pytest.raises(ValueError, match="2 factors with one of 3 factors"):
        a + (1, 2, 3)


@pytest.mark.parametrize("field", ["real", "complex"])
def test_grassmann_agrees_with_pymanopt(field):
    """pymanopt's Grassmann (the 'bench' extra) gives the same Hessian, exp, log and dist."""
    pymanopt_manifolds = pytest.importorskip("pymanopt.manifolds")
    n, p = 7, 3
    reference = (pymanopt_manifolds.Grassmann(n, p) if field == "real"
                 else pymanopt_manifolds.ComplexGrassmann(n, p))
    M = Grassmann(n, p, field=field)
    rng = np.random.default_rng(0)
    x, y = M.random_point(rng=rng), M.random_point(rng=rng)
    v = M.random_tangent_vector(x, rng=rng)
    g = ambient(M, x, rng)
    h = ambient(M, x, rng)
    tol = 1000 * eps_of("float64") * math.sqrt(n * p)
    assert fro(M.euclidean_to_riemannian_hessian(x, g, h, v)
               - reference.euclidean_to_riemannian_hessian(x, g, h, v)) <= tol
    assert fro(M.projection(x, g) - reference.projection(x, g)) <= tol
    # exp and log return representatives: compare the subspaces
    assert subspace_gap(M, M.exp(x, v), reference.exp(x, v)) <= tol
    assert float(M.dist(x, y)) == pytest.approx(float(reference.dist(x, y)), abs=tol)
    assert fro(M.log(x, y) - reference.log(x, y)) <= tol


def test_manifold_interface_is_abstract():
    """A new manifold writes exactly these methods; the rest has embedded-metric defaults."""
    from orthopt.manifolds import Manifold

    assert Manifold.__abstractmethods__ == {
        "dim", "point_shape", "projection", "euclidean_to_riemannian_hessian", "retraction",
        "random_point", "feasibility", "projection_onto_manifold"}
    with pytest.raises(TypeError, match="abstract"):
        Manifold()

    class Sphere(Manifold):
        """The unit sphere in ℝ³, written against the interface only."""

        dim = 2
        point_shape = (3,)

        def projection(self, x, u):
            return u - x * np.sum(x * u, axis=-1, keepdims=True)

        def euclidean_to_riemannian_hessian(self, x, g, h, v):
            return self.projection(x, h) - v * np.sum(x * g, axis=-1, keepdims=True)

        def retraction(self, x, v):
            return self.projection_onto_manifold(x + v)

        def random_point(self, rng=None, dtype=None, like=None, shape=()):
            gaussian = np.random.default_rng(rng).standard_normal(tuple(shape) + (3,))
            return self.projection_onto_manifold(gaussian)

        def feasibility(self, x):
            return float(np.max(np.abs(np.linalg.norm(x, axis=-1) - 1)))

        def projection_onto_manifold(self, x):
            return x / np.linalg.norm(x, axis=-1, keepdims=True)

    S = Sphere()
    x = S.random_point(rng=0)
    v = S.random_tangent_vector(x, rng=1)
    assert abs(float(x @ v)) <= 1e-15 and abs(float(S.norm(x, v)) - 1) <= 1e-15
    y = S.retraction(x, v)
    assert S.check_point(y) <= 1e-15
    assert abs(float(y @ S.transport(x, y, v))) <= 1e-15
    with pytest.raises(NotImplementedError, match="no exponential map"):
        S.exp(x, v)
    with pytest.raises(ValueError, match=r"shape \(2,\), but points of .* shape \(3,\)"):
        S.check_point(np.ones(2))
