r"""The tangent spaces T_{x_i} of a batch, as batched truncated CG sees them.

Truncated CG (:mod:`orthopt.optim.batch_trust_regions`) needs five things of
the tangent spaces at the m points x_i: the gradient, inner products, the
re-tangentialization of a direction, Hessian-vector products and, at the
end, the retraction of the step. :class:`AmbientTangents` gives them with
the manifold's own formulas on ambient arrays of shape (m, n, p).

:class:`RotationAxes` is the fast path for SO(3) and O(3) (real 3×3 points,
NumPy, no preconditioner): a tangent vector x[ω]× is held as its axis
ω ∈ R³ (see :mod:`orthopt.so3`), shape (m, 3). Then

* ⟨x[ω]×, x[ν]×⟩ = 2 ω·ν, and every ω is tangent (no projection);
* grad f = x[ω_g]× with ω_g the axis of skew(xᵀ∇f), and
  Hess f[x[ω]×] = x[ω′]× with ω′ = axis of skew(xᵀ∇²f[x[ω]×]) − ½(tr S·I − S)ω,
  S = sym(xᵀ∇f): two stacked 3×3 products per Hessian-vector product (one
  builds x[ω]× for the user's Euclidean Hessian, one reads its axis) where
  the ambient formulas take six, and xᵀ∇f once per outer iteration;
* the Cayley, exp and polar retractions are x·f([ω]×) in closed form.

The same arithmetic as the ambient path up to rounding (the tests compare
both); NumPy's matmul on (m, 3, 3) stacks is slow per flop, so the count of
stacked products is what the fast path saves.
"""

from __future__ import annotations

import numpy as np

from ..so3 import cayley_so3, cross_matrix, exp_so3, polar_so3, skew_axis, weingarten_operator
from .batch_line_search import batch_inner

__all__ = ["tangents_for", "is_rotation_stack", "rotation_gradient"]


def _rows(a, mask):
    """The rows of ``a`` selected by a host mask (``a`` itself when none is given or all are)."""
    from .batch_problem import _mask_for

    return a if mask is None or mask.all() else a[_mask_for(a, mask)]


def is_rotation_stack(manifold, x):
    """Whether the axis formulas apply: real 3×3 NumPy points of SO(3) or O(3) (Stiefel(3, 3))."""
    from ..manifolds import SpecialOrthogonal, Stiefel

    return (type(manifold) in (Stiefel, SpecialOrthogonal) and manifold.n == 3
            and manifold.p == 3 and type(x) is np.ndarray
            and x.dtype in (np.float32, np.float64))


def rotation_gradient(x, euclidean_gradient):
    """grad f = x·skew(xᵀ∇f) and its norm √2‖ω‖ on SO(3)/O(3) stacks.

    Parameters
    ----------
    x, euclidean_gradient : numpy.ndarray, shape (m, 3, 3), real

    Returns
    -------
    gradient : numpy.ndarray, shape (m, 3, 3)
    grad_norm : numpy.ndarray of float64, shape (m,)
    """
    axis = skew_axis(np.swapaxes(x, -1, -2) @ euclidean_gradient)
    norm = np.sqrt(2.0 * np.einsum("ij,ij->i", axis, axis)).astype(np.float64, copy=False)
    return x @ cross_matrix(axis), norm


def tangents_for(evaluator, current, problems, preconditioner=None):
    """The tangent spaces at ``current.x``: :class:`RotationAxes` where it applies."""
    if preconditioner is None and is_rotation_stack(evaluator.problem.manifold, current.x):
        return RotationAxes(evaluator, current, problems)
    return AmbientTangents(evaluator, current, problems)


class AmbientTangents:
    """Tangent vectors as ambient arrays (m, n, p), with the manifold's formulas."""

    def __init__(self, evaluator, current, problems):
        self.evaluator, self.problems = evaluator, problems
        self.manifold = evaluator.problem.manifold
        self.x, self.euclidean_gradient = current.x, current.euclidean_gradient
        self.gradient = current.gradient

    def inner(self, u, v, mask=None):
        """⟨u_i, v_i⟩ at the points ``mask`` selects (all when None), host float64 (m,)."""
        return batch_inner(self.manifold, _rows(self.x, mask), u, v)

    def tangent(self, u, mask):
        """Project u (rounding drift of the CG recurrences) back onto the tangent spaces."""
        return self.manifold.projection(_rows(self.x, mask), u)

    def hess(self, v, mask):
        """Hess f_i(x_i)[v_i] for the problems ``mask`` selects."""
        return self.evaluator.hess(_rows(self.x, mask), _rows(self.euclidean_gradient, mask),
                                   v, self.problems[mask])

    def retraction(self, eta):
        return self.manifold.retraction(self.x, eta)


class RotationAxes:
    """Tangent vectors of SO(3)/O(3) as axes ω, shape (m, 3) (see the module docstring)."""

    CLOSED_FORMS = {"cayley": cayley_so3, "exp": exp_so3, "polar": polar_so3}

    def __init__(self, evaluator, current, problems):
        self.evaluator, self.problems = evaluator, problems
        self.manifold = evaluator.problem.manifold
        self.x = current.x
        x_t_grad = np.swapaxes(self.x, -1, -2) @ current.euclidean_gradient
        self.gradient = skew_axis(x_t_grad)
        self.weingarten = weingarten_operator(x_t_grad)

    def inner(self, u, v, mask=None):
        return 2.0 * np.einsum("ij,ij->i", u, v).astype(np.float64, copy=False)

    def tangent(self, u, mask):
        return u  # every axis is a tangent vector

    def ambient(self, w, mask=None):
        """x[ω]×, shape (m, 3, 3)."""
        return _rows(self.x, mask) @ cross_matrix(w)

    def hess(self, w, mask):
        x = _rows(self.x, mask)
        euclidean = self.evaluator.euclidean_hess(x, x @ cross_matrix(w), self.problems[mask])
        weingarten = _rows(self.weingarten, mask)
        return skew_axis(np.swapaxes(x, -1, -2) @ euclidean) - \
            np.einsum("ijk,ik->ij", weingarten, w)

    def retraction(self, eta):
        closed_form = self.CLOSED_FORMS.get(self.manifold.retraction_name)
        if closed_form is None:
            return self.manifold.retraction(self.x, self.ambient(eta))
        return self.x @ closed_form(cross_matrix(eta))
