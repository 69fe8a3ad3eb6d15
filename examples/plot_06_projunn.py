r"""
6. projUNN: rank-k updates in O(kN²)
====================================

A gradient step on the orthogonal or unitary group,
:math:`U \leftarrow R_U(-\eta\operatorname{grad} f)`, costs :math:`O(N^3)`:
every retraction of lesson 2 factors, inverts or exponentiates an
:math:`N\times N` matrix. projUNN (Kiani et al. 2022) replaces the step by a
rank-:math:`k` matrix :math:`ab^H` and projects :math:`U + ab^H` back onto the
group *exactly*, working only in the :math:`2k`-dimensional subspace the
update touches. This lesson checks that the two projections equal the
:math:`O(N^3)` computations they replace, measures how much of the full step
a rank-:math:`k` step keeps, and times both.

.. admonition:: What you should take away

   * :math:`U + ab^H` differs from :math:`U` only on a :math:`2k`-dimensional
     subspace, so its polar factor (projUNN-D) and the exponential of its
     tangent part (projUNN-T) are computed from :math:`2k\times 2k`
     eigenproblems — in :math:`O(kN^2)`, equal to the full computation to
     rounding.
   * The Riemannian step :math:`U\Omega` has its singular values in pairs
     (:math:`\Omega` is skew), so use an even rank: a rank-1 step keeps only
     half of the leading rotation. Randomized subspace iteration (``"lsi"``)
     is as good as the truncated SVD; column sampling (``"column"``) is
     unbiased but, for a single step, mostly noise.
   * Per step, rank-1 projUNN grows like :math:`N^2` and a full exponential
     step like :math:`N^3`: more than ten times cheaper at :math:`N = 1024`
     here. A rank-:math:`k` step also does less, so the saving is real only
     when the gradient is close to low rank.
"""

# %%
# Why only 2k dimensions matter
# -----------------------------
#
# Write the update with :math:`\tilde a = U^H a`, so
# :math:`U + ab^H = U(I + \tilde a b^H)`. The matrix
# :math:`M = I + \tilde a b^H` is the identity on every vector orthogonal to
# :math:`b`, and it maps into vectors that differ from the input only in
# :math:`\operatorname{span}(\tilde a)`. So :math:`M` acts as the identity on
# the orthogonal complement of :math:`Z = [\tilde a, b]` (:math:`N\times 2k`)
# and mixes only within :math:`\operatorname{span}(Z)`, and so does any
# function of it. With a thin QR :math:`Z = QR`:
#
# **projUNN-D** (``variant="D"``) takes the closest unitary matrix, the polar
# factor :math:`U' = (U + ab^H)\big((U+ab^H)^H(U+ab^H)\big)^{-1/2}`. Here
#
# .. math::
#
#    M^H M = I + Z\begin{pmatrix}0 & I\\ I & \tilde a^H\tilde a\end{pmatrix}Z^H
#          = I + Q K Q^H, \qquad K = R\begin{pmatrix}0 & I\\ I & \tilde a^H
#          \tilde a\end{pmatrix}R^H \ (2k\times 2k),
#
# and with the eigendecomposition :math:`K = V\Lambda V^H`,
# :math:`(M^HM)^{-1/2} = I + QV\big((I+\Lambda)^{-1/2} - I\big)V^HQ^H`.
#
# **projUNN-T** (``variant="T"``) keeps only the tangent part of the update,
# :math:`\Omega = \operatorname{skew}(U^H ab^H) = \tfrac12(\tilde a b^H -
# b\tilde a^H)`, and moves along the geodesic :math:`U' = U\exp(\Omega)`.
# Again :math:`\Omega = QKQ^H` with a skew-Hermitian :math:`2k\times 2k`
# matrix :math:`K`, and :math:`\exp(\Omega) = I + Q(\exp(K) - I)Q^H`.
#
# Both need a few products of :math:`N\times N` by :math:`N\times 2k`
# matrices — :math:`O(kN^2)` — and no :math:`N\times N` factorization. We
# compare them with SciPy's dense :func:`scipy.linalg.polar` and
# :func:`scipy.linalg.expm`, for real and complex matrices and several ranks.

import time

import matplotlib.pyplot as plt
import numpy as np
import scipy.linalg

