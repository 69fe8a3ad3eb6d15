"""The scikit-learn style SparsePCA estimator: API, data types, errors, statistics."""

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from orthopt.decomposition import (
    SparsePCA,
    adjusted_variance,
    load_pitprops,
    manpg,
    orthogonality_error,
    subspace_distance,
)
from orthopt.decomposition._estimator_base import NotFittedError

EPS = np.finfo(np.float64).eps


@pytest.fixture(scope="module")
def pitprops():
    return load_pitprops()[0]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    mixing = rng.standard_normal((8, 8))
    return rng.standard_normal((60, 8)) @ mixing + 3.0


@pytest.fixture(scope="module")
def fitted(data):
    return SparsePCA(3, alpha=5.0, random_state=0).fit(data)


# ------------------------------------------------------------------ pitprops


def test_pitprops_six_components(pitprops):
    spca = SparsePCA(6, alpha=0.5).fit(pitprops, covariance=True)
    v = spca.components_.T
    assert spca.components_.shape == (6, 13)
    assert orthogonality_error(v) <= 1e-10
    assert spca.converged_
    assert spca.variance_ == "adjusted" and spca.n_refit_iter_ >= 1
    assert spca.n_features_in_ == 13 and spca.n_components_ == 6 and spca.n_iter_ >= 1
    np.testing.assert_array_equal(spca.mean_, np.zeros(13))
    # adjusted variance below the plain variances, ratio = / tr = 13
    variances = np.sum(v * (pitprops @ v), axis=0)
    assert np.all(spca.explained_variance_ <= variances * (1 + 1e-12))
    np.testing.assert_allclose(spca.explained_variance_ratio_, spca.explained_variance_ / 13,
                               rtol=1e-14)
    assert 0.5 < spca.sparsity_ < 1.0
    assert spca.sparsity_ == pytest.approx(np.mean(np.abs(v) <= 1e-5))
    # the refit leaves exact zeros: every entry is 0.0 or above the threshold
    assert np.all((v == 0.0) | (np.abs(v) > 1e-5))
    # the stored objective is the one of the returned loadings, with the adjusted variance
    obj = -np.sum(adjusted_variance(pitprops, v)) + 0.5 * np.abs(v).sum()
    assert spca.objective_ == pytest.approx(obj, rel=1e-12)


def test_pitprops_total_variance_without_refit(pitprops):
    """variance="total", refit=False is ManPG's problem alone, components ordered by variance."""
    spca = SparsePCA(6, alpha=0.5, variance="total", refit=False).fit(pitprops, covariance=True)
    v = spca.components_.T
    assert spca.variance_ == "total" and spca.n_refit_iter_ == 0 and spca.converged_
    assert orthogonality_error(v) <= 1e-10
    variances = np.sum(v * (pitprops @ v), axis=0)
    assert np.all(np.diff(variances) <= 0)
    obj = -np.trace(v.T @ pitprops @ v) + 0.5 * np.abs(v).sum()
    assert spca.objective_ == pytest.approx(obj, rel=1e-12)
    solver = manpg(pitprops, 6, 0.5, tol=1e-8 * 2 * np.linalg.eigvalsh(pitprops)[-1])
    assert spca.objective_ == pytest.approx(solver.fun, rel=1e-12)


def test_pitprops_alpha_zero_is_pca(pitprops):
    spca = SparsePCA(6, alpha=0.0).fit(pitprops, covariance=True)
    w, u = np.linalg.eigh(pitprops)
    w, u = w[::-1], u[:, ::-1]
    assert subspace_distance(u[:, :6], spca.components_.T) <= 1e-10
    # PCA's scores are uncorrelated: adjusted variance = eigenvalues
    np.testing.assert_allclose(spca.explained_variance_, w[:6], rtol=1e-10)
    total = spca.explained_variance_ratio_.sum()
    assert round(100 * total, 1) == 87.0
    assert spca.sparsity_ == 0.0


