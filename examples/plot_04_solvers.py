r"""
4. Solving min f(B) s.t. BᵀB = I
================================

Lessons 1–3 built the pieces: tangent vectors, the Riemannian gradient,
retractions, a checked gradient. A *solver* puts them in a loop. This lesson
solves two problems whose answer is known in closed form — an eigenvalue
problem on the Stiefel manifold and the orthogonal Procrustes problem on
SO(n) — with every method of :func:`orthopt.minimize`, and compares the
methods by iterations, evaluations, time and distance to the true answer.

.. admonition:: What you should take away

   * ``orthopt.minimize(cost, x0)`` is one call; the manifold comes from
     ``x0`` (tall: Stiefel, square with det > 0: SO(n)). With no ``method``
     it runs **Riemannian trust regions**, the method that solved the most
     problems of a test suite with default options. It uses
     Hessian-vector products: yours, autograd's, or finite differences of
     the gradient.
   * Solvers are built from objects: a step-size rule (``step_size=``,
     ``lr=``) and a stopping criterion such as
     ``GradientNorm(1e-6, relative=True) | MaxIterations(3000)``;
     ``res.stopping`` says which criterion ended the run.
   * On the two problems below, trust regions need by far the fewest
     iterations and, thanks to quadratic convergence, their last step cuts
     the gradient far more than any other method's. Among the gradient-only methods, L-BFGS and Barzilai–Borwein
     steps cost about one gradient per iteration, and L-BFGS needs the
     fewest gradients where the curvature is uneven; conjugate gradients
     spend two or more per iteration on their line search. The script
     checks each of these statements against its own runs.
   * Givens coordinate descent and projUNN take *cheap, partial* steps: one
     rotation, or a rank-one update. On these problems they need far more
     iterations than a full gradient step. They are for problems where the
     full step is the bottleneck (lessons 5 and 6).
"""

# %%
# Two problems with a known answer
# --------------------------------
#
# **Brockett cost on St(n, p).** For a symmetric :math:`A` and weights
# :math:`N = \operatorname{diag}(\mu_1, \dots, \mu_p)`,
# :math:`\mu_1 > \dots > \mu_p > 0`,
#
# .. math::
#
#    f(X) = \operatorname{tr}(X^\top A X N), \qquad \nabla f(X) = 2 A X N,
#    \qquad \nabla^2 f(X)[V] = 2 A V N .
#
# With :math:`N = I` the cost :math:`\operatorname{tr}(X^\top A X)` depends
# only on the subspace spanned by the columns of :math:`X`, so its minimizers
# form a whole family. The distinct weights break that symmetry: the critical
# points are the matrices whose columns are eigenvectors of :math:`A`, and the
# minimum puts the eigenvector of the smallest eigenvalue in the column with
# the largest weight, the next one in the next column, and so on. With the
# eigenvalues in increasing order :math:`\lambda_1 \le \lambda_2 \le \dots`,
#
# .. math::
#
#    f^\star = \sum_{i=1}^p \mu_i \lambda_i, \qquad
#    X^\star = [v_1, \dots, v_p] \ \text{(up to the sign of each column)},
#
# which :func:`numpy.linalg.eigh` gives us. Every other choice of
# eigenvectors is a saddle point (or the maximum): a solver started at random
# has to find its way around them.
#
# **Orthogonal Procrustes on SO(n).** Given two clouds of :math:`m` points in
# :math:`\mathbb R^n` (the rows of :math:`A, B \in \mathbb R^{m\times n}`),
# find the rotation that best maps one onto the other:
#
# .. math::
#
#    f(X) = \|AX - B\|_F^2, \qquad \nabla f(X) = 2A^\top (AX - B), \qquad
#    \nabla^2 f(X)[V] = 2A^\top A V.
#
# On the group :math:`XX^\top = I`, so :math:`\|AX\|_F^2 = \|A\|_F^2` and
# :math:`f(X) = \|A\|_F^2 + \|B\|_F^2 - 2\operatorname{tr}(X^\top A^\top B)`
# is *linear* in :math:`X`. With the SVD :math:`A^\top B = U\Sigma V^\top`,
# :math:`\operatorname{tr}(X^\top U\Sigma V^\top)` is largest at
# :math:`X^\star = UV^\top`, the polar factor of :math:`A^\top B`:
# :func:`scipy.linalg.orthogonal_procrustes` computes it. (It solves over
# O(n); when :math:`\det UV^\top = +1`, as we check below, that is also the
# answer on SO(n).)
#
# The Euclidean Hessians :math:`\nabla^2 f(X)[V]`, the derivatives of the
# gradients along :math:`V`, are only needed by the second-order method (trust
# regions); the manifold turns them into Riemannian Hessians, and lesson 10
# explains how. Here they are one line each, checked like the gradients: the
# Taylor error of a correct gradient falls with slope 2, that of a correct
# Hessian with slope 3.