from orthopt import ProjUNN, RiemannianGradientDescent, SpecialOrthogonal, Unitary
from orthopt.optim.low_rank_updates import (
    low_rank_column,
    low_rank_exact,
    low_rank_lsi,
    projunn_d,
    projunn_t,
)

rng = np.random.default_rng(0)


def skew(m):
    return (m - m.conj().T) / 2


N = 64
print(f"{'group':6s} {'k':>2s} {'‖D − polar‖':>12s} {'‖T − U expm‖':>13s}"
      f" {'‖DᴴD − I‖':>10s} {'‖TᴴT − I‖':>10s}   eigenvalues of MᴴM ≠ 1")
for group, M in (("SO(64)", SpecialOrthogonal(N)), ("U(64)", Unitary(N))):
    U = M.random_point(rng=rng)
    imaginary = 1j if group.startswith("U") else 0
    for k in (1, 2, 8):
        a = rng.standard_normal((N, k)) + imaginary * rng.standard_normal((N, k))
        b = rng.standard_normal((N, k)) + imaginary * rng.standard_normal((N, k))
        a *= 0.5 / np.linalg.norm(a @ b.conj().T)        # a step of norm 0.5
        step_d = projunn_d(U, a, b)
        step_t = projunn_t(U, a, b)
        exact_d = scipy.linalg.polar(U + a @ b.conj().T)[0]
        exact_t = U @ scipy.linalg.expm(skew(U.conj().T @ a @ b.conj().T))
        gram = (U + a @ b.conj().T).conj().T @ (U + a @ b.conj().T)
        moved = int(np.sum(np.abs(np.linalg.eigvalsh(gram) - 1) > 1e-10))
        eye = np.eye(N)
        print(f"{group:6s} {k:2d} {np.linalg.norm(step_d - exact_d):12.1e}"
              f" {np.linalg.norm(step_t - exact_t):13.1e}"
              f" {np.linalg.norm(step_d.conj().T @ step_d - eye):10.1e}"
              f" {np.linalg.norm(step_t.conj().T @ step_t - eye):10.1e}   {moved:3d} = 2k")

# %%
# Both variants agree with the dense computations to about
# :math:`10^{-15}`, and :math:`M^HM` has exactly :math:`2k` eigenvalues
# different from 1: the update lives in a :math:`2k`-dimensional subspace.
#
# The two differ only at second order. For a step of length :math:`t`,
# :math:`\operatorname{polar}(I + tX) = \exp(t\operatorname{skew}X) + O(t^2)`,
# so D and T are two retractions in the sense of lesson 2. Numerically they
# differ for long steps. T multiplies :math:`U` by an exact rotation; D
# forms the Gram matrix :math:`M^HM`, which squares the condition number of
# :math:`M`, and its formula assumes :math:`U^HU = I` exactly. Below, the
# same rank-1 step of growing length from an exactly orthogonal :math:`U`
# (error against SciPy), and from a :math:`U` that is already
# :math:`10^{-10}` off the group, as after many steps of rounding
# (distance to the group afterwards):

U = SpecialOrthogonal(N).random_point(rng=rng)
noise = rng.standard_normal((N, N))
U_off = U + 1e-10 * noise / np.linalg.norm(noise)
u, v = np.linalg.qr(rng.standard_normal((N, 2)))[0].T      # orthonormal u ⟂ v
print(f"‖UᴴU − I‖ before the step: {np.linalg.norm(U_off.T @ U_off - np.eye(N)):.1e}")
for t in (0.1, 1.0, 10.0, 100.0):
    a, b = t * (U @ u)[:, None], v[:, None]                 # U + abᵀ = U(I + t u vᵀ)
    err_d = np.linalg.norm(projunn_d(U, a, b) - scipy.linalg.polar(U + a @ b.T)[0])
    err_t = np.linalg.norm(projunn_t(U, a, b) - U @ scipy.linalg.expm(skew(U.T @ a @ b.T)))
    drift_d, drift_t = (np.linalg.norm(y.T @ y - np.eye(N))
                        for y in (projunn_d(U_off, a, b), projunn_t(U_off, a, b)))
    print(f"step length {t:5.1f}, cond(U + abᵀ) = {np.linalg.cond(U + a @ b.T):7.1e}:"
          f"  error D {err_d:.1e}, T {err_t:.1e};  ‖UᴴU − I‖ after D {drift_d:.1e},"
          f" after T {drift_t:.1e}")

