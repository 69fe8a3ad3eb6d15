r"""
10. Second order: Hessians, trust regions, L-BFGS
=================================================

The solvers of lesson 4 use first derivatives only and converge linearly:
every iteration removes roughly the same fraction of the error. Newton's
method uses the second derivative and converges quadratically — the number of
correct digits doubles per iteration — but on a manifold the second
derivative has an extra term, and a Newton step needs a safeguard far from
the minimizer. This lesson builds the Riemannian Hessian, checks it with a
Taylor test of order three, runs the Riemannian trust-region method against
first-order methods and quasi-Newton L-BFGS, and measures what a
Hessian-vector product costs.

.. admonition:: What you should take away

   * The Riemannian Hessian is the projected Euclidean one **plus a
     curvature term** made from the Euclidean gradient:
     :math:`\operatorname{Hess} f(x)[v] = P_x\big(\nabla^2 f(x)[v] - v\,
     \operatorname{sym}(x^\top \nabla f(x))\big)`. Forgetting it is the
     classic mistake; :func:`orthopt.check_hessian` catches it (slope 2
     instead of 3).
   * Trust regions (``method="trust-regions"``) need only Hessian-*vector*
     products — by hand, by autograd, or by finite differences of the
     gradient — and converge quadratically near a minimizer: in the run
     below the last two steps take the gradient norm from about 10⁻⁴ to
     about 10⁻¹⁴.
   * L-BFGS (``method="lbfgs"``) builds curvature from gradients alone;
     on ill-conditioned problems it needs far fewer iterations than
     Barzilai–Borwein steps, at a few vector operations more per iteration.
"""

# %%
# The Riemannian Hessian
# ----------------------
#
# On the Stiefel manifold with the embedded metric, the Riemannian gradient
# is the projection :math:`\operatorname{grad} f(x) = P_x(\nabla f(x))`,
# :math:`P_x(u) = u - x\operatorname{sym}(x^\top u)`. The Hessian is its
# derivative along :math:`v`, projected back onto the tangent space (Absil,
# Mahony & Trumpf 2013). Differentiating :math:`P_x` itself — the tangent
# space turns as :math:`x` moves — leaves the Weingarten term:
#
# .. math::
#
#    \operatorname{Hess} f(x)[v]
#    = P_x\big(\nabla^2 f(x)[v]\big) - P_x\big(v\operatorname{sym}(x^\top\nabla f(x))\big).
#
# The second term vanishes only where :math:`\nabla f(x) = 0`, almost
# nowhere on a constrained problem: for the Brockett cost
# :math:`f(x) = \operatorname{tr}(x^\top A x N)` of lesson 4 it holds most of
# the curvature. ``Problem`` takes the Euclidean Hessian-vector product
# :math:`v \mapsto \nabla^2 f(x)[v] = 2AvN`; the manifold adds the rest
# (:meth:`~orthopt.manifolds.Manifold.euclidean_to_riemannian_hessian`).
#
# **The Taylor test, one order up.** Along a geodesic
# :math:`\gamma(t) = \exp_x(tv)` (zero acceleration),
#
# .. math::
#
#    E(t) = \Big|f(\gamma(t)) - f(x) - t\langle\operatorname{grad} f, v\rangle
#    - \tfrac{t^2}{2}\langle\operatorname{Hess} f[v], v\rangle\Big| = O(t^3)
#
# for the right Hessian, and only :math:`O(t^2)` for a wrong one.
# :func:`~orthopt.check_hessian` fits the slope of :math:`\log E` against
# :math:`\log t` where :math:`E` stands clear of rounding, and also checks
# that the Hessian is symmetric and tangent.

import time

import autograd.numpy as anp
import matplotlib.pyplot as plt
import numpy as np
from threadpoolctl import threadpool_limits

from orthopt import (
    Problem,
    RiemannianConjugateGradient,
    RiemannianGradientDescent,
    RiemannianLBFGS,
    RiemannianTrustRegions,
    Stiefel,
    check_hessian,
)
from orthopt.viz import plot_convergence

# one BLAS thread: small products, and timings that mean something (see DESIGN, Measuring)
threadpool_limits(limits=1, user_api="blas")
rng = np.random.default_rng(0)

n, p = 40, 4
G = rng.standard_normal((n, n))
A = (G + G.T) / 2
N = np.diag(np.arange(p, 0, -1.0))
eigenvalues = np.linalg.eigvalsh(A)
f_star = float(eigenvalues[:p] @ np.diag(N))


def cost(x):
    return anp.trace(x.T @ A @ x @ N)


def gradient(x):
    return 2 * A @ x @ N


def hessian(x, v):
    return 2 * A @ v @ N


M = Stiefel(n, p)
problem = Problem(M, cost, euclidean_gradient=gradient, euclidean_hessian=hessian)


class StiefelWithoutWeingarten(Stiefel):
    """The classic mistake: the Riemannian Hessian as the projected Euclidean one."""

    def euclidean_to_riemannian_hessian(self, x, euclidean_gradient, euclidean_hessian, v):
        return self.projection(x, euclidean_hessian)


