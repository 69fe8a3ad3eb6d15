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

   * ``orthopt.minimize(cost, x0, method=..., jac=...)`` is one call; the
     manifold comes from ``x0`` (tall: Stiefel, square with det > 0: SO(n)).
   * On small dense problems the full-gradient methods win. Barzilai–Borwein
     gradient descent (``"rgd-bb"``) needs the fewest evaluations, about one
     per iteration; conjugate gradients (``"cg"``) the fewest iterations;
     plain Armijo descent (``"rgd"``) up to ten times more iterations, at
     three evaluations each.
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
#    f(X) = \operatorname{tr}(X^\top A X N), \qquad \nabla f(X) = 2 A X N .
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
#    f(X) = \|AX - B\|_F^2, \qquad \nabla f(X) = 2A^\top (AX - B).
#
# On the group :math:`XX^\top = I`, so :math:`\|AX\|_F^2 = \|A\|_F^2` and
# :math:`f(X) = \|A\|_F^2 + \|B\|_F^2 - 2\operatorname{tr}(X^\top A^\top B)`
# is *linear* in :math:`X`. With the SVD :math:`A^\top B = U\Sigma V^\top`,
# :math:`\operatorname{tr}(X^\top U\Sigma V^\top)` is largest at
# :math:`X^\star = UV^\top`, the polar factor of :math:`A^\top B`:
# :func:`scipy.linalg.orthogonal_procrustes` computes it. (It solves over
# O(n); when :math:`\det UV^\top = +1`, as we check below, that is also the
# answer on SO(n).)

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
    SpecialOrthogonal,
    Stiefel,
    check_gradient,
)
from orthopt.optim import infer_manifold
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


# Procrustes on SO(12): B is a rotated copy of A plus noise
m, k = 36, 12
A_pts = rng.standard_normal((m, k))
B_pts = A_pts @ SpecialOrthogonal(k).random_point(rng=rng) + 0.5 * rng.standard_normal((m, k))
X_procrustes, _ = scipy.linalg.orthogonal_procrustes(A_pts, B_pts)


def procrustes(X):
    residual = A_pts @ X - B_pts
    return float(np.sum(residual**2)), 2 * A_pts.T @ residual


f_procrustes = procrustes(X_procrustes)[0]
print(f"Brockett:   f* = {f_brockett:.6f}  (Σ μ_i λ_i from eigh)")
print(f"Procrustes: f* = {f_procrustes:.6f}  (scipy), det X* = {np.linalg.det(X_procrustes):+.6f}")

# both gradients pass the Taylor test of lesson 3
for name, fn, M in [("Brockett", brockett, Stiefel(n, p)),
                    ("Procrustes", procrustes, SpecialOrthogonal(k))]:
    print(f"{name:10s} gradient check:", check_gradient(Problem(M, None, cost_and_gradient=fn),
                                                         rng=0).message)

# %%
# One call: ``orthopt.minimize``
# ------------------------------
#
# :func:`orthopt.minimize` has SciPy's shape. ``jac=True`` says that the cost
# returns the pair (value, Euclidean gradient); a callable ``jac`` would be
# the gradient alone, and without ``jac`` autograd differentiates the cost.
# The manifold is inferred from the starting point: a tall matrix lives on
# the Stiefel manifold, a square one with positive determinant on SO(n).

x0_brockett = Stiefel(n, p).random_point(rng=1)
x0_procrustes = np.eye(k)
print(infer_manifold(x0_brockett), "|", infer_manifold(x0_procrustes))

res = orthopt.minimize(brockett, x0_brockett, method="rgd-bb", jac=True)
print(res)
print(f"relative cost error (f − f*)/|f*| = {(res.fun - f_brockett) / abs(f_brockett):.1e}")

