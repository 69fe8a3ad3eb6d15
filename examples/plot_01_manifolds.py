r"""
1. The Stiefel manifold, SO(n) and U(n)
=======================================

Orthogonality constraints :math:`B^\top B = I` define curved sets of
matrices. This lesson shows what their points and tangent vectors are, how to
project a direction onto the tangent space, and how that projection turns the
ordinary (Euclidean) gradient into the *Riemannian gradient* that every solver
of orthopt follows.

.. admonition:: What you should take away

   * A point is an :math:`n\times p` matrix with orthonormal columns; the
     sphere :math:`S^2`, the rotation group SO(3) and the unitary group U(n)
     are special cases.
   * Differentiating :math:`x^\top x = I` gives the tangent space:
     :math:`v` is tangent at :math:`x` iff :math:`x^\top v` is skew-symmetric.
   * The Riemannian gradient is the Euclidean gradient projected onto the
     tangent space, :math:`\operatorname{grad} f(x) = P_x(\nabla f(x))`. It
     vanishes at the constrained minimizers even though
     :math:`\nabla f` does not.
"""

# %%
# Points
# ------
#
# The **Stiefel manifold** is the set of :math:`n\times p` matrices with
# orthonormal columns,
#
# .. math::
#
#    \operatorname{St}(n, p) = \{x \in \mathbb{R}^{n\times p} : x^\top x = I_p\}.
#
# Three special cases are worth keeping in mind:
#
# * :math:`p = 1`: unit vectors, :math:`\operatorname{St}(n, 1) = S^{n-1}`, the
#   sphere. :math:`\operatorname{St}(3,1) = S^2` is the one we can draw.
# * :math:`p = n`: orthogonal matrices, :math:`\operatorname{St}(n,n) = O(n)`.
#   Its connected component with :math:`\det x = 1` is the **rotation group**
#   SO(n).
# * complex entries and :math:`x^H x = I`: the complex Stiefel manifold and the
#   **unitary group** U(n).
#
# The manifold objects know their dimension and draw uniformly distributed
# (Haar) random points.

import matplotlib.pyplot as plt
import numpy as np

from orthopt import SpecialOrthogonal, Stiefel, Unitary
from orthopt.viz import plot_retractions, plot_sphere_tangent, plot_unit_circle

rng = np.random.default_rng(0)
for M in (Stiefel(3, 1), Stiefel(5, 2), SpecialOrthogonal(3), Unitary(4)):
    x = M.random_point(rng=rng)
    print(f"{M!r:45s} dim = {M.dim:2d}   ‖xᴴx − I‖ = {M.feasibility(x):.1e}")

# %%
# The dimension of :math:`\operatorname{St}(n,p)` is
# :math:`np - p(p+1)/2`: :math:`np` entries minus the :math:`p(p+1)/2`
# independent equations of the symmetric constraint :math:`x^\top x = I`. For
# SO(3) that is :math:`9 - 6 = 3`: a rotation in space has three degrees of
# freedom (an axis and an angle).
#
# Tangent vectors
# ---------------
#
# Take a curve :math:`x(t)` on the manifold with :math:`x(0) = x` and velocity
# :math:`\dot x(0) = v`. Differentiating :math:`x(t)^\top x(t) = I` at
# :math:`t = 0` gives
#
# .. math::
#
#    x^\top v + v^\top x = 0
#    \quad\Longleftrightarrow\quad
#    x^\top v \text{ is skew-symmetric.}
#
# So the **tangent space** is
# :math:`T_x = \{v : x^\top v + v^\top x = 0\} = \{x\Omega + x_\perp K\}`
# with :math:`\Omega` skew-symmetric (:math:`p\times p`) and :math:`K`
# arbitrary (:math:`(n-p)\times p`). On the sphere this says :math:`x^\top v =
# 0`: tangent vectors are perpendicular to the radius. On SO(n)
# (:math:`x_\perp` is empty) every tangent vector is :math:`v = x\Omega`.
#
# orthopt stores tangent vectors as ordinary :math:`n\times p` matrices:

M = Stiefel(5, 2)
x = M.random_point(rng=rng)
v = M.random_tangent_vector(x, rng=rng)
print("xᵀv =\n", np.round(x.T @ v, 4))
print("‖xᵀv + vᵀx‖ =", np.linalg.norm(x.T @ v + v.T @ x))

