r"""projUNN: rank-k steps on O(n) and U(n) in O(kN²) (Kiani et al. 2022).

A gradient step on the unitary group, U ← R_U(−η G), costs O(N³) with any
full retraction (a matrix exponential, a polar decomposition, a solve).
projUNN replaces the step Δ = −η·(gradient) by a rank-k approximation
Δ ≈ a bᴴ (a, b ∈ 𝔽^{N×k}) and then projects back onto the group *exactly*,
using only the 2k-dimensional subspace the update touches.

The exact projections (projUNN-D, projUNN-T) and the low-rank
approximations of the step are in :mod:`orthopt.optim.low_rank_updates`.

Which step is approximated (``direction``)
------------------------------------------
``"riemannian"`` (default): Δ = −η·grad f(U) = −η U skew(Uᴴ∇f), applied
matrix-free as Δv = −η/2 (∇f v − U(∇fᴴ(Uv))), so that the rank-k budget is
spent on the part of the gradient that moves U (the normal part, U·herm(·),
is discarded by both variants to first order). ``"euclidean"``: Δ = −η∇f,
as in the paper.

References
----------
Kiani, Balestriero, LeCun & Lloyd (2022), projUNN: efficient method for
training deep networks with unitary matrices, NeurIPS. Halko, Martinsson &
Tropp (2011), SIAM Review 53(2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..backend import conj_transpose, eye_like, get_namespace, is_complex_dtype, to_float
from ..linalg import newton_schulz_step
from ..manifolds.product import Product, ProductVector
from ..manifolds.stiefel import Stiefel
from .low_rank_updates import (  # noqa: F401 (re-exported: their home before the split)
    _adjoint_times,
    _as_operator,
    _Operator,
    low_rank_column,
    low_rank_exact,
    low_rank_lsi,
    projunn_d,
    projunn_t,
)
from .product_coordinates import check_group_factors
from .rgd import make_step_rule
from .solver import Solver, SolverState, Step, inner_float
from .step_size import Armijo, checked_lr, renamed

__all__ = [
    "ProjUNN",
    "ProjUNNState",
    "projunn_d",
    "projunn_t",
    "low_rank_lsi",
    "low_rank_column",
    "low_rank_exact",
]

_VARIANTS = ("D", "T")
_APPROXIMATIONS = ("lsi", "column", "exact")
_DIRECTIONS = ("riemannian", "euclidean")


def _tangent_norm(u, a, b, a_tilde=None):
    r"""‖P_U(abᴴ)‖ = ‖skew(ã bᴴ)‖ (ã = Uᴴa) from k×k matrices, O(kN²).

    ‖skew M‖² = ½(‖M‖² − Re tr M²), with ‖ãbᴴ‖² = tr((ãᴴã)(bᴴb)) and
    tr((ãbᴴ)²) = tr((bᴴã)²).
    """
    xp = get_namespace(u, a, b)
    if a_tilde is None:
        a_tilde = _adjoint_times(u, a)
    cross = conj_transpose(b) @ a_tilde
    full = to_float(xp.real(xp.sum((conj_transpose(a_tilde) @ a_tilde) * xp.matrix_transpose(
        conj_transpose(b) @ b))))
    square = to_float(xp.real(xp.sum(cross * xp.matrix_transpose(cross))))
    return math.sqrt(max(0.5 * (full - square), 0.0))


# ---------------------------------------------------------------------------
# The solver
# ---------------------------------------------------------------------------


@dataclass
class ProjUNNState(SolverState):
    """State of :class:`ProjUNN` (a run, or a sequence of :meth:`step` calls).

    Attributes
    ----------
    rng : numpy.random.Generator
        Draws the random sketches.
    step : int
        Steps taken (every ``reorthonormalize_every``-th ends with a Newton–Schulz restore).
    step_memory : object
        The step-size rule's memory (:meth:`run` only).
    skipped : int
        Consecutive sketches along which no decrease could be resolved (:meth:`run`).
    """

    step: int = 0
    step_memory: object = None
    skipped: int = 0


class ProjUNN(Solver):
    r"""projUNN-D / projUNN-T steps on O(n), SO(n) and U(n).

    Parameters
    ----------
    variant : {"D", "T"}, default "T"
        D: polar projection of U + abᴴ; T: U·expm(skew(Uᴴabᴴ)).
    rank : int, default 1
        k, the rank of the approximated step.
    approximation : {"lsi", "column", "exact"}, default "lsi"
        How the step is approximated (see the module docstring).
    direction : {"riemannian", "euclidean"}, default "riemannian"
        Which step is approximated.
    lr : float, optional
        Learning rate η: the fixed step of :meth:`step`, and of :meth:`run`
        with ``step_size="fixed"``; the first trial step of the Armijo rule
        (default there: a step of unit length).
    step_size : {"armijo", "fixed"} or StepSizeRule, default "armijo"
        Step rule of :meth:`run` along the curve η ↦ P(U + η abᴴ) of one
        sketch: backtracking (:class:`~orthopt.optim.step_size.Armijo`, the
        first trial twice the last accepted η) or the fixed η = lr.
    step : {"armijo", "fixed"}, optional
        The first version's name for ``step_size``.
    max_step : float, optional
        Largest step ‖η abᴴ‖_F that :meth:`run` tries (default 0.5 for "D",
        π for "T"). For "D" it keeps σ(U + ηabᴴ) inside [1/2, 3/2]: the
        O(kN²) polar formula assumes UᴴU = I, and a rounding error E in U
        comes out multiplied by about ‖U + ηabᴴ‖, so unbounded Armijo growth
        (steps of length 35–180 were seen on Procrustes SO(20)) made the
        error compound until the iterate left the manifold. For "T" a
        rotation by more than π is never needed.
    oversampling, power_iterations : int
        Parameters of the "lsi" approximation (default 4 and 1).
    reorthonormalize_every : int or None, optional
        After this many steps, restore ``xᴴx = I`` with one Newton–Schulz
        step ``x ← x − x(xᴴx − I)/2`` (two N×N products; a rounding error E
        in xᴴx becomes O(E²)). Default ``None``: every N steps, which adds
        O(N²) per step on average and so keeps the O(kN²) cost; ``0`` never.
        Both O(kN²) updates assume UᴴU = I exactly and, unlike a full polar
        or QR retraction, do not remove the error already in U, so rounding
        error accumulates (on Brockett over SO(5) without the restore,
        ‖UᴴU − I‖ grew from 1.1e-13 after 500 projUNN-D steps to 4.4e-12 after
        20 000).
    sufficient_decrease, contraction : float
        Constants of the default Armijo rule (1e-4 and 0.5).
    **options
        Stopping rules, ``verbose``, ``manifold``, ``blas_threads``
        (:class:`~orthopt.optim.solver.Solver`). The default ``max_iterations``
        is counted in units of dim/k steps (a rank-k step moves about k of the
        dim = N(N−1)/2 directions of the group): ``sweeps`` × ⌈dim/k⌉.

    Notes
    -----
    Each iteration of :meth:`run` draws one sketch abᴴ of the step and
    searches along η ↦ P(U + η abᴴ), whose derivative at 0 is P_U(abᴴ): the
    slope is ⟨grad f, abᴴ⟩, computed as Re⟨grad f·b, a⟩ in O(kN²). A sketch
    with a positive slope (possible for ``direction="euclidean"`` or
    column sampling) is used with the opposite sign, a descent direction.
    With variant "D" on real matrices the search treats as inadmissible any
    η whose polar factor would change the sign of the determinant
    (det(I + bᴴUᴴa) ≤ 0), so SO(n) runs stay in SO(n). The "riemannian"
    direction is the default because with ``direction="euclidean"`` the
    rank-k part of ∇f is mostly its normal component (x·herm(xᴴ∇f), nonzero
    even at the optimum for Brockett-type costs): on Brockett over SO(4)
    rank-1/2 runs then stalled at 10–85 % cost error. The random sketches
    draw from the ``rng`` of :meth:`run` (or of :meth:`init_state`).
    """

    #: the default budget, in units of dim/k steps
    sweeps = 200
    #: consecutive random sketches without a resolvable decrease that stop a run with
    #: "precision_limit" (one for the deterministic truncated SVD)
    precision_window = 10

    def __init__(self, variant="T", rank=1, approximation="lsi", direction="riemannian",
                 lr=None, step_size=None, step=None, oversampling=4, power_iterations=1,
                 sufficient_decrease=1e-4, contraction=0.5, max_step=None,
                 reorthonormalize_every=None, **options):
        super().__init__(**options)
        if variant not in _VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; use 'D' (polar) or 'T' (exponential)")
        if approximation not in _APPROXIMATIONS:
            raise ValueError(f"unknown approximation {approximation!r}; valid: "
                             f"{', '.join(repr(a) for a in _APPROXIMATIONS)}")
        if direction not in _DIRECTIONS:
            raise ValueError(f"unknown direction {direction!r}; use 'riemannian' or 'euclidean'")
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 1:
            raise ValueError(f"rank must be a positive integer, got {rank!r}")
        step_size = renamed("step_size", step_size, "step", step)
        lr = checked_lr(lr)
        self.variant = variant
        self.rank = int(rank)
        self.approximation = approximation
        self.direction = direction
        self.lr = lr
        self.oversampling = int(oversampling)
        self.power_iterations = int(power_iterations)
        if step_size in (None, "armijo"):
            step_size = Armijo(sufficient_decrease=sufficient_decrease, contraction=contraction,
                               initial_step=self.lr, max_backtracks=60)
        elif step_size == "bb":
            raise ValueError("ProjUNN's step rule is 'armijo' or 'fixed' (a new sketch every "
                             "iteration leaves no Barzilai–Borwein pair)")
        self.step_rule = make_step_rule(step_size, self.lr)
        if max_step is None:
            max_step = 0.5 if variant == "D" else math.pi
        if not max_step > 0:
            raise ValueError(f"max_step must be positive, got {max_step!r}")
        self.max_step = float(max_step)
        if reorthonormalize_every is not None and (
                isinstance(reorthonormalize_every, bool)
                or not isinstance(reorthonormalize_every, (int, np.integer))
                or reorthonormalize_every < 0):
            raise ValueError(f"reorthonormalize_every must be a non-negative integer or None, "
                             f"got {reorthonormalize_every!r}")
        self.reorthonormalize_every = reorthonormalize_every

    def _budget(self, manifold):
        if manifold is None:
            return self.default_max_iterations
        return self.sweeps * math.ceil(manifold.dim / self.rank)

    # -- building blocks ---------------------------------------------------------

    def _step_operator(self, u, egrad, lr):
        """Δ = −lr·(gradient) as an operator (matrix-free for the Riemannian direction)."""
        if self.direction == "euclidean":
            return _as_operator(-lr * egrad)

        def matmat(v):   # −lr U skew(Uᴴ G) v = −lr/2 (G v − U Gᴴ U v)
            return (-lr / 2) * (egrad @ v - u @ _adjoint_times(egrad, u @ v))

        def rmatmat(v):  # Δᴴ v = −lr/2 (Gᴴ v − Uᴴ G Uᴴ v)
            inner = egrad @ _adjoint_times(u, v)
            return (-lr / 2) * (_adjoint_times(egrad, v) - _adjoint_times(u, inner))

        def dense():
            return matmat(eye_like(u))

        return _Operator(matmat, rmatmat, dense, u)

    def _approximate(self, op, rng):
        if self.approximation == "lsi":
            return low_rank_lsi(op, self.rank, self.oversampling, self.power_iterations, rng)
        if self.approximation == "column":
            return low_rank_column(op, self.rank, rng)
        return low_rank_exact(op, self.rank)

    def _project(self, u, a, b):
        return projunn_d(u, a, b) if self.variant == "D" else projunn_t(u, a, b)

    def _restore_due(self, x, steps):
        """Whether step number ``steps`` (1-based) ends with a Newton–Schulz restore."""
        every = x.shape[-1] if self.reorthonormalize_every is None else self.reorthonormalize_every
        return every > 0 and steps % every == 0

    @staticmethod
    def _keeps_component(a_tilde, b):
        """det(U + abᴴ)/det U = det(I_k + bᴴã) > 0 (real case): the polar factor stays
        in U's component of O(n), e.g. in SO(n). Always True for complex input."""
        xp = get_namespace(a_tilde, b)
        if is_complex_dtype(xp, a_tilde.dtype):
            return True
        small = eye_like(conj_transpose(b) @ a_tilde) + conj_transpose(b) @ a_tilde
        return to_float(xp.linalg.det(small)) > 0

    def _check_manifold(self, manifold):
        if isinstance(manifold, Product):
            check_group_factors(manifold, "ProjUNN")
            return
        if not isinstance(manifold, Stiefel) or manifold.p != manifold.n:
            raise TypeError(
                f"ProjUNN acts on square orthogonal / unitary matrices (Stiefel(n, n), "
                f"SpecialOrthogonal(n), Unitary(n)), got {manifold!r}"
            )

    # -- deterministic iteration ---------------------------------------------------

    def _start(self, problem, current, rng):
        self._check_manifold(problem.manifold)
        return ProjUNNState(rng=rng, step_memory=self.step_rule.start())

    def _iterate(self, problem, current, state):
        x = current.x
        # on a product every factor draws its own sketch a_f b_fᴴ and the search moves
        # along all of them at once (one η); a single matrix is the one-factor case
        parts = _factors(x)
        sketches, slope = [], 0.0
        for u, egrad, grad in zip(parts, _factors(current.euclidean_gradient),
                                  _factors(current.gradient)):
            xp = get_namespace(u)
            # the sketch is drawn once per iteration; the search moves along it
            a, b = self._approximate(self._step_operator(u, egrad, 1.0), state.rng)
            # φ'(0) = ⟨grad, abᴴ⟩ = Re⟨grad·b, a⟩, O(kN²)
            own = to_float(xp.real(xp.sum(xp.conj(grad @ b) * a)))
            if own > 0:
                b, own = -b, -own   # the opposite sketch descends
            sketches.append((a, b))
            slope += own
        if not slope < 0:
            # a sketch orthogonal to the gradient: draw another one next iteration
            return Step(current, 0.0, accepted=False)
        direction = _like(x, [a @ conj_transpose(b) for a, b in sketches])
        unit_length = math.sqrt(max(inner_float(problem.manifold, x, direction, direction), 0.0))
        memory = state.step_memory
        growth = getattr(self.step_rule, "growth", None)
        if growth is not None and memory.step is not None:
            # the first trial, growth × the last η, stays within max_step
            memory.step = min(memory.step, self.max_step / (growth * unit_length))
        a_tildes = [_adjoint_times(u, a) if self.variant == "D" else None
                    for u, (a, _) in zip(parts, sketches)]

        def curve(eta):
            if eta * unit_length > self.max_step * (1 + 1e-12):
                return None
            moved = []
            for u, (a, b), a_tilde in zip(parts, sketches, a_tildes):
                if a_tilde is not None and not self._keeps_component(eta * a_tilde, b):
                    return None   # the polar factor would leave U's component (SO(n))
                u_new = self._project(u, eta * a, b)
                if self._restore_due(u_new, state.step + 1):
                    u_new = newton_schulz_step(u_new)
                moved.append(u_new)
            return _like(x, moved)

        search = self.step_rule.search(problem, current, direction, slope, memory, curve=curve)
        if search.status == "line_search_failed" and search.at_precision_limit:
            # this sketch's decrease is below what the cost resolves; a random sketch may
            # just have missed the gradient, so only a run of them stops the run
            state.skipped += 1
            window = 1 if self.approximation == "exact" else self.precision_window
            if state.skipped < window:
                return Step(current, 0.0, accepted=False)
            # the precision limit only when the sketch points along the gradient: a
            # Euclidean or column sketch can be almost all normal part (seen on Brockett
            # SO(6): ‖P_U(abᴴ)‖ = 1e-6‖abᴴ‖ with ‖grad‖ = 2.9, far from the optimum)
            tangent = math.sqrt(sum(_tangent_norm(u, a, b, a_tilde) ** 2 for u, (a, b), a_tilde
                                    in zip(parts, sketches, a_tildes)))
            cosine = -slope / max(current.grad_norm * tangent, 1e-300)
            return Step.failed(current, "precision_limit" if cosine >= 0.1
                               else "line_search_failed")
        step = Step.from_search(current, search, unit_length, slope)
        if step.status is None:
            state.step += 1
            state.skipped = 0
        return step

    # -- stochastic interface ------------------------------------------------------

    def _init_state(self, manifold, x, rng):
        self._check_manifold(manifold)
        return ProjUNNState(rng=rng)

    def _step(self, manifold, x, euclidean_gradient, state):
        """One projUNN step x ← P(x + abᴴ) with abᴴ ≈ −lr·(gradient), the fixed ``lr``.

        Called by :meth:`~orthopt.optim.solver.Solver.step` (``x, state =
        solver.step(x, euclidean_gradient, state)``) with x of shape (N, N)
        orthogonal / unitary and the (minibatch) Euclidean gradient ∂L/∂x.
        The state (:meth:`init_state`) holds the random generator of the
        sketches and the step counter.
        """
        if self.lr is None:
            raise ValueError("step() needs a learning rate: construct ProjUNN(lr=...)")
        self._check_manifold(manifold)
        state.step += 1
        moved = []
        for u, egrad in zip(_factors(x), _factors(euclidean_gradient)):  # each factor its own
            a, b = self._approximate(self._step_operator(u, egrad, self.lr), state.rng)
            u_new = self._project(u, a, b)
            if self._restore_due(u_new, state.step):
                u_new = newton_schulz_step(u_new)
            moved.append(u_new)
        return _like(x, moved), state


def _factors(x):
    """The matrices of a point: its factors on a product, else (x,)."""
    return tuple(x) if isinstance(x, tuple) else (x,)


def _like(x, parts):
    """parts shaped as x: a ProductVector on a product, else the one matrix."""
    return ProductVector(parts) if isinstance(x, tuple) else parts[0]
