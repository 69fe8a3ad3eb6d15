r"""
5. Coordinate descent with Givens rotations
===========================================

Gradient descent moves every entry of :math:`x` at every step. Coordinate
descent moves one *coordinate* at a time, and on the rotation group the
natural coordinates are plane rotations — Givens rotations. This lesson
shows what one rotation costs, what its derivative is, why for quadratic
costs the best angle has a closed form, and how the choice of *which*
rotation to take (random, cyclic, or the steepest one) decides the speed.

.. admonition:: What you should take away

   * A Givens rotation :math:`G_{ij}(\theta)` changes two rows of :math:`x`:
     :math:`O(n)` work against the :math:`O(n^3)` of a full retraction. Its
     derivative is :math:`2\Omega_{ij}`, with :math:`\Omega =
     \tfrac12(\nabla f\,x^\top - x\,\nabla f^\top)` the Riemannian gradient
     written in rotation coordinates, :math:`\|\Omega\|_F =
     \|\operatorname{grad} f\|_F`.
   * For a quadratic cost, :math:`f` along a rotation is a trigonometric
     polynomial of degree 2: five numbers determine it, and its global
     minimizer over all angles is computed in closed form.
   * Gauss–Southwell (rotate the pair with the largest :math:`|\Omega_{ij}|`)
     needed several times fewer rotations than random pairs here. Its gain
     per rotation is :math:`\max\Omega_{ij}^2 / \operatorname{mean}
     \Omega_{ij}^2`, large exactly when a few entries carry most of
     :math:`\|\Omega\|^2` — which is what the gradient looks like.
"""

# %%
# One rotation, two rows
# ----------------------
#
# The Givens rotation in the plane of coordinates :math:`(i, j)` is the
# exponential of the elementary skew matrix
# :math:`E_{ij} = e_i e_j^\top - e_j e_i^\top`:
#
# .. math::
#
#    G_{ij}(\theta) = \exp(\theta E_{ij}) = I + (\cos\theta - 1)(e_i e_i^\top +
#    e_j e_j^\top) + \sin\theta\, E_{ij},
#
# the identity except for a :math:`2\times 2` rotation block in rows and
# columns :math:`i, j`. orthopt's coordinate descent multiplies from the left,
# :math:`x \leftarrow G_{ij}(\theta)\,x`, which rewrites two rows of
# :math:`x`:
#
# .. math::
#
#    x_{i:} \leftarrow \cos\theta\, x_{i:} + \sin\theta\, x_{j:}, \qquad
#    x_{j:} \leftarrow -\sin\theta\, x_{i:} + \cos\theta\, x_{j:} .
#
# That is :math:`4p` multiplications for :math:`x \in \operatorname{St}(n,
# p)`, :math:`O(n)` on :math:`O(n)` — and it works for tall Stiefel matrices
# and for SO(n) alike (:math:`\det G_{ij} = 1`). Multiplying from the right,
# :math:`x \leftarrow x\,G_{ij}(\theta)`, rewrites two *columns* instead; on
# :math:`O(n)` the two are mirror images of each other, and below we check
# that they see the same gradient.

import time

import matplotlib.pyplot as plt
import numpy as np

from orthopt import GivensCoordinateDescent, Problem, SpecialOrthogonal, Stiefel
from orthopt.optim.coordinate import (
    coordinate_generator,
    minimize_trig2,
    rotate,
    rotate_rows_inplace,
)

rng = np.random.default_rng(0)
x = SpecialOrthogonal(6).random_point(rng=rng)
y = rotate(x, [1], [4], [0.3])                  # G_14(0.3) x
print("rows changed by G_14(0.3):", np.flatnonzero(np.any(y != x, axis=1)))
print("still orthogonal:", np.linalg.norm(y.T @ y - np.eye(6)))

# %%
# The cost of one rotation against one matrix product of the same size
# (best of several runs, single thread):


def best_time(fn, repeat=5):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