def test_pitprops_sparse_loadings_keep_much_variance(pitprops):
    # with 61 of 78 loadings zero (α = 0.5), still ≥ 75 % of the variance
    spca = SparsePCA(6, alpha=0.5).fit(pitprops, covariance=True)
    assert spca.sparsity_ * 78 >= 55
    assert spca.explained_variance_ratio_.sum() >= 0.75


# ------------------------------------------------------------------ data paths


def test_fit_on_data_equals_fit_on_covariance(data, fitted):
    a = fitted
    cov = np.cov(data, rowvar=False)
    b = SparsePCA(3, alpha=5.0).fit(cov, covariance=True)
    np.testing.assert_allclose(a.mean_, data.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(a.components_, b.components_, atol=1e-10)
    np.testing.assert_allclose(a.explained_variance_, b.explained_variance_, rtol=1e-10)


def test_sparse_input_matches_dense():
    rng = np.random.default_rng(1)
    dense = sp.random(80, 12, density=0.3, random_state=rng, format="csr").toarray()
    dense[:, 0] += 2.0  # a nonzero mean: the centring must be implicit
    a = SparsePCA(3, alpha=0.05).fit(dense)
    b = SparsePCA(3, alpha=0.05).fit(sp.csr_matrix(dense))
    np.testing.assert_allclose(a.mean_, b.mean_, atol=1e-14)
    np.testing.assert_allclose(a.components_, b.components_, atol=1e-10)
    np.testing.assert_allclose(a.transform(dense), b.transform(sp.csr_matrix(dense)), atol=1e-10)


def test_sparse_matrix_free_route(monkeypatch):
    """Sparse data above MAX_DENSE_FEATURES: A·V = (Xᵀ(XV) − mμμᵀV)/(m−1), X never densified."""
    import orthopt.decomposition.sparse_pca as module

    rng = np.random.default_rng(4)
    x = sp.random(120, 15, density=0.4, random_state=rng, format="csr")
    reference = SparsePCA(2, alpha=0.02).fit(x.toarray())
    monkeypatch.setattr(module, "MAX_DENSE_FEATURES", 4)
    matfree = SparsePCA(2, alpha=0.02).fit(x)
    assert subspace_distance(reference.components_.T, matfree.components_.T) <= 1e-6
    np.testing.assert_allclose(matfree.explained_variance_ratio_,
                               reference.explained_variance_ratio_, rtol=1e-6)


def test_operator_route_for_many_features(monkeypatch, data, fitted):
    """Above MAX_DENSE_FEATURES only products A·V are used; the answer is the same."""
    import orthopt.decomposition.sparse_pca as module

    dense = fitted
    monkeypatch.setattr(module, "MAX_DENSE_FEATURES", 4)
    matfree = SparsePCA(3, alpha=5.0).fit(data)
    assert subspace_distance(dense.components_.T, matfree.components_.T) <= 1e-6
    assert matfree.objective_ == pytest.approx(dense.objective_, rel=1e-9)
    np.testing.assert_allclose(matfree.explained_variance_ratio_, dense.explained_variance_ratio_,
                               rtol=1e-6)


def test_transform_is_a_projection(data, fitted):
    spca = fitted
    scores = spca.transform(data)
    np.testing.assert_allclose(scores, (data - spca.mean_) @ spca.components_.T, atol=1e-12)
    np.testing.assert_allclose(SparsePCA(3, alpha=5.0).fit_transform(data), scores, atol=1e-10)
    # inverse_transform ∘ transform projects onto the span (+ mean); on the span it is exact
    back = spca.inverse_transform(scores)
    inside = scores @ spca.components_ + spca.mean_
    np.testing.assert_allclose(back, inside, atol=1e-12)
    np.testing.assert_allclose(spca.transform(back), scores, atol=1e-10)


@pytest.mark.parametrize("method", ["givens", "smoothed"])
def test_other_methods_give_orthonormal_sparse_loadings(method, pitprops):
    spca = SparsePCA(6, alpha=1.0, method=method, tol=1e-6, max_iter=2000)
    spca.fit(pitprops, covariance=True)
    assert orthogonality_error(spca.components_.T) <= 1e-10
    assert spca.sparsity_ >= 0.5


# ------------------------------------------------------------------ statistics


def _spiked(seed, m=200, n=40):
    """Two sparse orthonormal spikes (supports 0–4 and 5–9), strengths 20 and 10, unit noise."""
    rng = np.random.default_rng(seed)
    v = np.zeros((n, 2))
    v[0:5, 0] = rng.choice([-1, 1], 5) * (1 + rng.random(5))
    v[5:10, 1] = rng.choice([-1, 1], 5) * (1 + rng.random(5))
    v /= np.linalg.norm(v, axis=0)
    x = rng.standard_normal((m, 2)) * np.sqrt([20.0, 10.0]) @ v.T + rng.standard_normal((m, n))
    return x, v


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spiked_covariance_support_recovery(seed):
    x, v = _spiked(seed)
    pca = SparsePCA(2, alpha=0.0).fit(x)
    spca = SparsePCA(2, alpha=2.0).fit(x)
    w = spca.components_.T
    # exactly the true support, component by component (ordered by variance)
    np.testing.assert_array_equal(np.abs(w) > 1e-5, np.abs(v) > 0)
    # plain PCA uses (nearly) every feature and is further from the true subspace
    assert np.sum(np.abs(pca.components_) > 1e-5) >= 70
    d_pca = subspace_distance(v, pca.components_.T)
    d_spca = subspace_distance(v, w)
    assert d_spca < 0.7 * d_pca


# ------------------------------------------------------------------ errors


def test_bad_inputs(data, pitprops, fitted):
    with pytest.raises(ValueError, match="n_components=9 must be between 1 and n_features=8"):
        SparsePCA(9).fit(data)
    with pytest.raises(ValueError, match="alpha"):
        SparsePCA(2, alpha=-0.1).fit(data)
    bad = data.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SparsePCA(2).fit(bad)
    with pytest.raises(ValueError, match="Expected 2D array"):
        SparsePCA(1).fit(data[:, 0])
    with pytest.raises(ValueError, match="n_samples=1"):
        SparsePCA(1).fit(data[:1])
    with pytest.raises(ValueError, match="method"):
        SparsePCA(2, method="lars").fit(data)
    with pytest.raises(ValueError, match="square"):
        SparsePCA(2).fit(data, covariance=True)
    asym = pitprops.copy()
    asym[0, 1] += 0.1
    with pytest.raises(ValueError, match="not symmetric"):
        SparsePCA(2).fit(asym, covariance=True)
    with pytest.raises(ValueError, match="Complex"):
        SparsePCA(2).fit(data + 1j)
    spca = fitted
    with pytest.raises(ValueError, match="X has 7 features, but SparsePCA is expecting 8"):
        spca.transform(data[:, :7])
    with pytest.raises(ValueError, match="NaN"):
        spca.transform(bad)


def test_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted"):
        SparsePCA(2).transform(np.ones((3, 4)))
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)


