r"""A composite cost F = f + h on the Stiefel manifold, h a weighted ℓ1 norm.

ManPG (:mod:`orthopt.decomposition.manpg`) minimizes

.. math:: F(X) = f(X) + h(X), \qquad h(X) = \alpha \sum_{ij} W_{ij} |X_{ij}|,
          \qquad X \in \mathrm{St}(n, r),

with f smooth (its Euclidean gradient Lipschitz with constant L) and h
convex but not differentiable where an entry is zero. F has no gradient, so
the solver core's "gradient norm" is replaced by ManPG's **stationarity
measure**: the proximal step on the tangent space T_X = {V : VᵀX + XᵀV = 0},

.. math:: V_t(X) = \arg\min_{V \in T_X} \langle \nabla f(X), V\rangle
          + \tfrac{1}{2t}\|V\|_F^2 + h(X + V),

solved by :func:`~orthopt.decomposition.tangent_prox.solve_tangent_prox`,
and ‖V_t(X)‖_F / t. V_t(X) = 0 exactly when X is stationary for F on the
manifold (0 ∈ grad f(X) + Proj_{T_X} ∂h(X)), and with h = 0 the measure is
‖grad f(X)‖: the step is V = −t·grad f(X). So the core's
:class:`~orthopt.optim.GradientNorm` criterion, which reads
``evaluation.grad_norm``, stops ManPG at ‖V_t‖/t ≤ tol — the measure ManPG's
analysis bounds (ε in O(ε⁻²) iterations; Chen, Ma, So & Zhang 2020, Thm 5.5).

:class:`CompositeProblem` is a :class:`~orthopt.optim.Problem` whose
``at(x)`` returns a :class:`CompositeEvaluation`: the cost is F (f and ∇f
come from one call of the smooth part, so one product A·X per point), the
``gradient`` is the Riemannian gradient of f, and ``grad_norm`` is the
stationarity measure with the problem's proximal step t (``lr``). The methods the
problem inherits (``cost``, ``euclidean_gradient``) answer for f.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..backend import finfo_eps, get_namespace, to_float, to_numpy
from ..optim.problem import Evaluation, Problem
from .tangent_prox import solve_tangent_prox

__all__ = ["CompositeProblem", "CompositeEvaluation"]


class CompositeProblem(Problem):
    """min F(X) = f(X) + α Σ W_ij |X_ij| over the manifold of a smooth problem.

    Parameters
    ----------
    smooth : Problem
        f on St(n, r): its manifold is the composite's, and its
        ``cost_and_euclidean_gradient`` gives f and ∇f at each point.
    l1_weight : float
        α ≥ 0.
    lr : float
        The proximal step t > 0 of the stationarity measure ‖V_t‖/t, ManPG's
        learning rate (1/L with L the Lipschitz constant of ∇f).
    weights : array, shape (n, r), optional
        Entrywise W ≥ 0 (default all ones), in the namespace of the points.

    Attributes
    ----------
    n_subproblem_iterations : int
        Semismooth Newton iterations spent on proximal steps (a counter, like
        ``n_cost_evaluations``).
    """

    def __init__(self, smooth, l1_weight, lr, weights=None):
        if not isinstance(smooth, Problem):
            raise TypeError(f"smooth must be an orthopt Problem (the smooth part f), "
                            f"got {type(smooth).__name__}")
        super().__init__(smooth.manifold, smooth.cost,
                         cost_and_gradient=smooth.cost_and_euclidean_gradient)
        if isinstance(l1_weight, bool) or not isinstance(l1_weight, numbers.Real) or \
                not (math.isfinite(l1_weight) and l1_weight >= 0):
            raise ValueError(f"l1_weight must be a finite number >= 0, got {l1_weight!r}")
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or \
                not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"lr (the proximal step t) must be a positive number, got {lr!r}")
        self.smooth = smooth
        self.l1_weight = float(l1_weight)
        self.lr = float(lr)
        self.weights = weights
        self.n_subproblem_iterations = 0
        # the largest threshold per unit of t (the rounding floor of the subproblem)
        self._largest_weight = (1.0 if weights is None else
                                float(np.max(np.abs(to_numpy(weights)), initial=0.0)))

    def at(self, x):
        """The :class:`CompositeEvaluation` at x."""
        return CompositeEvaluation(self, x)

    def penalty(self, x):
        """h(x) = α Σ W_ij |x_ij| as a float."""
        xp = get_namespace(x)
        absx = xp.abs(x) if self.weights is None else self.weights * xp.abs(x)
        return self.l1_weight * to_float(xp.sum(absx))

    def threshold(self, t):
        """t·α·W: the soft-thresholding level of the proximal map of t·h."""
        return t * self.l1_weight if self.weights is None else (t * self.l1_weight) * self.weights

    def subproblem_floor(self, x, t):
        """The smallest ‖E(Λ)‖ the subproblem can reach: 50·eps·r·max(1, tαW_max).

        Z = B + 2tXΛ − τ·sign cancels terms of size τ, so E carries a rounding
        error of about eps·τ; a tolerance below that is unreachable.
        """
        eps = float(finfo_eps(get_namespace(x), x.dtype))
        return 50 * eps * x.shape[-1] * max(1.0, t * self.l1_weight * self._largest_weight)


class CompositeEvaluation(Evaluation):
    """F = f + h at one point, with ManPG's proximal step and stationarity measure.

    ``cost`` is F(x); ``euclidean_gradient`` and ``gradient`` are those of f;
    ``grad_norm`` is ‖V_t(x)‖/t (module docstring), from :meth:`proximal_step`
    with the problem's t unless a solver computed it with another t first.
    """

    __slots__ = ("_penalty", "step", "multiplier", "proximal_t", "stationarity")

    def __init__(self, problem, x):
        super().__init__(problem, x)
        self._penalty = None
        self.step = None          # V, shape of x
        self.multiplier = None    # Λ, (r, r) host array
        self.proximal_t = None    # the t of ``step``
        self.stationarity = None  # ‖V‖/t

    @property
    def smooth_cost(self):
        """f(x) as a float (f and ∇f are computed together)."""
        self.evaluate_gradient()
        return self._cost

    @property
    def cost(self):
        """F(x) = f(x) + h(x) as a float."""
        if self._penalty is None:
            self._penalty = self.problem.penalty(self.x)
        return self.smooth_cost + self._penalty

    def proximal_step(self, t=None, multiplier=None, tol=None, max_iterations=100):
        """Solve the tangent proximal subproblem at x with step t (kept until the next call).

        Parameters
        ----------
        t : float, optional
            The proximal step; default the problem's ``lr``.
        multiplier : numpy.ndarray, shape (r, r), optional
            Warm start for Λ (the previous point's).
        tol : float, optional
            ‖E(Λ)‖ tolerance; default (and at least) the rounding floor
            :meth:`CompositeProblem.subproblem_floor`.
        max_iterations : int
            Newton iterations at most.

        Returns
        -------
        CompositeEvaluation
            self, with ``step`` V, ``multiplier`` Λ, ``proximal_t`` t and
            ``stationarity`` ‖V‖/t.
        """
        problem = self.problem
        t = problem.lr if t is None else float(t)
        floor = problem.subproblem_floor(self.x, t)
        tol = floor if tol is None else max(floor, tol)
        xp = get_namespace(self.x)
        # B = X − t∇f(X)
        b = self.x - t * self.euclidean_gradient
        z, lam, iterations, _ = solve_tangent_prox(self.x, b, t, problem.threshold(t),
                                                   lam0=multiplier, tol=tol,
                                                   max_iter=max_iterations)
        problem.n_subproblem_iterations += iterations
        self.step = z - self.x
        self.multiplier = lam
        self.proximal_t = t
        self.stationarity = math.sqrt(max(to_float(xp.sum(self.step * self.step)), 0.0)) / t
        self._grad_norm = self.stationarity
        return self

    @property
    def grad_norm(self):
        """ManPG's stationarity measure ‖V_t‖/t (see the module docstring)."""
        if self.stationarity is None:
            if not math.isfinite(self.cost) or not bool(
                    get_namespace(self.x).all(get_namespace(self.x).isfinite(
                        self.euclidean_gradient))):
                return math.nan
            self.proximal_step()
        return self.stationarity