import matplotlib.pyplot as plt
import numpy as np
import scipy.linalg

import orthopt
from orthopt import (
    GivensCoordinateDescent,
    Problem,
    ProjUNN,
    RiemannianConjugateGradient,
    RiemannianGradientDescent,
    RiemannianLBFGS,
    RiemannianTrustRegions,
    SpecialOrthogonal,
    Stiefel,
    check_gradient,
    check_hessian,
)
from orthopt.optim import Armijo, GradientNorm, MaxIterations, NonmonotoneBB, infer_manifold
from orthopt.optim.minimize import DEFAULT_METHOD
from orthopt.viz import plot_convergence

rng = np.random.default_rng(0)

# Brockett on St(30, 3)
n, p = 30, 3
G = rng.standard_normal((n, n))
A = (G + G.T) / 2
N = np.diag(np.arange(p, 0, -1.0))                  # μ = (3, 2, 1)
eigenvalues, eigenvectors = np.linalg.eigh(A)      # ascending
f_brockett = float(eigenvalues[:p] @ np.diag(N))
X_brockett = eigenvectors[:, :p]


def brockett(X):
    """Cost and Euclidean gradient together: both need A X."""
    AX = A @ X
    return float(np.sum(X * (AX @ N))), 2 * AX @ N


def brockett_hessian(X, V):
    return 2 * A @ V @ N


# Procrustes on SO(12): B is a rotated copy of A plus noise
m, k = 36, 12
A_pts = rng.standard_normal((m, k))
B_pts = A_pts @ SpecialOrthogonal(k).random_point(rng=rng) + 0.5 * rng.standard_normal((m, k))
X_procrustes, _ = scipy.linalg.orthogonal_procrustes(A_pts, B_pts)
AtA = A_pts.T @ A_pts


def procrustes(X):
    residual = A_pts @ X - B_pts
    return float(np.sum(residual**2)), 2 * A_pts.T @ residual


def procrustes_hessian(X, V):
    return 2 * AtA @ V


f_procrustes = procrustes(X_procrustes)[0]
print(f"Brockett:   f* = {f_brockett:.6f}  (Σ μ_i λ_i from eigh)")
print(f"Procrustes: f* = {f_procrustes:.6f}  (scipy), det X* = {np.linalg.det(X_procrustes):+.6f}")

problem_brockett = Problem(Stiefel(n, p), None, cost_and_gradient=brockett,
                           euclidean_hessian=brockett_hessian)
problem_procrustes = Problem(SpecialOrthogonal(k), None, cost_and_gradient=procrustes,
                             euclidean_hessian=procrustes_hessian)
for name, problem in [("Brockett", problem_brockett), ("Procrustes", problem_procrustes)]:
    print(f"{name:10s} gradient check: {check_gradient(problem, rng=0).message}")
    print(f"{name:10s} Hessian check:  {check_hessian(problem, rng=0).message}")

# %%
# One call: ``orthopt.minimize``
# ------------------------------
#
# :func:`orthopt.minimize` has SciPy's shape. ``jac=True`` says that the cost
# returns the pair (value, Euclidean gradient); a callable ``jac`` would be
# the gradient alone, and without ``jac`` autograd differentiates the cost.
# The manifold is inferred from the starting point: a tall matrix lives on
# the Stiefel manifold, a square one with positive determinant on SO(n).
# Without ``method=`` the solver is the package's default:

x0_brockett = Stiefel(n, p).random_point(rng=1)
x0_procrustes = np.eye(k)
print(infer_manifold(x0_brockett), "|", infer_manifold(x0_procrustes))
print("default method:", DEFAULT_METHOD)

