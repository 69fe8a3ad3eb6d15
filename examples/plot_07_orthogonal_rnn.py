r"""
7. Why orthogonal RNNs don't explode or vanish
==============================================

A recurrent network applies the same matrix :math:`W` at every time step, so
the gradient that tells step :math:`t` how it affected a loss at step
:math:`T` has passed through :math:`T - t` copies of :math:`W^\top`. Powers of
a matrix grow or shrink exponentially unless all its eigenvalues have modulus
one. This lesson shows that on the spectrum, on the gradient norms of
orthopt's recurrent cell, and on the copying task, where it decides between
learning and not learning.

.. admonition:: What you should take away

   * Back-propagation through time multiplies the gradient by
     :math:`W^\top D_k` once per step (:math:`D_k` the derivative of the
     nonlinearity). For a free :math:`W` its norm changes geometrically, at a
     rate set by the spectrum of :math:`W`: a spectral radius 10 % away from
     one changes the gradient by many orders of magnitude over 220 steps.
   * An orthogonal :math:`W` has all its eigenvalues on the unit circle and
     all its singular values equal to one, so :math:`\|W^\top g\| =
     \|g\|`: the gradient neither explodes nor vanishes through :math:`W`;
     only the nonlinearity can shrink it.
   * Training has to *keep* :math:`W` orthogonal. A free :math:`W` drifts off
     the circle within a few hundred steps; a trivialization
     :math:`W = \exp(A)` (expRNN) stays on it to rounding error, and on the
     copying task with a delay of 200 steps that is the difference between
     loss far below the memoryless baseline and a diverging model.
"""

# %%
# A linear recurrence and its spectrum
# ------------------------------------
#
# Drop the inputs and the nonlinearity for a moment: :math:`h_t = W h_{t-1}`,
# so :math:`h_t = W^t h_0`. If :math:`W = P\Lambda P^{-1}` is diagonalizable,
# :math:`W^t = P \Lambda^t P^{-1}` and the component of :math:`h_0` along the
# eigenvector of :math:`\lambda_i` is multiplied by :math:`\lambda_i^t`. It
# grows like :math:`|\lambda_i|^t` if :math:`|\lambda_i| > 1` and dies like it
# if :math:`|\lambda_i| < 1`. Only eigenvalues *on* the unit circle give a
# memory that neither blows up nor fades.
#
# An orthogonal matrix keeps lengths, :math:`\|Wz\|^2 = z^\top W^\top W z =
# \|z\|^2`; applied to an eigenvector that gives :math:`|\lambda| = 1` for
# every eigenvalue. A matrix with independent Gaussian entries of variance
# :math:`1/n`, the classic initialization of a free :math:`W`, has its
# eigenvalues spread over the whole unit disk (the circular law); for a
# finite :math:`n` some may lie slightly outside.
#
# The orthogonal matrix below is the initial weight of expRNN,
# :math:`W_0 = \exp(A_0)` with :math:`A_0` a block-diagonal skew-symmetric
# matrix (2×2 rotation blocks with random angles,
# :func:`~orthopt.rnn.parametrizations.initial_skew`).

import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from orthopt.rnn import TrainConfig, Trainer, backward, forward, init_params
from orthopt.rnn.parametrizations import exprnn_weight, initial_skew
from orthopt.rnn.tasks import CopyingTask, copying_batch
from orthopt.viz import plot_unit_circle

rng = np.random.default_rng(0)
n = 128
W_orth = exprnn_weight(initial_skew(n, "henaff", rng=rng))
W_free = rng.standard_normal((n, n)) / np.sqrt(n)

for name, W in (("orthogonal exp(A₀)", W_orth), ("Gaussian, variance 1/n", W_free)):
    eig = np.abs(np.linalg.eigvals(W))
    sv = np.linalg.svd(W, compute_uv=False)
    print(f"{name:24s} |λ| in [{eig.min():.3f}, {eig.max():.3f}]   "
          f"singular values in [{sv.min():.3f}, {sv.max():.3f}]")