print(f"{'n':>5s} {'one rotation':>14s} {'one n×n product':>16s} {'ratio':>8s}")
for n in (250, 500, 1000):
    xn = Stiefel(n, n).random_point(rng=rng)
    c, s = np.cos(0.3), np.sin(0.3)
    t_rot = best_time(lambda: rotate_rows_inplace(xn, 3, 7, c, s), repeat=50)
    t_gemm = best_time(lambda: xn @ xn, repeat=3)
    print(f"{n:5d} {1e6 * t_rot:11.1f} µs {1e3 * t_gemm:13.2f} ms {t_gemm / t_rot:8.0f}")

# %%
# The rotation takes the same few microseconds at every size: its
# :math:`4n` multiplications are negligible next to the fixed cost of a
# Python call. The product grows like :math:`n^3`: at :math:`n = 1000` one
# matrix product buys thousands of rotations. A full sweep over all
# :math:`n(n-1)/2` pairs is :math:`O(n^3)` again, so coordinate descent pays
# off when a *few* well-chosen rotations do most of the work.
#
# The coordinate derivative
# -------------------------
#
# How fast does :math:`f` change along one rotation? With :math:`\nabla f` the
# Euclidean gradient at :math:`x`,
#
# .. math::
#
#    \frac{d}{d\theta} f\big(G_{ij}(\theta)x\big)\Big|_{\theta=0}
#    = \langle \nabla f, E_{ij}x\rangle
#    = (\nabla f\, x^\top)_{ij} - (\nabla f\, x^\top)_{ji}
#    = 2\,\Omega_{ij},
#    \qquad \Omega = \tfrac12\big(\nabla f\, x^\top - x\, \nabla f^\top\big).
#
# :math:`\Omega` is skew-symmetric, so its :math:`n(n-1)/2` entries above the
# diagonal are the derivatives along all rotations at once. It is the
# Riemannian gradient in disguise: on :math:`O(n)`,
# :math:`\operatorname{grad} f = x\,\operatorname{skew}(x^\top\nabla f) =
# \Omega\, x`, so :math:`\|\Omega\|_F = \|\operatorname{grad} f\|_F`. For
# rotations from the right, the same computation gives
# :math:`\Omega^{R} = \tfrac12(x^\top\nabla f - \nabla f^\top x) =
# x^\top\Omega\, x` — the same matrix in the other frame, with the same norm.
# :func:`~orthopt.optim.coordinate.coordinate_generator` computes
# :math:`\Omega`; we check it against finite differences for the Brockett
# cost :math:`f(x) = \operatorname{tr}(x^\top A x N)` of lesson 4.

n = 6
A = rng.standard_normal((n, n))
A = (A + A.T) / 2
Nw = np.diag(np.arange(n, 0, -1.0))


def brockett(x):
    return float(np.sum(x * (A @ x @ Nw)))


def brockett_gradient(x):
    return 2 * A @ x @ Nw


omega = coordinate_generator(x, brockett_gradient(x))
h = 1e-6
for i, j in [(0, 1), (1, 4), (2, 5)]:
    fd = (brockett(rotate(x, [i], [j], [h])) - brockett(rotate(x, [i], [j], [-h]))) / (2 * h)
    print(f"(i, j) = ({i}, {j}):  finite difference {fd:+.8f}   2Ω_ij = {2 * omega[i, j]:+.8f}")
rgrad = SpecialOrthogonal(n).euclidean_to_riemannian_gradient(x, brockett_gradient(x))
omega_right = (x.T @ brockett_gradient(x) - brockett_gradient(x).T @ x) / 2
print("‖Ωx − grad f‖ =", np.linalg.norm(omega @ x - rgrad))
print("‖Ω^R − xᵀΩx‖ =", np.linalg.norm(omega_right - x.T @ omega @ x))
print(f"‖Ω‖ = {np.linalg.norm(omega):.6f},  ‖grad f‖ = {np.linalg.norm(rgrad):.6f}")