# %%
# The result holds the last iterate ``x``, its cost and gradient norm, the
# counts of iterations and evaluations, why the run stopped (here the default
# rule ‖grad f‖ ≤ 10⁻⁶), and ``history``: the cost, gradient norm, step
# length and elapsed time of every iteration. The figures below are drawn
# from it.
#
# Every method
# ------------
#
# ================  ==========================================================
# ``method``        one iteration
# ================  ==========================================================
# ``"rgd"``         :math:`x_{k+1} = R_{x_k}(-\alpha_k \operatorname{grad}
#                   f(x_k))`; :math:`\alpha_k` by backtracking from twice the
#                   last step until :math:`f` drops by at least
#                   :math:`10^{-4}\,\alpha_k\|\operatorname{grad} f\|^2`
#                   (Armijo)
# ``"rgd-bb"``      the same direction; :math:`\alpha_k` from the last step
#                   :math:`s = x_k - x_{k-1}` and gradient change :math:`y`,
#                   alternately :math:`\langle s,s\rangle/|\langle s,y\rangle|`
#                   and :math:`|\langle s,y\rangle|/\langle y,y\rangle`
#                   (Barzilai–Borwein), checked against an average of recent
#                   costs (nonmonotone)
# ``"cg"``          direction :math:`d_{k+1} = -\operatorname{grad} f(x_{k+1})
#                   + \beta_k P_{x_{k+1}}(d_k)` — the old direction projected
#                   onto the new tangent space — with a strong Wolfe line
#                   search; :math:`\beta` by Hager–Zhang
# ``"givens"``      rotate one random pair of rows :math:`(i, j)` of
#                   :math:`x` by the angle that minimizes :math:`f` along it
# ``"givens-gs"``   the same with the pair of largest coordinate derivative
#                   :math:`|\Omega_{ij}|` (Gauss–Southwell, lesson 5)
# ``"projunn-d"``   a rank-one sketch :math:`ab^\top` of the step
#                   :math:`-\eta\operatorname{grad} f`, then the closest
#                   orthogonal matrix to :math:`x + ab^\top` (lesson 6)
# ``"projunn-t"``   the same sketch, then :math:`x\exp(\operatorname{skew}
#                   (x^\top ab^\top))` (lesson 6)
# ================  ==========================================================
#
# Each name stands for a solver class with some settings —
# :class:`~orthopt.RiemannianGradientDescent`,
# :class:`~orthopt.RiemannianConjugateGradient`,
# :class:`~orthopt.GivensCoordinateDescent`, :class:`~orthopt.ProjUNN` — and
# ``options=`` passes further settings to it. We call the classes directly here, for one
# reason: ``"givens"`` and the projUNN methods draw random numbers (the pair
# to rotate, the sketch), and the seed is an argument of the solver's
# ``run`` method, which keeps this page the same on every build.
#
# Every run stops when the gradient norm has dropped by a factor of
# :math:`10^6` (``relative_gradient_tolerance=1e-6``, with the absolute
# tolerance switched off). One Givens iteration is a single rotation, so
# those runs are capped at 600 iterations to keep this page fast.

STOP = dict(relative_gradient_tolerance=1e-6, gradient_tolerance=0.0)


def make_solver(method):
    if method == "rgd":
        return RiemannianGradientDescent(step="armijo", max_iterations=3000, **STOP)
    if method == "rgd-bb":
        return RiemannianGradientDescent(step="bb", max_iterations=3000, **STOP)
    if method == "cg":
        return RiemannianConjugateGradient(beta="hz", max_iterations=3000, **STOP)
    if method == "givens":
        return GivensCoordinateDescent(rule="random", max_iterations=600, **STOP)
    if method == "givens-gs":
        return GivensCoordinateDescent(rule="gauss-southwell", max_iterations=600, **STOP)
    if method == "projunn-d":
        return ProjUNN(variant="D", rank=1, max_iterations=3000, **STOP)
    if method == "projunn-t":
        return ProjUNN(variant="T", rank=1, max_iterations=3000, **STOP)
    raise ValueError(method)


METHODS = ["rgd", "rgd-bb", "cg", "givens", "givens-gs", "projunn-d", "projunn-t"]
assert set(METHODS) == set(orthopt.optim.METHODS)   # nothing left out


def distance_brockett(X):
    # the minimizer is unique up to the sign of each column
    signs = np.sign(np.sum(X * X_brockett, axis=0))
    return np.linalg.norm(X - X_brockett * signs)