fig, ax = plt.subplots(figsize=(5.2, 5.0), layout="constrained")
plot_unit_circle([W_orth, W_free], labels=[r"orthogonal $W = \exp(A_0)$",
                                           r"Gaussian $W$, entries $N(0, 1/n)$"], ax=ax)
ax.set_title(f"eigenvalues of two {n}×{n} recurrent matrices")
ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13))
plt.show()

# %%
# The singular values tell the same story more bluntly: for the orthogonal
# matrix they are all exactly one, so *no* vector is stretched or shrunk; the
# Gaussian matrix stretches some directions by about two and almost
# annihilates others. The eigenvalues govern the long run (:math:`W^t` for
# large :math:`t`), the singular values every single step.
#
# Back-propagation through time
# -----------------------------
#
# orthopt's cell (:func:`~orthopt.rnn.cell.forward`) computes, for inputs
# :math:`x_1, \dots, x_T`,
#
# .. math::
#
#    z_t = W h_{t-1} + V x_t + b, \qquad h_t = \sigma(z_t), \qquad h_0 = 0,
#
# with the modReLU nonlinearity
# :math:`\sigma(z) = \operatorname{sign}(z)\,\max(|z| + \beta, 0)` by default.
# If the loss :math:`\mathcal L` reads the last state :math:`h_T`, the chain
# rule through one step is
#
# .. math::
#
#    \frac{\partial \mathcal L}{\partial h_{t-1}}
#    = W^\top D_t \frac{\partial \mathcal L}{\partial h_t},
#    \qquad D_t = \operatorname{diag}\big(\sigma'(z_t)\big),
#
# and therefore
#
# .. math::
#
#    \frac{\partial \mathcal L}{\partial h_t}
#    = W^\top D_{t+1}\, W^\top D_{t+2} \cdots W^\top D_T\,
#      \frac{\partial \mathcal L}{\partial h_T},
#    \qquad
#    \Big\|\frac{\partial \mathcal L}{\partial h_t}\Big\|
#    \le \|W\|_2^{\,T-t} \prod_{k>t}\|D_k\|_2\,
#      \Big\|\frac{\partial \mathcal L}{\partial h_T}\Big\| .
#
# The gradient of the recurrent weight is the sum
# :math:`G = \partial\mathcal L/\partial W = \sum_t \delta_t h_{t-1}^\top`
# with :math:`\delta_t = D_t\, \partial\mathcal L/\partial h_t`: the terms
# with small :math:`t` are the ones that carry long-range information. If
# :math:`\partial\mathcal L/\partial h_t` vanishes for early :math:`t`, the
# network cannot learn what happened long ago; if it explodes, those terms
# swamp :math:`G` and one update throws the weights far away.
#
# For modReLU on real numbers :math:`\sigma'(z)` is 0 or 1 (1 exactly where
# the unit is active), so :math:`\|D_k\|_2 \le 1`. With an orthogonal
# :math:`W`, :math:`\|W^\top D_k g\| \le \|g\|`: the gradient can only shrink,
# and only through units that are switched off.
#
# We measure this on the cell itself. The states :math:`z_t, h_t` come from
# :func:`~orthopt.rnn.cell.forward` (a batch of 16 copying sequences with
# delay 200, so :math:`T = 220`, and a loss :math:`\mathcal L = \langle u,
# y_T\rangle` with a fixed random :math:`u`, which reads only the last
# output); the loop below is the product of transposed Jacobians above, i.e.
# the recursion that :func:`~orthopt.rnn.cell.backward` runs internally. As a check, it rebuilds
# :math:`G = \sum_t \delta_t h_{t-1}^\top` and compares it with the library's
# hand-written BPTT. Besides the orthogonal matrix we try the Gaussian one
# scaled by 0.9, 1 and 1.1.