res = orthopt.minimize(brockett, x0_brockett, jac=True)
print(res)
print(f"relative cost error (f − f*)/|f*| = {(res.fun - f_brockett) / abs(f_brockett):.1e}")

# %%
# The result holds the last iterate ``x``, its cost and gradient norm, the
# counts of iterations and evaluations (``nfev`` cost, ``ngev`` gradient,
# ``nhev`` Hessian-vector products), ``status`` and ``message`` (why the run
# stopped), ``stopping`` (the criterion object that fired, here the default
# rule ‖grad f‖ ≤ 10⁻⁶) and ``history``: the cost, gradient norm, step
# length and elapsed time of every iteration. The figures below are drawn
# from it.
#
# **Why trust regions by default.** Each iteration minimizes a quadratic
# model of :math:`f` inside a ball of radius :math:`\Delta` (by a few
# conjugate-gradient steps on Hessian-vector products), compares the cost
# with what the model promised, and grows or shrinks :math:`\Delta` — lesson
# 10 takes it apart. That makes it robust far from a minimizer, where the
# ball keeps the steps safe, and fast near one, where the model is
# accurate and the steps become Newton steps: the gradient norm falls
# quadratically. Measured over a suite of textbook problems with default
# options (``benchmarks/defaults.py``), it solved every one, more than any
# other method here; that, not speed on one problem, is what a default is
# for.
#
# **What a Hessian-vector product costs.** ``minimize`` got only the
# gradient, so each product was a finite difference of two gradients, and
# most of the gradient evaluations above went into them. A ``Problem`` with
# ``euclidean_hessian=`` saves that work (and is exact). The solver classes
# behind the method names take such a problem directly; their default
# stopping criterion is the one ``minimize`` used:

print("default stopping:", RiemannianTrustRegions().stopping)
finite_differences = res
exact = RiemannianTrustRegions().run(problem_brockett, x0=x0_brockett, rng=0)
print(f"{'Hessian':20s} {'iter':>5s} {'gradients':>9s} {'Hess·v':>7s}  status")
for label, r in [("finite differences", finite_differences), ("exact (2 A V N)", exact)]:
    print(f"{label:20s} {r.nit:5d} {r.ngev:9d} {r.nhev:7d}  {r.status}")