# %%
# The best angle, in closed form
# ------------------------------
#
# Along a rotation the two changed rows are *linear* in
# :math:`(\cos\theta, \sin\theta)` and the other rows do not move. If
# :math:`f` is a polynomial of degree at most 2 in the entries of :math:`x` —
# the Brockett cost, Procrustes, PCA, any quadratic plus a linear term — then
# each of its terms is, along the rotation, a constant (unchanged rows only),
# linear in :math:`(\cos\theta, \sin\theta)` (a changed row times an
# unchanged one, or a linear term), or quadratic in them (two changed rows).
# With :math:`\cos^2\theta = \tfrac12(1 + \cos 2\theta)`,
# :math:`\sin^2\theta = \tfrac12(1 - \cos 2\theta)` and
# :math:`\cos\theta\sin\theta = \tfrac12\sin 2\theta`:
#
# .. math::
#
#    f(\theta) = a + b_1\cos\theta + c_1\sin\theta + b_2\cos 2\theta +
#    c_2\sin 2\theta,
#
# a trigonometric polynomial of degree 2, five coefficients. When no term
# couples the two changed rows to the others — the Brockett cost with a
# *diagonal* :math:`A`, used below — the degree-1 part vanishes and
# :math:`f(\theta)` has period :math:`\pi`. The solver gets the five
# numbers without any fitting: it knows :math:`f(0)` and
# :math:`f'(0) = c_1 + 2c_2 = 2\Omega_{ij}`, and evaluates :math:`f` at
# :math:`\theta = \pi/2, \pi, -\pi/2`. Then
#
# .. math::
#
#    b_1 = \tfrac12\big(f(0) - f(\pi)\big),\quad
#    c_1 = \tfrac12\big(f(\tfrac\pi2) - f(-\tfrac\pi2)\big),\quad
#    a \pm b_2 = \tfrac12\big(f(0) + f(\pi)\big) \text{ resp. }
#    \tfrac12\big(f(\tfrac\pi2) + f(-\tfrac\pi2)\big),\quad
#    c_2 = \tfrac12\big(f'(0) - c_1\big).
#
# The critical points of :math:`f(\theta)` are the roots on the unit circle
# of a polynomial of degree 4 in :math:`z = e^{i\theta}`;
# :func:`~orthopt.optim.coordinate.minimize_trig2` finds them and returns the
# *global* minimizer over the whole circle, not just the nearest local one.
#
# Let us check all of this on three costs: Brockett with the symmetric
# :math:`A` above, Brockett with a diagonal :math:`D`, and the quartic
# :math:`\sum_{kl} x_{kl}^4` (a degree-4 polynomial: its restriction is a
# trigonometric polynomial of degree 4, and the degree-2 model must fail).

D = np.diag(np.arange(1.0, n + 1))
costs = {
    "Brockett tr(xᵀAxN), A symmetric": (brockett, brockett_gradient),
    "Brockett tr(xᵀDxN), D diagonal": (lambda x: float(np.sum(x * (D @ x @ Nw))),
                                       lambda x: 2 * D @ x @ Nw),
    "quartic Σ x_kl⁴": (lambda x: float(np.sum(x**4)), lambda x: 4 * x**3),
}
i, j = 1, 4
theta = np.linspace(-np.pi, np.pi, 181)
basis = np.stack([np.ones_like(theta), np.cos(theta), np.sin(theta),
                  np.cos(2 * theta), np.sin(2 * theta)], axis=1)


def trig2(coef, t):
    return np.stack([np.ones_like(t), np.cos(t), np.sin(t), np.cos(2 * t), np.sin(2 * t)],
                    axis=-1) @ np.asarray(coef)


fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.2), layout="constrained")
for ax, (label, (f, grad)) in zip(axes, costs.items()):
    values = np.array([f(rotate(x, [i], [j], [t])) for t in theta])
    # the five numbers the solver uses
    f0, slope = f(x), 2 * coordinate_generator(x, grad(x))[i, j]
    f_half, f_pi, f_mhalf = (f(rotate(x, [i], [j], [t])) for t in (np.pi / 2, np.pi, -np.pi / 2))
    c1 = (f_half - f_mhalf) / 2
    b1 = (f0 - f_pi) / 2
    a_plus, a_minus = (f0 + f_pi) / 2, (f_half + f_mhalf) / 2
    coef = ((a_plus + a_minus) / 2, b1, c1, (a_plus - a_minus) / 2, (slope - c1) / 2)
    model = trig2(coef, theta)
    # an independent least-squares fit of the same five functions to 181 samples
    fitted, *_ = np.linalg.lstsq(basis, values, rcond=None)
    best_theta, best_value = minimize_trig2(coef)
    true_value = f(rotate(x, [i], [j], [best_theta]))
    fit_error = np.max(np.abs(basis @ fitted - values))
    print(f"{label}\n    five-number model: max error {np.max(np.abs(model - values)):.1e};"
          f" least-squares fit of degree 2: max error {fit_error:.1e}")
    print(f"    θ* = {best_theta:+.4f}: model f(θ*) = {best_value:.6f}, true f(θ*) = "
          f"{true_value:.6f}, best of the 181 samples = {values.min():.6f}")
    ax.plot(theta, values, "o", ms=3, color="gray", label="f(G₁₄(θ) x), 181 samples")
    ax.plot(theta, model, color="C0", lw=1.6, label="degree-2 model from 5 numbers")
    ax.plot(best_theta, best_value, "*", ms=14, color="C3", label="minimizer θ* of the model")
    ax.plot(best_theta, true_value, "x", ms=10, mew=2, color="black", label="true cost at θ*")
    ax.set_xlabel("rotation angle θ (rows 1 and 4)")
    ax.set_ylabel("cost along the rotation")
    ax.set_title(label)
    ax.set_xticks(np.pi * np.array([-1, -0.5, 0, 0.5, 1]), ["−π", "−π/2", "0", "π/2", "π"])
    ax.grid(True, alpha=0.3)
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4)
plt.show()

# %%
# For both quadratic costs the five-number model is exact to rounding
# (:math:`10^{-14}`), and its minimizer is the true minimizer along the
# rotation — better than the best of 181 samples. With the diagonal
# :math:`D` the curve repeats after :math:`\pi`: rotating by :math:`\pi`
# flips the sign of both rows, and with nothing coupling them to the other
# rows the cost cannot tell. The quartic curve repeats after :math:`\pi/2`
# (degree 4), and the degree-2 model, built from five values, misses it
# badly; the best least-squares fit of degree 2 is no better. Such costs
# need a safeguard — the solver accepts the model's angle only if it
# achieves at least half the predicted decrease, and halves it otherwise —
# or ``step="armijo"``.
#
# Which rotation? Random, cyclic, Gauss–Southwell
# -----------------------------------------------
#
# :class:`~orthopt.GivensCoordinateDescent` rotates one pair per
# iteration, by the exact angle, and the ``rule`` picks the pair:
#
# * ``"random"``: uniformly among the :math:`n(n-1)/2` pairs;
# * ``"cyclic"``: all pairs in turn, in :math:`n - 1` rounds of disjoint pairs;
# * ``"gauss-southwell"``: the pair with the largest :math:`|\Omega_{ij}|`,
#   the steepest coordinate.
#
# The problem: the Brockett cost on :math:`O(16)` with
# :math:`A = \operatorname{diag}(1, \dots, 16)` and
# :math:`N = \operatorname{diag}(16, \dots, 1)`, whose minimum
# :math:`f^\star = \sum_k k\,(17 - k)` is reached at the diagonal matrices
# with entries :math:`\pm 1` (each column :math:`k` is the eigenvector
# :math:`\pm e_k`). We count rotations until the relative cost gap
# :math:`(f - f^\star)/|f^\star|` drops below :math:`10^{-8}`.
#
# (:math:`A` is diagonal on purpose. A rotation of rows :math:`i, j` mixes
# the :math:`i`-th and :math:`j`-th eigen-directions of :math:`A`, the moves
# this problem needs. In a random basis the same problem is much harder for
# coordinate descent — compare the Brockett runs of lesson 4: coordinates
# help when they match the structure of the problem.)

n = 16
A_diag = np.diag(np.arange(1.0, n + 1))
N_rev = np.diag(np.arange(n, 0, -1.0))
f_star = float(np.sum(np.arange(1.0, n + 1) * np.arange(n, 0, -1.0)))
problem = Problem(Stiefel(n, n), lambda x: float(np.sum(x * (A_diag @ x @ N_rev))),
                  euclidean_gradient=lambda x: 2 * A_diag @ x @ N_rev)
x0 = Stiefel(n, n).random_point(rng=1)
tolerance = 1e-8

