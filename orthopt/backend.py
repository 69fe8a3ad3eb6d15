"""Array-namespace dispatch, devices, dtypes and random numbers.

orthopt never switches a global backend. Every function that receives an
array asks that array which library it belongs to::

    xp = get_namespace(x)

and then only uses functions of the Python array API standard from ``xp``
(NumPy through array-api-compat, CuPy, array-api-strict, ...). What the
standard lacks (``expm``, triangular solves, ...) lives in
:mod:`orthopt.linalg`, which picks SciPy on NumPy and cupyx on CuPy.

Random numbers always come from a seedable :class:`numpy.random.Generator`
on the host and are moved once to the target namespace and device with
:func:`asarray_like`. This keeps runs reproducible across backends: the same
seed gives the same point on NumPy, CuPy and array-api-strict.
"""

from __future__ import annotations

import numbers

import numpy as np
from array_api_compat import (
    array_namespace,
    device as array_device,
    is_array_api_obj,
    is_cupy_namespace,
    is_numpy_namespace,
)

__all__ = [
    "get_namespace",
    "is_numpy",
    "is_cupy",
    "device_of",
    "default_rng",
    "asarray_like",
    "to_numpy",
    "is_complex_dtype",
    "real_dtype_of",
    "finfo_eps",
    "eye_like",
    "conj_transpose",
    "to_float",
]


def get_namespace(*arrays):
    """Return the array-API namespace shared by ``arrays``.

    Parameters
    ----------
    *arrays : array
        Arrays of one library (NumPy, CuPy, array-api-strict, ...). Python
        scalars and ``None`` are ignored.

    Returns
    -------
    xp : module
        The array-API compatible namespace (array-api-compat's wrapper for
        NumPy and CuPy).
    """
    arrays = [a for a in arrays if a is not None and not isinstance(a, numbers.Number)]
    return array_namespace(*arrays)


def is_numpy(xp):
    """True when ``xp`` is NumPy (or array-api-compat's NumPy wrapper)."""
    return is_numpy_namespace(xp)


def is_cupy(xp):
    """True when ``xp`` is CuPy (or array-api-compat's CuPy wrapper)."""
    return is_cupy_namespace(xp)


def device_of(x):
    """The device an array lives on (``"cpu"`` for NumPy arrays)."""
    return array_device(x)


def default_rng(rng=None):
    """Turn ``None``, a seed or a Generator into a :class:`numpy.random.Generator`.

    Parameters
    ----------
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        ``None`` gives fresh OS entropy; an integer gives a reproducible stream.
    """
    return np.random.default_rng(rng)


def asarray_like(a, like=None, dtype=None):
    """Move a host (NumPy) array to the namespace, device and dtype of ``like``.

    Parameters
    ----------
    a : numpy.ndarray or array
        Data to convert.
    like : array or None
        Template array. ``None`` keeps NumPy on the host.
    dtype : dtype or None
        Target dtype, given in the namespace of ``like``; default: ``like.dtype``
        when ``like`` is given, else ``a.dtype``.

    Returns
    -------
    array
        ``a`` as an array of ``like``'s library, on ``like``'s device.
    """
    if like is None:
        return np.asarray(a, dtype=dtype)
    xp = get_namespace(like)
    if dtype is None:
        dtype = like.dtype
    if is_numpy(xp):
        return np.asarray(a, dtype=dtype)
    return xp.asarray(np.asarray(a), dtype=dtype, device=device_of(like))


def to_numpy(x):
    """Copy an array of any supported library to a NumPy array on the host.

    This is a host transfer: solvers call it only outside their loops.
    """
    if isinstance(x, np.ndarray) or isinstance(x, numbers.Number):
        return np.asarray(x)
    xp = get_namespace(x)
    if is_cupy(xp):
        return x.get()
    if is_numpy(xp):
        return np.asarray(x)
    # array-api-strict and friends: go through DLPack / the buffer protocol
    try:
        return np.from_dlpack(x)
    except Exception:  # pragma: no cover - depends on the library
        return np.asarray(x)


def is_complex_dtype(xp, dtype):
    """True for complex64 / complex128 in namespace ``xp``."""
    return xp.isdtype(dtype, "complex floating")


def real_dtype_of(xp, dtype):
    """float32 for complex64, float64 for complex128, else ``dtype`` itself."""
    if dtype == xp.complex64:
        return xp.float32
    if dtype == xp.complex128:
        return xp.float64
    return dtype


def finfo_eps(xp, dtype):
    """Machine epsilon of ``dtype`` (of its real part for complex dtypes) as a float."""
    return float(xp.finfo(real_dtype_of(xp, dtype)).eps)


def eye_like(x, n=None):
    """Identity of size ``n`` (default: ``x.shape[-1]``) with ``x``'s dtype and device."""
    xp = get_namespace(x)
    n = x.shape[-1] if n is None else n
    return xp.eye(n, dtype=x.dtype, device=device_of(x))


def conj_transpose(x):
    """The conjugate transpose xᴴ over the last two axes (plain transpose for real x)."""
    if type(x) is np.ndarray:
        # the solvers call this several times per iteration: on small problems the
        # namespace dispatch cost as much as the products (a third of a projUNN
        # iteration at n = 20); same view / conjugate copy as the generic route
        xt = x.swapaxes(-1, -2)
        return xt.conj() if x.dtype.kind == "c" else xt
    xp = get_namespace(x)
    xt = xp.matrix_transpose(x)
    if is_complex_dtype(xp, x.dtype):
        return xp.conj(xt)
    return xt


def to_float(x):
    """A 0-d array (or scalar) as a Python float: the one host sync of an iteration."""
    if isinstance(x, numbers.Number):
        return float(x.real) if isinstance(x, complex) else float(x)
    xp = get_namespace(x)
    if is_complex_dtype(xp, x.dtype):
        x = xp.real(x)
    return float(x)


def _is_array(x):
    return is_array_api_obj(x)
