r"""
11. Many problems at once, and products
=======================================

Some applications do not solve *one* orthogonality-constrained problem but
thousands of small ones: register every scan of a sequence to a template,
fit a rotation to every rigid body of a motion-capture frame, find the
dominant subspace of every patch of an image. Looping over them in Python
pays the interpreter once per problem and per iteration. This lesson solves
10 000 rotation problems in *one* solver run, where each problem still gets
its own step sizes and its own stopping, and then looks at a second way of
stacking matrices: the subspace a basis spans, and the distance between two
subspaces measured by principal angles.

.. admonition:: What you should take away

   * ``minimize(cost, x0, batched=True, args=(data,))`` with ``x0`` of shape
     (k, n, p) solves k independent problems. The cost returns one value
     per problem, shape (k,); the per-problem data travel in ``args`` with
     the same leading axis, as SciPy's ``args``. ``res.fun``, ``res.nit``,
     ``res.status`` are arrays of shape (k,).
   * Every problem runs exactly as it would alone — same steps, same line
     search, same stopping — and a problem that has converged is frozen
     while the others go on. One batched evaluation serves all of them.
   * Without ``batched=True`` a stack with one *scalar* cost is a single
     problem on the product manifold ℳᵏ (pymanopt's k copies). Both readings
     are useful; the flag says which one you mean.
   * On the Grassmann manifold a point is a subspace; its distance to
     another is ‖θ‖₂, with θ the principal angles between the two subspaces.
   * ``Product([Stiefel(m, k), Stiefel(n, k)])`` has pairs (U, V) as points
     and gradients; every solver runs on it, factor by factor.
"""

# %%
# 10 000 rotations, registered at once
# ------------------------------------
#
# Each problem i has a cloud of m points (the columns of
# :math:`P_i \in \mathbb R^{3\times m}`) and a rotated, noisy copy
# :math:`Q_i = R_i P_i + E_i`. The rotation that best maps one onto the
# other minimizes :math:`\|Q_i - R P_i\|_F^2` over SO(3); expanding the
# square leaves
#
# .. math::
#
#    f_i(R) = -\langle R, B_i\rangle = -\operatorname{tr}(R^\top B_i), \qquad
#    B_i = Q_i P_i^\top,
#
# Wahba's problem. Its solution is known from the SVD
# :math:`B_i = U \Sigma V^\top`: :math:`R^\star = U\,\mathrm{diag}(1, 1,
# \det UV^\top)\,V^\top` — which lets us check every one of the 10 000
# answers.
#
# The cost is written once for the whole stack: ``x`` has shape
# (k, 3, 3), ``b`` shape (k, 3, 3), and the sum runs over the matrix axes
# only, so the cost returns k values.

import time

import matplotlib.pyplot as plt
import numpy as np

import orthopt
from orthopt import Grassmann, SpecialOrthogonal

rng = np.random.default_rng(0)
k, m = 10_000, 12
manifold = SpecialOrthogonal(3, retraction="cayley")
true_rotations = manifold.random_point(rng=1, shape=(k,))
clouds = rng.standard_normal((k, 3, m))
copies = true_rotations @ clouds + 0.05 * rng.standard_normal((k, 3, m))
b = copies @ np.swapaxes(clouds, -1, -2)


def cost(x, b):
    return -np.sum(x * b, axis=(-2, -1))  # shape (k,): one cost per problem


def gradient(x, b):
    return -b  # one Euclidean gradient per problem, shape (k, 3, 3)


x0 = manifold.random_point(rng=2, shape=(k,))
start = time.perf_counter()
res = orthopt.minimize(cost, x0, method="rgd-bb", jac=gradient, manifold=manifold,
                       batched=True, args=(b,), options={"gradient_tolerance": 1e-9})
elapsed = time.perf_counter() - start

u, s, vt = np.linalg.svd(b)
sign = np.sign(np.linalg.det(u @ vt))
optimum = -(s[:, 0] + s[:, 1] + sign * s[:, 2])
relative_error = np.abs(res.fun - optimum) / np.abs(optimum)
statuses, counts = np.unique(res.status, return_counts=True)
print(f"{k} problems in {elapsed:.2f} s; statuses: "
      f"{ {str(s): int(c) for s, c in zip(statuses, counts)} }")
print(f"worst relative error against the SVD optimum: {relative_error.max():.1e}")
print(f"iterations: median {np.median(res.nit):.0f}, max {res.nit.max()}")

# %%
# Every problem stopped on its own test (``gradient_tolerance``) after its
# own number of iterations. The histogram shows how different they are: a
# loop of the batch as a whole would have to run all of them to the
# slowest, and a fixed step would fit none of them.

fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
axes[0].hist(res.nit, bins=40, color="C0")
axes[0].set(xlabel="iterations", ylabel="problems", title="per-problem iterations")
axes[1].hist(np.log10(np.maximum(relative_error, 1e-17)), bins=40, color="C1")
axes[1].set(xlabel="log10 relative error", title="per-problem accuracy")
fig.tight_layout()

