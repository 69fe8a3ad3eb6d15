r"""
2. Retractions: exp, Cayley, QR, polar, Givens
==============================================

A solver computes a direction :math:`v` in the tangent space and must then
*move* along it without leaving the manifold. The exact way is the geodesic
(the exponential map); a **retraction** is any cheaper map that agrees with
it to first order. This lesson derives the five retractions of orthopt,
shows how their curves differ, measures their order of agreement with the
exponential (the Taylor-slope picture), and times them.

.. admonition:: What you should take away

   * A retraction :math:`R_x` needs only :math:`R_x(0) = x` and
     :math:`\frac{d}{dt}R_x(tv)\big|_{t=0} = v`. Every convergence guarantee of
     Riemannian gradient descent holds for any retraction.
   * On the sphere all five follow the same great circle at different
     speeds; on SO(3) they follow different paths, and all of them agree
     with the geodesic to first order, the polar one to second order.
   * Built from matrix products, they cost a few matrix products on
     SO(1024): QR about 2, Cayley and polar 3.5, the exponential 5 for a short
     step (a Taylor polynomial of low degree, no solve); a full Givens sweep
     is the expensive one. For stacks of SO(3) points closed forms replace
     them.
   * Retractions that multiply (:math:`x Q`: exp, Cayley, Givens on SO(n))
     carry rounding error forward, so it grows like :math:`\sqrt{k}` over
     :math:`k` steps; QR and polar reset it every step.
"""

# %%
# What makes a retraction
# -----------------------
#
# A retraction at :math:`x` is a smooth map :math:`R_x : T_x \to \mathcal M`
# with
#
# .. math::
#
#    R_x(0) = x, \qquad \frac{d}{dt} R_x(tv)\Big|_{t=0} = v .
#
# (Absil, Mahony & Sepulchre 2008, Def. 4.1.1.) So :math:`R_x(tv) = x + tv +
# O(t^2)`: the curve leaves :math:`x` with the right velocity, and only the
# :math:`O(t^2)` term — how it bends back onto the manifold — is free. The
# five retractions of orthopt, for :math:`x\in\operatorname{St}(n,p)` and
# tangent :math:`v` (so :math:`x^\top v` is skew), are:
#
# **exp** — the geodesic of the embedded metric. On SO(n):
# :math:`\exp_x(v) = x\,\operatorname{expm}(x^\top v)`; on
# :math:`\operatorname{St}(n,p)` a :math:`2p\times 2p` matrix exponential
# (Edelman, Arias & Smith 1998). It is the reference, with no
# :math:`O(t^2)` freedom at all.
#
# **QR** — the Q factor (positive diagonal R) of :math:`x + v`. Why it is a
# retraction: write :math:`x + tv = Q(t)R(t)` with :math:`Q(0) = x`,
# :math:`R(0) = I`. Differentiating, :math:`v = \dot Q + x\dot R`, so
# :math:`x^\top\dot Q = x^\top v - \dot R`. The left side is skew (:math:`Q`
# stays orthonormal) and so is :math:`x^\top v`, so :math:`\dot R` is both
# skew and upper triangular: :math:`\dot R = 0` and :math:`\dot Q = v`.
# orthopt computes it as a Cholesky-QR from the Gram matrix
# :math:`(x+v)^\top(x+v) = I + v^\top v` — one product and a
# :math:`p\times p` Cholesky.
#
# **polar** — the closest orthonormal matrix to :math:`x + v`:
# :math:`(x+v)(I + v^\top v)^{-1/2}`. Since
# :math:`(I + t^2 v^\top v)^{-1/2} = I - \tfrac{t^2}{2}v^\top v + O(t^4)`, it is
# :math:`x + tv - \tfrac{t^2}{2}x\,v^\top v + O(t^3)`, and that :math:`t^2` term
# is exactly the geodesic's: the polar retraction is **second order**.
#
# **Cayley** — :math:`(I - \tfrac12 W)^{-1}(I + \tfrac12 W)\,x` with a
# skew generator :math:`W` chosen so that :math:`Wx = v`. Its first-order
# term is :math:`Wx = v`. The Cayley transform maps skew matrices to
# rotations without a matrix exponential: one linear solve, or a
# :math:`2p\times 2p` one for tall :math:`x` (Wen & Yin 2013).
#
# **Givens** — a product of plane rotations
# :math:`\prod_{i<j} G_{ij}(t W_{ij})`, one per pair of coordinates, with
# angles from the generator. Since :math:`\prod_k \exp(tA_k) = \exp(t\sum_k
# A_k) + O(t^2)`, it is a retraction; each rotation touches only two rows,
# which is what makes coordinate descent cheap (lesson 5).
#
# The sphere: same path, different speeds
# ---------------------------------------
#
# For :math:`p = 1` each retraction moves :math:`x` within the plane spanned
# by :math:`x` and :math:`v`, so all of them trace the same great circle. They
# differ in how far they get: after :math:`t` the geodesic has turned by
# the angle :math:`t\|v\|`, QR and polar by :math:`\arctan(t\|v\|)` (they
# normalize :math:`x + tv`), Cayley by :math:`2\arctan(t\|v\|/2)`. Givens
# needs a single rotation in that plane, which *is* the geodesic. The markers
# are equally spaced in :math:`t`.