# %%
# Both are accurate for one step of any length, D a little less so as the
# step grows. The difference that matters is the second one: T carries an
# existing error :math:`\|U^HU - I\|` along unchanged, while D *amplifies*
# it, by a factor that grows with the step length. Step after step that
# would compound, which is why :class:`~orthopt.ProjUNN` bounds the trial
# step of its line search: :math:`\|\eta ab^H\|_F \le 1/2` for D (so the
# singular values of :math:`U + \eta ab^H` stay in :math:`[1/2, 3/2]`) and
# :math:`\le\pi` for T (``max_step=``). For hand-rolled training loops:
# prefer T, or keep D's steps short.
#
# How much of the full step does a rank-k step keep?
# ---------------------------------------------------
#
# In a solver the update is a sketch of the Riemannian step
# :math:`\Delta = -\eta\operatorname{grad} f(U) = -\eta\, U\operatorname{skew}
# (U^\top\nabla f)`. Three ways to get :math:`ab^\top \approx \Delta`:
#
# * ``"exact"``: the truncated SVD, the best rank-:math:`k` approximation —
#   an :math:`N\times N` factorization, for reference only;
# * ``"lsi"``: randomized subspace iteration — multiply :math:`\Delta` by
#   :math:`k + 4` random vectors, refine once with :math:`\Delta\Delta^\top`,
#   and take the SVD of the small projected matrix. It needs only products
#   with :math:`\Delta`, which projUNN applies without ever forming it;
# * ``"column"``: pick :math:`k` columns of :math:`\Delta` at random with
#   probability proportional to their squared norms and rescale them so
#   that :math:`\mathbb E[ab^\top] = \Delta`.
#
# The comparison: the rank-:math:`k` step against the full-rank step of the
# same variant, :math:`\|U'_k - U'_\text{full}\|_F / \|U'_\text{full} -
# U\|_F` (0: the same step, 1: as far off as not moving at all), for two
# Euclidean gradients on :math:`SO(128)`. One has rank 8 with decaying
# weights, like a minibatch gradient :math:`\sum_t \delta_t h_t^\top` of an
# RNN; the other is a Gaussian matrix, the worst case for a low-rank sketch.

N = 128
U = SpecialOrthogonal(N).random_point(rng=rng)
X, Y = rng.standard_normal((N, 8)) * 0.6 ** np.arange(8), rng.standard_normal((N, 8))
gradients = {"rank-8 gradient Σ 0.6ᵗ xₜyₜᵀ": X @ Y.T,
             "Gaussian gradient (full rank)": rng.standard_normal((N, N))}
ranks = [1, 2, 4, 8, 16, 32, 64]
sketches = {
    "exact": lambda delta, k, seed: low_rank_exact(delta, k),
    "lsi": lambda delta, k, seed: low_rank_lsi(delta, k, rng=seed),
    "column": lambda delta, k, seed: low_rank_column(delta, k, rng=seed),
}
errors = {}   # (gradient, sketch, variant) -> relative error for each rank
for label, grad in gradients.items():
    delta = -U @ skew(U.T @ grad)
    delta *= 0.5 / np.linalg.norm(delta)                  # a step of length 0.5
    singular = np.linalg.svd(delta, compute_uv=False)
    print(f"{label}: leading singular values of Δ / σ₁ =",
          np.array2string(singular[:6] / singular[0], precision=3))
    full = {"T": U @ scipy.linalg.expm(skew(U.T @ delta)),
            "D": scipy.linalg.polar(U + delta)[0]}
    for name, sketch in sketches.items():
        seeds = [0] if name == "exact" else range(5)      # average the random sketches
        for variant, project in (("T", projunn_t), ("D", projunn_d)):
            errors[label, name, variant] = np.array([np.mean([
                np.linalg.norm(project(U, *sketch(delta, k, seed)) - full[variant])
                / np.linalg.norm(full[variant] - U) for seed in seeds]) for k in ranks])
            row = errors[label, name, variant]
            print(f"   {name:6s} {variant}: "
                  + "  ".join(f"k={k}: {e:.2f}" for k, e in zip(ranks, row)))

