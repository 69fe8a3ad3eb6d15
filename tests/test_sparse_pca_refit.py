"""Adjusted-variance criterion, refit on a fixed support, and pruning to a budget."""

import numpy as np
import pytest

from orthopt.decomposition import (
    SparsePCA,
    adjusted_variance,
    load_pitprops,
    manpg,
    orthogonality_error,
)
from orthopt.decomposition.problem import captured_variance
from orthopt.decomposition.refit import (
    FEASIBILITY_TOL,
    project_to_support_manifold,
    project_to_tangent,
    prune_to_budget,
    refit_on_support,
)
from orthopt.decomposition.sparse_pca import solve_sparse_pca

EPS = np.finfo(np.float64).eps
R = 6


@pytest.fixture(scope="module")
def pitprops():
    return load_pitprops()[0]


@pytest.fixture(scope="module")
def l1_total(pitprops):
    """ManPG's problem (total variance) at α = 0.5: 17 nonzeros, shrunk loadings."""
    return manpg(pitprops, R, 0.5, tol=1e-9)


def _pct(corr, v):
    return 100 * float(np.sum(adjusted_variance(corr, v))) / np.trace(corr)


# ------------------------------------------------------- adjusted variance


def test_adjusted_variance_value_and_gradient(pitprops):
    rng = np.random.default_rng(0)
    x, _ = np.linalg.qr(rng.standard_normal((13, R)))
    value, grad = captured_variance(x, pitprops @ x, "adjusted")
    # the value is ZHT's adjusted variance (QR of the scores), up to the 10·eps ridge
    assert value == pytest.approx(np.sum(adjusted_variance(pitprops, x)), rel=100 * EPS)
    # central differences in a random direction: error O(h²) + O(eps/h)
    d = rng.standard_normal(x.shape)
    h = 1e-5
    plus = captured_variance(x + h * d, pitprops @ (x + h * d), "adjusted")[0]
    minus = captured_variance(x - h * d, pitprops @ (x - h * d), "adjusted")[0]
    assert (plus - minus) / (2 * h) == pytest.approx(np.sum(grad * d), rel=1e-7)


def test_adjusted_equals_total_at_eigenvectors(pitprops):
    w, u = np.linalg.eigh(pitprops)
    u = u[:, ::-1][:, :R]
    total = captured_variance(u, pitprops @ u, "total")
    adjusted = captured_variance(u, pitprops @ u, "adjusted")
    assert adjusted[0] == pytest.approx(total[0], rel=100 * EPS)
    assert adjusted[0] == pytest.approx(np.sum(w[::-1][:R]), rel=100 * EPS)
    np.testing.assert_allclose(adjusted[1], total[1], atol=1e3 * EPS)


def test_manpg_adjusted_is_stationary_and_beats_total(pitprops, l1_total):
    res = manpg(pitprops, R, 0.5, tol=1e-8, variance="adjusted")
    assert res.success, res.message
    assert orthogonality_error(res.x) <= 100 * EPS * R
    assert res.extra["variance"] == "adjusted"
    value = captured_variance(res.x, pitprops @ res.x, "adjusted")[0]
    assert res.fun == pytest.approx(-value + 0.5 * np.abs(res.x).sum(), rel=100 * EPS)
    # same α, no more nonzeros, more adjusted variance than ManPG's total-variance solution
    assert np.sum(np.abs(res.x) > 1e-5) <= np.sum(np.abs(l1_total.x) > 1e-5)
    assert _pct(pitprops, res.x) >= _pct(pitprops, l1_total.x) + 0.9


def test_givens_refuses_the_adjusted_criterion(pitprops):
    with pytest.raises(ValueError, match="variance='total'"):
        solve_sparse_pca(pitprops, R, 0.5, method="givens", variance="adjusted")
    with pytest.raises(ValueError, match="variance must be one of"):
        manpg(pitprops, R, 0.5, variance="explained")


# ------------------------------------------------------- refit geometry


@pytest.fixture(scope="module")
def overlapping_point(pitprops):
    """A point of 𝓜_S whose columns overlap (S: |x| > 1e-5 of a ManPG solution at α = 0.2)."""
    x = manpg(pitprops, R, 0.2, tol=1e-7).x
    mask = (np.abs(x) > 1e-5).astype(float)
    z, error = project_to_support_manifold(x, mask)
    assert error <= 10 * EPS * R
    return z, mask