wrong = Problem(StiefelWithoutWeingarten(n, p), cost, euclidean_gradient=gradient,
                euclidean_hessian=hessian)
right_check = check_hessian(problem, rng=1)
wrong_check = check_hessian(wrong, rng=1)
print("with the Weingarten term:   ", right_check.message)
print("without the Weingarten term:", wrong_check.message)

fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
right_check.plot(axes[0])
axes[0].set_title(f"right Hessian: slope {right_check.slope:.2f}", fontsize=10)
wrong_check.plot(axes[1])
axes[1].set_title(f"Weingarten term missing: slope {wrong_check.slope:.2f}", fontsize=10)
fig.tight_layout()

# %%
# At small :math:`t` the error is the rounding of :math:`f` (about
# :math:`10^{-14}|f|`), flat; above it the right Hessian leaves the cubic
# remainder, the wrong one a quadratic error that it cannot shrink. The same
# check passes on autograd's Hessian-vector product (``Problem(M, cost)``
# with no derivatives at all) and on the finite-difference one that a
# problem with only a hand gradient gets — the check says which it tested:

print(check_hessian(Problem(M, cost), rng=1).message)
print(check_hessian(Problem(M, cost, euclidean_gradient=gradient), rng=1).message)

# %%
# Trust regions
# -------------
#
# Newton's step solves :math:`\operatorname{Hess} f(x)[\eta] = -\operatorname{grad} f(x)`,
# which far from a minimizer may point uphill (the Hessian is indefinite at
# the saddles of lesson 4) or far out of the region where the quadratic
# model is any good. The Riemannian trust-region method (Absil, Baker &
# Gallivan 2007) minimizes the model
#
# .. math::
#
#    m(\eta) = f(x) + \langle\operatorname{grad} f, \eta\rangle
#    + \tfrac12\langle\operatorname{Hess} f[\eta], \eta\rangle,
#    \qquad \|\eta\| \le \Delta,
#
# with truncated conjugate gradients (Steihaug–Toint: stop at the boundary,
# or along a direction of negative curvature), then compares the actual
# decrease with the predicted one, :math:`\rho = (f(x) - f(R_x(\eta))) /
# (m(0) - m(\eta))`: the step is taken when :math:`\rho > 0.1`, and the
# radius :math:`\Delta` shrinks when :math:`\rho < 1/4` and grows when the
# model was good on the boundary. Near the minimizer the region stops
# binding, the inner solver runs to a small residual, and the step is
# Newton's. Each inner iteration costs one Hessian-vector product:
# ``res.nhev`` counts them.
#
# Same start, four methods: gradient descent with Barzilai–Borwein steps,
# conjugate gradients, L-BFGS and trust regions.

x0 = M.random_point(rng=2)
options = dict(gradient_tolerance=1e-11, max_iterations=3000)
runs = {
    "RGD, Barzilai–Borwein": RiemannianGradientDescent(step_size="bb", **options),
    "conjugate gradients": RiemannianConjugateGradient(**options),
    "L-BFGS (m = 10)": RiemannianLBFGS(**options),
    "trust regions": RiemannianTrustRegions(**options),
}
results = {name: solver.run(problem, x0=x0) for name, solver in runs.items()}
print(f"{'method':24s} {'iterations':>10s} {'f evals':>8s} {'∇f evals':>9s} "
      f"{'Hess·v':>7s} {'time (s)':>9s} {'(f − f*)/|f*|':>14s}")
for name, res in results.items():
    print(f"{name:24s} {res.nit:10d} {res.nfev:8d} {res.ngev:9d} {res.nhev:7d} "
          f"{res.time:9.3f} {abs(res.fun - f_star) / abs(f_star):14.1e}")

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
plot_convergence(results, ax=axes[0])
axes[0].set_xscale("log")
axes[0].set_title("against iterations (log scale)", fontsize=10)
for name, res in results.items():
    axes[1].semilogy(res.history["time"], res.history["grad_norm"], label=name)
axes[1].set_xlabel("time (s)")
axes[1].set_ylabel("‖grad f(x_k)‖")
axes[1].set_title("against wall time", fontsize=10)
axes[1].grid(True, which="both", alpha=0.3)
axes[1].legend(fontsize=8)
fig.tight_layout()

# %%
# The last gradient norms of the trust-region run show the quadratic rate:
# each is about the square of the one before (in units of the problem's
# scale), until rounding stops it.

tr = results["trust regions"]
accepted = tr.history["grad_norm"][np.r_[True, tr.history["step_size"][1:] > 0]]
print("last gradient norms:", "  ".join(f"{g:.1e}" for g in accepted[-5:]))
print("ratios g_{k+1}/g_k: ", "  ".join(f"{r:.1e}" for r in accepted[-4:] / accepted[-5:-1]))

