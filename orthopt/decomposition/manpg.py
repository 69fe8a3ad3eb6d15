r"""ManPG: proximal gradient on the Stiefel manifold, a solver on the core loop.

Reference: S. Chen, S. Ma, A. M.-C. So, T. Zhang (2020), "Proximal gradient
method for nonsmooth optimization over the Stiefel manifold", SIAM J. Optim.
30(1), 210–239.

The iteration
-------------
For F(X) = f(X) + h(X) on St(n, r), f smooth (∇f Lipschitz with constant L),
h = α Σ W_ij |X_ij| (:class:`~orthopt.decomposition.composite.CompositeProblem`),
one ManPG step at X is

1. **Tangent proximal step.** V = V_t(X), the minimizer over
   T_X = {V : VᵀX + XᵀV = 0} of ⟨∇f(X), V⟩ + ‖V‖²/(2t) + h(X + V), t = 1/L,
   by semismooth Newton on the multiplier of the tangency constraint
   (:mod:`orthopt.decomposition.tangent_prox`), warm-started from the
   previous point's multiplier.

2. **Armijo backtracking along the polar retraction.** The curve is
   γ(β) = polar(X + βV) = (X + βV)(I + β²VᵀV)^{-1/2}. V minimizes a model that
   is (1/t)-strongly convex on T_X, so comparing it with V = 0 gives
   ⟨∇f(X), V⟩ + h(X + V) − h(X) ≤ −‖V‖²/t (Chen et al., Lemma 5.1): the
   decrease rate of F along γ is at most φ'(0) = −‖V‖²/t. The trials
   β = 1, ½, ¼, … stop at the package's one sufficient-decrease test
   (:func:`orthopt.optim.step_size.sufficient_decrease`) with c₁ = ½:
   F(γ(β)) ≤ F(X) − β‖V‖²/(2t), ManPG's own rule. Near a stationary point
   that decrease falls below the rounding of F; then the test's
   approximate-Wolfe branch (slack eps^{2/3}|F| from the dtype) accepts a
   trial where F still decreases along the curve, φ'(β) ≤ 0, with
   φ'(β) = ⟨∇f(γ(β)) + αW∘sign(γ(β)), γ'(β)⟩ and the exact velocity
   γ'(β) = VS^{-1/2} − β(X + βV)VᵀV S^{-3/2}, S = I + β²VᵀV (S commutes with
   VᵀV because XᵀV is skew).

3. **Stopping** through the core's criteria: the evaluation's ``grad_norm``
   is the stationarity measure ‖V_t‖/t, zero exactly at stationary points
   (see :mod:`~orthopt.decomposition.composite`), so
   ``GradientNorm(tol)`` stops at ‖V_t‖/t ≤ tol, the measure ManPG's analysis
   bounds (ε in O(ε⁻²) iterations).

ManPG-Ada (``adaptive=True``, Chen et al. §5): after a step accepted at β = 1
t ← 1.01·t, after a backtracked one t ← max(t₀, t/1.01). ‖V_t‖/t decreases
as t grows, so a measure taken with a larger t is a weaker test: when it
reaches the tolerance it is recomputed with t₀.

Cost per iteration: one product A·X per trial point, O(nr²) for the polar
retraction, O(nr³) to form the Newton matrices and O(r⁶) for the
r(r+1)/2 × r(r+1)/2 Newton solve (on the host: r is small in sparse PCA).

:func:`manpg` is the sparse-PCA entry point: it builds the composite
problem f = −v (v the total or adjusted variance, see
:mod:`orthopt.decomposition.problem`) and runs :class:`ManPG`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..backend import asarray_like, finfo_eps, get_namespace, to_float, to_numpy
from ..linalg import polar
from ..optim.problem import Problem
from ..optim.solver import Solver, SolverState, Step
from ..optim.step_size import backtrack, renamed
from ..optim.stopping import AllOf, AnyOf, GradientNorm, MaxIterations
from .composite import CompositeProblem
from .problem import (
    as_operator,
    captured_variance,
    check_alpha,
    check_variance,
    initial_point,
)
from .tangent_prox import solve_tangent_prox

__all__ = ["ManPG", "ManPGState", "manpg", "sparse_pca_problem", "solve_tangent_prox"]

#: c₁ of ManPG's Armijo rule F(γ(β)) ≤ F(X) − β‖V‖²/(2t) = F(X) + c₁βφ'(0), φ'(0) = −‖V‖²/t
ARMIJO_CONSTANT = 0.5


@dataclass
class ManPGState(SolverState):
    """State of :class:`ManPG`.

    Attributes
    ----------
    initial_lr : float
        t₀, the problem's proximal step ``lr``.
    lr : float
        t of the current iteration (differs from t₀ only with ``adaptive``).
    tolerance : float
        The stationarity tolerance read from the stopping criterion (0 when
        it has none); it sets the subproblem's accuracy.
    """

    initial_lr: float = 1.0
    lr: float = 1.0
    tolerance: float = 0.0


class ManPG(Solver):
    """Manifold proximal gradient (ManPG) for min f(X) + α‖X‖₁ on St(n, r).

    Parameters
    ----------
    adaptive : bool, default False
        ManPG-Ada's step adaptation (module docstring). Fewer iterations on
        ManPG's random demo problems (``manpg_demo`` in
        benchmarks/results/sparse_pca.json); on pitprops with small α it
        backtracks every other step once t has grown and may not reach a tight
        tolerance (benchmarks/results/sparse_pca_docstring_figures.md), hence
        off by default.
    subproblem_max_iterations : int, default 100
        Semismooth Newton iterations per proximal step at most.
    shortest_step : float, default 1e-10
        The smallest β the backtracking tries before giving up.
    **options
        Stopping rules (``stopping=`` or ``max_iterations``,
        ``gradient_tolerance`` — here the tolerance on ‖V_t‖/t — …),
        ``verbose``, ``blas_threads``: see :class:`~orthopt.optim.solver.Solver`.

    Notes
    -----
    :meth:`run` needs a :class:`~orthopt.decomposition.composite.CompositeProblem`
    on a Stiefel manifold; its ``lr`` is the proximal step t₀ (ManPG's
    learning rate). The result's ``grad_norm`` is the stationarity measure
    ‖V_{t₀}‖/t₀ at ``x``, ``fun`` is F(x).

    Examples
    --------
    >>> import numpy as np
    >>> from orthopt.decomposition import load_pitprops
    >>> from orthopt.decomposition.manpg import ManPG, sparse_pca_problem
    >>> from orthopt.optim import GradientNorm, MaxIterations
    >>> A = load_pitprops()[0]
    >>> problem = sparse_pca_problem(A, 6, alpha=0.5)     # lr = 1/(2‖A‖₂)
    >>> x0 = np.linalg.eigh(A)[1][:, ::-1][:, :6].copy()
    >>> res = ManPG(stopping=GradientNorm(1e-8) | MaxIterations(1000)).run(problem, x0)
    >>> res.status, int(np.sum(np.abs(res.x) > 1e-5))
    ('gradient_tolerance', 17)
    """

    default_max_iterations = 10000

    def __init__(self, stopping=None, *, adaptive=False, subproblem_max_iterations=100,
                 shortest_step=1e-10, **options):
        super().__init__(stopping, **options)
        self.adaptive = bool(adaptive)
        if isinstance(subproblem_max_iterations, bool) or not isinstance(
                subproblem_max_iterations, (int, np.integer)) or subproblem_max_iterations < 1:
            raise ValueError(f"subproblem_max_iterations must be a positive integer, "
                             f"got {subproblem_max_iterations!r}")
        self.subproblem_max_iterations = int(subproblem_max_iterations)
        if not (isinstance(shortest_step, (int, float)) and 0 < shortest_step <= 1):
            raise ValueError(f"shortest_step must be in (0, 1], got {shortest_step!r}")
        self.shortest_step = float(shortest_step)

    # -- hooks -----------------------------------------------------------------

    def _start(self, problem, current, rng):
        if not isinstance(problem, CompositeProblem):
            raise TypeError(
                f"ManPG solves a CompositeProblem (f + α‖X‖₁), got {type(problem).__name__}; "
                f"build one with CompositeProblem(Problem(Stiefel(n, r), f, ...), alpha, "
                f"lr=1/L)"
            )
        t0 = problem.lr
        state = ManPGState(rng=rng, initial_lr=t0, lr=t0,
                           tolerance=_stationarity_tolerance(self.stopping))
        if current.proximal_t != t0 or current.stationarity is None:
            self._solve_subproblem(current, t0, None, state)
        return state

    def _subproblem_tolerance(self, t, state):
        # ‖E(Λ)‖ ≤ 1e-5·tol·t (floored at rounding level by the evaluation). A residual
        # ε in E moves V by about ε, and the descent certificate φ'(0) ≈ −‖V‖²/t must
        # outweigh |grad F|·ε: with 1e-3·tol·t (the first version's tolerance) ManPG
        # could not certify descent below ‖V‖/t ≈ 1e-7 on pitprops and stopped at the
        # precision limit instead of 1e-8 (tests/test_sparse_pca_solvers.py).
        return min(1e-6, 1e-5 * state.tolerance * t)

    def _solve_subproblem(self, evaluation, t, multiplier, state):
        return evaluation.proximal_step(t, multiplier, self._subproblem_tolerance(t, state),
                                        self.subproblem_max_iterations)

    def _iterate(self, problem, current, state):
        x, v, t = current.x, current.step, current.proximal_t
        xp = get_namespace(x)
        # V is tangent to the subproblem's accuracy; its normal rounding (‖XᵀV + VᵀX‖ ~
        # the Newton tolerance) would enter φ'(β) through the large normal part of ∇f
        xtv = x.T @ v
        v = v - x @ ((xtv + xtv.T) / 2)
        eps = float(finfo_eps(xp, x.dtype))
        norm_v2 = to_float(xp.sum(v * v))
        slope = -norm_v2 / t

        def evaluate(beta):
            y = _polar_or_none(x + beta * v, eps)
            if y is None:
                return None   # x + βv rank-deficient: no point on the curve, shorten
            trial = problem.at(y)
            return trial.cost, trial

        search = backtrack(
            evaluate, current.cost, slope, 1.0, eps, c1=ARMIJO_CONSTANT, contraction=0.5,
            max_trials=max(1, math.ceil(math.log2(1.0 / self.shortest_step)) + 1),
            shortest_step=self.shortest_step,
            trial_slope=lambda beta, trial: _curve_slope(problem, trial, x, v, beta))
        if search.status is not None:
            status = "precision_limit" if search.at_precision_limit else search.status
            return Step.failed(current, status)
        accepted, beta, trials = search.evaluation, search.step, search.n_evaluations
        t0 = state.initial_lr
        if self.adaptive:
            state.lr = t * 1.01 if beta == 1.0 else max(t0, t / 1.01)
        # the next iteration's subproblem, warm-started: it also gives the
        # stationarity measure at the new point that the stopping criterion reads
        self._solve_subproblem(accepted, state.lr, current.multiplier, state)
        if accepted.stationarity <= state.tolerance and state.lr != t0:
            state.lr = t0  # confirm with t₀ (a larger t is a weaker test)
            self._solve_subproblem(accepted, t0, accepted.multiplier, state)
        return Step(accepted, beta * math.sqrt(norm_v2), predicted_decrease=-beta * slope,
                    extra={"trials": trials})


def _stationarity_tolerance(criterion):
    """The absolute GradientNorm tolerance inside a criterion (0 when there is none)."""
    if isinstance(criterion, GradientNorm) and not criterion.relative:
        return criterion.tol
    if isinstance(criterion, (AnyOf, AllOf)):
        values = [_stationarity_tolerance(c) for c in criterion.criteria]
        values = [v for v in values if v > 0]
        return max(values) if values else 0.0
    return 0.0


def _curve_slope(problem, evaluation, x, v, beta):
    """φ'(β): the derivative of F along γ(β) = polar(x + βv) (module docstring)."""
    y = evaluation.x
    xp = get_namespace(y)
    vtv = to_numpy(v.T @ v)
    w, u = np.linalg.eigh((vtv + vtv.T) / 2)
    s = 1.0 + beta * beta * np.maximum(w, 0.0)
    inv_sqrt = asarray_like((u / np.sqrt(s)) @ u.T, like=y)
    inv_three_halves = asarray_like((u * (np.maximum(w, 0.0) / s ** 1.5)) @ u.T, like=y)
    velocity = v @ inv_sqrt - beta * ((x + beta * v) @ inv_three_halves)
    sign = xp.sign(y)
    penalty = problem.l1_weight * (sign if problem.weights is None else problem.weights * sign)
    return to_float(xp.sum((evaluation.euclidean_gradient + penalty) * velocity))