def test_tangent_projection(overlapping_point):
    x, mask = overlapping_point
    rng = np.random.default_rng(2)
    d = rng.standard_normal(x.shape)
    xi = project_to_tangent(x, mask, d)
    assert np.all(xi[mask == 0] == 0.0)
    sym = x.T @ xi + xi.T @ x
    assert np.linalg.norm(sym) <= 1e3 * EPS * np.linalg.norm(d)
    np.testing.assert_allclose(project_to_tangent(x, mask, xi), xi, atol=1e3 * EPS)
    # the removed part is normal: orthogonal to every tangent vector
    other = project_to_tangent(x, mask, rng.standard_normal(x.shape))
    assert abs(np.sum((mask * d - xi) * other)) <= 1e3 * EPS * np.linalg.norm(d)


def test_support_projection_is_exact_and_keeps_zeros(overlapping_point):
    x, mask = overlapping_point
    rng = np.random.default_rng(3)
    y = x + 1e-3 * mask * rng.standard_normal(x.shape)
    z, error = project_to_support_manifold(y, mask)
    assert error <= 10 * EPS * R
    assert orthogonality_error(z) == pytest.approx(error, abs=EPS)
    assert np.all(z[mask == 0] == 0.0)
    assert np.linalg.norm(z - y) <= 1e-2


def test_infeasible_support_returns_input():
    # two unit columns living on the same single row cannot be orthogonal
    a = np.array([[2.0, 0.5], [0.5, 1.0]])
    x = np.eye(2)
    support = np.array([[True, True], [False, False]])
    res = refit_on_support(a, x, support=support)
    assert not res.success and not res.extra["feasible"]
    assert res.extra["feasibility"] > FEASIBILITY_TOL
    np.testing.assert_array_equal(res.x, x)


# ------------------------------------------------------- refit optimality


def test_refit_disjoint_supports_gives_restricted_eigenvectors(pitprops):
    """With disjoint column supports the optimum is known: top eigenvector per block."""
    blocks = [[0, 1, 6, 7, 8], [2, 3], [4, 5], [9], [10, 12], [11]]
    support = np.zeros((13, R), dtype=bool)
    x = np.zeros((13, R))
    for j, rows in enumerate(blocks):
        support[rows, j] = True
        x[rows, j] = 1 / np.sqrt(len(rows))
    res = refit_on_support(pitprops, x, support=support, variance="total", tol=1e-12)
    assert res.success, res.message
    best = sum(np.linalg.eigvalsh(pitprops[np.ix_(b, b)])[-1] for b in blocks)
    assert -res.fun == pytest.approx(best, rel=1e3 * EPS)
    assert np.all(res.x[~support] == 0.0)
    assert orthogonality_error(res.x) <= 10 * EPS * R


@pytest.mark.parametrize("variance", ["total", "adjusted"])
def test_refit_undoes_shrinkage(pitprops, l1_total, variance):
    x = l1_total.x
    support = np.abs(x) > 1e-5
    res = refit_on_support(pitprops, x, variance=variance, tol=1e-10)
    assert res.success, res.message
    assert res.stationarity <= 1e-10
    assert orthogonality_error(res.x) <= 10 * EPS * R
    # the zeros are exact, no new nonzero, variance up
    assert np.all(res.x[~support] == 0.0)
    assert np.sum(np.abs(res.x) > 1e-5) <= np.sum(support)
    start = captured_variance(x, pitprops @ x, variance)[0]
    assert -res.fun > start + 0.05
    assert np.all(np.diff(res.history["variance"]) >= -10 * EPS * abs(start))
    # a local maximum on the support: retracted steps along tangent directions do not help
    rng = np.random.default_rng(4)
    mask = support.astype(float)
    for _ in range(3):
        xi = project_to_tangent(res.x, mask, rng.standard_normal(x.shape))
        xi /= np.linalg.norm(xi)
        for step in (1e-2, 1e-3):
            y, error = project_to_support_manifold(res.x + step * xi, mask)
            assert error <= FEASIBILITY_TOL
            assert captured_variance(y, pitprops @ y, variance)[0] <= -res.fun + 1e-12


