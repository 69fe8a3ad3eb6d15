"""What a point is: one array, or a tuple of arrays (a point of a :class:`Product`).

Solvers, the evaluation layer and the diagnostics ask a few questions of a
point that an array answers with an attribute (``x.dtype``, ``x.shape``, its
namespace) and a product point does not. The helpers here answer them for
both, factor by factor, so that the code above reads the same for a single
matrix and for a tuple (U, V, c):

* :func:`leaves` — the arrays of a point, nested products flattened;
  :func:`map_leaves` applies a function to each, keeping the structure;
* :func:`point_namespace` — the one array namespace of those arrays;
* :func:`point_dtype`, :func:`point_eps` — the coarsest precision among
  them: a solver's step floor and rounding slack must hold for its least
  precise factor;
* :func:`as_point` — a tuple or list given for a product point as a
  :class:`ProductVector` (which has arithmetic), recursively;
* :func:`check_like` — a value that must have the structure and shapes of x
  (a gradient, a Hessian-vector product, a tangent vector), with an error
  that names the factor that is wrong.
"""

from __future__ import annotations

from ..backend import finfo_eps, get_namespace, is_complex_dtype
from .product import Product, ProductVector

__all__ = ["is_product_point", "leaves", "map_leaves", "point_namespace", "point_dtype",
           "point_eps", "as_point", "check_like", "factor_label"]


def is_product_point(x):
    """True for a point (or tangent vector) of a product: a tuple or list of parts."""
    return isinstance(x, (tuple, list))


def leaves(x):
    """The arrays of a point, in order; nested tuples are flattened.

    Parameters
    ----------
    x : array or tuple of (arrays or tuples)

    Returns
    -------
    list of arrays
    """
    if not is_product_point(x):
        return [x]
    out = []
    for part in x:
        out.extend(leaves(part))
    return out


def map_leaves(function, x):
    """``function`` applied to every array of x, keeping the structure (a ProductVector)."""
    if is_product_point(x):
        return ProductVector(map_leaves(function, part) for part in x)
    return function(x)


def point_namespace(x):
    """The array namespace shared by every array of x (TypeError on a mix of libraries)."""
    return get_namespace(*leaves(x))


def point_dtype(x):
    """The dtype of the least precise array of x (largest eps; the first one on a tie).

    A float32 factor next to a float64 one makes float32 the precision the
    whole point can be trusted to.
    """
    arrays = leaves(x)
    xp = get_namespace(*arrays)
    return max((a.dtype for a in arrays), key=lambda dtype: finfo_eps(xp, dtype))


def point_eps(x):
    """Machine epsilon of :func:`point_dtype` (of its real part), a float."""
    return finfo_eps(point_namespace(x), point_dtype(x))


def as_point(manifold, x, name="x"):
    """x as the manifold stores it: a :class:`ProductVector` for a product, recursively.

    A point of ``Product([...])`` given as a list or a plain tuple becomes a
    ProductVector (its arithmetic is what the solvers use); a point of any
    other manifold is returned unchanged. The number of factors is checked
    (an error names expected and given).
    """
    if not isinstance(manifold, Product):
        return x
    parts = manifold._parts(x, name)
    return ProductVector(as_point(m, a, name) for m, a in zip(manifold.manifolds, parts))


def factor_label(path):
    """'factor 1' or 'factor 1.0' (nested products) from an index path, '' at the top."""
    return "factor " + ".".join(str(i) for i in path) if path else ""


def check_like(value, x, what, path=()):
    """Check that ``value`` has the structure, shapes and field of the point x.

    Parameters
    ----------
    value : array or tuple of arrays
        A gradient, Hessian-vector product or tangent vector at x.
    x : array or tuple of arrays
        The point.
    what : str
        How the error names ``value`` ("the Euclidean gradient", ...).

    Returns
    -------
    array or ProductVector
        ``value``, a tuple or list of parts turned into a ProductVector.

    Raises
    ------
    ValueError
        Wrong number of factors, a factor of the wrong shape, or a complex
        factor for a real one; the message names the factor.
    """
    label = factor_label(path)
    where = f" (in {label})" if label else ""
    of_x = f"{label} of x" if label else "x"
    if is_product_point(x):
        if not is_product_point(value) or len(value) != len(x):
            got = (f"{len(value)} factors" if is_product_point(value)
                   else f"a {type(value).__name__}"
                   + (f" of shape {tuple(value.shape)}" if hasattr(value, "shape") else ""))
            raise ValueError(
                f"{what}{where} must be a tuple of {len(x)} arrays, one per factor of the "
                f"product point, got {got}"
            )
        return ProductVector(check_like(v, a, what, path + (i,))
                             for i, (v, a) in enumerate(zip(value, x)))
    shape = tuple(getattr(value, "shape", ()))
    if shape != tuple(x.shape):
        raise ValueError(
            f"{what}{where} has shape {shape} but {of_x} has shape {tuple(x.shape)}; "
            f"it must have the shape of {of_x}"
        )
    xp = get_namespace(x)
    if is_complex_dtype(xp, value.dtype) and not is_complex_dtype(xp, x.dtype):
        raise ValueError(
            f"{what}{where} is complex ({value.dtype}) but {of_x} is real ({x.dtype}): "
            f"a real manifold needs a real value (take its real part if the imaginary part is "
            f"rounding, or use a complex manifold such as Unitary / Stiefel(field='complex'))"
        )
    return value
