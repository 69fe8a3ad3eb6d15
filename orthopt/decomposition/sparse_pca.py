r"""Sparse PCA with orthonormal loadings: a scikit-learn style estimator.

>>> from orthopt.decomposition import SparsePCA          # instead of sklearn's
>>> spca = SparsePCA(n_components=5, alpha=0.5).fit(X)   # X: (n_samples, n_features)
>>> spca.components_ @ spca.components_.T                # exactly the identity
>>> scores = spca.transform(X)

What is solved
--------------
With the column means μ (``mean_``) and the per-sample covariance
A = (X − 1μᵀ)ᵀ(X − 1μᵀ)/(m − 1) of the m × n training data, ``fit`` solves

.. math:: \min_{V \in \mathbb{R}^{n\times r},\ V^\top V = I_r}
          -\operatorname{tr}(V^\top A V) + \alpha \|V\|_1

and stores ``components_ = Vᵀ`` (r × n, orthonormal rows). α is therefore in
the units of A (variance): α = 0 is ordinary PCA (the leading eigenvectors of
A), and increasing α trades captured variance for zeros. Scaling the data by
s multiplies A by s², so the same sparsity needs α·s². A useful range is
0 ≤ α ≲ ‖A‖₂; scikit-learn's ``alpha`` weighs a different objective (a
dictionary-learning reconstruction error) and its values do not carry over.

Unlike scikit-learn's ``SparsePCA``, whose components are neither orthogonal
nor uncorrelated, these loadings are orthonormal, so ``transform`` is a plain
projection (X − μ)V and ``inverse_transform`` maps scores back by Z Vᵀ + μ.

Precomputed covariance
----------------------
``fit(C, covariance=True)`` takes a symmetric n × n covariance or correlation
matrix instead of data (the pitprops benchmark is only published that way).
Then ``mean_`` is zero (the data are taken as centred) and ``transform``
projects its input without centring.

Data
----
NumPy arrays, scipy.sparse matrices (never densified: A = (XᵀX − mμμᵀ)/(m−1)),
dask arrays (A computed by dask on the active scheduler, a ``distributed``
cluster included; the solver runs in memory) and array-API arrays such as
CuPy (everything stays on the device; Givens descent runs on the host). See
:mod:`orthopt.decomposition.covariance`. When n_features exceeds
:data:`MAX_DENSE_FEATURES` the n × n matrix is not formed and the solver only
uses products A·V (methods "manpg" and "smoothed").

Solvers (``method``)
--------------------
``"manpg"`` (default)
    Proximal gradient on the Stiefel manifold (Chen, Ma, So & Zhang 2020);
    stops at a stationary point to ``tol``. See :mod:`.manpg`.
``"givens"``
    Exact Givens coordinate descent on the nonsmooth objective (Shalit &
    Chechik 2014 style). Orthonormal by construction (rotations only; ~1e-12
    after thousands of rotations); may stop at a coordinate-wise stationary
    point with a higher objective than ManPG's. See :mod:`.givens_spca`.
``"smoothed"``
    ℓ1 replaced by √(x² + μ²) − μ, Riemannian gradient descent, continuation
    μ → 0. See :mod:`.smoothed`.

Attributes set by ``fit``
-------------------------
components_ : array (r, n), orthonormal rows, ordered by decreasing variance vᵀAv
mean_ : array (n,)
n_components_ : int
n_features_in_ : int
n_iter_ : int
explained_variance_ : array (r,)
    Adjusted variance (Zou, Hastie & Tibshirani 2006): diag(R)² with
    VᵀAV = RᵀR; accounts for the correlation of sparse scores.
explained_variance_ratio_ : array (r,)
    explained_variance_ / tr(A).
sparsity_ : float
    Fraction of loadings with |v_ij| ≤ 1e-5.
objective_ : float
    −tr(VᵀAV) + α‖V‖₁ at the solution.
stationarity_ : float
    The solver's stopping measure at the solution (ManPG and smoothed:
    ManPG's ‖V‖/t; Givens: the largest descent rate of a single rotation).
converged_ : bool
    Whether the solver met its tolerance within ``max_iter``.

Differences from ``sklearn.decomposition.SparsePCA``: ``alpha`` has another
scale (see above); ``method`` names solvers of this problem ("lars"/"cd" are
not accepted); there is no ``ridge_alpha``, ``U_init``/``V_init`` or
``n_jobs``; ``components_`` are orthonormal and ``explained_variance_`` exists.
"""