task = CopyingTask(delay=200)
params = init_params(task.input_size, n, task.output_size, rng=rng)
x, _ = copying_batch(rng, 16, task.delay)
T = x.shape[0]
grad_y = rng.standard_normal((16, task.output_size)) / 4  # u = ∂L/∂y_T of L = ⟨u, y_T⟩

matrices = {"orthogonal": W_orth}
for scale in (0.9, 1.0, 1.1):
    matrices[f"Gaussian × {scale}"] = scale * W_free

grad_norms, radius = {}, {}
for name, W in matrices.items():
    p = dict(params, W=W)
    _, cache = forward(p, x, output="last")
    H = cache["H"]                       # H[t] = h_t, with H[0] = h_0 = 0
    g = grad_y @ p["U"]                  # ∂L/∂h_T, one row per sequence
    norms = np.empty(T + 1)
    norms[T] = np.linalg.norm(g)
    G = np.zeros((n, n))
    for t in range(T, 0, -1):
        delta = np.where(H[t] != 0, g, 0.0)  # D_t ∂L/∂h_t: σ' is 1 where the unit is active
        G += delta.T @ H[t - 1]
        g = delta @ W                        # ∂L/∂h_{t−1} = Wᵀ D_t ∂L/∂h_t, as rows: δᵀW
        norms[t - 1] = np.linalg.norm(g)
    G_library = backward(p, cache, grad_y)["W"]
    grad_norms[name] = norms
    radius[name] = float(np.max(np.abs(np.linalg.eigvals(W))))
    print(f"{name:16s} spectral radius {radius[name]:.3f}   "
          f"‖∂L/∂h_0‖ / ‖∂L/∂h_T‖ = {norms[0] / norms[T]:9.2e}   "
          f"‖G − G_backward‖/‖G‖ = {np.linalg.norm(G - G_library) / np.linalg.norm(G_library):.1e}")

# %%
# The dashed lines are :math:`\rho^{\,T-t}` for the spectral radius
# :math:`\rho` of each Gaussian matrix, started at the same value at
# :math:`t = T`: after a short transient the measured norms follow the
# spectral radius, exactly the :math:`|\lambda|^t` of the linear picture.

steps = np.arange(T + 1)
fig, ax = plt.subplots(figsize=(7.0, 4.4), layout="constrained")
for k, (name, norms) in enumerate(grad_norms.items()):
    ax.semilogy(steps, norms, color=f"C{k}", lw=2 if k == 0 else 1.5, label=name)
    if name != "orthogonal":
        ax.semilogy(steps, norms[T] * radius[name] ** (T - steps), ls="--", lw=0.9,
                    color=f"C{k}", alpha=0.8)
ax.plot([], [], ls="--", color="gray", label=r"$\rho^{\,T-t}$ (spectral radius)")
ax.set_xlabel(f"time step t (the loss reads the output at T = {T})")
ax.set_ylabel(r"$\|\partial\mathcal{L}/\partial h_t\|_F$")
ax.set_title("gradient norm back-propagated through time")
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=8)
plt.show()

# %%
# The orthogonal line is flat up to the few units modReLU switches off; the
# three Gaussian lines are straight lines on the log scale, i.e. geometric
# growth or decay. The middle one, whose spectral radius is closest to one,
# stays closest to the orthogonal line; its two neighbours show how little it
# takes to leave it: ten percent of scale, raised to the power
# :math:`T - t`, is many orders of magnitude. A free :math:`W` sits on a knife
# edge, and training moves it.
#
# What training does to the spectrum
# ----------------------------------
#
# Initialization on the circle is not enough: the update must keep
# :math:`W` there. We train two tiny models on a short copying task (hidden
# size 32, delay 40, 150 steps of RMSprop; both start from the *same*
# orthogonal :math:`W_0`) with :class:`~orthopt.rnn.train.Trainer`:
#
# * ``method="exprnn"``: :math:`W = \exp(A)` with :math:`A` skew-symmetric;
#   RMSprop updates :math:`A` (its gradient is the adjoint of the Fréchet
#   derivative of :math:`\exp` applied to :math:`G`), so :math:`W` is
#   orthogonal after every step by construction.
# * ``method="none"``: RMSprop updates the entries of :math:`W` directly.
#
# Every logged iteration records :math:`\|W^\top W - I\|_F`.

