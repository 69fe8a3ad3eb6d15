r"""The manifold interface: what every manifold of orthopt answers.

A manifold ℳ here is a set of points stored as arrays of one shape
(``point_shape``), with, at every point x, a tangent space T_xℳ whose vectors
are stored as **ambient arrays of the point's shape** (for a Product: tuples of
them), and an inner product ⟨·, ·⟩_x on it (the Riemannian metric).

The abstract methods are exactly what a new manifold must write:

* ``dim`` and ``point_shape``;
* ``projection(x, u)``: the orthogonal projection of an ambient u onto T_x
  (for a quotient such as the Grassmann manifold: onto the horizontal space
  that represents T_x);
* ``euclidean_to_riemannian_hessian(x, g, h, v)``: Hess f(x)[v] from the
  Euclidean gradient g = ∇f(x) and the Euclidean Hessian-vector product
  h = ∇²f(x)[v] — the projection of h plus the manifold's Weingarten
  (curvature) term;
* ``retraction(x, v)``: a smooth map with R_x(0) = x and
  d/dt R_x(tv)|₀ = v (Absil, Mahony & Sepulchre 2008, §4.1);
* ``random_point``, ``feasibility`` (distance of an array from the constraint
  set, 0 for a flat space) and ``projection_onto_manifold``.

Everything else has a default that is right for a Riemannian submanifold of a
Euclidean array space with the induced metric ⟨u, v⟩ = Re Σ ū v (and for the
horizontal space of such a quotient): the Riemannian gradient is the projected
Euclidean gradient, vector transport is projection onto the new tangent space,
random tangent vectors are projected Gaussians. ``exp``, ``log`` and ``dist``
raise NotImplementedError until a manifold defines them.

Batches
-------
A stack of points, shape (*batch_shape, *point_shape), is acted on point by
point by every method. Two readings of such a stack exist, and the metric
methods offer both:

* **summed** (the default, pymanopt's "k copies"): the stack is *one* point of
  the power manifold ℳᵏ, whose metric is the sum of the k metrics.
  :meth:`~Manifold.inner_product`, :meth:`~Manifold.norm` and
  :meth:`~Manifold.dist` return 0-d arrays (the sum over the batch, and
  √Σ d_i² for the distance), and :meth:`~Manifold.random_tangent_vector` is
  a unit vector of ℳᵏ. A solver minimizing one scalar cost of the whole stack
  uses these unchanged.
* **per point** (k independent problems): :meth:`~Manifold.batch_inner_product`,
  :meth:`~Manifold.batch_norm` and :meth:`~Manifold.batch_dist` return one
  value per point, shape ``batch_shape``.

References
----------
Absil, Mahony & Sepulchre (2008), Optimization Algorithms on Matrix
Manifolds, Princeton. Boumal (2023), An Introduction to Optimization on
Smooth Manifolds, Cambridge (ch. 3, 5, 7 and 9 on submanifolds, Hessians and
quotients).
"""

from __future__ import annotations

import abc
import math

import numpy as np

from .. import backend as be
from ..backend import finfo_eps, get_namespace, is_complex_dtype

__all__ = ["Manifold"]

_DTYPE_NAMES = {"real": ("float32", "float64"), "complex": ("complex64", "complex128")}


