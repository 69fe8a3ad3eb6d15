r"""Givens coordinates of a product of groups G₁ × … × G_m (SO(n), O(n), U(n) factors).

A coordinate of the product is a coordinate of one factor: a rotation plane
(i, j) on one side (rows or columns) of one factor x_f; it leaves the other
factors alone. Rotations of different factors commute, so a round may hold
coordinates of several factors, each factor's made disjoint on its own.
A coordinate is stored as in :class:`~orthopt.optim.givens_coordinates.Coordinates`
with the side code 2f + s (s = 0 left, 1 right) naming factor f as well.

The rules act on the union of the factors' coordinates: Gauss–Southwell
takes the largest directional derivatives over all factors (the scores
|Ω_ij| are per unit generator norm, the same measure in every factor), the
random rule draws uniformly among all of them, the cyclic rule sweeps the
factors one after another.

Only square groups are accepted (:func:`check_group_factors`): what a
Givens rotation does on a tall Stiefel or a Grassmann factor is not a
coordinate of the product's group, and a Euclidean factor has none.
"""

from __future__ import annotations

import numpy as np

from ..manifolds.product import Product, ProductVector
from ..manifolds.stiefel import Stiefel
from .givens_coordinates import (
    SIDES,
    Coordinates,
    _greedy_disjoint,
    _ranked_candidates,
    random_coordinates,
)

__all__ = ["ProductCoordinateSpace", "check_group_factors"]


def check_group_factors(manifold, solver):
    """Raise TypeError naming the first factor of a product that is not a square group.

    Parameters
    ----------
    manifold : Product
    solver : str
        The solver's name, for the message.
    """
    for i, m in enumerate(manifold.manifolds):
        if isinstance(m, Product):
            raise TypeError(
                f"{solver} on a product needs its factors side by side; factor {i} of "
                f"{manifold!r} is itself a product: flatten it, Product([*inner.manifolds, ...])"
            )
        if not isinstance(m, Stiefel) or m.p != m.n:
            raise TypeError(
                f"{solver} on a product needs every factor to be a square orthogonal or unitary "
                f"group (SpecialOrthogonal(n), Unitary(n), Stiefel(n, n)); factor {i} of "
                f"{manifold!r} is {m!r}. Use a Riemannian method (method='trust-regions', "
                f"'lbfgs', 'cg', 'rgd-bb') for this product"
            )


class ProductCoordinateSpace:
    """The coordinates of a product: the union of its factors' :class:`CoordinateSpace` s.

    Parameters
    ----------
    spaces : list of CoordinateSpace
        One per factor, in the order of the factors.

    Notes
    -----
    Answers the interface of :class:`~orthopt.optim.givens_coordinates.CoordinateSpace`
    (``count``, ``generators``, ``values``, ``apply``, ``gauss_southwell``,
    ``random``, ``cyclic_rounds``) for points that are tuples of matrices.
    """

    def __init__(self, spaces):
        self.spaces = list(spaces)
        # the values array is complex as soon as one factor is; a real factor then reads
        # its (real) angles back from the real part
        self.complex_phases = any(space.complex_phases for space in self.spaces)
        self._table = None

    def count(self, side=None):
        """Number of coordinates over all factors (and their chosen sides)."""
        return sum(space.count(side) if side is None or side in space.sides else 0
                   for space in self.spaces)

    def _split(self, coordinates):
        """(factor, mask, the factor's own Coordinates) for each factor that has some."""
        factor = coordinates.side // len(SIDES)
        for f in np.unique(factor).tolist():
            mask = factor == f
            yield f, mask, Coordinates(coordinates.side[mask] % len(SIDES), coordinates.i[mask],
                                       coordinates.j[mask])

    def generators(self, x, gradient):
        """Each factor's {side: Ω or Ψ}, a list."""
        return [space.generators(a, g) for space, a, g in zip(self.spaces, x, gradient)]

    def values(self, generators, coordinates):
        """The generator entries of ``coordinates`` (host array)."""
        values = np.zeros(len(coordinates), dtype=np.complex128 if self.complex_phases
                          else np.float64)
        for f, mask, own in self._split(coordinates):
            values[mask] = self.spaces[f].values(generators[f], own)
        return values

    def apply(self, x, coordinates, omega):
        """x with the rotations ω applied, factor by factor (untouched factors are kept)."""
        parts = list(x)
        omega = np.asarray(omega)
        for f, mask, own in self._split(coordinates):
            angles = omega[mask]
            if not self.spaces[f].complex_phases:
                angles = angles.real  # a real factor's angles (stored as complex in a mix)
            parts[f] = self.spaces[f].apply(parts[f], own, angles)
        return ProductVector(parts)

    # -- rules ---------------------------------------------------------------------

    def gauss_southwell(self, generators, block):
        """The k best coordinates over all factors and sides."""
        candidates = []
        for f, (space, own) in enumerate(zip(self.spaces, generators)):
            for code, side in enumerate(SIDES):
                if side not in space.sides:
                    continue
                m = space.sizes[side]
                flat, scores = _ranked_candidates(own[side], block, space.complex_phases)
                candidates.extend((s, len(SIDES) * f + code) + divmod(int(k), m)
                                  for k, s in zip(flat.tolist(), scores.tolist()))
        candidates.sort(key=lambda c: -c[0])  # stable: the first factor first on ties
        return Coordinates.from_list(_greedy_disjoint(candidates, block))

    def table(self):
        """All coordinates as rows (code, i, j), factor after factor."""
        if self._table is None:
            tables = []
            for f, space in enumerate(self.spaces):
                own = space.table().copy()
                own[:, 0] += len(SIDES) * f
                tables.append(own)
            self._table = np.concatenate(tables)
        return self._table

    def random(self, block, rng):
        """k coordinates drawn uniformly over all factors (disjoint within each factor)."""
        return random_coordinates(self.table(), block, rng)

    def cyclic_rounds(self):
        """The factors' sweeps one after another."""
        return [Coordinates(own.side + len(SIDES) * f, own.i, own.j)
                for f, space in enumerate(self.spaces) for own in space.cyclic_rounds()]