# %%
# Every method
# ------------
#
# ===================  =======================================================
# ``method``           one iteration
# ===================  =======================================================
# ``"trust-regions"``  minimize the model :math:`f(x_k) + \langle g, \eta\rangle
#                      + \tfrac12\langle \operatorname{Hess} f(x_k)[\eta],
#                      \eta\rangle` over :math:`\|\eta\| \le \Delta_k` by
#                      truncated conjugate gradients; take
#                      :math:`x_{k+1} = R_{x_k}(\eta)` if the cost fell by a
#                      fair share of what the model promised, else stay and
#                      shrink :math:`\Delta` (the default method)
# ``"lbfgs"``          direction :math:`-H_k g_k`, where :math:`H_k` is a
#                      quasi-Newton inverse Hessian built from the last ten
#                      steps and gradient changes (carried to the current
#                      tangent space by projection); strong Wolfe line search
#                      whose first trial is the unit quasi-Newton step
# ``"rgd"``            :math:`x_{k+1} = R_{x_k}(-\alpha_k \operatorname{grad}
#                      f(x_k))`; the first trial of :math:`\alpha_k` is the
#                      Barzilai–Borwein step below (a step of unit length
#                      at the start), then halving until
#                      :math:`f` drops by at least
#                      :math:`10^{-4}\,\alpha_k\|\operatorname{grad} f\|^2`
#                      (Armijo): the cost never goes up
# ``"rgd-bb"``         the same direction; :math:`\alpha_k` from the last step
#                      :math:`s = x_k - x_{k-1}` and gradient change :math:`y`,
#                      alternately :math:`\langle s,s\rangle/|\langle s,y\rangle|`
#                      and :math:`|\langle s,y\rangle|/\langle y,y\rangle`
#                      (Barzilai–Borwein), checked against an average of recent
#                      costs (nonmonotone: the cost may go up for a while)
# ``"cg"``             direction :math:`d_{k+1} = -\operatorname{grad} f(x_{k+1})
#                      + \beta_k P_{x_{k+1}}(d_k)` — the old direction projected
#                      onto the new tangent space — with a strong Wolfe line
#                      search; :math:`\beta` by Hager–Zhang
# ``"givens"``         rotate one random pair of rows :math:`(i, j)` of
#                      :math:`x` (:math:`x \leftarrow Gx`) or of columns
#                      (:math:`x \leftarrow xG`, ``side="both"``, the default)
#                      by the angle that minimizes :math:`f` along it
# ``"givens-gs"``      the same with the pair of largest coordinate derivative
#                      (Gauss–Southwell, lesson 5)
# ``"projunn-d"``      a rank-one sketch :math:`ab^\top` of the step
#                      :math:`-\eta\operatorname{grad} f`, then the closest
#                      orthogonal matrix to :math:`x + ab^\top` (lesson 6)
# ``"projunn-t"``      the same sketch, then :math:`x\exp(\operatorname{skew}
#                      (x^\top ab^\top))` (lesson 6)
# ===================  =======================================================
#
# Each name stands for a solver class with some settings —
# :class:`~orthopt.RiemannianTrustRegions`, :class:`~orthopt.RiemannianLBFGS`,
# :class:`~orthopt.RiemannianGradientDescent`,
# :class:`~orthopt.RiemannianConjugateGradient`,
# :class:`~orthopt.GivensCoordinateDescent`, :class:`~orthopt.ProjUNN` — and
# ``minimize(..., options={...})`` passes further settings to it. We build the
# classes directly here, because what varies between solvers is made of
# objects that are easier to read there:
#
# * **Step sizes** (``step_size=``): ``Fixed(lr)`` takes the same step every
#   iteration (``lr=`` alone means this rule; with a searching rule ``lr`` is
#   its first trial); ``Armijo()`` backtracks, first trying the
#   Barzilai–Borwein step, and accepts only a decrease; ``NonmonotoneBB()``
#   takes Barzilai–Borwein steps against an average of recent costs;
#   ``StrongWolfe()`` also asks the slope to flatten (CG, L-BFGS). The names
#   ``"armijo"``, ``"bb"`` and ``"fixed"`` build the same objects.
# * **Stopping criteria** (``stopping=``): ``MaxIterations``, ``MaxTime``,
#   ``MaxEvaluations``, ``GradientNorm``, ``StepSize``, ``CostChange``,
#   combined with ``|`` (any) and ``&`` (all). Each knows its status and
#   whether it means convergence. A few stops need no criterion, among them
#   a non-finite cost and ``"precision_limit"`` — the cost can no longer resolve the
#   decrease the steps aim for, so the point is stationary to working
#   precision (a success).
#
# Every run below stops when the gradient norm has dropped by a factor of
# :math:`10^6`. One Givens iteration is a single rotation; their default
# budget, 200 sweeps over all the rotation planes, is more than this page
# can afford, so those runs are capped at 600 rotations.
# ``blas_threads=1`` pins BLAS to one thread during each run: matrices this
# small gain nothing from threads, and the timings stay comparable. The seed
# goes to ``run(..., rng=0)``: ``"givens"`` and the projUNN methods draw
# random numbers (the pair to rotate, the sketch), the loop's feasibility
# test draws a probe vector, and a seeded run keeps this page the same on
# every build.


def stopping(max_iterations):
    return GradientNorm(1e-6, relative=True) | MaxIterations(max_iterations)


def make_solver(method):
    common = dict(stopping=stopping(3000), blas_threads=1)
    if method == "trust-regions":
        return RiemannianTrustRegions(**common)
    if method == "lbfgs":
        return RiemannianLBFGS(memory=10, **common)
    if method == "rgd":
        return RiemannianGradientDescent(step_size=Armijo(), **common)
    if method == "rgd-bb":
        return RiemannianGradientDescent(step_size=NonmonotoneBB(), **common)
    if method == "cg":
        return RiemannianConjugateGradient(beta="hz", **common)
    givens = dict(stopping=stopping(600), blas_threads=1)
    if method == "givens":
        return GivensCoordinateDescent(rule="random", side="both", **givens)
    if method == "givens-gs":
        return GivensCoordinateDescent(rule="gauss-southwell", side="both", **givens)
    if method == "projunn-d":
        return ProjUNN(variant="D", rank=1, **common)
    if method == "projunn-t":
        return ProjUNN(variant="T", rank=1, **common)
    raise ValueError(method)


