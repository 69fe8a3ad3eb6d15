r"""
8. The vector-field view (inspired by Azencot et al. 2021)
==========================================================

An orthogonal matrix :math:`W = \exp(A)`, :math:`A` skew-symmetric, is where
the flow of the linear differential equation :math:`\dot x = Ax` lands after
one unit of time. So a recurrent step :math:`h \mapsto Wh` can be read as
following a *vector field* for one time unit, and conditions on :math:`W`
become conditions on the field. This lesson works out that dictionary for
linear fields — divergence, volume, length — draws it in the plane, and uses
it to explain the ``vfield`` training method of orthopt, which lets the
field have a small, learned divergence.

.. admonition:: What you should take away

   * The flow of :math:`\dot x = Mx` is :math:`x(t) = \exp(tM)\,x(0)`. It
     scales every volume by :math:`\det\exp(tM) = e^{t\operatorname{tr}M}`,
     and :math:`\operatorname{tr}M` is the divergence of the field.
   * The skew-symmetric part of :math:`M` rotates, the symmetric part
     stretches. :math:`M = S` skew :math:`\Leftrightarrow` the flow keeps
     lengths :math:`\Leftrightarrow` :math:`\exp(tS)` is orthogonal; such a
     field is divergence-free, so the flow also keeps volume. The converse
     fails: a divergence-free field keeps areas while it stretches lengths.
   * ``vfield`` uses :math:`W = \exp(S + \operatorname{diag}(d))` with a
     learned :math:`d = d_{\max}\tanh\theta`. Then :math:`\det W =
     e^{\sum_i d_i}`, and every eigenvalue modulus and singular value of
     :math:`W` lies in :math:`[e^{\min_i d_i}, e^{\max_i d_i}]`: :math:`d_{\max}`
     bounds how far one step may leave the orthogonal group. :math:`d = 0` is
     expRNN.
"""

# %%
# Linear vector fields and their flows
# ------------------------------------
#
# A matrix :math:`M \in \mathbb{R}^{n\times n}` defines the vector field
# :math:`f(x) = Mx`: at every point :math:`x` an arrow :math:`Mx`. A point
# that follows the arrows moves by :math:`\dot x = Mx`, and the solution is
# the matrix exponential,
#
# .. math::
#
#    x(t) = \exp(tM)\, x(0), \qquad \exp(tM) = \sum_{k\ge 0} \frac{t^k M^k}{k!} .
#
# The map :math:`\Phi_t = \exp(tM)` that sends every starting point to where
# it is at time :math:`t` is the **flow** of the field. Two facts about it
# carry this lesson.
#
# **Divergence is the rate of volume change.** The divergence of :math:`f` is
# :math:`\nabla\cdot f = \sum_i \partial f_i/\partial x_i = \sum_i M_{ii} =
# \operatorname{tr}M`, the same at every point. A set :math:`\Omega` of
# starting points is carried to :math:`\Phi_t(\Omega)`, whose volume is
# :math:`|\det\Phi_t|\,\mathrm{vol}(\Omega)`. Jacobi's formula
# :math:`\frac{d}{dt}\det\Phi_t = \operatorname{tr}(M)\det\Phi_t` then gives
# Liouville's formula
#
# .. math::
#
#    \det \exp(tM) = e^{t \operatorname{tr} M}.
#
# Volume grows where the field diverges, shrinks where it converges, and is
# kept exactly when :math:`\operatorname{tr}M = 0`.
#
# **The skew part rotates, the symmetric part stretches.** Split
# :math:`M = S + P` with :math:`S = \frac12(M - M^\top)` skew-symmetric and
# :math:`P = \frac12(M + M^\top)` symmetric. Along a trajectory,
#
# .. math::
#
#    \frac{d}{dt}\|x\|^2 = 2x^\top M x = 2x^\top P x,
#
# because :math:`x^\top S x = 0` for every :math:`x`. So lengths are kept for
# every starting point exactly when :math:`P = 0`, i.e. :math:`M = S` is
# skew: *the flows of skew-symmetric fields are the orthogonal matrices*
# :math:`\exp(tS)`. Since :math:`\operatorname{tr}S = 0`, they keep volume
# too. The divergence only sees the trace of :math:`P`, so a field with a
# trace-free symmetric part keeps volume but not length.
#
# Both formulas, checked on a random :math:`5\times 5` matrix:

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Polygon
from scipy.linalg import expm

