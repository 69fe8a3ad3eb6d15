r"""Product manifolds ℳ₁ × ℳ₂ × … × ℳ_m.

Geometry
--------
* Points: tuples x = (x₁, …, x_m), x_i a point of ℳ_i (an array of
  ``M_i.point_shape``). Tangent vectors: tuples v = (v₁, …, v_m), v_i ∈ T_{x_i}ℳ_i,
  so T_x(ℳ₁ × … × ℳ_m) = T_{x₁}ℳ₁ × … × T_{x_m}ℳ_m; dimension Σ dim ℳ_i.
* Metric: the sum of the factor metrics, ⟨u, v⟩_x = Σ ⟨u_i, v_i⟩_{x_i}; hence
  ‖v‖² = Σ ‖v_i‖² and dist(x, y)² = Σ dist_i(x_i, y_i)² (geodesics of a
  product are products of geodesics).
* Everything else — projection, Riemannian gradient and Hessian, retraction,
  exponential, logarithm, transport, random points — acts factor by factor,
  with each factor's own retraction. A cost f(x₁, …, x_m) has the Euclidean
  gradient (∂f/∂x₁, …, ∂f/∂x_m).

Results are :class:`ProductVector`, tuples with elementwise arithmetic
(u + v, u − v, t·v, v/t, −v), so that the update formulas of a solver read the
same as for a single array. Inputs may be any tuple or list of arrays.

Batches: each factor may carry the same leading batch axes,
x_i of shape (*batch_shape, *M_i.point_shape).

References
----------
Absil, Mahony & Sepulchre (2008), Optimization Algorithms on Matrix Manifolds,
§3.6.2 (product manifolds). pymanopt's ``Product`` and its
``_ProductTangentVector``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend as be
from ..backend import get_namespace
from .base import Manifold, _batch_tuple

__all__ = ["Product", "ProductVector"]

_PRECISION = {"float32": "single", "complex64": "single",
              "float64": "double", "complex128": "double"}
_NAME = {("real", "single"): "float32", ("real", "double"): "float64",
         ("complex", "single"): "complex64", ("complex", "double"): "complex128"}


class ProductVector(tuple):
    """A point or tangent vector of a :class:`Product`: a tuple of arrays with arithmetic.

    ``u + v``, ``u - v`` (another tuple of as many arrays), ``t * v``, ``v * t``,
    ``v / t`` (a scalar, or a tuple of one scalar per factor) and ``-v`` act factor
    by factor. NumPy scalars on the left work as well (``__array_ufunc__ = None``
    makes NumPy defer to this class).
    """

    __slots__ = ()
    __array_ufunc__ = None

    def _zip(self, other):
        if isinstance(other, (tuple, list)):
            if len(other) != len(self):
                raise ValueError(f"cannot combine a product vector of {len(self)} factors with "
                                 f"one of {len(other)} factors")
            return zip(self, other)
        return ((a, other) for a in self)

    def __add__(self, other):
        return ProductVector(a + b for a, b in self._zip(other))

    def __radd__(self, other):
        return ProductVector(b + a for a, b in self._zip(other))

    def __sub__(self, other):
        return ProductVector(a - b for a, b in self._zip(other))

    def __rsub__(self, other):
        return ProductVector(b - a for a, b in self._zip(other))

    def __mul__(self, other):
        return ProductVector(a * b for a, b in self._zip(other))

    def __rmul__(self, other):
        return ProductVector(b * a for a, b in self._zip(other))

    def __truediv__(self, other):
        return ProductVector(a / b for a, b in self._zip(other))

    def __neg__(self):
        return ProductVector(-a for a in self)

    def __pos__(self):
        return self

    def __repr__(self):
        return f"ProductVector({tuple.__repr__(self)})"


class Product(Manifold):
    """The product ℳ₁ × … × ℳ_m of manifolds; points and tangent vectors are tuples.

    Parameters
    ----------
    manifolds : sequence of Manifold
        The factors, at least one (a factor may itself be a Product).

    Examples
    --------
    >>> from orthopt.manifolds import Euclidean, Product, SpecialOrthogonal, Stiefel
    >>> M = Product([Stiefel(5, 2), SpecialOrthogonal(3), Euclidean(3, 2)])
    >>> x = M.random_point(rng=0)
    >>> [a.shape for a in x]
    [(5, 2), (3, 3), (3, 2)]
    >>> v = M.random_tangent_vector(x, rng=1)
    >>> y = M.retraction(x, 0.1 * v)
    >>> M.check_point(y) < 1e-12
    True
    """

    def __init__(self, manifolds):
        if isinstance(manifolds, Manifold):
            raise TypeError("Product takes a list of manifolds: Product([M1, M2, ...])")
        manifolds = tuple(manifolds)
        if not manifolds:
            raise ValueError("Product needs at least one factor: Product([M1, M2, ...])")
        for i, m in enumerate(manifolds):
            if not isinstance(m, Manifold):
                raise TypeError(f"factor {i} of Product is {type(m).__name__}, not an orthopt "
                                f"manifold (Stiefel, Grassmann, Euclidean, ...)")
        self._manifolds = manifolds
        fields = {m.field for m in manifolds}
        # "mixed" (real and complex factors) is not a field of Manifold.__init__
        self._field = fields.pop() if len(fields) == 1 else "mixed"

    def __repr__(self):
        return f"Product([{', '.join(repr(m) for m in self._manifolds)}])"

    def __len__(self):
        return len(self._manifolds)

    def __getitem__(self, i):
        return self._manifolds[i]

    @property
    def manifolds(self):
        """The factors, a tuple."""
        return self._manifolds

    # -- description --------------------------------------------------------

    @property
    def dim(self):
        """Σ dim ℳ_i."""
        return sum(m.dim for m in self._manifolds)

    @property
    def point_shape(self):
        """Tuple of the factors' point shapes, e.g. ((5, 2), (3, 3), (3, 2))."""
        return tuple(m.point_shape for m in self._manifolds)

    @property
    def point_ndim(self):
        """Tuple of the factors' numbers of point axes."""
        return tuple(m.point_ndim for m in self._manifolds)

    @property
    def typical_dist(self):
        """√Σ typical_dist_i²."""
        return math.sqrt(sum(m.typical_dist ** 2 for m in self._manifolds))

    @property
    def retraction_name(self):
        """Tuple of the factors' retraction names."""
        return tuple(getattr(m, "retraction_name", None) for m in self._manifolds)

    def batch_shape(self, x):
        """The common leading batch axes of the factors of x.

        Raises
        ------
        ValueError
            When the factors carry different batch axes.
        """
        parts = self._parts(x)
        shapes = [m.batch_shape(a) for m, a in zip(self._manifolds, parts)]
        if any(s != shapes[0] for s in shapes[1:]):
            listing = ", ".join(f"factor {i} {s}" for i, s in enumerate(shapes))
            raise ValueError(
                f"the factors of a point of {self!r} have different batch shapes ({listing}); "
                f"a batch of product points needs the same leading axes on every factor"
            )
        return shapes[0]

    def _parts(self, x, name="x"):
        """x as a tuple of one array per factor, with a clear error otherwise."""
        k = len(self._manifolds)
        if not isinstance(x, (tuple, list)):
            raise TypeError(
                f"{name} must be a tuple of {k} arrays, one per factor of {self!r}, "
                f"got {type(x).__name__}"
            )
        if len(x) != k:
            raise ValueError(
                f"{name} has {len(x)} factors but {self!r} has {k}: expected a tuple of {k} "
                f"arrays with shapes {self.point_shape}, given {len(x)}"
            )
        return tuple(x)

    def _xp(self, x):
        """The array namespace of a product point (NumPy sums are scalars, not arrays)."""
        # the first array of the first factor, looking inside nested products
        first = self._parts(x)[0]
        while isinstance(first, (tuple, list)):
            first = first[0]
        return get_namespace(first)

    def _map(self, method, *args, names=("x",)):
        """ProductVector of ``M_i.method(a_i, b_i, ...)`` over the factors."""
        split = [self._parts(a, names[j] if j < len(names) else names[-1])
                 for j, a in enumerate(args)]
        return ProductVector(getattr(m, method)(*parts)
                             for m, *parts in zip(self._manifolds, *split))

    # -- metric --------------------------------------------------------------

    def inner_product(self, x, u, v):
        """Σ ⟨u_i, v_i⟩_{x_i}, summed over a batch too (0-d real array)."""
        values = [m.inner_product(*t) for m, *t in
                  zip(self._manifolds, self._parts(x), self._parts(u, "u"), self._parts(v, "v"))]
        return sum(values[1:], values[0])

    def batch_inner_product(self, x, u, v):
        """Σ ⟨u_i, v_i⟩_{x_i} per point of a batch, shape batch_shape."""
        self.batch_shape(x)
        values = [m.batch_inner_product(*t) for m, *t in
                  zip(self._manifolds, self._parts(x), self._parts(u, "u"), self._parts(v, "v"))]
        return sum(values[1:], values[0])

    def norm(self, x, v):
        """√Σ ‖v_i‖² (0-d real array)."""
        return self._xp(x).sqrt(self.inner_product(x, v, v))

    def batch_norm(self, x, v):
        """√Σ ‖v_i‖² per point of a batch, shape batch_shape."""
        return self._xp(x).sqrt(self.batch_inner_product(x, v, v))

    # -- tangent spaces ------------------------------------------------------

    def projection(self, x, u):
        """(P_{x_1}(u_1), …, P_{x_m}(u_m))."""
        return self._map("projection", x, u, names=("x", "u"))

    def euclidean_to_riemannian_gradient(self, x, euclidean_gradient):
        """Each factor's Riemannian gradient of its block (∂f/∂x_i)."""
        return self._map("euclidean_to_riemannian_gradient", x, euclidean_gradient,
                         names=("x", "euclidean_gradient"))

    def euclidean_to_riemannian_hessian(self, x, euclidean_gradient, euclidean_hessian, v):
        """Each factor's Hessian term: the blocks of ∇f, of ∇²f[v] and of v.

        ``euclidean_hessian`` is the tuple of the blocks of the full Euclidean
        Hessian applied to the whole v (cross terms ∂²f/∂x_i∂x_j included).
        """
        return self._map("euclidean_to_riemannian_hessian", x, euclidean_gradient,
                         euclidean_hessian, v,
                         names=("x", "euclidean_gradient", "euclidean_hessian", "v"))

    def transport(self, x, y, v):
        """Each factor's transport."""
        return self._map("transport", x, y, v, names=("x", "y", "v"))

    def zero_vector(self, x):
        """Tuple of the factors' zero vectors."""
        return self._map("zero_vector", x)

    # -- moving --------------------------------------------------------------

    def retraction(self, x, v):
        """(R_{x_1}(v_1), …, R_{x_m}(v_m)), each factor with its own retraction."""
        return self._map("retraction", x, v, names=("x", "v"))

    def exp(self, x, v):
        """(exp_{x_1}(v_1), …): a product of geodesics is a geodesic."""
        return self._map("exp", x, v, names=("x", "v"))

    def log(self, x, y):
        """(log_{x_1}(y_1), …) — defined when every factor's log is."""
        return self._map("log", x, y, names=("x", "y"))

    def dist(self, x, y):
        """√Σ dist_i(x_i, y_i)² (0-d real array; over a batch as well)."""
        squares = [m.dist(a, b) ** 2 for m, a, b in
                   zip(self._manifolds, self._parts(x), self._parts(y, "y"))]
        return self._xp(x).sqrt(sum(squares[1:], squares[0]))

    def batch_dist(self, x, y):
        """√Σ dist_i² per point of a batch, shape batch_shape."""
        self.batch_shape(x)
        squares = [m.batch_dist(a, b) ** 2 for m, a, b in
                   zip(self._manifolds, self._parts(x), self._parts(y, "y"))]
        return self._xp(x).sqrt(sum(squares[1:], squares[0]))

    # -- sampling ------------------------------------------------------------

    def random_point(self, rng=None, dtype=None, like=None, shape=()):
        """A tuple of independent random points of the factors.

        Parameters
        ----------
        rng : None, int or numpy.random.Generator
        dtype : dtype or str, optional
            Only its precision counts: "float32" or "complex64" give each factor
            its single-precision dtype (float32 for real factors, complex64 for
            complex ones), "float64" or "complex128" double precision (default,
            or ``like``'s precision).
        like : array, optional
            Namespace and device of the new arrays.
        shape : int or tuple of int, default ()
            Batch shape, shared by every factor.

        Returns
        -------
        ProductVector of arrays, shapes (*shape, *M_i.point_shape)
        """
        rng = be.default_rng(rng)
        precision = self._precision(dtype, like)
        shape = _batch_tuple(shape)
        return ProductVector(m.random_point(rng=rng, dtype=self._factor_dtype(m, precision),
                                            like=like, shape=shape)
                             for m in self._manifolds)

    @staticmethod
    def _factor_dtype(m, precision):
        # a nested mixed product maps a real name to its own factors' dtypes
        field = m.field if m.field in ("real", "complex") else "real"
        return _NAME[(field, precision)]

    @staticmethod
    def _precision(dtype, like):
        """"single" or "double" from a dtype (name or object) or from like's dtype."""
        if dtype is None and like is None:
            return "double"
        if dtype is None:
            dtype = like.dtype
        if isinstance(dtype, str):
            name = dtype
        else:
            xp = get_namespace(like) if like is not None else get_namespace(np.empty(0))
            name = next((n for n in _PRECISION if getattr(xp, n) == dtype), str(dtype))
        if name not in _PRECISION:
            raise ValueError(f"dtype {name} is not supported for a product point; use one of "
                             f"float32, float64 (complex factors get complex64, complex128)")
        return _PRECISION[name]

    def random_tangent_vector(self, x, rng=None):
        """A random unit tangent vector, uniformly distributed on the unit sphere of T_x.

        Each factor contributes a uniform unit vector of its own tangent space
        scaled by a χ-distributed length with as many degrees of freedom as that
        space has dimensions — together a normalized Gaussian of the product.

        Parameters
        ----------
        x : tuple of arrays, a point (or a batch of points)
        rng : None, int or numpy.random.Generator

        Returns
        -------
        ProductVector, ``norm(x, v) = 1`` (0 if dim = 0)
        """
        rng = be.default_rng(rng)
        batch = math.prod(self.batch_shape(x))
        parts, lengths = [], []
        for m, a in zip(self._manifolds, self._parts(x)):
            parts.append(m.random_tangent_vector(a, rng=rng))
            dof = m.dim * batch
            lengths.append(math.sqrt(rng.chisquare(dof)) if dof > 0 else 0.0)
        total = math.sqrt(sum(r * r for r in lengths)) or 1.0
        return ProductVector(v * (r / total) for v, r in zip(parts, lengths))

    # -- validation ----------------------------------------------------------

    def feasibility(self, x):
        """The largest of the factors' feasibility errors, as a float."""
        return max(m.feasibility(a) for m, a in zip(self._manifolds, self._parts(x)))

    def default_atol(self, dtype, xp=None):
        """The largest of the factors' default tolerances for ``dtype``."""
        return max(m.default_atol(dtype, xp) for m in self._manifolds)

    def check_point(self, x, atol=None):
        """Validate every factor (see :meth:`Manifold.check_point`) and the batch shapes.

        Parameters
        ----------
        x : tuple of arrays, one per factor
        atol : float, optional
            Passed to every factor's ``check_point`` (default: each factor's own).

        Returns
        -------
        float
            The largest feasibility error of the factors.

        Raises
        ------
        TypeError
            If x is not a tuple (or list), or a factor is not an array.
        ValueError
            Wrong number of factors (expected and given are named), a factor
            that fails its own check (the message names the factor), or factors
            with different batch shapes.
        """
        parts = self._parts(x)
        errors = []
        for i, (m, a) in enumerate(zip(self._manifolds, parts)):
            try:
                errors.append(m.check_point(a, atol=atol))
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"factor {i} of the product point ({m!r}): {exc}") from None
        self.batch_shape(parts)
        return max(errors)

    def projection_onto_manifold(self, x):
        """Each factor's nearest point."""
        return self._map("projection_onto_manifold", x)