METHODS = ["trust-regions", "lbfgs", "rgd", "rgd-bb", "cg", "givens", "givens-gs",
           "projunn-d", "projunn-t"]
assert set(METHODS) == set(orthopt.optim.METHODS)   # nothing left out
print("stopping:", make_solver("rgd").stopping)


def distance_brockett(X):
    # the minimizer is unique up to the sign of each column
    signs = np.sign(np.sum(X * X_brockett, axis=0))
    return np.linalg.norm(X - X_brockett * signs)


problems = {
    "Brockett St(30, 3)": (problem_brockett, x0_brockett, f_brockett, distance_brockett),
    "Procrustes SO(12)": (problem_procrustes, x0_procrustes, f_procrustes,
                          lambda X: np.linalg.norm(X - X_procrustes)),
}
results = {}
for label, (problem, x0, f_star, distance) in problems.items():
    results[label] = {}
    for method in METHODS:
        try:
            res = make_solver(method).run(problem, x0=x0, rng=0)
        except TypeError as exc:   # projUNN needs square matrices
            print(f"{label}, {method}: {exc}")
            continue
        res["cost_error"] = (res.fun - f_star) / abs(f_star)
        res["distance"] = distance(res.x)
        res["feasibility"] = problem.manifold.feasibility(res.x)
        results[label][method] = res

# what ended a run: the criterion object that fired, and its reason in words
res = results["Procrustes SO(12)"]["lbfgs"]
print(f"L-BFGS on Procrustes: status {res.status!r}, stopped by {res.stopping!r}: {res.message}")

# %%
# projUNN works on square orthogonal matrices only (its updates are defined
# for the group, not for tall Stiefel matrices), so on the Brockett problem
# it is left out.
#
# Convergence
# -----------
#
# The Riemannian gradient norm per iteration (left) and against wall time
# (right); the horizontal axes are linear up to 10 and logarithmic beyond.
# The dotted line is the stopping threshold. Trust regions (thick line) reach
# it in a handful of iterations: the first steps run to the edge of a
# trust region that grows while the model proves right, and once the radius
# no longer binds
# they are Newton steps, each one squaring the error — the last ones drop
# the gradient norm by orders of magnitude at once. (A rejected step would
# show as a flat stretch: the iterate stays while the radius shrinks.) The
# Barzilai–Borwein curve is jagged on purpose: its line search
# is *nonmonotone*, it accepts a step that raises the cost as long as the
# cost stays below an average of recent values, and that freedom is what
# lets it take long curvature-based steps. The times were measured on
# whatever machine built this page and change from run to run (a jump in a
# curve is usually the machine doing something else); the iteration and
# evaluation counts do not.

fig, axes = plt.subplots(2, 2, figsize=(11.0, 9.2), layout="constrained")
styles = {"trust-regions": "-", "lbfgs": "-", "rgd": "-", "rgd-bb": "-", "cg": "-",
          "givens": "--", "givens-gs": "--", "projunn-d": "-.", "projunn-t": "-."}
for row, (label, runs) in zip(axes, results.items()):
    names = list(runs)
    # left: orthopt's own convergence plot; right: the same histories against time
    plot_convergence([runs[name] for name in names], labels=names, ax=row[0])
    for name in names:
        hist = runs[name].history
        row[1].semilogy(1e3 * hist["time"], hist["grad_norm"], label=name)
    for ax in row:
        for line, name in zip(ax.get_lines(), names):
            line.set_linestyle(styles[name])
            line.set_color(f"C{METHODS.index(name)}")
            line.set_linewidth(2.5 if name == "trust-regions" else 1.5)
        threshold = 1e-6 * runs[names[0]].history["grad_norm"][0]
        ax.axhline(threshold, color="gray", ls=":", lw=1.0, label="stopping threshold")
        ax.set_xscale("symlog", linthresh=10)   # linear up to 10, logarithmic beyond
        ax.set_xlim(left=0)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend() is not None:
            ax.get_legend().remove()         # one legend for the whole figure, below
    row[0].set_title(f"{label}: gradient norm per iteration")
    row[1].set_title(f"{label}: gradient norm against time")
    row[1].set_xlabel("wall time [ms] (single thread)")
    row[1].set_ylabel("Riemannian gradient norm ‖grad f(x_k)‖")
