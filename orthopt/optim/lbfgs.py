r"""Riemannian limited-memory BFGS.

The iteration (Huang, Gallivan & Absil 2015; Huang, Absil & Gallivan 2018)

    x_{k+1} = R_{x_k}(α_k d_k),   d_k = −H_k g_k,

where H_k applies the inverse-Hessian approximation of the last m pairs

    s_i = T(α_i d_i),   y_i = g_{i+1} − T(g_i)

(vectors of T_{x_{i+1}}, T the transport by projection), each carried to the
current tangent space by one more projection per iteration. On O(n), SO(n)
and U(n) the pairs are kept in the Lie algebra instead, Ω = xᴴv
(:mod:`orthopt.optim.tangent_coordinates`), and carried by left translation,
xΩ ↦ x'Ω: an isometric transport (the one Huang et al. analyse) that is the
identity on the stored coordinates, so an iteration costs two n×n×n
products (the gradient in, the direction out) where projecting 2m pairs
costs 4m + 4. H_k g is the
two-loop recursion (Nocedal & Wright 2006, Alg. 7.4) with ρ_i = 1/⟨s_i, y_i⟩
fixed when the pair is stored and the initial matrix γ_k I,
γ_k = ⟨s, y⟩/⟨y, y⟩ of the newest pair (Alg. 7.4's scaling, eq. 7.20): H_k
is then symmetric positive definite whatever the transports did to the
vectors, so d_k is a descent direction.

Cautious update. A pair with ⟨s, y⟩ ≤ eps·‖s‖‖y‖ is not stored (Li &
Fukushima 2001; on a manifold the transported secant condition can fail even
with Wolfe steps, Huang et al. 2018): its ρ would be negative or huge.

Line search: :class:`~orthopt.optim.step_size.StrongWolfe` with c₂ = 0.9
(the usual quasi-Newton choice: loose, so the unit step is accepted almost
always), first trial t = 1 (the quasi-Newton step is scaled by γ). The first
iteration has no pair; its direction is −g/‖g‖ (a step of unit length, as the
other solvers take first). When the search fails the memory is cleared and
the iteration is retried once along −g/‖g‖.

References
----------
Nocedal & Wright (2006), Numerical Optimization, ch. 7. Huang, Gallivan &
Absil (2015), SIAM J. Optim. 25(3). Huang, Absil & Gallivan (2018), SIAM J.
Optim. 28(1). Li & Fukushima (2001), SIAM J. Optim. 11(4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..manifolds.points import map_leaves, point_eps, point_namespace
from ..manifolds.product import ProductVector
from .solver import Solver, SolverState, Step
from .step_size import Armijo, StepSizeRule, StrongWolfe

__all__ = ["RiemannianLBFGS"]


@dataclass
class LBFGSState(SolverState):
    """State of :class:`RiemannianLBFGS`: the stored pairs, at the current iterate."""

    step_memory: object = None
    fallback_memory: object = None
    # s_i and y_i stacked, shape (k, n, p), oldest first, tangent at the current iterate
    s: object = None
    y: object = None
    rho: list = field(default_factory=list)  # ρ_i = 1/⟨s_i, y_i⟩ when stored
    skipped: int = 0  # pairs not stored by the cautious test, over the run

    @property
    def pairs(self):
        """Number of stored pairs."""
        return len(self.rho)

    def clear(self):
        self.s = self.y = None
        self.rho = []


class RiemannianLBFGS(Solver):
    """Limited-memory BFGS on a manifold, vectors transported by projection.

    Parameters
    ----------
    memory : int, default 10
        m, the number of (s, y) pairs kept.
    step_size : StepSizeRule, default StrongWolfe(curvature=0.9, max_evaluations=10, initial_step=1)
        The line search. Its memory is reset before every search, so every
        search starts from the rule's ``initial_step`` (1: the quasi-Newton
        step).
    **options
        Stopping rules, ``verbose``, ``blas_threads``, see
        :class:`~orthopt.optim.solver.Solver`.

    Notes
    -----
    Every :class:`~orthopt.optim.solver.Step` carries ``extra`` with
    ``pairs`` (pairs used for the direction), ``restarted`` (True when the
    direction was −g: the first iteration, or a retry after a failed
    search) and ``skipped`` (pairs refused by the cautious test so far).

    Examples
    --------
    >>> import numpy as np
    >>> from orthopt.manifolds import Stiefel
    >>> from orthopt.optim import Problem, RiemannianLBFGS
    >>> A = np.diag(np.arange(1.0, 11.0))
    >>> problem = Problem(Stiefel(10, 3), lambda x: -np.trace(x.T @ A @ x),
    ...                   euclidean_gradient=lambda x: -2 * A @ x)
    >>> res = RiemannianLBFGS().run(problem, rng=0)
    >>> round(res.fun, 6), res.success
    (-27.0, True)
    """

    def __init__(self, memory=10, step_size=None, **options):
        super().__init__(**options)
        if isinstance(memory, bool) or int(memory) != memory or memory < 1:
            raise ValueError(f"memory must be a positive integer, got {memory!r}")
        if step_size is None:
            step_size = StrongWolfe(curvature=0.9, max_evaluations=10, initial_step=1.0)
        elif not isinstance(step_size, StepSizeRule):
            raise TypeError(f"step_size must be a step-size rule such as StrongWolfe(...), "
                            f"got {type(step_size).__name__}")
        self.memory = int(memory)
        self.step_rule = step_size
        # a failed quasi-Newton direction is retried along −g with this search
        self.fallback_rule = Armijo(evaluate_gradient=True)

    def _start(self, problem, current, rng):
        return LBFGSState(rng=rng, step_memory=self.step_rule.start(),
                          fallback_memory=self.fallback_rule.start())

    def _iterate(self, problem, current, state):
        manifold = problem.manifold
        coordinates = current.coordinates
        # in the pairs' coordinates: the Lie algebra on the groups (module docstring),
        # else the tangent vector itself
        grad = current.gradient_coordinates
        inner = coordinates.inner
        restarted = state.pairs == 0
        direction_coordinates = self._direction(inner, grad, current.grad_norm, state)
        slope = inner(grad, direction_coordinates)
        if not (slope < 0.0 and math.isfinite(slope)):  # rounding in the recursion
            state.clear()
            restarted = True
            direction_coordinates = self._direction(inner, grad, current.grad_norm, state)
            slope = -current.grad_norm
        direction = coordinates.to_tangent(direction_coordinates)
        n_pairs = state.pairs
        state.step_memory.step = None  # every search starts from initial_step
        search = self.step_rule.search(problem, current, direction, slope, state.step_memory)
        if search.status == "line_search_failed" and not search.at_precision_limit \
                and not restarted:
            state.clear()
            restarted = True
            direction_coordinates = self._direction(inner, grad, current.grad_norm, state)
            direction = coordinates.to_tangent(direction_coordinates)
            slope = -current.grad_norm
            state.fallback_memory.step = None
            search = self.fallback_rule.search(problem, current, direction, slope,
                                               state.fallback_memory)
        direction_norm = math.sqrt(max(inner(direction_coordinates, direction_coordinates),
                                       0.0))
        step = Step.from_search(current, search, direction_norm, slope)
        if step.status is None:
            self._update(manifold, current, step.evaluation, grad,
                         search.step * direction_coordinates, state)
            step.extra.update(pairs=n_pairs, restarted=restarted, skipped=state.skipped)
        return step

    @staticmethod
    def _direction(inner, grad, grad_norm, state):
        """−H g by the two-loop recursion; −g/‖g‖ without pairs (in the pairs' coordinates)."""
        if state.pairs == 0:
            return grad * (-1.0 / max(grad_norm, 1e-300))
        s, y, rho = state.s, state.y, state.rho
        q = grad
        alphas = []
        for i in reversed(range(len(rho))):
            alpha = rho[i] * inner(_pair(s, i), q)
            q = q - alpha * _pair(y, i)
            alphas.append(alpha)
        s_new, y_new = _pair(s, -1), _pair(y, -1)
        y_norm2 = inner(y_new, y_new)
        gamma = inner(s_new, y_new) / y_norm2
        if not (gamma > 0.0 and math.isfinite(gamma)):
            # transported pairs can lose ⟨s, y⟩ > 0; the stored ρ keep H positive
            gamma = 1.0 / (rho[-1] * max(y_norm2, 1e-300))
        r = gamma * q
        for i, alpha in enumerate(reversed(alphas)):
            beta = rho[i] * inner(_pair(y, i), r)
            r = r + (alpha - beta) * _pair(s, i)
        return -r

    def _update(self, manifold, current, new, grad, step_vector, state):
        """Store (s, y) at the new iterate and carry the older pairs there.

        ``grad`` and ``step_vector`` are in the pairs' coordinates at x.
        """
        x, x_new = current.x, new.x
        xp = point_namespace(x_new)
        coordinates = new.coordinates
        if coordinates.shared:
            # left translation: the identity on Lie-algebra coordinates
            s, y = step_vector, new.gradient_coordinates - grad
        else:
            s = manifold.transport(x, x_new, step_vector)
            y = new.gradient - manifold.transport(x, x_new, grad)
            if state.pairs:
                # one batched projection carries all pairs (the manifold acts on the
                # last two axes)
                state.s = manifold.transport(x, x_new, state.s)
                state.y = manifold.transport(x, x_new, state.y)
        inner = coordinates.inner
        sy = inner(s, y)
        s_norm = math.sqrt(max(inner(s, s), 0.0))
        y_norm = math.sqrt(max(inner(y, y), 0.0))
        eps = point_eps(x_new)  # of the least precise factor of a product
        if not (sy > eps * s_norm * y_norm and math.isfinite(sy)):
            state.skipped += 1
            return
        keep = min(state.pairs, self.memory - 1)
        if keep == 0:
            state.s, state.y, state.rho = _stacked(s), _stacked(y), [1.0 / sy]
            return
        state.s = _append(xp, state.s, state.pairs - keep, s)
        state.y = _append(xp, state.y, state.pairs - keep, y)
        state.rho = state.rho[state.pairs - keep:] + [1.0 / sy]

    def _step(self, manifold, x, euclidean_gradient, state):
        raise NotImplementedError(
            "RiemannianLBFGS has no stochastic step: curvature pairs from minibatch gradients "
            "mix noise into the Hessian approximation. For minibatch training use "
            "RiemannianSGD(lr=..., momentum=0.9) or RiemannianRMSprop"
        )


# The pairs are stored stacked along a new leading axis (one batched transport
# carries them all); on a product, each factor keeps its own stack.

def _pair(stack, i):
    """Pair i of a stack (of each factor's stack on a product)."""
    return map_leaves(lambda a: a[i, ...], stack)


def _stacked(v):
    """A stack of one pair."""
    return map_leaves(lambda a: a[None, ...], v)


def _append(xp, stack, first, v):
    """stack[first:] with v appended, factor by factor."""
    if isinstance(stack, tuple):
        return ProductVector(_append(xp, part, first, w) for part, w in zip(stack, v))
    return xp.concat([stack[first:, ...], v[None, ...]], axis=0)