def test_params_and_repr():
    spca = SparsePCA(3, alpha=0.5)
    params = spca.get_params()
    assert params["n_components"] == 3 and params["alpha"] == 0.5 and params["method"] == "manpg"
    assert repr(spca) == "SparsePCA(alpha=0.5, n_components=3)"
    spca.set_params(alpha=2.0, method="givens")
    assert spca.alpha == 2.0 and spca.method == "givens"
    with pytest.raises(ValueError, match="Invalid parameter"):
        spca.set_params(ridge_alpha=1.0)


def test_clone_and_pickle(data, fitted):
    import pickle

    from sklearn.base import clone

    twin = clone(fitted)
    assert twin.get_params() == fitted.get_params() and twin is not fitted
    assert not hasattr(twin, "components_")
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(data), fitted.transform(data))


def test_pipeline(data):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), SparsePCA(3, alpha=1.0)).fit(data)
    assert pipe.transform(data).shape == (60, 3)


def test_sklearn_check_estimator():
    """scikit-learn's full estimator check suite (47 checks, one skipped by sklearn itself)."""
    from sklearn.utils.estimator_checks import check_estimator

    with pytest.warns(UserWarning, match="does not inherit"):
        # tol=1e-5 keeps the ~100 fits of the suite fast; the checks are about the API
        results = check_estimator(SparsePCA(n_components=2, alpha=0.1, tol=1e-5), on_fail=None)
    failed = [(r["check_name"], r["exception"]) for r in results if r["status"] == "failed"]
    assert not failed
    assert sum(r["status"] == "passed" for r in results) >= 45