fig, (ax_best, ax_column) = plt.subplots(1, 2, figsize=(12.0, 4.6), layout="constrained")
for c, label in enumerate(gradients):
    short = label.split(" gradient")[0] + " gradient"
    ax_best.plot(ranks, errors[label, "exact", "T"], "s--", ms=7, mfc="none", color=f"C{c}",
                 label=f"{short}, exact (SVD)")
    ax_best.plot(ranks, errors[label, "lsi", "T"], "o-", ms=4, color=f"C{c}",
                 label=f"{short}, lsi")
    for variant, style in (("T", "o-"), ("D", "x--")):
        ax_column.plot(ranks, errors[label, "column", variant], style, color=f"C{c}",
                       label=f"{short}, projUNN-{variant}")
for ax in (ax_best, ax_column):
    ax.axhline(1.0, color="gray", ls=":", label="error of not moving at all")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ranks, [str(k) for k in ranks])
    ax.set_ylim(bottom=0)
    ax.set_xlabel("rank k of the step (N = 128)")
    ax.set_ylabel("relative distance to the full-rank step")
    ax.grid(True, which="both", alpha=0.3)
ax_best.set_ylim(top=1.4)                             # room for the legend above the curves
ax_best.legend(fontsize=8, loc="upper center", ncol=2)
ax_column.legend(fontsize=8)
ax_best.set_title("best low-rank sketches (projUNN-T; D is the same to 0.01)")
ax_column.set_title("column sampling: unbiased, but far from the step")
plt.show()

# %%
# Three things to read off:
#
# * **Even ranks.** The singular values of :math:`\Delta` come in equal
#   pairs: :math:`\Delta = U\Omega` with :math:`\Omega` skew, and the
#   eigenvalues of a real skew matrix are :math:`\pm i\sigma`. The leading
#   pair is one rotation in a plane; a rank-1 sketch holds one of its two
#   halves, and its tangent part :math:`\operatorname{skew}(\cdot)` is that
#   rotation at half speed. Rank 2 captures it whole — that is why the error
#   drops from :math:`k = 1` to :math:`k = 2` without any new direction.
# * **lsi is as good as the best approximation.** Its curve lies on the
#   truncated SVD's (slightly below it on the Gaussian gradient, where the
#   best rank-:math:`k` approximation of :math:`\Delta` is not exactly the
#   best for the projected step). With the rank-8 gradient,
#   :math:`\Delta` has rank at most 16 and the rank-16 step *is* the full
#   step. With the Gaussian gradient even rank 64 keeps only part of it:
#   low-rank steps are only as good as the gradient is low-rank.
# * **Column sampling is unbiased, not accurate.** For all but the largest
#   ranks its single steps are farther from the full step than not moving at
#   all (the D variant's polar factor caps the damage a little); its average
#   over many draws is the full step. That suits stochastic training, where
#   steps are averaged over many iterations anyway:

delta = -U @ skew(U.T @ gradients["Gaussian gradient (full rank)"])
total = np.zeros_like(delta)
for draw in range(1, 1001):
    a, b = low_rank_column(delta, 8, rng=draw)
    total += a @ b.T
    if draw in (1, 10, 100, 1000):
        print(f"mean of {draw:4d} column sketches (k = 8): ‖mean − Δ‖/‖Δ‖ ="
              f" {np.linalg.norm(total / draw - delta) / np.linalg.norm(delta):.3f}")

# %%
# Time per step
# -------------
#
# Finally the point of it all. One full step on :math:`SO(N)` with the
# exponential retraction — the Riemannian gradient :math:`U\operatorname{skew}
# (U^\top G)` and :math:`U\exp(\cdot)` — against one rank-1 projUNN step,
# both through the solvers' ``step`` method, the interface a training loop
# uses (``x, state = solver.step(x, euclidean_gradient, state)``). Single
# thread, best of a few runs; :math:`N` stays small to keep this page fast.

try:  # pin BLAS to one thread when threadpoolctl is available
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - the docs build already sets OMP_NUM_THREADS=1
    from contextlib import nullcontext as threadpool_limits