handles, labels = axes[1, 0].get_legend_handles_labels()   # the row with all methods
fig.legend(handles, labels, loc="outside lower center", ncol=5)
plt.show()

# %%
# The same runs as numbers: iterations, evaluations of the cost (the line
# searches and Givens' angle search evaluate it more than once per
# iteration), of the gradient and of Hessian-vector products, time, and three
# errors — the relative cost error, the distance to the known minimizer, and
# the distance to the manifold :math:`\|x^\top x - I\|_F`.

for label, runs in results.items():
    print(f"\n{label}")
    print(f"{'method':13s} {'iter':>5s} {'f evals':>7s} {'grads':>6s} {'Hess·v':>6s}"
          f" {'time ms':>8s} {'(f−f*)/|f*|':>12s} {'‖x − x*‖':>9s} {'‖xᵀx − I‖':>10s}  status")
    for name, res in runs.items():
        print(f"{name:13s} {res.nit:5d} {res.nfev:7d} {res.ngev:6d} {res.nhev:6d}"
              f" {1e3 * res.time:8.1f} {res.cost_error:12.1e} {res.distance:9.1e}"
              f" {res.feasibility:10.1e}  {res.status}")

# %%
# Reading the table: every run that reached the threshold found the known
# minimizer, and the first-order runs all stopped at about the same
# accuracy. That is what a gradient reduced by :math:`10^6` means near a
# nondegenerate minimum: the error in :math:`x` shrinks like the gradient,
# the error in :math:`f` like its square. The last step of trust regions
# cuts the gradient by a factor of hundreds or more, where the last steps
# of the first-order methods cut it by a factor of 1.5 to 5: a Newton-like
# step squares the error. So trust regions usually overshoot the threshold
# by orders of magnitude — how far depends on where the threshold falls in
# their sequence (on Brockett here the cost error is at the rounding level
# of :math:`f`; on Procrustes the last step lands just past the threshold).
#
# All runs stay on the manifold to rounding (last column). The solver loop
# sees to it: retractions built from products of orthogonal factors drift
# off the manifold by a random walk of rounding errors, so a cheap test after
# every step triggers one Newton–Schulz step :math:`x \leftarrow x -
# \tfrac12 x(x^\top x - I)` when the drift grows. projUNN-D needs the most
# care: its polar step goes through the Gram matrix
# :math:`(x + ab^\top)^\top(x + ab^\top)` and amplifies any error that
# :math:`x` has, so the solver also caps its steps (lesson 6 takes this
# apart). A run that ended off the manifold anyway would report status
# ``"infeasible"``, never success.
#
# A fixed step, for contrast
# --------------------------
#
# Training loops take a fixed step, the learning rate ``lr``:
# ``RiemannianGradientDescent(lr=...)`` is ``step_size=Fixed(lr)``, no search.
# The same two problems with a few learning rates, 1000 iterations at most:

learning_rates = [3e-3, 1e-2, 3e-2]
fixed = {}
print(f"{'lr':>6s}" + "".join(f"{label:>30s}" for label in problems))
for lr in learning_rates:
    cells = []
    for label, (problem, x0, f_star, _) in problems.items():
        r = RiemannianGradientDescent(lr=lr, stopping=stopping(1000),
                                      blas_threads=1).run(problem, x0=x0, rng=0)
        fixed[label, lr] = r
        cells.append(f"{r.nit:4d} iterations, {(r.fun - f_star) / abs(f_star):7.1e}")
    print(f"{lr:6g}" + "".join(f"{c:>30s}" for c in cells))

