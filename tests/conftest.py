"""Shared fixtures and helpers of the foundation test suite.

The suite runs every manifold property on three backends:

``numpy``
    Plain NumPy arrays (SciPy routes of :mod:`orthopt.linalg`).
``strict``
    array-api-strict on its default device: catches any function that is not
    in the array API standard (the generic routes of :mod:`orthopt.linalg`).
``device1``
    array-api-strict on its second device ``device1``: catches accidental
    host transfers — mixing arrays of two devices raises — and results must
    stay on ``device1``.

Tolerances are multiples of the machine epsilon of the dtype under test, so
float32 and float64 are held to the same relative standard.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

try:  # the test extra installs it; without it only the NumPy backend runs
    import array_api_strict as xs
except ImportError:  # pragma: no cover - depends on the environment
    xs = None

from orthopt.backend import device_of, to_numpy
from orthopt.manifolds import SpecialOrthogonal, Stiefel, Unitary

BACKENDS = ("numpy", "strict", "device1")
RETRACTIONS = ("qr", "polar", "cayley", "exp", "givens")

#: (manifold kind, dtype name) pairs: every manifold with every dtype it accepts
MANIFOLD_DTYPES = (
    ("stiefel", "float32"),
    ("stiefel", "float64"),
    ("stiefel-complex", "complex64"),
    ("stiefel-complex", "complex128"),
    ("so", "float32"),
    ("so", "float64"),
    ("unitary", "complex64"),
    ("unitary", "complex128"),
)


def make_manifold(kind, n, p, retraction="qr"):
    """Build the manifold of ``kind`` with n rows (p columns for Stiefel)."""
    if kind == "stiefel":
        return Stiefel(n, p, retraction=retraction)
    if kind == "stiefel-complex":
        return Stiefel(n, p, retraction=retraction, field="complex")
    if kind == "so":
        return SpecialOrthogonal(n, retraction=retraction)
    if kind == "unitary":
        return Unitary(n, retraction=retraction)
    raise ValueError(kind)


def template(backend, dtype_name):
    """A 1-element array of the backend, dtype and device under test (``like=``)."""
    if backend == "numpy":
        return np.zeros(1, dtype=getattr(np, dtype_name))
    if xs is None:
        pytest.skip("array-api-strict is not installed")
    dtype = getattr(xs, dtype_name)
    if backend == "strict":
        return xs.zeros(1, dtype=dtype)
    if backend == "device1":
        return xs.zeros(1, dtype=dtype, device=xs.Device("device1"))
    raise ValueError(backend)


def eps_of(dtype_name):
    """Machine epsilon of the (real part of the) dtype."""
    real = {"complex64": "float32", "complex128": "float64"}.get(dtype_name, dtype_name)
    return float(np.finfo(getattr(np, real)).eps)


def assert_same_array_kind(result, like):
    """``result`` has ``like``'s library, dtype and device."""
    assert type(result) is type(like), f"{type(result)} is not {type(like)}"
    assert result.dtype == like.dtype, f"dtype {result.dtype} != {like.dtype}"
    assert device_of(result) == device_of(like), (
        f"device {device_of(result)} != {device_of(like)}"
    )


def host(x):
    """NumPy copy of any array (float128 never appears; keeps the dtype)."""
    return to_numpy(x)


def fro(a):
    """Frobenius norm of a host array as a float."""
    return float(np.linalg.norm(np.asarray(a)))


def feasibility(x):
    """‖xᴴx − I‖_F computed on the host in float64/complex128."""
    x = np.asarray(host(x)).astype(np.complex128)
    return fro(x.conj().T @ x - np.eye(x.shape[-1]))


def skew_defect(x, v):
    """‖xᴴv + vᴴx‖_F on the host: zero iff v is tangent at x."""
    x = np.asarray(host(x)).astype(np.complex128)
    v = np.asarray(host(v)).astype(np.complex128)
    a = x.conj().T @ v
    return fro(a + a.conj().T)


def sqrt_size(n, p=1):
    return math.sqrt(max(n * p, 1))


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Each of the three backends in turn."""
    return request.param