import time

import matplotlib.pyplot as plt
import numpy as np

from orthopt import SpecialOrthogonal, Stiefel, check_retraction
from orthopt.viz import plot_retractions

RETRACTIONS = ["exp", "qr", "polar", "cayley", "givens"]

x = np.array([[0.8], [0.3], [0.4]])
x /= np.linalg.norm(x)
v = Stiefel(3, 1).projection(x, np.array([[-0.3], [0.7], [0.5]]))
fig = plt.figure(figsize=(6.0, 5.5), layout="constrained")
ax = fig.add_subplot(projection="3d")
plot_retractions(x, v, t_max=2.0, ax=ax)
ax.set_title(r"$t \mapsto R_x(tv)$ on $S^2$, $t \in [0, 2]$")
plt.show()

# %%
# The angles, numerically:

t, speed = 2.0, float(np.linalg.norm(v))
for name in RETRACTIONS:
    y = Stiefel(3, 1, retraction=name).retraction(x, t * v)
    angle = float(np.arccos(np.clip((x.T @ y).item(), -1.0, 1.0)))
    print(f"{name:7s} turned by {angle:.4f} rad")
print(f"(t‖v‖ = {t * speed:.4f}, arctan(t‖v‖) = {np.arctan(t * speed):.4f}, "
      f"2 arctan(t‖v‖/2) = {2 * np.arctan(t * speed / 2):.4f})")

# %%
# SO(3): different paths
# ----------------------
#
# On the rotation group the retractions no longer share a path. A body (the
# paper plane) starts at the identity; each retraction rotates it along
# :math:`t \mapsto R_x(t v)` and we trace the nose. For small :math:`t` the
# paths agree — they have the same velocity — and they separate as
# :math:`t` grows.

omega = np.array([[0.0, -0.6, -0.9], [0.6, 0.0, -1.0], [0.9, 1.0, 0.0]])
fig = plt.figure(figsize=(6.0, 5.5), layout="constrained")
ax = fig.add_subplot(projection="3d")
plot_retractions(np.eye(3), omega, t_max=1.2, ax=ax)
ax.set_title(r"SO(3): the nose of the body along $R_x(tv)$, $t\in[0, 1.2]$")
plt.show()

# %%
# The Taylor-slope picture
# ------------------------
#
# How well does :math:`R_x(tv)` follow the geodesic? If
# :math:`\|R_x(tv) - \exp_x(tv)\| = O(t^{k+1})`, the retraction is of order
# :math:`k`. On a log–log plot the error is a line of slope :math:`k + 1`:
# slope 2 for a first-order retraction, slope 3 for a second-order one.
# :func:`~orthopt.check_retraction` measures exactly this (and that
# :math:`R_x(0) = x`, that the derivative is :math:`v`, and that the result
# is on the manifold), and returns the fitted slope.

