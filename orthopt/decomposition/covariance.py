r"""From a data matrix to the covariance A that sparse PCA works on.

The estimator centres the m × n data D (rows are samples) with its column
means μ and uses the per-sample covariance

.. math:: A = \frac{1}{m-1} (D - \mathbf{1}\mu^\top)^\top (D - \mathbf{1}\mu^\top)
            = \frac{1}{m-1} \big(D^\top D - m\,\mu\mu^\top\big).

Which form is used depends on where the data live:

* **NumPy / CuPy / any array-API array**: centre, then one n × n product,
  on the data's own device (the first form).
* **scipy.sparse**: centring would densify D, so the second form is used:
  a sparse DᵀD, then a rank-one correction.
* **dask arrays**: the first form built lazily and evaluated by ``.compute()``
  — on the threaded scheduler by default, or on a ``dask.distributed``
  cluster when a ``Client`` is active. Only the n × n result (and the mean)
  come back to the solver, which runs in memory.

When n is so large that the n × n matrix should not be formed,
:func:`data_operator` gives A only through X ↦ A X =
(Dᵀ(DX) − m μ(μᵀX))/(m − 1), two passes over D per product (for dask each
product is one ``.compute()``).

All inputs are checked here: 2-D, at least 2 samples and 1 feature, real,
finite — with errors that say what to change.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import get_namespace, to_float
from .problem import CovarianceOperator

__all__ = ["is_dask_array", "is_sparse", "check_data", "covariance_from_data", "data_operator"]


def is_dask_array(x) -> bool:
    """True for a ``dask.array.Array`` (checked without importing dask)."""
    return type(x).__module__.split(".")[0] == "dask" and hasattr(x, "chunks")


def is_sparse(x) -> bool:
    """True for scipy.sparse matrices and arrays (checked without importing scipy.sparse)."""
    return type(x).__module__.startswith("scipy.sparse") and hasattr(x, "tocsr")


def _shape_error(ndim, name):
    return ValueError(
        f"Expected 2D array for {name}, got {ndim}D array instead. Reshape your data with "
        "array.reshape(-1, 1) if it has a single feature or array.reshape(1, -1) if it "
        "contains a single sample."
    )


def check_data(x, name="X", min_samples=2):
    """Validate a data matrix and return it in a form the other functions take.

    Parameters
    ----------
    x : array-like (m, n), scipy.sparse matrix, dask array or array-API array
    name : str
        Used in error messages.
    min_samples : int
        2 for fitting (a covariance needs m ≥ 2), 1 for transforming.

    Returns
    -------
    array
        float64 data: a NumPy array (for array-likes), a CSR matrix, a dask
        array (not computed: its finiteness is checked when it is), or an
        array of the input's array-API library.

    Raises
    ------
    ValueError
        Wrong number of dimensions, too few samples or features, complex
        values, NaN or infinity.
    """
    if is_sparse(x):
        if x.ndim != 2:
            raise _shape_error(x.ndim, name)
        x = x.tocsr()
        if np.iscomplexobj(x.data):
            raise ValueError(f"Complex data not supported in {name}; pass the real part")
        x = x.astype(np.float64)
        _check_size(x.shape, name, min_samples)
        if not np.all(np.isfinite(x.data)):
            raise ValueError(f"Input {name} contains NaN or infinity; remove or impute them")
        return x
    if is_dask_array(x):
        if x.ndim != 2:
            raise _shape_error(x.ndim, name)
        if np.issubdtype(x.dtype, np.complexfloating):
            raise ValueError(f"Complex data not supported in {name}; pass the real part")
        if any(math.isnan(s) for s in x.shape):
            x = x.compute_chunk_sizes()
        _check_size(x.shape, name, min_samples)
        return x.astype(np.float64)
    try:
        xp = get_namespace(x)
        native = True
    except TypeError:
        native = False
    if not native or type(x).__module__.split(".")[0] == "numpy":
        raw = np.asarray(x)
        if raw.dtype.kind == "c":
            raise ValueError(f"Complex data not supported in {name}; pass the real part")
        x = raw.astype(np.float64) if raw.dtype.kind != "O" else np.asarray(x, dtype=np.float64)
        xp = get_namespace(x)
    else:
        if xp.isdtype(x.dtype, "complex floating"):
            raise ValueError(f"Complex data not supported in {name}; pass the real part")
        if x.dtype != xp.float64:
            x = xp.astype(x, xp.float64)
    if x.ndim != 2:
        raise _shape_error(x.ndim, name)
    _check_size(x.shape, name, min_samples)
    if not bool(xp.all(xp.isfinite(x))):
        raise ValueError(f"Input {name} contains NaN or infinity; remove or impute them")
    return x


def _check_size(shape, name, min_samples):
    m, n = shape
    if n < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={tuple(shape)}) while a minimum of 1 is "
            f"required by {name}."
        )
    if m < min_samples:
        if m == 1 and min_samples == 2:
            raise ValueError(
                f"n_samples=1 in {name}: a covariance needs at least 2 samples "
                "(or pass a covariance matrix with covariance=True)"
            )
        raise ValueError(
            f"Found array with {m} sample(s) (shape={tuple(shape)}) in {name}; "
            f"at least {min_samples} required"
        )


def covariance_from_data(x):
    """Column means and per-sample covariance of checked data.

    Parameters
    ----------
    x : array (m, n) from :func:`check_data`

    Returns
    -------
    mean : array, shape (n,)
        NumPy for NumPy, sparse and dask input (for dask: the namespace of its
        chunks); the input's namespace otherwise.
    cov : array, shape (n, n)
        A = (D − 1μᵀ)ᵀ(D − 1μᵀ)/(m − 1).
    """
    m = x.shape[0]
    if is_sparse(x):
        mean = np.asarray(x.mean(axis=0)).ravel()
        gram = (x.T @ x).toarray()
        cov = gram / (m - 1) - (m / (m - 1)) * np.outer(mean, mean)
        return mean, (cov + cov.T) / 2
    if is_dask_array(x):
        import dask
        import dask.array as da

        mean = x.mean(axis=0)
        centred = x - mean
        cov = (centred.T @ centred) / (m - 1)
        finite = da.isfinite(x).all()
        # one graph, one pass over the data, on whatever scheduler is active
        mean, cov, finite = dask.compute(mean, cov, finite)
        if not bool(finite):
            raise ValueError("Input X contains NaN or infinity; remove or impute them")
        return mean, cov
    xp = get_namespace(x)
    mean = xp.mean(x, axis=0)
    centred = x - mean
    cov = (centred.T @ centred) / (m - 1)
    return mean, cov


def data_operator(x, mean):
    r"""The covariance of checked data as an operator X ↦ A X (A never formed).

    A V = (Dᵀ(DV) − m μ(μᵀV))/(m − 1). For dask data each product is one
    ``.compute()``; the n × r result is a NumPy array.

    Parameters
    ----------
    x : array (m, n) from :func:`check_data`
    mean : array, shape (n,), its column means

    Returns
    -------
    CovarianceOperator
        With ``trace`` = Σ_j var(D_{:,j}).
    """
    m, n = x.shape
    if is_dask_array(x) or is_sparse(x):
        mu = np.asarray(mean)

        def matvec(v):
            prod = x.T @ (x @ v)
            if is_dask_array(prod):
                prod = prod.compute()
            prod = np.asarray(prod)
            return (prod - m * np.outer(mu, mu @ v)) / (m - 1)

        if is_sparse(x):
            sq = float(x.multiply(x).sum())
        else:
            sq = float((x * x).sum().compute())
        trace = (sq - m * float(mu @ mu)) / (m - 1)
        return CovarianceOperator(matvec, n, trace=trace)
    xp = get_namespace(x)
    centred = x - mean

    def matvec(v):
        return centred.T @ (centred @ v) / (m - 1)

    trace = to_float(xp.sum(centred * centred)) / (m - 1)
    return CovarianceOperator(matvec, n, trace=trace)