problems = {
    "Brockett St(30, 3)": (Problem(Stiefel(n, p), None, cost_and_gradient=brockett),
                           x0_brockett, f_brockett, distance_brockett),
    "Procrustes SO(12)": (Problem(SpecialOrthogonal(k), None, cost_and_gradient=procrustes),
                          x0_procrustes, f_procrustes,
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
# The dotted line is the stopping threshold. The Barzilai–Borwein curve is
# jagged on purpose: its line search is *nonmonotone*, it accepts a step
# that raises the cost as long as the cost stays below an average of recent
# values, and that freedom is what lets it take long curvature-based steps.

fig, axes = plt.subplots(2, 2, figsize=(11.0, 8.8), layout="constrained")
styles = {"rgd": "-", "rgd-bb": "-", "cg": "-", "givens": "--", "givens-gs": "--",
          "projunn-d": "-.", "projunn-t": "-."}
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
fig.legend(handles, labels, loc="outside lower center", ncol=len(labels))
plt.show()

# %%
# The same runs as numbers: iterations, cost evaluations (the line searches
# and Givens' angle search evaluate the cost more than once per iteration),
# time, and three errors — the relative cost error, the distance to the known
# minimizer, and the distance to the manifold :math:`\|x^\top x - I\|_F`.

for label, runs in results.items():
    print(f"\n{label}")
    print(f"{'method':10s} {'iter':>5s} {'f evals':>7s} {'time ms':>8s} {'(f−f*)/|f*|':>12s}"
          f" {'‖x − x*‖':>9s} {'‖xᵀx − I‖':>10s}  status")
    for name, res in runs.items():
        print(f"{name:10s} {res.nit:5d} {res.nfev:7d} {1e3 * res.time:8.1f}"
              f" {res.cost_error:12.1e} {res.distance:9.1e} {res.feasibility:10.1e}  {res.status}")

# %%
# Reading the table: every run that reached the threshold found the known
# minimizer, with a relative cost error of about :math:`10^{-11}` to
# :math:`10^{-12}` and a distance to :math:`x^\star` of about
# :math:`10^{-4}` to :math:`10^{-6}`. That is what a gradient reduced by
# :math:`10^6` means near a nondegenerate minimum: the error in :math:`x`
# shrinks like the gradient, the error in :math:`f` like its square. All of
# them stay on the manifold to rounding (last column). projUNN-D needs care
# there: its polar step goes through the Gram matrix
# :math:`(x + ab^\top)^\top(x + ab^\top)`, assumes the current :math:`x` is
# exactly orthogonal, and amplifies whatever error it has by a factor that
# grows with the step length, so the solver caps its steps (lesson 6 takes
# this apart). Every solver checks :math:`\|x^\top x - I\|` once at the end
# and reports status ``"infeasible"`` rather than success if a run ever
# leaves the manifold.
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
        r = RiemannianConjugateGradient(beta=beta, max_iterations=3000, **STOP).run(problem, x0=x0)
        cells.append(f"{r.nit:4d} iterations, {r.nfev:4d} f evals")
    print(f"{beta:6s}" + "".join(f"{c:>30s}" for c in cells))

# %%
# When to pick which
# ------------------
#
# The numbers above, read as advice:
#
# * **Start with** ``"rgd-bb"``. It used the fewest cost evaluations on both
#   problems, about one per iteration, and finished first or nearly so in
#   time. The Barzilai–Borwein step estimates the inverse curvature along
#   the last step, so its first trial is almost always accepted: there is
#   no line search to speak of.
# * ``"cg"`` **when iterations are what costs.** It took the fewest
#   iterations, but its strong Wolfe search spends two to three evaluations
#   on each. Where the bookkeeping of an iteration is expensive (a
#   preconditioner, a progress log, communication) and the evaluations are
#   not, fewer iterations win. Of the four :math:`\beta` rules,
#   Fletcher–Reeves was by far the slowest on the Brockett problem.
# * ``"rgd"`` **as a baseline.** Armijo backtracking only asks for
#   decrease and knows nothing about curvature: about three evaluations per
#   iteration (a trial at twice the last step, usually one halving, then the
#   gradient) and, on the Brockett problem, about ten times the iterations
#   of the other two. Its virtue is the simplest convergence theory.
# * ``"givens"``, ``"givens-gs"`` **when one rotation is what you can
#   afford.** Each iteration changes two rows of :math:`x` and spends five
#   cost evaluations (three to fit the cost along the rotation, lesson 5).
#   Neither rule reached the threshold in 600 rotations. Gauss–Southwell,
#   which picks the pair with the largest derivative, ended orders of
#   magnitude closer than random pairs on both problems, and on Procrustes
#   it was nearly there. Both took far longer than the full-gradient
#   methods: here a rotation saves nothing, since the solver evaluates the
#   whole cost and gradient for each one. These methods pay off when a
#   rotation is much cheaper than a gradient step — sparse or structured
#   :math:`x`, costs whose change along a rotation has a closed form — and
#   when the coordinates fit the problem (lesson 5).
# * ``"projunn-t"``, ``"projunn-d"`` **for large square matrices updated
#   many times**, such as the recurrent matrix of an RNN. A rank-one step
#   costs :math:`O(N^2)` instead of the :math:`O(N^3)` of a full retraction.
#   That is irrelevant at :math:`N = 12`, where the rank-one step only means
#   fewer directions per iteration (two to three times the iterations of
#   ``"rgd-bb"``), and decisive at :math:`N` in the thousands (lesson 6).
#   Prefer the T variant: it moves along an exact rotation and stays on the
#   group to rounding.
#
# None of this replaces a measurement on your own problem: ``res.history``
# holds what it takes to draw these figures for it.