M = Stiefel(8, 3)
rng = np.random.default_rng(1)
x8 = M.random_point(rng=rng)
v8 = M.random_tangent_vector(x8, rng=rng)
fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
for name in RETRACTIONS[1:]:
    check = check_retraction(Stiefel(8, 3, retraction=name), x=x8, v=v8)
    print(f"{name:7s} passed={check.passed}  slope {check.slope:.2f} → order {check.order:.2f}")
    ax.loglog(check.t, np.maximum(check.errors, 1e-17), "o-", ms=3, label=name)
tt = check.t
ax.loglog(tt, 0.3 * tt**2, ":", color="gray", label="slope 2 (first order)")
ax.loglog(tt, 0.03 * tt**3, "--", color="gray", label="slope 3 (second order)")
ax.set_xlabel("step t")
ax.set_ylabel(r"$\|R_x(tv) - \exp_x(tv)\|_F$")
ax.set_title("St(8, 3): distance to the geodesic")
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=8)
plt.show()

# %%
# QR, Cayley (for :math:`p < n`) and Givens follow the geodesic to first
# order (slope 2), polar to second order (slope 3). For square matrices the
# Cayley transform is second order too (it is the (1,1) Padé approximant of
# the exponential). The curves flatten at the bottom where rounding error
# (:math:`\approx 10^{-16}`) takes over.
#
# What they cost
# --------------
#
# On SO(n) all five are :math:`O(n^3)`, so the honest comparison is a
# measurement: each retraction's time divided by the time of one
# :math:`n\times n` matrix product (a "GEMM") measured in the same process,
# single-threaded, as the CPU time of the thread (robust to a busy machine).
# The step has :math:`\|v\|_F = 0.1`. Small sizes keep this page fast to
# build; the benchmark's ratios at :math:`n = 1024` follow below.

try:  # pin BLAS to one thread when threadpoolctl is available
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - the docs build already sets OMP_NUM_THREADS=1
    from contextlib import nullcontext as threadpool_limits


def best_time(fn, repeat=7):
    fn()  # warm up (and let SciPy load its routines)
    times = []
    for _ in range(repeat):
        start = time.thread_time()
        fn()
        times.append(time.thread_time() - start)
    return min(times)


n = 256
SO = SpecialOrthogonal(n)
xn = SO.random_point(rng=rng)
vn = SO.random_tangent_vector(xn, rng=rng)
vn = 0.1 * vn / np.linalg.norm(vn)
with threadpool_limits(1):
    gemm = best_time(lambda: xn @ vn)
    rows = []
    for name in RETRACTIONS:
        Mr = SpecialOrthogonal(n, retraction=name)
        seconds = best_time(lambda: Mr.retraction(xn, vn), repeat=3 if name == "givens" else 7)
        rows.append((name, seconds, seconds / gemm))
print(f"SO({n}), one GEMM = {1e3 * gemm:.2f} ms")
print(f"{'retraction':10s} {'time [ms]':>10s} {'GEMMs':>7s}")
for name, seconds, ratio in rows:
    print(f"{name:10s} {1e3 * seconds:10.2f} {ratio:7.1f}")

# %%
# The benchmark (``python benchmarks/retractions.py``) records the same ratios
# at :math:`n = 1024`, against the targets of the design, and for stacks of
# 10 000 points of SO(3) and SO(8) in units of one batched product of the
# same shape. The figure draws the live measurement next to the recorded ones
# (ticks: the targets).

import json  # noqa: E402
from pathlib import Path  # noqa: E402

recorded = Path("..") / "benchmarks" / "results" / "retractions.json"
bench = json.loads(recorded.read_text()) if recorded.exists() else {}