runs = {}
for rule in ("random", "cyclic", "gauss-southwell"):
    record = {"gap": [(problem.cost(x0) - f_star) / f_star], "omega": []}

    def callback(res, record=record):
        record["gap"].append((res.fun - f_star) / f_star)
        record["omega"].append(coordinate_generator(res.x, problem.riemannian_gradient(res.x)))
        return record["gap"][-1] <= tolerance

    # the left action, whose n(n−1)/2 row pairs this lesson counts (the solver's
    # default side="both" also offers the column rotations x ← xG)
    solver = GivensCoordinateDescent(rule=rule, side="left", max_iterations=5000,
                                     gradient_tolerance=0.0, step_tolerance=0.0)
    record["result"] = solver.run(problem, x0=x0, callback=callback, rng=0)
    runs[rule] = record

sweep = n * (n - 1) // 2
print(f"Brockett on O({n}): {sweep} pairs; rotations until (f − f*)/|f*| ≤ {tolerance:g}")
for rule, record in runs.items():
    res = record["result"]
    print(f"  {rule:16s} {res.nit:5d} rotations = {res.nit / sweep:4.1f} sweeps")
ratio = {rule: runs[rule]["result"].nit / runs["gauss-southwell"]["result"].nit
         for rule in ("random", "cyclic")}
print(f"  relative to Gauss–Southwell: random {ratio['random']:.1f}×, "
      f"cyclic {ratio['cyclic']:.1f}×")

fig, ax = plt.subplots(figsize=(7.0, 4.4), layout="constrained")
for k, (rule, record) in enumerate(runs.items()):
    ax.semilogy(np.maximum(record["gap"], 1e-17), color=f"C{k}", label=rule)
ax.axhline(tolerance, color="gray", ls=":", label=f"tolerance {tolerance:g}")
for s in range(1, int(max(len(r["gap"]) for r in runs.values()) / sweep) + 1):
    ax.axvline(s * sweep, color="gray", lw=0.6, alpha=0.4)
ax.set_xlabel(f"rotations (thin lines: sweeps of {sweep} pairs)")
ax.set_ylabel("relative cost gap (f − f*) / |f*|")
ax.set_title(f"Givens coordinate descent, Brockett on O({n}), exact angles")
ax.grid(True, which="major", axis="y", alpha=0.3)
ax.legend()
plt.show()

# %%
# Gauss–Southwell needed the fewest rotations, random pairs the most, with
# cyclic sweeps in between: one pass over all pairs in turn never picks the
# same pair twice in a row and never misses one for long. The flat stretches
# of the random curve are rotations spent on pairs that were already at
# their best angle — late in the run almost every pair is. In
# this implementation each iteration computes the full gradient anyway (the
# loop reports its norm), so Gauss–Southwell's choice comes for free; in an
# implementation that avoids the gradient, random and cyclic rotations are
# cheaper per step and the comparison is per unit of time, not per rotation.
#
# Why the gradient is nearly sparse
# ---------------------------------
#
# How much better can the steepest pair be? If the curvature along every
# rotation is at most :math:`L`, the exact angle lowers :math:`f` by at least
# :math:`f'(0)^2/(2L) = 2\Omega_{ij}^2/L`. A random pair gives that in
# expectation with :math:`\Omega_{ij}^2` replaced by its mean over the pairs;
# the Gauss–Southwell pair with its maximum. The guaranteed gain per rotation
# is
#
# .. math::
#
#    \frac{\max_{i<j}\Omega_{ij}^2}{\operatorname{mean}_{i<j}\Omega_{ij}^2}
#    \in \Big[1,\ \frac{n(n-1)}{2}\Big],
#
# 1 when all entries are equal, :math:`n(n-1)/2` when one entry carries the
# whole gradient :math:`\|\Omega\|^2 = \|\operatorname{grad} f\|^2`. So what
# matters is how *concentrated* :math:`\Omega` is. Two reasons make it
# concentrated here. The structure of the cost: with
# :math:`A = \operatorname{diag}(a)`,
# :math:`\Omega_{ij} = (a_i - a_j)\,(xNx^\top)_{ij}`, so pairs of distant
# eigenvalues get a large weight. And the dynamics of descent: the pairs
# with large curvature are solved first, and later the gradient lives on the
# few slow pairs that remain.
#
# The left panel sorts :math:`\Omega_{ij}^2` and shows which share of
# :math:`\|\Omega\|^2` the largest entries carry — at the start, and along
# the random run when its gap was :math:`10^{-2}` and :math:`10^{-5}` —
# against a skew matrix with independent Gaussian entries, which is *not*
# sparse. The right panel is the gain ratio along each run.


