r"""Sparse PCA with orthonormal loadings: a scikit-learn style estimator.

>>> from orthopt.decomposition import SparsePCA          # instead of sklearn's
>>> spca = SparsePCA(n_components=5, alpha=0.5).fit(X)   # X: (n_samples, n_features)
>>> spca.components_ @ spca.components_.T                # exactly the identity
>>> scores = spca.transform(X)

What is solved
--------------
With the column means μ (``mean_``) and the per-sample covariance
A = (X − 1μᵀ)ᵀ(X − 1μᵀ)/(m − 1) of the m × n training data, ``fit`` runs two
stages (the defaults; each can be changed):

1. **Select the support** by the ℓ1-penalized problem

   .. math:: \min_{V \in \mathbb{R}^{n\times r},\ V^\top V = I_r}
             -v(V) + \alpha \|V\|_1,

   where v is the variance the loadings capture. ``variance="adjusted"``
   (the default for ManPG and the smoothed solver) takes the adjusted variance
   of Zou, Hastie & Tibshirani, v(V) = Σ_j R_jj² with VᵀAV = RᵀR — the
   variance of score j *after regressing out scores 1 … j−1*, so shared
   variance is counted once; ``variance="total"`` takes tr(VᵀAV), ManPG's
   original problem (the only one Givens descent solves). The two agree at
   PCA (α = 0); with α > 0 the total variance is blind to the rotation of the
   loadings inside their span, so ℓ1 is free to pick a sparse basis with
   strongly correlated scores: at equal sparsity its loadings keep more total
   but less adjusted variance than those of the adjusted criterion
   (``benchmarks/sparse_pca.py``, curves ``orthopt_total`` and ``orthopt`` in
   ``benchmarks/results/sparse_pca.json``).

2. **Refit on the support** (``refit=True``). ℓ1 also shrinks the loadings it
   keeps, which costs variance. The refit keeps the zero pattern S of stage 1
   (entries |v| ≤ 1e-5 are zero) and maximizes the same v without penalty,

   .. math:: \max_{V^\top V = I_r,\ V_{ij} = 0\ \forall (i,j)\notin S} v(V),

   by a Riemannian quasi-Newton method on that set (see :mod:`.refit`): the
   zeros stay exactly zero, the columns stay orthonormal to rounding, and v
   never decreases (curve ``orthopt_total_refit`` in
   ``benchmarks/results/sparse_pca.json``).

3. **Prune to a budget** (only with ``max_nonzero=k``): while more than k
   loadings are nonzero, zero the smallest one and refit (greedy backward
   elimination). The number of nonzeros of an ℓ1 solution moves in jumps as
   α varies; this gives any count k ≥ r exactly.

The result is stored as ``components_ = Vᵀ`` (r × n, orthonormal rows). α is
in the units of A (variance): α = 0 is ordinary PCA (the leading
eigenvectors of A), and increasing α trades captured variance for zeros.
Scaling the data by s multiplies A by s², so the same sparsity needs α·s². A
useful range is 0 ≤ α ≲ ‖A‖₂; scikit-learn's ``alpha`` weighs a different
objective (a dictionary-learning reconstruction error) and its values do not
carry over. ``SparsePCA(variance="total", refit=False)`` solves ManPG's
problem alone (the behaviour before these two options existed).

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
    Chechik 2014 style). Orthonormal by construction (rotations only: the
    error grows with the number of rotations by rounding alone); may stop at a coordinate-wise stationary
    point with a higher objective than ManPG's. See :mod:`.givens_spca`.
``"smoothed"``
    ℓ1 replaced by √(x² + μ²) − μ, Riemannian gradient descent, continuation
    μ → 0. See :mod:`.smoothed`.

Attributes set by ``fit``
-------------------------
components_ : array (r, n), orthonormal rows
    Ordered by decreasing variance vᵀAv for ``variance="total"``; for
    ``"adjusted"`` in the order the criterion was maximized for (component j
    explains what is left after components < j; from ``init="pca"`` this is
    the order of the eigenvalues).
mean_ : array (n,)
n_components_ : int
n_features_in_ : int
n_iter_ : int
    Iterations of the ℓ1 solver (stage 1).
n_refit_iter_ : int
    Iterations of the refit, pruning included (0 with ``refit=False``).
variance_ : str
    The criterion solved, "adjusted" or "total" (``variance=None`` resolved).
explained_variance_ : array (r,)
    Adjusted variance (Zou, Hastie & Tibshirani 2006): diag(R)² with
    VᵀAV = RᵀR; accounts for the correlation of sparse scores.
explained_variance_ratio_ : array (r,)
    explained_variance_ / tr(A).
sparsity_ : float
    Fraction of loadings with |v_ij| ≤ 1e-5.
objective_ : float
    −v(V) + α‖V‖₁ at the returned loadings (v the ``variance_`` criterion).
stationarity_ : float
    The ℓ1 solver's stopping measure at its solution, before the refit
    (ManPG and smoothed: ManPG's ‖V‖/t; Givens: the largest descent rate of
    a single rotation).
converged_ : bool
    Whether the solver (and the refit, if any) met its tolerance within
    ``max_iter``.

Differences from ``sklearn.decomposition.SparsePCA``: ``alpha`` has another
scale (see above); ``method`` names solvers of this problem ("lars"/"cd" are
not accepted); there is no ``ridge_alpha``, ``U_init``/``V_init`` or
``n_jobs``; ``components_`` are orthonormal and ``explained_variance_`` exists.

References: Chen, Ma, So & Zhang (2020), SIAM J. Optim. 30(1) (ManPG); Zou,
Hastie & Tibshirani (2006), J. Comput. Graph. Statist. 15(2) (adjusted
variance); Mackey (2009), NIPS (Schur-complement deflation); Meinshausen
(2007), Comput. Statist. Data Anal. 52(1) (relaxed lasso: refit on the
selected support).
"""

