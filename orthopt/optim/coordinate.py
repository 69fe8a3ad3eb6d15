r"""Givens coordinate descent on SO(n), O(n), St(n, p) and U(n).

Each iteration moves x along a few *coordinates* of the rotation group — one
Givens rotation plane each, acting on the rows of x (left action x ← Gx) or
on its columns (right action x ← xG, Jacobi's coordinates) — by an angle
chosen from the cost along that rotation. The coordinates, their derivatives
(read off Ω = skew(∇f xᴴ) on the left and Ψ = skew(xᴴ∇f) on the right) and
the rules that choose them ("gauss-southwell", "cyclic", "random") are in
:mod:`orthopt.optim.givens_coordinates`; the model of the cost along one
rotation is in :mod:`orthopt.optim.trig_polynomial`.

Sides (``side``)
----------------
On square x (SO(n), O(n), U(n)) both actions reach every point, along
different coordinates. Which one converges faster depends on the cost: on
Brockett's tr(xᵀAxN) the right action resolves the coupling through the
diagonal N directly, the left action the one through A. ``"both"`` (the
default) offers the coordinates of both sides to the rule: Gauss–Southwell
then moves the best coordinate of either side. On tall x (p < n) the right
action only rotates the basis within span(x), so ``"right"`` alone is refused
and ``"both"`` adds the p(p−1)/2 column rotations to the left ones.

Angles (``step_size``)
----------------------
``"exact"`` (default)
    For costs of degree ≤ 2 in the entries of x the cost along one rotation
    is a trigonometric polynomial of degree 2, fitted from three cost values
    and minimized globally in closed form. The round (the per-coordinate
    minimizers applied together) is accepted by the package's one
    sufficient-decrease test (:func:`~orthopt.optim.step_size.sufficient_decrease`),
    with the models' predicted decrease m(θ) − f(x) in place of t·φ'(0) and
    c₁ = ½: the round must realize half of what the models predict, or all
    angles are halved (each stays a descent angle). With ``block=1`` and a
    quadratic cost the model is exact and the first trial passes. When a
    sample is not finite there is no model: the round falls back to the
    ``"armijo"`` angles.
``"armijo"`` (or an :class:`~orthopt.optim.step_size.Armijo` rule)
    Angles θ = −t·(coordinate derivative)/w (a coordinate gradient step;
    w = 2 for pairs, 1 for phases) with t from
    :func:`~orthopt.optim.step_size.backtrack`, starting from twice the last
    accepted t.
``"fixed"`` with ``lr``
    Angles ω = −lr·Ω_ij, no search: the rule of :meth:`step`.

Budget and stopping
-------------------
The default ``max_iterations`` is counted in *sweeps*: ``sweeps`` (200) ×
⌈(number of coordinates)/block⌉ iterations, the number of coordinates being
n(n−1)/2 on the left plus p(p−1)/2 on the right (plus the phases over ℂ).
For the cyclic and random rules the step length that the step tolerance
tests is the largest rotation of the last sweep (of the last four sweeps'
worth of draws for the random rule), so that idle coordinates do not stop a
run; a round whose search cannot resolve a decrease (below 100·eps·|f|) is
skipped, and a whole window of such rounds stops the run with
``"precision_limit"``.

Cost of one iteration: one gradient (plus O(n²p) for Ω) and, for
``"exact"``, three cost evaluations per coordinate; the rotations cost O(p)
(left) or O(n) (right) each. With a generic cost prefer block rounds
(``block`` ≈ n/2) so that one gradient buys many rotations.

References
----------
Shalit & Chechik (2014), Coordinate-descent for learning orthogonal matrices
through Givens rotations, ICML. Massart & Abrol (2022), Coordinate descent on
the orthogonal group for recurrent neural network training, AAAI.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass

import numpy as np

from ..manifolds.points import point_eps
from ..manifolds.product import Product
from ..manifolds.stiefel import Stiefel
from .givens_coordinates import (
    SIDES,
    Coordinates,
    CoordinateSpace,
    coordinate_generator,
    rotate,
    rotate_rows_inplace,
    select_gauss_southwell,
)
from .product_coordinates import ProductCoordinateSpace, check_group_factors
from .solver import Solver, SolverState, Step
from .step_size import Armijo, Fixed, backtrack, checked_lr, renamed, rounding_level
from .trig_polynomial import SAMPLE_ANGLES, fit_trig2, minimize_trig2, trig2

__all__ = [
    "GivensCoordinateDescent",
    "GivensState",
    "coordinate_generator",
    "rotate",
    "rotate_rows_inplace",
    "select_gauss_southwell",
    "minimize_trig2",
]

_RULES = ("random", "cyclic", "gauss-southwell")
_SIDE_CHOICES = ("left", "right", "both")


@dataclass
class GivensState(SolverState):
    """State of :class:`GivensCoordinateDescent` (a run or a sequence of :meth:`step` calls).

    Attributes
    ----------
    rng : numpy.random.Generator
        Draws the coordinates of the random rule.
    space : CoordinateSpace
        The coordinates of the chosen sides.
    rounds : list of Coordinates or None
        The cyclic rule's sweep; ``round`` and ``position`` say where it is.
    angle_scale : float or None
        The last accepted t of the "armijo" angles.
    recent : collections.deque or None
        Step lengths of the last sweep (cyclic and random rules).
    skipped : int
        Consecutive rounds whose search could not resolve a decrease.
    """

    space: CoordinateSpace = None
    rounds: list = None
    round: int = 0
    position: int = 0
    angle_scale: float | None = None
    recent: collections.deque | None = None
    skipped: int = 0


class GivensCoordinateDescent(Solver):
    r"""Riemannian coordinate descent with Givens rotations (see the module docstring).

    Parameters
    ----------
    rule : {"gauss-southwell", "cyclic", "random"}, default "gauss-southwell"
        Which coordinates move (:mod:`orthopt.optim.givens_coordinates`).
    block : int, default 1
        Coordinates per iteration, rotated together in one vectorized round
        (made disjoint on each side).
    side : {"both", "left", "right"}, default "both"
        Rotate rows (left action x ← Gx), columns (right action x ← xG, square
        x only) or choose among both.
    step_size : {"exact", "armijo", "fixed"} or Armijo or Fixed, default "exact"
        Angle rule (see the module docstring); "fixed" needs ``lr``.
    lr : float, optional
        Angle scale of fixed angles ω = −lr·Ω_ij (the learning rate of :meth:`step`).
    step : {"exact", "armijo"} or float, optional
        The first version's name for ``step_size`` (a float meaning ``lr``).
    sufficient_decrease : float, default 1e-4
        c₁ of the "armijo" angles.
    max_backtracks : int, default 40
        Trials of one angle search.
    **options
        Stopping rules, ``verbose``, ``manifold``, ``blas_threads``, see
        :class:`~orthopt.optim.solver.Solver`. ``max_iterations`` defaults to
        ``sweeps`` sweeps over the coordinates.

    Notes
    -----
    Works on real and complex Stiefel manifolds, SpecialOrthogonal (Givens
    rotations keep det x = 1) and Unitary, and on products of square groups
    (SO(n), O(n), U(n) factors; a coordinate then rotates one factor, see
    :mod:`orthopt.optim.product_coordinates`). ``res.history["step_size"]`` holds
    the norm of the round's generator √(Σ 2|ω_ij|² + Σ |ω_ii|²).

    Examples
    --------
    >>> import numpy as np
    >>> from orthopt.manifolds import SpecialOrthogonal
    >>> from orthopt.optim import Problem, GivensCoordinateDescent
    >>> A = np.diag(np.arange(1.0, 6.0)); N = np.diag(np.arange(5.0, 0.0, -1.0))
    >>> problem = Problem(SpecialOrthogonal(5), lambda x: np.trace(x.T @ A @ x @ N),
    ...                   euclidean_gradient=lambda x: 2 * A @ x @ N)
    >>> res = GivensCoordinateDescent(gradient_tolerance=1e-10).run(problem, rng=0)
    >>> round(res.fun, 8)   # Σ λ_i μ_{n+1−i}: sorted oppositely
    35.0
    """

    #: the default budget, in sweeps over the coordinates
    sweeps = 200

    def __init__(self, rule="gauss-southwell", block=1, side="both", step_size=None, lr=None,
                 step=None, sufficient_decrease=1e-4, max_backtracks=40, **options):
        super().__init__(**options)
        if rule not in _RULES:
            raise ValueError(f"unknown rule {rule!r}; valid: {', '.join(map(repr, _RULES))}")
        if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
            raise ValueError(f"block must be a positive integer, got {block!r}")
        if side not in _SIDE_CHOICES:
            raise ValueError(f"unknown side {side!r}; valid: "
                             f"{', '.join(map(repr, _SIDE_CHOICES))}")
        if isinstance(step, (int, float)) and not isinstance(step, bool):
            step, lr = "fixed", step   # the first version's step=<number> was the angle step
        step_size = renamed("step_size", step_size, "step", step)
        lr = checked_lr(lr)
        if isinstance(max_backtracks, bool) or not isinstance(max_backtracks, (int, np.integer)) \
                or max_backtracks < 1:
            raise ValueError(f"max_backtracks must be a positive integer, got {max_backtracks!r}")
        self.rule, self.block, self.side = rule, int(block), side
        self.lr = lr
        self.max_backtracks = int(max_backtracks)
        self.step_rule = self._make_step_rule(step_size, sufficient_decrease)

    def _make_step_rule(self, step_size, sufficient_decrease):
        """"exact" or a rule object (Armijo, Fixed) from the angle options."""
        if step_size is None:
            step_size = "fixed" if self.lr is not None else "exact"
        if isinstance(step_size, (Armijo, Fixed)):
            return step_size
        if step_size == "exact":
            return "exact"
        if step_size == "armijo":
            return Armijo(sufficient_decrease=sufficient_decrease,
                          max_backtracks=self.max_backtracks)
        if step_size == "fixed":
            if self.lr is None:
                raise ValueError("step_size='fixed' needs an angle scale: pass lr=... "
                                 "(e.g. lr=1e-2)")
            return Fixed(self.lr)
        raise ValueError(f"unknown step {step_size!r}; use 'exact', 'armijo', 'fixed' (with "
                         f"lr=...), Armijo(...) or Fixed(lr)")

    # -- coordinates -----------------------------------------------------------------

    def _space(self, manifold):
        if isinstance(manifold, Product):
            # the union of the factors' coordinates (orthopt.optim.product_coordinates)
            check_group_factors(manifold, "GivensCoordinateDescent")
            return ProductCoordinateSpace([self._space(m) for m in manifold.manifolds])
        if not isinstance(manifold, Stiefel):
            raise TypeError(f"GivensCoordinateDescent needs a Stiefel, SpecialOrthogonal or "
                            f"Unitary manifold, got {manifold!r}")
        n, p = manifold.point_shape
        if self.side == "right" and p < n:
            raise ValueError(
                f"side='right' rotates the columns of x, which on {manifold!r} (p < n) only "
                f"changes the basis of span(x) and cannot solve the problem; use side='both' "
                f"(left and right coordinates) or side='left'")
        sides = SIDES if self.side == "both" else (self.side,)
        return CoordinateSpace(n, p, manifold.is_complex, sides)

    def _sweep_iterations(self, space):
        return max(1, math.ceil(space.count() / self.block))

    def _budget(self, manifold):
        if manifold is None:
            return self.default_max_iterations
        return self.sweeps * self._sweep_iterations(self._space(manifold))

    def _new_state(self, manifold, rng):
        space = self._space(manifold)
        state = GivensState(rng=rng, space=space)
        if self.rule == "cyclic":
            state.rounds = space.cyclic_rounds()
        if self.rule != "gauss-southwell":
            # random draws cover every coordinate only after several sweeps' worth
            window = self._sweep_iterations(space) * (1 if self.rule == "cyclic" else 4)
            state.recent = collections.deque(maxlen=window)
        return state

    def _choose(self, generators, state):
        space = state.space
        if self.rule == "gauss-southwell":
            return space.gauss_southwell(generators, self.block)
        if self.rule == "random":
            return space.random(self.block, state.rng)
        current = state.rounds[state.round]
        start = state.position
        stop = min(start + self.block, len(current))
        if stop == len(current):
            state.round, state.position = (state.round + 1) % len(state.rounds), 0
        else:
            state.position = stop
        return Coordinates(current.side[start:stop], current.i[start:stop],
                           current.j[start:stop])

    @staticmethod
    def _directions(coordinates, values):
        """Unit directions u_k (ω = θu_k), slopes d/dθ f|₀ and weights (2 pairs, 1 phases)."""
        phase = coordinates.i == coordinates.j
        weight = np.where(phase, 1.0, 2.0)
        if np.iscomplexobj(values):
            mag = np.abs(values)
            # a phase stays imaginary (ω = iα) even where its derivative is 0
            default = np.where(phase, 1j, 1.0)
            direction = np.where(mag > 0, values / np.where(mag > 0, mag, 1.0), default)
            return direction, np.where(phase, mag, 2 * mag), weight
        return np.ones_like(values), 2 * values, weight

    # -- angles ------------------------------------------------------------------------

    def _exact_angles(self, problem, current, space, coordinates, direction, slope):
        """Per-coordinate minimizers of the fitted models and their summed predicted change,
        or None when a sample is not finite."""
        x, f0 = current.x, current.cost
        thetas, predicted = np.zeros(len(coordinates)), 0.0
        for k in range(len(coordinates)):
            one = Coordinates(coordinates.side[k:k + 1], coordinates.i[k:k + 1],
                              coordinates.j[k:k + 1])
            samples = [problem.at(space.apply(x, one, np.asarray([t * direction[k]]))).cost
                       for t in SAMPLE_ANGLES]
            # before the closed-form minimizer: NaN coefficients would reach LAPACK's eig
            coef = fit_trig2(f0, float(slope[k]), *samples)
            if coef is None:
                return None
            thetas[k], value = minimize_trig2(coef)
            predicted += float(trig2(coef, thetas[k])) - f0
        return thetas, predicted

    def _search(self, problem, current, state, coordinates, angles, slope, t0, c1,
                contraction=0.5):
        """Backtracking on t along t ↦ x rotated by t·angles."""
        x = current.x
        space = state.space
        eps = _eps(x)

        def evaluate(t):
            evaluation = problem.at(space.apply(x, coordinates, t * angles))
            return evaluation.cost, evaluation

        length = _generator_norm(angles, coordinates)
        return backtrack(evaluate, current.cost, slope, t0, eps, c1, contraction,
                         self.max_backtracks, shortest_step=eps / max(length, 1e-300))

    def _armijo_round(self, problem, current, state, coordinates, direction, slope, weight):
        rule = self.step_rule if isinstance(self.step_rule, Armijo) else Armijo(
            max_backtracks=self.max_backtracks)
        unit = -slope / weight                       # θ per unit t: a coordinate gradient step
        phi_slope = float(np.sum(slope * unit))      # −Σ slope²/w < 0
        if state.angle_scale is None:
            t0 = min(1.0, (math.pi / 4) / max(float(np.max(np.abs(unit))), 1e-300))
        else:
            t0 = rule.growth * state.angle_scale
        search = self._search(problem, current, state, coordinates, unit * direction,
                              phi_slope, t0, rule.sufficient_decrease, rule.contraction)
        if search.status is None:
            state.angle_scale = search.step
        return search, unit * direction, phi_slope

    # -- one iteration -----------------------------------------------------------------

    def _start(self, problem, current, rng):
        return self._new_state(problem.manifold, rng)

    def _iterate(self, problem, current, state):
        space = state.space
        generators = space.generators(current.x, current.euclidean_gradient)
        coordinates = self._choose(generators, state)
        if len(coordinates) == 0:
            # no coordinate with a nonzero derivative: x is critical
            return self._report(state, Step(current, 0.0, predicted_decrease=None))
        values = space.values(generators, coordinates)
        direction, slope, weight = self._directions(coordinates, values)
        if isinstance(self.step_rule, Fixed):
            angles = -self.step_rule.lr * values
            evaluation = problem.at(space.apply(current.x, coordinates, angles))
            return self._report(state, Step(evaluation, _generator_norm(angles, coordinates)))
        search = None
        if self.step_rule == "exact":
            model = self._exact_angles(problem, current, space, coordinates, direction, slope)
            if model is not None and -model[1] <= rounding_level(current.cost, _eps(current.x)):
                # a predicted decrease the cost cannot resolve: a trial could only pass by
                # rounding (at a minimizer, e.g. the equivalent point θ = π of a sign flip)
                return self._skip(current, state)
            if model is not None:
                thetas, predicted = model
                angles = thetas * direction
                search = self._search(problem, current, state, coordinates, angles, predicted,
                                      1.0, 0.5)
                phi_slope = predicted
        if search is None or (search.status == "line_search_failed"
                              and not search.at_precision_limit):
            # no model (a non-finite sample), or a model the cost does not follow
            search, angles, phi_slope = self._armijo_round(problem, current, state,
                                                           coordinates, direction, slope, weight)
        if search.status == "line_search_failed" and search.at_precision_limit:
            return self._skip(current, state)
        if search.status is not None:
            return Step.failed(current, search.status)
        state.skipped = 0
        length = search.step * _generator_norm(angles, coordinates)
        return self._report(state, Step(search.evaluation, length,
                                        predicted_decrease=-search.step * phi_slope))

    @staticmethod
    def _skip(current, state):
        """A round that cannot resolve a decrease is not taken; others may (random and
        cyclic rules). A whole window of them in a row is the precision limit."""
        state.skipped += 1
        window = 1 if state.recent is None else state.recent.maxlen
        if state.skipped >= window:
            return Step.failed(current, "precision_limit")
        return Step(current, 0.0, accepted=False)

    @staticmethod
    def _report(state, step):
        """The step length the stopping test sees: the largest of the last window."""
        if state.recent is None:
            return step
        state.recent.append(step.step_size)
        step.step_size = (max(state.recent) if len(state.recent) == state.recent.maxlen
                          else math.inf)
        return step

    # -- stochastic interface ------------------------------------------------------------

    def _init_state(self, manifold, x, rng):
        return self._new_state(manifold, rng)

    def _step(self, manifold, x, euclidean_gradient, state):
        """One stochastic round: rotate the chosen coordinates by ω = −lr·Ω (fixed angles).

        Called by :meth:`~orthopt.optim.solver.Solver.step` (``x, state =
        solver.step(x, euclidean_gradient, state)``); needs ``lr``. The state
        (:meth:`init_state`) holds the random generator and the cyclic schedule.
        """
        if not isinstance(self.step_rule, Fixed):
            raise ValueError(
                f"step() needs fixed angles: construct GivensCoordinateDescent(lr=<float>), "
                f"e.g. lr=1e-2 (the angle rule {self.step_rule!r} needs cost evaluations)")
        space = state.space
        generators = space.generators(x, euclidean_gradient)
        coordinates = self._choose(generators, state)
        if len(coordinates) == 0:
            return x, state
        values = space.values(generators, coordinates)
        return space.apply(x, coordinates, -self.step_rule.lr * values), state


def _eps(x):
    return point_eps(x)  # of the least precise factor of a product


def _generator_norm(angles, coordinates):
    """√(Σ w_k |ω_k|²) with w = 2 for pairs (ω and −ω̄ both appear), 1 for phases."""
    angles = np.asarray(angles)
    if angles.size == 0:
        return 0.0
    weight = np.where(coordinates.i == coordinates.j, 1.0, 2.0)
    return float(np.sqrt(np.sum(weight * np.abs(angles) ** 2)))