from __future__ import annotations

from ..backend import device_of, get_namespace, to_float
from ._estimator_base import EstimatorBase
from .covariance import check_data, covariance_from_data, data_operator, is_dask_array, is_sparse
from .metrics import adjusted_variance, sparsity
from .problem import as_operator, check_alpha, initial_point

__all__ = ["SparsePCA", "solve_sparse_pca", "MAX_DENSE_FEATURES", "METHODS"]

#: Above this many features the estimator does not form the n × n covariance.
MAX_DENSE_FEATURES = 4096

METHODS = ("manpg", "givens", "smoothed")


def solve_sparse_pca(a, n_components, alpha, method="manpg", **options):
    r"""Run one of the sparse-PCA solvers on a covariance matrix or operator.

    Parameters
    ----------
    a : array (n, n), LinearOperator, CovarianceOperator or callable
        Symmetric PSD A (or X ↦ A X).
    n_components : int
    alpha : float
    method : {"manpg", "givens", "smoothed"}
    **options
        Passed to the solver (``init``, ``tol``, ``max_iter``, ``random_state``,
        ``callback``, ``verbose``, ...).

    Returns
    -------
    SparsePCAResult
    """
    if method == "manpg":
        from .manpg import manpg as solver
    elif method == "givens":
        from .givens_spca import givens_spca as solver
    elif method == "smoothed":
        from .smoothed import smoothed_spca as solver
    else:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    return solver(a, n_components, alpha, **options)