panels = [(f"SO({n}), this page", {name: ratio for name, _, ratio in rows}, None)]
recorded_settings = ([(f"SO({bench['square']['n']})", bench["square"]["rows"])]
                     if "square" in bench else [])
recorded_settings += [(f"{res['count']} × SO({res['n']})", res["rows"])
                      for res in bench.get("batched", [])]
for label, recorded_rows in recorded_settings:
    short_step = {r["retraction"]: r for r in recorded_rows if r["step_norm"] == 0.1}
    if set(short_step) >= set(RETRACTIONS):
        panels.append((f"{label}, benchmark",
                       {name: short_step[name]["ratio"] for name in RETRACTIONS},
                       {name: short_step[name]["target"] for name in RETRACTIONS}))

fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels) + 0.6, 3.2),
                         layout="constrained", sharey=True)
axes = np.atleast_1d(axes)
for ax, (title, ratios, targets) in zip(axes, panels):
    ax.barh(RETRACTIONS, [ratios[name] for name in RETRACTIONS],
            color=[f"C{i}" for i in range(len(RETRACTIONS))])
    if targets:
        ax.plot([targets[name] for name in RETRACTIONS], RETRACTIONS, "k|", markersize=14)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("time / one product")
axes[0].set_ylabel("retraction")
axes[0].invert_yaxis()
plt.show()

# %%
# The costs in words (SO(n), leading terms, :math:`\|v\|_F = 0.1`):
#
# * **qr**: the Gram matrix :math:`(x+v)^\top(x+v)` (a symmetric rank-k
#   update, half a product), a Cholesky (:math:`n^3/3`) and a triangular
#   solve — about two GEMMs.
# * **cayley**: :math:`2x(I - \Omega/2)^{-1} - x` with
#   :math:`\Omega = \operatorname{skew}(x^\top v)`: one product and one LU
#   solve with :math:`n` right-hand sides. (With :math:`y = x + v/2` the
#   skew structure would allow :math:`2y(y^\top y)^{-1} - x`, a Cholesky
#   instead of an LU and no :math:`x^\top v` — but that form normalizes the
#   rounding drift of :math:`x` in one term and not in the other, and
#   multiplies it by up to 3 per step.) On stacks and GPUs
#   :math:`(I - \Omega/2)^{-1} = (I + \Omega/2)(I + \Omega^\top\Omega/4)^{-1}`
#   with the inverse by a binomial series: products only.
# * **polar**: :math:`y(I + E)^{-1/2}` with :math:`E = y^\top y - I`, the
#   binomial series truncated where it reaches the unit roundoff — one
#   high-order Newton–Schulz step, products only: the Gram matrix,
#   :math:`E^2`, one product for the polynomial, then :math:`y\,p(E)`.
# * **exp**: :math:`\Omega = x^\top v`, then the Taylor polynomial of
#   :math:`\Omega` whose degree follows its norm — degree 8 in 3 products for
#   this step (Bader, Blanes & Casas 2019), no solve, no squaring — then
#   :math:`x\,T_8(\Omega)`: five products. Longer steps take degree 12 or 18
#   and squarings.
# * **givens**: :math:`n(n-1)/2` plane rotations, accumulated block by block
#   into small orthogonal matrices that are applied by batched products; the
#   accumulation itself is still elementwise, which keeps the full sweep the
#   slowest here. Its point is the opposite use: a *single* rotation touches
#   two rows, :math:`O(n)` work, which is what coordinate descent exploits
#   (lesson 5).
#
# For tall :math:`x \in \operatorname{St}(n, p)` with :math:`p \ll n`
# everything drops to :math:`O(np^2)`: QR and polar work with the
# :math:`p\times p` Gram matrix, Cayley and exp with :math:`2p\times 2p`
# systems. For stacks of SO(3) points every retraction has a closed form in
# the rotation vector :math:`\omega` of :math:`\Omega = [\omega]_\times`
# (Rodrigues for exp): elementwise work plus one batched product.
#
# **Rule of thumb.** Use ``"qr"`` (the default of
# :class:`~orthopt.Stiefel`) or ``"polar"`` in solvers; use ``"exp"`` when you
# need geodesics or a trivialization :math:`x = \exp(A)` (lesson 7) — it now
# costs about three QR steps; ``"cayley"`` when you want an exact rotation
# from a skew generator without an exponential; ``"givens"`` when updates
# should touch few coordinates.