small = dict(task="copying", length=40, hidden=32, batch_size=32, iterations=150,
             lr=3e-3, orth_lr=3e-3, seed=0, eval_every=0, checkpoint_every=0)
trained = {}
for method in ("exprnn", "none"):
    trainer = Trainer(TrainConfig(method=method, **small), progress=False)
    result = trainer.run()
    trained[method] = (trainer.method.weight, [r["orthogonality"] for r in result["history"]])
    eig = np.abs(np.linalg.eigvals(trainer.method.weight))
    print(f"{method:7s} after {result['iteration']} steps: ‖WᵀW − I‖ = "
          f"{trained[method][1][-1]:.1e},  |λ| in [{eig.min():.3f}, {eig.max():.3f}]")

fig, (ax_orth, ax_eig) = plt.subplots(1, 2, figsize=(11.0, 4.6), layout="constrained",
                                      gridspec_kw={"width_ratios": [1.3, 1]})
labels = {"exprnn": r"exprnn: $W = \exp(A)$", "none": "none: free W"}
for k, (method, (_, orth)) in enumerate(trained.items()):
    ax_orth.semilogy(np.arange(1, len(orth) + 1), np.maximum(orth, 1e-17), color=f"C{k}",
                     label=labels[method])
ax_orth.set_xlabel("training iteration")
ax_orth.set_ylabel(r"$\|W^\top W - I\|_F$")
ax_orth.set_title("distance from the orthogonal group")
ax_orth.grid(True, which="both", alpha=0.3)
ax_orth.legend()
plot_unit_circle([w for w, _ in trained.values()], labels=list(labels.values()), ax=ax_eig)
ax_eig.set_title("eigenvalues of W after training")
ax_eig.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13))
plt.show()

# %%
# The free matrix leaves the orthogonal group from the first step and its
# eigenvalues leave the circle (the printed range of :math:`|\lambda|`):
# moduli below one are memory that fades, moduli above one memory that
# explodes. The exponential parametrization never leaves:
# :math:`\|W^\top W - I\|` stays at the level of rounding error.
#
# The copying task
# ----------------
#
# The copying task (Arjovsky et al. 2016) makes long memory necessary. The
# input is 10 symbols drawn from :math:`\{1, \dots, 8\}`, then :math:`L`
# blanks, then a marker; after the marker the network must output the 10
# symbols in order, and blanks everywhere before. A sequence has
# :math:`T = L + 20` steps.
#
# **The baseline.** A network with no memory still knows when the marker
# comes (it is an input). Its best strategy is to output blank with
# certainty until then (cost 0) and a uniform guess over the 8 symbols for
# the last 10 steps (cost :math:`\ln 8` each). Averaged over the
# :math:`L + 20` steps, its cross-entropy is
#
# .. math::
#
#    \mathcal L_{\text{baseline}} = \frac{10 \ln 8}{L + 20}.
#
# Anything below that line has remembered something across :math:`L` steps.
# A run at the size of the papers (delay :math:`L = 200`, hidden size 128,
# batch 128) takes far longer than a documentation page may, so we load the
# curves that ``benchmarks/rnn_copying.py`` saved (per-iteration training
# cross-entropy, every method with the same seed, data and learning rate of
# the non-recurrent weights).

# sphinx-gallery runs a lesson from its own folder and without __file__
here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
log_path = here.parent / "benchmarks" / "results" / "rnn_copying.json"
if not log_path.is_file():
    raise FileNotFoundError(
        f"{log_path} is missing; this lesson plots the saved copying benchmark. Create it with "
        "`python benchmarks/rnn_copying.py` from the repository root (3000 iterations).")
with open(log_path) as f:
    bench = json.load(f)


def number(value, spec):
    """``value`` formatted with ``spec``, or a dash for a run that logged none (diverged)."""
    return "—" if value is None else format(value, spec)