from orthopt.rnn import TrainConfig, Trainer, make_method
from orthopt.rnn.methods import orthogonality_error
from orthopt.rnn.parametrizations import (
    exprnn_weight,
    initial_skew,
    vfield_gradient,
    vfield_weight,
)
from orthopt.viz import plot_unit_circle

rng = np.random.default_rng(0)
M = rng.standard_normal((5, 5))
S5 = (M - M.T) / 2
for t in (0.5, 1.0, 2.0):
    flow_S = expm(t * S5)
    print(f"t = {t}:  det exp(tM) = {np.linalg.det(expm(t * M)):10.5f}   "
          f"exp(t tr M) = {np.exp(t * np.trace(M)):10.5f}   "
          f"‖exp(tS)ᵀexp(tS) − I‖ = {np.linalg.norm(flow_S.T @ flow_S - np.eye(5)):.1e}")

# %%
# Three fields in the plane
# -------------------------
#
# In two dimensions the skew part is a pure rotation, :math:`S =
# \begin{pmatrix}0 & -\omega\\ \omega & 0\end{pmatrix}`, and we add a
# diagonal :math:`D = \operatorname{diag}(d_1, d_2)` — the same form
# :math:`M = S + D` as the ``vfield`` model below. Three choices:
#
# * :math:`D = 0`: a rotation. Divergence-free, orthogonal flow; orbits are
#   circles.
# * :math:`D = \operatorname{diag}(0.5, -0.5)`: trace zero, so still
#   divergence-free and area-preserving; but :math:`P = D \ne 0` stretches
#   one axis while it shrinks the other, and the orbits become ellipses.
# * :math:`D = \operatorname{diag}(-0.25, -0.25)`: divergence
#   :math:`-0.5`; every trajectory spirals into the origin and areas shrink
#   like :math:`e^{-0.5t}`.
#
# The streamlines show the field; the coloured disks are one set of starting
# points carried by the flow to :math:`t = 0, 1, 2, 3`. The panel titles give
# the measured area of the last one relative to the first (shoelace formula
# on the transported polygon) beside Liouville's :math:`e^{3\operatorname{tr}M}`.