# %%
# A picture of a few of them: the cloud (grey), the noisy copy (blue), and
# the cloud moved by the rotation the solver found (orange circles), which
# sits on the copy.

fig = plt.figure(figsize=(9, 3.2))
for j, i in enumerate([0, 1, 2]):
    ax = fig.add_subplot(1, 3, j + 1, projection="3d")
    moved = res.x[i] @ clouds[i]
    ax.scatter(*clouds[i], color="0.6", s=10, label="cloud")
    ax.scatter(*copies[i], color="C0", s=18, label="copy")
    ax.scatter(*moved, facecolors="none", edgecolors="C1", s=40, label="R* cloud")
    ax.set_title(f"problem {i}: {res.nit[i]} iterations", fontsize=9)
    ax.set_xticks([]), ax.set_yticks([]), ax.set_zticks([])
fig.axes[0].legend(loc="upper left", fontsize=7)
fig.tight_layout()

# %%
# Every method of :func:`orthopt.minimize` runs batched: ``"trust-regions"``
# (the default), ``"lbfgs"``, ``"cg"``, ``"rgd"``, ``"rgd-bb"``, Givens
# coordinate descent ``"givens-gs"``, ``"givens"`` (one coordinate per
# iteration) and projUNN ``"projunn-d"``, ``"projunn-t"`` (a rank-k sketch per
# problem, each drawn from the run's generator). For the solver
# classes, ``Problem(manifold, cost, batch_shape=(k,), args=(b,))`` is the
# batched problem, and ``orthopt.check_gradient`` on it returns one verdict
# per problem (here for the first 200):

problem = orthopt.Problem(manifold, cost, euclidean_gradient=gradient, batch_shape=(200,),
                          args=(b[:200],))
check = orthopt.check_gradient(problem, rng=0)
print(f"gradient checks passed: {check.passed.sum()} of {check.passed.shape[0]}, "
      f"slopes in [{check.slope.min():.2f}, {check.slope.max():.2f}]")

# %%
# The same problem without ``batched=True`` is a different problem: with a
# scalar cost (the sum of the k costs) the stack is one point of
# SO(3)¹⁰⁰⁰⁰, one step size and one stopping test for all. Its minimizer is
# the same — the problems are independent — but the run stops only when the
# *total* gradient is small, and every problem takes the common step.

summed = orthopt.minimize(lambda x: np.sum(cost(x, b[:200])), x0[:200], method="rgd-bb",
                          jac=lambda x: gradient(x, b[:200]), manifold=manifold,
                          options={"gradient_tolerance": 1e-9})
print(f"summed batch of 200: one cost {summed.fun:.6f}, one nit {summed.nit}, "
      f"against the batched median {np.median(res.nit[:200]):.0f}")

# %%
# Subspaces and principal angles
# ------------------------------
#
# A basis :math:`X \in \mathrm{St}(n, p)` names a subspace; :math:`XQ` for
# any orthogonal :math:`Q` names the same one. The Grassmann manifold
# :math:`\mathrm{Gr}(n, p)` has the subspaces as its points. Between two of
# them, :math:`\mathcal X = \operatorname{span} X` and
# :math:`\mathcal Y = \operatorname{span} Y`, the *principal angles*
# :math:`0 \le \theta_1 \le \dots \le \theta_p \le \pi/2` are the angles
# between best-aligned unit vectors, one pair after another (Björck & Golub
# 1973); their cosines are the singular values of :math:`X^\top Y`. The
# geodesic distance is
#
# .. math::
#
#    d(\mathcal X, \mathcal Y) = \|\theta\|_2 .
#
# Two planes through the origin of ℝ³ always share a line: one principal
# angle is 0, the other is the angle between the planes.

grassmann = Grassmann(3, 2)
plane_x = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])          # the xy-plane
tilt = 0.6
plane_y = np.array([[1.0, 0.0], [0.0, np.cos(tilt)], [0.0, np.sin(tilt)]]) @ np.array(
    [[np.cos(0.4), -np.sin(0.4)], [np.sin(0.4), np.cos(0.4)]])  # another basis, tilted plane
left, cosines, right_t = np.linalg.svd(plane_x.T @ plane_y)
angles = np.arccos(np.clip(cosines, -1.0, 1.0))  # ascending: cosines come descending
distance = float(grassmann.dist(plane_x, plane_y))
print(f"principal angles {np.round(angles, 6)}, dist = {distance:.6f}"
      f" = ‖θ‖ = {np.linalg.norm(angles):.6f}")
# the basis does not matter: rotate the basis of Y within its plane, same distance
print(f"same subspace, other basis: dist = "
      f"{float(grassmann.dist(plane_x, plane_y @ np.array([[0.0, 1.0], [-1.0, 0.0]]))):.6f}")

