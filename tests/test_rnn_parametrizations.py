"""Gradients of the orthogonal parametrizations against finite differences; initializations."""

import numpy as np
import pytest

from orthopt.rnn import parametrizations as P

EPS = np.finfo(np.float64).eps
N = 6


def _random(rng, shape, field):
    a = rng.standard_normal(shape)
    if field == "complex":
        a = a + 1j * rng.standard_normal(shape)
    return a


def _skew(rng, field, scale=0.5):
    a = _random(rng, (N, N), field) * scale
    return (a - a.conj().T) / 2


def _loss(w, r):
    # smooth test loss with Euclidean gradient G = r + W (real inner product Re tr(rᴴW))
    return float(np.real(np.sum(np.conj(r) * w)) + 0.5 * np.sum(np.abs(w) ** 2))


def _check_directional(f, grad, x, direction, h=1e-6, tol=1e-7):
    fd = (f(x + h * direction) - f(x - h * direction)) / (2 * h)
    analytic = float(np.real(np.sum(np.conj(grad) * direction)))
    assert abs(fd - analytic) <= tol * max(1.0, abs(analytic)), (fd, analytic)


@pytest.mark.parametrize("field", ["real", "complex"])
def test_exprnn_gradient(field):
    rng = np.random.default_rng(0)
    a, r = _skew(rng, field), _random(rng, (N, N), field)
    grad = P.exprnn_gradient(a, r + P.exprnn_weight(a))
    np.testing.assert_allclose(grad, -grad.conj().T, atol=10 * EPS)  # skew
    for _ in range(3):
        _check_directional(lambda x: _loss(P.exprnn_weight(x), r), grad, a, _skew(rng, field))


@pytest.mark.parametrize("field", ["real", "complex"])
def test_dtriv_gradient_and_rebase(field):
    rng = np.random.default_rng(1)
    base = P.exprnn_weight(_skew(rng, field, 2.0))
    a, r = _skew(rng, field), _random(rng, (N, N), field)
    grad = P.dtriv_gradient(base, a, r + P.dtriv_weight(base, a))
    for _ in range(3):
        _check_directional(lambda x: _loss(P.dtriv_weight(base, x), r), grad, a,
                           _skew(rng, field))
    new_base, zero = P.dtriv_rebase(base, a)
    assert np.all(zero == 0)
    np.testing.assert_allclose(new_base, P.dtriv_weight(base, a), atol=100 * EPS)
    np.testing.assert_allclose(new_base.conj().T @ new_base, np.eye(N), atol=100 * EPS)


@pytest.mark.parametrize("field", ["real", "complex"])
@pytest.mark.parametrize("rho", [0, 2])
def test_scornn_gradient_and_orthogonality(field, rho):
    rng = np.random.default_rng(2)
    d = P.scornn_diagonal(N, rho)
    assert np.sum(d == -1) == rho
    a, r = _skew(rng, field), _random(rng, (N, N), field)
    w = P.scornn_weight(a, d)
    np.testing.assert_allclose(w.conj().T @ w, np.eye(N), atol=100 * EPS)
    grad = P.scornn_gradient(a, d, r + w)
    for _ in range(3):
        _check_directional(lambda x: _loss(P.scornn_weight(x, d), r), grad, a, _skew(rng, field))


def test_scornn_matches_helfrich_formula():
    # Helfrich et al.'s ∂L/∂A = Vᵀ − V, V = (I + A)⁻ᵀ G (D + Wᵀ), is twice ours
    rng = np.random.default_rng(3)
    a, g = _skew(rng, "real"), rng.standard_normal((N, N))
    d = P.scornn_diagonal(N, 3)
    w = P.scornn_weight(a, d)
    v = np.linalg.solve((np.eye(N) + a).T, g @ (np.diag(d) + w.T))
    np.testing.assert_allclose(2 * P.scornn_gradient(a, d, g), v.T - v, atol=100 * EPS)


@pytest.mark.parametrize("field", ["real", "complex"])
def test_vfield_gradient(field):
    rng = np.random.default_rng(4)
    s, r = _skew(rng, field), _random(rng, (N, N), field)
    theta, d_max = rng.standard_normal(N), 0.3
    gs, gt = P.vfield_gradient(s, theta, d_max, r + P.vfield_weight(s, theta, d_max))
    assert gt.dtype == np.float64
    for _ in range(2):
        _check_directional(lambda x: _loss(P.vfield_weight(x, theta, d_max), r), gs, s,
                           _skew(rng, field))
        _check_directional(lambda x: _loss(P.vfield_weight(s, x, d_max), r), gt, theta,
                           rng.standard_normal(N))


def test_vfield_with_zero_diagonal_is_exprnn():
    rng = np.random.default_rng(5)
    s = _skew(rng, "real")
    np.testing.assert_allclose(P.vfield_weight(s, np.zeros(N), 0.5), P.exprnn_weight(s),
                               atol=10 * EPS)
    # nonzero diagonal: singular values within [e^-dmax, e^dmax], not orthogonal
    w = P.vfield_weight(s, 3 * np.ones(N), 0.5)
    sv = np.linalg.svd(w, compute_uv=False)
    assert np.all(sv <= np.exp(0.5) + 1e-12) and np.all(sv >= np.exp(-0.5) - 1e-12)
    assert abs(sv.max() - 1) > 0.1


@pytest.mark.parametrize("init", P.INITIALIZATIONS)
@pytest.mark.parametrize("field", ["real", "complex"])
def test_initializations_are_skew_with_orthogonal_exponential(init, field):
    a = P.initial_skew(N, init, rng=0, field=field)
    np.testing.assert_allclose(a, -a.conj().T, atol=0)
    w = P.exprnn_weight(a)
    np.testing.assert_allclose(w.conj().T @ w, np.eye(N), atol=100 * EPS)
    if init == "identity":
        np.testing.assert_array_equal(w, np.eye(N))


def test_henaff_and_cayley_block_structure():
    a = P.initial_skew(8, "henaff", rng=0)
    angles = a[np.arange(0, 8, 2), np.arange(1, 8, 2)]
    assert np.all(np.abs(angles) <= np.pi)
    off = a.copy()
    off[np.arange(0, 8, 2), np.arange(1, 8, 2)] = 0
    off[np.arange(1, 8, 2), np.arange(0, 8, 2)] = 0
    assert np.all(off == 0)
    c = P.initial_skew(8, "cayley", rng=0)
    s = c[np.arange(0, 8, 2), np.arange(1, 8, 2)]
    assert np.all(s <= 0) and np.all(s >= -1 - 1e-15)  # θ ∈ [0, π/2] gives s ∈ [−1, 0]


def test_bad_initialization():
    with pytest.raises(ValueError, match="unknown initialization"):
        P.initial_skew(4, "glorot")
    with pytest.raises(ValueError, match="positive integer"):
        P.initial_skew(0)
    with pytest.raises(ValueError, match="rho"):
        P.scornn_diagonal(4, 5)