# %%
# Per iteration, trust regions do much more work — ``nhev / nit``
# Hessian-vector products, one per inner CG iteration — so compare the two
# panels: iterations flatter a second-order method, wall time does not. Here
# each product costs about one gradient (measured at the end of this
# lesson), and the quadratic tail — full accuracy a few iterations after the
# first-order methods would only start their long linear descent — is what
# the extra work buys.
#
# L-BFGS on an ill-conditioned problem
# ------------------------------------
#
# L-BFGS keeps the last :math:`m` steps :math:`s_i` and gradient changes
# :math:`y_i` (carried to the current tangent space by projection) and
# applies the inverse of the BFGS curvature model they define, by the
# two-loop recursion — no Hessian at all. Barzilai–Borwein steps use the
# curvature along the last step only. The difference shows when the
# Hessian's eigenvalues spread over orders of magnitude:

n_ill, p_ill = 12, 3
Q, _ = np.linalg.qr(rng.standard_normal((n_ill, n_ill)))
A_ill = Q @ np.diag(np.logspace(0, 3, n_ill)) @ Q.T       # condition number 10³
N_ill = np.diag(np.arange(p_ill, 0, -1.0))
ill = Problem(Stiefel(n_ill, p_ill), lambda x: np.trace(x.T @ A_ill @ x @ N_ill),
              euclidean_gradient=lambda x: 2 * A_ill @ x @ N_ill)
x0_ill = Stiefel(n_ill, p_ill).random_point(rng=3)
ill_runs = {name: solver(gradient_tolerance=1e-8, max_iterations=5000).run(ill, x0=x0_ill)
            for name, solver in [("L-BFGS", RiemannianLBFGS),
                                 ("RGD, Barzilai–Borwein", lambda **o: RiemannianGradientDescent(
                                     step_size="bb", **o))]}
for name, res in ill_runs.items():
    print(f"{name:22s} {res.nit:5d} iterations, {res.nfev:5d} cost evaluations, "
          f"{res.time:.2f} s, {res.status}")
ax = plot_convergence(ill_runs)
ax.set_title("Brockett, eigenvalues of A from 1 to 10³", fontsize=10)

# %%
# What a Hessian-vector product costs
# -----------------------------------
#
# A trust-region iteration is cheap only if :math:`\operatorname{Hess}
# f(x)[v]` is. With a hand-written Euclidean Hessian it costs about one
# gradient (the same products :math:`A v N`, plus the projection and the
# Weingarten term). Without one, orthopt differentiates twice with autograd:
# at each point it records the gradient's computation once and each product
# is one reverse pass through that record (the Euclidean Hessian is
# symmetric, so the vector-Jacobian product of :math:`\nabla f` is
# :math:`\nabla^2 f(x)[v]`). For a hand gradient on arrays autograd cannot
# trace it takes the central difference :math:`(\nabla f(x + hv) - \nabla
# f(x - hv))/2h` — two gradients, and about :math:`\epsilon^{2/3}` relative
# accuracy. Measured on this machine, each a median of repeated calls at
# one point, with the gradient's own cost (Riemannian, from the same
# source) as the unit:


def median_time(fn, repeats=200):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


x = M.random_point(rng=4)
v = M.random_tangent_vector(x, rng=5)
sources = {
    "hand (euclidean_hessian)": problem,
    "autograd (cost only)": Problem(M, cost),
    "finite differences (hand gradient)": Problem(M, cost, euclidean_gradient=gradient),
}
print(f"{'Hessian source':36s} {'grad (µs)':>10s} {'Hess·v (µs)':>12s} {'ratio':>6s}")
for name, source in sources.items():
    evaluation = source.at(x)
    evaluation.evaluate_gradient()
    t_grad = median_time(lambda: source.riemannian_gradient(x))
    t_hess = median_time(lambda: evaluation.hess(v))
    print(f"{name:36s} {1e6 * t_grad:10.1f} {1e6 * t_hess:12.1f} {t_hess / t_grad:6.2f}")

# %%
# On a problem this small Python overhead dominates both columns; the ratio
# is what carries over. A hand Hessian is the cheapest product, autograd's
# costs about a gradient's reverse pass once the point's record exists (the
# first product at a point pays for the record), and finite differences two
# gradients with no cost evaluation. Either way a trust-region iteration
# costs a handful of gradients, and near the minimizer it is worth them.
#
# On the groups O(n), SO(n) and U(n) the products the manifold adds are
# :math:`n \times n \times n` matrix products and matter as much as the
# user's. There the inner solver works in the Lie algebra,
# :math:`\Omega = x^\mathsf{H} v`, where keeping a direction tangent is
# :math:`\operatorname{skew}(\Omega)` and the Riemannian Hessian is
# :math:`\operatorname{skew}(x^\mathsf{H}\nabla^2 f(x)[x\Omega] - \Omega S)`
# with :math:`S = \operatorname{herm}(x^\mathsf{H}\nabla f(x))` computed once
# per point: three products next to the user's, where the ambient formulas
# take six (:mod:`orthopt.optim.tangent_coordinates`).
#
# References: Absil, Baker & Gallivan (2007), Trust-region methods on
# Riemannian manifolds, Found. Comput. Math. 7; Absil, Mahony & Trumpf
# (2013), An extrinsic look at the Riemannian Hessian, GSI; Huang, Gallivan
# & Absil (2015), A Broyden class of quasi-Newton methods for Riemannian
# optimization, SIAM J. Optim. 25; Nocedal & Wright (2006), Numerical
# Optimization, ch. 7.
