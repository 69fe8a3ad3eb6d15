r"""Keeping iterates on the manifold while a solver runs.

Retractions land on the manifold up to rounding, but the rounding errors of
many steps add up: multiplicative retractions (x·expm(xᴴv), Cayley, Givens)
drift like a random walk, ‖xᴴx − I‖ growing as √k·eps after k steps, until a
long run ends off the manifold. Measuring ‖xᴴx − I‖ exactly costs a Gram
matrix (a full matrix product for square x) per iteration; instead the guard
probes it with one fixed random vector z:

    r = ‖xᴴ(x z) − z‖ / ‖z‖ ≈ ‖(xᴴx − I) ẑ‖,

two matrix-vector products, O(np). When r exceeds a tenth of the
manifold's feasibility tolerance (1000·eps·√n) it applies one Newton–Schulz
step x ← x(3I − xᴴx)/2, which squares the error (‖E‖ ~ 1e-13 becomes
~1e-16), keeps det x (SO(n) stays SO(n)) and the column span, and costs two
matrix products. A random probe misses an error only when z is nearly
orthogonal to its range, and the loop checks the final iterate exactly.

Only rounding drift is repaired: an error above 100× the tolerance is not
rounding but a broken step (a retraction that does not retract, a user
callback that moved x), and repairing it would hide the bug; such a run
ends with status "infeasible".

On a :class:`~orthopt.manifolds.Product` the guard works factor by factor:
each factor of orthonormal columns gets its own probe, tolerance and
repair; flat factors (Euclidean) have nothing to keep and are skipped.
"""

from __future__ import annotations

import math

from ..backend import asarray_like, conj_transpose, get_namespace
from ..linalg import newton_schulz_step
from ..manifolds.orthonormal import OrthonormalColumns
from ..manifolds.product import Product, ProductVector

__all__ = ["FeasibilityGuard"]


class FeasibilityGuard:
    """Probe and repair the orthonormality of iterates (see the module docstring).

    Parameters
    ----------
    manifold : Manifold
    x : array, shape (..., n, p), or tuple of arrays (a product point)
        The start point (fixes the probe's dtype and device).
    rng : numpy.random.Generator
        Draws the probe vector.
    """

    def __new__(cls, manifold, x, rng):
        if cls is FeasibilityGuard and isinstance(manifold, Product):
            return super().__new__(ProductFeasibilityGuard)
        return super().__new__(cls)

    def __init__(self, manifold, x, rng):
        self.active = isinstance(manifold, OrthonormalColumns)
        self.n_restorations = 0
        if not self.active:
            return
        xp = get_namespace(x)
        p = x.shape[-1]
        z = rng.standard_normal((p, 1))
        self.probe = asarray_like(z / math.sqrt(float((z ** 2).sum())), like=x, dtype=x.dtype)
        atol = manifold.default_atol(x.dtype, xp)
        self.tolerance = atol / 10
        self.largest_drift = 100 * atol
        self.manifold = manifold

    def residual(self, x):
        """‖xᴴ(xz) − z‖ for the unit probe z (the largest over a batch), a float."""
        xp = get_namespace(x)
        r = conj_transpose(x) @ (x @ self.probe) - self.probe
        return float(xp.max(xp.sqrt(xp.sum(xp.abs(r) ** 2, axis=(-2, -1)))))

    def restore(self, x):
        """x itself when its probe is within tolerance, else its Newton–Schulz correction."""
        if not self.active:
            return x
        return self._correct(x, self.residual(x))

    def restore_exactly(self, x):
        """Like :meth:`restore`, with the exact ‖xᴴx − I‖ instead of the probe (final iterate)."""
        if not self.active:
            return x
        return self._correct(x, self.manifold.feasibility(x))

    def _correct(self, x, error):
        """Newton–Schulz steps (at most 3) when ``error`` is rounding drift, else x itself."""
        if not self.tolerance < error <= self.largest_drift:
            return x
        self.n_restorations += 1
        for _ in range(3):
            x = newton_schulz_step(x)
            if self.manifold.feasibility(x) <= self.tolerance:
                break
        return x


class ProductFeasibilityGuard(FeasibilityGuard):
    """One :class:`FeasibilityGuard` per factor of a product (built by ``FeasibilityGuard``).

    ``restore`` and ``restore_exactly`` return x itself when no factor
    changed (the loop tests identity to know whether to re-evaluate), else a
    new ProductVector with the repaired factors.
    """

    def __init__(self, manifold, x, rng):
        self.guards = [FeasibilityGuard(m, a, rng) for m, a in zip(manifold.manifolds, x)]
        self.active = any(g.active for g in self.guards)

    @property
    def n_restorations(self):
        """Restorations summed over the factors."""
        return sum(g.n_restorations for g in self.guards)

    def residual(self, x):
        """The largest probe residual over the orthonormal factors (0.0 when none)."""
        return max((g.residual(a) for g, a in zip(self.guards, x) if g.active), default=0.0)

    def restore(self, x):
        return self._each(x, "restore")

    def restore_exactly(self, x):
        return self._each(x, "restore_exactly")

    def _each(self, x, method):
        if not self.active:
            return x
        parts = [getattr(g, method)(a) for g, a in zip(self.guards, x)]
        if all(new is old for new, old in zip(parts, x)):
            return x
        return ProductVector(parts)
