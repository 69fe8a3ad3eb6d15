r"""Riemannian trust regions with a truncated conjugate-gradient inner solver.

At x_k the method minimizes the quadratic model of the pullback f ∘ R_{x_k},

    m_k(η) = f(x_k) + ⟨g_k, η⟩ + ½⟨Hess f(x_k)[η], η⟩,   η ∈ T_{x_k},  ‖η‖ ≤ Δ_k,

approximately, then compares the model with the cost (Absil, Baker &
Gallivan 2007, Alg. 1):

    ρ_k = (f(x_k) − f(R_{x_k}(η_k))) / (m_k(0) − m_k(η_k)).

The step is accepted when ρ_k > ρ' (0.1); the radius shrinks to Δ/4 when
ρ_k < ¼ and doubles (up to Δ̄) when ρ_k > ¾ and the inner solver stopped on
the boundary. With the exact Hessian the method converges globally to
stationary points and, near a nondegenerate minimizer, superlinearly (with
θ = 1 below, quadratically).

Inner solver: truncated conjugate gradients (Steihaug 1983; Toint 1981)
-----------------------------------------------------------------------
CG on Hess[η] = −g, started at η = 0, stopped

* on the boundary ‖η‖_P = Δ, when the next iterate would leave the region;
* along a direction of negative curvature ⟨δ, Hess[δ]⟩ ≤ 0, followed to the boundary;
* when the residual is small enough, ‖r_j‖ ≤ ‖r_0‖ min(‖r_0‖^θ, κ): the
  linear rate κ far from a solution, the rate 1 + θ near one;
* when the model value increases (possible only with a nonlinear Hessian
  approximation, such as finite differences, or through rounding): the
  previous iterate is returned;
* after ``max_inner_iterations`` (default: the manifold's dimension);
* on a flat direction (an addition to Steihaug–Toint, below): the step
  along it is not taken.

Flat directions. After the first inner iteration, a direction δ whose
Rayleigh quotient is numerically zero next to the largest one met,
|⟨δ, Hess[δ]⟩| ≤ eps^{1/2}·max ⟨δᵢ, Hess[δᵢ]⟩/‖δᵢ‖²·‖δ‖², ends the inner
solve at the current η. Why: a cost invariant under a group acting on the
manifold — f(XQ) = f(X) for Q ∈ O(p) on Stiefel, a dominant subspace — has
a Hessian that, at a point with gradient g, couples the orbit directions XΩ
to the others by O(‖g‖) and is O(‖g‖²) small on them. When ‖Hess⁻¹‖ is
large (a small eigengap), the residual target ‖r‖ ≤ ‖r₀‖^{1+θ} lies below
the orbit component of the Newton step's residual, so CG chases it along
the orbit, where the curvature is ~0: the step runs to the boundary along
directions that do not change f while the retraction's cross terms spoil the
Newton part, and the run cycles with ‖grad‖ stuck near 1e-6 (seen on 3 of
1 000 St(50, 5) dominant subspaces with eigengaps 0.002–0.01, which ended at
max_iterations). A genuine negative curvature (a saddle) is far above
eps^{1/2} times the largest curvature and is still followed to the
boundary; the first inner iteration (the Cauchy step, which carries the
global convergence) is always taken.

The residual target is also floored at eps·‖∇f(x)‖, the rounding of the
Hessian-vector products: below it the recurrences are noise, and CG would
wander until a rounding-sized "negative curvature" sends η to the boundary
(seen in single precision on U(n)).

With a preconditioner P (a symmetric positive definite operator on the
tangent space, ``preconditioner(x, r)``) CG works in the P⁻¹ inner product
and the trust region is measured in it, as in Manopt (Boumal & Absil 2015).

Rounding near convergence. There f(x_k) − f(x_{k+1}) and m_k(0) − m_k(η) are
both O(‖η‖²) and drown in the rounding of f; ρ becomes noise and good steps
get rejected. Both are shifted by 10³·eps·max(1, |f(x_k)|) (Conn, Gould &
Toint 2000, §17.4.2; Manopt), which drives ρ to 1 there. eps is the iterate
dtype's, so float32 runs are regularized at their own precision.

Stopping by itself. Besides the solver's criteria the run ends with

* ``"precision_limit"`` (a convergence) after 5 steps in a row whose model
  decrease is below the rounding of f (eps·|f|) while ‖grad‖ did not halve:
  Newton-like steps shrink the gradient superlinearly until it is rounding
  noise, so this stops single-precision runs within a few steps of their
  limit instead of after the loop's 50;
* ``"trust_region_collapsed"`` (a failure) when the radius has collapsed below
  eps^{1/2}·Δ̄ through rejections while the model still predicts a
  measurable decrease: the model does not describe the cost (a wrong
  gradient or Hessian). Without this test the ρ regularization would end
  such a run by accepting steps too short to matter, and a step-size
  criterion would call it converged.

Each iteration evaluates the cost once (at the proposal), the gradient once
when the step is accepted, and one Hessian-vector product per inner
iteration: ``res.nhev`` is the total number of inner iterations.

References
----------
Absil, Baker & Gallivan (2007), Trust-region methods on Riemannian manifolds,
Found. Comput. Math. 7(3). Absil, Mahony & Sepulchre (2008), Optimization
Algorithms on Matrix Manifolds, ch. 7. Conn, Gould & Toint (2000),
Trust-Region Methods, SIAM. Boumal & Absil (2015), Linear Algebra Appl. 475.
Steihaug (1983), SIAM J. Numer. Anal. 20(3). Boumal (2015), Riemannian trust
regions with finite-difference Hessian approximations are globally
convergent, GSI 2015, LNCS 9389.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..manifolds.points import point_eps
from .solver import Solver, SolverState, Step, inner_float
from .step_size import rounding_level

__all__ = ["RiemannianTrustRegions", "truncated_conjugate_gradient"]

#: consecutive steps with a model decrease below the rounding of f, without the
#: gradient norm halving, after which the run stops with "precision_limit"
UNRESOLVED_STEPS = 5

#: why the inner solver stopped (``step.extra["inner_stop"]``)
NEGATIVE_CURVATURE = "negative curvature"
EXCEEDED_RADIUS = "exceeded trust region"
REACHED_LINEAR = "reached target residual (linear, kappa)"
REACHED_SUPERLINEAR = "reached target residual (superlinear, theta)"
MAX_INNER = "maximum inner iterations"
MODEL_INCREASED = "model increased"
FLAT_CURVATURE = "flat curvature"


@dataclass
class TrustRegionState(SolverState):
    """State of :class:`RiemannianTrustRegions`."""

    radius: float = 0.0          # Δ_k
    max_radius: float = 0.0      # Δ̄
    inner_iterations: int = 0    # total over the run
    unresolved_steps: int = 0    # consecutive steps whose model decrease the cost cannot resolve
    floor_grad_norm: float = math.inf  # ‖grad‖ when they began


@dataclass
class InnerResult:
    """Outcome of :func:`truncated_conjugate_gradient`.

    Attributes
    ----------
    eta : array
        The step η, tangent at x.
    hess_eta : array
        Hess f(x)[η] (accumulated, exact for a linear Hessian), tangent at x;
        made from its coordinates when first read.
    iterations : int
        Hessian-vector products made.
    stop : str
        Why the solver stopped (one of the module's constants).
    model_decrease : float
        m(0) − m(η) = −⟨g, η⟩ − ½⟨Hess[η], η⟩.
    """

    eta: object
    hess_eta_coordinates: object
    iterations: int
    stop: str
    model_decrease: float
    coordinates: object = None

    @property
    def hess_eta(self):
        # the solver needs only the model decrease: one product saved per outer step
        if self.coordinates is None:
            return self.hess_eta_coordinates
        return self.coordinates.to_tangent(self.hess_eta_coordinates)


def truncated_conjugate_gradient(manifold, evaluation, radius, theta=1.0, kappa=0.1,
                                 min_iterations=1, max_iterations=None, preconditioner=None):
    """Steihaug–Toint truncated CG for min m(η) over ‖η‖_P ≤ Δ (see the module docstring).

    Parameters
    ----------
    manifold : Manifold
    evaluation : Evaluation
        The problem at x (its gradient, ``coordinates`` of T_x and
        ``hess_coordinates``).
    radius : float
        Δ > 0.
    theta, kappa : float
        The residual target ‖r_j‖ ≤ ‖r_0‖ min(‖r_0‖^θ, κ).
    min_iterations : int
        Inner iterations made before the residual test may stop the solver.
    max_iterations : int, optional
        Default: the manifold's dimension (CG's finite termination).
    preconditioner : callable, optional
        ``preconditioner(x, r) -> P r``, tangent at x.

    Returns
    -------
    InnerResult
    """
    x = evaluation.x
    # CG works in coordinates of T_x: on O(n), SO(n), U(n) the Lie algebra, where
    # keeping δ tangent and the Hessian's Weingarten term cost 4 fewer n³ products
    coordinates = evaluation.coordinates
    grad = evaluation.gradient_coordinates
    if max_iterations is None:
        max_iterations = max(int(manifold.dim), 1)
    inner = coordinates.inner

    def precondition(r):
        if preconditioner is None:
            return r
        return coordinates.from_tangent(preconditioner(x, coordinates.to_tangent(r)))

    eta = coordinates.zero()
    hess_eta = eta
    r = grad
    norm_r0 = math.sqrt(max(inner(r, r), 0.0))
    if norm_r0 == 0.0:  # x is stationary: η = 0 solves the model
        return InnerResult(manifold.zero_vector(x), manifold.zero_vector(x), 0,
                           REACHED_SUPERLINEAR, 0.0)
    z = precondition(r)
    z_r = inner(z, r)
    delta = -z
    # ⟨η, η⟩_P, ⟨η, δ⟩_P, ⟨δ, δ⟩_P updated by recurrences (Conn, Gould & Toint, eq. 7.5.6–7)
    e_pe, e_pd, d_pd = 0.0, 0.0, z_r
    model = 0.0  # m(η) − m(0)
    # the rounding of Hess[δ], below which the residual is noise (module docstring)
    resolution = point_eps(x) * math.sqrt(
        max(inner_float(manifold, x, evaluation.euclidean_gradient,
                        evaluation.euclidean_gradient), 0.0))
    target = max(norm_r0 * min(norm_r0 ** theta, kappa), resolution)
    flat_level = math.sqrt(point_eps(x))
    largest_curvature = 0.0  # the largest ⟨δ, Hess[δ]⟩/⟨δ, δ⟩_P met so far
    stop = MAX_INNER
    j = 0
    for j in range(1, max_iterations + 1):
        hess_delta = evaluation.hess_coordinates(delta)
        d_hd = inner(delta, hess_delta)
        curvature = d_hd / d_pd if d_pd > 0.0 else 0.0
        if j > 1 and abs(curvature) <= flat_level * largest_curvature:
            stop = FLAT_CURVATURE
            break
        if curvature > largest_curvature:
            largest_curvature = curvature
        alpha = z_r / d_hd if d_hd != 0.0 else 0.0
        e_pe_new = e_pe + 2.0 * alpha * e_pd + alpha * alpha * d_pd
        if not d_hd > 0.0 or e_pe_new >= radius * radius or not math.isfinite(e_pe_new):
            # follow δ to the boundary: τ ≥ 0 with ‖η + τδ‖_P = Δ
            tau = (-e_pd + math.sqrt(max(e_pd * e_pd + d_pd * (radius * radius - e_pe), 0.0))
                   ) / d_pd
            eta = eta + tau * delta
            hess_eta = hess_eta + tau * hess_delta
            stop = NEGATIVE_CURVATURE if not d_hd > 0.0 else EXCEEDED_RADIUS
            break
        new_eta = eta + alpha * delta
        new_hess_eta = hess_eta + alpha * hess_delta
        new_model = inner(new_eta, grad) + 0.5 * inner(new_eta, new_hess_eta)
        if new_model >= model:
            stop = MODEL_INCREASED
            break
        eta, hess_eta, model, e_pe = new_eta, new_hess_eta, new_model, e_pe_new
        r = r + alpha * hess_delta
        norm_r = math.sqrt(max(inner(r, r), 0.0))
        if j >= min_iterations and norm_r <= target:
            stop = REACHED_LINEAR if kappa < norm_r0 ** theta else REACHED_SUPERLINEAR
            break
        z = precondition(r)
        z_r_old, z_r = z_r, inner(z, r)
        beta = z_r / z_r_old
        # re-tangentialize: the recurrences drift out of T_x by rounding
        delta = coordinates.retangent(beta * delta - z)
        e_pd = beta * (e_pd + alpha * d_pd)
        d_pd = z_r + beta * beta * d_pd
    decrease = -(inner(grad, eta) + 0.5 * inner(eta, hess_eta))
    return InnerResult(coordinates.to_tangent(eta), hess_eta, j, stop, decrease, coordinates)


class RiemannianTrustRegions(Solver):
    """Riemannian trust regions (RTR) with a truncated-CG inner solver.

    Parameters
    ----------
    max_radius : float, optional
        Δ̄, the largest trust-region radius. Default: the manifold's
        ``typical_dist`` (Manopt's choice).
    initial_radius : float, optional
        Δ₀. Default Δ̄/8.
    accept_ratio : float, default 0.1
        ρ': a step is accepted when ρ > ρ'.
    kappa : float, default 0.1
        Linear rate of the inner residual target.
    theta : float, default 1.0
        Superlinear exponent of the inner residual target (1: quadratic
        convergence with an exact Hessian).
    min_inner_iterations : int, default 1
    max_inner_iterations : int, optional
        Default: the manifold's dimension.
    preconditioner : callable, optional
        ``preconditioner(x, v) -> P v``: a symmetric positive definite
        approximation of the inverse Hessian on the tangent space at x.
    rho_regularization : float, default 1e3
        Multiple of eps·max(1, |f|) added to both sides of ρ (see the module
        docstring); 0 switches the safeguard off.
    **options
        Stopping rules, ``verbose``, ``blas_threads``, see
        :class:`~orthopt.optim.solver.Solver`.

    Notes
    -----
    Every :class:`~orthopt.optim.solver.Step` carries ``extra`` with
    ``inner_iterations`` (Hessian-vector products of this iteration),
    ``inner_stop`` (why truncated CG stopped), ``rho``, ``radius`` (after the
    update), ``model_decrease`` and ``total_inner_iterations``. A rejected
    step leaves x where it was (``accepted=False``) and never counts as a
    short step. The Hessian is the problem's (see
    :meth:`~orthopt.optim.evaluation.Evaluation.hess`): exact with
    ``euclidean_hessian`` or autograd, a finite difference of a hand
    gradient otherwise (RTR-FD, still globally convergent, Boumal 2015).

    Examples
    --------
    >>> import numpy as np
    >>> from orthopt.manifolds import Stiefel
    >>> from orthopt.optim import Problem, RiemannianTrustRegions
    >>> A = np.diag(np.arange(1.0, 11.0))
    >>> problem = Problem(Stiefel(10, 3), lambda x: -np.trace(x.T @ A @ x),
    ...                   euclidean_gradient=lambda x: -2 * A @ x,
    ...                   euclidean_hessian=lambda x, v: -2 * A @ v)
    >>> res = RiemannianTrustRegions(gradient_tolerance=1e-10).run(problem, rng=0)
    >>> round(res.fun, 8), res.success
    (-27.0, True)
    """

    def __init__(self, max_radius=None, initial_radius=None, accept_ratio=0.1, kappa=0.1,
                 theta=1.0, min_inner_iterations=1, max_inner_iterations=None,
                 preconditioner=None, rho_regularization=1e3, **options):
        super().__init__(**options)
        for name, value in (("max_radius", max_radius), ("initial_radius", initial_radius)):
            if value is not None and not (isinstance(value, (int, float)) and value > 0
                                          and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive number or None, got {value!r}")
        if max_radius is not None and initial_radius is not None and initial_radius > max_radius:
            raise ValueError(f"initial_radius={initial_radius} exceeds max_radius={max_radius}; "
                             f"the radius never grows past max_radius")
        if not 0.0 <= accept_ratio < 0.25:
            raise ValueError(f"accept_ratio must be in [0, 0.25) (a step that shrinks the "
                             f"radius must still be acceptable), got {accept_ratio!r}")
        if not 0.0 < kappa < 1.0:
            raise ValueError(f"kappa must be in (0, 1), got {kappa!r}")
        if not theta > 0.0:
            raise ValueError(f"theta must be positive, got {theta!r}")
        for name, value in (("min_inner_iterations", min_inner_iterations),
                            ("max_inner_iterations", max_inner_iterations)):
            if value is not None and (isinstance(value, bool) or int(value) != value
                                      or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if preconditioner is not None and not callable(preconditioner):
            raise TypeError(f"preconditioner must be callable(x, v), "
                            f"got {type(preconditioner).__name__}")
        if not rho_regularization >= 0.0:
            raise ValueError(f"rho_regularization must be ≥ 0, got {rho_regularization!r}")
        self.max_radius = max_radius
        self.initial_radius = initial_radius
        self.accept_ratio = float(accept_ratio)
        self.kappa = float(kappa)
        self.theta = float(theta)
        self.min_inner_iterations = int(min_inner_iterations)
        self.max_inner_iterations = (None if max_inner_iterations is None
                                     else int(max_inner_iterations))
        self.preconditioner = preconditioner
        self.rho_regularization = float(rho_regularization)

    def _start(self, problem, current, rng):
        max_radius = (float(problem.manifold.typical_dist) if self.max_radius is None
                      else float(self.max_radius))
        radius = max_radius / 8.0 if self.initial_radius is None else float(self.initial_radius)
        return TrustRegionState(rng=rng, radius=min(radius, max_radius), max_radius=max_radius)

    def _iterate(self, problem, current, state):
        manifold = problem.manifold
        x = current.x
        eps = point_eps(x)  # of the least precise factor of a product
        inner = truncated_conjugate_gradient(
            manifold, current, state.radius, self.theta, self.kappa,
            self.min_inner_iterations, self.max_inner_iterations, self.preconditioner)
        state.inner_iterations += inner.iterations
        proposal = problem.at(manifold.retraction(x, inner.eta))
        f, f_new = current.cost, proposal.cost
        regularization = self.rho_regularization * eps * max(1.0, abs(f))
        numerator = f - f_new + regularization
        denominator = inner.model_decrease + regularization
        # the model must decrease (it does for a linear Hessian in exact arithmetic);
        # the regularized test tolerates a decrease lost to rounding
        model_decreased = denominator >= 0.0
        rho = numerator / denominator if denominator != 0.0 else math.nan
        radius_before = state.radius
        if not (model_decreased and rho >= 0.25):  # NaN lands here too
            state.radius /= 4.0
        elif rho > 0.75 and inner.stop in (NEGATIVE_CURVATURE, EXCEEDED_RADIUS):
            state.radius = min(2.0 * state.radius, state.max_radius)
        accepted = model_decreased and rho > self.accept_ratio and math.isfinite(f_new)
        step_norm = math.sqrt(max(inner_float(manifold, x, inner.eta, inner.eta), 0.0))
        extra = {"inner_iterations": inner.iterations, "inner_stop": inner.stop, "rho": rho,
                 "radius": state.radius, "model_decrease": inner.model_decrease,
                 "total_inner_iterations": state.inner_iterations}
        # the next iteration will ask for Hessians at the proposal: with autograd its
        # gradient comes with their trace
        new_grad_norm = proposal.prepare_hessian().grad_norm if accepted else current.grad_norm
        if self._at_precision_limit(state, inner.model_decrease, f, eps, current.grad_norm,
                                    new_grad_norm):
            return Step(current, 0.0, accepted=False, status="precision_limit", extra=extra)
        if accepted:
            return Step(proposal, step_norm, predicted_decrease=inner.model_decrease,
                        extra=extra)
        if radius_before <= math.sqrt(eps) * state.max_radius:
            # The region has collapsed: ~13 rejections in a row (double precision).
            # Near a minimizer ρ is regularized to 1 and steps are not rejected, so
            # this is a model that does not describe the cost — a wrong gradient or
            # Hessian — unless the decrease it predicts is below the rounding of f.
            # (Shrinking further would end in steps accepted by the regularization
            # alone, too short to matter, and a "converged" step-size stop.)
            # the cost non-finite at the shortest proposal, next to x: it broke down
            # (the same rule as the line searches' "nonfinite")
            if not math.isfinite(f_new):
                return Step.failed(current, "nonfinite")
            limit = inner.model_decrease <= rounding_level(f, eps, 100.0)
            return Step(current, 0.0, accepted=False,
                        status="precision_limit" if limit else "trust_region_collapsed",
                        extra=extra)
        return Step(current, 0.0, accepted=False, extra=extra)

    @staticmethod
    def _at_precision_limit(state, model_decrease, cost, eps, grad_norm, new_grad_norm):
        """Whether the run has reached the precision of the cost (see the class notes).

        Near a nondegenerate minimizer a (truncated) Newton step shrinks the
        gradient superlinearly; when the model decrease is below the rounding
        of f for ``UNRESOLVED_STEPS`` steps in a row and the gradient has not
        halved meanwhile, the gradient norm is rounding noise.
        """
        if model_decrease > rounding_level(cost, eps, 1.0):
            state.unresolved_steps = 0
            return False
        if state.unresolved_steps == 0:
            state.floor_grad_norm = grad_norm
        state.unresolved_steps += 1
        if new_grad_norm <= 0.5 * state.floor_grad_norm:
            state.unresolved_steps = 0
            return False
        return state.unresolved_steps >= UNRESOLVED_STEPS
