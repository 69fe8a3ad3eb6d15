"""Metrics for sparse-PCA loadings."""

import numpy as np
import pytest

from orthopt.decomposition import (
    adjusted_variance,
    cumulative_explained_variance,
    load_pitprops,
    orthogonality_error,
    sparsity,
    subspace_distance,
)

EPS = np.finfo(np.float64).eps


def test_adjusted_variance_is_zou_hastie_tibshirani_qr():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((50, 7)) @ rng.standard_normal((7, 7))
    centred = data - data.mean(axis=0)
    cov = centred.T @ centred / 49
    x, _ = np.linalg.qr(rng.standard_normal((7, 3)))
    x[np.abs(x) < 0.2] = 0.0  # sparse, no longer orthonormal: scores correlated
    _, r = np.linalg.qr(centred @ x)
    expected = np.diag(r) ** 2 / 49
    np.testing.assert_allclose(adjusted_variance(cov, x), expected, rtol=1e-12)
    # adjusted ≤ plain variance, with equality for the first component
    plain = np.sum(x * (cov @ x), axis=0)
    assert adjusted_variance(cov, x)[0] == pytest.approx(plain[0], rel=1e-12)
    assert np.all(adjusted_variance(cov, x) <= plain * (1 + 1e-12))


def test_pca_cumulative_variance_pitprops():
    corr, _ = load_pitprops()
    w, v = np.linalg.eigh(corr)
    v = v[:, ::-1][:, :6]
    cumulative = cumulative_explained_variance(corr, v)
    np.testing.assert_allclose(cumulative, 100 * np.cumsum(w[::-1][:6]) / 13, rtol=1e-12)
    assert round(float(cumulative[-1]), 1) == 87.0
    with pytest.raises(ValueError, match="trace"):
        from orthopt.decomposition import CovarianceOperator

        cumulative_explained_variance(CovarianceOperator(lambda z: corr @ z, 13), v)


def test_sparsity_and_orthogonality():
    x = np.array([[1.0, 0.0], [0.0, 1e-6], [0.0, 1.0]])
    assert sparsity(x) == pytest.approx(4 / 6)  # 1e-6 counts as zero at ManPG's 1e-5
    assert sparsity(x, threshold=0.0) == pytest.approx(3 / 6)
    assert orthogonality_error(x) == pytest.approx(np.linalg.norm(x.T @ x - np.eye(2)), rel=1e-12)
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((9, 4)))
    assert orthogonality_error(q) <= 10 * EPS * 4


def test_subspace_distance():
    rng = np.random.default_rng(2)
    x, _ = np.linalg.qr(rng.standard_normal((10, 3)))
    y, _ = np.linalg.qr(rng.standard_normal((10, 3)))
    direct = np.linalg.norm(x @ x.T - y @ y.T)
    assert subspace_distance(x, y) == pytest.approx(direct, rel=1e-12)
    rot, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    # invariant to the basis of the span, and resolves tiny distances
    assert subspace_distance(x, x @ rot) <= 10 * EPS
    small = x + 1e-9 * (np.eye(10) - x @ x.T) @ rng.standard_normal((10, 3))
    small, _ = np.linalg.qr(small)
    assert 1e-10 < subspace_distance(x, small) < 1e-8
    with pytest.raises(ValueError, match="same shape"):
        subspace_distance(x, y[:, :2])