def test_pruning_reaches_the_budget(pitprops):
    x = SparsePCA(R, alpha=2.0).fit(pitprops, covariance=True).components_.T  # 11 nonzeros
    start = _pct(pitprops, x)
    res = prune_to_budget(pitprops, x, 9, variance="adjusted")
    assert res.success and res.extra["nonzeros"] <= 9 and res.extra["removed"] >= 1
    assert orthogonality_error(res.x) <= 10 * EPS * R
    assert np.all(res.x[np.abs(x) <= 1e-5] == 0.0)  # only removes
    assert 55.0 < _pct(pitprops, res.x) < start
    with pytest.raises(ValueError, match="max_nonzero must be an integer >= n_components"):
        prune_to_budget(pitprops, x, 5)


# ------------------------------------------------------- the estimator


def test_estimator_defaults_keep_more_variance_at_equal_sparsity(pitprops):
    """α = 0.5: ManPG's problem alone gives 17 nonzeros and 75.4 % (adjusted);
    the defaults (adjusted criterion + refit) give no more nonzeros and ≥ 77 %."""
    before = SparsePCA(R, alpha=0.5, variance="total", refit=False, tol=1e-6)
    before.fit(pitprops, covariance=True)
    after = SparsePCA(R, alpha=0.5, tol=1e-6).fit(pitprops, covariance=True)
    nnz_before = np.sum(np.abs(before.components_) > 1e-5)
    nnz_after = np.sum(np.abs(after.components_) > 1e-5)
    assert nnz_after <= nnz_before == 17
    assert 100 * before.explained_variance_ratio_.sum() < 75.5
    assert 100 * after.explained_variance_ratio_.sum() >= 77.0
    assert orthogonality_error(after.components_.T) <= 10 * EPS * R
    # refit alone never loses variance
    no_refit = SparsePCA(R, alpha=0.5, refit=False, tol=1e-6).fit(pitprops, covariance=True)
    assert after.explained_variance_ratio_.sum() >= no_refit.explained_variance_ratio_.sum()


def test_estimator_max_nonzero(pitprops):
    spca = SparsePCA(R, alpha=2.0, max_nonzero=10).fit(pitprops, covariance=True)
    v = spca.components_.T
    assert np.sum(np.abs(v) > 1e-5) <= 10
    assert spca.converged_ and spca.n_refit_iter_ >= 1
    assert orthogonality_error(v) <= 10 * EPS * R
    assert 100 * spca.explained_variance_ratio_.sum() > 62.0


def test_estimator_option_errors(pitprops):
    with pytest.raises(ValueError, match="max_nonzero must be None or an integer >= n_comp"):
        SparsePCA(R, max_nonzero=3).fit(pitprops, covariance=True)
    with pytest.raises(ValueError, match="needs refit=True"):
        SparsePCA(R, max_nonzero=20, refit=False).fit(pitprops, covariance=True)
    with pytest.raises(ValueError, match="only solves the total-variance problem"):
        SparsePCA(R, method="givens", variance="adjusted").fit(pitprops, covariance=True)
    with pytest.raises(ValueError, match="'variance' parameter of SparsePCA must be a str among"):
        SparsePCA(R, variance="explained").fit(pitprops, covariance=True)


def test_estimator_variance_resolution(pitprops):
    spca = SparsePCA(R, alpha=1.0, method="givens", tol=1e-6, max_iter=2000)
    spca.fit(pitprops, covariance=True)
    assert spca.variance_ == "total"
    assert orthogonality_error(spca.components_.T) <= 1e-10
    assert SparsePCA(R, alpha=1.0).fit(pitprops, covariance=True).variance_ == "adjusted"


def test_estimator_sparsity_monotone_on_a_grid(pitprops):
    zeros = []
    for alpha in [0.0, 0.1, 0.3, 0.6, 1.2, 2.5]:
        spca = SparsePCA(R, alpha=alpha, tol=1e-5).fit(pitprops, covariance=True)
        zeros.append(int(np.sum(np.abs(spca.components_) <= 1e-5)))
    assert zeros[0] == 0
    assert all(b >= a for a, b in zip(zeros, zeros[1:])), zeros
    assert zeros[-1] > zeros[1] > 0
