r"""The common skeleton of the matrix manifolds {x ∈ 𝔽^{n×p} : xᴴx = I}.

Every manifold in orthopt is a set of n×p matrices with orthonormal columns
(𝔽 = ℝ or ℂ), possibly with an extra condition (det x = 1 for SO(n)). They
share:

* the **embedded (Euclidean) metric** ⟨u, v⟩ = Re tr(uᴴv), inherited from
  𝔽^{n×p} ≅ ℝ^{np} or ℝ^{2np};
* **tangent vectors stored as ambient n×p matrices**: v is tangent at x iff
  xᴴv is skew-Hermitian, xᴴv + vᴴx = 0 (differentiate xᴴx = I);
* the **Riemannian gradient** as the orthogonal projection of the Euclidean
  gradient onto the tangent space (true for any Riemannian submanifold with
  the induced metric);
* **transport by projection**: a tangent vector at x is carried to y by
  projecting it onto the tangent space at y (a vector transport in the sense
  of Absil, Mahony & Sepulchre 2008, §8.1).

Subclasses provide the projection, the retractions and random points. A
retraction is a smooth map R_x from the tangent space at x onto the manifold
with R_x(0) = x and d/dt R_x(tv)|_{t=0} = v: a first-order approximation of
the exponential map that is cheap to compute.

Arrays may carry leading batch dimensions, shape (..., n, p): every method
then acts on each matrix of the stack independently.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend as be
from ..backend import conj_transpose, finfo_eps, get_namespace, is_complex_dtype

__all__ = ["Manifold"]

_DTYPE_NAMES = {"real": ("float32", "float64"), "complex": ("complex64", "complex128")}


class Manifold:
    """Base class of matrix manifolds with orthonormal columns.

    Parameters
    ----------
    n, p : int
        Points are n×p matrices, 1 ≤ p ≤ n.
    field : {"real", "complex"}
        Whether points are real (xᵀx = I) or complex (xᴴx = I).
    retraction : str
        Name of the retraction used by :meth:`retraction`; one of the
        subclass's ``RETRACTIONS``.
    """

    RETRACTIONS: tuple = ()

    def __init__(self, n, p, field="real", retraction="qr"):
        for name, value in (("n", n), ("p", p)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name} must be an integer, got {value!r}")
        if n < 1:
            raise ValueError(f"n must be at least 1, got n={n}")
        if p < 1:
            raise ValueError(f"p must be at least 1, got p={p}")
        if p > n:
            raise ValueError(
                f"p={p} > n={n}: at most n orthonormal columns fit in n dimensions; "
                f"use p ≤ n (or transpose your problem)"
            )
        if field not in _DTYPE_NAMES:
            raise ValueError(f"field must be 'real' or 'complex', got {field!r}")
        if retraction not in self.RETRACTIONS:
            raise ValueError(
                f"unknown retraction {retraction!r} for {type(self).__name__}; "
                f"valid names: {', '.join(repr(r) for r in self.RETRACTIONS)}"
            )
        self._n = int(n)
        self._p = int(p)
        self._field = field
        self._retraction_name = retraction
        self._retract = getattr(self, f"_retract_{retraction}")

    # -- description --------------------------------------------------------

    @property
    def n(self):
        """Number of rows of a point."""
        return self._n

    @property
    def p(self):
        """Number of columns of a point."""
        return self._p

    @property
    def field(self):
        """"real" or "complex"."""
        return self._field

    @property
    def is_complex(self):
        """True for manifolds of complex matrices."""
        return self._field == "complex"

    @property
    def retraction_name(self):
        """The name of the retraction used by :meth:`retraction`."""
        return self._retraction_name

    @property
    def point_shape(self):
        """Shape (n, p) of one point."""
        return (self._n, self._p)

    @property
    def dim(self):  # pragma: no cover - abstract
        """Dimension of the manifold as a real manifold."""
        raise NotImplementedError

    @property
    def typical_dist(self):
        """A typical distance between two points (the scale of a first step)."""
        return math.sqrt(self._p)

    def __repr__(self):
        return f"{type(self).__name__}({self._n}, {self._p}, retraction={self._retraction_name!r})"

    # -- metric --------------------------------------------------------------

    def inner_product(self, x, u, v):
        """Embedded metric ⟨u, v⟩_x = Re tr(uᴴv).

        Parameters
        ----------
        x : array, shape (..., n, p)
            Base point (the metric does not depend on it).
        u, v : array, shape (..., n, p)
            Tangent vectors at x.

        Returns
        -------
        0-d array (real), or shape (...) for batched input
        """
        xp = get_namespace(u, v)
        prod = xp.conj(u) * v if is_complex_dtype(xp, u.dtype) else u * v
        return xp.real(xp.sum(prod, axis=(-2, -1)))

    def norm(self, x, v):
        """Norm ‖v‖_x = √⟨v, v⟩_x (the Frobenius norm of the ambient matrix)."""
        xp = get_namespace(v)
        return xp.sqrt(self.inner_product(x, v, v))

    # -- tangent spaces ------------------------------------------------------

    def projection(self, x, u):  # pragma: no cover - abstract
        """Orthogonal projection of an ambient u onto the tangent space at x."""
        raise NotImplementedError

    def to_tangent_space(self, x, u):
        """Alias of :meth:`projection` (pymanopt's name)."""
        return self.projection(x, u)

    def euclidean_to_riemannian_gradient(self, x, euclidean_gradient):
        """Riemannian gradient: the tangent projection of the Euclidean one.

        Parameters
        ----------
        x : array, shape (..., n, p)
        euclidean_gradient : array, shape (..., n, p)
            ∂f/∂x of a smooth extension of f to 𝔽^{n×p} (for complex x:
            ∂f/∂Re x + i ∂f/∂Im x).
        """
        return self.projection(x, euclidean_gradient)

    def euclidean_to_riemannian_hessian(self, x, euclidean_gradient, euclidean_hessian, v):
        r"""Riemannian Hessian-vector product from Euclidean derivatives.

        For a Riemannian submanifold with the embedded metric (Absil, Mahony &
        Trumpf 2013), Hess f(x)[v] = P_x(∇²f(x)[v]) + 𝔚_x(v, P_x^⊥∇f(x)),
        with the Weingarten map of {xᴴx = I}
        𝔚_x(v, w) = −P_x(v herm(xᴴw)); since herm(xᴴP_x(u)) = 0,

            Hess f(x)[v] = P_x(∇²f(x)[v] − v herm(xᴴ∇f(x))),

        the same for ℝ and ℂ (inner product Re tr(uᴴv), ∇f = ∂f/∂Re x + i ∂f/∂Im x),
        for St(n, p), SO(n) and U(n). It agrees with pymanopt's Stiefel and
        group formulas (there SO(n)/U(n) vectors are stored as Ω = xᴴv).

        Parameters
        ----------
        x, euclidean_gradient, euclidean_hessian, v : array, shape (..., n, p)
            The point, ∇f(x), ∇²f(x)[v] and the tangent direction v.

        Returns
        -------
        array, shape (..., n, p), tangent at x
        """
        from ..linalg import herm

        correction = v @ herm(conj_transpose(x) @ euclidean_gradient)
        return self.projection(x, euclidean_hessian - correction)

    def transport(self, x, y, v):
        """Vector transport by projection: carry v ∈ T_x to T_y as P_y(v)."""
        return self.projection(y, v)

    def zero_vector(self, x):
        """The zero tangent vector at x."""
        xp = get_namespace(x)
        return xp.zeros_like(x)

    # -- retractions ---------------------------------------------------------

    def retraction(self, x, v):
        """Move from x along the tangent vector v: R_x(v), on the manifold.

        Parameters
        ----------
        x : array, shape (..., n, p)
            A point.
        v : array, shape (..., n, p)
            A tangent vector at x.

        Returns
        -------
        array, shape (..., n, p)
            The retracted point, same dtype and device as x.
        """
        _check_same_shape(x, v, "the tangent vector v")
        return self._retract(x, v)

    def exp(self, x, v):  # pragma: no cover - abstract
        """Riemannian exponential map (geodesic of the embedded metric)."""
        raise NotImplementedError

    def log(self, x, y):  # pragma: no cover - abstract
        raise NotImplementedError

    def dist(self, x, y):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- random sampling -----------------------------------------------------

    def _target(self, dtype, like):
        """Resolve the (namespace, dtype, device-template) of a new point."""
        default = _DTYPE_NAMES[self._field][1]
        if like is not None:
            xp = get_namespace(like)
            dtype = like.dtype if dtype is None else dtype
        else:
            xp = get_namespace(np.empty(0))
            dtype = getattr(np, default) if dtype is None else dtype
        if isinstance(dtype, str):
            if not hasattr(xp, dtype):
                raise ValueError(f"unknown dtype {dtype!r}; use one of "
                                 f"{', '.join(_DTYPE_NAMES[self._field])}")
            dtype = getattr(xp, dtype)
        if not any(dtype == supported for supported in
                   (xp.float32, xp.float64, xp.complex64, xp.complex128)):
            raise ValueError(f"dtype {getattr(dtype, '__name__', dtype)} is not supported "
                             f"(LAPACK works in single and "
                             f"double precision); use one of "
                             f"{', '.join(_DTYPE_NAMES[self._field])}")
        if is_complex_dtype(xp, dtype) != self.is_complex:
            kind = "complex" if self.is_complex else "real"
            raise ValueError(
                f"dtype {getattr(dtype, '__name__', dtype)} does not fit {self!r}, whose points "
                f"are {kind}; "
                f"use one of {', '.join(_DTYPE_NAMES[self._field])}"
            )
        return xp, dtype

    def _gaussian(self, shape, rng, xp, dtype, like):
        """Standard (complex) Gaussian host array moved to the target."""
        rng = be.default_rng(rng)
        g = rng.standard_normal(shape)
        if self.is_complex:
            g = (g + 1j * rng.standard_normal(shape)) / math.sqrt(2)
        if like is None:
            return np.asarray(g, dtype=dtype)
        return be.asarray_like(g, like=like, dtype=dtype)

    def random_point(self, rng=None, dtype=None, like=None):  # pragma: no cover
        raise NotImplementedError

    def random_tangent_vector(self, x, rng=None):
        """A random unit-norm tangent vector at x (projected Gaussian).

        Parameters
        ----------
        x : array, shape (n, p)
        rng : None, int or numpy.random.Generator

        Returns
        -------
        array, shape (n, p), dtype and device of x, ‖v‖ = 1 (v = 0 when the
        manifold has dimension 0)
        """
        xp = get_namespace(x)
        u = self._gaussian(x.shape, rng, xp, x.dtype, x)
        # Project, normalize, and project and normalize once more: when u lies
        # almost in the normal space (likely when the tangent space is small, e.g.
        # SO(2) or U(1), both of dimension 1), P_x(u) is short and its rounding
        # error, of size eps·‖u‖, is magnified by 1/‖P_x(u)‖ in the normalization
        # (a normal component of 250·eps was seen on SO(2)); the second projection
        # removes it.
        v = self._unit(x, self.projection(x, u))
        return self._unit(x, self.projection(x, v))

    def _unit(self, x, v):
        """v / ‖v‖, and v unchanged when ‖v‖ = 0."""
        xp = get_namespace(x)
        norm = self.norm(x, v)
        # zero-dimensional manifolds (St(1, 1) = O(1), SO(1)) only have v = 0
        safe = xp.where(norm > 0, norm, xp.ones_like(norm))
        return v / xp.astype(safe, x.dtype)

    # -- validation ----------------------------------------------------------

    def default_atol(self, dtype, xp=None):
        """Default feasibility tolerance for :meth:`check_point`: 1000·eps(dtype)·√n."""
        xp = get_namespace(np.empty(0)) if xp is None else xp
        return 1000 * finfo_eps(xp, dtype) * math.sqrt(self._n)

    def feasibility(self, x):
        """‖xᴴx − I‖_F (the largest over a batch), as a float."""
        xp = get_namespace(x)
        gram = conj_transpose(x) @ x
        ident = be.eye_like(gram)
        return float(xp.max(xp.linalg.matrix_norm(gram - ident)))

    def check_point(self, x, atol=None):
        """Validate a point and return its feasibility error ‖xᴴx − I‖_F.

        Parameters
        ----------
        x : array, shape (..., n, p)
        atol : float, optional
            Largest accepted ‖xᴴx − I‖_F; default :meth:`default_atol`.

        Returns
        -------
        float
            ‖xᴴx − I‖_F (the largest over a batch).

        Raises
        ------
        TypeError
            If x is not an array.
        ValueError
            Wrong shape, wrong dtype (integer; complex on a real manifold;
            real on a complex one), NaN or inf entries, or a point off the
            manifold (the message gives the error and the fix).
        """
        if not be._is_array(x):
            raise TypeError(
                f"x must be an array (NumPy, CuPy, array-api-strict, ...), got {type(x).__name__}"
            )
        xp = get_namespace(x)
        if x.ndim < 2 or tuple(x.shape[-2:]) != self.point_shape:
            raise ValueError(
                f"x has shape {tuple(x.shape)}, but points of {self!r} are "
                f"{self._n}×{self._p} matrices: shape {self.point_shape} "
                f"(or (k, {self._n}, {self._p}) for a batch of k points)"
            )
        if not xp.isdtype(x.dtype, ("real floating", "complex floating")):
            raise ValueError(
                f"x has dtype {x.dtype}; points must be floating point: "
                f"{' or '.join(_DTYPE_NAMES[self._field])} (use x.astype(...))"
            )
        if is_complex_dtype(xp, x.dtype) and not self.is_complex:
            raise ValueError(
                f"x has complex dtype {x.dtype} but {self!r} is a real manifold; "
                f"pass a real array, or use a complex manifold (Unitary, or "
                f"Stiefel(..., field='complex')) for xᴴx = I"
            )
        if not is_complex_dtype(xp, x.dtype) and self.is_complex:
            raise ValueError(
                f"x has real dtype {x.dtype} but {self!r} is a complex manifold; "
                f"convert with x.astype(complex128) (or complex64)"
            )
        if not bool(xp.all(xp.isfinite(x))):
            raise ValueError(f"x contains NaN or inf entries; a point of {self!r} must be finite")
        err = self.feasibility(x)
        atol = self.default_atol(x.dtype, xp) if atol is None else atol
        if not err <= atol:
            raise ValueError(
                f"x is not on {self!r}: ‖xᴴx − I‖ = {err:.1e} > atol = {atol:.1e}; "
                f"pass x = M.projection_onto_manifold(x) to use the nearest point"
            )
        return err

    def projection_onto_manifold(self, x):
        """The nearest point of the manifold to an ambient x (its polar factor).

        Parameters
        ----------
        x : array, shape (..., n, p), full column rank

        Returns
        -------
        array, shape (..., n, p): u vᴴ from the thin SVD x = u s vᴴ, the
        minimizer of ‖x − y‖_F over the manifold (Fan & Hoffman 1955).
        """
        xp = get_namespace(x)
        u, _, vh = xp.linalg.svd(x, full_matrices=False)
        return u @ vh


def _check_same_shape(x, v, what):
    """A clear error instead of a broadcasting one when v's shape is not x's."""
    if not (hasattr(x, "shape") and hasattr(v, "shape")):
        return  # not arrays: the array library reports what is wrong
    x_shape, v_shape = tuple(x.shape), tuple(v.shape)
    if x_shape != v_shape:
        raise ValueError(f"{what} has shape {v_shape} but the point x has shape {x_shape}; "
                         f"tangent vectors are ambient matrices of x's shape")