def _polar_or_none(a, eps):
    """The polar factor of a (n×p), or None when a is numerically rank-deficient.

    Rank-deficient means the smallest eigenvalue of aᵀa is below p·eps times its
    largest (or any is not finite): its inverse square root would be inf or NaN.
    """
    xp = get_namespace(a)
    gram = a.T @ a
    w = xp.linalg.eigvalsh(gram)
    smallest, largest = to_float(w[0]), to_float(w[-1])
    if not (math.isfinite(smallest) and math.isfinite(largest)) or (
            smallest <= a.shape[-1] * eps * largest):
        return None
    return polar(a, gram=gram)


def sparse_pca_problem(a, n_components, alpha, *, variance="total", weights=None,
                       lr=None, rng=0, like=None):
    r"""The composite problem of sparse PCA: min −v(X) + α Σ W_ij|X_ij| over St(n, r).

    Parameters
    ----------
    a : array (n, n), LinearOperator, CovarianceOperator or callable
        Symmetric PSD A (or X ↦ A X).
    n_components : int
    alpha : float
    variance : {"total", "adjusted"}
        v(X) = tr(XᵀAX) or the adjusted variance (:func:`captured_variance`).
    weights : array, shape (n, r), optional
    lr : float, optional
        The proximal step t (ManPG's learning rate); default 1/L with L = 2‖A‖₂, the Lipschitz constant of ∇tr(XᵀAX).
        (For the adjusted variance t = 1/(2‖A‖₂) is kept: M = I at PCA, and
        the Armijo backtracking guarantees descent for any t.)
    rng : None, int or numpy.random.Generator
        For the power method that estimates ‖A‖₂ of an operator.
    like : array, optional
        Template of the points (namespace, device) for the power method.

    Returns
    -------
    CompositeProblem
    """
    from ..manifolds import Stiefel

    op = as_operator(a)
    r = int(n_components)
    if lr is None:
        lipschitz = 2 * op.norm2(like=like, rng=rng)
        lr = 1.0 / lipschitz if lipschitz > 0 else 1.0

    def cost_and_gradient(y):
        value, gradient = captured_variance(y, op(y), variance)
        return -value, -gradient

    smooth = Problem(Stiefel(op.n, r, retraction="polar"), lambda y: cost_and_gradient(y)[0],
                     cost_and_gradient=cost_and_gradient)
    return CompositeProblem(smooth, float(alpha), float(lr), weights=weights)