# %%
# Projection onto the tangent space
# ---------------------------------
#
# An arbitrary ambient matrix :math:`u` (for example a Euclidean gradient) is
# not tangent. Its orthogonal projection onto :math:`T_x`, for the Euclidean
# inner product :math:`\langle u, v\rangle = \operatorname{tr}(u^\top v)`, is
#
# .. math::
#
#    P_x(u) = u - x\,\operatorname{sym}(x^\top u),
#    \qquad \operatorname{sym}(a) = \tfrac12(a + a^\top).
#
# It removes the symmetric part of :math:`x^\top u` — the part that would move
# :math:`x` off the constraint — and keeps the rest. Two properties make it a
# projection, and we can check both numerically: it is idempotent,
# :math:`P_x(P_x(u)) = P_x(u)`, and what it removes is orthogonal to every
# tangent vector.

u = rng.standard_normal((5, 2))
pu = M.projection(x, u)
w = M.random_tangent_vector(x, rng=rng)
print("tangent:           ‖sym(xᵀ P(u))‖ =", np.linalg.norm(x.T @ pu + pu.T @ x) / 2)
print("idempotent:        ‖P(P(u)) − P(u)‖ =", np.linalg.norm(M.projection(x, pu) - pu))
print("orthogonal:        ⟨u − P(u), w⟩ =", np.sum((u - pu) * w))

# %%
# On the sphere the formula reads :math:`P_x(u) = u - x\,x^\top u`: subtract
# the radial component. Here is the picture: the tangent plane at
# :math:`x`, an ambient vector :math:`v`, and its projection.

x_s2 = np.array([[0.8], [0.3], [0.4]])
x_s2 /= np.linalg.norm(x_s2)
v_s2 = np.array([[0.2], [0.9], [0.8]])
fig = plt.figure(figsize=(6.0, 5.5), layout="constrained")
ax = fig.add_subplot(projection="3d")
plot_sphere_tangent(x_s2, v_s2, ax=ax)
ax.set_title("St(3, 1) = S²: the projection removes the normal part")
plt.show()

# %%
# The Riemannian gradient
# -----------------------
#
# For a cost :math:`f` defined on all matrices, the **Riemannian gradient**
# on the manifold (with the inherited metric) is the projection of the
# Euclidean gradient:
#
# .. math::
#
#    \operatorname{grad} f(x) = P_x\big(\nabla f(x)\big).
#
# Why: for any tangent :math:`v`,
# :math:`\mathrm{D}f(x)[v] = \langle \nabla f(x), v\rangle = \langle
# P_x(\nabla f(x)), v\rangle` because the removed part is orthogonal to
# :math:`v`. So :math:`P_x(\nabla f)` is the tangent vector that represents
# the derivative along the manifold — the definition of a gradient.
#
# Take the Rayleigh quotient on the sphere, :math:`f(x) = x^\top A x` with a
# symmetric :math:`A`. Its Euclidean gradient :math:`2Ax` never vanishes on
# the sphere (:math:`A` is invertible), but its Riemannian gradient
# :math:`2(Ax - x\,x^\top A x)` vanishes exactly when :math:`x` is an
# eigenvector: the constrained critical points.

A = np.diag([1.0, 2.0, 4.0])
S2 = Stiefel(3, 1)
for point in (np.array([[1.0], [0.0], [0.0]]), x_s2):
    egrad = 2 * A @ point
    rgrad = S2.euclidean_to_riemannian_gradient(point, egrad)
    print(f"x = {point.ravel().round(3)}:  ‖∇f‖ = {np.linalg.norm(egrad):.3f},"
          f"  ‖grad f‖ = {np.linalg.norm(rgrad):.3f}")

# %%
# The field of steepest-descent directions :math:`-\operatorname{grad} f(x)`
# on the sphere flows toward :math:`\pm e_1`, the eigenvector of the smallest
# eigenvalue — the minimizers. The colour is the cost.

theta, phi = np.meshgrid(np.linspace(0, np.pi, 60), np.linspace(0, 2 * np.pi, 120))
sx, sy, sz = np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)
cost = 1.0 * sx**2 + 2.0 * sy**2 + 4.0 * sz**2
fig = plt.figure(figsize=(6.4, 5.5), layout="constrained")
ax = fig.add_subplot(projection="3d")
colors = plt.cm.viridis((cost - cost.min()) / np.ptp(cost))
ax.plot_surface(sx, sy, sz, facecolors=colors, alpha=0.55, linewidth=0, shade=False)
grid = np.stack([rng.standard_normal(3) for _ in range(160)])
grid /= np.linalg.norm(grid, axis=1, keepdims=True)
for p in grid:
    if p @ np.array([-0.6, -0.4, 0.7]) < 0:  # only the hemisphere facing the camera
        continue
    g = S2.euclidean_to_riemannian_gradient(p[:, None], 2 * A @ p[:, None]).ravel()
    ax.quiver(*(1.01 * p), *(-0.12 * g), color="black", lw=0.8, arrow_length_ratio=0.35)