# %%
# The principal vectors (the columns of :math:`XU` and :math:`YV`) show
# the angles: the first pair coincides along the common line, the second
# pair, perpendicular to it, opens by the angle between the planes.

principal_x = plane_x @ left
principal_y = plane_y @ right_t.T
fig = plt.figure(figsize=(5, 4))
ax = fig.add_subplot(projection="3d")
grid = np.linspace(-1, 1, 2)
for basis, color in ((plane_x, "C0"), (plane_y, "C1")):
    s_, t_ = np.meshgrid(grid, grid)
    surface = basis[:, :1, None] * s_ + basis[:, 1:, None] * t_
    ax.plot_surface(*surface, alpha=0.25, color=color)
for j, style in enumerate(("-", "--")):
    for vectors, color in ((principal_x, "C0"), (principal_y, "C1")):
        ax.quiver(0, 0, 0, *vectors[:, j], color=color, linestyle=style, linewidth=2)
ax.set_title(f"θ = ({angles[0]:.2f}, {angles[1]:.2f}) rad, d = {np.linalg.norm(angles):.2f}")
ax.set_xticks([]), ax.set_yticks([]), ax.set_zticks([])

# %%
# Many pairs at once: ``batch_dist`` gives one distance per pair of a stack,
# ``dist`` the distance on the product Gr(n, p)ᵏ (the root of the sum of
# squares). Random planes of ℝ³ always meet in a line, so their distance is
# the single angle between them, at most π/2.

xs = grassmann.random_point(rng=3, shape=(2000,))
ys = grassmann.random_point(rng=4, shape=(2000,))
distances = grassmann.batch_dist(xs, ys)
print(f"{distances.shape[0]} pairs: largest distance {distances.max():.4f} ≤ π/2 = "
      f"{np.pi / 2:.4f}; product distance {float(grassmann.dist(xs, ys)):.2f} = "
      f"{np.sqrt(np.sum(distances ** 2)):.2f}")
fig, ax = plt.subplots(figsize=(5, 3))
ax.hist(distances, bins=40, color="C2")
ax.set(xlabel="Grassmann distance of two random planes in ℝ³", ylabel="pairs")
fig.tight_layout()

# %%
# A truncated SVD on a product of two Stiefel manifolds
# -----------------------------------------------------
#
# A third way to put several matrices together: one problem whose point is a
# *pair*. The k leading singular triplets of :math:`A \in \mathbb R^{m\times n}`
# maximize
#
# .. math::
#
#    f(U, V) = \operatorname{tr}(U^\top A V N), \qquad
#    U \in \mathrm{St}(m, k),\ V \in \mathrm{St}(n, k),\
#    N = \mathrm{diag}(k, k-1, \dots, 1),
#
# Brockett's cost on the product manifold :math:`\mathrm{St}(m, k)\times
# \mathrm{St}(n, k)` (the distinct weights of N pick the singular vectors in
# order; without them any rotation of the leading subspaces would do). The
# maximum is :math:`\sum_i (k + 1 - i)\,\sigma_i`. Points of
# ``Product([Stiefel(m, k), Stiefel(n, k)])`` are pairs ``(U, V)``, and so
# are gradients: everything acts factor by factor.

from orthopt import Product, Stiefel

m_rows, n_cols, rank = 80, 50, 4
A = rng.standard_normal((m_rows, n_cols))
weights = np.arange(rank, 0, -1.0)
pair = Product([Stiefel(m_rows, rank), Stiefel(n_cols, rank)])


def svd_cost(x):
    u, v = x
    return -np.sum(u * ((A @ v) * weights))


def svd_gradient(x):
    u, v = x
    return (-(A @ v) * weights, -(A.T @ u) * weights)  # one block per factor


svd = orthopt.minimize(svd_cost, pair.random_point(rng=5), manifold=pair, jac=svd_gradient,
                       options={"gradient_tolerance": 1e-9})
u, v = svd.x
sigma = np.linalg.svd(A, compute_uv=False)[:rank]
estimate = np.abs(np.diag(u.T @ A @ v))
print(f"{svd.status} after {svd.nit} iterations; singular values {np.round(estimate, 6)}")
print(f"numpy.linalg.svd:                     {np.round(sigma, 6)}; "
      f"largest difference {np.max(np.abs(estimate - sigma)):.1e}")

fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
axes[0].semilogy(svd.history["grad_norm"], color="C0")
axes[0].set(xlabel="iteration", ylabel="‖grad f‖", title="truncated SVD on St × St")
axes[1].plot(np.linalg.svd(A, compute_uv=False), "o", color="0.7", label="all σ of A")
axes[1].plot(estimate, "x", color="C1", markersize=10, label="diag(UᵀAV)")
axes[1].set(xlabel="i", ylabel="σ_i", title="the k leading singular values")
axes[1].legend()
fig.tight_layout()