from __future__ import annotations

import math
import warnings
from numbers import Integral, Real

import numpy as np

from ..backend import device_of, get_namespace, to_float
from ._estimator_base import EstimatorBase
from .covariance import check_data, covariance_from_data, data_operator, is_dask_array, is_sparse
from .metrics import adjusted_variance, sparsity
from .problem import (
    CovarianceOperator,
    as_operator,
    captured_variance,
    check_alpha,
    check_variance,
    initial_point,
)
from .refit import prune_to_budget, refit_on_support

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
        ``callback``, ``verbose``, ``variance`` (not for Givens), ...).

    Returns
    -------
    OptimizeResult
    """
    if method == "manpg":
        from .manpg import manpg as solver
    elif method == "givens":
        from .givens_spca import givens_spca as solver

        if options.pop("variance", "total") != "total":
            raise ValueError(
                "Givens coordinate descent only solves the total-variance problem "
                "(its exact rotation line search is for tr(XᵀAX)); pass variance='total' "
                "or use method='manpg'"
            )
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
        Iterations (ManPG, smoothed: per continuation stage) or sweeps (Givens);
        the refit gets the same budget.
    tol : float, default 1e-8
        Relative stopping tolerance: the solver stops when its stationarity
        measure is below tol·2‖A‖₂ (2‖A‖₂ is the Lipschitz constant of the
        gradient, which sets the scale of the measure); the refit when its
        Riemannian gradient norm is.
    init : {"pca", "random"} or array (n_features, n_components), default "pca"
        Starting loadings: the leading eigenvectors of A, random, or the given
        orthonormal columns (e.g. a previous fit's ``components_.T``).
    variance : {"adjusted", "total"} or None, default None
        The variance v(V) of the ℓ1 problem min −v(V) + α‖V‖₁ (module
        docstring): "adjusted" = Σ_j R_jj² with VᵀAV = RᵀR (Zou, Hastie &
        Tibshirani), "total" = tr(VᵀAV) (ManPG's problem). None means
        "adjusted" for methods "manpg" and "smoothed" and "total" for
        "givens", which can only solve that one.
    refit : bool, default True
        After the ℓ1 solve, keep its zero pattern and maximize v(V) over
        orthonormal V with that pattern (undoes the ℓ1 shrinkage; never
        lowers v, never adds a nonzero). False returns the ℓ1 solution.
    max_nonzero : int or None, default None
        At most this many nonzero loadings in all (|v| > 1e-5; at least
        n_components): after the refit, the smallest loading is zeroed and the
        rest refitted until the count is reached (needs ``refit=True``). One
        refit per removed entry, so choose α to land near the budget. None:
        the count is whatever α gives.
    random_state : None, int or numpy.random.Generator
        Seeds ``init="random"`` and the randomized parts of the solvers.
    verbose : bool, default False

    Notes
    -----
    Scale: ``fit`` divides A by the power of two nearest to its mean
    diagonal tr(A)/n (and α by the same factor) before any solver runs, so
    every solver sees a unit-scaled problem; ``fit(s·X, alpha=α·s²)`` gives the
    components of ``fit(X, alpha=α)``. Powers of two make the division exact,
    so data that is already unit-scaled (a correlation matrix) is solved as given.

    A fit whose ℓ1 solver or refit stops before meeting ``tol`` (at
    ``max_iter``, or at the precision limit: the warning says which) sets
    ``converged_ = False`` and warns with
    ``sklearn.exceptions.ConvergenceWarning``; the loadings are the last
    iterate, orthonormal and usable but not stationary to ``tol``. Raise
    ``max_iter``, loosen ``tol``, or try another ``method``.

    Parameters are validated by scikit-learn's ``_parameter_constraints``
    machinery when ``fit`` is called (wrong types and ranges raise
    ``sklearn.utils._param_validation.InvalidParameterError``, a ValueError).
    """

    _parameter_constraints = None  # built on first use: scikit-learn is imported lazily

    def __init__(
        self,
        n_components=None,
        *,
        alpha=1.0,
        method="manpg",
        max_iter=10000,
        tol=1e-8,
        init="pca",
        variance=None,
        refit=True,
        max_nonzero=None,
        random_state=None,
        verbose=False,
    ):
        self.n_components = n_components
        self.alpha = alpha
        self.method = method
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.variance = variance
        self.refit = refit
        self.max_nonzero = max_nonzero
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
        _validate_params(self)
        alpha = check_alpha(self.alpha)
        variance = self._resolve_variance()
        out_dtype = _float_dtype(X)
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
            # data near the float64 limit overflow when squared: _unit_scaled names it below
            with np.errstate(over="ignore", invalid="ignore"):
                if n > MAX_DENSE_FEATURES and self.method != "givens":
                    mean = _column_means(data)
                    op = data_operator(data, mean)
                else:
                    mean, cov = covariance_from_data(data)
                    op = as_operator(cov)
        r = self._check_n_components(n)
        max_nonzero = self._check_max_nonzero(r)
        max_iter = int(self.max_iter)
        tol = float(self.tol)
        if not math.isfinite(tol):
            raise ValueError(f"tol must be a finite number >= 0; got {self.tol!r}")
        # every solver sees a unit-scaled problem (see Notes): A/c and α/c with c a power of 2
        op, unit = _unit_scaled(op)
        alpha = alpha / unit
        init = self.init
        if not isinstance(init, str):
            init = _check_init_array(init, n, r, like=mean)
        elif init == "pca" and op.dense is None:
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
            variance=variance,
        )
        v = result.x
        converged = bool(result.success)
        failures = [] if converged else [f"the l1 solver: {result.message}"]
        n_refit = 0
        if self.refit:
            refitted = refit_on_support(
                op, v, variance=variance, tol=tol * max(scale, 1e-300), max_iter=max_iter,
                verbose=self.verbose,
            )
            v = refitted.x
            n_refit = int(refitted.nit)
            converged = converged and bool(refitted.success)
            if not refitted.success:
                failures.append(f"the refit on the support: {refitted.message}")
            if max_nonzero is not None:
                pruned = prune_to_budget(
                    op, v, max_nonzero, variance=variance, tol=tol * max(scale, 1e-300),
                    max_iter=max_iter, verbose=self.verbose,
                )
                v = pruned.x
                n_refit += int(pruned.nit)
                converged = converged and bool(pruned.success)
                if not pruned.success:
                    failures.append(f"the pruning to max_nonzero: {pruned.message}")
        v = _order_and_sign(op, v, by_variance=variance == "total")
        xp = get_namespace(v)
        # the problem was solved in units of c (`unit`); report variances in the data's units
        explained = adjusted_variance(op, v)
        total = op.trace if op.trace is not None else float("nan")
        ratio = explained / total if total > 0 else explained * 0.0
        self.components_ = _as_dtype(v.T, out_dtype)
        self.mean_ = _as_dtype(mean, out_dtype)
        self.n_components_ = r
        self.n_features_in_ = n
        self.n_iter_ = max(int(result.nit), 1)
        self.n_refit_iter_ = n_refit
        self.variance_ = variance
        self.explained_variance_ = _as_dtype(explained * unit, out_dtype)
        self.explained_variance_ratio_ = _as_dtype(ratio, out_dtype)
        self.sparsity_ = sparsity(v)
        self.objective_ = unit * (
            -captured_variance(v, op(v), variance)[0] + alpha * to_float(xp.sum(xp.abs(v)))
        )
        self.stationarity_ = float(result.stationarity) * unit
        self.converged_ = converged
        if not converged:
            from sklearn.exceptions import ConvergenceWarning

            warnings.warn(
                f"SparsePCA(method={self.method!r}) did not converge to tol={tol:g} "
                f"(relative) within max_iter={max_iter}: {'; '.join(failures)}. The loadings "
                "are the last iterate (usable, not stationary to tol); raise max_iter, loosen tol "
                "or try another method.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _check_max_nonzero(self, r):
        k = self.max_nonzero
        if k is None:
            return None
        if isinstance(k, bool) or not hasattr(k, "__index__") or int(k) < r:
            raise ValueError(
                f"max_nonzero must be None or an integer >= n_components = {r} (each "
                f"orthonormal component has a nonzero loading); got {k!r}"
            )
        if not self.refit:
            raise ValueError("max_nonzero prunes and refits the loadings; it needs refit=True")
        return int(k)

    def _resolve_variance(self):
        if self.variance is None:
            return "total" if self.method == "givens" else "adjusted"
        variance = check_variance(self.variance)
        if self.method == "givens" and variance != "total":
            raise ValueError(
                "method='givens' only solves the total-variance problem; "
                "pass variance='total' (or None), or use method='manpg'"
            )
        return variance

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
        out_dtype = _float_dtype(X)
        data = self._check_transform_input(X)
        comps = self.components_
        if is_sparse(data):
            return _as_dtype(data @ comps.T - (self.mean_ @ comps.T)[None, :], out_dtype)
        return _as_dtype((data - self.mean_) @ comps.T, out_dtype)

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


def _order_and_sign(op, v, by_variance=True):
    """Sort columns by variance vᵀAv (descending) and make each one's largest entry positive.

    Both keep V orthonormal and leave the total-variance objective unchanged;
    they make the output deterministic and the adjusted variance (a
    sequential measure) meaningful, as PCA orders its components. With
    ``by_variance=False`` (the adjusted-variance criterion, whose value
    depends on the order) the columns keep their order and only the signs
    are fixed.
    """
    xp = get_namespace(v)
    if by_variance:
        variances = xp.sum(v * op(v), axis=0)
        order = xp.flip(xp.argsort(variances, stable=True))
        v = xp.take(v, order, axis=1)
    idx = xp.argmax(xp.abs(v), axis=0)
    picked = xp.take_along_axis(v, idx[None, :], axis=0)[0, :]
    signs = xp.where(picked < 0, -xp.ones_like(picked), xp.ones_like(picked))
    return v * signs[None, :]


def _validate_params(estimator):
    """scikit-learn's parameter validation (types and ranges) of the constructor arguments."""
    from sklearn.utils._param_validation import (
        Interval,
        StrOptions,
        validate_parameter_constraints,
    )

    cls = type(estimator)
    if cls._parameter_constraints is None:
        cls._parameter_constraints = {
            "n_components": [Interval(Integral, 1, None, closed="left"), None],
            "alpha": [Interval(Real, 0, None, closed="left")],
            "method": [StrOptions(set(METHODS))],
            "max_iter": [Interval(Integral, 0, None, closed="left")],
            "tol": [Interval(Real, 0, None, closed="left")],
            "init": [StrOptions({"pca", "random"}), "array-like"],
            "variance": [StrOptions({"adjusted", "total"}), None],
            "refit": ["boolean"],
            "max_nonzero": [Interval(Integral, 1, None, closed="left"), None],
            "random_state": ["random_state", np.random.Generator],
            "verbose": ["verbose"],
        }
    validate_parameter_constraints(
        cls._parameter_constraints, estimator.get_params(deep=False), caller_name=cls.__name__
    )


def _float_dtype(x):
    """float32 for float32 input (as scikit-learn's decompositions keep it), else float64."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return np.float64
    try:
        return np.float32 if np.dtype(dtype) == np.float32 else np.float64
    except TypeError:  # an array-API dtype object NumPy does not know
        return np.float32 if "float32" in str(dtype) else np.float64


def _as_dtype(a, dtype):
    """``a`` (any array library, or a dask array) in the float dtype ``dtype``."""
    if is_sparse(a) or is_dask_array(a):
        return a.astype(dtype)
    xp = get_namespace(a)
    target = xp.float32 if dtype == np.float32 else xp.float64
    return a if a.dtype == target else xp.astype(a, target)


def _unit_scaled(op):
    """(A/c, c): c = 2^k nearest to tr(A)/n, so the returned operator has mean diagonal ≈ 1.

    The solvers' step sizes, Newton tolerances and rounding slacks are tuned to
    a covariance of unit scale; dividing by a power of two is exact, so
    ``fit(s·X, α·s²)`` and ``fit(X, α)`` run the same problem up to the rounding of A.
    """
    trace = op.trace
    if trace is None or not math.isfinite(trace):
        raise ValueError(
            f"the covariance of X overflows float64 (trace = {trace}); the data are too "
            "large to square. Divide X by a constant c (e.g. X / abs(X).max()): the "
            "components do not change, alpha scales by 1/c**2"
        )
    if trace <= 0.0:  # constant data: nothing to scale
        return op, 1.0
    unit = 2.0 ** round(math.log2(trace / op.n))
    if unit == 1.0:
        return op, 1.0
    if op.dense is not None:
        return as_operator(op.dense / unit), unit
    matvec = op.matvec
    scaled = CovarianceOperator(lambda x: matvec(x) / unit, op.n, trace=trace / unit)
    return scaled, unit


def _check_init_array(init, n, r, like):
    """An (n_features, n_components) starting point, in the namespace of the data."""
    x = np.asarray(init) if type(init).__module__.split(".")[0] != "cupy" else init
    shape = tuple(x.shape)
    if shape != (n, r):
        hint = " (pass components_.T, not components_)" if shape == (r, n) else ""
        raise ValueError(
            f"init has shape {shape}; expected (n_features, n_components) = ({n}, {r}){hint}"
        )
    if isinstance(x, np.ndarray):
        x = x.astype(np.float64)
        if not np.all(np.isfinite(x)):
            raise ValueError("init contains NaN or infinity")
        xp = get_namespace(like)
        if type(like).__module__.split(".")[0] != "numpy":
            x = xp.asarray(x, device=device_of(like))
    return x