ax.scatter(-1.02, 0, 0, color="red", s=50, depthshade=False, label=r"minimizer $-e_1$")
mappable = plt.cm.ScalarMappable(cmap="viridis", norm=plt.Normalize(cost.min(), cost.max()))
fig.colorbar(mappable, ax=ax, shrink=0.6, label=r"cost $x^\top A x$")
ax.quiver([], [], [], [], [], [], color="black", label=r"$-\operatorname{grad} f(x)$")
ax.view_init(35, -145)
ax.set_box_aspect((1, 1, 1))
ax.set_xlabel("$e_1$")
ax.set_ylabel("$e_2$")
ax.set_zlabel("$e_3$")
ax.legend(loc="upper left")
ax.set_title(r"Riemannian gradient of $x^\top A x$ on $S^2$, A = diag(1, 2, 4)")
plt.show()

# %%
# SO(3): tangent vectors are angular velocities
# ---------------------------------------------
#
# On SO(3) a tangent vector at :math:`x` is :math:`v = x\Omega` with
# :math:`\Omega` skew-symmetric:
#
# .. math::
#
#    \Omega = \begin{pmatrix} 0 & -\omega_3 & \omega_2 \\ \omega_3 & 0 &
#    -\omega_1 \\ -\omega_2 & \omega_1 & 0 \end{pmatrix},
#    \qquad \Omega y = \omega \times y .
#
# The three numbers :math:`\omega` are an angular velocity in the body's own
# frame, and the geodesic :math:`t\mapsto x\exp(t\Omega)` spins the body at
# constant rate about the axis :math:`\omega`. The picture shows a body (a
# paper plane) at :math:`x` and the path of its nose along that geodesic.

SO3 = SpecialOrthogonal(3)
omega = np.array([[0.0, -0.6, -0.9], [0.6, 0.0, -1.0], [0.9, 1.0, 0.0]])
x_so3 = np.eye(3)
fig = plt.figure(figsize=(6.0, 5.5), layout="constrained")
ax = fig.add_subplot(projection="3d")
plot_retractions(x_so3, x_so3 @ omega, retractions=[], t_max=1.0, ax=ax)
ax.set_title(r"SO(3): the body rotated along $t \mapsto x\,\exp(t\Omega)$, $t\in[0, 1]$")
plt.show()

print("tangent at x:", np.linalg.norm(SO3.projection(x_so3, x_so3 @ omega) - x_so3 @ omega))

# %%
# U(n): the complex case
# ----------------------
#
# Everything carries over to complex matrices with :math:`^\top` replaced by
# the conjugate transpose :math:`^H`: tangent vectors at :math:`x\in U(n)` are
# :math:`x\Omega` with :math:`\Omega^H = -\Omega` (skew-*Hermitian*: imaginary
# diagonal), and the real dimension is :math:`n^2`. A unitary matrix keeps
# lengths, :math:`\|xz\| = \|z\|`, so all its eigenvalues lie on the unit
# circle — the property lesson 7 builds on.

U4 = Unitary(6)
xu = U4.random_point(rng=rng)
vu = U4.random_tangent_vector(xu, rng=rng)
omega_u = xu.conj().T @ vu
print("‖xᴴx − I‖ =", np.linalg.norm(xu.conj().T @ xu - np.eye(6)))
print("Ω = xᴴv skew-Hermitian:", np.allclose(omega_u, -omega_u.conj().T),
      "  diagonal of Ω is imaginary:", np.allclose(np.diag(omega_u).real, 0.0))
ax = plot_unit_circle([xu, rng.standard_normal((6, 6)) / np.sqrt(6)],
                      labels=["unitary x ∈ U(6)", "Gaussian matrix"])
ax.set_title("eigenvalues: unitary vs unconstrained")
plt.show()

# %%
# Summary
# -------
#
# ========  ===============================  =========================================
# manifold  tangent space at x               projection :math:`P_x(u)`
# ========  ===============================  =========================================
# St(n, p)  :math:`x^\top v` skew-symmetric  :math:`u - x\,\mathrm{sym}(x^\top u)`
# SO(n)     :math:`x\Omega`, Ω skew          :math:`x\,\mathrm{skew}(x^\top u)`
# U(n)      :math:`x\Omega`, Ω skew-Herm.    :math:`x\,\mathrm{skew}(x^H u)`
# ========  ===============================  =========================================
#
# Next, :ref:`lesson 2 <sphx_glr_auto_examples_plot_02_retractions.py>` moves
# along a tangent vector without leaving the manifold.