# %%
# Each cell gives the iterations and the final relative cost error. A step
# that is too long never settles (the largest rate): the iterates jump back
# and forth across the minimum. A shorter step converges, but only as fast as
# the flattest direction allows, and on the Brockett problem, whose curvature
# differs most between directions, none of these rates reached the threshold
# within the budget. Which rates work depends on the curvature, which we
# rarely know in advance. The line searches of the table above found their
# steps by themselves, in fewer iterations than any fixed one. Fixed steps are for
# stochastic gradients (lesson 7), where a search would chase noise.
#
# The conjugacy rule of CG
# ------------------------
#
# ``method="cg"`` uses Hager–Zhang's :math:`\beta`; ``options={"beta": ...}``
# picks Hestenes–Stiefel, Polak–Ribière or Fletcher–Reeves instead. All four
# use the same strong Wolfe line search.

print(f"{'beta':6s}" + "".join(f"{label:>30s}" for label in problems))
for beta in ("hz", "hs", "pr", "fr"):
    cells = []
    for label, (problem, x0, f_star, _) in problems.items():
        r = RiemannianConjugateGradient(beta=beta, stopping=stopping(3000),
                                        blas_threads=1).run(problem, x0=x0, rng=0)
        cells.append(f"{r.nit:4d} iterations, {r.nfev:4d} f evals")
    print(f"{beta:6s}" + "".join(f"{c:>30s}" for c in cells))

# %%
# When to pick which
# ------------------
#
# First the statements this lesson's prose rests on, each checked against
# the runs above (the script stops here if a change to a solver makes one
# false):

brockett_runs, procrustes_runs = results.values()
both = [brockett_runs, procrustes_runs]


def per_iteration(res, count):
    return getattr(res, count) / max(res.nit, 1)


def cost_increases(res):
    return int(np.sum(np.diff(res.history["cost"]) > 0))


searching = ["trust-regions", "lbfgs", "rgd", "rgd-bb", "cg"]


def last_cut(res):
    """‖grad‖ after the last step over ‖grad‖ before it."""
    g = res.history["grad_norm"]
    return g[-1] / g[-2]


claims = {
    "with finite differences, most gradients of minimize's run went into Hessian·v":
        2 * finite_differences.nhev > finite_differences.ngev / 2,
    "every converged run found the known minimizer (‖x − x*‖ < 1e-3)":
        all(res.distance < 1e-3 for runs in both for res in runs.values() if res.success),
    "every run ended on the manifold to rounding (‖xᵀx − I‖ < 1e-12)":
        all(res.feasibility < 1e-12 for runs in both for res in runs.values()),
    "trust regions took the fewest iterations on both problems":
        all(min(runs, key=lambda name: runs[name].nit) == "trust-regions" for runs in both),
    "trust regions' last step cut the gradient 10 times more than any other method's":
        all(last_cut(runs["trust-regions"]) * 10 < min(last_cut(runs[name]) for name in runs
                                                       if name != "trust-regions")
            for runs in both),
    "L-BFGS and BB steps used under 1.5 gradients per iteration, CG more":
        all(per_iteration(runs[name], "ngev") < 1.5 for runs in both
            for name in ("lbfgs", "rgd-bb"))
        and all(per_iteration(runs["cg"], "ngev") > 1.5 for runs in both),
    "on Brockett, L-BFGS used the fewest gradients of the gradient-only methods":
        all(brockett_runs["lbfgs"].ngev < brockett_runs[name].ngev
            for name in ("rgd", "rgd-bb", "cg")),
    "Armijo descent never raised the cost; BB steps did":
        all(cost_increases(runs["rgd"]) == 0 for runs in both)
        and any(cost_increases(runs["rgd-bb"]) > 0 for runs in both),
    "every searching method needed fewer iterations than every fixed step":
        all(results[label][name].nit < fixed[label, lr].nit for label in problems
            for name in searching for lr in learning_rates),
    "the largest fixed step never settled on either problem":
        all(not fixed[label, max(learning_rates)].success for label in problems),
    "no fixed step reached the threshold on Brockett":
        not any(fixed["Brockett St(30, 3)", lr].success for lr in learning_rates),
    "Armijo descent took at most 1.5 times the iterations of BB steps":
        all(runs["rgd"].nit <= 1.5 * runs["rgd-bb"].nit for runs in both),
    "CG took fewer iterations than both gradient descents":
        all(runs["cg"].nit < min(runs["rgd"].nit, runs["rgd-bb"].nit) for runs in both),
    "Gauss–Southwell Givens ended closer than random pairs on both problems":
        all(abs(runs["givens-gs"].cost_error) < abs(runs["givens"].cost_error) for runs in both),
    "the partial steps (Givens, projUNN) took more iterations than BB steps":
        all(runs[name].nit > runs["rgd-bb"].nit for runs in both
            for name in runs if name.startswith(("givens", "projunn"))),
}
for claim, holds in claims.items():
    print(f"[{'✓' if holds else '✗'}] {claim}")
