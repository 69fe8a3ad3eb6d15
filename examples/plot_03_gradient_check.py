r"""
3. Checking a gradient
======================

Most bugs in manifold optimization are wrong gradients: a missing factor 2,
a forgotten transpose, a gradient of a slightly different function. A solver
fed a wrong gradient still runs — it just converges slowly, or to the wrong
point, or stalls in its line search. This lesson shows the one test that
catches all of these: the **Taylor test**, run by
:func:`~orthopt.check_gradient`.

.. admonition:: What you should take away

   * Along a curve :math:`t\mapsto R_x(td)`, the error of the first-order
     model, :math:`E(t) = |f(R_x(td)) - f(x) - t\langle \operatorname{grad}
     f(x), d\rangle|`, is :math:`O(t^2)` if and only if the gradient is right.
   * On a log–log plot that is a line of **slope 2**; a wrong gradient gives
     **slope 1**. :func:`~orthopt.check_gradient` fits the slope and
     returns a verdict you can ``assert`` in a test.
   * Check every hand-written gradient once, before you optimize with it.
"""

# %%
# The test
# --------
#
# For any retraction :math:`R` and tangent direction :math:`d` at :math:`x`,
# :math:`R_x(td) = x + td + O(t^2)`, so Taylor's theorem gives
#
# .. math::
#
#    f(R_x(td)) = f(x) + t\,\langle \operatorname{grad} f(x), d\rangle + O(t^2).
#
# If instead of :math:`\operatorname{grad} f(x)` we use a wrong vector
# :math:`g`, the error picks up the term
# :math:`t\,\langle \operatorname{grad} f(x) - g, d\rangle`, which is
# :math:`O(t)`. So the *slope* of :math:`\log E` against :math:`\log t`
# tells right (2) from wrong (1). At very small :math:`t` rounding error
# (:math:`\approx \varepsilon |f|`) flattens the curve; at large :math:`t` the
# higher-order terms bend it. The check fits the slope on the straightest
# window in between.
#
# A problem with a hand-written gradient
# --------------------------------------
#
# Take the Brockett cost on the Stiefel manifold, whose minimizers are
# eigenvectors of :math:`A` ordered by the weights :math:`N`:
#
# .. math::
#
#    f(X) = \operatorname{tr}(X^\top A X N), \qquad
#    \nabla f(X) = A X N + A^\top X N .
#
# With a symmetric :math:`A` that is :math:`2AXN`. Here :math:`A` is *not*
# symmetric — a common situation when :math:`A` comes from data — which is
# where one of the two bugs below hides.

import matplotlib.pyplot as plt
import numpy as np

from orthopt import Problem, Stiefel, check_gradient
from orthopt.viz import plot_check

rng = np.random.default_rng(0)
n, p = 10, 3
A = rng.standard_normal((n, n))
N = np.diag([3.0, 2.0, 1.0])
M = Stiefel(n, p)


def cost(X):
    return np.trace(X.T @ A @ X @ N)


def gradient(X):  # correct: both terms
    return A @ X @ N + A.T @ X @ N


def gradient_symmetric_bug(X):  # wrong: as if A were symmetric
    return 2 * A @ X @ N


def gradient_factor_bug(X):  # wrong: the classic missing factor 2
    return 0.5 * (A @ X @ N + A.T @ X @ N)


checks = {}
for label, grad in [("correct gradient", gradient),
                    ("bug: assumed A symmetric", gradient_symmetric_bug),
                    ("bug: missing factor 2", gradient_factor_bug)]:
    problem = Problem(M, cost, euclidean_gradient=grad)
    checks[label] = check_gradient(problem, rng=1)
    print(f"{label:28s} passed={checks[label].passed!s:5s}  {checks[label].message}")

# %%
# The verdict has the numbers behind it: the fitted slope, the window it was
# fitted on, and the step sizes and errors themselves. The plot shows the
# measured error with slope-1 and slope-2 guide lines, and the fitted window
# in red.

fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.2), layout="constrained", sharey=True)
for ax, (label, check) in zip(axes, checks.items()):
    plot_check(check, ax=ax)
    ax.set_title(f"{label}\nslope {check.slope:.2f} → {'passed' if check.passed else 'FAILED'}",
                 fontsize=10)
axes[0].set_ylabel("Taylor error E(t)")
for ax in axes[1:]:
    ax.set_ylabel("")
plt.show()

# %%
# Reading the plots: for the correct gradient the error follows the slope-2
# guide over more than fifteen decades of error, until rounding
# (:math:`\approx \varepsilon|f|`) takes over at the smallest steps. Both buggy
# gradients follow the slope-1 guide: the first-order model is off by a term
# proportional to :math:`t`.
#
# Note that the test checks the *Riemannian* gradient along *tangent*
# directions: a Euclidean gradient that is wrong only in its normal component
# (the part the projection removes) is not a bug — the projection removes it
# anyway. The check also reports whether the vector it is given is tangent
# (``tangent_error``).
#
# No hand-written gradient at all
# -------------------------------
#
# When the cost is written with ``autograd.numpy``, :class:`~orthopt.Problem`
# differentiates it for you; the same check confirms the result. (Autograd
# works with NumPy arrays; for CuPy, pass a gradient.)

import autograd.numpy as anp  # noqa: E402

auto_problem = Problem(M, lambda X: anp.trace(X.T @ A @ X @ N))
auto_check = check_gradient(auto_problem, rng=1)
print("autograd:", auto_check.passed, auto_check.message)
X = M.random_point(rng=rng)
print("‖autograd ∇f − hand-written ∇f‖ =",
      np.linalg.norm(auto_problem.euclidean_gradient(X) - gradient(X)))

# %%
# In a test suite
# ---------------
#
# The verdict is a plain boolean plus numbers, so a gradient check belongs in
# your tests::
#
#     def test_brockett_gradient():
#         problem = Problem(Stiefel(10, 3), cost, euclidean_gradient=gradient)
#         check = check_gradient(problem, rng=0)
#         assert check.passed, check.message
#
# The same idea checks a retraction (lesson 2,
# :func:`~orthopt.check_retraction`) and every invariant of a manifold at once
# (:func:`~orthopt.check_manifold`):

from orthopt import check_manifold  # noqa: E402

print(check_manifold(Stiefel(10, 3, retraction="polar"), rng=0))