delay = bench["delay"]
baseline = 10 * math.log(8) / (delay + 20)
assert abs(baseline - CopyingTask(delay=delay).baseline) < 1e-12
print(f"copying task, L = {delay}, hidden size {bench['hidden']}, batch {bench['batch']}, "
      f"{bench['iterations']} iterations; baseline 10·ln 8/(L + 20) = {baseline:.4f}")
print(f"{'method':10s} {'held-out CE / baseline':>23s} {'recall accuracy':>16s} {'‖WᵀW − I‖':>10s}")

for row in bench["rows"]:
    accuracy = None if row.get("recall_accuracy") is None else 100 * row["recall_accuracy"]
    print(f"{row['method']:10s} {number(row.get('ce_over_baseline'), '.2e'):>23s} "
          f"{number(accuracy, '.1f'):>15s}% {number(row.get('orthogonality'), '.1e'):>10s}")

# %%
# The free model's losses are so large that they get a panel of their own
# (left, with exprnn for scale); the right panel zooms in on the orthogonal
# methods around the baseline.

curves = {method: np.asarray(losses, dtype=float) for method, losses in bench["curves"].items()}
colors = {method: f"C{k}" for k, method in enumerate(curves)}
fig, (ax_all, ax_zoom) = plt.subplots(1, 2, figsize=(12.0, 4.8), layout="constrained",
                                      gridspec_kw={"width_ratios": [1, 1.5]})
for method in ("exprnn", "none"):
    if method in curves:
        label = "none (free W)" if method == "none" else method
        ax_all.semilogy(np.arange(1, len(curves[method]) + 1), curves[method],
                        color=colors[method], lw=1.0, label=label)
for method, losses in curves.items():
    if method != "none":
        ax_zoom.semilogy(np.arange(1, len(losses) + 1), losses, color=colors[method], lw=1.0,
                         label=method)
for ax in (ax_all, ax_zoom):
    ax.axhline(baseline, color="black", ls="--", lw=1.2,
               label=rf"baseline $10\ln 8/(L+20)$ = {baseline:.3f}")
    ax.set_xlabel("training iteration")
    ax.set_ylabel("training cross-entropy")
    ax.grid(True, which="both", alpha=0.3)
ax_all.set_title("free W against exprnn, full scale")
ax_all.legend(fontsize=8, loc="center right")
ax_zoom.set_title("orthogonal methods")
ax_zoom.legend(fontsize=8, ncol=2, loc="lower left")
fig.suptitle(f"copying task, delay L = {delay}, hidden size {bench['hidden']} "
             f"(saved benchmark log)")
plt.show()

# %%
# Reading the figure: every method that keeps :math:`W` orthogonal (the
# trivializations exprnn, dtriv and scoRNN, the Riemannian step rgd, the
# low-rank projUNN step and Givens coordinate descent) crosses the baseline
# within the first hundred iterations and ends four to five orders of
# magnitude below it, recalling all ten symbols (the table above). The free
# matrix gets the same learning rate and, to give it a fair chance, its
# gradient is clipped to norm 1. It still blows up: within a few iterations
# one large step moves :math:`W`'s eigenvalues off the circle and the next
# forward pass grows geometrically (losses of 10¹¹ and more, the left panel).
# Clipping keeps the optimizer alive, so the loss falls back to the baseline
# — the model has learnt to output the symbol frequencies and nothing else —
# and the explosions return every few hundred iterations. After 3000
# iterations it recalls only part of the sequence, and its :math:`W` is far
# from orthogonal (the last column of the table).
#
# The remedies of the literature for free matrices (gradient clipping,
# careful scaling, gating as in LSTMs) treat the symptoms. Keeping :math:`W`
# orthogonal removes the cause, at the price of optimizing on a curved set —
# which is what the methods of lessons 2–6 are for. Lesson 8 asks what is
# lost by insisting on *exact* orthogonality, and relaxes it in a controlled
# way.