# %%
# Rounding error over many steps
# ------------------------------
#
# A retraction lands on the manifold up to rounding: one step leaves
# :math:`\|x^\top x - I\|_F` at a few units of :math:`\varepsilon\sqrt n`
# (:math:`\varepsilon` the machine epsilon). What happens to that error over
# thousands of steps depends on *how* the retraction builds its point.
#
# * **qr** and **polar** orthonormalize :math:`x + v` itself. Whatever
#   error :math:`x` carried is wiped out: the error after :math:`k` steps is
#   the error of the last step.
# * **exp**, **cayley** and **givens** on SO(n) *multiply*:
#   :math:`x_{k+1} = x_k Q_k` with :math:`Q_k` orthogonal to rounding. The
#   error of :math:`x_k` is carried along (rotated, never removed) and every
#   step adds its own. Independent errors add like a random walk, so
#   :math:`\|x_k^\top x_k - I\|` grows like :math:`\sqrt k`.
#
# Measured on SO(16) with random tangent steps of length 0.5:

n_drift, steps = 16, 2560
checkpoints = [10, 40, 160, 640, 2560]
drift = {}
for name in ("qr", "polar", "cayley", "exp"):
    for dtype in (np.float64, np.float32):
        manifold = SpecialOrthogonal(n_drift, retraction=name)
        rng = np.random.default_rng(0)
        x = manifold.random_point(rng=0, dtype=dtype)
        errors = []
        for k in range(1, steps + 1):
            v = manifold.random_tangent_vector(x, rng=rng) * dtype(0.5)
            x = manifold.retraction(x, v)
            if k in checkpoints:
                errors.append(manifold.feasibility(x))
        drift[name, np.dtype(dtype).name] = errors

print(f"{'retraction':10s} {'dtype':8s}" + "".join(f"{'k = ' + str(k):>11s}" for k in checkpoints))
for (name, dtype), errors in drift.items():
    print(f"{name:10s} {dtype:8s}" + "".join(f"{e:11.1e}" for e in errors))

fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
for index, name in enumerate(("qr", "polar", "cayley", "exp")):
    ax.loglog(checkpoints, drift[name, "float64"], "o-", color=f"C{index}", label=name)
reference = drift["exp", "float64"][0] * np.sqrt(np.asarray(checkpoints) / checkpoints[0])
ax.loglog(checkpoints, reference, "k:", label=r"$\propto\sqrt{k}$")
ax.set_xlabel("number of retraction steps k")
ax.set_ylabel(r"$\|x_k^\top x_k - I\|_F$ (float64)")
ax.set_title(f"SO({n_drift}): error after k steps of length 0.5")
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=9)
plt.show()

# %%
# In float64 the walk is harmless — a few :math:`10^{-13}` after
# :math:`10^4` steps. In float32 it starts near :math:`10^{-6}` and a long training run
# (:math:`10^5`–:math:`10^6` steps) can reach :math:`10^{-4}`–:math:`10^{-3}`,
# enough to let the norm of a recurrent state drift. Two remedies, both
# cheap when used rarely:
#
# * every few hundred steps, replace :math:`x` by the nearest point of the
#   manifold, ``x = manifold.projection_onto_manifold(x)`` (the polar
#   factor: a few GEMMs);
# * in a trivialization :math:`x = B\exp(A)`, move the base :math:`B`
#   periodically and orthonormalize it then — what the ``dtriv`` RNN method
#   does (lesson 7).
#
# orthopt's solvers check :math:`\|x^\top x - I\|` once at the end of every
# run and report status ``"infeasible"`` if it is above the manifold's
# tolerance, so a drift never passes silently.
