"""Manifolds: Stiefel, SO(n), U(n), Grassmann, Euclidean spaces and their products.

:class:`Manifold` is the interface every manifold answers;
:class:`OrthonormalColumns` is the shared code of the manifolds whose points
are matrices with xᴴx = I (Stiefel, SpecialOrthogonal, Unitary, Grassmann).
"""
from .base import Manifold
from .euclidean import Euclidean
from .grassmann import Grassmann
from .orthonormal import OrthonormalColumns
from .product import Product, ProductVector
from .special_orthogonal import SpecialOrthogonal
from .stiefel import Stiefel
from .unitary import Unitary

__all__ = [
    "Manifold",
    "OrthonormalColumns",
    "Stiefel",
    "SpecialOrthogonal",
    "Unitary",
    "Grassmann",
    "Euclidean",
    "Product",
    "ProductVector",
]