def largest_share(omega):
    """Share of ‖Ω‖² in the largest entries, as a function of their fraction."""
    upper = omega[np.triu_indices(omega.shape[0], 1)] ** 2
    ordered = np.sort(upper)[::-1]
    return np.arange(1, ordered.size + 1) / ordered.size, np.cumsum(ordered) / ordered.sum()


def gain(omega):
    upper = omega[np.triu_indices(omega.shape[0], 1)] ** 2
    return upper.max() / upper.mean()


fig, (ax_share, ax_gain) = plt.subplots(1, 2, figsize=(12.0, 4.4), layout="constrained")
omega0 = coordinate_generator(x0, problem.riemannian_gradient(x0))
gaussian = rng.standard_normal((n, n))
snapshots = [("start x₀", omega0)]
random_gaps = np.asarray(runs["random"]["gap"][1:])
for level in (1e-2, 1e-5):
    k = int(np.argmax(random_gaps <= level))
    snapshots.append((f"random run, gap ≤ {level:g} (rotation {k + 1})",
                      runs["random"]["omega"][k]))
for k, (label, om) in enumerate(snapshots):
    frac, share = largest_share(om)
    ax_share.plot(100 * frac, 100 * share, color=f"C{k + 3}", label=label)
    print(f"{label:38s} largest 5% of pairs carry {100 * np.interp(0.05, frac, share):4.0f}%,"
          f" largest 10% carry {100 * np.interp(0.10, frac, share):4.0f}% of ‖Ω‖²")
frac, share = largest_share(gaussian - gaussian.T)
ax_share.plot(100 * frac, 100 * share, color="gray", ls="--", label="Gaussian skew matrix")
print(f"{'Gaussian skew matrix':38s} largest 5% of pairs carry"
      f" {100 * np.interp(0.05, frac, share):4.0f}%, largest 10% carry"
      f" {100 * np.interp(0.10, frac, share):4.0f}% of ‖Ω‖²")
ax_share.plot(100 * frac, 100 * frac, color="gray", ls=":", label="all entries equal")
ax_share.set_xscale("log")
ax_share.set_xlabel(f"largest entries of Ω, % of the {sweep} pairs (log scale)")
ax_share.set_ylabel("share of ‖Ω‖² = ‖grad f‖² [%]")
ax_share.set_title("A few rotation coordinates carry most of the gradient")
ax_share.grid(True, which="both", alpha=0.3)
ax_share.legend(fontsize=8, loc="lower right")

for k, (rule, record) in enumerate(runs.items()):
    ax_gain.semilogy([gain(om) for om in record["omega"]], color=f"C{k}", label=rule)
ax_gain.axhline(sweep, color="gray", ls=":", label=f"upper bound n(n−1)/2 = {sweep}")
ax_gain.set_xlabel("rotations")
ax_gain.set_ylabel(r"$\max\ \Omega_{ij}^2\ /\ \mathrm{mean}\ \Omega_{ij}^2$")
ax_gain.set_title("Gain of the steepest pair over an average pair")
ax_gain.grid(True, which="both", alpha=0.3)
ax_gain.legend(fontsize=8)
plt.show()

# %%
# At the start the largest 5 % of the pairs carry about twice the share of
# the gradient they carry in the Gaussian matrix, and along the random run
# the gradient concentrates further on the slow pairs: late in the run
# three entries carry nearly all of it, and the steepest pair is worth up to
# a hundred average ones. Gauss–Southwell keeps removing the largest
# entries, so along its own run :math:`\Omega` stays flatter and its gain
# ratio lower — but the steepest choice is still several times better than
# an average one at every step, which is why it needs the fewest rotations.
#
# Block rules (``block=k``) rotate the :math:`k` largest disjoint pairs
# together, for one gradient: with a concentrated gradient most of the
# decrease of a full gradient step is in those few rotations. Lesson 6 uses
# the same observation differently: a gradient that is nearly low-rank can
# be replaced by a rank-:math:`k` approximation.
