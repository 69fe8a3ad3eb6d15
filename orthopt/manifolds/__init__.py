"""Matrix manifolds with orthonormal columns: Stiefel, SO(n), U(n)."""
from .base import Manifold
from .special_orthogonal import SpecialOrthogonal
from .stiefel import Stiefel
from .unitary import Unitary

__all__ = ["Manifold", "Stiefel", "SpecialOrthogonal", "Unitary"]