print("cost increases, BB steps:", [cost_increases(runs["rgd-bb"]) for runs in both])
assert all(claims.values()), "the advice below no longer matches the runs: update the lesson"

# %%
# Read as advice:
#
# * **Start with the default,** ``minimize(cost, x0)``: trust regions. They
#   took the fewest iterations and converge quadratically at the end, and in our
#   measurements they are the method that fails least often with default
#   options. Each iteration costs a cost evaluation, a gradient and several
#   Hessian-vector products (the inner conjugate-gradient steps: divide the
#   Hess·v column by iter), more where the curvature is uneven. Pass
#   ``euclidean_hessian=`` to ``Problem`` when the second derivative is easy
#   to write, as here; without it autograd or finite differences of the
#   gradient supply it, at more cost per product.
# * ``"lbfgs"`` **when Hessian-vector products are expensive or
#   unavailable.** It estimates the curvature from the last steps and
#   gradient changes, spends close to one gradient per iteration, and needed
#   the fewest gradients of the gradient-only methods on the Brockett
#   problem, whose curvature differs most between directions. When
#   gradients are as cheap as here, its extra vector work per iteration can
#   cost more time than it saves (compare the time column).
# * ``"rgd-bb"`` **for the simplest fast method.** One gradient per
#   iteration, no memory beyond the last step, nothing to tune. The
#   Barzilai–Borwein step estimates the inverse curvature along the last
#   step, so its first trial is almost always accepted. The cost may go up
#   on the way (count above).
# * ``"rgd"`` **when the cost must never go up** — a run you may stop at any
#   time and keep the last point, or the simplest convergence theory. Its
#   Armijo search starts from the same Barzilai–Borwein step and only
#   accepts a decrease, which on these problems kept it within a small
#   factor of ``"rgd-bb"`` in iterations.
# * ``"cg"`` **when iterations are what costs.** It takes fewer iterations
#   than gradient descent, but its strong Wolfe search spends two or more
#   evaluations on each. Where the bookkeeping of an iteration is expensive
#   (a preconditioner, a progress log, communication) and the evaluations
#   are not, fewer iterations win. Compare the :math:`\beta` rules in the
#   table above before changing the default.
# * ``"givens"``, ``"givens-gs"`` **when one rotation is what you can
#   afford.** Each iteration changes two rows (or columns) of :math:`x` and
#   spends three cost evaluations to fit the cost along the rotation plus a
#   gradient (lesson 5). Gauss–Southwell, which picks the pair with the
#   largest derivative, ended far closer than random pairs. Both took far
#   longer than the full-gradient methods: here a rotation saves nothing,
#   since the solver evaluates the whole cost and gradient for each one.
#   These methods pay off when a rotation is much cheaper than a gradient
#   step — sparse or structured :math:`x`, costs whose change along a
#   rotation has a closed form — and when the coordinates fit the problem
#   (lesson 5).
# * ``"projunn-t"``, ``"projunn-d"`` **for large square matrices updated
#   many times**, such as the recurrent matrix of an RNN. A rank-one step
#   costs :math:`O(N^2)` instead of the :math:`O(N^3)` of a full retraction.
#   That is irrelevant at :math:`N = 12`, where the rank-one step only means
#   fewer directions per iteration and more iterations than ``"rgd-bb"``,
#   and decisive at :math:`N` in the thousands (lesson 6). Prefer the T
#   variant: it moves along an exact rotation and stays on the group to
#   rounding.
#
# None of this replaces a measurement on your own problem: ``res.history``
# holds what it takes to draw these figures for it, and
# ``res.nfev``, ``res.ngev``, ``res.nhev`` what it took to get there.