class SparsePCA(EstimatorBase):
    """Sparse PCA with orthonormal loadings (see the module docstring).

    Parameters
    ----------
    n_components : int or None, default None
        Number of components r; None keeps all n_features.
    alpha : float, default 1.0
        Weight α ≥ 0 of ‖V‖₁, in the units of the covariance.
    method : {"manpg", "givens", "smoothed"}, default "manpg"
    max_iter : int, default 10000
        Iterations (ManPG, smoothed: per continuation stage) or sweeps (Givens).
    tol : float, default 1e-8
        Relative stopping tolerance: the solver stops when its stationarity
        measure is below tol·2‖A‖₂ (2‖A‖₂ is the Lipschitz constant of the
        gradient, which sets the scale of the measure).
    init : {"pca", "random"}, default "pca"
        Starting loadings: the leading eigenvectors of A, or random.
    random_state : None, int or numpy.random.Generator
        Seeds ``init="random"`` and the randomized parts of the solvers.
    verbose : bool, default False
    """

    def __init__(
        self,
        n_components=None,
        *,
        alpha=1.0,
        method="manpg",
        max_iter=10000,
        tol=1e-8,
        init="pca",
        random_state=None,
        verbose=False,
    ):
        self.n_components = n_components
        self.alpha = alpha
        self.method = method
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, *, covariance=False):
        """Fit the loadings to data or to a precomputed covariance.

        Parameters
        ----------
        X : array-like (n_samples, n_features), sparse matrix or dask array;
            or, with ``covariance=True``, a symmetric (n_features, n_features)
            covariance / correlation matrix.
        y : ignored
        covariance : bool, default False
            Treat X as a covariance matrix (``mean_`` is then zero).

        Returns
        -------
        self
        """
        alpha = check_alpha(self.alpha)
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {self.method!r}")
        if covariance:
            cov = check_data(X, name="the covariance matrix", min_samples=1)
            if is_sparse(cov) or is_dask_array(cov):
                raise ValueError(
                    "pass the covariance as a dense array (it is n_features x n_features)"
                )
            xp = get_namespace(cov)
            n = cov.shape[1]
            if cov.shape[0] != n:
                raise ValueError(
                    "with covariance=True, X must be a square covariance matrix; "
                    f"got shape {cov.shape}"
                )
            asym = to_float(xp.max(xp.abs(cov - cov.T)))
            if asym > 1e-8 * max(1.0, to_float(xp.max(xp.abs(cov)))):
                raise ValueError(
                    f"the covariance matrix is not symmetric (max |C - Cᵀ| = {asym:.2e}); "
                    "pass (C + C.T) / 2"
                )
            mean = xp.zeros(n, dtype=cov.dtype, device=device_of(cov))
            op = as_operator((cov + cov.T) / 2)
        else:
            data = check_data(X, name="X", min_samples=2)
            n = data.shape[1]
            if n > MAX_DENSE_FEATURES and self.method != "givens":
                mean = _column_means(data)
                op = data_operator(data, mean)
            else:
                mean, cov = covariance_from_data(data)
                op = as_operator(cov)
        r = self._check_n_components(n)
        max_iter = int(self.max_iter)
        if max_iter < 0:
            raise ValueError(f"max_iter must be >= 0; got {self.max_iter!r}")
        tol = float(self.tol)
        if not tol >= 0:
            raise ValueError(f"tol must be >= 0; got {self.tol!r}")
        init = self.init
        if init == "pca" and op.dense is None:
            # computes λ_max(A) on the way, sparing a power method over the data
            init = initial_point(op, r, init="pca", rng=0)
        scale = 2.0 * op.norm2(rng=0)
        result = solve_sparse_pca(
            op,
            r,
            alpha,
            method=self.method,
            init=init,
            tol=tol * max(scale, 1e-300),
            max_iter=max_iter,
            random_state=self.random_state,
            verbose=self.verbose,
        )
        v = _order_and_sign(op, result.x)
        self.components_ = v.T
        self.mean_ = mean
        self.n_components_ = r
        self.n_features_in_ = n
        self.n_iter_ = max(int(result.nit), 1)
        self.explained_variance_ = adjusted_variance(op, v)
        total = op.trace if op.trace is not None else float("nan")
        self.explained_variance_ratio_ = self.explained_variance_ / total if total > 0 else (
            self.explained_variance_ * 0.0
        )
        self.sparsity_ = sparsity(v)
        self.objective_ = float(result.fun)
        self.stationarity_ = float(result.stationarity)
        self.converged_ = bool(result.success)
        return self

    def _check_n_components(self, n_features):
        r = self.n_components
        if r is None:
            return n_features
        if isinstance(r, bool) or not isinstance(r, (int,)) and not hasattr(r, "__index__"):
            raise ValueError(f"n_components must be an integer or None; got {r!r}")
        r = int(r)
        if not 1 <= r <= n_features:
            raise ValueError(
                f"n_components={r} must be between 1 and n_features={n_features}; "
                f"lower n_components or pass data with more features"
            )
        return r

    # ------------------------------------------------------------ transform
    def _check_transform_input(self, X):
        self._check_is_fitted()
        data = check_data(X, name="X", min_samples=1)
        if data.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {data.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return data

    def transform(self, X):
        """Project centred data on the loadings: (X − mean_) @ components_.T.

        Parameters
        ----------
        X : array-like (n_samples, n_features), sparse matrix or dask array

        Returns
        -------
        array (n_samples, n_components)
            NumPy for NumPy and sparse input, lazy dask array for dask input,
            the input's library otherwise.
        """
        data = self._check_transform_input(X)
        comps = self.components_
        if is_sparse(data):
            return data @ comps.T - (self.mean_ @ comps.T)[None, :]
        if is_dask_array(data):
            return (data - self.mean_) @ comps.T
        return (data - self.mean_) @ comps.T

    def fit_transform(self, X, y=None):
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, X):
        """Map scores back to feature space: X @ components_ + mean_.

        Exact for data in the span of the loadings (the loadings are
        orthonormal, so this is the orthogonal projection's adjoint).
        """
        self._check_is_fitted()
        data = check_data(X, name="X", min_samples=1)
        if data.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {data.shape[1]} columns, but inverse_transform expects "
                f"n_components_={self.n_components_}"
            )
        if is_sparse(data):
            data = data.toarray()
        return data @ self.components_ + self.mean_


def _column_means(data):
    import numpy as np

    if is_sparse(data):
        return np.asarray(data.mean(axis=0)).ravel()
    if is_dask_array(data):
        return data.mean(axis=0).compute()
    xp = get_namespace(data)
    return xp.mean(data, axis=0)


def _order_and_sign(op, v):
    """Sort columns by variance vᵀAv (descending) and make each one's largest entry positive.

    Both keep V orthonormal and leave the objective unchanged; they make the
    output deterministic and the adjusted variance (a sequential measure)
    meaningful, as PCA orders its components.
    """
    xp = get_namespace(v)
    variances = xp.sum(v * op(v), axis=0)
    order = xp.flip(xp.argsort(variances, stable=True))
    v = xp.take(v, order, axis=1)
    idx = xp.argmax(xp.abs(v), axis=0)
    picked = xp.take_along_axis(v, idx[None, :], axis=0)[0, :]
    signs = xp.where(picked < 0, -xp.ones_like(picked), xp.ones_like(picked))
    return v * signs[None, :]