def manpg(
    a,
    n_components,
    alpha,
    *,
    init="pca",
    tol=1e-8,
    max_iter=10000,
    lr=None,
    step_size=None,
    adaptive=False,
    weights=None,
    variance="total",
    ssn_max_iter=100,
    min_step=1e-10,
    random_state=None,
    callback=None,
    verbose=False,
):
    r"""Sparse PCA by ManPG: min −v(X) + α‖X‖₁ over St(n, r), v(X) = tr(XᵀAX) by default.

    Builds :func:`sparse_pca_problem` and runs :class:`ManPG` with
    ``GradientNorm(tol) | MaxIterations(max_iter)``.

    Parameters
    ----------
    a : array (n, n), LinearOperator, CovarianceOperator or callable
        Symmetric PSD matrix A, or the map X ↦ A X (see
        :func:`orthopt.decomposition.problem.as_operator`).
    n_components : int
        r, the number of loading vectors.
    alpha : float
        ℓ1 weight α ≥ 0.
    init : {"pca", "random"} or array (n, r)
        Starting point (default: the r leading eigenvectors of A). An array
        whose columns are orthonormal only to ~1e-6 is replaced by its polar factor.
    tol : float
        Stop when the stationarity measure ‖V‖_F/t ≤ tol.
    max_iter : int
        Maximum number of ManPG iterations.
    lr : float, optional
        Proximal step t₀ (ManPG's learning rate); default 1/L with L = 2‖A‖₂
        (the Lipschitz constant of ∇f).
    step_size : float, optional
        The first version's name of ``lr``.
    adaptive : bool, default False
        ManPG-Ada (see :class:`ManPG`).
    weights : array, shape (n, r), optional
        Entrywise weights W ≥ 0 of a weighted penalty α Σ W_ij |X_ij| (the
        proximal map soft-thresholds entry (i, j) at tαW_ij), e.g. W = 0 on
        entries that should not be penalized (adaptive / relaxed lasso).
    variance : {"total", "adjusted"}, default "total"
        The smooth part f = −v (see :func:`sparse_pca_problem`).
    ssn_max_iter : int
        Newton iterations per subproblem at most.
    min_step : float
        Smallest Armijo factor β tried before giving up on a step.
    random_state : None, int or numpy.random.Generator
        Used by ``init="random"``, the power method for ‖A‖₂ and the
        feasibility probe of the solver loop.
    callback : callable, optional
        ``callback(k, x, fun, stationarity)`` after iteration k (k ≥ 1);
        return True to stop.
    verbose : bool
        Show the solver's progress bar.

    Returns
    -------
    OptimizeResult
        The core's fields (``x`` (n, r) with orthonormal columns, ``fun`` =
        F(x), ``grad_norm`` = ‖V‖/t at ``x``, ``nit``, ``status``,
        ``stopping``, ``history`` …) and, for sparse PCA, ``stationarity``
        (= ``grad_norm``), ``history["fun"]`` and ``history["stationarity"]``
        (per iteration, entry 0 at the start), ``extra`` with ``lr`` t₀
        (also as ``step_size``, its first name), ``ssn_iterations`` (total), ``line_search_steps`` (trials beyond
        the first of each iteration) and ``variance``.
    """
    lr = renamed("lr", lr, "step_size", step_size)
    alpha = check_alpha(alpha)
    variance = check_variance(variance)
    op = as_operator(a)
    r = int(n_components)
    if not 1 <= r <= op.n:
        raise ValueError(f"n_components must be in [1, n_features={op.n}]; got {n_components}")
    x = initial_point(op, r, init=init, rng=random_state, like=op.dense)
    if weights is not None:
        weights = asarray_like(to_numpy(weights), like=x)
        if tuple(weights.shape) != (op.n, r):
            raise ValueError(f"weights must have shape ({op.n}, {r}); got {tuple(weights.shape)}")
    problem = sparse_pca_problem(op, r, alpha, variance=variance, weights=weights,
                                 lr=None if lr is None else float(lr),
                                 rng=random_state, like=x)
    manifold = problem.manifold
    if manifold.feasibility(x) > manifold.default_atol(x.dtype, get_namespace(x)):
        x = polar(x)
    solver = ManPG(stopping=GradientNorm(tol) | MaxIterations(max_iter), adaptive=adaptive,
                   subproblem_max_iterations=ssn_max_iter, shortest_step=min_step,
                   verbose=verbose)
    core_callback = None if callback is None else _sparse_pca_callback(callback)
    seed = random_state if random_state is not None else 0
    res = solver.run(problem, x0=x, callback=core_callback, rng=seed)
    if res.status == "gradient_tolerance":
        res.message = (f"stationarity measure ||V||/t = {res.grad_norm:.2e} <= tol = {tol:.1e}")
    return as_sparse_pca_result(res, extra={
        "lr": problem.lr,
        "step_size": problem.lr,
        "ssn_iterations": problem.n_subproblem_iterations,
        "line_search_steps": max(int(res.nfev) - 1 - int(res.nit), 0),
        "variance": variance,
    })


def _sparse_pca_callback(callback):
    """The core's callback(result) calling the sparse-PCA callback(k, x, fun, stationarity)."""
    def core_callback(intermediate):
        return callback(intermediate.nit, intermediate.x, intermediate.fun,
                        intermediate.grad_norm)
    return core_callback


def as_sparse_pca_result(res, extra):
    """Add the sparse-PCA names to a core result: ``stationarity``, ``history["fun"]``, ``extra``."""
    res.stationarity = res.grad_norm
    res.history["fun"] = res.history["cost"]
    res.history["stationarity"] = res.history["grad_norm"]
    res.extra = extra
    return res
