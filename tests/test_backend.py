"""orthopt.backend: per-call namespace dispatch, devices, dtypes, host transfers."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import BACKENDS, template, xs
from orthopt.backend import (
    asarray_like,
    conj_transpose,
    default_rng,
    device_of,
    eye_like,
    finfo_eps,
    get_namespace,
    is_complex_dtype,
    is_cupy,
    is_numpy,
    real_dtype_of,
    to_float,
    to_numpy,
)

DTYPES = ("float32", "float64", "complex64", "complex128")


@pytest.mark.parametrize("backend", BACKENDS)
def test_get_namespace_per_call(backend):
    like = template(backend, "float64")
    xp = get_namespace(like)
    assert is_numpy(xp) == (backend == "numpy")
    assert not is_cupy(xp)
    # scalars and None are ignored, so mixed calls dispatch on the array
    assert get_namespace(like, 2.0, None) is xp


def test_get_namespace_rejects_mixed_libraries():
    with pytest.raises(TypeError):
        get_namespace(np.zeros(2), xs.zeros(2))


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_asarray_like_keeps_library_dtype_device(backend, dtype_name):
    like = template(backend, dtype_name)
    out = asarray_like(np.arange(6.0).reshape(2, 3), like=like)
    assert type(out) is type(like)
    assert out.dtype == like.dtype
    assert device_of(out) == device_of(like)
    np.testing.assert_array_equal(to_numpy(out).real, np.arange(6.0).reshape(2, 3))


def test_asarray_like_without_template_is_numpy():
    out = asarray_like([1, 2], dtype=np.float32)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32


@pytest.mark.parametrize("backend", BACKENDS)
def test_to_numpy_round_trip(backend):
    like = template(backend, "complex128")
    host = np.array([[1 + 2j, 3], [4, 5j]])
    back = to_numpy(asarray_like(host, like=like))
    assert isinstance(back, np.ndarray)
    np.testing.assert_array_equal(back, host)
    assert to_numpy(3.0) == 3.0


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_eye_and_conj_transpose(backend, dtype_name):
    like = template(backend, dtype_name)
    a = asarray_like(np.array([[1 + 1j, 2], [3, 4 - 2j]]) if "complex" in dtype_name
                     else np.array([[1.0, 2], [3, 4]]), like=like)
    ident = eye_like(a)
    assert ident.dtype == a.dtype and device_of(ident) == device_of(a)
    np.testing.assert_array_equal(to_numpy(ident), np.eye(2))
    assert tuple(eye_like(a, 5).shape) == (5, 5)
    np.testing.assert_array_equal(to_numpy(conj_transpose(a)), to_numpy(a).conj().T)


@pytest.mark.parametrize("dtype_name,expected", [("float32", np.finfo(np.float32).eps),
                                                 ("complex64", np.finfo(np.float32).eps),
                                                 ("float64", np.finfo(np.float64).eps),
                                                 ("complex128", np.finfo(np.float64).eps)])
@pytest.mark.parametrize("backend", BACKENDS)
def test_dtype_helpers(backend, dtype_name, expected):
    like = template(backend, dtype_name)
    xp = get_namespace(like)
    assert finfo_eps(xp, like.dtype) == float(expected)
    assert is_complex_dtype(xp, like.dtype) == dtype_name.startswith("complex")
    real = real_dtype_of(xp, like.dtype)
    assert not is_complex_dtype(xp, real)


@pytest.mark.parametrize("backend", BACKENDS)
def test_to_float(backend):
    like = template(backend, "complex128")
    xp = get_namespace(like)
    value = xp.sum(asarray_like(np.array([1.5 + 2j, 1.0]), like=like))
    assert to_float(value) == 2.5
    assert to_float(3) == 3.0 and to_float(2 + 5j) == 2.0


def test_default_rng_is_reproducible():
    assert default_rng(7).standard_normal() == default_rng(7).standard_normal()
    g = np.random.default_rng(1)
    assert default_rng(g) is g


def test_device1_arrays_do_not_mix_with_default_device():
    """The guard the device1 backend relies on: array-api-strict refuses cross-device math."""
    a = xs.zeros(2, device=xs.Device("device1"))
    b = xs.zeros(2)
    with pytest.raises(ValueError):
        a + b