sizes = [128, 256, 512, 1024]
timings = {"full step, exp retraction": [], "projUNN-D, rank 1": [], "projUNN-T, rank 1": []}
with threadpool_limits(1):
    for n in sizes:
        M = SpecialOrthogonal(n, retraction="exp")
        Un = M.random_point(rng=rng)
        Gn = rng.standard_normal((n, n)) / n
        solvers = {
            "full step, exp retraction": RiemannianGradientDescent(lr=0.1, manifold=M),
            "projUNN-D, rank 1": ProjUNN(variant="D", rank=1, lr=0.1, manifold=M),
            "projUNN-T, rank 1": ProjUNN(variant="T", rank=1, lr=0.1, manifold=M),
        }
        best = dict.fromkeys(solvers, np.inf)
        for name, solver in solvers.items():
            if n < 1024 or not name.startswith("full"):
                solver.step(Un, Gn)                   # warm up (SciPy loads its routines)
        # the methods take turns, so that a busy moment of the machine does not
        # fall on one of them only; the best of several runs is kept
        for repeat in range(7):
            for name, solver in solvers.items():
                if name.startswith("full") and n >= 1024 and repeat >= 2:
                    continue                          # a second each: two runs suffice
                start = time.perf_counter()
                solver.step(Un, Gn)
                best[name] = min(best[name], time.perf_counter() - start)
        for name in solvers:
            timings[name].append(best[name])

print(f"{'N':>5s}" + "".join(f"{name:>28s}" for name in timings) + f"{'ratio full/T':>14s}")
for i, n in enumerate(sizes):
    cells = "".join(f"{1e3 * timings[name][i]:25.2f} ms" for name in timings)
    ratio = timings["full step, exp retraction"][i] / timings["projUNN-T, rank 1"][i]
    print(f"{n:5d}{cells}{ratio:14.1f}")

fig, ax = plt.subplots(figsize=(6.8, 4.6), layout="constrained")
for c, (name, values) in enumerate(timings.items()):
    slope = np.polyfit(np.log(sizes[1:]), np.log(values[1:]), 1)[0]
    ax.loglog(sizes, 1e3 * np.asarray(values), "o-", color=f"C{c}",
              label=f"{name} (slope {slope:.1f})")
reference = 1e3 * timings["full step, exp retraction"][1]
ns = np.asarray(sizes, dtype=float)
ax.loglog(ns, reference * (ns / sizes[1]) ** 3, ":", color="gray", label="slope 3")
ax.loglog(ns, 1e3 * timings["projUNN-T, rank 1"][1] * (ns / sizes[1]) ** 2, "--",
          color="gray", label="slope 2")
ax.set_xticks(sizes, [str(n) for n in sizes])
ax.xaxis.set_minor_locator(plt.NullLocator())
ax.set_xlabel("N (matrix size)")
ax.set_ylabel("time of one step [ms], single thread")
ax.set_title("One step on SO(N): full exponential vs rank-1 projUNN")
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=8)
plt.show()

# %%
# In theory the full step grows like :math:`N^3` and rank-1 projUNN like
# :math:`N^2`. The slopes in the legend (fitted from :math:`N = 256` on) are
# less clean than that in so small a range: at the small sizes the fixed
# cost of each call (a dozen small factorizations, Python overhead)
# dominates, and once the matrices outgrow the processor's caches (8 MB at
# :math:`N = 1024`) each of projUNN's passes over an :math:`N\times N`
# matrix is limited by memory speed, which other processes on the machine
# share. What holds in every run: the full step's curve is the steeper, and
# the ratio in the last column, small at :math:`N = 128`, is more than ten
# at :math:`N = 1024`.
#
# The trade-off, then: a rank-:math:`k` step costs :math:`O(kN^2)` but
# captures only the part of the gradient its sketch sees. projUNN pays off
# for large :math:`N` and gradients that are close to low rank — the
# recurrent matrix of an RNN trained on minibatches is the case it was made
# for (lessons 7 and 8). For a small dense problem a full step is better:
# in lesson 4, rank-1 projUNN needed two to three times the iterations of
# Barzilai–Borwein gradient descent on :math:`SO(12)`, each of them slower.