@pytest.mark.slow
@pytest.mark.parametrize("method", ["givens", "smoothed"])
def test_sklearn_check_estimator_other_methods(method):
    from sklearn.utils.estimator_checks import check_estimator

    with pytest.warns(UserWarning, match="does not inherit"):
        results = check_estimator(
            SparsePCA(n_components=2, alpha=0.1, method=method, tol=1e-5), on_fail=None
        )
    assert not [r for r in results if r["status"] == "failed"]


def test_scale_of_alpha(data, fitted):
    """Scaling the data by s scales A by s²: α·s² gives the same loadings."""
    s = 3.0
    a = fitted
    b = SparsePCA(3, alpha=5.0 * s**2).fit(s * data)
    np.testing.assert_allclose(a.components_, b.components_, atol=1e-8)
    assert math.isclose(a.sparsity_, b.sparsity_)


@pytest.mark.parametrize("method", ["manpg", "givens"])
def test_array_api_strict_stays_on_its_device(method, data, fitted):
    """A non-NumPy array library (array-api-strict's second device) works end to end."""
    xps = pytest.importorskip("array_api_strict")
    device = xps.Device("device1")
    x = xps.asarray(data, device=device)
    spca = SparsePCA(3, alpha=5.0, method=method).fit(x)
    assert spca.components_.device == device and spca.mean_.device == device
    scores = spca.transform(x)
    assert scores.device == device
    if method == "manpg":
        from orthopt.backend import to_numpy

        np.testing.assert_allclose(to_numpy(spca.components_), fitted.components_, atol=1e-10)
    assert orthogonality_error(spca.components_.T) <= 1e-10


@pytest.mark.parametrize("method", ["manpg", "smoothed", "givens"])
def test_huge_alpha_gives_the_sparsest_orthonormal_loadings(method):
    """As α → ∞ the ℓ1 term wins: the loadings become signed coordinate vectors (one
    nonzero per component, the fewest an orthonormal set can have), and sparsity never
    decreases along the way. Once a crash (polar of a rank-deficient step at α = 1e6)
    and, for ManPG at α ≥ 300, a dense result from a subproblem that did not converge."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 6))
    counts = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for alpha in (1.0, 10.0, 100.0, 1e3, 1e6, 1e12):
            if alpha == 1e12 and method == "manpg" or method == "smoothed":
                # ManPG's measure ‖V‖/t has a rounding floor of about eps·α = 2e-4 at α = 1e12,
                # above tol·2‖A‖₂; the smoothed solver's last stage ends on "no decrease" at
                # α = 10, 1e6, 1e12. Both say so with a ConvergenceWarning (the loadings are right)
                warnings.simplefilter("ignore", ConvergenceWarning)
            components = SparsePCA(2, alpha=alpha, method=method, random_state=0,
                                   max_iter=500).fit(x).components_
            np.testing.assert_allclose(components @ components.T, np.eye(2), atol=1e-12)
            counts.append(int(np.count_nonzero(components)))
    assert counts[-3:] == [2, 2, 2], counts
    assert all(later <= earlier for earlier, later in zip(counts, counts[1:])), counts
