"""SparsePCA on data that is not unit-scaled, and the scikit-learn conventions of ``fit``:
scale invariance of every method, ConvergenceWarning, parameter validation, init arrays,
the input's float dtype, data too large to square (issue 15, item 1)."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from orthopt.decomposition import SparsePCA
from orthopt.decomposition.sparse_pca import METHODS

EPS = np.finfo(np.float64).eps


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((60, 10)) @ rng.standard_normal((10, 10))


@pytest.mark.parametrize("method", METHODS)
def test_every_method_is_scale_invariant(method):
    """fit(s·X, α·s²) is fit(X, α) (the same problem in other units). Before the fix
    ManPG's line search failed at iteration 0 for s = 10 and returned dense PCA loadings."""
    x = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # smoothed: see its own test
        ref = SparsePCA(3, alpha=0.5, method=method).fit(x)
        assert ref.sparsity_ > 0
        for s in (1e-3, 1e-1, 10.0, 1e3):
            est = SparsePCA(3, alpha=0.5 * s**2, method=method).fit(s * x)
            np.testing.assert_allclose(est.components_, ref.components_, rtol=0, atol=1e-8,
                                       err_msg=f"s = {s}")
            assert est.sparsity_ == ref.sparsity_
            # variances are reported in the data's units
            np.testing.assert_allclose(est.explained_variance_, s**2 * ref.explained_variance_,
                                       rtol=1e-8)
            np.testing.assert_allclose(est.objective_, s**2 * ref.objective_, rtol=1e-8)


@pytest.mark.parametrize("seed", range(3))
def test_scaled_random_data_converges(seed):
    """The issue's example: ManPG at s = 10 stopped after one iteration, not converged, on
    six of six random data sets; now it runs the same iterations as at s = 1."""
    x = _data(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ref = SparsePCA(3, alpha=0.5).fit(x)
        est = SparsePCA(3, alpha=0.5 * 10**2).fit(10 * x)
    assert est.converged_ and est.n_iter_ == ref.n_iter_ > 1
    assert est.sparsity_ == ref.sparsity_


def test_raw_wine_data_gives_sparse_loadings():
    """Raw wine features span five orders of magnitude; ManPG's line search failed at
    iteration 0 for every α and returned dense loadings."""
    from sklearn.datasets import load_wine

    x = load_wine().data
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = SparsePCA(3, alpha=100.0).fit(x)
    assert est.converged_ and est.n_iter_ > 1 and est.sparsity_ > 0.3
    np.testing.assert_allclose(est.components_ @ est.components_.T, np.eye(3),
                               atol=100 * EPS)


def test_non_convergence_warns():
    x = _data()
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        est = SparsePCA(3, alpha=0.5, max_iter=3).fit(x)
    assert not est.converged_
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        assert SparsePCA(3, alpha=0.5).fit(x).converged_


@pytest.mark.parametrize("params", [
    {"alpha": "1"}, {"max_iter": "10"}, {"alpha": -1.0}, {"max_iter": 2.5}, {"tol": "1e-8"},
    {"method": "lars"}, {"init": "zeros"}, {"variance": "explained"}, {"n_components": 0},
    {"refit": "yes"}, {"max_nonzero": 0},
])
def test_parameters_are_validated_the_scikit_learn_way(params):
    with pytest.raises(InvalidParameterError, match=next(iter(params))):
        SparsePCA(**{"n_components": 3, **params}).fit(_data())


def test_init_array_is_used():
    """init=<array> crashed with "truth value of an array is ambiguous"."""
    x = _data()
    first = SparsePCA(3, alpha=0.5).fit(x)
    again = SparsePCA(3, alpha=0.5, init=first.components_.T).fit(x)
    np.testing.assert_allclose(again.components_, first.components_, atol=1e-6)
    with pytest.raises(ValueError, match=r"components_\.T"):
        SparsePCA(3, init=first.components_).fit(x)
    with pytest.raises(ValueError, match="not on St"):
        SparsePCA(3, init=2 * first.components_.T).fit(x)


@pytest.mark.parametrize("method", METHODS)
def test_float32_data_gives_float32_components(method):
    x = _data().astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = SparsePCA(3, alpha=0.5, method=method).fit(x)
        ref = SparsePCA(3, alpha=0.5, method=method).fit(x.astype(np.float64))
    for name in ("components_", "mean_", "explained_variance_", "explained_variance_ratio_"):
        assert getattr(est, name).dtype == np.float32, name
    assert est.transform(x).dtype == np.float32
    assert ref.components_.dtype == np.float64 and ref.transform(x.astype(float)).dtype == float
    np.testing.assert_allclose(est.components_, ref.components_,
                               atol=10 * np.finfo(np.float32).eps)


def test_data_too_large_to_square_gives_a_clear_error():
    """X·1e200 gave a raw LinAlgError from the eigensolver."""
    with pytest.raises(ValueError, match="overflows float64.*Divide X"):
        SparsePCA(3, alpha=0.5).fit(1e200 * _data())