class Manifold(abc.ABC):
    """Abstract Riemannian manifold whose points and tangent vectors are arrays.

    Parameters
    ----------
    field : {"real", "complex"}, default "real"
        Whether points are real (float32/float64) or complex
        (complex64/complex128) arrays.

    Notes
    -----
    Subclasses write the abstract methods (see the module docstring); the
    others default to the formulas of an embedded submanifold with the
    Euclidean metric Re Σ ū v.
    """

    def __init__(self, field="real"):
        if field not in _DTYPE_NAMES:
            raise ValueError(f"field must be 'real' or 'complex', got {field!r}")
        self._field = field

    # -- description --------------------------------------------------------

    @property
    def field(self):
        """"real" or "complex"."""
        return self._field

    @property
    def is_complex(self):
        """True for manifolds of complex arrays."""
        return self._field == "complex"

    @property
    @abc.abstractmethod
    def dim(self):
        """Dimension of the manifold as a real manifold."""

    @property
    @abc.abstractmethod
    def point_shape(self):
        """Shape of one point (without batch axes), a tuple of ints."""

    @property
    def point_ndim(self):
        """Number of trailing axes that hold one point: ``len(point_shape)``."""
        return len(self.point_shape)

    @property
    def typical_dist(self):
        """A typical distance between two points (the scale of a first step): √dim."""
        return math.sqrt(max(self.dim, 1))

    def batch_shape(self, x):
        """The leading batch axes of x: ``x.shape`` without the trailing ``point_shape``.

        Parameters
        ----------
        x : array, shape (*batch_shape, *point_shape)

        Returns
        -------
        tuple of int (``()`` for a single point)
        """
        return tuple(x.shape[: x.ndim - self.point_ndim])

    # -- metric --------------------------------------------------------------

    def inner_product(self, x, u, v):
        """Riemannian metric ⟨u, v⟩_x, summed over a batch (the power-manifold metric).

        The default is the embedded metric Re Σ ū v, the Euclidean inner product of
        the ambient arrays (Re tr(uᴴv) for matrices), which does not depend on x.

        Parameters
        ----------
        x : array, shape (*batch_shape, *point_shape)
            Base point.
        u, v : array, shape (*batch_shape, *point_shape)
            Tangent vectors at x.

        Returns
        -------
        0-d real array (of u's real dtype)
            For a batch: the sum over its points (see :meth:`batch_inner_product`
            for one value per point).
        """
        xp = get_namespace(u, v)
        prod = xp.conj(u) * v if is_complex_dtype(xp, u.dtype) else u * v
        return xp.real(xp.sum(prod))

    def batch_inner_product(self, x, u, v):
        """⟨u_i, v_i⟩_{x_i} for each point of a batch: the k-independent-problems metric.

        Parameters
        ----------
        x, u, v : array, shape (*batch_shape, *point_shape)

        Returns
        -------
        real array, shape batch_shape (0-d for a single point)
        """
        xp = get_namespace(u, v)
        prod = xp.conj(u) * v if is_complex_dtype(xp, u.dtype) else u * v
        axes = tuple(range(-self.point_ndim, 0))
        return xp.real(xp.sum(prod, axis=axes))

    def norm(self, x, v):
        """‖v‖_x = √⟨v, v⟩_x, over the whole batch (0-d real array)."""
        xp = get_namespace(v)
        return xp.sqrt(self.inner_product(x, v, v))

    def batch_norm(self, x, v):
        """‖v_i‖_{x_i} for each point of a batch, shape batch_shape."""
        xp = get_namespace(v)
        return xp.sqrt(self.batch_inner_product(x, v, v))

    # -- tangent spaces ------------------------------------------------------

    @abc.abstractmethod
    def projection(self, x, u):
        """Orthogonal projection of an ambient u onto the tangent space at x.

        Parameters
        ----------
        x : array, shape (*batch_shape, *point_shape)
        u : array, shape (*batch_shape, *point_shape), any ambient array

        Returns
        -------
        array, shape of u, tangent at x
        """

    def to_tangent_space(self, x, u):
        """Alias of :meth:`projection` (pymanopt's name)."""
        return self.projection(x, u)

    def euclidean_to_riemannian_gradient(self, x, euclidean_gradient):
        """Riemannian gradient: the tangent projection of the Euclidean one.

        Right for any Riemannian submanifold with the induced metric, and for the
        horizontal lift of the gradient on a Riemannian quotient of one.

        Parameters
        ----------
        x : array, shape (*batch_shape, *point_shape)
        euclidean_gradient : array, shape (*batch_shape, *point_shape)
            ∂f/∂x of a smooth extension of f to the ambient space (for complex
            x: ∂f/∂Re x + i ∂f/∂Im x).

        Returns
        -------
        array, shape of x
        """
        return self.projection(x, euclidean_gradient)

    @abc.abstractmethod
    def euclidean_to_riemannian_hessian(self, x, euclidean_gradient, euclidean_hessian, v):
        """Riemannian Hessian-vector product Hess f(x)[v] from Euclidean derivatives.

        Parameters
        ----------
        x : array, shape (*batch_shape, *point_shape)
        euclidean_gradient : array, shape of x
            ∇f(x).
        euclidean_hessian : array, shape of x
            ∇²f(x)[v], the Euclidean Hessian applied to v.
        v : array, shape of x
            Tangent direction at x.

        Returns
        -------
        array, shape of x, tangent at x
        """

    def transport(self, x, y, v):
        """Vector transport by projection: carry v ∈ T_x to T_y as P_y(v).

        Parameters
        ----------
        x, y : array, shape (*batch_shape, *point_shape)
        v : array, tangent at x

        Returns
        -------
        array, tangent at y
        """
        return self.projection(y, v)

    def zero_vector(self, x):
        """The zero tangent vector at x (shape, dtype and device of x)."""
        xp = get_namespace(x)
        return xp.zeros_like(x)

    # -- moving --------------------------------------------------------------

    @abc.abstractmethod
    def retraction(self, x, v):
        """R_x(v): a point reached from x along the tangent vector v.

        Parameters
        ----------
        x : array, shape (*batch_shape, *point_shape)
        v : array, shape of x, tangent at x

        Returns
        -------
        array, shape of x, same dtype and device
        """

    def exp(self, x, v):
        """Riemannian exponential map exp_x(v) (the geodesic from x with velocity v at t = 1)."""
        raise NotImplementedError(
            f"{self!r} has no exponential map; use M.retraction(x, v), a first-order "
            f"approximation of it"
        )

    def log(self, x, y):
        """Riemannian logarithm: the tangent vector v at x of smallest norm with exp_x(v) = y."""
        raise NotImplementedError(f"{self!r} has no logarithm map (log) implemented")

    def dist(self, x, y):
        """Riemannian distance ‖log_x(y)‖_x; for a batch √Σ d(x_i, y_i)² (0-d real array).

        Parameters
        ----------
        x, y : array, shape (*batch_shape, *point_shape)

        Returns
        -------
        0-d real array
        """
        return self.norm(x, self.log(x, y))

    def batch_dist(self, x, y):
        """d(x_i, y_i) for each point of a batch: real array, shape batch_shape."""
        return self.batch_norm(x, self.log(x, y))

    # -- random sampling -----------------------------------------------------

    @abc.abstractmethod
    def random_point(self, rng=None, dtype=None, like=None, shape=()):
        """A random point (or a stack of independent ones).

        Parameters
        ----------
        rng : None, int or numpy.random.Generator
            Seed or generator; the same seed gives the same point on every backend.
        dtype : dtype or str, optional
            Default float64 (complex128 for complex manifolds), or ``like``'s.
        like : array, optional
            Create the point in this array's namespace and on its device.
        shape : int or tuple of int, default ()
            Batch shape: the result has shape (*shape, *point_shape).

        Returns
        -------
        array, shape (*shape, *point_shape)
        """

    def random_tangent_vector(self, x, rng=None):
        """A random unit tangent vector at x (a projected Gaussian).

        Parameters
        ----------
        x : array, shape (*batch_shape, *point_shape)
        rng : None, int or numpy.random.Generator

        Returns
        -------
        array, shape, dtype and device of x
            ``norm(x, v) = 1`` over the whole batch (a unit vector of the power
            manifold; dividing each point's block by its :meth:`batch_norm`
            gives unit vectors point by point); v = 0 when the manifold has
            dimension 0.
        """
        if self.dim == 0:
            # a point (Gr(n, n), O(1), SO(1)): the projection of a Gaussian is pure
            # rounding error, which the normalization would blow up to norm 1
            return self.zero_vector(x)
        xp = get_namespace(x)
        u = self._gaussian(tuple(x.shape), rng, xp, x.dtype, x)
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

    def _target(self, dtype, like):
        """Resolve the (namespace, dtype) of a new point from ``dtype`` and ``like``."""
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
        """Standard (complex) Gaussian host array of ``shape`` moved to the target."""
        rng = be.default_rng(rng)
        g = rng.standard_normal(shape)
        if self.is_complex:
            g = (g + 1j * rng.standard_normal(shape)) / math.sqrt(2)
        if like is None:
            return np.asarray(g, dtype=dtype)
        return be.asarray_like(g, like=like, dtype=dtype)

    # -- validation ----------------------------------------------------------

    #: how :meth:`check_point`'s message names the feasibility error
    _FEASIBILITY_NAME = "feasibility error"

    @abc.abstractmethod
    def feasibility(self, x):
        """Distance of an array x from the constraint set (0 for a flat space), as a float.

        The largest value over a batch; :meth:`check_point` compares it with
        :meth:`default_atol`.
        """

    @abc.abstractmethod
    def projection_onto_manifold(self, x):
        """The nearest point of the manifold to an ambient array x (shape of x)."""

    def default_atol(self, dtype, xp=None):
        """Default feasibility tolerance for :meth:`check_point`: 1000·eps(dtype)·√n₁.

        n₁ is the length of the first axis of a point (n for n×p matrices).
        """
        xp = get_namespace(np.empty(0)) if xp is None else xp
        first_axis = self.point_shape[0] if self.point_shape else 1
        return 1000 * finfo_eps(xp, dtype) * math.sqrt(first_axis)

    def _check_array(self, x, name="x"):
        """Type, trailing shape, dtype (floating, of the manifold's field) and finiteness of x."""
        if not be._is_array(x):
            raise TypeError(
                f"{name} must be an array (NumPy, CuPy, array-api-strict, ...), "
                f"got {type(x).__name__}"
            )
        xp = get_namespace(x)
        shape = self.point_shape
        if x.ndim < len(shape) or tuple(x.shape[x.ndim - len(shape):]) != shape:
            where = "×".join(str(s) for s in shape)
            raise ValueError(
                f"{name} has shape {tuple(x.shape)}, but points of {self!r} are "
                f"{where} arrays: shape {shape} "
                f"(or {(2,) + shape} for a batch of 2 points)"
            )
        if not xp.isdtype(x.dtype, ("real floating", "complex floating")):
            raise ValueError(
                f"{name} has dtype {x.dtype}; points must be floating point: "
                f"{' or '.join(_DTYPE_NAMES[self._field])} (use x.astype(...))"
            )
        if is_complex_dtype(xp, x.dtype) and not self.is_complex:
            raise ValueError(
                f"{name} has complex dtype {x.dtype} but {self!r} is a real manifold; "
                f"pass a real array, or use a complex manifold (Unitary, or "
                f"field='complex') for complex points"
            )
        if not is_complex_dtype(xp, x.dtype) and self.is_complex:
            raise ValueError(
                f"{name} has real dtype {x.dtype} but {self!r} is a complex manifold; "
                f"convert with x.astype(complex128) (or complex64)"
            )
        if not bool(xp.all(xp.isfinite(x))):
            raise ValueError(f"{name} contains NaN or inf entries; "
                             f"a point of {self!r} must be finite")
        return xp

    def check_point(self, x, atol=None):
        """Validate a point (or a stack of points) and return its feasibility error.

        Parameters
        ----------
        x : array, shape (*batch_shape, *point_shape)
        atol : float, optional
            Largest accepted :meth:`feasibility`; default :meth:`default_atol`.

        Returns
        -------
        float
            :meth:`feasibility` of x (the largest over a batch).

        Raises
        ------
        TypeError
            If x is not an array.
        ValueError
            Wrong shape, wrong dtype (integer; complex on a real manifold;
            real on a complex one), NaN or inf entries, or a point off the
            manifold (the message gives the error and the fix).
        """
        xp = self._check_array(x)
        err = self.feasibility(x)
        atol = self.default_atol(x.dtype, xp) if atol is None else atol
        if not err <= atol:
            raise ValueError(
                f"x is not on {self!r}: {self._FEASIBILITY_NAME} = {err:.1e} > atol = {atol:.1e}; "
                f"pass x = M.projection_onto_manifold(x) to use the nearest point"
            )
        return err


def _check_same_shape(x, v, what):
    """A clear error instead of a broadcasting one when v's shape is not x's."""
    if not (hasattr(x, "shape") and hasattr(v, "shape")):
        return  # not arrays: the array library reports what is wrong
    x_shape, v_shape = tuple(x.shape), tuple(v.shape)
    if x_shape != v_shape:
        raise ValueError(f"{what} has shape {v_shape} but the point x has shape {x_shape}; "
                         f"tangent vectors are ambient matrices of x's shape")


def _batch_tuple(shape):
    """A batch-shape argument as a tuple: 3 → (3,), None → ()."""
    if shape is None:
        return ()
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    shape = tuple(shape)
    for s in shape:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"shape must be a tuple of non-negative integers, got {shape!r}")
    return tuple(int(s) for s in shape)