def shoelace_area(points):
    """Area of the polygon with vertices ``points`` (k, 2), in order."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


rotation = np.array([[0.0, -1.0], [1.0, 0.0]])
fields = {
    "rotation: D = 0": np.zeros(2),
    "divergence-free: D = diag(0.5, −0.5)": np.array([0.5, -0.5]),
    "contracting: D = diag(−0.25, −0.25)": np.array([-0.25, -0.25]),
}
angles = np.linspace(0.0, 2 * np.pi, 200, endpoint=False)
disk = np.stack([1.1 + 0.35 * np.cos(angles), 0.35 * np.sin(angles)], axis=1)
times = [0.0, 1.0, 2.0, 3.0]
grid = np.linspace(-2.0, 2.0, 25)
gx, gy = np.meshgrid(grid, grid)

fig, axes = plt.subplots(1, 3, figsize=(14.0, 5.0), layout="constrained")
for ax, (name, d) in zip(axes, fields.items()):
    M2 = rotation + np.diag(d)
    u = M2[0, 0] * gx + M2[0, 1] * gy
    v = M2[1, 0] * gx + M2[1, 1] * gy
    ax.streamplot(gx, gy, u, v, color="0.65", density=1.0, linewidth=0.8, arrowsize=0.9)
    areas = []
    for k, t in enumerate(times):
        moved = disk @ expm(t * M2).T
        areas.append(shoelace_area(moved))
        ax.add_patch(Polygon(moved, closed=True, color=f"C{k}", alpha=0.55,
                             label=f"t = {t:g}"))
    predicted = np.exp(times[-1] * np.trace(M2))
    ax.set_title(f"{name}\narea ratio at t = 3: {areas[-1] / areas[0]:.4f}, "
                 rf"$e^{{3\,\mathrm{{tr}}\,M}}$ = {predicted:.4f}", fontsize=10)
    ax.set_xlim(-2, 2)
    ax.set_ylim(-2, 2)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.legend(loc="lower left", fontsize=8, title="disk at time", title_fontsize=8)
fig.suptitle(r"phase portraits of $\dot x = (S + D)\,x$ and a transported disk")
plt.show()

# %%
# Area is volume's two-dimensional self: the middle disk is squeezed into
# ellipses whose shape changes as they go round, yet its area stays what it
# was, while the disk on the right shrinks by exactly Liouville's factor.
# What separates the left panel from the middle one is *length*: the largest
# and smallest singular values of :math:`\exp(tM)` — how much the flow
# stretches the most and the least stretched direction — are both 1 for the
# rotation only. (For the contracting field the two coincide: its flow is
# :math:`e^{-0.25t}` times a rotation, so the dashed line hides under the
# solid one.)

ts = np.linspace(0.0, 6.0, 61)
fig, (ax_area, ax_sv) = plt.subplots(1, 2, figsize=(11.5, 4.2), layout="constrained")
for k, (name, d) in enumerate(fields.items()):
    M2 = rotation + np.diag(d)
    flows = [expm(t * M2) for t in ts]
    measured = [shoelace_area(disk @ F.T) / shoelace_area(disk) for F in flows[::6]]
    wide = dict(lw=5, alpha=0.45) if k == 0 else dict(lw=1.5)  # the rotation lies under others
    ax_area.semilogy(ts, np.exp(ts * np.trace(M2)), color=f"C{k}", label=name, **wide)
    ax_area.semilogy(ts[::6], measured, "o", color=f"C{k}", ms=4)
    sv = np.array([np.linalg.svd(F, compute_uv=False) for F in flows])
    ax_sv.semilogy(ts, sv[:, 0], color=f"C{k}", label=name, **wide)
    ax_sv.semilogy(ts, sv[:, 1], color=f"C{k}", ls="--", lw=1.5)
ax_area.plot([], [], "o", color="gray", ms=4, label="measured (shoelace)")
ax_sv.plot([], [], color="gray", label="largest singular value")
ax_sv.plot([], [], color="gray", ls="--", label="smallest singular value")
ax_area.set_xlabel("time t")
ax_area.set_ylabel("area of the transported disk / initial area")
ax_area.set_title(r"volume: lines $\exp(t\ \mathrm{tr}\ M)$, dots measured")
ax_area.grid(True, which="both", alpha=0.3)
ax_area.legend(fontsize=8)
ax_sv.set_xlabel("time t")
ax_sv.set_ylabel(r"singular values of $\exp(tM)$")
ax_sv.set_title("length: how much the flow stretches")
ax_sv.grid(True, which="both", alpha=0.3)
ax_sv.legend(fontsize=8, loc="lower left")
plt.show()

# %%
# From fields to recurrent weights
# --------------------------------
#
# Now read a recurrent step :math:`h_t = \sigma(W h_{t-1} + V x_t + b)` with
# :math:`W = \exp(M)`: the linear part moves the state along the field
# :math:`Mh` for one unit of time. expRNN (``method="exprnn"``, lesson 7)
# takes :math:`M = A` skew — a length-preserving field — and that is why
# gradients through :math:`W` neither explode nor vanish.
#
# The ``vfield`` method (:func:`~orthopt.rnn.parametrizations.vfield_weight`)
# adds a learned divergence:
#
# .. math::
#
#    W = \exp\big(S + \operatorname{diag}(d)\big), \qquad
#    d = d_{\max} \tanh\theta,
#
# with :math:`S` skew-symmetric and :math:`\theta \in \mathbb{R}^n` trained
# alongside it; :math:`d_{\max}` (default 0.1) is a fixed bound, and
# :math:`\tanh` keeps every :math:`d_i` strictly inside
# :math:`(-d_{\max}, d_{\max})`. (The decomposition into a divergence-free
# and a divergent part is the point of view of Azencot et al. 2021; this
# particular parametrization is orthopt's.) What it changes, with
# :math:`M = S + D`:
#
# * **Volume.** :math:`\det W = e^{\operatorname{tr}M} = e^{\sum_i d_i}`.
# * **Eigenvalues.** They are :math:`e^{\mu}` for the eigenvalues
#   :math:`\mu` of :math:`M`, with modulus :math:`e^{\operatorname{Re}\mu}`.
#   For a unit eigenvector :math:`v`, :math:`\mu = v^H M v = v^H S v + v^H D
#   v`; the first term is imaginary (:math:`S` is skew), the second is
#   :math:`\sum_i d_i |v_i|^2`, a weighted average of the :math:`d_i`. Hence
#   :math:`e^{\min d} \le |\lambda| \le e^{\max d}`.
# * **Singular values.** From :math:`\frac{d}{dt}\|x\|^2 = 2x^\top D x` (the
#   identity above, with :math:`P = D`), :math:`\|x\|` grows at most like
#   :math:`e^{t\max d}` and shrinks at most like :math:`e^{t\min d}`. So all
#   singular values of :math:`W` lie in the same interval
#   :math:`[e^{\min d}, e^{\max d}] \subset (e^{-d_{\max}}, e^{d_{\max}})`.
#
# We check the three statements on a :math:`64\times 64` example with the
# expRNN initialization for :math:`S` and a spread of :math:`\theta` that
# uses the whole range of :math:`d`.

n, d_max = 64, 0.1
S = initial_skew(n, "henaff", rng=rng)
theta = rng.normal(0.0, 2.0, size=n)
d = d_max * np.tanh(theta)
W_vfield = vfield_weight(S, theta, d_max)
W_exprnn = exprnn_weight(S)
moduli = np.abs(np.linalg.eigvals(W_vfield))
sv = np.linalg.svd(W_vfield, compute_uv=False)
print(f"d in [{d.min():+.5f}, {d.max():+.5f}],  bound e^(±d_max) = "
      f"[{np.exp(-d_max):.4f}, {np.exp(d_max):.4f}]")
print(f"det W = {np.linalg.det(W_vfield):.6f}   exp(Σ d_i) = {np.exp(d.sum()):.6f}")
print(f"|λ(W)| in [{moduli.min():.4f}, {moduli.max():.4f}],  singular values in "
      f"[{sv.min():.4f}, {sv.max():.4f}],  [e^min d, e^max d] = "
      f"[{np.exp(d.min()):.4f}, {np.exp(d.max()):.4f}]")
print("θ = 0 gives expRNN's W:  ‖vfield_weight(S, 0) − exp(S)‖ =",
      np.linalg.norm(vfield_weight(S, np.zeros(n), d_max) - W_exprnn))

fig, ax = plt.subplots(figsize=(5.6, 5.6), layout="constrained")
plot_unit_circle([W_exprnn, W_vfield], labels=[r"exprnn: $\exp(S)$",
                                               r"vfield: $\exp(S + \mathrm{diag}(d))$"], ax=ax)
circle = np.linspace(0.0, 2 * np.pi, 400)
for sign in (-1, 1):
    r = np.exp(sign * d_max)
    ax.plot(r * np.cos(circle), r * np.sin(circle), ls="--", lw=0.9, color="C3",
            label=r"$|\lambda| = e^{\pm d_{\max}}$" if sign > 0 else None)
ax.set_xlim(-1.25, 1.25)
ax.set_ylim(-1.25, 1.25)
ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12))
ax.set_title(rf"eigenvalues, $n = {n}$, $d_{{\max}} = {d_max}$")
plt.show()

# %%
# The vfield eigenvalues sit in a thin annulus around the circle, never
# outside the dashed bounds. Per step that is a mild departure; over
# :math:`T` steps it compounds to at most :math:`e^{\pm T d_{\max}}`, so
# :math:`d_{\max}` is the knob that trades the exact norm preservation of
# expRNN against a field that may forget (negative :math:`d_i`) or amplify
# (positive :math:`d_i`) some directions on purpose. With :math:`d_{\max} = 0`
# the model *is* expRNN, and every new model starts there:
# :func:`~orthopt.rnn.methods.make_method` initializes :math:`\theta = 0`.

method = make_method("vfield", n, rng=0)
print("parameters:", sorted(method.params), "  ‖WᵀW − I‖ at initialization =",
      f"{orthogonality_error(method.weight):.1e}")

# %%
# The gradient of the parametrization
# -----------------------------------
#
# Training needs :math:`\partial\mathcal L/\partial S` and
# :math:`\partial\mathcal L/\partial\theta` from the gradient :math:`G =
# \partial\mathcal L/\partial W` that back-propagation through time returns.
# :math:`W` depends on :math:`M = S + \operatorname{diag}(d)` through the
# matrix exponential, whose derivative in a direction :math:`E` is the
# Fréchet derivative :math:`L_M(E)`. Its adjoint :math:`L_M^*(G) =
# L_{M^\top}(G)` gives :math:`\Gamma = \partial\mathcal L/\partial M`, and
# then
#
# .. math::
#
#    \frac{\partial\mathcal L}{\partial S} = \operatorname{skew}(\Gamma),
#    \qquad
#    \frac{\partial\mathcal L}{\partial\theta_i} = d_{\max}\,(1 - \tanh^2\theta_i)\,\Gamma_{ii}
#
# (the skew part because :math:`S` moves among skew matrices, the diagonal
# because :math:`d` only touches the diagonal, and the chain rule through
# :math:`\tanh`). :func:`~orthopt.rnn.parametrizations.vfield_gradient`
# returns both; a central finite difference of
# :math:`\mathcal L(W) = \langle G, W\rangle` along a random skew :math:`E`
# and a random :math:`\eta` agrees with them:

G = rng.standard_normal((n, n))
E = rng.standard_normal((n, n))
E = (E - E.T) / 2
eta = rng.standard_normal(n)
grad_S, grad_theta = vfield_gradient(S, theta, d_max, G)
predicted = np.sum(grad_S * E) + grad_theta @ eta
for h in (1e-2, 1e-4):
    loss_plus = np.sum(G * vfield_weight(S + h * E, theta + h * eta, d_max))
    loss_minus = np.sum(G * vfield_weight(S - h * E, theta - h * eta, d_max))
    finite = (loss_plus - loss_minus) / (2 * h)
    print(f"h = {h:.0e}: finite difference {finite:.8f}   vfield_gradient {predicted:.8f}   "
          f"relative gap {abs(finite - predicted) / abs(predicted):.1e}")

# %%
# The relative gap shrinks like :math:`h^2`, as a central difference should.
#
# What a trained model does with :math:`d`
# ----------------------------------------
#
# Finally, a tiny ``vfield`` model trained for 150 steps on a short copying
# task (hidden size 32, delay 40; the same setting as the expRNN run of
# lesson 7) with :class:`~orthopt.rnn.train.Trainer`. The left panel shows
# the learned :math:`d_i` inside their bounds, the right panel the moduli of
# the eigenvalues of the trained :math:`W` against the interval
# :math:`[e^{\min d}, e^{\max d}]` that the theory allows.

config = TrainConfig(task="copying", method="vfield", d_max=0.1, length=40, hidden=32,
                     batch_size=32, iterations=150, lr=3e-3, orth_lr=3e-3, seed=0,
                     eval_every=0, checkpoint_every=0)
trainer = Trainer(config, progress=False)
result = trainer.run()
d_learned = config.d_max * np.tanh(trainer.method.params["theta"])
W_trained = trainer.method.weight
moduli_trained = np.sort(np.abs(np.linalg.eigvals(W_trained)))
print(f"training loss (mean of the last 10 steps) "
      f"{np.mean([r['loss'] for r in result['history'][-10:]]):.4f}, baseline "
      f"{result['baseline']:.4f}")
print(f"learned d in [{d_learned.min():+.4f}, {d_learned.max():+.4f}],  Σ d = "
      f"{d_learned.sum():+.4f},  det W = {np.linalg.det(W_trained):.4f},  "
      f"‖WᵀW − I‖ = {orthogonality_error(W_trained):.2e}")

fig, (ax_d, ax_mod) = plt.subplots(1, 2, figsize=(11.0, 4.0), layout="constrained")
ax_d.bar(np.arange(d_learned.size), d_learned, color="C1", label=r"learned $d_i$")
for sign in (-1, 1):
    ax_d.axhline(sign * config.d_max, color="C3", ls="--", lw=1,
                 label=r"$\pm d_{\max}$" if sign > 0 else None)
ax_d.set_xlabel("hidden unit i")
ax_d.set_ylabel(r"$d_i = d_{\max}\tanh\theta_i$")
ax_d.set_title("divergence per coordinate after training")
ax_d.legend(fontsize=8, loc="lower right")
ax_mod.plot(np.arange(moduli_trained.size), moduli_trained, "o", ms=4, color="C1",
            label=r"$|\lambda_i(W)|$, sorted")
ax_mod.axhline(1.0, color="gray", lw=1, label="unit circle (exprnn)")
ax_mod.axhspan(np.exp(d_learned.min()), np.exp(d_learned.max()), color="C3", alpha=0.12,
               label=r"$[e^{\min d}, e^{\max d}]$")
ax_mod.set_xlabel("eigenvalue index (sorted by modulus)")
ax_mod.set_ylabel(r"$|\lambda|$")
ax_mod.set_title("eigenvalue moduli of the trained W")
ax_mod.legend(fontsize=8, loc="upper left")
plt.show()

# %%
# The learned :math:`d_i` spread to both signs, so the trained :math:`W` is
# no longer orthogonal (the printed :math:`\|W^\top W - I\|`), and its
# eigenvalue moduli fan out around one — always inside the band that
# :math:`d` allows. Whether that freedom helps depends on the task: a task
# that must keep every input for a long time (copying) is served best by a
# divergence-free field; a task that should forget distractors may profit
# from some contraction. ``vfield`` lets training decide, on a leash of
# length :math:`d_{\max}`.
